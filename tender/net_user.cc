// The user-mode backend: libslirp 4.7 on an I/O thread of its own, joined to the monitor
// by two bounded frame queues and two eventfds (see net_user.h for the shape).
#include "tender/net_user.h"

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include <libslirp.h>

namespace morgana::tender {
namespace {

// A bounded single-producer/single-consumer queue of frames in fixed slots: no
// allocation after construction, and neither side ever waits for the other.
class FrameQueue {
 public:
  enum class Push { kFull, kPushed, kPushedIntoEmpty };

  FrameQueue() : slots_(new Slot[kUserQueueFrames]) {}

  // Producer. kPushedIntoEmpty means the consumer had taken everything before this
  // frame and may be asleep, so the producer must wake it. The seq_cst store of tail_
  // followed by the seq_cst load of head_ pairs with the consumer's store of head_ then
  // load of tail_ (pop() then front()): at least one side sees the other, so a frame is
  // never left unsignalled while the consumer sleeps.
  Push push(std::span<const uint8_t> frame) {
    uint64_t tail = tail_.load(std::memory_order_relaxed);
    // acquire: the consumer has finished reading a slot before we may overwrite it.
    if (tail - head_.load(std::memory_order_acquire) == kUserQueueFrames) return Push::kFull;
    Slot& slot = slots_[tail % kUserQueueFrames];
    slot.len = static_cast<uint16_t>(frame.size());
    std::memcpy(slot.data, frame.data(), frame.size());
    tail_.store(tail + 1, std::memory_order_seq_cst);
    return head_.load(std::memory_order_seq_cst) == tail ? Push::kPushedIntoEmpty : Push::kPushed;
  }

  // Consumer: the oldest frame, valid until pop(); nullopt when there is none.
  std::optional<std::span<const uint8_t>> front() const {
    uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_.load(std::memory_order_seq_cst)) return std::nullopt;
    const Slot& slot = slots_[head % kUserQueueFrames];
    return std::span<const uint8_t>(slot.data, slot.len);
  }
  void pop() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst); }

 private:
  struct Slot {
    uint16_t len;
    uint8_t data[kNetMaxFrame];
  };
  std::unique_ptr<Slot[]> slots_;
  std::atomic<uint64_t> head_{0};  // next slot to read; written by the consumer only
  std::atomic<uint64_t> tail_{0};  // next slot to fill; written by the producer only
};

void signal_event(int fd) {
  uint64_t one = 1;
  // Can only fail with EAGAIN when the counter is near 2^64: it is readable then anyway.
  [[maybe_unused]] ssize_t n = write(fd, &one, sizeof(one));
}

void clear_event(int fd) {
  uint64_t value;
  [[maybe_unused]] ssize_t n = read(fd, &value, sizeof(value));  // EAGAIN: already clear
}

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

in_addr ipv4(const char* text) {
  in_addr a{};
  inet_pton(AF_INET, text, &a);
  return a;
}

std::string describe_forward(const host::PortForward& f) {
  return "forward=tcp:" + f.host_addr + ":" + std::to_string(f.host_port) +
         "-:" + std::to_string(f.guest_port);
}

// Messages from slirp about a misbehaving guest are capped: a hostile guest must not
// be able to fill the host's logs.
constexpr unsigned kMaxGuestErrorLines = 20;

}  // namespace

struct UserBackend::Impl {
  // A slirp timer. In this configuration (no IPv6) slirp creates none, but the
  // callbacks are part of its contract, so they are honoured.
  struct Timer {
    SlirpTimerCb cb = nullptr;  // timer_new style
    void* cb_opaque = nullptr;
    SlirpTimerId id = SLIRP_TIMER_RA;  // timer_new_opaque style, when cb is null
    int64_t expire_ms = -1;            // -1: not armed
  };

