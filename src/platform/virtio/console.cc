// Console output for virtio images: a 16550 UART (COM1). Bytes collect in a buffer and
// go out with one `rep outsb`, which KVM passes to QEMU as one exit for the whole string
// instead of one per byte. The buffer is flushed at a newline when the last flush is
// over 1 ms old, when full, and at yield() and halt().
//
// The transmitter's status (LSR) is not polled: QEMU's UART never refuses a byte, and a
// poll would cost an exit per byte on kvm-pvm. A real 16550 would need it.
#include <cstring>

#include "morgana/platform/platform.h"
#include "morgana/rt/port.h"
#include "platform/virtio/virtio.h"

namespace morgana::platform {
namespace {

char g_buffer[4096];
size_t g_used;
uint64_t g_last_flush_ns;

void write_uart(const char* data, size_t len) {
  asm volatile("rep outsb" : "+S"(data), "+c"(len) : "d"(virtio::kSerialPort) : "memory");
}

}  // namespace

namespace virtio {
void console_write_raw(std::string_view text) {
  console_flush();
  write_uart(text.data(), text.size());
}
}  // namespace virtio

void console_write(std::string_view text) {
  bool newline = false;
  while (!text.empty()) {
    if (g_used == sizeof g_buffer) console_flush();
    const size_t n =
        text.size() < sizeof g_buffer - g_used ? text.size() : sizeof g_buffer - g_used;
    memcpy(g_buffer + g_used, text.data(), n);
    newline = newline || memchr(text.data(), '\n', n) != nullptr;
    g_used += n;
    text.remove_prefix(n);
  }
  if (newline && monotonic_ns() - g_last_flush_ns > 1000000) console_flush();
}

void console_flush() {
  if (g_used == 0) return;
  write_uart(g_buffer, g_used);
  g_used = 0;
  g_last_flush_ns = monotonic_ns();
}

}  // namespace morgana::platform

namespace morgana::rt::port {
void console_write(std::string_view text) {
  platform::console_write(text);
}
}  // namespace morgana::rt::port
