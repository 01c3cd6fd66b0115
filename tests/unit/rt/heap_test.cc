// morgana::rt::Heap on a host buffer: a random allocate/free stress checked against a
// shadow model (no overlap, alignment, contents intact, exact statistics), exhaustion,
// coalescing, and the panics for misuse (double free, foreign pointers, corruption).
#include "morgana/rt/heap_allocator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <vector>

namespace {

using morgana::rt::Heap;

// A page-aligned host buffer for a heap to manage.
class Region {
 public:
  explicit Region(size_t bytes)
      : bytes_(bytes), memory_(static_cast<uint8_t*>(std::aligned_alloc(Heap::kPageSize, bytes))) {
    // Garbage, as fresh memory might be: the heap must not rely on zeroed metadata.
    std::memset(memory_.get(), 0xa5, bytes);
  }
  uintptr_t start() const { return reinterpret_cast<uintptr_t>(memory_.get()); }
  uintptr_t end() const { return start() + bytes_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  size_t bytes_;
  std::unique_ptr<uint8_t, Free> memory_;
};

struct Live {
  size_t size;
  size_t usable;
  uint8_t pattern;
};

// The shadow model: every live block, checked for overlap on insertion and for intact
// contents on removal.
class Shadow {
 public:
  explicit Shadow(Heap& heap) : heap_(heap) {}

  void* allocate(size_t size, size_t alignment, uint8_t pattern) {
    void* p = heap_.try_allocate(size, alignment);
    if (p == nullptr) return nullptr;
    const auto address = reinterpret_cast<uintptr_t>(p);
    EXPECT_EQ(address % std::max(alignment, Heap::kMinAlignment), 0u) << size << " @" << alignment;
    EXPECT_TRUE(heap_.owns(p));
    const size_t usable = heap_.usable_size(p);
    EXPECT_GE(usable, std::max<size_t>(size, 1));
    // Neighbours in address order must end before us / start after us.
    auto next = live_.lower_bound(address);
    if (next != live_.end()) {
      EXPECT_GE(next->first, address + usable) << "overlaps the next block";
    }
    if (next != live_.begin()) {
      auto prev = std::prev(next);
      EXPECT_LE(prev->first + prev->second.usable, address) << "overlaps the previous block";
    }
    std::memset(p, pattern, usable);
    live_[address] = Live{size, usable, pattern};
    bytes_in_use_ += usable;
    peak_ = std::max(peak_, bytes_in_use_);
    ++allocations_;
    return p;
  }

  void free(uintptr_t address) {
    auto it = live_.find(address);
    ASSERT_NE(it, live_.end());
    const auto* bytes = reinterpret_cast<const uint8_t*>(address);
    for (size_t i = 0; i < it->second.usable; ++i) {
      if (bytes[i] != it->second.pattern) {
        ADD_FAILURE() << "block at " << address << " was overwritten at offset " << i;
        break;
      }
    }
    bytes_in_use_ -= it->second.usable;
    live_.erase(it);
    heap_.deallocate(reinterpret_cast<void*>(address));
    ++frees_;
  }

  void free_random(std::mt19937_64& rng) {
    auto it = live_.begin();
    std::advance(it, static_cast<long>(rng() % live_.size()));
    free(it->first);
  }

  void free_all() {
    while (!live_.empty()) free(live_.begin()->first);
  }

  void expect_stats_match() const {
    const auto stats = heap_.stats();
    EXPECT_EQ(stats.bytes_in_use, bytes_in_use_);
    EXPECT_EQ(stats.peak_bytes_in_use, peak_);
    EXPECT_EQ(stats.allocations, allocations_);
    EXPECT_EQ(stats.frees, frees_);
  }

  size_t count() const { return live_.size(); }

