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
  // Every exit drains the console ring, so pending output goes out here too.
  abi::YieldArgs args{deadline_ns, 0};
  hvt::call(abi::Call::kYield, &args);
  return args.ready_set;
}

}  // namespace morgana::platform
