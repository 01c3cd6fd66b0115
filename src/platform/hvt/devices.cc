// Network and block devices of an hvt image: looked up by manifest name in the boot
// info, operated through monitor calls (the plain path of DESIGN.md §4).
#include <cstdlib>
#include <cstring>

#include "morgana/platform/platform.h"
#include "platform/abi/vnet_meta.h"
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

// Per device: its NetRing when it uses the fast path, else nullptr; set at first open,
// with the offloads the monitor put in force for it.
abi::NetRing* g_rings[abi::kMaxDevices];
NetOffloads g_offloads[abi::kMaxDevices];
bool g_opened[abi::kMaxDevices];
// Per device: the rx slots of the frame ring_peek() lent out, freed by ring_release().
uint32_t g_lent_slots[abi::kMaxDevices];
uint64_t g_last_activity_ns;

// Unsent tx slots at which ring_write() kicks without waiting for yield().
constexpr uint32_t kKickBatchSlots = abi::kNetRingSlots / 4;

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

abi::NetRing* setup_ring(DeviceId id, NetOffloads wanted, NetOffloads* granted) {
  void* memory = aligned_alloc(abi::kPageSize, sizeof(abi::NetRing));
  if (!memory) return nullptr;
  std::memset(memory, 0, sizeof(abi::NetRing));
  abi::NetRingSetupArgs args{id, 0, reinterpret_cast<uintptr_t>(memory), wanted, 0};
  hvt::call(abi::Call::kNetRingSetup, &args);
  if (args.status != 0) {
    free(memory);
    return nullptr;
  }
  // The monitor grants a subset; anything else would be its bug, and is ignored.
  *granted = args.offloads & wanted;
  return static_cast<abi::NetRing*>(memory);
}

// Slots the I/O thread must find free before it reads the next frame from the host:
// room for the largest frame the ring may carry, plus the skip entry placing it.
uint32_t rx_room_needed(DeviceId id) {
  return (g_offloads[id] & kNetOffloadTso4) ? 2 * abi::kNetMaxFrameSlots : 1;
}

Result<void> ring_write(abi::NetRing& ring, std::span<const uint8_t> frame,
                        const abi::VirtioNetHeader& vnet) {
  abi::NetQueue& tx = ring.tx;
  const uint32_t head = tx.head;  // only the guest writes tx.head
  const uint32_t used = head - __atomic_load_n(&tx.tail, __ATOMIC_ACQUIRE);
  const uint32_t len = static_cast<uint32_t>(frame.size());
  const uint32_t need = abi::net_frame_slots(len);
  const uint32_t to_end = abi::kNetRingSlots - head % abi::kNetRingSlots;
  // A frame never wraps: the slots left before the end are skipped first.
  const uint32_t skip = need > to_end ? to_end : 0;
  if (abi::kNetRingSlots - used < need + skip) {
    kick_if_sleeping(ring);
    return Error{Errc::kAgain, "transmit ring full"};
  }
  uint32_t at = head;
  if (skip != 0) {
    tx.desc[at % abi::kNetRingSlots] = abi::NetDesc{0, static_cast<uint16_t>(skip), 0, {}, 0, 0};
    at += skip;
  }
  std::memcpy(tx.data[at % abi::kNetRingSlots], frame.data(), len);
  tx.desc[at % abi::kNetRingSlots] = abi::NetDesc{len, static_cast<uint16_t>(need), 0, vnet, 0, 0};
  __atomic_store_n(&tx.head, at + need, __ATOMIC_RELEASE);
  // The kick waits for the end of the batch (yield(), see kick_pending_tx()), as virtio's
  // xmit_more does: a kick is a VM exit, emulated on kvm-pvm, and when the I/O thread
  // shares the vCPU's core each kick also preempts the guest to send a single frame.
  // A long batch still kicks once a quarter of the ring waits, so a sleeping I/O thread
  // on another core starts sending before the queue fills; on a shared CPU that thread
  // could not run before the guest yields anyway (the yield serves the rings), so only a
  // full queue kicks there.
  if (used + skip + need >= kKickBatchSlots && !hvt::shared_cpu()) kick_if_sleeping(ring);
  g_last_activity_ns = monotonic_ns();
  return ok();
}

// Gives the slots of the frame ring_peek() lent out back to the monitor.
void ring_release(DeviceId id, abi::NetRing& ring) {
  abi::NetQueue& rx = ring.rx;
  const uint32_t tail = rx.tail;
  const uint32_t head = __atomic_load_n(&rx.head, __ATOMIC_ACQUIRE);
  __atomic_store_n(&rx.tail, tail + g_lent_slots[id], __ATOMIC_RELEASE);
  g_lent_slots[id] = 0;
  g_last_activity_ns = monotonic_ns();
  // A queue without room for the largest frame may have stopped the I/O thread. (On a
  // shared CPU the yield that follows the batch refills the queue instead.)
  if (abi::kNetRingSlots - (head - tail) < rx_room_needed(id) && !hvt::shared_cpu())
    kick_if_sleeping(ring);
}

