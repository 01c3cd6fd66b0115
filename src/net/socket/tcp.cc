// TCP over host sockets: listeners, flows, and connecting, for SocketStack (the unix
// target's --stack=socket). Each call that would block waits on its socket's event and
// retries.
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "morgana/async/loop.h"
#include "morgana/net/socket_stack.h"
#include "net/socket/socket_internal.h"

namespace morgana::net {

using socket_detail::cancelled;
using socket_detail::closed_error;
using socket_detail::errno_error;
using socket_detail::Socket;
using socket_detail::SocketKind;

namespace {

// The per-socket parts of the options (socket_stack.h says which the kernel cannot take
// per socket). Set before listen() or connect(): the window scale a SYN offers follows
// the receive buffer, and accepted sockets inherit the listener's settings.
void configure_tcp(int fd, const StackOptions& options) {
  int send = int(options.tcp_send_buffer);
  int receive = int(options.tcp_receive_buffer);
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send, sizeof(send));
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive, sizeof(receive));
  // Linux calls NewReno "reno". An unprivileged process may only pick the algorithms in
  // net.ipv4.tcp_allowed_congestion_control: keep the kernel's default then.
  const char* algorithm = options.congestion == CongestionAlgorithm::kNewReno ? "reno" : "cubic";
  (void)setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, algorithm, socklen_t(std::strlen(algorithm)));
}

Result<int> tcp_socket(const StackOptions& options) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error(errno);
  configure_tcp(fd, options);
  return fd;
}

Ipv4Address bind_address(const StackOptions& options) {
  return options.ipv4 ? options.ipv4->address : Ipv4Address{};
}

}  // namespace

// --- TcpFlow ----------------------------------------------------------------------------

SocketStack::TcpFlow::TcpFlow(std::shared_ptr<Socket> socket) : socket_(std::move(socket)) {}
SocketStack::TcpFlow::TcpFlow(TcpFlow&&) noexcept = default;
SocketStack::TcpFlow& SocketStack::TcpFlow::operator=(TcpFlow&& other) noexcept {
  if (this != &other) {
    close();
    socket_ = std::move(other.socket_);
  }
  return *this;
}
SocketStack::TcpFlow::~TcpFlow() {
  close();
}

async::Task<Result<size_t>> SocketStack::TcpFlow::read(std::span<uint8_t> buffer) {
  // A reference of our own: the flow may be closed or moved while this read waits.
  std::shared_ptr<Socket> socket = socket_;
  if (socket == nullptr) co_return closed_error();
  async::StopToken stop = co_await async::current_stop_token();
  if (stop.stop_requested()) co_return cancelled();
  if (buffer.empty()) co_return size_t{0};
  for (;;) {
    if (socket->closed()) co_return closed_error();
    ssize_t n = ::recv(socket->fd, buffer.data(), buffer.size(), 0);
    if (n >= 0) {
      socket->core->counters.tcp_bytes_in += uint64_t(n);
      co_return size_t(n);
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) co_return errno_error(errno);
    // Nothing consumed: a cancelled wait leaves the bytes for the next read.
    CO_TRY(co_await socket->wait(socket->readable));
  }
}

