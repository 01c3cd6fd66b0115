// The one instruction every hvt call is made of: `out` of the argument struct's guest
// physical address to the call's port (DESIGN.md §4). The monitor fills in the results
// before the vCPU resumes, so the struct is read back after the call.
#pragma once

#include <cstdint>

#include "platform/abi/hvt_abi.h"

namespace morgana::platform::hvt {

template <typename Args>
inline void call(abi::Call which, Args* args) {
  // Identity mapping: the pointer is the guest physical address; the image and its
  // stack lie below 4 GiB, so 32 bits carry it.
  asm volatile("outl %0, %1"
               :
               : "a"(static_cast<uint32_t>(reinterpret_cast<uintptr_t>(args))),
                 "Nd"(static_cast<uint16_t>(abi::kCallPortBase + static_cast<uint16_t>(which)))
               : "memory");
}

// Set once at boot; read-only afterwards.
const abi::BootInfo& boot_info();

// The monitor runs the vCPU and its I/O thread on one CPU (abi::kBootFlagSharedCpu):
// the I/O thread cannot work while the guest runs, so a kick only preempts the guest,
// and the monitor serves the rings itself when the guest yields.
inline bool shared_cpu() {
  return (boot_info().flags & abi::kBootFlagSharedCpu) != 0;
}

// The ring devices with received frames waiting (read from shared memory: no exit).
ReadySet rings_pending();
// When a ring last carried a frame either way (monotonic ns; 0: never).
uint64_t last_ring_activity_ns();
// Kicks the I/O thread for every ring whose tx queue holds frames it has not taken, if
// it sleeps: the end of a batch of ring writes (called when the guest yields).
void kick_pending_tx();

}  // namespace morgana::platform::hvt
