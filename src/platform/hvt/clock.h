// Guest clocks from the TSC: monotonic time never exits to the monitor (DESIGN.md §4).
#pragma once

namespace morgana::platform::hvt {

// Records the TSC at boot and derives the ns-per-tick factor from BootInfo::tsc_hz.
void clock_init();

}  // namespace morgana::platform::hvt
