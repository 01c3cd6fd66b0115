// chargen: the RFC 864 character generator on TCP port 19, a source for throughput tests.
// Each client gets the RFC's rotating 72-character lines (the 95 printable ASCII
// characters, each line starting one further along) until it closes, or exactly
// --bytes=N bytes followed by a close, so a test can check the stream against the same
// pattern generated locally.
//
// Options (after the stack's --ipv4=/--dhcp, see stack_options.h):
//   --port=N         the port (default 19)
//   --bytes=N        send N bytes per connection, then close (default: until the client goes)
//   --connections=N  exit 0 after N connections have ended (default: run forever)
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string_view>

#include "morgana/app.h"
#include "morgana/app_options.h"
#include "morgana/async/async.h"
#include "morgana/net/app_runner.h"

namespace {

namespace async = morgana::async;
namespace net = morgana::net;
using morgana::Result;
using ull = unsigned long long;

// 95 lines of 72 characters + CRLF: after them the pattern repeats exactly.
constexpr size_t kLine = 74;
constexpr size_t kPeriod = 95 * kLine;

const std::array<uint8_t, kPeriod>& pattern() {
  static const auto table = [] {
    std::array<uint8_t, kPeriod> bytes{};
    for (size_t line = 0; line < 95; ++line) {
      for (size_t i = 0; i < 72; ++i) bytes[line * kLine + i] = uint8_t(' ' + (line + i) % 95);
      bytes[line * kLine + 72] = '\r';
      bytes[line * kLine + 73] = '\n';
    }
    return bytes;
  }();
  return table;
}

async::Task<Result<void>> source(net::AppStack::TcpFlow flow, uint64_t limit) {
  // Two periods back to back, so any offset has a contiguous 64 KiB-ish run after it.
  static std::array<uint8_t, 2 * kPeriod> doubled = [] {
    std::array<uint8_t, 2 * kPeriod> bytes{};
    std::copy(pattern().begin(), pattern().end(), bytes.begin());
    std::copy(pattern().begin(), pattern().end(), bytes.begin() + kPeriod);
    return bytes;
  }();
  uint64_t sent = 0;
  const uint64_t start = async::now();
  Result<void> result;
  while (limit == 0 || sent < limit) {
    size_t offset = size_t(sent % kPeriod);
    size_t chunk = kPeriod;
    if (limit != 0) chunk = size_t(std::min<uint64_t>(chunk, limit - sent));
    result = co_await flow.write({doubled.data() + offset, chunk});
    if (!result) break;
    sent += chunk;
  }
  const uint64_t elapsed = async::now() - start;
  net::Endpoint peer = flow.remote();
  flow.close();
  std::printf("chargen: %s:%u received %llu bytes in %llu.%03llu ms (%llu MB/s)%s\n",
              peer.address.to_string().c_str(), unsigned(peer.port), ull(sent),
              ull(elapsed / 1'000'000), ull(elapsed / 1000 % 1000),
              ull(elapsed ? sent * 1000 / elapsed : 0), result ? "" : " (client went away)");
  co_return Result<void>{};
}

async::Task<Result<void>> serve(net::AppStack& stack, std::span<char* const> args) {
  uint64_t port = 19, bytes = 0, connections = 0;  // bytes 0: until the client goes
  if (!morgana::app::parse_uint_options(
          args,
          {{"--port=", &port, 1, 65535}, {"--bytes=", &bytes}, {"--connections=", &connections}},
          "chargen"))
    co_return morgana::Error{morgana::Errc::kInvalidArgument, "bad option"};
  std::printf("chargen: TCP port %u\n", unsigned(port));
  co_return co_await net::serve_tcp(
      stack, uint16_t(port), connections,
      [bytes](net::AppStack::TcpFlow flow) { return source(std::move(flow), bytes); });
}

}  // namespace

int app_main(int argc, char** argv) {
  return net::run_network_app(argc, argv, "chargen", serve);
}