  Impl(std::string what, NetCounterCells& counters) : what_(std::move(what)), counters_(counters) {}
  ~Impl() {
    if (thread_.joinable()) {
      stop_.store(true);
      signal_event(wake_fd_);
      thread_.join();
    }
    if (slirp_ != nullptr) slirp_cleanup(slirp_);
    if (ready_fd_ >= 0) close(ready_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  std::string start(const host::NetAttachment& attachment);
  void run();
  int next_timeout_ms(uint32_t slirp_timeout_ms) const;
  void run_timers();

  // --- slirp callbacks; `opaque` is the Impl. All run on the I/O thread, except
  // during slirp_new and slirp_add_hostfwd in start(), before the thread exists.
  static ssize_t on_send_packet(const void* buf, size_t len, void* opaque);
  static void on_guest_error(const char* msg, void* opaque);
  static int64_t on_clock_get_ns(void*) { return monotonic_ns(); }
  static void* on_timer_new(SlirpTimerCb cb, void* cb_opaque, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    self->timers_.push_back(std::make_unique<Timer>(Timer{cb, cb_opaque, SLIRP_TIMER_RA, -1}));
    return self->timers_.back().get();
  }
  static void* on_timer_new_opaque(SlirpTimerId id, void* cb_opaque, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    self->timers_.push_back(std::make_unique<Timer>(Timer{nullptr, cb_opaque, id, -1}));
    return self->timers_.back().get();
  }
  static void on_timer_free(void* timer, void* opaque) {
    auto& timers = static_cast<Impl*>(opaque)->timers_;
    std::erase_if(timers, [timer](const auto& t) { return t.get() == timer; });
  }
  static void on_timer_mod(void* timer, int64_t expire_ms, void*) {
    static_cast<Timer*>(timer)->expire_ms = expire_ms;
  }
  // The poll set is rebuilt from slirp_pollfds_fill on every loop turn, so there is
  // nothing to keep per fd.
  static void on_register_poll_fd(int, void*) {}
  static void on_unregister_poll_fd(int, void*) {}
  // slirp asks to be polled again soon (a socket buffer freed up). Called from slirp
  // code, i.e. on the I/O thread itself; a wake-up makes the next turn immediate.
  static void on_notify(void* opaque) { signal_event(static_cast<Impl*>(opaque)->wake_fd_); }
  static int on_add_poll(int fd, int events, void* opaque);
  static int on_get_revents(int idx, void* opaque);

  const std::string what_;  // "--net:NAME=user", the prefix of every message
  NetCounterCells& counters_;
  FrameQueue to_guest_;  // producer: I/O thread (send_packet); consumer: recv()
  FrameQueue to_slirp_;  // producer: send(); consumer: I/O thread
  int ready_fd_ = -1;    // eventfd: to_guest_ has frames (wait_fd)
  int wake_fd_ = -1;     // eventfd: to_slirp_ has frames, or stop_ was set
  Slirp* slirp_ = nullptr;
  std::thread thread_;
  std::atomic<bool> running_{false};  // set once by the I/O thread when it starts
  std::atomic<bool> stop_{false};
  std::vector<pollfd> pollfds_;  // I/O thread only
  std::vector<std::unique_ptr<Timer>> timers_;
  unsigned guest_error_lines_ = 0;
};

ssize_t UserBackend::Impl::on_send_packet(const void* buf, size_t len, void* opaque) {
  auto* self = static_cast<Impl*>(opaque);
  // slirp's own frames are at most 14 + if_mtu bytes; the check guards the slot size.
  if (len > kNetMaxFrame) {
    self->counters_.drop(NetDrop::kRecvTooLarge);
  } else {
    switch (self->to_guest_.push({static_cast<const uint8_t*>(buf), len})) {
      case FrameQueue::Push::kFull:
        // The guest is not keeping up; slirp's TCP retransmits at a lower pace.
        self->counters_.drop(NetDrop::kRecvQueueFull);
        break;
      case FrameQueue::Push::kPushedIntoEmpty:
        signal_event(self->ready_fd_);
        break;
      case FrameQueue::Push::kPushed:
        break;
    }
  }
  return static_cast<ssize_t>(len);  // a dropped frame is not an I/O error for slirp
}

void UserBackend::Impl::on_guest_error(const char* msg, void* opaque) {
  auto* self = static_cast<Impl*>(opaque);
  if (self->guest_error_lines_ < kMaxGuestErrorLines) {
    std::fprintf(stderr, "morgana-hvt: %s: slirp: guest error: %s\n", self->what_.c_str(), msg);
  } else if (self->guest_error_lines_ == kMaxGuestErrorLines) {
    std::fprintf(stderr, "morgana-hvt: %s: slirp: further guest errors not shown\n",
                 self->what_.c_str());
  }
  ++self->guest_error_lines_;
}

int UserBackend::Impl::on_add_poll(int fd, int events, void* opaque) {
  auto& fds = static_cast<Impl*>(opaque)->pollfds_;
  short ev = 0;
  if (events & SLIRP_POLL_IN) ev |= POLLIN;
  if (events & SLIRP_POLL_OUT) ev |= POLLOUT;
  if (events & SLIRP_POLL_PRI) ev |= POLLPRI;
  fds.push_back({fd, ev, 0});
  return static_cast<int>(fds.size() - 1);
}

int UserBackend::Impl::on_get_revents(int idx, void* opaque) {
  auto& fds = static_cast<Impl*>(opaque)->pollfds_;
  if (idx < 0 || static_cast<size_t>(idx) >= fds.size()) return 0;
  short rev = fds[idx].revents;
  int out = 0;
  if (rev & POLLIN) out |= SLIRP_POLL_IN;
  if (rev & POLLOUT) out |= SLIRP_POLL_OUT;
  if (rev & POLLPRI) out |= SLIRP_POLL_PRI;
  if (rev & POLLERR) out |= SLIRP_POLL_ERR;
  if (rev & POLLHUP) out |= SLIRP_POLL_HUP;
  return out;
}

std::string UserBackend::Impl::start(const host::NetAttachment& attachment) {
  ready_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ready_fd_ < 0 || wake_fd_ < 0)
    return what_ + ": cannot create eventfd: " + std::strerror(errno);

  SlirpConfig cfg{};
  cfg.version = 4;  // up to disable_dhcp; 4.7 knows versions 1-4
  // DESIGN.md §4: restricted. slirp then drops (TCP: resets) every guest packet that is
  // not for its own virtual services (ARP, DHCP, ICMP echo to the gateway), so the guest
  // opens no connection to the host or beyond; host → guest forwards still work.
  cfg.restricted = 1;
  cfg.in_enabled = true;
  cfg.vnetwork = ipv4(kUserNetwork);
  cfg.vnetmask = ipv4("255.255.255.0");
  cfg.vhost = ipv4(kUserGateway);
  cfg.vdhcp_start = ipv4(kUserGuestAddr);
  cfg.vnameserver = ipv4(kUserDns);
  // IPv6 off: restricted mode is what keeps the guest in, and one address family is
  // one thing to audit. The guest gets its IPv4 address from slirp's DHCP.
  cfg.in6_enabled = false;
  cfg.if_mtu = kNetMtu;
  cfg.if_mru = kNetMtu;
  // Belt and braces: even if a rule above let a packet through, 10.0.2.2 must not
  // become the host's 127.0.0.1, and DNS must not be relayed to the host's resolver.
  cfg.disable_host_loopback = true;
  cfg.disable_dns = true;
  cfg.enable_emu = false;  // slirp's protocol rewriting (FTP, IRC...) is unsafe
  cfg.disable_dhcp = false;

  static const SlirpCb callbacks = {
      .send_packet = on_send_packet,
      .guest_error = on_guest_error,
      .clock_get_ns = on_clock_get_ns,
      .timer_new = on_timer_new,
      .timer_free = on_timer_free,
      .timer_mod = on_timer_mod,
      .register_poll_fd = on_register_poll_fd,
      .unregister_poll_fd = on_unregister_poll_fd,
      .notify = on_notify,
      .init_completed = nullptr,
      .timer_new_opaque = on_timer_new_opaque,
  };
  slirp_ = slirp_new(&cfg, &callbacks, this);
  if (slirp_ == nullptr) return what_ + ": libslirp refused its configuration";

  for (const host::PortForward& f : attachment.forwards) {
    const std::string forward = what_ + "," + describe_forward(f);
    in_addr host{};
    if (inet_pton(AF_INET, f.host_addr.c_str(), &host) != 1) {
      return forward + ": '" + f.host_addr + "' is not an IPv4 address";
    }
    if (f.host_port == 0 || f.guest_port == 0) return forward + ": port 0 is not allowed";
    // slirp binds and listens here, at once, and keeps errno from bind/listen.
    errno = 0;
    if (slirp_add_hostfwd(slirp_, /*is_udp=*/0, host, f.host_port, ipv4(kUserGuestAddr),
                          f.guest_port) < 0) {
      int err = errno;
      return forward + ": cannot listen on " + f.host_addr + ":" + std::to_string(f.host_port) +
             ": " + (err != 0 ? std::strerror(err) : "refused by libslirp");
    }
  }

  // Wait until the thread runs: glibc's thread start-up makes syscalls (rseq,
  // set_robust_list) that the seccomp filter, installed soon after create() returns,
  // need not allow. The flag is a member, so it outlives the thread's notify.
  thread_ = std::thread([this] { run(); });
  running_.wait(false);
  // A name shows up in top and gdb. Set from here, before any seccomp filter exists:
  // naming another thread writes /proc/self/task/TID/comm.
  std::string name = "slirp-" + attachment.name;
  name.resize(std::min<size_t>(name.size(), 15));
  pthread_setname_np(thread_.native_handle(), name.c_str());
  return "";
}

int UserBackend::Impl::next_timeout_ms(uint32_t slirp_timeout_ms) const {
  int64_t timeout = slirp_timeout_ms == UINT32_MAX ? -1 : int64_t{slirp_timeout_ms};
  int64_t now_ms = monotonic_ns() / 1'000'000;
  for (const auto& t : timers_) {
    if (t->expire_ms < 0) continue;
    int64_t due = std::max<int64_t>(0, t->expire_ms - now_ms);
    timeout = timeout < 0 ? due : std::min(timeout, due);
  }
  return static_cast<int>(std::min<int64_t>(timeout, INT_MAX));
}

void UserBackend::Impl::run_timers() {
  // Rescan after every callback: a callback may re-arm or free timers.
  for (;;) {
    int64_t now_ms = monotonic_ns() / 1'000'000;
    auto due = std::find_if(timers_.begin(), timers_.end(), [now_ms](const auto& t) {
      return t->expire_ms >= 0 && t->expire_ms <= now_ms;
    });
    if (due == timers_.end()) return;
    Timer& t = **due;
    t.expire_ms = -1;
    if (t.cb != nullptr) {
      t.cb(t.cb_opaque);
    } else {
      slirp_handle_timer(slirp_, t.id, t.cb_opaque);
    }
  }
}

void UserBackend::Impl::run() {
  // Signals go to the monitor's other threads. SIGPIPE in particular: slirp writes to
  // forwarded sockets with plain send(), and a peer that closed must yield EPIPE here,
  // not kill the monitor. (A blocked thread-directed SIGPIPE just stays pending.)
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  running_.store(true);
  running_.notify_one();

  while (!stop_.load()) {
    pollfds_.clear();
    pollfds_.push_back({wake_fd_, POLLIN, 0});
    uint32_t slirp_timeout_ms = UINT32_MAX;
    slirp_pollfds_fill(slirp_, &slirp_timeout_ms, on_add_poll, this);
    int ready = poll(pollfds_.data(), pollfds_.size(), next_timeout_ms(slirp_timeout_ms));
    if (ready < 0) {
      for (pollfd& p : pollfds_) p.revents = 0;  // undefined after a failed poll
    }
    // Clear the wake-up before draining: a send() after this point signals again.
    if (pollfds_[0].revents & POLLIN) clear_event(wake_fd_);
    // Guest frames first: slirp_pollfds_poll ends by flushing slirp's output queue, so
    // e.g. packets held for an ARP answer that just came in leave in this same turn.
    // Bounded by the queue size, so sockets are polled again after at most 256 frames.
    // (Sockets slirp creates or frees here are skipped by the poll below: their poll
    // index is unset or they are gone from its list.)
    for (auto frame = to_slirp_.front(); frame; frame = to_slirp_.front()) {
      slirp_input(slirp_, frame->data(), static_cast<int>(frame->size()));
      to_slirp_.pop();
    }
    // Always called, also on a timeout: slirp runs its TCP timers from here.
    slirp_pollfds_poll(slirp_, ready < 0, on_get_revents, this);
    run_timers();
  }
}

UserBackend::UserBackend() = default;
UserBackend::~UserBackend() = default;

NetBackendResult UserBackend::create(const host::NetAttachment& attachment) {
  std::unique_ptr<UserBackend> backend(new UserBackend());
  backend->impl_ = std::make_unique<Impl>("--net:" + attachment.name + "=user", backend->counters_);
  std::string error = backend->impl_->start(attachment);
  if (!error.empty()) return {nullptr, error};
  return {std::move(backend), ""};
}

void UserBackend::send(std::span<const uint8_t> frame) {
  if (frame.size() < kNetMinFrame) return counters_.drop(NetDrop::kSendTooShort);
  if (frame.size() > kNetMaxFrame) return counters_.drop(NetDrop::kSendTooLarge);
  switch (impl_->to_slirp_.push(frame)) {
    case FrameQueue::Push::kFull:
      return counters_.drop(NetDrop::kSendQueueFull);
    case FrameQueue::Push::kPushedIntoEmpty:
      signal_event(impl_->wake_fd_);
      break;
    case FrameQueue::Push::kPushed:
      break;
  }
  counters_.sent(frame.size());
}

size_t UserBackend::recv(std::span<uint8_t> buf) {
  FrameQueue& queue = impl_->to_guest_;
  for (;;) {
    std::optional<std::span<const uint8_t>> frame = queue.front();
    if (!frame) {
      // Keep wait_fd level-triggered: clear it only when the queue is seen empty, then
      // look once more, since a frame pushed just before the clear had its wake-up
      // eaten by it. If one is there, re-arm the fd and deliver it.
      clear_event(impl_->ready_fd_);
      frame = queue.front();
      if (!frame) return 0;
      signal_event(impl_->ready_fd_);
    }
    size_t len = frame->size();
    if (len > buf.size()) {
      counters_.drop(NetDrop::kRecvTooLarge);
      queue.pop();
      continue;
    }
    std::memcpy(buf.data(), frame->data(), len);
    queue.pop();
    counters_.received(len);
    return len;
  }
}

int UserBackend::wait_fd() const {
  return impl_->ready_fd_;
}

}  // namespace morgana::tender
