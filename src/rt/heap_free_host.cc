// heap_free_bytes() and heap_size_bytes() on the host: unix images and tests allocate from glibc's
// heap, which has no fixed size here, so there is never a reserve to protect.
#include <cstdint>

#include "morgana/rt/heap.h"

namespace morgana::rt {

size_t heap_free_bytes() {
  return SIZE_MAX;
}

size_t heap_size_bytes() {
  return 0;
}

}  // namespace morgana::rt
