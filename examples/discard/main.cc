// discard: the RFC 863 discard service on TCP port 9, a sink for throughput tests. It
// reads and drops everything each client sends, and when the client closes prints the
// byte count, the time and the rate, plus the CRC-32 (IEEE 802.3, as zlib's crc32) of the
// bytes, so a test can verify what arrived without the server storing it.
//
// Options (after the stack's --ipv4=/--dhcp, see stack_options.h):
//   --port=N         the port (default 9)
//   --connections=N  exit 0 after N connections have ended (default: run forever)
#include <array>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string_view>

#include "morgana/app.h"
#include "morgana/app_options.h"
#include "morgana/async/async.h"
#include "morgana/net/app_runner.h"
#include "morgana/rt/crc32.h"

namespace {

namespace async = morgana::async;
namespace net = morgana::net;
using morgana::Result;
using ull = unsigned long long;

using morgana::rt::crc32_update;

async::Task<Result<void>> sink(net::AppStack::TcpFlow flow) {
  std::array<uint8_t, 65536> buffer;
  uint64_t bytes = 0;
  uint32_t crc = 0;
  const uint64_t start = async::now();
  Result<void> result;
  for (;;) {
    auto n = co_await flow.read(buffer);
    if (!n) {
      result = n.error();
      break;
    }
    if (*n == 0) break;
    crc = crc32_update(crc, {buffer.data(), *n});
    bytes += *n;
  }
  const uint64_t elapsed = async::now() - start;
  net::Endpoint peer = flow.remote();
  flow.close();
  std::printf("discard: %s:%u sent %llu bytes in %llu.%03llu ms (%llu MB/s) crc32 %08x%s\n",
              peer.address.to_string().c_str(), unsigned(peer.port), ull(bytes),
              ull(elapsed / 1'000'000), ull(elapsed / 1000 % 1000),
              ull(elapsed ? bytes * 1000 / elapsed : 0), unsigned(crc), result ? "" : " (reset)");
  co_return Result<void>{};
}

async::Task<Result<void>> serve(net::AppStack& stack, std::span<char* const> args) {
  uint64_t port = 9, connections = 0;
  if (!morgana::app::parse_uint_options(
          args, {{"--port=", &port, 1, 65535}, {"--connections=", &connections}}, "discard"))
    co_return morgana::Error{morgana::Errc::kInvalidArgument, "bad option"};
  std::printf("discard: TCP port %u\n", unsigned(port));
  co_return co_await net::serve_tcp(stack, uint16_t(port), connections, sink);
}

}  // namespace

int app_main(int argc, char** argv) {
  return net::run_network_app(argc, argv, "discard", serve);
}
