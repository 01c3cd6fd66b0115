// The only C++ that runs at CPL 0: the report of an unhandled exception, printed on the
// serial port after the console output written before it, then the fault status through
// isa-debug-exit. Kept in .ktext (mapped supervisor-only) and free of library calls; it
// runs emulated on kvm-pvm, which is slow but fine on a path taken once.
#include <cstddef>
#include <cstdint>

#include "platform/virtio/gate.h"
#include "platform/virtio/virtio.h"

#define KERNEL_FN [[gnu::section(".ktext.fault"), gnu::noinline]]

extern "C" const char __image_start[];

namespace morgana::platform::virtio {
namespace {

KERNEL_FN void out_byte(uint16_t port, uint8_t value) {
  asm volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

KERNEL_FN void put(const char* text) {
  while (*text) out_byte(kSerialPort, static_cast<uint8_t>(*text++));
}

KERNEL_FN void put_hex(uint64_t value) {
  put("0x");
  for (int shift = 60; shift >= 0; shift -= 4) {
    out_byte(kSerialPort, static_cast<uint8_t>("0123456789abcdef"[(value >> shift) & 0xf]));
  }
}

KERNEL_FN void put_field(const char* name, uint64_t value) {
  put(name);
  put_hex(value);
}

KERNEL_FN const char* exception_name(uint64_t vector) {
  switch (vector) {
    case 0:
      return "divide error (#DE)";
    case 1:
      return "debug (#DB)";
    case 2:
      return "NMI";
    case 3:
      return "breakpoint (#BP)";
    case 4:
      return "overflow (#OF)";
    case 5:
      return "bound range (#BR)";
    case 6:
      return "invalid opcode (#UD)";
    case 7:
      return "device not available (#NM)";
    case 8:
      return "double fault (#DF)";
    case 10:
      return "invalid TSS (#TS)";
    case 11:
      return "segment not present (#NP)";
    case 12:
      return "stack fault (#SS)";
    case 13:
      return "general protection (#GP)";
    case 14:
      return "page fault (#PF)";
    case 16:
      return "x87 floating point (#MF)";
    case 17:
      return "alignment check (#AC)";
    case 18:
      return "machine check (#MC)";
    case 19:
      return "SIMD floating point (#XM)";
    default:
      return "exception";
  }
}

int g_fault_depth [[gnu::section(".kbss.fault")]];

// Whether [address, address + size) lies in the image's RAM: the console's view is data
// the application could have overwritten, and a fault here would end the report.
KERNEL_FN bool in_ram(const volatile void* address, uint64_t size) {
  const auto start = reinterpret_cast<uint64_t>(address);
  return start >= reinterpret_cast<uint64_t>(__image_start) && start < g_ram_end &&
         size <= g_ram_end - start;
}

KERNEL_FN uint64_t read_tsc() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

// Puts out what the application wrote before the fault, in order, before the report
// (virtio.h: ConsoleFaultView): the buffers the virtio console's device has been given
// (it writes them asynchronously, so wait until it has used them all), then the bytes not
// yet flushed, on the UART.
KERNEL_FN void put_pending_console() {
  const ConsoleFaultView& view = g_console_fault_view;
  if (in_ram(view.avail_index, 2) && in_ram(view.used_index, 2)) {
    const uint16_t avail = *view.avail_index;
    // The TSC rate is not at hand here; 2^31 ticks is about a second on these hosts, and
    // QEMU writes a buffer out within a millisecond or so.
    const uint64_t start = read_tsc();
    while (*view.used_index != avail && read_tsc() - start < (1ull << 31)) asm volatile("pause");
  }
  if (!in_ram(view.staged_length, sizeof(size_t))) return;
  const size_t length = *view.staged_length;
  if (length > kConsoleBufferSize || !in_ram(view.staged, length)) return;
  for (size_t i = 0; i < length; ++i) out_byte(kSerialPort, static_cast<uint8_t>(view.staged[i]));
}

}  // namespace
}  // namespace morgana::platform::virtio

using namespace morgana::platform::virtio;

// Called by fault_common (start.S) on IST1 with interrupts off. Prints what a reader
// needs to find the bug (vector, rip, the faulting address of a page fault, registers and
// the frame-pointer chain; symbolise with addr2line, docs/virtio.md) and exits.
extern "C" KERNEL_FN [[noreturn]] void virtio_kernel_fault(const FaultFrame* frame) {
  if (++g_fault_depth > 1) {
    // A fault while reporting one: exit without touching anything else.
    out_byte(kDebugExitPort, kDebugExitFault);
    for (;;) asm volatile("hlt");
  }
  put_pending_console();
  put("\nvirtio: unhandled ");
  put(exception_name(frame->vector));
  put_field(" (vector ", frame->vector);
  put(")");
  put_field(" at rip ", frame->rip);
  put_field(" error ", frame->error);
  put(frame->cs & 3 ? " in the application (CPL 3)\n" : " in ring 0\n");
  if (frame->vector == 14) {
    uint64_t cr2;
    asm volatile("mov %%cr2, %0" : "=r"(cr2));
    put_field("  address ", cr2);
    put(frame->error & 1 ? " (protection violation" : " (not mapped");
    put(frame->error & 2 ? ", write" : ", read");
    if (frame->error & 16) put(", instruction fetch");
    put(")\n");
  }
  put_field("  rax ", frame->rax), put_field(" rbx ", frame->rbx), put_field(" rcx ", frame->rcx);
  put_field("\n  rdx ", frame->rdx), put_field(" rsi ", frame->rsi), put_field(" rdi ", frame->rdi);
  put_field("\n  rsp ", frame->rsp), put_field(" rbp ", frame->rbp), put_field(" r8  ", frame->r8);
  put_field("\n  r9  ", frame->r9), put_field(" r10 ", frame->r10), put_field(" r11 ", frame->r11);
  put_field("\n  r12 ", frame->r12), put_field(" r13 ", frame->r13), put_field(" r14 ", frame->r14);
  put_field("\n  r15 ", frame->r15), put_field(" rflags ", frame->rflags);
  put("\n  backtrace (addr2line -f -e IMAGE ADDRESS):\n");
  put_field("    #0 ", frame->rip);
  put("\n");
  // Follow saved rbp only where it must point into mapped RAM and strictly upwards, so a
  // smashed chain ends the walk instead of faulting again.
  uint64_t fp = frame->rbp;
  const uint64_t low = reinterpret_cast<uint64_t>(__image_start);
  for (int i = 1; i < 16; ++i) {
    if (fp % 8 || fp < low || fp + 16 > g_ram_end || is_guard_page(fp)) break;
    const auto* saved = reinterpret_cast<const uint64_t*>(fp);
    if (saved[1] == 0) break;
    put("    #");
    out_byte(kSerialPort, static_cast<uint8_t>('0' + i / 10));
    out_byte(kSerialPort, static_cast<uint8_t>('0' + i % 10));
    put_field(" ", saved[1]);
    put("\n");
    if (saved[0] <= fp) break;
    fp = saved[0];
  }
  out_byte(kDebugExitPort, kDebugExitFault);
  // Without an isa-debug-exit device: stop here (interrupts are off).
  for (;;) asm volatile("cli; hlt");
}
