// The I/O thread: serves NetRings and the console ring while the vCPU runs. Every index
// and length it reads from shared memory is the guest's and is checked before use; a
// ring whose indices are impossible stops being served and the guest is ended.
#include "tender/io_thread.h"

#include <errno.h>
#include <linux/kvm.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>

namespace morgana::tender {
namespace {

// While the guest is busy and never exits, its console output still appears this often.
constexpr int kConsolePollMs = 20;

void signal_fd(int fd) {
  uint64_t one = 1;
  ssize_t n = write(fd, &one, sizeof one);
  (void)n;  // an eventfd that is already signalled stays signalled
}

void clear_fd(int fd) {
  uint64_t value;
  ssize_t n = read(fd, &value, sizeof value);
  (void)n;
}

}  // namespace

std::unique_ptr<IoThread> IoThread::start(const GuestMemory& memory, ConsoleDrain& console,
                                          std::vector<AttachedDevice>& devices, int vm_fd,
                                          std::string& error) {
  std::unique_ptr<IoThread> io(new IoThread(memory, console, devices));
  io->kick_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  io->notify_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (io->kick_fd_ < 0 || io->notify_fd_ < 0) {
    error = std::string("eventfd: ") + std::strerror(errno);
    return nullptr;
  }
  // The kick port becomes an in-kernel eventfd signal: ~30 µs instead of a full exit to
  // this process (DESIGN.md §4a). Without it, kicks are exits handled by kick(). Only
  // images with a network device can kick, and a registered ioeventfd makes KVM's VM
  // teardown wait 12-18 ms for an SRCU grace period (measured on kvm-pvm, 2026-11-26),
  // which would dominate a short image's exec-to-exit time: register it only for them.
  bool has_net = false;
  for (const AttachedDevice& d : devices) has_net |= d.net != nullptr;
  if (has_net) {
    kvm_ioeventfd kick{};
    kick.addr = abi::kCallPortBase + static_cast<uint16_t>(abi::Call::kNetKick);
    kick.len = 4;
    kick.fd = io->kick_fd_;
    kick.flags = KVM_IOEVENTFD_FLAG_PIO;
    (void)ioctl(vm_fd, KVM_IOEVENTFD, &kick);
  }
  // Wait until the thread runs: glibc's thread start-up makes system calls (rseq,
  // set_robust_list) that must not race with the seccomp filter installed next.
  // (A condition variable, not atomic::wait: libstdc++'s spins with sched_yield first,
  // which cost milliseconds of boot time on two busy cores.)
  std::mutex mutex;
  std::condition_variable cv;
  bool started = false;
  io->thread_ = std::thread([raw = io.get(), &mutex, &cv, &started] {
    {
      std::lock_guard lock(mutex);
      started = true;
    }
    cv.notify_one();
    raw->loop();
  });
  std::unique_lock lock(mutex);
  cv.wait(lock, [&] { return started; });
  return io;
}

IoThread::~IoThread() {
  stop_.store(true);
  if (kick_fd_ >= 0) signal_fd(kick_fd_);
  if (thread_.joinable()) thread_.join();
  // Frames the guest queued just before it halted still leave.
  for (uint32_t i = 0; i < abi::kMaxDevices; ++i)
    if (abi::NetRing* ring = rings_[i].load(std::memory_order_acquire)) serve(i, *ring);
  if (kick_fd_ >= 0) close(kick_fd_);
  if (notify_fd_ >= 0) close(notify_fd_);
}

std::string IoThread::setup_ring(uint32_t handle, uint64_t gpa) {
  if (handle >= devices_.size() || !devices_[handle].net)
    return "net_ring_setup: handle " + std::to_string(handle) + " is not a network device";
  if (has_ring(handle))
    return "net_ring_setup: device " + std::to_string(handle) + " already has a ring";
  if (gpa % abi::kPageSize || gpa < abi::kImageBase)
    return "net_ring_setup: ring address " + std::to_string(gpa) +
           " is not a page-aligned image address";
  auto bytes = memory_.range(gpa, sizeof(abi::NetRing));
  if (!bytes) return "net_ring_setup: ring at " + std::to_string(gpa) + " is outside guest memory";
  auto* ring = reinterpret_cast<abi::NetRing*>(bytes->data());
  // The monitor owns rx.head and tx.tail from now on; start them where the guest's are.
  __atomic_store_n(&ring->rx.head, __atomic_load_n(&ring->rx.tail, __ATOMIC_ACQUIRE),
                   __ATOMIC_RELEASE);
  __atomic_store_n(&ring->tx.tail, __atomic_load_n(&ring->tx.head, __ATOMIC_ACQUIRE),
                   __ATOMIC_RELEASE);
  rings_[handle].store(ring, std::memory_order_release);
  signal_fd(kick_fd_);
  return "";
}

uint64_t IoThread::rx_ready() const {
  uint64_t ready = 0;
  for (uint32_t i = 0; i < abi::kMaxDevices; ++i) {
    abi::NetRing* ring = rings_[i].load(std::memory_order_acquire);
    if (ring && __atomic_load_n(&ring->rx.head, __ATOMIC_ACQUIRE) !=
                    __atomic_load_n(&ring->rx.tail, __ATOMIC_ACQUIRE))
      ready |= uint64_t{1} << i;
  }
  return ready;
}

void IoThread::wait_begin() {
  clear_fd(notify_fd_);
  vcpu_waiting_.store(true, std::memory_order_seq_cst);
}

void IoThread::wait_end() {
  vcpu_waiting_.store(false, std::memory_order_seq_cst);
}

void IoThread::kick() {
  signal_fd(kick_fd_);
}

std::string IoThread::error() const {
  std::lock_guard lock(error_mutex_);
  return error_;
}

void IoThread::fail(uint32_t index, const std::string& message) {
  rings_[index].store(nullptr, std::memory_order_release);
  std::lock_guard lock(error_mutex_);
  if (error_.empty()) error_ = message;
  signal_fd(notify_fd_);  // wakes a vCPU thread waiting in yield so it reports it
}

bool IoThread::serve(uint32_t index, abi::NetRing& ring) {
  NetBackend& backend = *devices_[index].net;
  bool moved = false;

  // Guest -> host.
  uint32_t head = __atomic_load_n(&ring.tx.head, __ATOMIC_ACQUIRE);
  uint32_t tail = __atomic_load_n(&ring.tx.tail, __ATOMIC_RELAXED);
  if (head - tail > abi::kNetRingSlots) {
    fail(index, "net ring " + std::to_string(index) + ": tx head " + std::to_string(head) +
                    " is more than a ring past tail " + std::to_string(tail));
    return false;
  }
  while (tail != head) {
    abi::NetSlot& slot = ring.tx.slots[tail % abi::kNetRingSlots];
    uint32_t len = __atomic_load_n(&slot.len, __ATOMIC_RELAXED);  // read once
    if (len >= 14 && len <= 14 + kNetMtu) backend.send(std::span<const uint8_t>(slot.data, len));
    ++tail;
    moved = true;
  }
  __atomic_store_n(&ring.tx.tail, tail, __ATOMIC_RELEASE);

  // Host -> guest, while the rx queue has room.
  uint32_t rx_head = __atomic_load_n(&ring.rx.head, __ATOMIC_RELAXED);
  uint32_t rx_tail = __atomic_load_n(&ring.rx.tail, __ATOMIC_ACQUIRE);
  if (rx_head - rx_tail > abi::kNetRingSlots) {
    fail(index, "net ring " + std::to_string(index) + ": rx tail " + std::to_string(rx_tail) +
                    " is ahead of head " + std::to_string(rx_head));
    return false;
  }
  bool produced = false;
  while (rx_head - rx_tail < abi::kNetRingSlots) {
    abi::NetSlot& slot = ring.rx.slots[rx_head % abi::kNetRingSlots];
    size_t n = backend.recv(std::span<uint8_t>(slot.data, sizeof slot.data));
    if (n == 0) break;
    __atomic_store_n(&slot.len, static_cast<uint32_t>(n), __ATOMIC_RELAXED);
    ++rx_head;
    __atomic_store_n(&ring.rx.head, rx_head, __ATOMIC_RELEASE);
    produced = true;
  }
  if (produced && vcpu_waiting_.load(std::memory_order_seq_cst)) signal_fd(notify_fd_);
  return moved || produced;
}

void IoThread::loop() {
  while (!stop_.load()) {
    bool work = false;
    for (uint32_t i = 0; i < abi::kMaxDevices; ++i)
      if (abi::NetRing* ring = rings_[i].load(std::memory_order_acquire)) work |= serve(i, *ring);
    if (std::string e = console_.drain(); !e.empty()) {
      std::lock_guard lock(error_mutex_);
      if (error_.empty()) error_ = e;
    }
    if (work) continue;

    // About to sleep: announce it, then look once more, so a guest that published a
    // frame just before reading io_sleeping == 0 is not left waiting (Dekker-style;
    // the guest fences between its head store and its io_sleeping load).
    pollfd fds[abi::kMaxDevices + 1];
    nfds_t n = 0;
    fds[n++] = pollfd{kick_fd_, POLLIN, 0};
    bool pending = false;
    for (uint32_t i = 0; i < abi::kMaxDevices; ++i) {
      abi::NetRing* ring = rings_[i].load(std::memory_order_acquire);
      if (!ring) continue;
      __atomic_store_n(&ring->io_sleeping, 1u, __ATOMIC_SEQ_CST);
      if (__atomic_load_n(&ring->tx.head, __ATOMIC_SEQ_CST) !=
          __atomic_load_n(&ring->tx.tail, __ATOMIC_RELAXED))
        pending = true;
      // Watch the backend only while the guest has room for what it would deliver.
      uint32_t used = __atomic_load_n(&ring->rx.head, __ATOMIC_RELAXED) -
                      __atomic_load_n(&ring->rx.tail, __ATOMIC_ACQUIRE);
      if (used < abi::kNetRingSlots) fds[n++] = pollfd{devices_[i].net->wait_fd(), POLLIN, 0};
    }
    if (!pending) {
      int rc = poll(fds, n, kConsolePollMs);
      if (rc > 0 && (fds[0].revents & POLLIN)) clear_fd(kick_fd_);
    }
    for (uint32_t i = 0; i < abi::kMaxDevices; ++i)
      if (abi::NetRing* ring = rings_[i].load(std::memory_order_acquire))
        __atomic_store_n(&ring->io_sleeping, 0u, __ATOMIC_SEQ_CST);
  }
}

}  // namespace morgana::tender
