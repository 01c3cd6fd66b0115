// The KVM virtual machine behind morgana-hvt: guest RAM, the CPL 0 scaffolding the
// guest never sees (GDT, IDT, TSS with I/O bitmap, exception stubs, page tables, all
// supervisor-only), and one vCPU started directly in 64-bit mode at CPL 3
// (DESIGN.md §4a: on kvm-pvm CPL 0 code is emulated, CPL 3 runs natively).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tender/guest_memory.h"

namespace morgana::tender {

// A guest-virtual (== guest-physical) range mapped for the CPL 3 image.
struct UserMapping {
  uint64_t gpa;
  uint64_t len;  // page multiple
  bool writable;
  bool executable;
};

// What the vCPU starts with.
struct EntryState {
  uint64_t rip;
  uint64_t rsp;
  uint64_t rdi;
  uint64_t fs_base;
};

// A fault reported by the ring-0 exception stubs.
struct GuestFault {
  uint8_t vector;
  uint64_t error_code;
  uint64_t rip, cs, rflags, rsp, ss;
  uint64_t cr2;
  kvm_regs regs;  // general registers at the stub, which preserves them
};

class Vm {
 public:
  // Opens /dev/kvm, creates the VM, its RAM and one vCPU. On failure returns nullptr
  // and sets `error`.
  static std::unique_ptr<Vm> create(uint64_t mem_size, std::string& error);
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  const GuestMemory& memory() const { return memory_; }

  // Builds the page tables (page 0 and everything not listed unmapped; `mappings` user
  // pages; the monitor area supervisor-only), descriptor tables and exception stubs,
  // and loads the vCPU state. Returns "" or a message.
  std::string setup(const std::vector<UserMapping>& mappings, const EntryState& entry);

  // The vCPU's TSC frequency (what the guest's rdtsc counts), in Hz.
  uint64_t tsc_hz() const { return tsc_hz_; }

  // Runs the vCPU until the next exit; returns false with errno set when KVM_RUN
  // failed (EINTR when a signal arrived).
  bool run();
  kvm_run& exit_info() { return *run_; }
  int vcpu_fd() const { return vcpu_fd_; }
  int vm_fd() const { return vm_fd_; }

  // Reads the exception frame the stubs leave on the ring-0 stack.
  bool read_fault(uint8_t vector, GuestFault& fault);

 private:
  Vm() = default;
  std::string setup_cpuid();
  std::string setup_page_tables(const std::vector<UserMapping>& mappings);
  void setup_descriptor_tables();

  int kvm_fd_ = -1;
  int vm_fd_ = -1;
  int vcpu_fd_ = -1;
  kvm_run* run_ = nullptr;
  size_t run_size_ = 0;
  GuestMemory memory_;
  uint64_t tsc_hz_ = 0;
  bool have_xsave_ = false;
  bool have_avx_ = false;
  uint64_t cr3_ = 0;
};

}  // namespace morgana::tender
