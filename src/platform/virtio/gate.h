// What start.S (ring 0) and the CPL 3 platform code share: GDT selectors, gate numbers,
// the FinishBoot argument layout and the frame the fault stubs build. Included from
// assembly too, so the shared values are macros; C++ code also gets typed views.
#pragma once

#define GDT_KERNEL_CODE 0x08
#define GDT_KERNEL_DATA 0x10
#define GDT_USER_CODE 0x28  // SYSENTER_CS + 32: sysexit's 64-bit user code
#define GDT_USER_DATA 0x30  // SYSENTER_CS + 40
#define GDT_TSS 0x38
#define TSS_LIMIT (104 + 8192)  // the TSS, its I/O bitmap and the closing byte, minus 1

// Gate numbers (eax of the syscall instruction).
#define GATE_FINISH_BOOT 1
#define GATE_IDLE 2
#define GATE_STOP 3        // cli; hlt for good (no isa-debug-exit device)
#define GATE_ROUTE_IRQ 4   // route IOAPIC input (GSI) rdi, 0..47, to VECTOR_DEVICE, edge
#define GATE_MAP_PCI 5     // map the PCI BAR window (virtio.h: kPciWindowBase), no argument
#define VIRTIO_PCI_PDES 6  // 2 MiB page directory entries the PCI window spans

// How kGateIdle arms the wake-up timer.
#define TIMER_NONE 0
#define TIMER_ONE_SHOT 1      // LAPIC one-shot, count in ns (the 1 GHz bus QEMU and KVM emulate)
#define TIMER_TSC_DEADLINE 2  // LAPIC TSC-deadline mode: the argument is a TSC value

// The IOAPICs of QEMU's x86 machines: the first (GSI 0-23), and microvm's second (GSI
// 24-47) that serves its virtio-mmio transports. Mapped supervisor-only (cpu.cc).
#define IOAPIC_BASE 0xfec00000
#define IOAPIC2_BASE 0xfec10000
#define IOAPIC_PINS 24

// Offsets into FinishBoot.
#define FINISH_CR3 0
#define FINISH_KVM_SYSTEM_TIME 8
#define FINISH_KVM_WALL_CLOCK 16
#define FINISH_TIMER_MODE 24
#define FINISH_LVT_TIMER 28

#define VECTOR_TIMER 32
#define VECTOR_DEVICE 33  // every device interrupt: it only ends the idle sleep
#define VECTOR_SPURIOUS 0xff

#ifndef __ASSEMBLER__
#include <cstddef>
#include <cstdint>

namespace morgana::platform::virtio {

// The argument of GATE_FINISH_BOOT: what the ring-0 side loads, all prepared at CPL 3.
struct FinishBoot {
  uint64_t cr3;              // the final PML4
  uint64_t kvm_system_time;  // address | 1 for MSR_KVM_SYSTEM_TIME_NEW, or 0 without kvmclock
  uint64_t kvm_wall_clock;   // address for MSR_KVM_WALL_CLOCK_NEW (with kvm_system_time)
  uint32_t timer_mode;       // TIMER_*
  uint32_t lvt_timer;        // the LAPIC LVT timer register value (vector and mode)
};
static_assert(offsetof(FinishBoot, cr3) == FINISH_CR3);
static_assert(offsetof(FinishBoot, kvm_system_time) == FINISH_KVM_SYSTEM_TIME);
static_assert(offsetof(FinishBoot, kvm_wall_clock) == FINISH_KVM_WALL_CLOCK);
static_assert(offsetof(FinishBoot, timer_mode) == FINISH_TIMER_MODE);
static_assert(offsetof(FinishBoot, lvt_timer) == FINISH_LVT_TIMER);

// What fault_common in start.S leaves on the stack, lowest address first.
struct FaultFrame {
  uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t vector, error;
  uint64_t rip, cs, rflags, rsp, ss;  // pushed by the CPU
};

// Crosses into ring 0 (start.S: a ud2 at a known address that the #UD stub turns into
// a gate call). An ordinary function call for the compiler: it may clobber what any call
// clobbers.
extern "C" void virtio_gate_call(uint64_t number, uint64_t argument);
// Set to 1 by the device interrupt's ring-0 handler (start.S); the idle path reads and
// clears it to know what ended the sleep.
extern "C" uint8_t virtio_device_irq;
inline void gate(uint64_t number, uint64_t argument) {
  virtio_gate_call(number, argument);
}

}  // namespace morgana::platform::virtio
#endif
