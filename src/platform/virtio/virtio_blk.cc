// virtio-blk over virtio-mmio (version 2, the modern layout) on QEMU's microvm: one
// request queue, polled (no interrupts: DESIGN.md §3). Each request is one chain of three
// descriptors (header, data, status) and one notify, the only exit per request.
// Virtio 1.2 §4.2 (MMIO transport) and §5.2 (block device).
#include "platform/virtio/virtio_blk.h"

#include <cstring>

#include "morgana/platform/platform.h"
#include "platform/virtio/virtio.h"

namespace morgana::platform::virtio {
namespace {

// MMIO registers (virtio 1.2 §4.2.2).
enum Reg : uint32_t {
  kMagic = 0x000,
  kVersion = 0x004,
  kDeviceId = 0x008,
  kDeviceFeatures = 0x010,
  kDeviceFeaturesSel = 0x014,
  kDriverFeatures = 0x020,
  kDriverFeaturesSel = 0x024,
  kQueueSel = 0x030,
  kQueueNumMax = 0x034,
  kQueueNum = 0x038,
  kQueueReady = 0x044,
  kQueueNotify = 0x050,
  kStatus = 0x070,
  kQueueDescLow = 0x080,
  kQueueDescHigh = 0x084,
  kQueueDriverLow = 0x090,
  kQueueDriverHigh = 0x094,
  kQueueDeviceLow = 0x0a0,
  kQueueDeviceHigh = 0x0a4,
  kConfig = 0x100,
};
constexpr uint32_t kStatusAcknowledge = 1, kStatusDriver = 2, kStatusDriverOk = 4,
                   kStatusFeaturesOk = 8;
constexpr uint32_t kFeatureReadOnly = 1u << 5, kFeatureFlush = 1u << 9;  // low word
constexpr uint32_t kFeatureVersion1 = 1u << 0;                           // high word (bit 32)
constexpr uint32_t kRequestIn = 0, kRequestOut = 1, kRequestFlush = 4;
constexpr uint16_t kDescNext = 1, kDescWrite = 2;
constexpr uint16_t kQueueSize = 4;  // one request in flight needs three descriptors

struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
};
struct Avail {
  uint16_t flags, idx, ring[kQueueSize], used_event;
};
struct UsedElem {
  uint32_t id, len;
};
struct Used {
  uint16_t flags, idx;
  UsedElem ring[kQueueSize];
  uint16_t avail_event;
};
struct RequestHeader {
  uint32_t type, reserved;
  uint64_t sector;
};

struct Queue {
  alignas(16) Desc desc[kQueueSize];
  alignas(2) Avail avail;
  alignas(4) Used used;
  RequestHeader header;
  volatile uint8_t status;
};

struct Disk {
  volatile uint32_t* regs;
  Queue* queue;
  uint16_t next_avail;
  uint64_t capacity;  // bytes
  bool read_only, flush;
};

constexpr size_t kMaxDisks = 8;
Disk g_disks[kMaxDisks];
Queue g_queues[kMaxDisks];
size_t g_disk_count;

uint32_t read32(const Disk& d, uint32_t reg) {
  return d.regs[reg / 4];
}
void write32(Disk& d, uint32_t reg, uint32_t value) {
  d.regs[reg / 4] = value;
}

bool init_disk(volatile uint32_t* regs, Disk& d, Queue& q) {
  d.regs = regs;
  d.queue = &q;
  write32(d, kStatus, 0);  // reset
  write32(d, kStatus, kStatusAcknowledge | kStatusDriver);
  write32(d, kDeviceFeaturesSel, 1);
  if (!(read32(d, kDeviceFeatures) & kFeatureVersion1)) return false;
  write32(d, kDeviceFeaturesSel, 0);
  const uint32_t offered = read32(d, kDeviceFeatures);
  write32(d, kDriverFeaturesSel, 0);
  write32(d, kDriverFeatures, offered & (kFeatureReadOnly | kFeatureFlush));
  write32(d, kDriverFeaturesSel, 1);
  write32(d, kDriverFeatures, kFeatureVersion1);
  write32(d, kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  if (!(read32(d, kStatus) & kStatusFeaturesOk)) return false;
  write32(d, kQueueSel, 0);
  if (read32(d, kQueueNumMax) < kQueueSize) return false;
  write32(d, kQueueNum, kQueueSize);
  auto split = [&d](uint32_t low_reg, const void* address) {
    const auto a = reinterpret_cast<uint64_t>(address);
    write32(d, low_reg, static_cast<uint32_t>(a));
    write32(d, low_reg + 4, static_cast<uint32_t>(a >> 32));
  };
  split(kQueueDescLow, q.desc);
  split(kQueueDriverLow, &q.avail);
  split(kQueueDeviceLow, &q.used);
  write32(d, kQueueReady, 1);
  write32(d, kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  d.capacity = (static_cast<uint64_t>(read32(d, kConfig + 4)) << 32 | read32(d, kConfig)) * 512;
  d.read_only = offered & kFeatureReadOnly;
  d.flush = offered & kFeatureFlush;
  return true;
}

// Runs one request and polls for its completion (bounded: a device that never answers
// is an I/O error, not a hang).
Result<void> request(Disk& d, uint32_t type, uint64_t offset, uint8_t* data, uint32_t len) {
  Queue& q = *d.queue;
  q.header = RequestHeader{type, 0, offset / 512};
  q.status = 0xff;
  q.desc[0] = Desc{reinterpret_cast<uint64_t>(&q.header), sizeof q.header, kDescNext, 1};
  uint16_t last = 0;
  if (len) {
    q.desc[1] = Desc{reinterpret_cast<uint64_t>(data), len,
                     static_cast<uint16_t>(kDescNext | (type == kRequestIn ? kDescWrite : 0)), 2};
    last = 1;
  }
  q.desc[last].next = static_cast<uint16_t>(last + 1);
  q.desc[last + 1] =
      Desc{reinterpret_cast<uint64_t>(const_cast<uint8_t*>(&q.status)), 1, kDescWrite, 0};
  q.avail.ring[d.next_avail % kQueueSize] = 0;
  __atomic_store_n(&q.avail.idx, static_cast<uint16_t>(d.next_avail + 1), __ATOMIC_RELEASE);
  ++d.next_avail;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  write32(d, kQueueNotify, 0);
  const uint64_t deadline = monotonic_ns() + 30'000'000'000ull;
  while (__atomic_load_n(&q.used.idx, __ATOMIC_ACQUIRE) != d.next_avail) {
    if (monotonic_ns() > deadline) return Error{Errc::kIo, "virtio-blk: no answer in 30 s"};
    asm volatile("pause");
  }
  if (q.status != 0) return Error{Errc::kIo, "virtio-blk: the device reported an error"};
  return ok();
}

}  // namespace

// Scans microvm's virtio-mmio slots in address order for block devices.
void virtio_blk_discover() {
  for (uint64_t slot = 0; slot < kVirtioMmioSlots && g_disk_count < kMaxDisks; ++slot) {
    auto* regs = reinterpret_cast<volatile uint32_t*>(kVirtioMmioBase + slot * 512);
    if (regs[kMagic / 4] != 0x74726976 || regs[kDeviceId / 4] != 2) continue;  // "virt", blk
    if (regs[kVersion / 4] != 2) {
      console_write_raw("virtio: a legacy (version 1) virtio-mmio block device is not supported\n");
      continue;
    }
    if (init_disk(regs, g_disks[g_disk_count], g_queues[g_disk_count])) {
      ++g_disk_count;
    } else {
      console_write_raw("virtio: a virtio-blk device refused the driver's features\n");
    }
  }
}

size_t virtio_blk_count() {
  return g_disk_count;
}

BlockInfo virtio_blk_info(size_t disk) {
  return BlockInfo{g_disks[disk].capacity, g_disks[disk].read_only};
}

Result<void> virtio_blk_io(size_t disk, bool write, uint64_t offset, uint8_t* data, size_t len) {
  Disk& d = g_disks[disk];
  constexpr size_t kMaxRequest = 256 * 1024;
  while (len > 0) {
    const size_t n = len < kMaxRequest ? len : kMaxRequest;
    if (auto r =
            request(d, write ? kRequestOut : kRequestIn, offset, data, static_cast<uint32_t>(n));
        !r) {
      return r;
    }
    offset += n, data += n, len -= n;
  }
  return ok();
}

Result<void> virtio_blk_flush(size_t disk) {
  Disk& d = g_disks[disk];
  if (!d.flush) return ok();  // without VIRTIO_BLK_F_FLUSH the device writes through
  return request(d, kRequestFlush, 0, nullptr, 0);
}

}  // namespace morgana::platform::virtio
