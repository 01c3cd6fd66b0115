// Draining the console ring (abi::ConsoleRing): head is the guest's, tail the monitor's.
#include "tender/console.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "platform/abi/hvt_abi.h"

namespace morgana::tender {
void write_all(int fd, const uint8_t* data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stdout closed: the guest's output has nowhere to go
    data += n;
    len -= static_cast<size_t>(n);
  }
}

std::string ConsoleDrain::drain() {
  std::lock_guard lock(mutex_);
  if (broken_) return "";
  auto bytes = memory_.range(abi::kConsoleRingAddr, sizeof(abi::ConsoleRing));
  auto* ring = reinterpret_cast<abi::ConsoleRing*>(bytes->data());
  uint32_t head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
  uint32_t tail = __atomic_load_n(&ring->tail, __ATOMIC_RELAXED);
  uint32_t pending = head - tail;
  if (pending == 0) return "";
  if (pending > abi::kConsoleRingSize) {
    broken_ = true;
    return "console ring head " + std::to_string(head) + " is " + std::to_string(pending) +
           " bytes past tail " + std::to_string(tail);
  }
  uint32_t start = tail % abi::kConsoleRingSize;
  uint32_t first = std::min(pending, abi::kConsoleRingSize - start);
  // Keep the guest's output ordered before the monitor's own messages on stderr.
  fflush(stderr);
  write_all(STDOUT_FILENO, ring->data + start, first);
  write_all(STDOUT_FILENO, ring->data, pending - first);
  __atomic_store_n(&ring->tail, head, __ATOMIC_RELEASE);
  return "";
}

}  // namespace morgana::tender
