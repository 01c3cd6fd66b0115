// The socket stack's machinery: one epoll descriptor per stack, watched by the unix
// platform's yield(), and one task that drains it and wakes the sockets' events.
#include <arpa/inet.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "morgana/async/loop.h"
#include "morgana/async/scope.h"
#include "net/socket/socket_internal.h"
#include "platform/unix/unix_platform.h"

namespace morgana::net::socket_detail {
namespace {

// Waits for the platform to report the epoll descriptor readable, then drains it; until
// the task is stopped (its stack went) or destroyed (its loop went).
async::Task<void> drain_epoll(std::shared_ptr<Core> core) {
  for (;;) {
    // Named, not `(co_await ...).ok()`: g++ 12 mishandles the awaiter's lifetime in that
    // form (the waiter left the device list and the loop saw nothing to wait for).
    Result<void> ready = co_await async::wait_readable(core->device);
    if (!ready) co_return;
    core->dispatch();
  }
}

// The poller observes the Core's own stop source, not its scope's, so that the stack
// decides when it ends. The parameter keeps the Core (and that source) alive meanwhile.
async::Task<void> poller(std::shared_ptr<Core> core) {
  async::StopToken token = core->poller_stop.token();
  co_await async::with_stop_token(drain_epoll(core), token);
}

}  // namespace

Core::~Core() {
  platform::unix_target::unwatch_fd(device);
  ::close(epoll_fd);
}

void Core::ensure_poller() {
  if (poller_started || stack_gone) return;
  poller_started = true;
  async::spawn(poller(shared_from_this()));
}

void Core::dispatch() {
  // Edge-triggered: each event is one change of state. Setting an event only schedules
  // its waiters, so no socket is freed while this batch is walked.
  constexpr int kBatch = 256;
  epoll_event events[kBatch];
  for (;;) {
    int n = epoll_wait(epoll_fd, events, kBatch, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EBADF and the like cannot happen while the Core lives.
    }
    for (int i = 0; i < n; ++i) {
      auto* socket = static_cast<Socket*>(events[i].data.ptr);
      const uint32_t mask = events[i].events;
      // Errors and hang-ups wake both directions: the retried call reports them.
      if (mask & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) socket->readable.set();
      if (mask & (EPOLLOUT | EPOLLHUP | EPOLLERR)) socket->writable.set();
    }
    if (n < kBatch) return;
  }
}

Result<std::shared_ptr<Socket>> Socket::adopt(std::shared_ptr<Core> core, int fd, SocketKind kind) {
  auto socket = std::make_shared<Socket>(std::move(core), fd, kind);
  // Counted from here, so that the close_fd() of a failed registration balances it.
  if (kind == SocketKind::kFlow) ++socket->core->open_flows;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.ptr = socket.get();
  if (epoll_ctl(socket->core->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
    return errno_error(errno);  // ~Socket closes fd (it is not in epoll: DEL fails, harmless)
  }
  return socket;
}

void Socket::close_fd() {
  if (fd < 0) return;
  // Explicitly, not by close(): a descriptor shared with a child process would otherwise
  // stay registered and report events for a freed Socket.
  (void)epoll_ctl(core->epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  fd = -1;
  if (kind == SocketKind::kFlow) --core->open_flows;
  readable.set();
  writable.set();
}

Error errno_error(int error) {
  switch (error) {
    case ECONNRESET:
    case EPIPE:  // writing after the peer reset (MSG_NOSIGNAL turns SIGPIPE into this)
      return Error{Errc::kConnectionReset, "connection reset by peer"};
    case ECONNREFUSED:
      return Error{Errc::kConnectionRefused, "connection refused"};
    case ECONNABORTED:
      return Error{Errc::kConnectionReset, "connection aborted"};
    case ETIMEDOUT:
      return Error{Errc::kTimedOut, "connection timed out"};
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
      return Error{Errc::kUnreachable, "no route to host"};
    case EADDRINUSE:
      return Error{Errc::kAddressInUse, "address already in use"};
    case EADDRNOTAVAIL:
      return Error{Errc::kInvalidArgument, "address not available on this host"};
    case EACCES:
    case EPERM:
      return Error{Errc::kInvalidArgument, "permission denied (a privileged port?)"};
    case ENOMEM:
    case ENOBUFS:
      return Error{Errc::kNoMemory, "the kernel is out of buffers"};
    case EMFILE:
    case ENFILE:
      return Error{Errc::kNoMemory, "out of file descriptors"};
    case EAGAIN:
      return Error{Errc::kAgain, "the kernel's buffer is full"};
    case EMSGSIZE:
      return Error{Errc::kInvalidArgument, "datagram too large"};
    case ENOTCONN:
    case EBADF:
      return Error{Errc::kClosed, "the socket is not connected"};
    case EINVAL:
      return Error{Errc::kInvalidArgument, "invalid argument"};
    default:
      return Error{Errc::kIo, "socket call failed"};
  }
}

sockaddr_in to_sockaddr(Endpoint endpoint) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(endpoint.port);
  // Ipv4Address is stored in wire order, as is sin_addr.
  std::memcpy(&address.sin_addr, endpoint.address.bytes.data(), 4);
  return address;
}

Endpoint from_sockaddr(const sockaddr_in& address) {
  Endpoint endpoint;
  std::memcpy(endpoint.address.bytes.data(), &address.sin_addr, 4);
  endpoint.port = ntohs(address.sin_port);
  return endpoint;
}

Endpoint local_endpoint(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return {};
  return from_sockaddr(address);
}

Endpoint remote_endpoint(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return {};
  return from_sockaddr(address);
}

}  // namespace morgana::net::socket_detail
