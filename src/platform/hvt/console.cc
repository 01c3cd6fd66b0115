// Console output for hvt images: bytes go into the shared ring (abi::ConsoleRing) that
// the monitor drains at every exit and from its I/O thread, so printing costs no exit.
// Only a full ring makes the guest exit, to let the monitor drain it.
#include "morgana/platform/platform.h"
#include "morgana/rt/port.h"
#include "platform/hvt/call.h"

namespace morgana::platform {
namespace {

abi::ConsoleRing& ring() {
  return *reinterpret_cast<abi::ConsoleRing*>(hvt::boot_info().console_ring);
}

// Asks the monitor to drain the ring now (a console_write call with no bytes).
void drain() {
  abi::ConsoleWriteArgs args{0, 0};
  hvt::call(abi::Call::kConsoleWrite, &args);
}

}  // namespace

void console_write(std::string_view text) {
  abi::ConsoleRing& r = ring();
  while (!text.empty()) {
    uint32_t head = r.head;  // only the guest writes head
    uint32_t tail = __atomic_load_n(&r.tail, __ATOMIC_ACQUIRE);
    uint32_t space = abi::kConsoleRingSize - (head - tail);
    if (space == 0) {
      drain();
      continue;
    }
    uint32_t n = space < text.size() ? space : static_cast<uint32_t>(text.size());
    for (uint32_t i = 0; i < n; ++i) r.data[(head + i) % abi::kConsoleRingSize] = text[i];
    __atomic_store_n(&r.head, head + n, __ATOMIC_RELEASE);
    text.remove_prefix(n);
  }
}

// The ring is drained by the monitor at the next exit; halt and yield are exits.
void console_flush() {}

}  // namespace morgana::platform

namespace morgana::rt::port {
void console_write(std::string_view text) {
  platform::console_write(text);
}
}  // namespace morgana::rt::port
