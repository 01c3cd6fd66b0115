// The allocator behind malloc and operator new in an image (see heap_allocator.h).
// Metadata lives apart from the memory handed out, so a buffer overrun cannot silently
// rewrite it; what is stored in free memory (slab free-list links) is validated on use.
#include "morgana/rt/heap_allocator.h"

#include <bit>

#include "morgana/rt/assert.h"

namespace morgana::rt {

// One descriptor per page. A run of pages is either free, a large allocation or a slab;
// its first page ("head") describes it and the others point back to it.
struct Heap::PageInfo {
  uint8_t kind;        // Kind below
  uint8_t size_class;  // kSlab: the class of its slots
  uint16_t used;       // kSlab: live objects
  uint32_t pages;      // run head, and free-run tail: the run's length
  uint32_t head;       // kInterior, and free-run tail: the run's first page
  uint32_t prev;       // kFree head: bin list; kSlab: partial list of its class
  uint32_t next;
  uint32_t free_slot;  // kSlab: 1 + index of the first free-listed slot, 0 if none
  uint32_t carved;     // kSlab: slots handed out so far from the never-used end
  uint32_t reserved;
};

namespace {

enum Kind : uint8_t {
  kFree = 0,  // part of a free run; only its head and tail descriptors are meaningful
  kLarge,     // head of a large allocation
  kSlab,      // head of a slab
  kInterior,  // another page of a large allocation or slab
};

constexpr size_t kPage = Heap::kPageSize;
constexpr size_t kGranule = Heap::kMinAlignment;

constexpr uint16_t kClassSize[Heap::kSizeClassCount] = {
    16,  32,  48,  64,  80,  96,  112, 128,  160,  192,  224,  256,
    320, 384, 448, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048};

// A slab spans enough pages to hold at least 8 slots (fewer slab turnovers for the big
// classes) with at most 1/8 of it wasted at the end.
constexpr uint32_t slab_pages_for(size_t size) {
  for (uint32_t n = 1;; ++n) {
    const size_t bytes = n * kPage;
    if (bytes >= 8 * size && (bytes % size) * 8 <= bytes) return n;
  }
}

struct ClassTable {
  uint8_t class_for_granules[Heap::kMaxSmallSize / kGranule + 1];
  uint32_t slab_pages[Heap::kSizeClassCount];
  uint32_t slots[Heap::kSizeClassCount];
};

constexpr ClassTable make_class_table() {
  ClassTable t{};
  int c = 0;
  for (size_t g = 0; g <= Heap::kMaxSmallSize / kGranule; ++g) {
    while (kClassSize[c] < g * kGranule) ++c;
    t.class_for_granules[g] = static_cast<uint8_t>(c);
  }
  for (int i = 0; i < Heap::kSizeClassCount; ++i) {
    t.slab_pages[i] = slab_pages_for(kClassSize[i]);
    t.slots[i] = static_cast<uint32_t>(t.slab_pages[i] * kPage / kClassSize[i]);
  }
  return t;
}
constexpr ClassTable kClasses = make_class_table();
static_assert(kClasses.slots[0] <= 0xffff, "PageInfo::used is 16 bits");

// The smallest class that fits `size` and whose slots (at multiples of the class size
// from a page-aligned slab) are all aligned to `alignment`; -1 if none.
int small_class_for(size_t size, size_t alignment) {
  if (size > Heap::kMaxSmallSize || alignment > Heap::kMaxSmallSize) return -1;
  for (int c = kClasses.class_for_granules[(size + kGranule - 1) / kGranule];
       c < Heap::kSizeClassCount; ++c) {
    if (kClassSize[c] % alignment == 0) return c;
  }
  return -1;
}

}  // namespace

void Heap::init(uintptr_t start, uintptr_t end) {
  static_assert(sizeof(PageInfo) == 32, "the metadata budget below assumes 32 bytes");
  if (initialized()) panic("heap: init called twice");
  const uintptr_t first = (start + kPage - 1) & ~(kPage - 1);
  const size_t total = end > first ? (end - first) / kPage : 0;
  // Each metadata page describes 64 data pages (64 bytes of metadata per page).
  size_t count = total * 64 / 65;
  while (count > 0 && count + (count * 64 + kPage - 1) / kPage > total) --count;
  if (count == 0 || count >= kNone) {
    panic("heap: region [%#lx, %#lx) is too small or too large for a heap",
          static_cast<unsigned long>(start), static_cast<unsigned long>(end));
  }
  pages_ = reinterpret_cast<PageInfo*>(first);
  slot_bits_ = reinterpret_cast<uint64_t*>(first + count * sizeof(PageInfo));
  base_ = first + (count * 64 + kPage - 1) / kPage * kPage;
  page_count_ = count;
  // Descriptors must start out as kFree: deallocate() reads the descriptor of whatever
  // page a bad pointer lands in. Slot bits are cleared when a slab is created.
  __builtin_memset(pages_, 0, count * sizeof(PageInfo));
  for (auto& head : bin_head_) head = kNone;
  for (auto& head : partial_head_) head = kNone;
  for (auto& slab : cached_empty_) slab = kNone;
  insert_free_run(0, static_cast<uint32_t>(count));
}

// ---- Page runs --------------------------------------------------------------------

Heap::PageInfo& Heap::info(uint32_t page) const {
  return pages_[page];
}

int Heap::bin_for(uint32_t pages) {
  if (pages <= kExactBins) return static_cast<int>(pages) - 1;
  return kExactBins + (std::bit_width(pages) - 7);  // 65..127 -> 64, 128..255 -> 65, ...
}

void Heap::insert_free_run(uint32_t first, uint32_t pages) {
  PageInfo& head = info(first);
  head.kind = kFree;
  head.pages = pages;
  PageInfo& tail = info(first + pages - 1);
  tail.kind = kFree;
  tail.head = first;
  tail.pages = pages;
  const int bin = bin_for(pages);
  head.prev = kNone;
  head.next = bin_head_[bin];
  if (head.next != kNone) info(head.next).prev = first;
  bin_head_[bin] = first;
  bin_nonempty_[bin / 64] |= uint64_t{1} << (bin % 64);
}

void Heap::remove_free_run(uint32_t first) {
  PageInfo& head = info(first);
  const int bin = bin_for(head.pages);
  if (head.prev != kNone)
    info(head.prev).next = head.next;
  else
    bin_head_[bin] = head.next;
  if (head.next != kNone) info(head.next).prev = head.prev;
  if (bin_head_[bin] == kNone) bin_nonempty_[bin / 64] &= ~(uint64_t{1} << (bin % 64));
}

uint32_t Heap::allocate_run(uint32_t pages) {
  int bin = bin_for(pages);
  uint32_t found = kNone;
  if (bin >= kExactBins) {
    // Mixed-size bin: first fit within it.
    for (uint32_t r = bin_head_[bin]; r != kNone; r = info(r).next) {
      if (info(r).pages >= pages) {
        found = r;
        break;
      }
    }
    ++bin;
  }
  if (found == kNone) {
    // Every run in a non-empty bin at or above `bin` is large enough: take the first.
    for (int word = bin / 64; word < 2 && found == kNone; ++word) {
      uint64_t bits = bin_nonempty_[word];
      if (word == bin / 64) bits &= ~uint64_t{0} << (bin % 64);
      if (bits != 0) found = bin_head_[word * 64 + std::countr_zero(bits)];
    }
  }
  if (found == kNone) return kNone;
  const uint32_t length = info(found).pages;
  remove_free_run(found);
  if (length > pages) insert_free_run(found + pages, length - pages);
  return found;
}

// Marks [first, first + pages) as one allocated run of `kind`.
void Heap::mark_allocated_run(uint32_t first, uint32_t pages, uint8_t kind) {
  PageInfo& head = info(first);
  head.kind = kind;
  head.pages = pages;
  for (uint32_t p = first + 1; p < first + pages; ++p) {
    info(p).kind = kInterior;
    info(p).head = first;
  }
}

// Returns a run to the free bins, merged with free neighbours on both sides.
void Heap::free_run(uint32_t first, uint32_t pages) {
  info(first).kind = kFree;  // a second free of this run now fails validation
  if (first > 0 && info(first - 1).kind == kFree) {
    const uint32_t left = info(first - 1).head;  // first - 1 is that run's tail
    pages += info(left).pages;
    remove_free_run(left);
    first = left;
  }
  const uint32_t right = first + pages;
  if (right < page_count_ && info(right).kind == kFree) {
    pages += info(right).pages;
    remove_free_run(right);
  }
  insert_free_run(first, pages);
}

void* Heap::allocate_large(size_t size, size_t alignment) {
  if (size > page_count_ * kPage) return nullptr;
  const uint32_t pages = static_cast<uint32_t>((size + kPage - 1) / kPage);
  // Over-aligned runs: take enough extra pages to find an aligned start, then give the
  // unused pages on either side back.
  const size_t extra = alignment > kPage ? alignment / kPage - 1 : 0;
  if (extra > page_count_ || pages + extra > page_count_) return nullptr;
  uint32_t first = allocate_run(static_cast<uint32_t>(pages + extra));
  if (first == kNone) {
    release_cached_slabs();
    first = allocate_run(static_cast<uint32_t>(pages + extra));
    if (first == kNone) return nullptr;
  }
  if (extra > 0) {
    const uintptr_t address = page_address(first);
    const uintptr_t aligned = (address + alignment - 1) & ~(alignment - 1);
    const uint32_t lead = static_cast<uint32_t>((aligned - address) / kPage);
    const uint32_t trail = static_cast<uint32_t>(extra) - lead;
    // Mark everything allocated first so the trimmed pieces merge only outwards.
    mark_allocated_run(first, static_cast<uint32_t>(pages + extra), kLarge);
    if (trail > 0) {
      mark_allocated_run(first + lead + pages, trail, kLarge);
      free_run(first + lead + pages, trail);
    }
    if (lead > 0) {
      mark_allocated_run(first, lead, kLarge);
      free_run(first, lead);
    }
    first += lead;
  }
  mark_allocated_run(first, pages, kLarge);
  account(pages * kPage, true);
  return reinterpret_cast<void*>(page_address(first));
}

void Heap::free_large(uint32_t first) {
  const uint32_t pages = info(first).pages;
  account(pages * kPage, false);
  free_run(first, pages);
}

// ---- Slabs --------------------------------------------------------------------------

bool Heap::slot_bit(uintptr_t address) const {
  const size_t granule = (address - base_) / kGranule;
  return (slot_bits_[granule / 64] >> (granule % 64)) & 1;
}

void Heap::set_slot_bit(uintptr_t address, bool value) {
  const size_t granule = (address - base_) / kGranule;
  const uint64_t mask = uint64_t{1} << (granule % 64);
  if (value)
    slot_bits_[granule / 64] |= mask;
  else
    slot_bits_[granule / 64] &= ~mask;
}

void Heap::link_partial(uint32_t slab) {
  PageInfo& s = info(slab);
  s.prev = kNone;
  s.next = partial_head_[s.size_class];
  if (s.next != kNone) info(s.next).prev = slab;
  partial_head_[s.size_class] = slab;
}

void Heap::unlink_partial(uint32_t slab) {
  PageInfo& s = info(slab);
  if (s.prev != kNone)
    info(s.prev).next = s.next;
  else
    partial_head_[s.size_class] = s.next;
  if (s.next != kNone) info(s.next).prev = s.prev;
}

uint32_t Heap::new_slab(int size_class) {
  const uint32_t pages = kClasses.slab_pages[size_class];
  uint32_t slab = allocate_run(pages);
  if (slab == kNone) {
    release_cached_slabs();
    slab = allocate_run(pages);
    if (slab == kNone) return kNone;
  }
  mark_allocated_run(slab, pages, kSlab);
  PageInfo& s = info(slab);
  s.size_class = static_cast<uint8_t>(size_class);
  s.used = 0;
  s.free_slot = 0;
  s.carved = 0;  // slots are carved on demand, so a new slab costs O(1) to set up
  // Clear this slab's slot bits: 4 KiB of pages are 256 granules, 4 words.
  const size_t word = (page_address(slab) - base_) / kGranule / 64;
  __builtin_memset(slot_bits_ + word, 0, pages * (kPage / kGranule / 8));
  link_partial(slab);
  return slab;
}

void Heap::release_slab(uint32_t slab) {
  unlink_partial(slab);
  free_run(slab, info(slab).pages);
}

// Gives cached empty slabs back to the page allocator, so their pages can coalesce.
void Heap::release_cached_slabs() {
  for (auto& cached : cached_empty_) {
    if (cached != kNone) release_slab(cached);
    cached = kNone;
  }
}

void* Heap::allocate_small(int size_class) {
  uint32_t slab = partial_head_[size_class];
  if (slab == kNone) {
    slab = new_slab(size_class);
    if (slab == kNone) return nullptr;
  }
  if (cached_empty_[size_class] == slab) cached_empty_[size_class] = kNone;
  PageInfo& s = info(slab);
  const size_t size = kClassSize[size_class];
  const uint32_t slots = kClasses.slots[size_class];
  uintptr_t address;
  if (s.free_slot != 0) {
    address = page_address(slab) + (s.free_slot - 1) * size;
    // The link was stored in freed memory; a write after free may have changed it.
    uint32_t next;
    __builtin_memcpy(&next, reinterpret_cast<void*>(address), sizeof(next));
    if (slot_bit(address) || next > s.carved ||
        (next != 0 && slot_bit(page_address(slab) + (next - 1) * size))) {
      panic(
          "heap corruption: free list of the %zu-byte slab at %#lx is damaged (write after free?)",
          size, static_cast<unsigned long>(page_address(slab)));
    }
    s.free_slot = next;
  } else {
    address = page_address(slab) + s.carved * size;
    ++s.carved;
  }
  set_slot_bit(address, true);
  if (++s.used == slots) unlink_partial(slab);
  account(size, true);
  return reinterpret_cast<void*>(address);
}

void Heap::free_small(uint32_t slab, uintptr_t address) {
  PageInfo& s = info(slab);
  const size_t size = kClassSize[s.size_class];
  const uintptr_t offset = address - page_address(slab);
  if (offset % size != 0 || offset / size >= s.carved) {
    panic("heap: free of %#lx, which is inside a %zu-byte slot, not at its start",
          static_cast<unsigned long>(address), size);
  }
  if (!slot_bit(address)) {
    panic("heap: double free of %#lx (%zu-byte slot)", static_cast<unsigned long>(address), size);
  }
  set_slot_bit(address, false);
  const uint32_t link = s.free_slot;
  __builtin_memcpy(reinterpret_cast<void*>(address), &link, sizeof(link));
  s.free_slot = static_cast<uint32_t>(offset / size) + 1;
  if (s.used-- == kClasses.slots[s.size_class]) link_partial(slab);
  account(size, false);
  if (s.used == 0) {
    // Keep one empty slab per class so alternating malloc/free of one object does not
    // create and destroy a slab each time; any other empty slab goes back as pages.
    uint32_t& cached = cached_empty_[s.size_class];
    if (cached == kNone)
      cached = slab;
    else if (cached != slab)
      release_slab(slab);
  }
}

// ---- Entry points ---------------------------------------------------------------------

void* Heap::try_allocate(size_t size, size_t alignment) {
  if (!initialized()) panic("heap: used before init");
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) return nullptr;
  if (alignment < kMinAlignment) alignment = kMinAlignment;
  if (size == 0) size = 1;
  const int size_class = small_class_for(size, alignment);
  if (size_class >= 0) {
    void* p = allocate_small(size_class);
    if (p != nullptr) return p;
    // No page for a new slab; a slot in a larger class may still be free, but falling
    // back to it would hide fragmentation rather than cure it.
    return nullptr;
  }
  return allocate_large(size, alignment);
}

