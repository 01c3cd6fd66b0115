// virtio-blk (virtio 1.2 §5.2) over virtio-mmio or virtio-pci: one request queue, polled
// (no interrupts: DESIGN.md §3). Each request is one chain of three descriptors (header,
// data, status) and one notify, the only exit per request. The transports and rings are
// shared with virtio-net (transport.h, virtqueue.h).
#include "platform/virtio/virtio_blk.h"

#include <memory>

#include "morgana/platform/platform.h"
#include "platform/virtio/virtqueue.h"

namespace morgana::platform::virtio {
namespace {

constexpr uint64_t kFeatureReadOnly = 1u << 5, kFeatureFlush = 1u << 9;
constexpr uint32_t kRequestIn = 0, kRequestOut = 1, kRequestFlush = 4;
constexpr uint16_t kQueueSize = 4;  // one request in flight needs three descriptors

struct RequestHeader {
  uint32_t type, reserved;
  uint64_t sector;
};

struct Disk {
  std::unique_ptr<Transport> transport;
  SplitQueue queue;
  RequestHeader header;
  volatile uint8_t status;
  uint64_t capacity;  // bytes
  bool read_only, flush;
};

constexpr size_t kMaxDisks = 8;
std::unique_ptr<Disk> g_disks[kMaxDisks];  // the platform's, for the image's lifetime
size_t g_disk_count;

// Runs one request and polls for its completion (bounded: a device that never answers
// is an I/O error, not a hang).
Result<void> request(Disk& d, uint32_t type, uint64_t offset, uint8_t* data, uint32_t len) {
  SplitQueue& q = d.queue;
  d.header = RequestHeader{type, 0, offset / 512};
  d.status = 0xff;
  q.desc(0) =
      VirtqDesc{reinterpret_cast<uint64_t>(&d.header), sizeof d.header, SplitQueue::kDescNext, 1};
  uint16_t last = 0;
  if (len) {
    const uint16_t write = type == kRequestIn ? SplitQueue::kDescWrite : 0;
    q.desc(1) = VirtqDesc{reinterpret_cast<uint64_t>(data), len,
                          static_cast<uint16_t>(SplitQueue::kDescNext | write), 2};
    last = 1;
  }
  q.desc(last).next = static_cast<uint16_t>(last + 1);
  q.desc(static_cast<uint16_t>(last + 1)) = VirtqDesc{
      reinterpret_cast<uint64_t>(const_cast<uint8_t*>(&d.status)), 1, SplitQueue::kDescWrite, 0};
  q.push(0);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  d.transport->notify(0);
  const uint64_t deadline = monotonic_ns() + 30'000'000'000ull;
  while (!q.has_used()) {
    if (monotonic_ns() > deadline) return Error{Errc::kIo, "virtio-blk: no answer in 30 s"};
    asm volatile("pause");
  }
  (void)q.pop_used();  // the only chain in flight
  if (d.status != 0) return Error{Errc::kIo, "virtio-blk: the device reported an error"};
  return ok();
}

}  // namespace

Result<void> virtio_blk_attach(std::unique_ptr<Transport> transport) {
  if (g_disk_count == kMaxDisks) return Error{Errc::kOutOfRange, "more than 8 virtio-blk devices"};
  const uint64_t features = TRY(transport->negotiate(kFeatureReadOnly | kFeatureFlush));
  auto queue = SplitQueue::create(kQueueSize);
  if (!queue) {
    transport->fail();
    return queue.error();
  }
  if (auto set = transport->setup_queue(0, *queue, QueueInterrupt::kNone); !set) {
    transport->fail();
    return set.error();
  }
  transport->driver_ok();
  const uint64_t sectors = uint64_t{transport->config32(4)} << 32 | transport->config32(0);
  g_disks[g_disk_count++].reset(new Disk{std::move(transport),
                                         *queue,
                                         {},
                                         0,
                                         sectors * 512,
                                         (features & kFeatureReadOnly) != 0,
                                         (features & kFeatureFlush) != 0});
  return ok();
}

size_t virtio_blk_count() {
  return g_disk_count;
}

BlockInfo virtio_blk_info(size_t disk) {
  return BlockInfo{g_disks[disk]->capacity, g_disks[disk]->read_only};
}

Result<void> virtio_blk_io(size_t disk, bool write, uint64_t offset, uint8_t* data, size_t len) {
  Disk& d = *g_disks[disk];
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
  Disk& d = *g_disks[disk];
  if (!d.flush) return ok();  // without VIRTIO_BLK_F_FLUSH the device writes through
  return request(d, kRequestFlush, 0, nullptr, 0);
}

}  // namespace morgana::platform::virtio
