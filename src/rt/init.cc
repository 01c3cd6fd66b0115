// The static-constructor runner for images (see include/morgana/rt/init.h).
#include "morgana/rt/init.h"

// Defined by cmake/guest.ld around the sorted .init_array input sections.
extern "C" {
extern void (*const __init_array_start[])();
extern void (*const __init_array_end[])();
}

namespace morgana::rt {

void run_constructors() {
  static bool done = false;
  if (done) return;
  done = true;  // set first: a constructor that (indirectly) calls us must not recurse
  for (auto* entry = __init_array_start; entry != __init_array_end; ++entry) (*entry)();
}

}  // namespace morgana::rt