async::Task<Result<void>> SocketStack::TcpFlow::write(std::span<const uint8_t> bytes) {
  std::shared_ptr<Socket> socket = socket_;
  if (socket == nullptr || socket->write_shut) co_return closed_error();
  async::StopToken stop = co_await async::current_stop_token();
  if (stop.stop_requested()) co_return cancelled();
  size_t done = 0;
  while (done < bytes.size()) {
    if (socket->closed() || socket->write_shut) co_return closed_error();
    // MSG_NOSIGNAL: a reset peer is an error to return, not a SIGPIPE to die of.
    ssize_t n = ::send(socket->fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n >= 0) {
      done += size_t(n);
      socket->core->counters.tcp_bytes_out += uint64_t(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) co_return errno_error(errno);
    CO_TRY(co_await socket->wait(socket->writable));
  }
  co_return ok();
}

Result<void> SocketStack::TcpFlow::shutdown_write() {
  if (socket_ == nullptr || socket_->closed()) return closed_error();
  if (socket_->write_shut) return ok();
  if (::shutdown(socket_->fd, SHUT_WR) != 0) return errno_error(errno);
  socket_->write_shut = true;
  // A write waiting for room must now fail with kClosed rather than wait on.
  socket_->writable.set();
  return ok();
}

void SocketStack::TcpFlow::close() {
  if (socket_ == nullptr) return;
  // The kernel finishes a graceful close on its own (queued bytes, FIN, TIME_WAIT).
  socket_->close_fd();
  socket_.reset();
}

void SocketStack::TcpFlow::abort() {
  if (socket_ == nullptr) return;
  if (socket_->fd >= 0) {
    // RFC 9293 §3.10.7.1 ABORT, the sockets way: a zero linger time makes close() send
    // a RST and drop what is queued.
    linger option{1, 0};
    (void)setsockopt(socket_->fd, SOL_SOCKET, SO_LINGER, &option, sizeof(option));
  }
  close();
}

void SocketStack::TcpFlow::set_nodelay(bool on) {
  if (socket_ == nullptr || socket_->fd < 0) return;
  int value = on ? 1 : 0;
  (void)setsockopt(socket_->fd, IPPROTO_TCP, TCP_NODELAY, &value, sizeof(value));
}

Endpoint SocketStack::TcpFlow::local() const {
  return socket_ ? socket_->local : Endpoint{};
}
Endpoint SocketStack::TcpFlow::remote() const {
  return socket_ ? socket_->remote : Endpoint{};
}

// --- TcpListener ------------------------------------------------------------------------

SocketStack::TcpListener::TcpListener(std::shared_ptr<Socket> socket)
    : socket_(std::move(socket)) {}
SocketStack::TcpListener::TcpListener(TcpListener&&) noexcept = default;
SocketStack::TcpListener& SocketStack::TcpListener::operator=(TcpListener&& other) noexcept {
  if (this != &other) {
    close();
    socket_ = std::move(other.socket_);
  }
  return *this;
}
SocketStack::TcpListener::~TcpListener() {
  close();
}

async::Task<Result<SocketStack::TcpFlow>> SocketStack::TcpListener::accept() {
  std::shared_ptr<Socket> listener = socket_;
  if (listener == nullptr) co_return closed_error();
  async::StopToken stop = co_await async::current_stop_token();
  if (stop.stop_requested()) co_return cancelled();
  socket_detail::Core& core = *listener->core;
  for (;;) {
    if (listener->closed()) co_return closed_error();
    sockaddr_in peer{};
    socklen_t length = sizeof(peer);
    int fd = ::accept4(listener->fd, reinterpret_cast<sockaddr*>(&peer), &length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // The connection died in the backlog (man 2 accept: retry on these).
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      if (errno != EAGAIN) co_return errno_error(errno);
      CO_TRY(co_await listener->wait(listener->readable));
      continue;
    }
    if (core.open_flows >= core.options.max_connections) {
      // Every resource has a bound: beyond it the connection is reset and counted, and
      // the listener keeps serving those it has.
      linger option{1, 0};
      (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, sizeof(option));
      ::close(fd);
      ++core.counters.refused;
      continue;
    }
    CO_TRY_ASSIGN(std::shared_ptr<Socket> socket,
                  Socket::adopt(listener->core, fd, SocketKind::kFlow));
    socket->local = socket_detail::local_endpoint(fd);
    socket->remote = socket_detail::from_sockaddr(peer);
    ++core.counters.accepted;
    co_return TcpFlow(std::move(socket));
  }
}

void SocketStack::TcpListener::close() {
  if (socket_ == nullptr) return;
  socket_->close_fd();
  socket_.reset();
}

Endpoint SocketStack::TcpListener::local() const {
  return socket_ ? socket_->local : Endpoint{};
}

// --- Tcp ----------------------------------------------------------------------------------

async::Task<Result<SocketStack::TcpListener>> SocketStack::Tcp::listen(uint16_t port) {
  std::shared_ptr<socket_detail::Core> core = stack_.core_;
  if (core->stack_gone) co_return closed_error();
  async::StopToken stop = co_await async::current_stop_token();
  if (stop.stop_requested()) co_return cancelled();
  CO_TRY_ASSIGN(int fd, tcp_socket(core->options));
  CO_TRY_ASSIGN(std::shared_ptr<Socket> socket, Socket::adopt(core, fd, SocketKind::kListener));
  // A restarted server must not wait for its old connections' TIME_WAIT to end.
  int on = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in address = socket_detail::to_sockaddr({bind_address(core->options), port});
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    co_return errno_error(errno);
  }
  // The kernel caps the backlog at net.core.somaxconn.
  int backlog = int(std::min<uint32_t>(core->options.max_connections, 65535));
  if (::listen(fd, backlog) != 0) co_return errno_error(errno);
  socket->local = socket_detail::local_endpoint(fd);
  co_return TcpListener(std::move(socket));
}

async::Task<Result<SocketStack::TcpFlow>> SocketStack::Tcp::connect(Ipv4Address address,
                                                                    uint16_t port) {
  std::shared_ptr<socket_detail::Core> core = stack_.core_;
  if (core->stack_gone) co_return closed_error();
  async::StopToken stop = co_await async::current_stop_token();
  if (stop.stop_requested()) co_return cancelled();
  if (core->open_flows >= core->options.max_connections) {
    co_return Error{Errc::kNoMemory, "--tcp-max-connections flows are open"};
  }
  CO_TRY_ASSIGN(int fd, tcp_socket(core->options));
  // Registered before connect(), so the edge that reports its completion is not missed.
  CO_TRY_ASSIGN(std::shared_ptr<Socket> socket, Socket::adopt(core, fd, SocketKind::kFlow));
  sockaddr_in peer = socket_detail::to_sockaddr({address, port});
  int status = ::connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof(peer));
  if (status != 0 && errno != EINPROGRESS) co_return errno_error(errno);
  while (status != 0) {
    // Cancelled or failed: returning drops the last reference and closes the socket.
    CO_TRY(co_await socket->wait(socket->writable));
    if (socket->closed()) co_return closed_error();
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
    if (error != 0) co_return errno_error(error);
    // Writable without an error and with a peer means connected; an early wake-up (the
    // edge from registering) leaves it still in progress: wait on.
    sockaddr_in connected{};
    socklen_t connected_length = sizeof(connected);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&connected), &connected_length) == 0)
      status = 0;
  }
  socket->local = socket_detail::local_endpoint(fd);
  socket->remote = socket_detail::remote_endpoint(fd);
  ++core->counters.opened;
  co_return TcpFlow(std::move(socket));
}

}  // namespace morgana::net
