// socket_echo: a TCP echo and a UDP echo server written only against the net::Stack
// concept, so the same code runs on the host's sockets (--stack=socket) and on Morgana's
// own stack. Used by tests/integration/socket_stack.sh.
//
// Arguments: the network options (net/stack_options.h), then
//   --tcp-port=N  --udp-port=N   ports to echo on (default 0: ephemeral, printed)
// Prints "socket_echo: tcp port P udp port Q" once both listen. A UDP datagram "STATS"
// prints the stack's counters; "QUIT" stops the server, which then exits 0.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "morgana/app.h"
#include "morgana/app_options.h"
#include "morgana/async/async.h"
#include "morgana/net/app_stack.h"
#include "morgana/net/stack.h"
#include "morgana/net/stack_options.h"
#include "morgana/platform/platform.h"

namespace {

namespace async = morgana::async;
namespace net = morgana::net;
using async::Task;
using morgana::Errc;
using morgana::Result;

template <typename... Args>
void say(const char* format, Args... args) {
  char line[256];
  int n = std::snprintf(line, sizeof(line), format, args...);
  if (n > 0) morgana::platform::console_write(std::string_view(line, std::min<size_t>(n, 255)));
}

// Echoes one connection until the peer closes its side, then closes ours. A reset or
// any other error ends only this connection.
template <net::Stack S>
Task<void> echo_flow(typename S::TcpFlow flow) {
  std::vector<uint8_t> buffer(16 * 1024);
  for (;;) {
    Result<size_t> got = co_await flow.read(buffer);
    if (!got) {
      if (got.error().code != Errc::kCancelled) {
        say("socket_echo: connection from port %u ended: %s\n", unsigned(flow.remote().port),
            morgana::errc_name(got.error().code));
      }
      flow.abort();
      co_return;
    }
    if (*got == 0) break;
    Result<void> sent = co_await flow.write(std::span<const uint8_t>(buffer.data(), *got));
    if (!sent) {
      flow.abort();
      co_return;
    }
  }
  flow.close();
}

template <net::Stack S>
Task<Result<void>> accept_loop(typename S::TcpListener* listener, async::Scope* scope) {
  for (;;) {
    CO_TRY_ASSIGN(typename S::TcpFlow flow, co_await listener->accept());
    CO_TRY(scope->spawn(echo_flow<S>(std::move(flow))));
  }
}

template <net::Stack S>
Task<Result<void>> udp_loop(S* stack, typename S::UdpSocket* socket, async::Event* quit) {
  std::vector<uint8_t> buffer(65536);
  for (;;) {
    CO_TRY_ASSIGN(net::UdpReceived got, co_await socket->receive(buffer));
    std::string_view text(reinterpret_cast<const char*>(buffer.data()), got.size);
    if (text == "STATS" || text == "STATS\n") {
      stack->print_stats();
    } else if (text == "QUIT" || text == "QUIT\n") {
      quit->set();
      co_return morgana::ok();
    }
    // A full send buffer drops the echo, as the network may: the peer retries.
    (void)socket->send_to(got.from, std::span<const uint8_t>(buffer.data(), got.size));
  }
}

// Connects to our own listener and checks that a message comes back: exercises the
// client side (connect, nodelay, shutdown_write, read to end of stream).
template <net::Stack S>
Task<Result<void>> self_check(S* stack, net::Endpoint server) {
  const net::Ipv4Address target = server.address.is_unspecified()
                                      ? net::Ipv4Address::from_u32(0x7f000001)  // 127.0.0.1
                                      : server.address;
  CO_TRY_ASSIGN(typename S::TcpFlow flow, co_await stack->tcp().connect(target, server.port));
  flow.set_nodelay(true);
  static constexpr std::string_view kMessage = "morgana self-check";
  CO_TRY(co_await flow.write(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(kMessage.data()), kMessage.size())));
  CO_TRY(flow.shutdown_write());
  Result<void> after_shutdown = co_await flow.write(std::span<const uint8_t>());
  std::string echoed;
  uint8_t buffer[64];
  for (;;) {
    CO_TRY_ASSIGN(size_t n, co_await flow.read(buffer));
    if (n == 0) break;
    echoed.append(reinterpret_cast<const char*>(buffer), n);
  }
  const bool good = echoed == kMessage && flow.remote().port == server.port &&
                    flow.local().port != 0 && !after_shutdown &&
                    after_shutdown.error().code == Errc::kClosed;
  say("socket_echo: self-check %s\n", good ? "ok" : "FAILED");
  flow.close();
  co_return morgana::ok();
}

template <net::Stack S>
Task<int> serve(S& stack, uint16_t tcp_port, uint16_t udp_port) {
  Result<void> configured = co_await stack.wait_configured();
  if (!configured) co_return 1;
  Result<typename S::TcpListener> listener = co_await stack.tcp().listen(tcp_port);
  if (!listener) {
    say("socket_echo: listen on tcp port %u: %s\n", unsigned(tcp_port), listener.error().what);
    co_return 1;
  }
  Result<typename S::UdpSocket> udp = stack.udp().bind(udp_port);
  if (!udp) {
    say("socket_echo: bind udp port %u: %s\n", unsigned(udp_port), udp.error().what);
    co_return 1;
  }
  say("socket_echo: tcp port %u udp port %u\n", unsigned(listener->local().port),
      unsigned(udp->local().port));

  async::Event quit;
  async::Scope workers;
  (void)workers.spawn(accept_loop<S>(&*listener, &workers));
  (void)workers.spawn(udp_loop<S>(&stack, &*udp, &quit));
  (void)workers.spawn(self_check<S>(&stack, listener->local()));
  (void)co_await quit.wait();
  workers.request_stop();
  (void)co_await workers.close();
  stack.print_stats();
  say("%s", "socket_echo: bye\n");
  co_return 0;
}

Task<int> run(net::StackOptions options, uint16_t tcp_port, uint16_t udp_port) {
  Result<std::unique_ptr<net::AppStack>> stack = net::open_app_stack(options);
  if (!stack) {
    say("socket_echo: no network stack: %s\n", stack.error().what);
    co_return 1;
  }
  co_return co_await serve(**stack, tcp_port, udp_port);
}

}  // namespace

int app_main(int argc, char** argv) {
  std::vector<char*> rest;
  net::StackOptionsError error;
  std::optional<net::StackOptions> options =
      net::parse_stack_options(std::span<char* const>(argv + 1, size_t(argc - 1)), rest, error);
  if (!options) {
    say("socket_echo: %s\n", error.message.c_str());
    return 2;
  }
  uint64_t tcp_port = 0, udp_port = 0;
  for (char* arg : rest) {
    const std::string_view text(arg);
    const bool known = text.starts_with("--tcp-port=") || text.starts_with("--udp-port=");
    if (!known || !morgana::app::parse_uint_option(arg, "--tcp-port=", tcp_port) ||
        !morgana::app::parse_uint_option(arg, "--udp-port=", udp_port) || tcp_port > 65535 ||
        udp_port > 65535) {
      say("socket_echo: bad option '%s' (--tcp-port=N, --udp-port=N)\n%s", arg,
          net::stack_options_usage());
      return 2;
    }
  }
  async::Loop loop;
  return loop.run(run(*options, uint16_t(tcp_port), uint16_t(udp_port)));
}