// The next frame of a ring's rx queue where it lies; its slots stay the guest's until
// ring_release(). Skip entries are consumed on the way.
Result<std::span<const uint8_t>> ring_peek(DeviceId id, abi::NetRing& ring, NetFrameMeta& meta) {
  abi::NetQueue& rx = ring.rx;
  for (;;) {
    const uint32_t tail = rx.tail;  // only the guest writes rx.tail
    const uint32_t head = __atomic_load_n(&rx.head, __ATOMIC_ACQUIRE);
    if (head == tail) return Error{Errc::kAgain, "no frame pending"};
    const abi::NetDesc desc = rx.desc[tail % abi::kNetRingSlots];
    const uint32_t index = tail % abi::kNetRingSlots;
    // The monitor is trusted, but a bad entry must not make us read past the ring.
    uint32_t slots = desc.slots;
    if (slots == 0 || slots > head - tail || index + slots > abi::kNetRingSlots)
      slots = head - tail;
    g_lent_slots[id] = slots;
    const bool frame = desc.len != 0 && desc.len <= slots * abi::kNetSlotSize &&
                       index + slots <= abi::kNetRingSlots;
    if (!frame) {  // a skip entry
      ring_release(id, ring);
      continue;
    }
    if (!from_vnet_header(desc.vnet, desc.len, meta)) {
      ring_release(id, ring);
      return Error{Errc::kInvalidArgument, "unusable offload metadata; frame dropped"};
    }
    return std::span<const uint8_t>(rx.data[index], desc.len);
  }
}

Result<size_t> ring_read(DeviceId id, abi::NetRing& ring, std::span<uint8_t> buffer,
                         NetFrameMeta& meta) {
  std::span<const uint8_t> frame = TRY(ring_peek(id, ring, meta));
  const bool fits = frame.size() <= buffer.size();
  if (fits) std::memcpy(buffer.data(), frame.data(), frame.size());
  ring_release(id, ring);
  if (!fits) return Error{Errc::kInvalidArgument, "frame larger than the buffer; dropped"};
  return frame.size();
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

Result<NetDevice> NetDevice::open(std::string_view name, NetPath path, NetOffloads wanted) {
  DeviceId id;
  const abi::DeviceInfo* d = find(name, abi::DeviceType::kNet, &id);
  if (!d) return Error{Errc::kNotFound, "no network device of that name in the manifest"};
  if (!g_opened[id]) {
    g_opened[id] = true;
    // TSO needs the checksum offload; only the rings carry offload metadata.
    if (wanted & kNetOffloadTso4) wanted |= kNetOffloadChecksum;
    wanted &= kNetOffloadChecksum | kNetOffloadTso4;
    // A monitor without rings answers kUnsupported and the device stays on calls.
    if (path == NetPath::kRings) g_rings[id] = setup_ring(id, wanted, &g_offloads[id]);
  }
  MacAddress mac;
  std::memcpy(mac.data(), d->net.mac, mac.size());
  return NetDevice(id, mac, d->net.mtu, g_offloads[id]);
}

Result<void> NetDevice::write(std::span<const uint8_t> frame) {
  return write(frame, NetFrameMeta{});
}

Result<void> NetDevice::write(std::span<const uint8_t> frame, const NetFrameMeta& meta) {
  const bool gso = meta.gso_size != 0;
  if (frame.size() > (gso ? abi::kNetMaxOffloadFrame : mtu_ + 14u))
    return Error{Errc::kInvalidArgument, "frame larger than the MTU"};
  if (meta.checksum == NetChecksum::kValid ||
      (meta.checksum == NetChecksum::kPartial &&
       (!(offloads_ & kNetOffloadChecksum) ||
        size_t{meta.csum_start} + meta.csum_offset + 2 > frame.size())) ||
      (gso && (!(offloads_ & kNetOffloadTso4) || meta.checksum != NetChecksum::kPartial)))
    return Error{Errc::kInvalidArgument, "offload metadata the device cannot honour"};
  if (abi::NetRing* ring = g_rings[id_]) return ring_write(*ring, frame, to_vnet_header(meta));
  abi::NetIoArgs args{id_, 0, reinterpret_cast<uintptr_t>(frame.data()), frame.size()};
  hvt::call(abi::Call::kNetWrite, &args);
  if (args.status != 0) return status_error(args.status);
  return ok();
}

Result<size_t> NetDevice::read(std::span<uint8_t> buffer) {
  NetFrameMeta meta;
  for (;;) {
    size_t n = TRY(read(buffer, meta));
    // A caller without metadata cannot be told that the checksum is still to be
    // completed or that this is many segments in one: such frames are dropped.
    if (meta.checksum != NetChecksum::kPartial && meta.gso_size == 0) return n;
  }
}

Result<size_t> NetDevice::read(std::span<uint8_t> buffer, NetFrameMeta& meta) {
  meta = {};
  if (abi::NetRing* ring = g_rings[id_]) return ring_read(id_, *ring, buffer, meta);
  abi::NetIoArgs args{id_, 0, reinterpret_cast<uintptr_t>(buffer.data()), buffer.size()};
  hvt::call(abi::Call::kNetRead, &args);
  if (args.status != 0) return status_error(args.status);
  return static_cast<size_t>(args.len);
}

Result<std::span<const uint8_t>> NetDevice::peek(NetFrameMeta& meta) {
  meta = {};
  if (abi::NetRing* ring = g_rings[id_]) return ring_peek(id_, *ring, meta);
  return Error{Errc::kUnsupported, "the device is on the call path: frames are copied"};
}

void NetDevice::release() {
  if (abi::NetRing* ring = g_rings[id_]; ring && g_lent_slots[id_] != 0) ring_release(id_, *ring);
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

void kick_pending_tx() {
  for (uint32_t i = 0; i < abi::kMaxDevices; ++i) {
    abi::NetRing* ring = g_rings[i];
    if (ring != nullptr && ring->tx.head != __atomic_load_n(&ring->tx.tail, __ATOMIC_ACQUIRE))
      kick_if_sleeping(*ring);
  }
}

}  // namespace hvt

}  // namespace morgana::platform
