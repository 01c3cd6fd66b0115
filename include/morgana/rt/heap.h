// Allocator statistics, readable by the application on every target.
#pragma once

#include <cstddef>

namespace morgana::rt {

struct HeapStats {
  size_t heap_size;     // bytes the allocator manages (0 on unix: unbounded)
  size_t bytes_in_use;  // requested bytes currently allocated
  size_t peak_bytes_in_use;
  size_t allocations;  // calls that returned memory, since boot
  size_t frees;
};

HeapStats heap_stats();

// Bytes the heap can still hand out (heap size less bytes in use; fragmentation may make
// a large allocation fail earlier). SIZE_MAX on unix, whose heap is unbounded. Layers
// that create long-lived state on a peer's request (TCP connections) check it to keep a
// reserve for the application.
size_t heap_free_bytes();
// The heap's size in bytes; 0 on unix (unbounded).
size_t heap_size_bytes();

}  // namespace morgana::rt
