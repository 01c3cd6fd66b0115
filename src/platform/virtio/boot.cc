// Boot of a virtio image at CPL 3: read the PVH start info (memory map, command line),
// build the final CPU tables, make the one FinishBoot gate call, start the clock, move to
// the big stack, split the command line into argv and run the application.
//
// Built with -fno-stack-protector: morgana_virtio_boot writes the canary itself, and
// runs before it is valid.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "morgana/app.h"
#include "morgana/platform/platform.h"
#include "morgana/rt/init.h"
#include "morgana/rt/port.h"
#include "platform/virtio/cmdline.h"
#include "platform/virtio/gate.h"
#include "platform/virtio/virtio.h"
#include "platform/virtio/virtio_console.h"
#include "platform/virtio/virtio_net.h"

extern "C" {
extern uint64_t virtio_boot_tsc;    // start.S: TSC at the PVH entry
extern uint64_t virtio_start_info;  // start.S: ebx at the PVH entry
extern char _end[];
extern const char morgana_virtio_image_name[];  // generated per image (MorganaVirtio.cmake)
[[noreturn]] void virtio_call_on_stack(void (*fn)(), uint64_t stack_top);
}

namespace morgana::platform::virtio {

// The x86-64 TLS block FS points at: the stack protector reads its canary at %fs:0x28.
// A page of its own, read-only to CPL 3 after the switch (cpu.cc).
struct ThreadBlock {
  uint64_t self;
  uint64_t reserved[4];
  uint64_t stack_guard;
};
static_assert(offsetof(ThreadBlock, stack_guard) == 0x28);

namespace {

// The Xen PVH boot ABI (xen/include/public/arch-x86/hvm/start_info.h), version 1.
constexpr uint32_t kStartInfoMagic = 0x336ec578;
struct StartInfo {
  uint32_t magic, version, flags, nr_modules;
  uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr;
  uint64_t memmap_paddr;  // version >= 1
  uint32_t memmap_entries, reserved;
};
struct MemmapEntry {
  uint64_t addr, size;
  uint32_t type, reserved;  // type 1 = RAM (E820)
};

char g_cmdline[kMaxCmdline];  // copied before low memory is unmapped
uint64_t g_stack_top;
uint8_t g_seed[32];

[[noreturn]] void fail(const char* message) {
  console_write_raw("virtio: boot failed: ");
  console_write_raw(message);
  console_write_raw("\n");
  debug_exit(kDebugExitFault);
}

bool rdrand(uint64_t* value) {
  for (int i = 0; i < 10; ++i) {
    unsigned char ok;
    asm volatile("rdrand %0; setc %1" : "=r"(*value), "=qm"(ok) : : "cc");
    if (ok) return true;
  }
  return false;
}

// No host seed on this target: RDRAND when the CPU has it, else the TSC (weak; a
// virtio-rng device is the later fix). random::system() mixes in RDRAND again.
void make_seed(bool have_rdrand) {
  uint64_t words[4];
  for (uint64_t& word : words) {
    if (!have_rdrand || !rdrand(&word)) word = rdtsc() * 0x9e3779b97f4a7c15ull;
  }
  memcpy(g_seed, words, sizeof g_seed);
}

// The RAM range that holds the image, capped below 4 GiB (what cpu.cc maps).
uint64_t find_ram_end(const StartInfo& info) {
  if (info.version < 1 || info.memmap_paddr == 0) fail("the PVH start info has no memory map");
  const auto* map = reinterpret_cast<const MemmapEntry*>(info.memmap_paddr);
  const uint64_t image_end = reinterpret_cast<uint64_t>(_end);
  for (uint32_t i = 0; i < info.memmap_entries && i < 128; ++i) {
    if (map[i].type == 1 && map[i].addr <= 0x100000 && map[i].addr + map[i].size >= image_end) {
      uint64_t end = map[i].addr + map[i].size;
      if (end > (4ull << 30)) end = 4ull << 30;
      return end & ~0xfffull;
    }
  }
  fail("no RAM range in the PVH memory map holds the image");
}

void boot_main();

}  // namespace

uint64_t g_ram_end;
uint64_t g_guard_page;
bool g_acpi;
BootStats g_boot_stats;

[[noreturn]] void debug_exit(uint8_t value) {
  outb(kDebugExitPort, value);
  // Only reached without -device isa-debug-exit: say so, and stop the vCPU for good.
  console_write_raw("virtio: no isa-debug-exit device at port 0xf4; stopping the CPU\n");
  for (;;) gate(GATE_STOP, 0);
}

}  // namespace morgana::platform::virtio

extern "C" {
[[gnu::section(".tblock"),
  gnu::aligned(4096)]] morgana::platform::virtio::ThreadBlock virtio_thread_block;
}

using namespace morgana::platform::virtio;

