// Clocks and idle for virtio images. Monotonic time is the TSC scaled by a fixed-point
// factor, never an exit. The rate comes from kvmclock when KVM offers it, else CPUID leaf
// 0x15, else a 5 ms count of PIT channel 2; the wall clock from kvmclock, else the CMOS
// RTC. yield() sleeps in hlt inside the idle gate, woken by the LAPIC timer or a device
// interrupt (their only use, DESIGN.md §3).
#include <cstdint>

#include "morgana/platform/platform.h"
#include "platform/virtio/gate.h"
#include "platform/virtio/virtio.h"
#include "platform/virtio/virtio_net.h"

extern "C" uint64_t virtio_boot_tsc;

namespace morgana::platform {
namespace virtio {
namespace {

// KVM's paravirtual clock (Documentation/virt/kvm/x86/msr.rst): the host fills these in
// guest memory once the FinishBoot gate has written their addresses to the MSRs.
struct PvclockTime {
  uint32_t version, pad0;
  uint64_t tsc_timestamp, system_time;
  uint32_t tsc_to_system_mul;
  int8_t tsc_shift;
  uint8_t flags, pad[2];
};
static_assert(sizeof(PvclockTime) == 32);
struct PvclockWall {
  uint32_t version, sec, nsec;
};

alignas(64) PvclockTime g_kvm_time;
alignas(64) PvclockWall g_kvm_wall;
bool g_kvmclock;
uint32_t g_timer_mode;
const char* g_source = "none";
uint64_t g_tsc_hz;
uint64_t g_ns_per_tick_q32;  // nanoseconds per TSC tick, 32.32 fixed point
uint64_t g_wall_at_boot_ns;

uint64_t ticks_to_ns(uint64_t ticks) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(ticks) * g_ns_per_tick_q32) >> 32);
}

// Counts TSC ticks across 5 ms of PIT channel 0 (1.193182 MHz), read back through
// latch commands. Channel 0, not the usual channel 2: QEMU's microvm has no port 0x61
// (PC speaker) to gate and watch channel 2 with. The PIT's interrupt line stays unused.
uint16_t read_pit_channel0() {
  outb(kPitPorts + 3, 0x00);  // latch channel 0
  const uint8_t low = inb(kPitPorts);
  return static_cast<uint16_t>(low | inb(kPitPorts) << 8);
}

uint64_t calibrate_with_pit() {
  constexpr uint32_t kPitHz = 1193182, kTicks = kPitHz / 200;
  outb(kPitPorts + 3, 0x34);  // channel 0, lobyte/hibyte, mode 2 (rate generator), binary
  outb(kPitPorts, 0xff);
  outb(kPitPorts, 0xff);
  const uint16_t first = read_pit_channel0();
  const uint64_t start = rdtsc();
  uint32_t elapsed = 0;
  while (elapsed < kTicks) elapsed = static_cast<uint16_t>(first - read_pit_channel0());
  const uint64_t ticks = rdtsc() - start;
  outb(kPitPorts + 3, 0x30);  // mode 0 without a count: the channel stops
  return ticks * kPitHz / elapsed;
}

uint8_t cmos(uint8_t reg) {
  outb(kCmosPorts, reg);
  return inb(kCmosPorts + 1);
}

// Days since 1970-01-01 of a Gregorian date (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// The RTC's date and time in seconds since the epoch (QEMU keeps it in UTC by default).
uint64_t read_rtc() {
  uint8_t now[7], again[7];
  auto read_all = [](uint8_t* out) {
    while (cmos(0x0a) & 0x80) {  // an update is in progress
    }
    const uint8_t regs[7] = {0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32};
    for (int i = 0; i < 7; ++i) out[i] = cmos(regs[i]);
  };
  read_all(again);
  do {
    for (int i = 0; i < 7; ++i) now[i] = again[i];
    read_all(again);
  } while (__builtin_memcmp(now, again, sizeof now) != 0);
  const uint8_t status_b = cmos(0x0b);
  auto value = [status_b](uint8_t v) { return status_b & 4 ? v : (v >> 4) * 10 + (v & 15); };
  unsigned hour = value(now[2] & 0x7f);
  if (!(status_b & 2) && (now[2] & 0x80)) hour = (hour % 12) + 12;  // 12-hour mode, PM
  const int64_t year = value(now[6]) * 100 + value(now[5]);
  const int64_t days = days_from_civil(year, value(now[4]), value(now[3]));
  return static_cast<uint64_t>(days * 86400 + hour * 3600 + value(now[1]) * 60 + value(now[0]));
}

}  // namespace

ClockSetup clock_probe() {
  ClockSetup setup{};
  const Cpuid hv = cpuid(0x40000000);
  const bool kvm = hv.ebx == 0x4b4d564b && hv.ecx == 0x564b4d56 && hv.edx == 0x4d;  // KVMKVMKVM
  if (kvm && hv.eax >= 0x40000001 && (cpuid(0x40000001).eax & (1u << 3))) {         // CLOCKSOURCE2
    g_kvmclock = true;
    setup.kvm_system_time = reinterpret_cast<uint64_t>(&g_kvm_time) | 1;
    setup.kvm_wall_clock = reinterpret_cast<uint64_t>(&g_kvm_wall);
  }
  const Cpuid leaf1 = cpuid(1);
  if (leaf1.edx & (1u << 9)) {  // a local APIC
    setup.timer_mode = leaf1.ecx & (1u << 24) ? TIMER_TSC_DEADLINE : TIMER_ONE_SHOT;
    setup.lvt_timer = VECTOR_TIMER | (setup.timer_mode == TIMER_TSC_DEADLINE ? 2u << 17 : 0);
  }
  g_timer_mode = setup.timer_mode;
  return setup;
}

