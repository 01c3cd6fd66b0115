// KVM setup for morgana-hvt: RAM, page tables, GDT/IDT/TSS, exception stubs, and a
// vCPU that starts in 64-bit mode at CPL 3 (DESIGN.md §4, §4a).
#include "tender/vm.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include "platform/abi/hvt_abi.h"

namespace morgana::tender {
namespace {

// The monitor area (abi::kMonitorAreaStart..kMonitorAreaEnd), supervisor-only.
constexpr uint64_t kGdt = 0x1000;
constexpr uint64_t kIdt = 0x2000;
constexpr uint64_t kTss = 0x3000;  // 104-byte TSS, 8 KiB I/O bitmap, 0xff terminator
constexpr uint64_t kTssIoBitmapOffset = 104;
constexpr uint64_t kTssSize = 104 + 8192 + 1;
constexpr uint64_t kStubs = 0x6000;  // 256 exception stubs, 16 bytes each
constexpr uint64_t kStubSize = 16;
constexpr uint64_t kRing0Stack = 0x7000;
constexpr uint64_t kRing0StackTop = 0x9000;
constexpr uint64_t kPageTablePool = 0x9000;
constexpr uint64_t kPageTablePoolEnd = abi::kMonitorAreaEnd;

// Selectors: user data below user code, as SYSRET would want; no syscalls are used.
constexpr uint16_t kKernelCode = 0x08;
constexpr uint16_t kKernelData = 0x10;
constexpr uint16_t kUserData = 0x18 | 3;
constexpr uint16_t kUserCode = 0x20 | 3;
constexpr uint16_t kTssSelector = 0x28;

constexpr uint64_t kPteP = 1ull << 0;
constexpr uint64_t kPteRw = 1ull << 1;
constexpr uint64_t kPteUser = 1ull << 2;
constexpr uint64_t kPtePs = 1ull << 7;
constexpr uint64_t kPteNx = 1ull << 63;
constexpr uint64_t kPteAddr = 0x000ffffffffff000ull;
constexpr uint64_t k2M = 2ull << 20;

constexpr uint64_t kCr0Pe = 1ull << 0, kCr0Mp = 1ull << 1, kCr0Et = 1ull << 4, kCr0Ne = 1ull << 5,
                   kCr0Wp = 1ull << 16, kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5, kCr4Osfxsr = 1ull << 9, kCr4Osxmmexcpt = 1ull << 10,
                   kCr4Osxsave = 1ull << 18;
constexpr uint64_t kEferLme = 1ull << 8, kEferLma = 1ull << 10, kEferNxe = 1ull << 11;

// Vectors for which the CPU pushes an error code (SDM Vol. 3 §6.13).
bool has_error_code(int vector) {
  switch (vector) {
    case 8:
    case 10:
    case 11:
    case 12:
    case 13:
    case 14:
    case 17:
    case 21:
    case 29:
    case 30:
      return true;
    default:
      return false;
  }
}

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

class PageTableBuilder {
 public:
  explicit PageTableBuilder(const GuestMemory& memory) : memory_(memory) {}

  uint64_t root() { return pml4_ ? pml4_ : (pml4_ = alloc()); }
  bool failed() const { return failed_; }

  // Maps [gpa, gpa + len) with leaf flags `flags`, using 2 MiB pages for chunks the
  // range covers whole (ranges never overlap, so such a chunk holds nothing else).
  void map(uint64_t gpa, uint64_t len, uint64_t flags) {
    uint64_t end = gpa + len;
    while (gpa < end && !failed_) {
      if (gpa % k2M == 0 && end - gpa >= k2M) {
        uint64_t* pde = entry(gpa, 2);
        if (!pde) return;
        *pde = gpa | flags | kPtePs;
        gpa += k2M;
      } else {
        uint64_t* pte = entry(gpa, 1);
        if (!pte) return;
        *pte = gpa | flags;
        gpa += abi::kPageSize;
      }
    }
  }

 private:
  uint64_t alloc() {
    if (next_ >= kPageTablePoolEnd) {
      failed_ = true;
      return 0;
    }
    uint64_t page = next_;
    next_ += abi::kPageSize;
    std::memset(memory_.range(page, abi::kPageSize)->data(), 0, abi::kPageSize);
    return page;
  }

  // The entry for `gpa` at `level` (1 = PT, 2 = PD), creating tables above it.
  uint64_t* entry(uint64_t gpa, int level) {
    uint64_t table = root();
    for (int l = 4; l > level && !failed_; --l) {
      uint64_t* e = slot(table, gpa, l);
      if (!(*e & kPteP)) {
        uint64_t next = alloc();
        if (failed_) return nullptr;
        // Upper levels grant everything; the leaf decides the permissions.
        *e = next | kPteP | kPteRw | kPteUser;
      }
      table = *e & kPteAddr;
    }
    return failed_ ? nullptr : slot(table, gpa, level);
  }

