// morgana::panic in an image: format the message, capture the registers and a
// frame-pointer backtrace, and hand the report to the platform, which prints it (the
// monitor symbolises the frames from the ELF file) and halts with status 250.
//
// Built with -fno-stack-protector (src/rt/CMakeLists.txt): a panic may be reporting a
// smashed stack, and must not depend on it.
#include <cstdarg>
#include <cstdint>

#include "morgana/rt/assert.h"
#include "morgana/rt/format.h"
#include "morgana/rt/port.h"

// The image's code, from cmake/guest.ld: a return address outside it ends the walk.
extern "C" const char __image_start[], _etext[];

namespace morgana {
namespace {

// Static, not on the stack: the stack may be nearly exhausted or damaged.
char message_buffer[1024];
rt::PanicReport report;
int panic_depth = 0;

constexpr uint64_t kMaxStackWalk = 1 << 20;  // frames lie at most 1 MiB above rsp

// Follows the saved-rbp chain (all guest code keeps frame pointers). Each step must move
// strictly upwards within the bound above rsp, and each return address must point into
// the image's code, so a corrupted chain (a smashed stack) ends the walk instead of
// faulting, looping or reporting junk.
int walk_frames(uint64_t rbp, uint64_t rsp, uint64_t* frames) {
  int count = 0;
  uint64_t fp = rbp;
  while (count < rt::kMaxBacktrace) {
    if (fp == 0 || fp % 8 != 0 || fp < rsp || fp - rsp > kMaxStackWalk - 16) break;
    const auto* frame = reinterpret_cast<const uint64_t*>(fp);
    const uint64_t return_address = frame[1];
    if (return_address <= reinterpret_cast<uintptr_t>(__image_start) ||
        return_address > reinterpret_cast<uintptr_t>(_etext)) {
      break;
    }
    frames[count++] = return_address;
    const uint64_t next = frame[0];
    if (next <= fp) break;
    fp = next;
  }
  return count;
}

}  // namespace

void panic(const char* format, ...) {
  // First, before the registers change: the values the caller left (rdi holds `format`,
  // rsi..r9 the first arguments) and this frame's rsp/rbp for the walk.
  asm volatile(
      "movq %%rax, %0\n\t"
      "movq %%rbx, %1\n\t"
      "movq %%rcx, %2\n\t"
      "movq %%rdx, %3\n\t"
      "movq %%rsi, %4\n\t"
      "movq %%rdi, %5\n\t"
      "movq %%r8, %6\n\t"
      "movq %%r9, %7\n\t"
      "movq %%r10, %8\n\t"
      "movq %%r11, %9\n\t"
      "movq %%r12, %10\n\t"
      "movq %%r13, %11\n\t"
      "movq %%r14, %12\n\t"
      "movq %%r15, %13\n\t"
      "movq %%rsp, %14\n\t"
      "movq %%rbp, %15\n\t"
      : "=m"(report.rax), "=m"(report.rbx), "=m"(report.rcx), "=m"(report.rdx), "=m"(report.rsi),
        "=m"(report.rdi), "=m"(report.r8), "=m"(report.r9), "=m"(report.r10), "=m"(report.r11),
        "=m"(report.r12), "=m"(report.r13), "=m"(report.r14), "=m"(report.r15), "=m"(report.rsp),
        "=m"(report.rbp));
  asm volatile("leaq 0(%%rip), %0" : "=r"(report.rip));

  ++panic_depth;
  if (panic_depth > 2) {
    // Even the minimal report below failed; trap so the monitor reports a fault.
    for (;;) __builtin_trap();
  }
  if (panic_depth == 2) {
    // Panicking while building or printing a report (say, in the formatter). Format
    // nothing: put the second panic's raw format string on the console and report the
    // first message if it was complete.
    rt::port::console_write("panic while reporting a panic: ");
    rt::port::console_write(format);
    rt::port::console_write("\n");
    if (report.message.empty()) report.message = "panic while formatting a panic message";
    report.frame_count = walk_frames(report.rbp, report.rsp, report.frames);
    rt::port::panic_halt(report);
  }

  va_list args;
  va_start(args, format);
  int length = rt::vformat(message_buffer, sizeof(message_buffer), format, args);
  va_end(args);
  if (length < 0) length = 0;
  if (static_cast<size_t>(length) >= sizeof(message_buffer)) {
    // Mark truncation so a reader does not take a cut message for the whole story.
    length = sizeof(message_buffer) - 1;
    for (int i = 1; i <= 3; ++i) message_buffer[length - i] = '.';
  }
  report.message = std::string_view(message_buffer, static_cast<size_t>(length));
  report.frame_count = walk_frames(report.rbp, report.rsp, report.frames);
  rt::port::panic_halt(report);
}

}  // namespace morgana
