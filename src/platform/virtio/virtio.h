// Internal interface of the virtio platform: the ports it uses, the boot facts other
// files read (memory, clock, devices), and the pieces boot.cc wires together.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace morgana::platform::virtio {

// Legacy ports, opened to CPL 3 by the TSS I/O bitmap (cpu.cc).
inline constexpr uint16_t kSerialPort = 0x3f8;    // COM1, a 16550
inline constexpr uint16_t kDebugExitPort = 0xf4;  // -device isa-debug-exit,iobase=0xf4
inline constexpr uint16_t kPitPorts = 0x40;       // 0x40..0x43, and 0x61 (channel 2 gate)
inline constexpr uint16_t kCmosPorts = 0x70;      // 0x70..0x71, the RTC

// QEMU microvm's virtio-mmio transports (hw/i386/microvm.h: VIRTIO_MMIO_BASE, 24 slots of
// 512 bytes), mapped user-accessible (docs/virtio.md).
inline constexpr uint64_t kVirtioMmioBase = 0xfeb00000;
inline constexpr uint64_t kVirtioMmioSlots = 24;

// PCI configuration mechanism #1 (q35, pc), opened to CPL 3 by the TSS I/O bitmap.
inline constexpr uint16_t kPciConfigPorts = 0xcf8;  // 0xcf8 address, 0xcfc..0xcff data
// Where SeaBIOS assigns PCI memory BARs on q35 and pc: downwards from the IOAPIC. Mapped
// user-accessible and uncached only once an image finds PCI devices (GATE_MAP_PCI).
inline constexpr uint64_t kPciWindowBase = 0xfe000000;
inline constexpr uint64_t kPciWindowEnd = 0xfec00000;

// isa-debug-exit makes QEMU exit with (value << 1) | 1, and a process exit status has 8
// bits, so a guest can say 0..127: 0..125 are the application's, and two stand for the
// statuses DESIGN.md §4 reserves. `morgana run -t virtio` maps them back (250, 251).
inline constexpr uint8_t kDebugExitPanic = 126;
inline constexpr uint8_t kDebugExitFault = 127;

// Guest RAM below 4 GiB, from the PVH memory map: [0, g_ram_end) holds the image.
extern uint64_t g_ram_end;
extern uint64_t g_guard_page;  // the unmapped page below the stack
extern bool g_acpi;            // the PVH start info points at ACPI tables (an RSDP)

[[gnu::always_inline]] inline bool is_guard_page(uint64_t address) {
  return address >= g_guard_page && address < g_guard_page + 4096;
}

inline uint64_t rdtsc() {
  uint32_t lo, hi;
  // lfence keeps the read from being hoisted above earlier loads.
  asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

inline void outb(uint16_t port, uint8_t value) {
  asm volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}
inline uint8_t inb(uint16_t port) {
  uint8_t value;
  asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}
inline void outl(uint16_t port, uint32_t value) {
  asm volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}
inline uint32_t inl(uint16_t port) {
  uint32_t value;
  asm volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

struct Cpuid {
  uint32_t eax, ebx, ecx, edx;
};
inline Cpuid cpuid(uint32_t leaf, uint32_t subleaf = 0) {
  Cpuid r;
  asm volatile("cpuid"
               : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
               : "a"(leaf), "c"(subleaf));
  return r;
}

// Writes the exit value and, should the device be missing, stops the vCPU for good.
[[noreturn]] void debug_exit(uint8_t value);

// --- cpu.cc: tables built at CPL 3 before the switch (see start.S) ---------------------
// Builds the final page tables, IDT and TSS; returns the PML4's address.
uint64_t build_cpu_tables(uint64_t ram_end, uint64_t stack_bottom, uint64_t stack_top);

// --- clock.cc ----------------------------------------------------------------------------
struct ClockSetup {
  uint64_t kvm_system_time;  // what FinishBoot wants
  uint64_t kvm_wall_clock;
  uint32_t timer_mode;
  uint32_t lvt_timer;
};
// Decides the clock source and timer from CPUID (before the switch)...
ClockSetup clock_probe();
// ...and computes the TSC rate and wall clock once the gate has run.
void clock_init();
const char* clock_source();
uint64_t tsc_hz();

// --- console.cc ---------------------------------------------------------------------------
// The console's buffer: the most a flush hands over at once.
inline constexpr size_t kConsoleBufferSize = 4096;
// Flushes the console and, with a virtio console, waits until the device has written out
// everything it was given (before the image exits).
void console_sync();
// Straight to the UART, unbuffered, after the pending output (console_sync): for boot
// failures, device reports and panics, which must not depend on a device.
void console_write_raw(std::string_view text);

// What the ring-0 fault report (kernel.cc) reads to put out, before its own lines, the
// output written before the fault: it waits (bounded) until the virtio console's device
// has used every buffer made available, then writes the unflushed bytes to the UART.
// Plain data, read without trusting it: lengths are clamped, waits bounded.
struct ConsoleFaultView {
  const char* staged;                    // console.cc's buffer, kConsoleBufferSize bytes
  const size_t* staged_length;           // the bytes in it not yet flushed
  const volatile uint16_t* avail_index;  // the virtio console's transmit queue: its driver
  const volatile uint16_t* used_index;   // and device indices; null without the device
};
extern ConsoleFaultView g_console_fault_view;

// --- devices.cc ---------------------------------------------------------------------------
void devices_init();
uint64_t devices_poll();  // ready set

// --- boot.cc -------------------------------------------------------------------------------
struct BootStats {
  uint64_t cpl0_ticks;  // boot TSC to the first CPL 3 instruction
  uint64_t boot_ticks;  // boot TSC to app_main
  bool print;           // --stats
};
extern BootStats g_boot_stats;

}  // namespace morgana::platform::virtio