// Entered from start.S at CPL 3 on the boot stack, IF = 0, bootstrap page tables.
extern "C" [[noreturn]] void morgana_virtio_boot(uint64_t start_info_address) {
  const uint64_t cpl3_tsc = rdtsc();
  g_boot_stats.cpl0_ticks = cpl3_tsc - virtio_boot_tsc;
  const bool have_rdrand = cpuid(1).ecx & (1u << 30);
  virtio_thread_block.self = reinterpret_cast<uint64_t>(&virtio_thread_block);
  uint64_t canary = 0;
  if (!have_rdrand || !rdrand(&canary)) canary = cpl3_tsc * 0xbf58476d1ce4e5b9ull;
  virtio_thread_block.stack_guard = canary & ~0xffull;  // a zero byte stops string overruns

  const auto& info = *reinterpret_cast<const StartInfo*>(start_info_address);
  if (info.magic != kStartInfoMagic) fail("no PVH start info (boot with qemu -kernel IMAGE)");
  if (info.cmdline_paddr) {
    const char* cmdline = reinterpret_cast<const char*>(info.cmdline_paddr);
    size_t n = strnlen(cmdline, sizeof g_cmdline);
    if (n == sizeof g_cmdline) fail("the command line is longer than 4095 bytes");
    memcpy(g_cmdline, cmdline, n + 1);
  }
  g_ram_end = find_ram_end(info);
  g_acpi = info.rsdp_paddr != 0;
  // The stack: RAM/16 between 64 KiB and 1 MiB at the top of RAM, a guard page below.
  uint64_t stack_size = g_ram_end / 16;
  stack_size = stack_size < (64 << 10)  ? (64 << 10)
               : stack_size > (1 << 20) ? (1 << 20)
                                        : stack_size;
  stack_size &= ~0xfffull;
  g_stack_top = g_ram_end;
  g_guard_page = g_stack_top - stack_size - 4096;
  if (g_guard_page < reinterpret_cast<uint64_t>(_end) + (2 << 20))
    fail("too little RAM (give -m 16 or more)");

  make_seed(have_rdrand);
  const ClockSetup clock = clock_probe();
  FinishBoot finish{build_cpu_tables(g_ram_end, g_guard_page + 4096, g_stack_top),
                    clock.kvm_system_time, clock.kvm_wall_clock, clock.timer_mode, clock.lvt_timer};
  gate(GATE_FINISH_BOOT, reinterpret_cast<uint64_t>(&finish));
  clock_init();
  virtio_call_on_stack(boot_main, g_stack_top);
}

namespace morgana::platform::virtio {
namespace {

void boot_main() {
  static char* argv[kMaxArgs + 2];
  static char strings[kMaxCmdline + 64];
  PlatformOptions options;
  const char* error = nullptr;
  const int argc = split_cmdline(g_cmdline, morgana_virtio_image_name, argv, strings,
                                 sizeof strings, &options, &error);
  if (argc < 0) {
    console_write_raw("virtio: bad command line: ");
    console_write_raw(error);
    console_write_raw("\n");
    debug_exit(kDebugExitFault);
  }
  g_boot_stats.print = options.stats;
  rt::run_constructors();
  devices_init();
  g_boot_stats.boot_ticks = rdtsc() - virtio_boot_tsc;
  platform::halt(app_main(argc, argv));
}

}  // namespace
}  // namespace morgana::platform::virtio

namespace morgana::platform {

std::span<const uint8_t, 32> boot_seed() {
  return std::span<const uint8_t, 32>(virtio::g_seed);
}

void halt(int status) {
  using namespace virtio;
  if (g_boot_stats.print) {
    // The guest's own time stops here, before its output leaves (as it always has: the
    // figure is the image's work); the output so far goes first, so the console's
    // counts below cover all of it.
    const uint64_t run_ns = monotonic_ns();
    console_flush();
    char line[256];
    const uint64_t hz = tsc_hz();
    snprintf(line, sizeof line,
             "virtio: stats: cpl0 %llu us, boot to app_main %llu us, run %llu us, clock %s, "
             "tsc %llu kHz\n",
             static_cast<unsigned long long>(g_boot_stats.cpl0_ticks * 1000000 / hz),
             static_cast<unsigned long long>(g_boot_stats.boot_ticks * 1000000 / hz),
             static_cast<unsigned long long>(run_ns / 1000), clock_source(),
             static_cast<unsigned long long>(hz / 1000));
    console_write(line);
    virtio_net_print_stats();
    virtio_console_print_stats();
  }
  // Frames still waiting for a notify (a last datagram) get their chance to leave.
  virtio_net_flush();
  // QEMU exits at the debug-exit write, so the virtio console must have written
  // everything out before it.
  console_sync();
  if (status < 0 || status > 125) {
    char line[96];
    snprintf(line, sizeof line, "virtio: halt with status %d, outside 0..125\n", status);
    console_write_raw(line);
    debug_exit(kDebugExitFault);
  }
  debug_exit(static_cast<uint8_t>(status));
}

}  // namespace morgana::platform

namespace morgana::rt::port {

void heap_region(uintptr_t* start, uintptr_t* end) {
  *start = (reinterpret_cast<uintptr_t>(_end) + 4095) & ~uintptr_t{4095};
  *end = platform::virtio::g_guard_page;
}

}  // namespace morgana::rt::port
