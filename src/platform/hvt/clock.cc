// Monotonic and wall clocks for hvt images, computed from the TSC with a fixed-point
// factor so reading the time is a rdtsc, a 128-bit multiply and a shift.
#include "platform/hvt/clock.h"

#include "morgana/platform/platform.h"
#include "platform/hvt/call.h"

namespace morgana::platform {
namespace hvt {
namespace {

uint64_t g_tsc_at_boot;
uint64_t g_ns_per_tick_q32;  // nanoseconds per TSC tick, as a 32.32 fixed-point number

inline uint64_t rdtsc() {
  uint32_t lo, hi;
  // lfence keeps the read from being hoisted above earlier loads.
  asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

}  // namespace

void clock_init() {
  g_tsc_at_boot = rdtsc();
  uint64_t hz = boot_info().tsc_hz;
  g_ns_per_tick_q32 =
      static_cast<uint64_t>((static_cast<unsigned __int128>(1000000000) << 32) / hz);
}

}  // namespace hvt

uint64_t monotonic_ns() {
  uint64_t ticks = hvt::rdtsc() - hvt::g_tsc_at_boot;
  return static_cast<uint64_t>((static_cast<unsigned __int128>(ticks) * hvt::g_ns_per_tick_q32) >>
                               32);
}

uint64_t wall_clock_ns() {
  return hvt::boot_info().wall_clock_ns + monotonic_ns();
}

ReadySet yield(uint64_t deadline_ns) {
  // The guest has done what it can for now: frames it queued leave (one kick a batch).
  // On a shared CPU the I/O thread could only run once the guest stops; the yield exit
  // below lets the monitor send them itself, and with frames still to read they wait
  // for the batch's end (a full ring kicks in ring_write()).
  const bool shared_cpu = hvt::shared_cpu();
  if (!shared_cpu) hvt::kick_pending_tx();
  // Frames already in a receive ring need no exit to be found: the rings are shared
  // memory. This is what keeps a busy flow from paying an exit (30-80 us on kvm-pvm,
  // DESIGN.md §4a) per batch of packets.
  if (ReadySet ready = hvt::rings_pending()) return ready;
  // While a ring carried traffic in the last kSpinWindowNs, poll the rings for up to
  // kSpinNs before sleeping: the next frame of a busy flow (an ACK in flight) usually
  // arrives sooner than an exit and the wake-up would take. An idle image sleeps at once,
  // and so does one whose monitor shares its only CPU with the I/O thread: there the spin
  // only keeps that thread waiting (dns.hvt under dnsperf on one core: 6.6 -> 5.4 µs of
  // CPU per query without it).
  constexpr uint64_t kSpinNs = 40'000;
  constexpr uint64_t kSpinWindowNs = 2'000'000;
  uint64_t now = monotonic_ns();
  uint64_t last = hvt::last_ring_activity_ns();
  if (!shared_cpu && last != 0 && now - last < kSpinWindowNs && deadline_ns > now) {
    uint64_t until = deadline_ns - now < kSpinNs ? deadline_ns : now + kSpinNs;
    while (monotonic_ns() < until) {
      asm volatile("pause");
      if (ReadySet ready = hvt::rings_pending()) return ready;
    }
  }
  // Every exit drains the console ring, so pending output goes out here too.
  abi::YieldArgs args{deadline_ns, 0};
  hvt::call(abi::Call::kYield, &args);
  return args.ready_set;
}

}  // namespace morgana::platform
