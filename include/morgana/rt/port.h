// What the guest runtime (src/rt) needs from the platform beneath the application. The
// runtime is the lowest layer, so it only declares these; the hvt platform defines them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace morgana::rt {

inline constexpr int kMaxBacktrace = 32;

// What a panic hands to the platform: the formatted message, the registers at the
// panic call and the return addresses found by walking frame pointers.
struct PanicReport {
  std::string_view message;
  uint64_t rip, rsp, rbp;
  uint64_t rax, rbx, rcx, rdx, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15;
  int frame_count;
  uint64_t frames[kMaxBacktrace];
};

namespace port {
// Appends to the console (buffered by the platform).
void console_write(std::string_view text);
// Ends the image with the panic exit status after reporting; the monitor prints the
// report with symbolised frames.
[[noreturn]] void panic_halt(const PanicReport& report);
// The heap the allocator may use: [start, end).
void heap_region(uintptr_t* start, uintptr_t* end);
}  // namespace port

}  // namespace morgana::rt