void* Heap::allocate(size_t size, size_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    panic("heap: alignment %zu is not a power of two", alignment);
  }
  void* p = try_allocate(size, alignment);
  if (p == nullptr) out_of_memory(size, alignment);
  return p;
}

// Finds the run holding `address` and checks that `address` starts an allocation;
// returns the run's first page.
uint32_t Heap::owning_run(uintptr_t address, const char* operation) const {
  if (!owns(reinterpret_cast<const void*>(address))) {
    panic("heap: %s of %#lx, which this heap did not allocate", operation,
          static_cast<unsigned long>(address));
  }
  const uint32_t page = static_cast<uint32_t>((address - base_) / kPage);
  uint32_t first = page;
  if (info(page).kind == kInterior) {
    // Interior descriptors can be stale after their run was freed; trust them only if
    // the head they name is a live run that still covers this page.
    first = info(page).head;
    const PageInfo& head = info(first);
    if (first >= page || (head.kind != kLarge && head.kind != kSlab) || first + head.pages <= page)
      first = kNone;
  }
  const uint8_t kind = first == kNone ? uint8_t{kFree} : info(first).kind;
  if (kind == kFree) {
    panic("heap: %s of %#lx, which is not allocated (double free?)", operation,
          static_cast<unsigned long>(address));
  }
  if (kind == kLarge && address != page_address(first)) {
    panic("heap: %s of %#lx, which is inside the allocation at %#lx", operation,
          static_cast<unsigned long>(address), static_cast<unsigned long>(page_address(first)));
  }
  return first;
}

