// Hands a runtime panic report to the monitor, which prints it with symbolised frames
// and exits with abi::kExitPanic.
#include "morgana/platform/platform.h"
#include "morgana/rt/port.h"
#include "platform/hvt/call.h"

namespace morgana::rt::port {

void panic_halt(const PanicReport& report) {
  // Static: the stack may be what went wrong.
  static abi::PanicInfo info;
  info.message = reinterpret_cast<uintptr_t>(report.message.data());
  info.message_len = report.message.size();
  info.rip = report.rip, info.rsp = report.rsp, info.rbp = report.rbp;
  info.rax = report.rax, info.rbx = report.rbx, info.rcx = report.rcx, info.rdx = report.rdx;
  info.rsi = report.rsi, info.rdi = report.rdi, info.r8 = report.r8, info.r9 = report.r9;
  info.r10 = report.r10, info.r11 = report.r11, info.r12 = report.r12, info.r13 = report.r13;
  info.r14 = report.r14, info.r15 = report.r15;
  int frames = report.frame_count;
  if (frames < 0) frames = 0;
  if (frames > static_cast<int>(abi::kMaxPanicFrames)) frames = abi::kMaxPanicFrames;
  info.frame_count = frames;
  for (int i = 0; i < frames; ++i) info.frames[i] = report.frames[i];
  abi::HaltArgs args{abi::kExitPanic, 0, reinterpret_cast<uintptr_t>(&info)};
  platform::hvt::call(abi::Call::kHalt, &args);
  __builtin_unreachable();
}

}  // namespace morgana::rt::port
