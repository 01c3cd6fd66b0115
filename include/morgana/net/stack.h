// The network API an application is written against (DESIGN.md §6): a Stack gives TCP
// listeners and flows and UDP sockets, all awaited as coroutines. Two implementations
// satisfy it: Morgana's own (DeviceStack<Device>, morgana/net/device_stack.h, over a
// network device, in every image) and one over the host kernel's sockets
// (SocketStack, morgana/net/socket_stack.h, unix target only), chosen at build time
// (`morgana build -t unix --stack=socket`); morgana/net/app_stack.h names the chosen
// one AppStack, so an application runs unchanged on either.
//
//   auto listener = CO_TRY_ASSIGN(auto l, co_await stack.tcp().listen(7));
//   for (;;) {
//     CO_TRY_ASSIGN(auto flow, co_await l.accept());
//     spawn(echo(std::move(flow)));
//   }
//
// Flow semantics (both stacks):
// - read(buffer): waits until bytes are available and copies up to buffer.size();
//   returns 0 once the peer closed its side and everything was read; kConnectionReset
//   after a reset; kCancelled when the task is stopped (nothing consumed).
// - write(bytes): returns when every byte is queued in the send buffer (suspending while
//   it is full: back-pressure); kClosed after shutdown_write()/close().
// - shutdown_write(): sends FIN after the queued bytes; reading continues.
// - close(): graceful; the stack finishes the close in the background (FIN, TIME_WAIT).
//   abort(): sends RST. A flow destroyed without either is closed.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

#include "morgana/async/task.h"
#include "morgana/net/address.h"
#include "morgana/net/endpoint.h"
#include "morgana/rt/result.h"

namespace morgana::net {

template <typename F>
concept TcpFlowApi = std::movable<F> && requires(F& flow, const F& cflow, std::span<uint8_t> in,
                                                 std::span<const uint8_t> out, bool on) {
  { flow.read(in) } -> std::same_as<async::Task<Result<size_t>>>;
  { flow.write(out) } -> std::same_as<async::Task<Result<void>>>;
  { flow.shutdown_write() } -> std::same_as<Result<void>>;
  { flow.close() } -> std::same_as<void>;
  { flow.abort() } -> std::same_as<void>;
  { flow.set_nodelay(on) } -> std::same_as<void>;
  { cflow.local() } -> std::same_as<Endpoint>;
  { cflow.remote() } -> std::same_as<Endpoint>;
};

template <typename L, typename F>
concept TcpListenerApi = std::movable<L> && requires(L& listener, const L& clistener) {
  { listener.accept() } -> std::same_as<async::Task<Result<F>>>;
  { listener.close() } -> std::same_as<void>;
  { clistener.local() } -> std::same_as<Endpoint>;
};

template <typename U>
concept UdpSocketApi = std::movable<U> &&
    requires(U& socket, const U& csocket, std::span<uint8_t> in, std::span<const uint8_t> out,
             Endpoint to) {
  { socket.receive(in) } -> std::same_as<async::Task<Result<UdpReceived>>>;
  { socket.send_to(to, out) } -> std::same_as<Result<void>>;
  { socket.connect(to) } -> std::same_as<Result<void>>;
  { socket.send(out) } -> std::same_as<Result<void>>;  // connected sockets only
  { socket.close() } -> std::same_as<void>;
  { csocket.local() } -> std::same_as<Endpoint>;
};

template <typename S>
concept Stack = requires(S& stack, uint16_t port, Ipv4Address address) {
  typename S::TcpFlow;
  typename S::TcpListener;
  typename S::UdpSocket;
  requires TcpFlowApi<typename S::TcpFlow>;
  requires TcpListenerApi<typename S::TcpListener, typename S::TcpFlow>;
  requires UdpSocketApi<typename S::UdpSocket>;
  // Port 0 binds an ephemeral port.
  { stack.tcp().listen(port) } -> std::same_as<async::Task<Result<typename S::TcpListener>>>;
  { stack.tcp().connect(address, port) } -> std::same_as<async::Task<Result<typename S::TcpFlow>>>;
  { stack.udp().bind(port) } -> std::same_as<Result<typename S::UdpSocket>>;
  // Our address (unspecified until DHCP has a lease).
  { stack.ipv4_address() } -> std::same_as<Ipv4Address>;
  // Waits until the stack has an address (at once with a static one).
  { stack.wait_configured() } -> std::same_as<async::Task<Result<void>>>;
  // Prints per-layer counters on the console.
  { stack.print_stats() } -> std::same_as<void>;
};

}  // namespace morgana::net
