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

#include <algorithm>
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

// Returns the eventfd's counter (how many signals it took since the last read), 0 when
// it was not signalled.
uint64_t clear_fd(int fd) {
  uint64_t value = 0;
  ssize_t n = read(fd, &value, sizeof value);
  return n == sizeof value ? value : 0;
}

}  // namespace

std::unique_ptr<IoThread> IoThread::start(const GuestMemory& memory, ConsoleDrain& console,
                                          std::vector<AttachedDevice>& devices, int vm_fd,
                                          bool shared_cpu, std::string& error) {
  std::unique_ptr<IoThread> io(new IoThread(memory, console, devices, shared_cpu));
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
  serve_all();
  if (kick_fd_ >= 0) close(kick_fd_);
  if (notify_fd_ >= 0) close(notify_fd_);
}

std::string IoThread::setup_ring(uint32_t handle, uint64_t gpa, uint32_t* offloads) {
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
  // TSO only with checksum offload (the tap refuses it alone); a host that refuses
  // leaves the ring without offloads.
  NetBackend& backend = *devices_[handle].net;
  uint32_t wanted = *offloads & backend.offloads();
  if (!(wanted & abi::kNetRingOffloadChecksum)) wanted = 0;
  if (!backend.enable_offloads(wanted)) wanted = 0;
  *offloads = wanted;
  ring_offloads_[handle] = wanted;
  // The monitor owns rx.head and tx.tail from now on; start them where the guest's are.
  __atomic_store_n(&ring->rx.head, __atomic_load_n(&ring->rx.tail, __ATOMIC_ACQUIRE),
                   __ATOMIC_RELEASE);
  __atomic_store_n(&ring->tx.tail, __atomic_load_n(&ring->tx.head, __ATOMIC_ACQUIRE),
                   __ATOMIC_RELEASE);
  rings_[handle].store(ring, std::memory_order_release);
  own_signals_.fetch_add(1, std::memory_order_relaxed);
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

uint64_t IoThread::serve_now() {
  serve_all();
  return rx_ready();
}

bool IoThread::serve_all() {
  std::lock_guard lock(serve_mutex_);
  bool work = false;
  uint32_t largest = 0;
  for (uint32_t i = 0; i < abi::kMaxDevices; ++i)
    if (abi::NetRing* ring = rings_[i].load(std::memory_order_acquire))
      work |= serve(i, *ring, &largest);
  if (work) {
    const uint64_t now = host_monotonic_ns();
    last_traffic_ns_.store(now, std::memory_order_relaxed);
    if (largest >= kBulkFrameBytes) last_bulk_ns_.store(now, std::memory_order_relaxed);
  }
  return work;
}

void IoThread::add_backend_fds(pollfd* fds, nfds_t& n) const {
  for (uint32_t i = 0; i < abi::kMaxDevices; ++i) {
    abi::NetRing* ring = rings_[i].load(std::memory_order_acquire);
    if (!ring) continue;
    uint32_t used = __atomic_load_n(&ring->rx.head, __ATOMIC_RELAXED) -
                    __atomic_load_n(&ring->rx.tail, __ATOMIC_ACQUIRE);
    if (abi::kNetRingSlots - used >= rx_room_needed(i))
      fds[n++] = pollfd{devices_[i].net->wait_fd(), POLLIN, 0};
  }
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

uint64_t IoThread::kicks() const {
  uint64_t signals = kick_signals_.load(std::memory_order_relaxed);
  uint64_t own = own_signals_.load(std::memory_order_relaxed);
  return signals > own ? signals - own : 0;
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

uint32_t IoThread::rx_room_needed(uint32_t index) const {
  // The largest frame the backend may deliver, plus a skip entry to place it unwrapped.
  return (ring_offloads_[index] & abi::kNetRingOffloadTso4) ? 2 * abi::kNetMaxFrameSlots : 1;
}

const char* IoThread::check_offload(uint32_t index, const abi::NetDesc& desc) const {
  const abi::VirtioNetHeader& v = desc.vnet;
  const uint32_t offloads = ring_offloads_[index];
  if (v.flags == 0 && v.gso_type == abi::kVirtioNetGsoNone)
    return desc.len <= kNetMaxFrame ? "" : "frame over the MTU without TSO";
  if (!(offloads & abi::kNetRingOffloadChecksum)) return "offload metadata on a ring without";
  if (v.flags != abi::kVirtioNetNeedsCsum) return "flags other than NEEDS_CSUM";
  if (uint32_t{v.csum_start} + v.csum_offset + 2 > desc.len) return "checksum past the frame";
  if (v.gso_type == abi::kVirtioNetGsoNone)
    return desc.len <= kNetMaxFrame ? "" : "frame over the MTU without TSO";
  if (v.gso_type != abi::kVirtioNetGsoTcpv4 || !(offloads & abi::kNetRingOffloadTso4))
    return "a GSO type not negotiated";
  if (v.gso_size == 0 || v.hdr_len > desc.len) return "bad gso_size or hdr_len";
  return "";
}

bool IoThread::serve(uint32_t index, abi::NetRing& ring, uint32_t* largest) {
  NetBackend& backend = *devices_[index].net;
  const bool offloading = ring_offloads_[index] != 0;
  bool moved = false;

  // Guest -> host. Every descriptor field is read once (the guest may change it under
  // us) and checked before its frame is touched.
  uint32_t head = __atomic_load_n(&ring.tx.head, __ATOMIC_ACQUIRE);
  uint32_t tail = __atomic_load_n(&ring.tx.tail, __ATOMIC_RELAXED);
  if (head - tail > abi::kNetRingSlots) {
    fail(index, "net ring " + std::to_string(index) + ": tx head " + std::to_string(head) +
                    " is more than a ring past tail " + std::to_string(tail));
    return false;
  }
  while (tail != head) {
    const uint32_t at = tail % abi::kNetRingSlots;
    abi::NetDesc desc;
    std::memcpy(&desc, &ring.tx.desc[at], sizeof desc);  // one read of the guest's entry
    const uint32_t slots = desc.slots;
    // Structure: an entry covers at least one slot, within what the guest published,
    // without wrapping, and a frame fits the slots it claims.
    if (slots == 0 || slots > head - tail || at + slots > abi::kNetRingSlots ||
        (desc.len != 0 && abi::net_frame_slots(desc.len) != slots)) {
      fail(index, "net ring " + std::to_string(index) + ": tx entry at " + std::to_string(tail) +
                      " (len " + std::to_string(desc.len) + ", slots " + std::to_string(slots) +
                      ") does not fit the ring");
      return false;
    }
    if (desc.len != 0) {
      *largest = std::max(*largest, desc.len);
      std::span<const uint8_t> frame(ring.tx.data[at], desc.len);
      if (!offloading) {
        if (desc.len >= kNetMinFrame && desc.len <= kNetMaxFrame) backend.send(frame);
      } else if (const char* why = check_offload(index, desc); *why != '\0') {
        backend.note_drop(NetDrop::kSendBadOffload);
      } else {
        backend.send_offloaded(frame, desc.vnet);
      }
    }
    tail += slots;
    moved = true;
  }
  __atomic_store_n(&ring.tx.tail, tail, __ATOMIC_RELEASE);

  // Host -> guest, while the rx queue has room for the largest frame the host may send.
  uint32_t rx_head = __atomic_load_n(&ring.rx.head, __ATOMIC_RELAXED);
  uint32_t rx_tail = __atomic_load_n(&ring.rx.tail, __ATOMIC_ACQUIRE);
  if (rx_head - rx_tail > abi::kNetRingSlots) {
    fail(index, "net ring " + std::to_string(index) + ": rx tail " + std::to_string(rx_tail) +
                    " is ahead of head " + std::to_string(rx_head));
    return false;
  }
  const uint32_t room = rx_room_needed(index);
  const size_t capacity = offloading ? abi::kNetMaxOffloadFrame : kNetMaxFrame;
  const uint32_t needed_slots = abi::net_frame_slots(static_cast<uint32_t>(capacity));
  bool produced = false;
  while (abi::kNetRingSlots - (rx_head - rx_tail) >= room) {
    uint32_t at = rx_head % abi::kNetRingSlots;
    uint32_t skip = 0;
    if (abi::kNetRingSlots - at < needed_slots) {
      skip = abi::kNetRingSlots - at;  // the frame goes to slot 0
      at = 0;
    }
    abi::VirtioNetHeader vnet{};
    std::span<uint8_t> buf(ring.rx.data[at], size_t{needed_slots} * abi::kNetSlotSize);
    size_t n = offloading ? backend.recv_offloaded(buf.first(capacity), vnet)
                          : backend.recv(buf.first(capacity));
    if (n == 0) break;
    *largest = std::max(*largest, static_cast<uint32_t>(n));
    if (skip != 0) {
      ring.rx.desc[rx_head % abi::kNetRingSlots] =
          abi::NetDesc{0, static_cast<uint16_t>(skip), 0, {}, 0, 0};
      rx_head += skip;
    }
    const uint32_t slots = abi::net_frame_slots(static_cast<uint32_t>(n));
    ring.rx.desc[at] =
        abi::NetDesc{static_cast<uint32_t>(n), static_cast<uint16_t>(slots), 0, vnet, 0, 0};
    rx_head += slots;
    __atomic_store_n(&ring.rx.head, rx_head, __ATOMIC_RELEASE);
    produced = true;
  }
  if (produced && vcpu_waiting_.load(std::memory_order_seq_cst)) signal_fd(notify_fd_);
  return moved || produced;
}

void IoThread::loop() {
  while (!stop_.load()) {
    bool work = serve_all();
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
    }
    // On a shared CPU the vCPU thread waits on the backends (see start()).
    if (!shared_cpu_) add_backend_fds(fds, n);
    if (!pending) {
      int rc = poll(fds, n, kConsolePollMs);
      if (rc > 0 && (fds[0].revents & POLLIN))
        kick_signals_.fetch_add(clear_fd(kick_fd_), std::memory_order_relaxed);
    }
    for (uint32_t i = 0; i < abi::kMaxDevices; ++i)
      if (abi::NetRing* ring = rings_[i].load(std::memory_order_acquire))
        __atomic_store_n(&ring->io_sleeping, 0u, __ATOMIC_SEQ_CST);
  }
}

}  // namespace morgana::tender
