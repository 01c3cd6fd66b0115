// Network and block devices of an hvt image: looked up by manifest name in the boot
// info, operated through monitor calls (the plain path of DESIGN.md §4).
#include <cstdlib>
#include <cstring>

#include "morgana/platform/platform.h"
#include "platform/hvt/call.h"

namespace morgana::platform {
namespace {

// The boot info's device with this name and type, or nullptr.
const abi::DeviceInfo* find(std::string_view name, abi::DeviceType type, DeviceId* id) {
  const abi::BootInfo& info = hvt::boot_info();
  for (uint32_t i = 0; i < info.device_count && i < abi::kMaxDevices; ++i) {
    const abi::DeviceInfo& d = info.devices[i];
    if (d.type == static_cast<uint32_t>(type) &&
        name == std::string_view(d.name, strnlen(d.name, sizeof d.name))) {
      *id = i;
      return &d;
    }
  }
  return nullptr;
}

// Per device: its NetRing when it uses the fast path, else nullptr; set at first open.
abi::NetRing* g_rings[abi::kMaxDevices];
bool g_opened[abi::kMaxDevices];
uint64_t g_last_activity_ns;

void kick_if_sleeping(abi::NetRing& ring) {
  // Pairs with the I/O thread's "set io_sleeping, then re-check": our store to a queue
  // index must be visible before we read its flag.
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  if (__atomic_load_n(&ring.io_sleeping, __ATOMIC_RELAXED)) {
    // The ioeventfd on this port takes the write in the kernel; no argument struct.
    asm volatile("outl %0, %1"
                 :
                 : "a"(0u), "Nd"(static_cast<uint16_t>(abi::kCallPortBase +
                                                       static_cast<uint16_t>(abi::Call::kNetKick)))
                 : "memory");
  }
}

abi::NetRing* setup_ring(DeviceId id) {
  void* memory = aligned_alloc(abi::kPageSize, sizeof(abi::NetRing));
  if (!memory) return nullptr;
  std::memset(memory, 0, sizeof(abi::NetRing));
  abi::NetRingSetupArgs args{id, 0, reinterpret_cast<uintptr_t>(memory)};
  hvt::call(abi::Call::kNetRingSetup, &args);
  if (args.status != 0) {
    free(memory);
    return nullptr;
  }
  return static_cast<abi::NetRing*>(memory);
}

Error status_error(int32_t status) {
  switch (static_cast<abi::CallStatus>(status)) {
    case abi::CallStatus::kAgain:
      return {Errc::kAgain, "no frame pending"};
    case abi::CallStatus::kInvalid:
      return {Errc::kInvalidArgument, "the monitor refused the request"};
    case abi::CallStatus::kUnsupported:
      return {Errc::kUnsupported, "not supported by the monitor"};
    default:
      return {Errc::kIo, "host I/O error"};
  }
}

}  // namespace

Result<NetDevice> NetDevice::open(std::string_view name, NetPath path) {
  DeviceId id;
  const abi::DeviceInfo* d = find(name, abi::DeviceType::kNet, &id);
  if (!d) return Error{Errc::kNotFound, "no network device of that name in the manifest"};
  if (!g_opened[id]) {
    g_opened[id] = true;
    // A monitor without rings answers kUnsupported and the device stays on calls.
    if (path == NetPath::kRings) g_rings[id] = setup_ring(id);
  }
  MacAddress mac;
  std::memcpy(mac.data(), d->net.mac, mac.size());
  return NetDevice(id, mac, d->net.mtu);
}

Result<void> NetDevice::write(std::span<const uint8_t> frame) {
  if (frame.size() > mtu_ + 14u) return Error{Errc::kInvalidArgument, "frame larger than the MTU"};
  if (abi::NetRing* ring = g_rings[id_]) {
    uint32_t head = ring->tx.head;  // only the guest writes tx.head
    if (head - __atomic_load_n(&ring->tx.tail, __ATOMIC_ACQUIRE) >= abi::kNetRingSlots) {
      kick_if_sleeping(*ring);
      return Error{Errc::kAgain, "transmit ring full"};
    }
    abi::NetSlot& slot = ring->tx.slots[head % abi::kNetRingSlots];
    std::memcpy(slot.data, frame.data(), frame.size());
    slot.len = static_cast<uint32_t>(frame.size());
    __atomic_store_n(&ring->tx.head, head + 1, __ATOMIC_RELEASE);
    kick_if_sleeping(*ring);
    g_last_activity_ns = monotonic_ns();
    return ok();
  }
  abi::NetIoArgs args{id_, 0, reinterpret_cast<uintptr_t>(frame.data()), frame.size()};
  hvt::call(abi::Call::kNetWrite, &args);
  if (args.status != 0) return status_error(args.status);
  return ok();
}

Result<size_t> NetDevice::read(std::span<uint8_t> buffer) {
  if (abi::NetRing* ring = g_rings[id_]) {
    uint32_t tail = ring->rx.tail;  // only the guest writes rx.tail
    uint32_t head = __atomic_load_n(&ring->rx.head, __ATOMIC_ACQUIRE);
    if (head == tail) return Error{Errc::kAgain, "no frame pending"};
    const abi::NetSlot& slot = ring->rx.slots[tail % abi::kNetRingSlots];
    size_t len = slot.len;
    bool fits = len <= buffer.size() && len <= sizeof slot.data;
    if (fits) std::memcpy(buffer.data(), slot.data, len);
    __atomic_store_n(&ring->rx.tail, tail + 1, __ATOMIC_RELEASE);
    g_last_activity_ns = monotonic_ns();
    // A full queue may have stopped the I/O thread from reading the backend.
    if (head - tail == abi::kNetRingSlots) kick_if_sleeping(*ring);
    if (!fits) return Error{Errc::kInvalidArgument, "frame larger than the buffer; dropped"};
    return len;
  }
  abi::NetIoArgs args{id_, 0, reinterpret_cast<uintptr_t>(buffer.data()), buffer.size()};
  hvt::call(abi::Call::kNetRead, &args);
  if (args.status != 0) return status_error(args.status);
  return static_cast<size_t>(args.len);
}

Result<BlockDevice> BlockDevice::open(std::string_view name) {
  DeviceId id;
  const abi::DeviceInfo* d = find(name, abi::DeviceType::kBlock, &id);
  if (!d) return Error{Errc::kNotFound, "no block device of that name in the manifest"};
  return BlockDevice(id, d->block.capacity, d->block.block_size, d->block.read_only != 0);
}

namespace {

// Splits a transfer into calls of at most abi::kMaxBlockIo bytes.
Result<void> block_io(abi::Call which, DeviceId id, uint64_t offset, uint8_t* data, size_t len,
                      uint64_t capacity, uint32_t block_size) {
  if (offset % block_size || len % block_size)
    return Error{Errc::kInvalidArgument, "offset and length must be multiples of the block size"};
  if (offset > capacity || len > capacity - offset)
    return Error{Errc::kOutOfRange, "beyond the end of the device"};
  while (len > 0) {
    size_t n = len < abi::kMaxBlockIo ? len : abi::kMaxBlockIo;
    abi::BlockIoArgs args{id, 0, offset, reinterpret_cast<uintptr_t>(data), n};
    hvt::call(which, &args);
    if (args.status != 0) return status_error(args.status);
    offset += n;
    data += n;
    len -= n;
  }
  return ok();
}

}  // namespace

Result<void> BlockDevice::read(uint64_t offset, std::span<uint8_t> buffer) {
  return block_io(abi::Call::kBlockRead, id_, offset, buffer.data(), buffer.size(), capacity_,
                  block_size_);
}

Result<void> BlockDevice::write(uint64_t offset, std::span<const uint8_t> data) {
  if (read_only_) return Error{Errc::kReadOnly, "the block device is attached read-only"};
  return block_io(abi::Call::kBlockWrite, id_, offset, const_cast<uint8_t*>(data.data()),
                  data.size(), capacity_, block_size_);
}

Result<void> BlockDevice::flush() {
  abi::BlockFlushArgs args{id_, 0};
  hvt::call(abi::Call::kBlockFlush, &args);
  if (args.status != 0) return status_error(args.status);
  return ok();
}

namespace hvt {

ReadySet rings_pending() {
  ReadySet ready = 0;
  for (uint32_t i = 0; i < abi::kMaxDevices; ++i) {
    const abi::NetRing* ring = g_rings[i];
    if (ring != nullptr && __atomic_load_n(&ring->rx.head, __ATOMIC_ACQUIRE) != ring->rx.tail)
      ready |= ReadySet{1} << i;
  }
  return ready;
}

uint64_t last_ring_activity_ns() {
  return g_last_activity_ns;
}

}  // namespace hvt

}  // namespace morgana::platform
