// The image's own randomness source: a ChaCha20Rng keyed on first use with the boot
// seed the host supplied (platform::boot_seed(), from getrandom on the host) mixed with
// RDRAND where the CPU has it. TCP sequence numbers, SYN cookies and DNS IDs draw from it.
#pragma once

#include "morgana/random/random.h"

namespace morgana::random {

// One generator per image (one thread, DESIGN.md §1.3): not to be shared across threads
// on the unix target.
ChaCha20Rng& system();

}  // namespace morgana::random
