// The website's options, routes and server, the same for the compiled-in and the tar
// store (server.h).
#include "server.h"

#include <chrono>
#include <cstdio>
#include <string_view>

#include "morgana/app_options.h"
#include "morgana/platform/platform.h"
#include "morgana/proto/http/server.h"
#include "morgana/rt/heap.h"

namespace website {

namespace async = morgana::async;
namespace http = morgana::http;
namespace net = morgana::net;
using morgana::Result;

namespace {

using WebServer = http::Server<net::AppStack>;

struct Settings {
  uint64_t port = 80;
  uint64_t max_connections = 0;  // 0: the server's default for the image's heap
  uint64_t header_timeout = 10;
  uint64_t idle_timeout = 30;
  bool quiet = false;
};

bool parse_settings(std::span<char* const> args, Settings& settings) {
  for (char* arg : args) {
    std::string_view text(arg);
    if (text == "--quiet") {
      settings.quiet = true;
      continue;
    }
    bool known = text.starts_with("--port=") || text.starts_with("--max-connections=") ||
                 text.starts_with("--header-timeout=") || text.starts_with("--idle-timeout=");
    if (!known || !morgana::app::parse_uint_option(text, "--port=", settings.port) ||
        !morgana::app::parse_uint_option(text, "--max-connections=", settings.max_connections) ||
        !morgana::app::parse_uint_option(text, "--header-timeout=", settings.header_timeout) ||
        !morgana::app::parse_uint_option(text, "--idle-timeout=", settings.idle_timeout) ||
        settings.port == 0 || settings.port > 65535 ||
        (text.starts_with("--max-connections=") && settings.max_connections == 0)) {
      std::printf(
          "website: bad option '%s' (--port=N, --max-connections=N, --header-timeout=S, "
          "--idle-timeout=S, --quiet)\n",
          arg);
      return false;
    }
  }
  return true;
}

}  // namespace

async::Task<Result<void>> serve(net::AppStack& stack, std::span<char* const> args,
                                http::Handler files, StoreStats store_stats) {
  Settings settings;
  if (!parse_settings(args, settings))
    co_return morgana::Error{morgana::Errc::kInvalidArgument, "bad option"};

  http::Router router;
  WebServer* server = nullptr;
  router.add(http::Method::kGet, "/_stats",
             [&server, &store_stats](const http::Request&) -> async::Task<http::Response> {
               // Sent chunked to show the framing; the parts are the counters' lines.
               const http::ServerStats& s = server->stats();
               http::Response response(http::Status::kOk);
               response.add_header("Content-Type", "text/plain; charset=utf-8");
               response.add_header("Cache-Control", "no-store");
               response.framing = http::Framing::kChunked;
               char line[96];
               auto part = [&](const char* name, uint64_t value) {
                 std::snprintf(line, sizeof(line), "%s %llu\n", name, (unsigned long long)value);
                 response.append(line);
               };
               part("connections", s.connections);
               part("requests", s.requests);
               part("bad_requests", s.bad_requests);
               part("header_timeouts", s.header_timeouts);
               part("idle_closed", s.idle_closed);
               part("evicted", s.evicted);
               part("busy", s.busy);
               part("live", server->live_connections());
               // The image's memory (heap_size 0 on unix: the host's heap is unbounded).
               const morgana::rt::HeapStats heap = morgana::rt::heap_stats();
               part("heap_size", heap.heap_size);
               part("heap_in_use", heap.bytes_in_use);
               part("heap_peak", heap.peak_bytes_in_use);
               if (store_stats) response.append(store_stats());
               co_return response;
             });
  router.add(http::Method::kPost, "/_echo",
             [](const http::Request& request) -> async::Task<http::Response> {
               co_return http::Response::text(http::Status::kOk, request.body,
                                              "application/octet-stream");
             });
  router.add_prefix(http::Method::kGet, "/", std::move(files));

  http::ServerConfig config;
  config.port = uint16_t(settings.port);
  if (settings.max_connections != 0) config.max_connections = size_t(settings.max_connections);
  config.header_timeout = std::chrono::seconds(settings.header_timeout);
  config.idle_timeout = std::chrono::seconds(settings.idle_timeout);
  config.wall_clock_ns = &morgana::platform::wall_clock_ns;
  config.access_log = settings.quiet ? http::AccessLog::kOff : http::AccessLog::kOn;
  WebServer web(stack, router, config);
  server = &web;
  std::printf("website: HTTP on port %u\n", unsigned(settings.port));
  co_return co_await web.run();
}

}  // namespace website