void clock_init() {
  const uint64_t boot_tsc = virtio_boot_tsc;
  if (g_kvmclock) {
    PvclockTime t;
    PvclockWall w;
    uint32_t version;
    do {  // an odd version means the host is updating the structure
      version = __atomic_load_n(&g_kvm_time.version, __ATOMIC_ACQUIRE);
      t = g_kvm_time;
      w = g_kvm_wall;
    } while ((version & 1) || version != __atomic_load_n(&g_kvm_time.version, __ATOMIC_ACQUIRE));
    const uint64_t mul = t.tsc_to_system_mul;
    g_ns_per_tick_q32 = t.tsc_shift >= 0 ? mul << t.tsc_shift : mul >> -t.tsc_shift;
    g_tsc_hz = static_cast<uint64_t>((static_cast<unsigned __int128>(1000000000) << 32) /
                                     g_ns_per_tick_q32);
    // The wall clock struct is the time at system_time 0; the boot TSC predates the
    // structure's timestamp by the boot so far.
    const int64_t since_stamp = static_cast<int64_t>(boot_tsc - t.tsc_timestamp);
    const int64_t boot_system_ns =
        static_cast<int64_t>(t.system_time) +
        (since_stamp >= 0
             ? static_cast<int64_t>(ticks_to_ns(static_cast<uint64_t>(since_stamp)))
             : -static_cast<int64_t>(ticks_to_ns(static_cast<uint64_t>(-since_stamp))));
    g_wall_at_boot_ns =
        uint64_t(w.sec) * 1000000000 + w.nsec + static_cast<uint64_t>(boot_system_ns);
    g_source = "kvmclock";
    return;
  }
  const Cpuid leaf0 = cpuid(0);
  Cpuid leaf15{};
  if (leaf0.eax >= 0x15) leaf15 = cpuid(0x15);
  if (leaf15.eax && leaf15.ebx && leaf15.ecx) {
    g_tsc_hz = uint64_t(leaf15.ecx) * leaf15.ebx / leaf15.eax;
    g_source = "cpuid 0x15 + rtc";
  } else {
    g_tsc_hz = calibrate_with_pit();
    g_source = "pit-calibrated tsc + rtc";
  }
  g_ns_per_tick_q32 =
      static_cast<uint64_t>((static_cast<unsigned __int128>(1000000000) << 32) / g_tsc_hz);
  g_wall_at_boot_ns = read_rtc() * 1000000000 - monotonic_ns();
}

const char* clock_source() {
  return g_source;
}

uint64_t tsc_hz() {
  return g_tsc_hz;
}

}  // namespace virtio

uint64_t monotonic_ns() {
  return virtio::ticks_to_ns(virtio::rdtsc() - virtio_boot_tsc);
}

uint64_t wall_clock_ns() {
  return virtio::g_wall_at_boot_ns + monotonic_ns();
}

ReadySet yield(uint64_t deadline_ns) {
  using namespace virtio;
  console_flush();
  // Received frames sit in shared memory: found without an exit, so a busy image never
  // sleeps or takes an interrupt.
  if (ReadySet ready = devices_poll()) return ready;
  const uint64_t now = monotonic_ns();
  if (deadline_ns <= now) return 0;
  // Let the devices interrupt, and look once more: a frame that arrived before they could
  // raised nothing. One that arrives after this check leaves its interrupt pending in the
  // local APIC, which ends the hlt at once (no lost wake-up).
  if (virtio_net_arm_wakeup()) {
    virtio_net_disarm_wakeup(false);
    return devices_poll();
  }
  __atomic_store_n(&virtio_device_irq, 0, __ATOMIC_RELAXED);
  if (g_timer_mode == TIMER_TSC_DEADLINE) {
    // An unbounded deadline (kNever) would overflow the TSC value and fire at once; the
    // largest TSC value never comes.
    const unsigned __int128 ticks =
        (static_cast<unsigned __int128>(deadline_ns) << 32) / g_ns_per_tick_q32;
    const uint64_t limit = UINT64_MAX - virtio_boot_tsc - 1;
    gate(GATE_IDLE,
         ticks >= limit ? UINT64_MAX : virtio_boot_tsc + static_cast<uint64_t>(ticks) + 1);
  } else {
    const uint64_t wait = deadline_ns - now;
    gate(GATE_IDLE, wait > 0xffffffffu ? 0xffffffffu : wait);
  }
  virtio_net_disarm_wakeup(__atomic_load_n(&virtio_device_irq, __ATOMIC_RELAXED) != 0);
  return devices_poll();
}

}  // namespace morgana::platform
