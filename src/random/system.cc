// random::system(): the image-wide generator over the platform's boot seed.
#include "morgana/random/system.h"

#include "morgana/platform/platform.h"

namespace morgana::random {

ChaCha20Rng& system() {
  // Constructed on first use (guards are single-threaded in images), so the platform's
  // boot seed is in place however early the first caller runs.
  static ChaCha20Rng rng = ChaCha20Rng::from_seed(platform::boot_seed(), MixRdrand::kYes);
  return rng;
}

}  // namespace morgana::random
