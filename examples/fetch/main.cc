// fetch: an HTTP/1.1 client image over the stack (http::Client): fetches paths from one
// server, each --count times, over one kept-alive connection, and prints for each
// response its status, content length, framing and the CRC-32 (IEEE 802.3, as zlib's
// crc32) of the content, computed as it arrives so no content is held in memory.
//
// Options (after the stack's --ipv4=/--dhcp, see stack_options.h):
//   --server=ADDR   the server's IPv4 address (required)
//   --port=N        its TCP port (default 80)
//   --path=/P       a path to fetch; repeat for several (default: /)
//   --count=N       fetch the paths N times over, in order (default 1)
//   --head          HEAD requests instead of GET
//   --max-body=N    the largest content accepted, in bytes (default 64 MiB)
//   --timeout=S     the connect and response timeouts, in seconds (default 10)
// One line per response, then a summary:
//   fetch: GET /big 200 length 1048576 crc32 1a2b3c4d framing length connection 1
//   fetch: 2 responses, 0 failed, 1 connections, 1 reused, 0 retried in 12 ms
// The exit status is 0 when every request got a response (whatever its status), else 1.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string_view>
#include <vector>

#include "morgana/app.h"
#include "morgana/app_options.h"
#include "morgana/async/async.h"
#include "morgana/net/app_runner.h"
#include "morgana/proto/http/client.h"
#include "morgana/rt/crc32.h"

namespace {

namespace async = morgana::async;
namespace http = morgana::http;
namespace net = morgana::net;
using morgana::Errc;
using morgana::Error;
using morgana::Result;
using ull = unsigned long long;

using morgana::rt::crc32_update;

const char* framing_name(http::BodyFraming framing) {
  switch (framing) {
    case http::BodyFraming::kNone:
      return "none";
    case http::BodyFraming::kLength:
      return "length";
    case http::BodyFraming::kChunked:
      return "chunked";
    case http::BodyFraming::kClose:
      return "close";
  }
  return "?";
}

struct Options {
  net::Endpoint server;
  std::vector<std::string_view> paths;
  uint64_t count = 1;
  http::Method method = http::Method::kGet;
  uint64_t max_body = 64 << 20;
  uint64_t timeout_s = 10;
};

constexpr const char* kUsage =
    "usage: fetch --server=ADDR [--port=N] [--path=/P]... [--count=N] [--head] [--max-body=N] "
    "[--timeout=S]\n";

bool parse_options(std::span<char* const> args, Options& options) {
  bool have_server = false;
  uint64_t port = 80;
  for (char* arg : args) {
    std::string_view text(arg);
    bool good = true;
    if (text.starts_with("--server=")) {
      auto address = net::Ipv4Address::parse(text.substr(9));
      good = address.has_value();
      if (good) options.server.address = *address;
      have_server = good;
    } else if (text.starts_with("--path=")) {
      options.paths.push_back(text.substr(7));
    } else if (text == "--head") {
      options.method = http::Method::kHead;
    } else if (text.starts_with("--port=")) {
      good = morgana::app::parse_uint_option(text, "--port=", port) && port >= 1 && port <= 65535;
    } else if (text.starts_with("--count=")) {
      good = morgana::app::parse_uint_option(text, "--count=", options.count) && options.count >= 1;
    } else if (text.starts_with("--max-body=")) {
      good = morgana::app::parse_uint_option(text, "--max-body=", options.max_body);
    } else if (text.starts_with("--timeout=")) {
      good = morgana::app::parse_uint_option(text, "--timeout=", options.timeout_s) &&
             options.timeout_s >= 1 && options.timeout_s <= 3600;
    } else {
      good = false;
    }
    if (!good) {
      std::printf("fetch: bad option '%s'\n%s", arg, kUsage);
      return false;
    }
  }
  if (!have_server) {
    std::printf("fetch: --server=ADDR is required\n%s", kUsage);
    return false;
  }
  options.server.port = uint16_t(port);
  if (options.paths.empty()) options.paths.push_back("/");
  return true;
}

async::Task<Result<void>> run(net::AppStack& stack, std::span<char* const> args) {
  Options options;
  if (!parse_options(args, options)) co_return Error{Errc::kInvalidArgument, "bad option"};
  http::ClientConfig config;
  config.limits.max_body = options.max_body;
  config.connect_timeout = std::chrono::seconds(options.timeout_s);
  config.response_timeout = std::chrono::seconds(options.timeout_s);
  config.read_timeout = std::chrono::seconds(options.timeout_s);
  http::Client<net::AppStack> client(stack, config);
  const char* method = http::method_name(options.method);
  uint64_t responses = 0, failed = 0;
  const uint64_t start = async::now();
  for (uint64_t round = 0; round < options.count; ++round) {
    for (std::string_view path : options.paths) {
      uint32_t crc = 0;
      http::ClientRequest request;
      request.method = options.method;
      request.path = path;
      request.body_sink = [&crc](std::span<const uint8_t> bytes) {
        crc = crc32_update(crc, bytes);
      };
      Result<http::ClientResponse> response =
          co_await client.request(options.server, std::move(request));
      if (!response) {
        ++failed;
        std::printf("fetch: %s %.*s failed: %s (%s)\n", method, int(path.size()), path.data(),
                    morgana::errc_name(response.error().code),
                    response.error().what ? response.error().what : "");
        continue;
      }
      ++responses;
      std::printf("fetch: %s %.*s %u length %llu crc32 %08x framing %s connection %llu\n", method,
                  int(path.size()), path.data(), unsigned(response->status),
                  ull(response->body_size), unsigned(crc), framing_name(response->framing),
                  ull(client.stats().connections));
    }
  }
  const uint64_t elapsed = async::now() - start;
  const http::ClientStats& stats = client.stats();
  std::printf(
      "fetch: %llu responses, %llu failed, %llu connections, %llu reused, %llu retried in "
      "%llu ms\n",
      ull(responses), ull(failed), ull(stats.connections), ull(stats.reused), ull(stats.retries),
      ull(elapsed / 1'000'000));
  client.close_idle();
  if (failed > 0) co_return Error{Errc::kIo, "some requests failed"};
  co_return Result<void>{};
}

}  // namespace

int app_main(int argc, char** argv) {
  return net::run_network_app(argc, argv, "fetch", run);
}
