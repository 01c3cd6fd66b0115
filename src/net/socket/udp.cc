// UDP over host sockets for SocketStack: receive waits on the socket's event; sending
// never waits (a full kernel buffer drops the datagram, as a full device queue would).
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

#include "morgana/async/loop.h"
#include "morgana/net/socket_stack.h"
#include "net/socket/socket_internal.h"

namespace morgana::net {

using socket_detail::cancelled;
using socket_detail::closed_error;
using socket_detail::errno_error;
using socket_detail::Socket;
using socket_detail::SocketKind;

SocketStack::UdpSocket::UdpSocket(std::shared_ptr<Socket> socket) : socket_(std::move(socket)) {}
SocketStack::UdpSocket::UdpSocket(UdpSocket&&) noexcept = default;
SocketStack::UdpSocket& SocketStack::UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    close();
    socket_ = std::move(other.socket_);
  }
  return *this;
}
SocketStack::UdpSocket::~UdpSocket() {
  close();
}

async::Task<Result<UdpReceived>> SocketStack::UdpSocket::receive(std::span<uint8_t> buffer) {
  std::shared_ptr<Socket> socket = socket_;
  if (socket == nullptr) co_return closed_error();
  async::StopToken stop = co_await async::current_stop_token();
  if (stop.stop_requested()) co_return cancelled();
  for (;;) {
    if (socket->closed()) co_return closed_error();
    sockaddr_in from{};
    socklen_t length = sizeof(from);
    // MSG_TRUNC: the kernel returns the datagram's real size even when it is cut.
    ssize_t n = ::recvfrom(socket->fd, buffer.data(), buffer.size(), MSG_TRUNC,
                           reinterpret_cast<sockaddr*>(&from), &length);
    if (n >= 0) {
      UdpReceived received;
      received.size = std::min(size_t(n), buffer.size());
      received.truncated = size_t(n) > buffer.size();
      received.from = socket_detail::from_sockaddr(from);
      ++socket->core->counters.udp_datagrams_in;
      socket->core->counters.udp_bytes_in += received.size;
      co_return received;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) co_return errno_error(errno);
    CO_TRY(co_await socket->wait(socket->readable));
  }
}

namespace {

Result<void> send_datagram(Socket& socket, const sockaddr_in* to, std::span<const uint8_t> bytes) {
  if (socket.closed()) return closed_error();
  for (;;) {
    ssize_t n = ::sendto(socket.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL,
                         reinterpret_cast<const sockaddr*>(to), to ? sizeof(*to) : 0);
    if (n >= 0) {
      ++socket.core->counters.udp_datagrams_out;
      socket.core->counters.udp_bytes_out += bytes.size();
      return ok();
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) ++socket.core->counters.udp_send_dropped;
    return errno_error(errno);
  }
}

}  // namespace

Result<void> SocketStack::UdpSocket::send_to(Endpoint to, std::span<const uint8_t> bytes) {
  if (socket_ == nullptr) return closed_error();
  sockaddr_in address = socket_detail::to_sockaddr(to);
  return send_datagram(*socket_, &address, bytes);
}

Result<void> SocketStack::UdpSocket::connect(Endpoint to) {
  if (socket_ == nullptr || socket_->closed()) return closed_error();
  sockaddr_in address = socket_detail::to_sockaddr(to);
  if (::connect(socket_->fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return errno_error(errno);
  }
  socket_->remote = to;
  socket_->local = socket_detail::local_endpoint(socket_->fd);
  return ok();
}

Result<void> SocketStack::UdpSocket::send(std::span<const uint8_t> bytes) {
  if (socket_ == nullptr) return closed_error();
  if (socket_->remote.port == 0) {
    return Error{Errc::kInvalidArgument, "send on an unconnected UDP socket"};
  }
  return send_datagram(*socket_, nullptr, bytes);
}

void SocketStack::UdpSocket::close() {
  if (socket_ == nullptr) return;
  socket_->close_fd();
  socket_.reset();
}

Endpoint SocketStack::UdpSocket::local() const {
  return socket_ ? socket_->local : Endpoint{};
}

// --- Udp ----------------------------------------------------------------------------------

Result<SocketStack::UdpSocket> SocketStack::Udp::bind(uint16_t port) {
  std::shared_ptr<socket_detail::Core> core = stack_.core_;
  if (core->stack_gone) return closed_error();
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error(errno);
  std::shared_ptr<Socket> socket = TRY(Socket::adopt(core, fd, SocketKind::kUdp));
  // No SO_REUSEADDR: on UDP it would let a second socket share the port silently.
  Ipv4Address address = core->options.ipv4 ? core->options.ipv4->address : Ipv4Address{};
  sockaddr_in local = socket_detail::to_sockaddr({address, port});
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    return errno_error(errno);
  }
  socket->local = socket_detail::local_endpoint(fd);
  return UdpSocket(std::move(socket));
}

}  // namespace morgana::net
