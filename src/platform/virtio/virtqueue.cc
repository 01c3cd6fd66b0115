// Allocation of split virtqueues (virtqueue.h): the three rings in one zeroed block of
// heap memory, laid out with the alignments virtio 1.2 §2.7 requires.
#include "platform/virtio/virtqueue.h"

#include <cstdlib>
#include <cstring>

namespace morgana::platform::virtio {

Result<SplitQueue> SplitQueue::create(uint16_t size) {
  if (size == 0 || size > 32768 || (size & (size - 1)) != 0)
    return Error{Errc::kInvalidArgument, "virtqueue size must be a power of two up to 32768"};
  // Descriptor table 16-byte aligned, driver ring 2-byte, device ring 4-byte; the block
  // starts on a page, and the device ring gets a cache line of its own so the device's
  // writes do not share a line with ours.
  const size_t desc_bytes = sizeof(VirtqDesc) * size;
  const size_t avail_bytes = sizeof(uint16_t) * (3 + size_t{size});
  const size_t used_offset = (desc_bytes + avail_bytes + 63) & ~size_t{63};
  const size_t used_bytes = sizeof(uint16_t) * 3 + sizeof(VirtqUsedElem) * size;
  const size_t total = (used_offset + used_bytes + 4095) & ~size_t{4095};
  auto* block = static_cast<uint8_t*>(aligned_alloc(4096, total));
  if (!block) return Error{Errc::kNoMemory, "no memory for a virtqueue"};
  std::memset(block, 0, total);
  return SplitQueue(size, reinterpret_cast<VirtqDesc*>(block),
                    reinterpret_cast<uint16_t*>(block + desc_bytes),
                    reinterpret_cast<uint16_t*>(block + used_offset));
}

}  // namespace morgana::platform::virtio
