// morgana::rt::Heap, the image's memory allocator over one caller-given region: size-class
// slabs for small objects (O(1) allocate and free), runs of 4 KiB pages coalesced on free
// for large ones. One thread, no locks (DESIGN.md §1.3); libc malloc and operator new sit
// on one global instance (src/rt/libc_malloc.cc).
#pragma once

#include <cstddef>
#include <cstdint>

#include "morgana/rt/heap.h"

namespace morgana::rt {

class Heap {
 public:
  static constexpr size_t kPageSize = 4096;
  static constexpr size_t kMinAlignment = 16;  // every allocation, like glibc on x86_64
  static constexpr size_t kMaxSmallSize = 2048;
  static constexpr int kSizeClassCount = 24;

  // An empty heap; constexpr so that a global one needs no constructor and is usable by
  // static constructors that run before it would have been built.
  constexpr Heap() = default;
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  // Takes over [start, end). About 1.6% of it becomes metadata (32 bytes of page
  // descriptor and 32 bytes of slot bitmap per 4 KiB page). Panics if the region cannot
  // hold the metadata and at least one page.
  void init(uintptr_t start, uintptr_t end);
  bool initialized() const { return page_count_ != 0; }

  // `size` bytes aligned to `alignment` (a power of two; at least kMinAlignment is always
  // given). Size 0 yields a unique pointer. Panics when memory runs out, with the request
  // and the heap's state in the message.
  void* allocate(size_t size, size_t alignment = kMinAlignment);
  // As allocate, but returns nullptr when out of memory or the alignment is invalid.
  void* try_allocate(size_t size, size_t alignment = kMinAlignment);
  // Takes back memory from allocate; nullptr is ignored. Panics on a pointer the heap did
  // not hand out or has already taken back (double free), and on a damaged free list.
  void deallocate(void* ptr);
  // Bytes usable at `ptr`, an allocated pointer: its size class or its page run.
  size_t usable_size(const void* ptr) const;
  bool owns(const void* ptr) const {
    auto p = reinterpret_cast<uintptr_t>(ptr);
    return p >= base_ && p < base_ + page_count_ * kPageSize;
  }

  // bytes_in_use counts usable bytes (requests rounded up to their size class or to
  // whole pages), which is what the allocation actually occupies.
  HeapStats stats() const;
  // Bytes in the largest run of free pages: the biggest large allocation that can succeed.
  size_t largest_free_run() const;

 private:
  static constexpr uint32_t kNone = 0xffffffff;
  static constexpr int kExactBins = 64;              // runs of 1..64 pages: one bin each
  static constexpr int kBinCount = kExactBins + 26;  // then one bin per power of two
  struct PageInfo;

  static int bin_for(uint32_t pages);
  PageInfo& info(uint32_t page) const;
  uintptr_t page_address(uint32_t page) const { return base_ + page * kPageSize; }

  // Page runs.
  uint32_t allocate_run(uint32_t pages);  // kNone when no run fits
  void free_run(uint32_t first, uint32_t pages);
  void insert_free_run(uint32_t first, uint32_t pages);
  void remove_free_run(uint32_t first);
  void mark_allocated_run(uint32_t first, uint32_t pages, uint8_t kind);
  void* allocate_large(size_t size, size_t alignment);
  void free_large(uint32_t first);

  // Slabs of small objects.
  void* allocate_small(int size_class);
  void free_small(uint32_t slab, uintptr_t address);
  uint32_t new_slab(int size_class);
  void release_slab(uint32_t slab);
  void release_cached_slabs();
  void link_partial(uint32_t slab);
  void unlink_partial(uint32_t slab);
  bool slot_bit(uintptr_t address) const;
  void set_slot_bit(uintptr_t address, bool value);

  uint32_t owning_run(uintptr_t address, const char* operation) const;
  void account(size_t bytes, bool allocated);
  [[noreturn]] void out_of_memory(size_t size, size_t alignment) const;

  PageInfo* pages_ = nullptr;      // one per page, at the start of the region
  uint64_t* slot_bits_ = nullptr;  // one bit per 16-byte granule: a live small object starts here
  uintptr_t base_ = 0;             // first page handed out
  size_t page_count_ = 0;
  uint32_t bin_head_[kBinCount] = {};
  uint64_t bin_nonempty_[2] = {};
  uint32_t partial_head_[kSizeClassCount] = {};  // slabs with a free slot, per class
  uint32_t cached_empty_[kSizeClassCount] = {};  // one empty slab kept per class
  size_t bytes_in_use_ = 0;
  size_t peak_bytes_in_use_ = 0;
  size_t allocations_ = 0;
  size_t frees_ = 0;
};

}  // namespace morgana::rt
