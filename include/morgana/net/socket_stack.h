// SocketStack: the net::Stack API (stack.h) over the host kernel's sockets, for the unix
// target built with `--stack=socket`. Development and comparison: the application is the
// same as on Morgana's own stack, only the TCP/IP underneath is Linux's.
//
// Every socket is non-blocking and registered, edge-triggered, in one epoll descriptor;
// the unix platform's yield() watches that descriptor (watch_fd), so the event loop still
// sleeps in one place. One task per stack drains epoll and wakes per-socket events; an
// operation retries its system call after EAGAIN once its socket's event fires.
//
// Semantics are those stack.h documents, with what the kernel cannot do per socket:
// --tcp-no-sack, --tcp-no-timestamps and --tcp-no-wscale are system-wide sysctls and are
// ignored; --tcp-cc sets TCP_CONGESTION (cubic, or reno for newreno) where the kernel
// allows it; --tcp-sndbuf/--tcp-rcvbuf set SO_SNDBUF/SO_RCVBUF; --ipv4 only chooses the
// local address listeners and UDP sockets bind to (no routes, no gateway, no DHCP).
//
// Lifetimes: the stack must be created and used inside a running async::Loop and
// destroyed before that loop. Flows, listeners and sockets may outlive the stack (they
// share its epoll descriptor), but once it is gone their operations fail with kClosed;
// one already waiting stays blocked until its task is stopped or destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "morgana/async/task.h"
#include "morgana/net/address.h"
#include "morgana/net/endpoint.h"
#include "morgana/net/stack.h"
#include "morgana/net/stack_options.h"
#include "morgana/rt/result.h"

namespace morgana::net {

namespace socket_detail {
struct Core;
struct Socket;
}  // namespace socket_detail

class SocketStack {
 public:
  // A connected TCP socket. Move-only; destroying an open flow closes it gracefully.
  class TcpFlow {
   public:
    TcpFlow(TcpFlow&&) noexcept;
    TcpFlow& operator=(TcpFlow&&) noexcept;
    ~TcpFlow();

    // Waits for bytes and copies up to buffer.size() (an empty buffer returns 0 at
    // once); 0 once the peer has closed and everything was read; kConnectionReset after
    // a reset; kCancelled (nothing consumed) when the task is stopped; kClosed after
    // close()/abort(). Completes exactly once.
    async::Task<Result<size_t>> read(std::span<uint8_t> buffer);
    // Returns when the kernel has taken every byte (suspending while its send buffer is
    // full); kClosed after shutdown_write()/close(); kConnectionReset if the peer reset.
    // A cancelled write may have sent a prefix of `bytes`.
    async::Task<Result<void>> write(std::span<const uint8_t> bytes);
    // shutdown(SHUT_WR): FIN after the queued bytes; reading continues.
    Result<void> shutdown_write();
    // Graceful close: the kernel sends what is queued, then FIN, and keeps TIME_WAIT.
    void close();
    // SO_LINGER 0 and close: the peer gets a RST and queued bytes are dropped.
    void abort();
    // TCP_NODELAY: off by default (Nagle on), as on Linux.
    void set_nodelay(bool on);
    Endpoint local() const;
    Endpoint remote() const;

    // For the implementation: wraps a registered socket.
    explicit TcpFlow(std::shared_ptr<socket_detail::Socket> socket);

   private:
    // Shared with operations in progress, which keep it alive across their suspensions
    // even if the TcpFlow is closed or moved meanwhile.
    std::shared_ptr<socket_detail::Socket> socket_;
  };

  class TcpListener {
   public:
    TcpListener(TcpListener&&) noexcept;
    TcpListener& operator=(TcpListener&&) noexcept;
    ~TcpListener();

    // Waits for the next connection. Beyond --tcp-max-connections open flows, a new
    // connection is reset at once (counted) and accept waits for the next one.
    // kCancelled when the task is stopped (no connection is taken); kClosed after close().
    async::Task<Result<TcpFlow>> accept();
    void close();
    Endpoint local() const;

    // For the implementation: wraps a registered socket.
    explicit TcpListener(std::shared_ptr<socket_detail::Socket> socket);

   private:
    // Shared with operations in progress, which keep it alive across their suspensions
    // even if the TcpListener is closed or moved meanwhile.
    std::shared_ptr<socket_detail::Socket> socket_;
  };

  class UdpSocket {
   public:
    UdpSocket(UdpSocket&&) noexcept;
    UdpSocket& operator=(UdpSocket&&) noexcept;
    ~UdpSocket();

    // Waits for one datagram; copies what fits and says whether it was cut.
    async::Task<Result<UdpReceived>> receive(std::span<uint8_t> buffer);
    // Sends one datagram now; kAgain if the kernel's send buffer is full (UDP does not
    // wait: the datagram is dropped and counted, as a full device queue would).
    Result<void> send_to(Endpoint to, std::span<const uint8_t> bytes);
    // Fixes the peer: send() goes there and only its datagrams are received.
    Result<void> connect(Endpoint to);
    Result<void> send(std::span<const uint8_t> bytes);
    void close();
    Endpoint local() const;

    // For the implementation: wraps a registered socket.
    explicit UdpSocket(std::shared_ptr<socket_detail::Socket> socket);

   private:
    // Shared with operations in progress, which keep it alive across their suspensions
    // even if the UdpSocket is closed or moved meanwhile.
    std::shared_ptr<socket_detail::Socket> socket_;
  };

  class Tcp {
   public:
    // Listens on `port` (0: an ephemeral one) on 0.0.0.0, or the --ipv4 address, with
    // SO_REUSEADDR; kAddressInUse when taken.
    async::Task<Result<TcpListener>> listen(uint16_t port);
    // Connects; kConnectionRefused, kUnreachable, kTimedOut as the kernel reports.
    // Cancelling it abandons the attempt (the socket is closed).
    async::Task<Result<TcpFlow>> connect(Ipv4Address address, uint16_t port);

   private:
    friend class SocketStack;
    explicit Tcp(SocketStack& stack) : stack_(stack) {}
    SocketStack& stack_;
  };

  class Udp {
   public:
    // Binds `port` (0: ephemeral) on 0.0.0.0 or the --ipv4 address; kAddressInUse.
    Result<UdpSocket> bind(uint16_t port);

   private:
    friend class SocketStack;
    explicit Udp(SocketStack& stack) : stack_(stack) {}
    SocketStack& stack_;
  };

  // Makes the epoll descriptor and registers it with the platform; the task that drains
  // it starts on first use, inside the loop.
  static Result<std::unique_ptr<SocketStack>> create(const StackOptions& options);
  SocketStack(const SocketStack&) = delete;
  SocketStack& operator=(const SocketStack&) = delete;
  ~SocketStack();

  Tcp& tcp() { return tcp_; }
  Udp& udp() { return udp_; }
  // The --ipv4 address, else 0.0.0.0 (the host's addresses are the kernel's business).
  Ipv4Address ipv4_address();
  // Nothing to configure: completes at once.
  async::Task<Result<void>> wait_configured();
  // Connections accepted, opened and refused, TCP bytes in and out, UDP datagrams and
  // bytes each way, on the console.
  void print_stats();

 private:
  explicit SocketStack(std::shared_ptr<socket_detail::Core> core);
  std::shared_ptr<socket_detail::Core> core_;
  Tcp tcp_{*this};
  Udp udp_{*this};
};

static_assert(Stack<SocketStack>);

}  // namespace morgana::net
