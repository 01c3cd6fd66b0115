// The split virtqueue (virtio 1.2 §2.7) that virtio-blk and virtio-net share: descriptor
// table, driver (avail) ring and device (used) ring in guest memory, and the few operations
// on them. Nothing here exits to the monitor; notifying the device is the transport's.
#pragma once

#include <cstddef>
#include <cstdint>

#include "morgana/rt/result.h"

namespace morgana::platform::virtio {

struct VirtqDesc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
};
static_assert(sizeof(VirtqDesc) == 16);

struct VirtqUsedElem {
  uint32_t id;   // head of the chain the device used
  uint32_t len;  // bytes the device wrote into it
};
static_assert(sizeof(VirtqUsedElem) == 8);

// Whether the device should interrupt when it adds to the used ring: a hint it honours
// without VIRTIO_F_EVENT_IDX (virtio 1.2 §2.7.7), which is how the drivers keep
// interrupts to the idle sleep.
enum class Interrupts { kOff, kOn };

class SplitQueue {
 public:
  static constexpr uint16_t kDescNext = 1, kDescWrite = 2;

  // Allocates the rings for `size` entries (a power of two, at most 32768) from the heap,
  // which is identity-mapped RAM, so their addresses are what the device is given. They
  // are never freed: a device lives as long as the image.
  static Result<SplitQueue> create(uint16_t size);

  uint16_t size() const { return size_; }
  VirtqDesc& desc(uint16_t id) { return desc_[id & mask_]; }
  uint64_t desc_address() const { return reinterpret_cast<uint64_t>(desc_); }
  uint64_t avail_address() const { return reinterpret_cast<uint64_t>(avail_); }
  uint64_t used_address() const { return reinterpret_cast<uint64_t>(used_); }

  // Makes the chain starting at descriptor `head` available. Its descriptors must be
  // written before: the release store of the index orders them for the device.
  void push(uint16_t head) {
    avail_ring()[avail_shadow_ & mask_] = head;
    ++avail_shadow_;
    __atomic_store_n(&avail_[1], avail_shadow_, __ATOMIC_RELEASE);
  }

  // The device's used index (acquire: the entries before it and the buffer contents it
  // wrote are visible once it is read).
  uint16_t used_index() const { return __atomic_load_n(&used_[1], __ATOMIC_ACQUIRE); }
  bool has_used() const { return used_index() != last_used_; }
  uint16_t last_used() const { return last_used_; }
  // Our available index: the chains up to here have been made available.
  uint16_t avail_index() const { return avail_shadow_; }
  // How many used elements have not been taken yet (at most size() from a correct device).
  uint16_t used_pending() const { return static_cast<uint16_t>(used_index() - last_used_); }
  // The next used element without taking it; call only when has_used().
  VirtqUsedElem peek_used() const { return used_ring()[last_used_ & mask_]; }
  // The next used element; call only when has_used().
  VirtqUsedElem pop_used() {
    const VirtqUsedElem elem = used_ring()[last_used_ & mask_];
    ++last_used_;
    return elem;
  }

  // Whether the device asks to be notified of new available buffers (it sets
  // VIRTQ_USED_F_NO_NOTIFY while it is processing the queue anyway). The full fence orders
  // our index store before the flag load; the device pairs it with a re-check of the
  // available index after it clears the flag, so no buffer is missed.
  bool device_wants_notify() const {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return !(__atomic_load_n(&used_[0], __ATOMIC_RELAXED) & 1);
  }

  // Sets VIRTQ_AVAIL_F_NO_INTERRUPT as asked; a full fence follows, so a used index read
  // after this call is ordered after the flag store (the wake-up check, clock.cc).
  void set_interrupts(Interrupts on) {
    __atomic_store_n(&avail_[0], static_cast<uint16_t>(on == Interrupts::kOn ? 0 : 1),
                     __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
  }

 private:
  SplitQueue(uint16_t size, VirtqDesc* desc, uint16_t* avail, uint16_t* used)
      : size_(size),
        mask_(static_cast<uint16_t>(size - 1)),
        desc_(desc),
        avail_(avail),
        used_(used) {}
  // avail: flags, idx, ring[size], used_event; used: flags, idx, ring[size], avail_event.
  uint16_t* avail_ring() { return avail_ + 2; }
  VirtqUsedElem* used_ring() const { return reinterpret_cast<VirtqUsedElem*>(used_ + 2); }

  uint16_t size_, mask_;
  VirtqDesc* desc_;
  uint16_t* avail_;
  uint16_t* used_;
  uint16_t avail_shadow_ = 0;  // our copy of avail->idx (only the driver writes it)
  uint16_t last_used_ = 0;     // the used entries up to here have been taken
};

}  // namespace morgana::platform::virtio
