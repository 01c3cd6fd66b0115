// The one Heap behind malloc and operator new in an image, set up on first use from the
// region the platform names (rt::port::heap_region).
#pragma once

#include "morgana/rt/heap_allocator.h"

namespace morgana::rt {

Heap& global_heap();

}  // namespace morgana::rt
