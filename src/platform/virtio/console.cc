// Console output for virtio images. Bytes collect in a buffer; a flush hands it to the
// virtio console when the machine has one (virtio_console.h: one notify, one exit, per
// flush) and else to the 16550 UART (COM1) with one `rep outsb`, which costs an exit per
// byte on kvm-pvm (DESIGN.md §4a; one per string where KVM batches string I/O). The
// buffer is flushed when full, at yield() and halt(), and at a newline once its oldest
// byte has waited over 1 ms: a burst of lines costs one flush, and an image that computes
// without yielding still shows its lines about every millisecond.
//
// The UART stays for what must come out without the device: output before devices are up,
// boot failures, device reports, panics (console_write_raw) and the ring-0 fault report
// (kernel.cc). The virtio console writes asynchronously, so console_write_raw first waits
// until the device has written everything it was given: output stays in order.
//
// The transmitter's status (LSR) is not polled: QEMU's UART never refuses a byte, and a
// poll would cost an exit per byte on kvm-pvm. A real 16550 would need it.
#include <cstring>

#include "morgana/platform/platform.h"
#include "morgana/rt/port.h"
#include "platform/virtio/virtio.h"
#include "platform/virtio/virtio_console.h"

namespace morgana::platform {
namespace {

constexpr uint64_t kLineDelayNs = 1'000'000;

char g_buffer[virtio::kConsoleBufferSize];
size_t g_used;
uint64_t g_oldest_ns;  // when the first byte now in g_buffer was written
bool g_flushing;       // a flush is in the driver: a panic there goes to the UART directly

void write_uart(std::string_view text) {
  const char* data = text.data();
  size_t len = text.size();
  asm volatile("rep outsb" : "+S"(data), "+c"(len) : "d"(virtio::kSerialPort) : "memory");
}

void say_given_up() {
  write_uart(
      "virtio: the virtio console kept its buffers for 10 s; console output goes to the serial "
      "port from here\n");
}

}  // namespace

namespace virtio {

// The bytes not yet flushed; the transmit queue's indices are set by virtio_console.cc.
ConsoleFaultView g_console_fault_view{g_buffer, &g_used, nullptr, nullptr};

void console_sync() {
  console_flush();
  if (!g_flushing && virtio_console_active() && !virtio_console_drain()) say_given_up();
}

void console_write_raw(std::string_view text) {
  console_sync();
  write_uart(text);
}

}  // namespace virtio

void console_write(std::string_view text) {
  bool newline = false;
  while (!text.empty()) {
    if (g_used == sizeof g_buffer) console_flush();
    const size_t n =
        text.size() < sizeof g_buffer - g_used ? text.size() : sizeof g_buffer - g_used;
    if (g_used == 0) g_oldest_ns = monotonic_ns();
    memcpy(g_buffer + g_used, text.data(), n);
    newline = newline || memchr(text.data(), '\n', n) != nullptr;
    g_used += n;
    text.remove_prefix(n);
  }
  if (newline && g_used > 0 && monotonic_ns() - g_oldest_ns > kLineDelayNs) console_flush();
}

void console_flush() {
  if (g_used == 0) return;
  const std::string_view staged(g_buffer, g_used);
  if (g_flushing || !virtio::virtio_console_active()) {
    write_uart(staged);
  } else {
    g_flushing = true;
    if (!virtio::virtio_console_send(staged)) {
      say_given_up();
      write_uart(staged);
    }
    g_flushing = false;
  }
  g_used = 0;
}

}  // namespace morgana::platform

namespace morgana::rt::port {
void console_write(std::string_view text) {
  platform::console_write(text);
}
}  // namespace morgana::rt::port
