// website: Morgana's flagship appliance. Serves the files of site/ (compiled into the
// image as a kv::CompiledStore) over HTTP/1.1, with two small dynamic routes that show
// the routing API: GET /_stats (the server's counters, sent chunked) and POST /_echo
// (returns the request body).
//
// Options (after the stack's --ipv4=/--dhcp, see stack_options.h):
//   --port=N              the TCP port (default 80)
//   --max-connections=N   connection limit (default 256)
//   --header-timeout=S    seconds for a whole request head (default 10)
//   --idle-timeout=S      seconds a keep-alive connection may idle (default 30)
//   --quiet               no access log
#include <chrono>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include "morgana/app.h"
#include "morgana/app_options.h"
#include "morgana/async/async.h"
#include "morgana/net/app_runner.h"
#include "morgana/platform/platform.h"
#include "morgana/proto/http/server.h"
#include "morgana/proto/http/static_files.h"
#include "morgana/storage/kv_compiled.h"

extern const morgana::kv::CompiledTable morgana_kv_site;

namespace {

namespace async = morgana::async;
namespace http = morgana::http;
namespace kv = morgana::kv;
namespace net = morgana::net;
using morgana::Result;

using WebServer = http::Server<net::AppStack>;

async::Task<Result<void>> serve(net::AppStack& stack, std::span<char* const> args) {
  uint64_t port = 80, max_connections = 256, header_timeout = 10, idle_timeout = 30;
  bool quiet = false;
  for (char* arg : args) {
    std::string_view text(arg);
    if (text == "--quiet") {
      quiet = true;
      continue;
    }
    bool known = text.starts_with("--port=") || text.starts_with("--max-connections=") ||
                 text.starts_with("--header-timeout=") || text.starts_with("--idle-timeout=");
    if (!known || !morgana::app::parse_uint_option(text, "--port=", port) ||
        !morgana::app::parse_uint_option(text, "--max-connections=", max_connections) ||
        !morgana::app::parse_uint_option(text, "--header-timeout=", header_timeout) ||
        !morgana::app::parse_uint_option(text, "--idle-timeout=", idle_timeout) || port == 0 ||
        port > 65535 || max_connections == 0) {
      std::printf(
          "website: bad option '%s' (--port=N, --max-connections=N, --header-timeout=S, "
          "--idle-timeout=S, --quiet)\n",
          arg);
      co_return morgana::Error{morgana::Errc::kInvalidArgument, "bad option"};
    }
  }

  kv::CompiledStore store(morgana_kv_site);
  http::StaticFiles<kv::CompiledStore> files(store);
  http::Router router;
  WebServer* server = nullptr;
  router.add(http::Method::kGet, "/_stats",
             [&server](const http::Request&) -> async::Task<http::Response> {
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
               co_return response;
             });
  router.add(http::Method::kPost, "/_echo",
             [](const http::Request& request) -> async::Task<http::Response> {
               co_return http::Response::text(http::Status::kOk, request.body,
                                              "application/octet-stream");
             });
  router.add_prefix(http::Method::kGet, "/", files.handler());

  http::ServerConfig config;
  config.port = uint16_t(port);
  config.max_connections = size_t(max_connections);
  config.header_timeout = std::chrono::seconds(header_timeout);
  config.idle_timeout = std::chrono::seconds(idle_timeout);
  config.wall_clock_ns = &morgana::platform::wall_clock_ns;
  config.access_log = quiet ? http::AccessLog::kOff : http::AccessLog::kOn;
  WebServer web(stack, router, config);
  server = &web;
  std::printf("website: %zu files, HTTP on port %u\n", store.list().size(), unsigned(port));
  co_return co_await web.run();
}

}  // namespace

int app_main(int argc, char** argv) {
  return net::run_network_app(argc, argv, "website", serve);
}
