// The unix target's panic and fault reporting: the message and a symbolised backtrace
// on stderr, then the exit statuses morgana-hvt uses (250 panic, 251 fault; DESIGN.md §4).
#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "morgana/platform/platform.h"
#include "morgana/rt/assert.h"
#include "platform/unix/unix_platform.h"

namespace morgana {
namespace {

using platform::unix_target::write_all;

constexpr int kMaxFrames = 64;

enum class Demangle { kYes, kNo };
enum class FrameKind { kReturnAddress, kFaultingInstruction };

// Prints "  #i 0xADDR function+0xOFF (file)". Names come from the dynamic symbol table
// (the library links with -rdynamic); functions with internal linkage show as file+offset.
// Demangling allocates, so a fault handler, which may have interrupted malloc, asks for
// the raw names instead.
void print_frame(int index, uintptr_t pc, FrameKind kind, Demangle demangle) {
  // A return address points after its call, which for a call to a noreturn function is
  // past the end of the caller: look up the byte before it. A faulting instruction's
  // address is exact.
  uintptr_t lookup = kind == FrameKind::kReturnAddress && pc != 0 ? pc - 1 : pc;
  Dl_info info{};
  const char* name = nullptr;
  const char* file = "?";
  uintptr_t offset = pc;
  if (dladdr(reinterpret_cast<void*>(lookup), &info) != 0) {
    if (info.dli_fname != nullptr) file = info.dli_fname;
    if (info.dli_sname != nullptr) {
      name = info.dli_sname;
      offset = pc - reinterpret_cast<uintptr_t>(info.dli_saddr);
    } else {
      offset = pc - reinterpret_cast<uintptr_t>(info.dli_fbase);
    }
  }
  char* demangled = nullptr;
  if (name != nullptr && demangle == Demangle::kYes) {
    int status = 0;
    demangled = ::abi::__cxa_demangle(name, nullptr, nullptr, &status);
    if (status == 0 && demangled != nullptr) name = demangled;
  }
  char line[1024];
  int n = name != nullptr ? std::snprintf(line, sizeof(line), "  #%d 0x%lx %s+0x%lx (%s)\n", index,
                                          (unsigned long)pc, name, (unsigned long)offset, file)
                          : std::snprintf(line, sizeof(line), "  #%d 0x%lx (%s+0x%lx)\n", index,
                                          (unsigned long)pc, file, (unsigned long)offset);
  std::free(demangled);
  if (n > 0)
    write_all(STDERR_FILENO, std::string_view(line, std::min(size_t(n), sizeof(line) - 1)));
}

// `skip` frames are dropped from the top: the reporting functions themselves.
__attribute__((noinline)) void print_backtrace(int skip) {
  void* frames[kMaxFrames];
  int count = backtrace(frames, kMaxFrames);
  write_all(STDERR_FILENO, "backtrace:\n");
  for (int i = skip; i < count; ++i) {
    print_frame(i - skip, reinterpret_cast<uintptr_t>(frames[i]), FrameKind::kReturnAddress,
                Demangle::kYes);
  }
}

// A second panic while reporting the first (say, the backtrace code failing) must not
// recurse; it ends the process with what has been printed so far.
volatile sig_atomic_t g_panicking = 0;

const char* signal_name(int signal) {
  switch (signal) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGILL:
      return "SIGILL";
    case SIGFPE:
      return "SIGFPE";
    case SIGABRT:
      return "SIGABRT";
    default:
      return "signal";
  }
}

// Runs on the alternate stack, so a stack overflow is reported too. The fault may have
// happened inside malloc or stdio with their locks held, so this allocates nothing and
// touches no FILE: write(), snprintf into a local buffer, dladdr.
void on_fatal_signal(int signal, siginfo_t* info, void* context) {
  if (g_panicking) _exit(abi::kExitPanic);
  g_panicking = 1;
  platform::console_flush();
  // abort() is how libstdc++ ends the process (an uncaught exception, a failed
  // std::__throw_*) and how glibc reports heap corruption; in an image those are
  // panics, so here they are too.
  const bool is_abort = signal == SIGABRT;
  char header[128];
  int n = is_abort ? std::snprintf(header, sizeof(header), "panic: abort() called (SIGABRT)\n")
                   : std::snprintf(header, sizeof(header), "fault: %s at address %p\n",
                                   signal_name(signal), info->si_addr);
  write_all(STDERR_FILENO, std::string_view(header, std::min(size_t(n), sizeof(header) - 1)));

  // Start the backtrace at the interrupted instruction; the frames above it are this
  // handler and the kernel's signal trampoline.
  const uintptr_t rip = uintptr_t(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]);
  void* frames[kMaxFrames];
  int count = backtrace(frames, kMaxFrames);
  int first = 0;
  while (first < count && reinterpret_cast<uintptr_t>(frames[first]) != rip) ++first;
  if (first == count) first = 0;  // Not found: print everything rather than nothing.
  write_all(STDERR_FILENO, "backtrace:\n");
  for (int i = first; i < count; ++i) {
    uintptr_t pc = reinterpret_cast<uintptr_t>(frames[i]);
    print_frame(i - first, pc,
                pc == rip ? FrameKind::kFaultingInstruction : FrameKind::kReturnAddress,
                Demangle::kNo);
  }
  _exit(is_abort ? abi::kExitPanic : abi::kExitFault);
}

}  // namespace

void panic(const char* format, ...) {
  if (g_panicking) _exit(abi::kExitPanic);
  g_panicking = 1;
  platform::console_flush();
  std::fflush(stdout);  // An application may also print with printf on this target.
  char message[4096];
  va_list args;
  va_start(args, format);
  int n = std::vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  if (n < 0) n = 0;
  if (size_t(n) >= sizeof(message)) n = sizeof(message) - 1;
  write_all(STDERR_FILENO, "panic: ");
  write_all(STDERR_FILENO, std::string_view(message, size_t(n)));
  write_all(STDERR_FILENO, "\n");
  print_backtrace(2);  // Neither print_backtrace nor panic itself.
  _exit(abi::kExitPanic);
}

namespace platform::unix_target {

void install_fault_handlers() {
  // backtrace() loads libgcc_s on first use, which allocates: do it now, not in a handler.
  void* frame;
  backtrace(&frame, 1);

  static char alternate_stack[64 * 1024];
  stack_t stack{};
  stack.ss_sp = alternate_stack;
  stack.ss_size = sizeof(alternate_stack);
  sigaltstack(&stack, nullptr);

  struct sigaction action {};
  action.sa_sigaction = on_fatal_signal;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) sigaction(signal, &action, nullptr);
}

}  // namespace platform::unix_target

}  // namespace morgana
