// The monitor's I/O thread (DESIGN.md §4 "fast path"): while the vCPU runs, it moves
// frames between each device's shared-memory NetRing and its host backend, and drains
// the console ring, so neither a frame nor a line of output costs the guest an exit.
// The guest kicks it (an ioeventfd, handled in the kernel) only when it sleeps.
#pragma once

#include <poll.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "platform/abi/hvt_abi.h"
#include "tender/calls.h"
#include "tender/console.h"
#include "tender/guest_memory.h"

namespace morgana::tender {

class IoThread {
 public:
  // Starts the thread. `vm_fd` is used to route the kick port to an eventfd in the
  // kernel (KVM_IOEVENTFD); without it kicks arrive as exits and go to kick().
  // `shared_cpu`: the monitor runs on one CPU (abi::kBootFlagSharedCpu), so this thread
  // can only run while the vCPU thread sleeps: the vCPU thread then waits on the host
  // backends itself in yield and serves the rings (serve_now()), sparing a hand-off
  // between the two threads per wake-up, and this thread serves only kicks (a full
  // transmit ring) and the console.
  static std::unique_ptr<IoThread> start(const GuestMemory& memory, ConsoleDrain& console,
                                         std::vector<AttachedDevice>& devices, int vm_fd,
                                         bool shared_cpu, std::string& error);
  ~IoThread();  // stops and joins the thread

  // kNetRingSetup from the vCPU thread: validates the ring's placement, turns on the
  // offloads of `*offloads` (abi::kNetRingOffload*) that the backend can do (and sets
  // *offloads to them), and starts serving it. Returns "" or why the request is hostile.
  std::string setup_ring(uint32_t handle, uint64_t gpa, uint32_t* offloads);
  bool has_ring(uint32_t handle) const { return rings_[handle].load(std::memory_order_acquire); }

  // Devices whose rx queue holds frames (bit i = device i).
  uint64_t rx_ready() const;
  // From the vCPU thread in yield: serves every ring at once (frames the guest queued
  // leave, waiting host frames enter) and returns rx_ready(). The guest yields when it
  // has nothing left to do, so this is the moment its rings need service; doing it here
  // spares a wake-up of this thread and, when both threads share one CPU, the two
  // context switches around it.
  uint64_t serve_now();
  bool shared_cpu() const { return shared_cpu_; }
  // When a ring last moved a frame either way (host_monotonic_ns(); 0: never).
  uint64_t last_traffic_ns() const { return last_traffic_ns_.load(std::memory_order_relaxed); }
  // When a bulk frame, of kBulkFrameBytes or more (a TSO or GRO frame), last moved either
  // way (0: never): a bulk transfer's ACKs and requests are small, the data is not.
  static constexpr uint32_t kBulkFrameBytes = 8192;
  uint64_t last_bulk_ns() const { return last_bulk_ns_.load(std::memory_order_relaxed); }
  // Appends a POLLIN entry for the backend of every ring with room for what it would
  // deliver (a backend whose frames cannot be taken would wake the poller for nothing).
  void add_backend_fds(pollfd* fds, nfds_t& n) const;
  // Readable after the thread published rx frames while wait_begin() was in force.
  int notify_fd() const { return notify_fd_; }
  void wait_begin();
  void wait_end();

  // A kick that arrived as an exit (no ioeventfd).
  void kick();
  // Kicks the guest made so far (through the ioeventfd or as exits), for --stats: each is
  // a VM exit on kvm-pvm even when the kernel handles it (DESIGN.md §4a).
  uint64_t kicks() const;

  // Set when the guest broke a ring's invariants; the vCPU thread ends it as hostile.
  std::string error() const;

 private:
  IoThread(const GuestMemory& memory, ConsoleDrain& console, std::vector<AttachedDevice>& devices,
           bool shared_cpu)
      : memory_(memory), console_(console), devices_(devices), shared_cpu_(shared_cpu) {}
  void loop();
  bool serve_all();  // under serve_mutex_; true when it moved a frame
  // True when it moved a frame; raises *largest to the largest frame it moved.
  bool serve(uint32_t index, abi::NetRing& ring, uint32_t* largest);
  // Slots that must be free in a ring's rx queue before the next host frame is read.
  uint32_t rx_room_needed(uint32_t index) const;
  // Why a guest frame's offload metadata cannot go to the host ("" when it can).
  const char* check_offload(uint32_t index, const abi::NetDesc& desc) const;
  void fail(uint32_t index, const std::string& message);

  const GuestMemory& memory_;
  ConsoleDrain& console_;
  std::vector<AttachedDevice>& devices_;
  const bool shared_cpu_;
  std::atomic<abi::NetRing*> rings_[abi::kMaxDevices] = {};
  uint32_t ring_offloads_[abi::kMaxDevices] = {};  // set before the ring is published
  int kick_fd_ = -1;
  int notify_fd_ = -1;
  std::atomic<bool> vcpu_waiting_{false};
  // The kick eventfd's counter as the thread consumed it, and the signals the monitor
  // itself put there (ring setup): the difference is the guest's kicks.
  std::atomic<uint64_t> kick_signals_{0};
  std::atomic<uint64_t> own_signals_{0};
  std::atomic<bool> stop_{false};
  // serve() runs on this thread and, in serve_now(), on the vCPU thread: one at a time,
  // since each owns rx.head and tx.tail while it runs.
  std::mutex serve_mutex_;
  std::atomic<uint64_t> last_traffic_ns_{0};
  std::atomic<uint64_t> last_bulk_ns_{0};
  mutable std::mutex error_mutex_;
  std::string error_;
  std::thread thread_;
};

}  // namespace morgana::tender
