// The malloc family of the image's C library, over one global Heap. Running out of
// memory panics with the heap's state (DESIGN.md §5: never silent corruption); only
// requests that are invalid in themselves (an overflowing calloc, a bad alignment)
// return NULL with errno set, as C specifies.
#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "morgana/rt/heap.h"
#include "morgana/rt/port.h"
#include "rt/global_heap.h"

namespace morgana::rt {
namespace {

// constinit: malloc may run inside static constructors, before any dynamic initialiser
// of this file would have; a constant-initialised Heap is ready from the first instruction.
constinit Heap heap;

bool is_power_of_two(size_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace

Heap& global_heap() {
  if (!heap.initialized()) [[unlikely]] {
    uintptr_t start = 0, end = 0;
    port::heap_region(&start, &end);
    heap.init(start, end);
  }
  return heap;
}

HeapStats heap_stats() {
  return global_heap().stats();
}

size_t heap_size_bytes() {
  return global_heap().stats().heap_size;
}

size_t heap_free_bytes() {
  HeapStats stats = global_heap().stats();
  return stats.heap_size > stats.bytes_in_use ? stats.heap_size - stats.bytes_in_use : 0;
}

}  // namespace morgana::rt

using morgana::rt::global_heap;

extern "C" {

void* malloc(size_t size) {
  return global_heap().allocate(size);
}

void free(void* ptr) {
  if (ptr != nullptr) global_heap().deallocate(ptr);
}

void* calloc(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  void* p = global_heap().allocate(total);
  // Slab slots are reused without clearing, so zero them here.
  __builtin_memset(p, 0, total);
  return p;
}

void* realloc(void* ptr, size_t size) {
  if (ptr == nullptr) return malloc(size);
  if (size == 0) {  // glibc's choice: free and return NULL
    free(ptr);
    return nullptr;
  }
  morgana::rt::Heap& heap = global_heap();
  const size_t usable = heap.usable_size(ptr);
  // Stay in place when it fits, unless a large block would be mostly empty.
  if (size <= usable && (usable <= morgana::rt::Heap::kMaxSmallSize || size > usable / 2)) {
    return ptr;
  }
  void* fresh = heap.allocate(size);
  __builtin_memcpy(fresh, ptr, size < usable ? size : usable);
  heap.deallocate(ptr);
  return fresh;
}

void* aligned_alloc(size_t alignment, size_t size) {
  if (!morgana::rt::is_power_of_two(alignment)) {
    errno = EINVAL;
    return nullptr;
  }
  return global_heap().allocate(size, alignment);
}

void* memalign(size_t alignment, size_t size) {
  return aligned_alloc(alignment, size);
}

int posix_memalign(void** out, size_t alignment, size_t size) {
  if (!morgana::rt::is_power_of_two(alignment) || alignment % sizeof(void*) != 0) return EINVAL;
  *out = global_heap().allocate(size, alignment);
  return 0;
}

size_t malloc_usable_size(void* ptr) {
  return ptr == nullptr ? 0 : global_heap().usable_size(ptr);
}

}  // extern "C"