 private:
  Heap& heap_;
  std::map<uintptr_t, Live> live_;
  size_t bytes_in_use_ = 0, peak_ = 0, allocations_ = 0, frees_ = 0;
};

size_t random_size(std::mt19937_64& rng) {
  switch (rng() % 10) {
    case 0:
      return rng() % 64;  // tiny, including 0
    case 1:
      return 2040 + rng() % 20;  // around the small/large boundary
    case 2:
      return Heap::kPageSize * (1 + rng() % 20) - rng() % 3;  // page multiples
    case 3:
      return rng() % 70000;  // anything up to many pages
    default:
      return 1 + rng() % 600;  // the common small case
  }
}

size_t random_alignment(std::mt19937_64& rng) {
  if (rng() % 4 != 0) return Heap::kMinAlignment;
  return size_t{1} << (rng() % 15);  // 1 .. 16384
}

TEST(Heap, RandomStressAgainstShadowModel) {
  Region region(32 << 20);
  Heap heap;
  heap.init(region.start(), region.end());
  Shadow shadow(heap);
  std::mt19937_64 rng(42);
  for (int step = 0; step < 60000; ++step) {
    // Phases of growth and shrinkage so the heap both fills and coalesces.
    const bool growing = (step / 5000) % 2 == 0;
    if (shadow.count() > 0 && rng() % 100 < (growing ? 35u : 65u)) {
      shadow.free_random(rng);
    } else {
      shadow.allocate(random_size(rng), random_alignment(rng), static_cast<uint8_t>(rng()));
    }
    if (step % 1000 == 0) shadow.expect_stats_match();
    if (HasFailure()) return;
  }
  shadow.expect_stats_match();
  shadow.free_all();
  shadow.expect_stats_match();
  EXPECT_EQ(heap.stats().bytes_in_use, 0u);
}

TEST(Heap, SmallAllocationsAreDistinctAndReuseFreedSlots) {
  Region region(1 << 20);
  Heap heap;
  heap.init(region.start(), region.end());
  void* a = heap.allocate(24);
  void* b = heap.allocate(24);
  EXPECT_NE(a, b);
  EXPECT_EQ(heap.usable_size(a), 32u);  // the 32-byte class
  heap.deallocate(a);
  EXPECT_EQ(heap.allocate(30), a);  // LIFO free list: the slot just freed comes back
  void* zero1 = heap.allocate(0);
  void* zero2 = heap.allocate(0);
  EXPECT_NE(zero1, zero2);  // size 0 still gives unique pointers
}

TEST(Heap, AlignmentsUpToManyPages) {
  // Big enough that blocks pinned at many 512 KiB boundaries still leave a 1 MiB run.
  Region region(64 << 20);
  Heap heap;
  heap.init(region.start(), region.end());
  Shadow shadow(heap);
  for (size_t alignment = 1; alignment <= (1 << 20); alignment <<= 1) {
    for (size_t size : {1ul, 17ul, 100ul, 2048ul, 5000ul, 70000ul}) {
      void* p = shadow.allocate(size, alignment, static_cast<uint8_t>(alignment));
      ASSERT_NE(p, nullptr) << size << " @" << alignment << " in use " << heap.stats().bytes_in_use
                            << " largest free " << heap.largest_free_run();
    }
  }
  shadow.expect_stats_match();
  shadow.free_all();
  EXPECT_EQ(heap.stats().bytes_in_use, 0u);
  // The trimmed pages of over-aligned runs went back and coalesced (with the empty slabs
  // the heap keeps cached, which it gives back when a large request needs them).
  void* all = heap.try_allocate(heap.stats().heap_size);
  EXPECT_NE(all, nullptr);
  heap.deallocate(all);
}

TEST(Heap, InvalidAlignmentIsRefusedByTryAllocate) {
  Region region(1 << 20);
  Heap heap;
  heap.init(region.start(), region.end());
  EXPECT_EQ(heap.try_allocate(16, 0), nullptr);
  EXPECT_EQ(heap.try_allocate(16, 24), nullptr);
}

TEST(Heap, ExhaustionReturnsNullFromTryAllocate) {
  Region region(4 << 20);
  Heap heap;
  heap.init(region.start(), region.end());
  const size_t heap_size = heap.stats().heap_size;
  EXPECT_GT(heap_size, (4u << 20) * 95 / 100);  // metadata stays under 5% (about 1.6%)
  Shadow shadow(heap);
  // Small objects until no new slab fits, then single pages into what is left.
  std::mt19937_64 rng(1);
  while (shadow.allocate(1 + rng() % 2048, 16, 0x11) != nullptr) {
  }
  while (shadow.allocate(Heap::kPageSize, 16, 0x12) != nullptr) {
  }
  EXPECT_EQ(heap.try_allocate(Heap::kPageSize), nullptr);
  EXPECT_EQ(heap.try_allocate(Heap::kMaxSmallSize + 1), nullptr);
  EXPECT_EQ(heap.try_allocate(heap_size + 1), nullptr);
  EXPECT_EQ(heap.try_allocate(~size_t{0}), nullptr);
  EXPECT_EQ(heap.try_allocate(100, size_t{1} << 40), nullptr);
  shadow.expect_stats_match();
  EXPECT_GT(heap.stats().bytes_in_use, heap_size * 85 / 100);  // slabs waste at most 1/8
}

TEST(Heap, CoalescingLetsABigAllocationSucceedAfterFrees) {
  Region region(8 << 20);
  Heap heap;
  heap.init(region.start(), region.end());
  const size_t heap_size = heap.stats().heap_size;
  Shadow shadow(heap);
  std::mt19937_64 rng(7);
  // Fill the heap with a mix of small and multi-page blocks, then free in random order.
  while (shadow.allocate(rng() % 2 ? 1 + rng() % 2048 : 4096 + rng() % 20000, 16, 0x22)) {
  }
  EXPECT_EQ(heap.try_allocate(heap_size / 2), nullptr);
  while (shadow.count() > 0) shadow.free_random(rng);
  // Every page is free again and merged into one run: the whole heap in one block.
  void* all = heap.try_allocate(heap_size);
  ASSERT_NE(all, nullptr);
  EXPECT_EQ(heap.usable_size(all), heap_size);
  heap.deallocate(all);
  EXPECT_EQ(heap.stats().bytes_in_use, 0u);
}

TEST(Heap, LargeRunsAreReusedAfterFree) {
  Region region(1 << 20);
  Heap heap;
  heap.init(region.start(), region.end());
  void* a = heap.allocate(10000);
  EXPECT_EQ(heap.usable_size(a), 3 * Heap::kPageSize);
  heap.deallocate(a);
  void* b = heap.allocate(12000);
  EXPECT_EQ(a, b);
}

using HeapDeathTest = ::testing::Test;

TEST(HeapDeathTest, DoubleFreeOfASmallObjectPanics) {
  Region region(1 << 20);
  Heap heap;
  heap.init(region.start(), region.end());
  void* p = heap.allocate(40);
  void* keep = heap.allocate(40);  // keeps the slab alive after p's free
  (void)keep;
  heap.deallocate(p);
  EXPECT_DEATH(heap.deallocate(p), "double free");
}

TEST(HeapDeathTest, DoubleFreeOfALargeObjectPanics) {
  Region region(1 << 20);
  Heap heap;
  heap.init(region.start(), region.end());
  void* p = heap.allocate(20000);
  heap.deallocate(p);
  EXPECT_DEATH(heap.deallocate(p), "not allocated");
}

TEST(HeapDeathTest, ForeignAndInteriorPointersPanic) {
  Region region(1 << 20);
  Heap heap;
  heap.init(region.start(), region.end());
  int on_stack = 0;
  EXPECT_DEATH(heap.deallocate(&on_stack), "did not allocate");
  auto* large = static_cast<char*>(heap.allocate(20000));
  EXPECT_DEATH(heap.deallocate(large + 16), "inside the allocation");
  EXPECT_DEATH(heap.deallocate(large + 2 * Heap::kPageSize), "inside the allocation");
  auto* small = static_cast<char*>(heap.allocate(64));
  EXPECT_DEATH(heap.deallocate(small + 16), "not at its start");
}

TEST(HeapDeathTest, DamagedFreeListIsDetected) {
  Region region(1 << 20);
  Heap heap;
  heap.init(region.start(), region.end());
  auto* a = static_cast<uint32_t*>(heap.allocate(48));
  auto* b = static_cast<uint32_t*>(heap.allocate(48));
  heap.deallocate(b);
  heap.deallocate(a);
  *a = 12345;  // a write after free rewrites the free-list link (a -> b)
  // Handing out a reads that link to find the next free slot, and refuses it.
  EXPECT_DEATH(heap.allocate(48), "heap corruption");
  *a = 0;  // a link to an allocated slot is refused too
  *b = 0;
  heap.deallocate(heap.allocate(48));
}

TEST(HeapDeathTest, OutOfMemoryPanicsWithTheHeapState) {
  Region region(1 << 20);
  Heap heap;
  heap.init(region.start(), region.end());
  EXPECT_DEATH(heap.allocate(2 << 20),
               "out of memory: cannot allocate 2097152 bytes \\(alignment 16\\); 0 of [0-9]+ heap "
               "bytes in use");
  EXPECT_DEATH(heap.allocate(16, 3), "not a power of two");
}

TEST(HeapDeathTest, RegionTooSmallPanics) {
  alignas(4096) static uint8_t tiny[4096];
  Heap heap;
  EXPECT_DEATH(
      heap.init(reinterpret_cast<uintptr_t>(tiny), reinterpret_cast<uintptr_t>(tiny) + 4096),
      "too small");
}

}  // namespace