  uint64_t* slot(uint64_t table, uint64_t gpa, int level) {
    unsigned index = (gpa >> (12 + 9 * (level - 1))) & 511;
    return reinterpret_cast<uint64_t*>(memory_.range(table, abi::kPageSize)->data()) + index;
  }

  const GuestMemory& memory_;
  uint64_t pml4_ = 0;
  uint64_t next_ = kPageTablePool;
  bool failed_ = false;
};

kvm_segment segment(uint16_t selector, uint8_t type, bool code, uint64_t base = 0) {
  kvm_segment s{};
  s.base = base;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.dpl = selector & 3;
  s.db = code ? 0 : 1;
  s.s = 1;
  s.l = code ? 1 : 0;
  s.g = 1;
  return s;
}

}  // namespace

std::unique_ptr<Vm> Vm::create(uint64_t mem_size, std::string& error) {
  std::unique_ptr<Vm> vm(new Vm());
  vm->kvm_fd_ = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (vm->kvm_fd_ < 0) {
    error = errno_text("cannot open /dev/kvm");
    return nullptr;
  }
  int version = ioctl(vm->kvm_fd_, KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) {
    error = "unsupported KVM API version " + std::to_string(version);
    return nullptr;
  }
  vm->vm_fd_ = ioctl(vm->kvm_fd_, KVM_CREATE_VM, 0);
  if (vm->vm_fd_ < 0) {
    error = errno_text("KVM_CREATE_VM");
    return nullptr;
  }
  // MAP_NORESERVE: untouched guest RAM costs the host nothing.
  void* ram = mmap(nullptr, mem_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (ram == MAP_FAILED) {
    error = errno_text("cannot allocate guest memory");
    return nullptr;
  }
  vm->memory_ = GuestMemory(static_cast<uint8_t*>(ram), mem_size);
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.guest_phys_addr = 0;
  region.memory_size = mem_size;
  region.userspace_addr = reinterpret_cast<uint64_t>(ram);
  if (ioctl(vm->vm_fd_, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
    error = errno_text("KVM_SET_USER_MEMORY_REGION");
    return nullptr;
  }
  vm->vcpu_fd_ = ioctl(vm->vm_fd_, KVM_CREATE_VCPU, 0);
  if (vm->vcpu_fd_ < 0) {
    error = errno_text("KVM_CREATE_VCPU");
    return nullptr;
  }
  int run_size = ioctl(vm->kvm_fd_, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size <= 0) {
    error = errno_text("KVM_GET_VCPU_MMAP_SIZE");
    return nullptr;
  }
  vm->run_size_ = run_size;
  void* run = mmap(nullptr, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd_, 0);
  if (run == MAP_FAILED) {
    error = errno_text("mmap of the vCPU run area");
    return nullptr;
  }
  vm->run_ = static_cast<kvm_run*>(run);
  int khz = ioctl(vm->vcpu_fd_, KVM_GET_TSC_KHZ, 0);
  if (khz <= 0) {
    error = errno_text("KVM_GET_TSC_KHZ");
    return nullptr;
  }
  vm->tsc_hz_ = static_cast<uint64_t>(khz) * 1000;
  if (std::string e = vm->setup_cpuid(); !e.empty()) {
    error = e;
    return nullptr;
  }
  return vm;
}

Vm::~Vm() {
  if (run_) munmap(run_, run_size_);
  if (memory_.base()) munmap(memory_.base(), memory_.size());
  if (vcpu_fd_ >= 0) close(vcpu_fd_);
  if (vm_fd_ >= 0) close(vm_fd_);
  if (kvm_fd_ >= 0) close(kvm_fd_);
}

std::string Vm::setup_cpuid() {
  // The host's view decides which FPU state the guest gets (XCR0 below).
  unsigned eax, ebx, ecx, edx;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
    have_xsave_ = ecx & bit_XSAVE;
    have_avx_ = ecx & bit_AVX;
  }
  // Pass KVM's supported CPUID through when it offers one. kvm-pvm answers EINVAL to
  // KVM_GET_SUPPORTED_CPUID (measured 2026-11-26); there the guest's CPUID executes at
  // CPL 3 without trapping and sees the host's, so nothing is lost by skipping it.
  constexpr int kMaxEntries = 128;
  std::vector<uint8_t> buffer(sizeof(kvm_cpuid2) + kMaxEntries * sizeof(kvm_cpuid_entry2));
  auto* cpuid = reinterpret_cast<kvm_cpuid2*>(buffer.data());
  cpuid->nent = kMaxEntries;
  if (ioctl(kvm_fd_, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) return "";
  if (ioctl(vcpu_fd_, KVM_SET_CPUID2, cpuid) < 0) return errno_text("KVM_SET_CPUID2");
  return "";
}

std::string Vm::setup_page_tables(const std::vector<UserMapping>& mappings) {
  PageTableBuilder pt(memory_);
  uint64_t root = pt.root();
  // Monitor area: descriptor tables and stacks are data, the stubs are code.
  const uint64_t kData = kPteP | kPteRw | kPteNx;
  pt.map(kGdt, kStubs - kGdt, kData);
  pt.map(kStubs, abi::kPageSize, kPteP);
  pt.map(kRing0Stack, kPageTablePoolEnd - kRing0Stack, kData);
  for (const UserMapping& m : mappings) {
    uint64_t flags = kPteP | kPteUser;
    if (m.writable) flags |= kPteRw;
    if (!m.executable) flags |= kPteNx;
    pt.map(m.gpa, m.len, flags);
  }
  if (pt.failed()) return "guest memory layout needs more page tables than the monitor area holds";

  cr3_ = root;
  return "";
}

void Vm::setup_descriptor_tables() {
  // GDT: null, kernel code/data, user data/code, then the 16-byte TSS descriptor.
  // Accessed bits are preset so the CPU never writes to the table.
  uint64_t* gdt = reinterpret_cast<uint64_t*>(memory_.range(kGdt, 7 * 8)->data());
  gdt[0] = 0;
  gdt[1] = 0x00209b0000000000ull;  // kernel code: P, DPL 0, L
  gdt[2] = 0x0000930000000000ull;  // kernel data: P, DPL 0, writable
  gdt[3] = 0x00cff3000000ffffull;  // user data: P, DPL 3, writable
  gdt[4] = 0x0020fb0000000000ull;  // user code: P, DPL 3, L
  uint64_t limit = kTssSize - 1;
  gdt[5] = (limit & 0xffff) | ((kTss & 0xffffff) << 16) | (0x8bull << 40) |
           (((limit >> 16) & 0xf) << 48) | (((kTss >> 24) & 0xff) << 56);
  gdt[6] = kTss >> 32;

  // TSS: RSP0 for exceptions from CPL 3, and an I/O bitmap that opens only the call
  // ports (kvm-pvm checks this bitmap for `out` at CPL 3; IOPL stays 0).
  uint8_t* tss = memory_.range(kTss, kTssSize)->data();
  std::memset(tss, 0, kTssSize);
  uint64_t rsp0 = kRing0StackTop;
  std::memcpy(tss + 4, &rsp0, 8);
  uint16_t iomap = kTssIoBitmapOffset;
  std::memcpy(tss + 102, &iomap, 2);
  uint8_t* bitmap = tss + kTssIoBitmapOffset;
  std::memset(bitmap, 0xff, 8192 + 1);
  for (unsigned port = abi::kCallPortBase; port < abi::kCallPortBase + abi::kCallPortCount; ++port)
    bitmap[port / 8] &= ~(1u << (port % 8));

  // Exception stubs: [push 0 if the CPU pushes no error code]; mov al, vector;
  // mov dx, kFaultPort; out dx, al; hlt; jmp back to hlt. The monitor then reads the
  // frame from the ring-0 stack; general registers are untouched apart from al, dx.
  uint8_t* stubs = memory_.range(kStubs, abi::kPageSize)->data();
  uint8_t* idt = memory_.range(kIdt, 256 * 16)->data();
  for (int v = 0; v < 256; ++v) {
    uint8_t* s = stubs + v * kStubSize;
    int n = 0;
    if (!has_error_code(v)) s[n++] = 0x6a, s[n++] = 0x00;
    s[n++] = 0xb0, s[n++] = static_cast<uint8_t>(v);
    s[n++] = 0x66, s[n++] = 0xba, s[n++] = abi::kFaultPort & 0xff, s[n++] = abi::kFaultPort >> 8;
    s[n++] = 0xee;
    s[n++] = 0xf4;
    s[n++] = 0xeb, s[n++] = 0xfd;
    uint64_t handler = kStubs + v * kStubSize;
    uint8_t* gate = idt + v * 16;
    std::memset(gate, 0, 16);
    gate[0] = handler & 0xff;
    gate[1] = (handler >> 8) & 0xff;
    gate[2] = kKernelCode;
    gate[5] = 0x8e;  // present, DPL 0, 64-bit interrupt gate
    gate[6] = (handler >> 16) & 0xff;
    gate[7] = (handler >> 24) & 0xff;
    uint32_t high = handler >> 32;
    std::memcpy(gate + 8, &high, 4);
  }
}

std::string Vm::setup(const std::vector<UserMapping>& mappings, const EntryState& entry) {
  if (std::string e = setup_page_tables(mappings); !e.empty()) return e;
  setup_descriptor_tables();

  kvm_sregs sregs{};
  if (ioctl(vcpu_fd_, KVM_GET_SREGS, &sregs) < 0) return errno_text("KVM_GET_SREGS");
  sregs.cr3 = cr3_;
  sregs.cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Pg;
  sregs.cr4 = kCr4Pae | kCr4Osfxsr | kCr4Osxmmexcpt | (have_xsave_ ? kCr4Osxsave : 0);
  sregs.efer = kEferLme | kEferLma | kEferNxe;
  sregs.cs = segment(kUserCode, 11, true);
  sregs.ss = sregs.ds = sregs.es = sregs.gs = segment(kUserData, 3, false);
  sregs.fs = segment(kUserData, 3, false, entry.fs_base);
  sregs.gdt.base = kGdt;
  sregs.gdt.limit = 7 * 8 - 1;
  sregs.idt.base = kIdt;
  sregs.idt.limit = 256 * 16 - 1;
  sregs.tr = kvm_segment{};
  sregs.tr.base = kTss;
  sregs.tr.limit = kTssSize - 1;
  sregs.tr.selector = kTssSelector;
  sregs.tr.type = 11;  // busy 64-bit TSS
  sregs.tr.present = 1;
  sregs.ldt = kvm_segment{};
  sregs.ldt.type = 2;
  sregs.ldt.unusable = 1;
  if (ioctl(vcpu_fd_, KVM_SET_SREGS, &sregs) < 0) return errno_text("KVM_SET_SREGS");

  // AVX needs XCR0 = x87|SSE|AVX. KVM accepts that only after KVM_SET_CPUID2, which
  // kvm-pvm refuses (EINVAL, measured 2026-11-26); there the guest keeps XCR0 = x87 and
  // has SSE (CR4.OSFXSR) but not AVX, which the baseline x86-64 code we emit never uses.
  if (have_xsave_) {
    kvm_xcrs xcrs{};
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = have_avx_ ? 0x7 : 0x3;  // x87 | SSE [| AVX]
    if (ioctl(vcpu_fd_, KVM_SET_XCRS, &xcrs) < 0) {
      sregs.cr4 &= ~kCr4Osxsave;
      if (ioctl(vcpu_fd_, KVM_SET_SREGS, &sregs) < 0) return errno_text("KVM_SET_SREGS");
    }
  }
  kvm_fpu fpu{};
  fpu.fcw = 0x37f;
  fpu.mxcsr = 0x1f80;
  if (ioctl(vcpu_fd_, KVM_SET_FPU, &fpu) < 0) return errno_text("KVM_SET_FPU");

  kvm_regs regs{};
  regs.rip = entry.rip;
  regs.rsp = entry.rsp;
  regs.rdi = entry.rdi;
  regs.rflags = 0x2;  // IF = 0, IOPL = 0: the I/O bitmap alone opens the call ports
  if (ioctl(vcpu_fd_, KVM_SET_REGS, &regs) < 0) return errno_text("KVM_SET_REGS");
  return "";
}

bool Vm::run() {
  return ioctl(vcpu_fd_, KVM_RUN, 0) == 0;
}

bool Vm::read_fault(uint8_t vector, GuestFault& fault) {
  fault = GuestFault{};
  fault.vector = vector;
  kvm_sregs sregs{};
  if (ioctl(vcpu_fd_, KVM_GET_REGS, &fault.regs) < 0) return false;
  if (ioctl(vcpu_fd_, KVM_GET_SREGS, &sregs) < 0) return false;
  fault.cr2 = sregs.cr2;
  // The stub pushed [error code or 0] over the CPU's frame: rip, cs, rflags, rsp, ss.
  auto frame = memory_.read<std::array<uint64_t, 6>>(fault.regs.rsp);
  if (!frame) return false;
  fault.error_code = (*frame)[0];
  fault.rip = (*frame)[1];
  fault.cs = (*frame)[2];
  fault.rflags = (*frame)[3];
  fault.rsp = (*frame)[4];
  fault.ss = (*frame)[5];
  return true;
}

}  // namespace morgana::tender
