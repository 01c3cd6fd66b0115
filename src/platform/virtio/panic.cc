// A runtime panic in a virtio image: the message, registers and frame addresses on the
// serial console, after the output written before the panic (console_write_raw flushes it
// and waits for the virtio console to write it out), then the panic status through
// isa-debug-exit (`morgana run -t virtio` reports 250). There is no monitor to symbolise the
// frames: `morgana run` does it with addr2line, and by hand `addr2line -f -e IMAGE ADDRESS` does
// (docs/virtio.md).
#include <cstdio>

#include "morgana/platform/platform.h"
#include "morgana/rt/port.h"
#include "platform/virtio/virtio.h"

namespace morgana::rt::port {

void panic_halt(const PanicReport& report) {
  using platform::virtio::console_write_raw;
  // Static: the stack may be what went wrong.
  static char line[160];
  console_write_raw("virtio: guest panic: ");
  console_write_raw(report.message);
  snprintf(line, sizeof line, "\n  rip %016llx  rsp %016llx  rbp %016llx\n",
           static_cast<unsigned long long>(report.rip), static_cast<unsigned long long>(report.rsp),
           static_cast<unsigned long long>(report.rbp));
  console_write_raw(line);
  const uint64_t regs[] = {report.rax, report.rbx, report.rcx, report.rdx, report.rsi,
                           report.rdi, report.r8,  report.r9,  report.r10, report.r11,
                           report.r12, report.r13, report.r14, report.r15};
  const char* names[] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8 ",
                         "r9 ", "r10", "r11", "r12", "r13", "r14", "r15"};
  for (int i = 0; i < 14; ++i) {
    snprintf(line, sizeof line, "  %s %016llx%s", names[i],
             static_cast<unsigned long long>(regs[i]), i % 4 == 3 || i == 13 ? "\n" : "");
    console_write_raw(line);
  }
  console_write_raw("backtrace (addr2line -f -e IMAGE ADDRESS):\n");
  for (int i = 0; i < report.frame_count && i < kMaxBacktrace; ++i) {
    snprintf(line, sizeof line, "  #%-2d 0x%08llx\n", i,
             static_cast<unsigned long long>(report.frames[i]));
    console_write_raw(line);
  }
  platform::virtio::debug_exit(platform::virtio::kDebugExitPanic);
}

}  // namespace morgana::rt::port
