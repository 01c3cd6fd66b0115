// echo: the RFC 862 echo service on TCP and UDP port 7. Every byte a TCP client sends
// comes back on its connection; every UDP datagram goes back to its sender. Written
// against the net::Stack API only, so it runs on Morgana's stack and, built with
// --stack=socket, on the host's.
//
// Options (after the stack's --ipv4=/--dhcp, see stack_options.h):
//   --port=N         the port for both protocols (default 7)
//   --connections=N  exit 0 after N TCP connections have ended (default: run forever)
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

async::Task<Result<void>> echo_flow(net::AppStack::TcpFlow flow) {
  std::array<uint8_t, 8192> buffer;
  Result<void> result;
  for (;;) {
    auto n = co_await flow.read(buffer);
    if (!n) {
      result = n.error();
      break;
    }
    if (*n == 0) break;  // the client closed its side: close ours
    auto written = co_await flow.write({buffer.data(), *n});
    if (!written) {
      result = written.error();
      break;
    }
  }
  flow.close();
  // A client that resets is not the server's failure.
  if (!result && result.error().code == morgana::Errc::kConnectionReset) co_return Result<void>{};
  co_return result;
}

async::Task<Result<void>> udp_echo(net::AppStack& stack, uint16_t port) {
  auto bound = stack.udp().bind(port);
  if (!bound) co_return bound.error();
  auto socket = std::move(*bound);
  std::vector<uint8_t> buffer(65536);
  for (;;) {
    CO_TRY_ASSIGN(net::UdpReceived received, co_await socket.receive(buffer));
    // A failed send (no route, no buffer) loses that datagram only, as UDP may.
    (void)socket.send_to(received.from, {buffer.data(), received.size});
  }
}

async::Task<Result<void>> serve(net::AppStack& stack, std::span<char* const> args) {
  uint64_t port = 7, connections = 0;
  if (!morgana::app::parse_uint_options(
          args, {{"--port=", &port, 1, 65535}, {"--connections=", &connections}}, "echo"))
    co_return morgana::Error{morgana::Errc::kInvalidArgument, "bad option"};
  std::printf("echo: TCP and UDP port %u\n", unsigned(port));
  async::Scope udp;
  CO_TRY(udp.spawn(udp_echo(stack, uint16_t(port))));
  CO_TRY(co_await net::serve_tcp(stack, uint16_t(port), connections, echo_flow));
  std::printf("echo: %llu connections served\n", (unsigned long long)connections);
  udp.request_stop();
  CO_TRY(co_await udp.join());
  co_return Result<void>{};
}

}  // namespace

int app_main(int argc, char** argv) {
  return net::run_network_app(argc, argv, "echo", serve);
}