void Heap::deallocate(void* ptr) {
  if (ptr == nullptr) return;
  const auto address = reinterpret_cast<uintptr_t>(ptr);
  const uint32_t first = owning_run(address, "free");
  if (info(first).kind == kSlab)
    free_small(first, address);
  else
    free_large(first);
}

size_t Heap::usable_size(const void* ptr) const {
  const auto address = reinterpret_cast<uintptr_t>(ptr);
  const uint32_t first = owning_run(address, "usable_size");
  const PageInfo& head = info(first);
  if (head.kind == kSlab) {
    if (!slot_bit(address)) {
      panic("heap: usable_size of %#lx, which is not allocated",
            static_cast<unsigned long>(address));
    }
    return kClassSize[head.size_class];
  }
  return head.pages * kPage;
}

void Heap::account(size_t bytes, bool allocated) {
  if (allocated) {
    bytes_in_use_ += bytes;
    ++allocations_;
    if (bytes_in_use_ > peak_bytes_in_use_) peak_bytes_in_use_ = bytes_in_use_;
  } else {
    bytes_in_use_ -= bytes;
    ++frees_;
  }
}

HeapStats Heap::stats() const {
  return HeapStats{page_count_ * kPage, bytes_in_use_, peak_bytes_in_use_, allocations_, frees_};
}

size_t Heap::largest_free_run() const {
  for (int bin = kBinCount - 1; bin >= 0; --bin) {
    uint32_t largest = 0;
    for (uint32_t r = bin_head_[bin]; r != kNone; r = info(r).next) {
      if (info(r).pages > largest) largest = info(r).pages;
    }
    if (largest > 0) return largest * kPage;
  }
  return 0;
}

void Heap::out_of_memory(size_t size, size_t alignment) const {
  panic(
      "out of memory: cannot allocate %zu bytes (alignment %zu); %zu of %zu heap bytes in "
      "use (peak %zu), largest free run %zu bytes",
      size, alignment, bytes_in_use_, page_count_ * kPage, peak_bytes_in_use_, largest_free_run());
}

}  // namespace morgana::rt
