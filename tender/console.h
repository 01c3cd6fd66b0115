// The guest's console ring, drained to stdout by whichever monitor thread gets there
// first: the vCPU thread at every exit, the I/O thread periodically while the guest
// runs (so output appears without an exit).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "tender/guest_memory.h"

namespace morgana::tender {

// write(2) until done; gives up silently when the descriptor is closed.
void write_all(int fd, const uint8_t* data, size_t len);

class ConsoleDrain {
 public:
  explicit ConsoleDrain(const GuestMemory& memory) : memory_(memory) {}

  // Copies tail..head to stdout. Returns "" or, when the guest wrote impossible
  // indices, a message; the ring is then left alone for good.
  std::string drain();

 private:
  const GuestMemory& memory_;
  std::mutex mutex_;
  bool broken_ = false;
};

}  // namespace morgana::tender
