// The monitor's view of one host network attachment (DESIGN.md §4): a non-blocking
// Ethernet frame pipe plus an fd to poll. Implemented by net_tap.h and net_user.h.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "platform/abi/hvt_abi.h"

namespace morgana::tender {

// The guest's MTU on every backend, and the longest frame either direction carries:
// Ethernet header (14) + MTU + one 802.1Q tag (4). No FCS: neither side sees it.
inline constexpr size_t kNetMtu = 1500;
inline constexpr size_t kNetMaxFrame = 14 + kNetMtu + 4;
inline constexpr size_t kNetMinFrame = 14;  // an Ethernet header and nothing else

// Why a frame was dropped. Every drop goes through NetCounterCells::drop(reason).
enum class NetDrop : uint8_t {
  kSendTooShort,    // guest frame shorter than an Ethernet header
  kSendTooLarge,    // guest frame longer than kNetMaxFrame
  kSendQueueFull,   // the host side cannot take it now (tap EAGAIN, slirp queue full)
  kSendError,       // the host refused it (tap write error other than EAGAIN)
  kRecvTooLarge,    // host frame longer than the caller's buffer or kNetMaxFrame
  kRecvQueueFull,   // user: slirp produced a frame while the to-guest queue was full
  kRecvError,       // tap read error other than EAGAIN
  kSendBadOffload,  // guest offload metadata that is malformed or was not negotiated
  kRecvBadOffload,  // host metadata we never asked for (another GSO type)
  kCount
};

inline const char* net_drop_name(NetDrop reason) {
  switch (reason) {
    case NetDrop::kSendTooShort:
      return "send_too_short";
    case NetDrop::kSendTooLarge:
      return "send_too_large";
    case NetDrop::kSendQueueFull:
      return "send_queue_full";
    case NetDrop::kSendError:
      return "send_error";
    case NetDrop::kRecvTooLarge:
      return "recv_too_large";
    case NetDrop::kRecvQueueFull:
      return "recv_queue_full";
    case NetDrop::kRecvError:
      return "recv_error";
    case NetDrop::kSendBadOffload:
      return "send_bad_offload";
    case NetDrop::kRecvBadOffload:
      return "recv_bad_offload";
    case NetDrop::kCount:
      break;
  }
  return "?";
}

// A snapshot of a backend's traffic, for --stats. "in" is host → guest (recv()),
// "out" is guest → host (send()).
struct NetCounters {
  uint64_t frames_in = 0;
  uint64_t bytes_in = 0;
  uint64_t frames_out = 0;
  uint64_t bytes_out = 0;
  uint64_t gso_in = 0;   // frames carrying many TCP segments (GRO / TSO), host → guest
  uint64_t gso_out = 0;  // and guest → host
  std::array<uint64_t, static_cast<size_t>(NetDrop::kCount)> drops{};

  uint64_t dropped(NetDrop reason) const { return drops[static_cast<size_t>(reason)]; }
  uint64_t total_drops() const {
    uint64_t sum = 0;
    for (uint64_t d : drops) sum += d;
    return sum;
  }
};

// The live counters. Relaxed atomics: send() and recv() (and, for the user backend,
// the slirp thread) update them from different threads, and a snapshot needs no
// ordering with the frames themselves.
class NetCounterCells {
 public:
  void sent(size_t bytes) {
    frames_out_.fetch_add(1, std::memory_order_relaxed);
    bytes_out_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void received(size_t bytes) {
    frames_in_.fetch_add(1, std::memory_order_relaxed);
    bytes_in_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void gso_received() { gso_in_.fetch_add(1, std::memory_order_relaxed); }
  void gso_sent() { gso_out_.fetch_add(1, std::memory_order_relaxed); }
  void drop(NetDrop reason) {
    drops_[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  NetCounters snapshot() const {
    NetCounters c;
    c.frames_in = frames_in_.load(std::memory_order_relaxed);
    c.bytes_in = bytes_in_.load(std::memory_order_relaxed);
    c.frames_out = frames_out_.load(std::memory_order_relaxed);
    c.bytes_out = bytes_out_.load(std::memory_order_relaxed);
    c.gso_in = gso_in_.load(std::memory_order_relaxed);
    c.gso_out = gso_out_.load(std::memory_order_relaxed);
    for (size_t i = 0; i < drops_.size(); ++i)
      c.drops[i] = drops_[i].load(std::memory_order_relaxed);
    return c;
  }

 private:
  std::atomic<uint64_t> frames_in_{0}, bytes_in_{0}, frames_out_{0}, bytes_out_{0};
  std::atomic<uint64_t> gso_in_{0}, gso_out_{0};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(NetDrop::kCount)> drops_{};
};

// One attached network device. The backend is chosen at run time by the command line
// (`--net:NAME=tap:...` or `--net:NAME=user...`), so this is the one place in the
// monitor where virtual dispatch is the right tool.
//
// Threading: send() may be called from one thread at a time and recv() from one
// thread at a time (they may be two different threads, e.g. a vCPU and an I/O thread).
// Neither ever blocks. The guest's MAC address is chosen by the monitor, not here.
class NetBackend {
 public:
  virtual ~NetBackend() = default;
  NetBackend(const NetBackend&) = delete;
  NetBackend& operator=(const NetBackend&) = delete;

  // Queues one Ethernet frame (no FCS) towards the host. A frame that cannot be
  // queued now, or is malformed, is dropped and counted; the guest's TCP recovers.
  virtual void send(std::span<const uint8_t> frame) = 0;

  // Copies the next frame from the host into `buf` and returns its length, or 0 when
  // there is none now. A frame longer than `buf` is dropped and counted, and the next
  // one is tried.
  virtual size_t recv(std::span<uint8_t> buf) = 0;

  // Readable (level-triggered) whenever recv() may return a frame: poll it, then call
  // recv() until it returns 0. Owned by the backend; valid for its lifetime.
  virtual int wait_fd() const = 0;

  // Offloads (abi::kNetRingOffload*) the backend can do: a tap does checksums and TSO,
  // user networking none. enable_offloads() turns on a subset for the guest's ring
  // (false when the host refuses: then none are on); from then on frames travel with
  // virtio_net_hdr metadata through the *_offloaded calls, which the caller has checked
  // (send: io_thread's validation; lengths up to abi::kNetMaxOffloadFrame).
  virtual uint32_t offloads() const { return 0; }
  virtual bool enable_offloads(uint32_t offloads) { return offloads == 0; }
  virtual void send_offloaded(std::span<const uint8_t> frame, const abi::VirtioNetHeader& vnet) {
    (void)vnet;
    send(frame);
  }
  virtual size_t recv_offloaded(std::span<uint8_t> buf, abi::VirtioNetHeader& vnet) {
    vnet = {};
    return recv(buf);
  }

  size_t mtu() const { return kNetMtu; }
  NetCounters counters() const { return counters_.snapshot(); }
  // A frame the caller dropped before it reached the backend (bad guest metadata).
  void note_drop(NetDrop reason) { counters_.drop(reason); }

 protected:
  NetBackend() = default;
  NetCounterCells counters_;
};

// What a backend factory returns: the backend, or a one-line message naming the
// attachment as the user wrote it ("--net:service=tap:tap0: cannot attach: ...").
struct NetBackendResult {
  std::unique_ptr<NetBackend> backend;
  std::string error;

  explicit operator bool() const { return backend != nullptr; }
};

}  // namespace morgana::tender
