// Private to the socket stack: the state one SocketStack shares with its sockets (the
// epoll descriptor, counters, the task that drains epoll) and one registered socket.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <memory>

#include "morgana/async/event.h"
#include "morgana/async/stop.h"
#include "morgana/async/task.h"
#include "morgana/net/endpoint.h"
#include "morgana/net/stack_options.h"
#include "morgana/platform/platform.h"
#include "morgana/rt/result.h"

namespace morgana::net::socket_detail {

struct Counters {
  uint64_t accepted = 0;  // TCP connections taken from a listener
  uint64_t opened = 0;    // TCP connections we opened
  uint64_t refused = 0;   // accepted beyond --tcp-max-connections and reset at once
  uint64_t tcp_bytes_in = 0;
  uint64_t tcp_bytes_out = 0;
  uint64_t udp_datagrams_in = 0;
  uint64_t udp_bytes_in = 0;
  uint64_t udp_datagrams_out = 0;
  uint64_t udp_bytes_out = 0;
  uint64_t udp_send_dropped = 0;  // the kernel's send buffer was full
};

// Shared by the stack and every socket it made: sockets may outlive the stack, and the
// descriptor they are registered in must outlive them.
struct Core : std::enable_shared_from_this<Core> {
  Core(const StackOptions& options, int epoll_fd, platform::DeviceId device)
      : options(options), epoll_fd(epoll_fd), device(device) {}
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;
  ~Core();  // closes the epoll descriptor and stops the platform watching it

  // Starts the task that drains epoll, once, on the running loop. Called before every
  // wait, so a stack created before its loop starts still works.
  void ensure_poller();
  // Reads every pending epoll event without blocking and sets the sockets' events.
  void dispatch();

  StackOptions options;
  int epoll_fd;
  platform::DeviceId device;  // epoll_fd's id in the platform's ready set
  bool poller_started = false;
  bool stack_gone = false;  // the SocketStack was destroyed: operations fail with kClosed
  uint32_t open_flows = 0;  // for --tcp-max-connections
  Counters counters;
  // Stops the poller when the stack goes (the Core itself lives on in its sockets).
  async::StopSource poller_stop;
};

enum class SocketKind : uint8_t { kFlow, kListener, kUdp };

// One non-blocking socket registered (edge-triggered) in its Core's epoll descriptor.
// `readable` and `writable` are set by the poller when the kernel reports an edge; an
// operation resets one right after its system call said EAGAIN (no other task runs in
// between, so no edge is lost) and waits on it.
struct Socket {
  // Registers `fd` (non-blocking already); on failure closes it.
  static Result<std::shared_ptr<Socket>> adopt(std::shared_ptr<Core> core, int fd, SocketKind kind);
  Socket(std::shared_ptr<Core> core, int fd, SocketKind kind)
      : core(std::move(core)), fd(fd), kind(kind) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { close_fd(); }

  // Leaves epoll and closes the descriptor; waiting operations wake and fail with kClosed.
  void close_fd();
  // True when operations must fail with kClosed.
  bool closed() const { return fd < 0 || core->stack_gone; }
  // Waits for the poller to report `event` again (after an EAGAIN).
  async::Event::Awaiter wait(async::Event& event) {
    event.reset();
    core->ensure_poller();
    return event.wait();
  }

  std::shared_ptr<Core> core;
  int fd;
  SocketKind kind;
  bool write_shut = false;  // shutdown_write() was called
  Endpoint local;
  Endpoint remote;
  async::Event readable;
  async::Event writable;
};

// What a failed system call's errno means to an application, as one of Errc's codes.
Error errno_error(int error);

sockaddr_in to_sockaddr(Endpoint endpoint);
Endpoint from_sockaddr(const sockaddr_in& address);
// getsockname / getpeername, or an unspecified endpoint when the kernel refuses.
Endpoint local_endpoint(int fd);
Endpoint remote_endpoint(int fd);

// Every operation starts by checking its task's stop token, so that it is a cancellation
// point even when it could complete at once (docs/async.md, rule 1).
inline Error cancelled() {
  return Error{Errc::kCancelled, "the task was stopped"};
}
inline Error closed_error() {
  return Error{Errc::kClosed, "the socket was closed"};
}

}  // namespace morgana::net::socket_detail
