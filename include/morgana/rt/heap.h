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

}  // namespace morgana::rt
