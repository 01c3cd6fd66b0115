// SocketStack itself: creating the epoll descriptor and handing it to the platform's
// yield(), and the stack-wide calls (address, configuration, statistics).
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "morgana/async/loop.h"
#include "morgana/net/socket_stack.h"
#include "morgana/platform/platform.h"
#include "net/socket/socket_internal.h"
#include "platform/unix/unix_platform.h"

namespace morgana::net {

Result<std::unique_ptr<SocketStack>> SocketStack::create(const StackOptions& options) {
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return socket_detail::errno_error(errno);
  Result<platform::DeviceId> device = platform::unix_target::watch_fd(epoll_fd);
  if (!device) {
    ::close(epoll_fd);
    return device.error();
  }
  auto core = std::make_shared<socket_detail::Core>(options, epoll_fd, *device);
  return std::unique_ptr<SocketStack>(new SocketStack(std::move(core)));
}

SocketStack::SocketStack(std::shared_ptr<socket_detail::Core> core) : core_(std::move(core)) {}

SocketStack::~SocketStack() {
  core_->stack_gone = true;
  // The poller holds the Core too; stopping it lets it end and release it. Without a
  // loop its frame is already gone (the loop destroyed it) and nothing is registered.
  if (async::Loop::exists()) core_->poller_stop.request_stop();
}

Ipv4Address SocketStack::ipv4_address() {
  return core_->options.ipv4 ? core_->options.ipv4->address : Ipv4Address{};
}

async::Task<Result<void>> SocketStack::wait_configured() {
  co_return ok();
}

void SocketStack::print_stats() {
  const socket_detail::Counters& c = core_->counters;
  using ull = unsigned long long;
  char line[320];
  int n = std::snprintf(
      line, sizeof(line),
      "socket stack: tcp accepted %llu opened %llu refused %llu open %u, bytes in %llu out "
      "%llu; udp in %llu datagrams %llu bytes, out %llu datagrams %llu bytes, %llu send "
      "drops\n",
      ull(c.accepted), ull(c.opened), ull(c.refused), unsigned(core_->open_flows),
      ull(c.tcp_bytes_in), ull(c.tcp_bytes_out), ull(c.udp_datagrams_in), ull(c.udp_bytes_in),
      ull(c.udp_datagrams_out), ull(c.udp_bytes_out), ull(c.udp_send_dropped));
  if (n > 0) platform::console_write(std::string_view(line, std::min(size_t(n), sizeof(line) - 1)));
}

}  // namespace morgana::net
