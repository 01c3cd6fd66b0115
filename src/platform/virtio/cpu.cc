// The final page tables, IDT and TSS of a virtio image, built at CPL 3 (native speed on
// kvm-pvm) through the bootstrap mapping, before the one FinishBoot gate call loads them.
// After that call they sit in supervisor-only pages: the application cannot remap itself,
// so W^X holds page by page (DESIGN.md §4a).
#include <cstdint>
#include <cstring>

#include "morgana/rt/assert.h"
#include "platform/virtio/gate.h"
#include "platform/virtio/virtio.h"

// Section boundaries from cmake/virtio.ld.
extern "C" {
extern char __image_start[], __ktext_end[], __rodata_start[], __kdata_start[], __kdata_end[];
extern char __data_start[], __tblock_start[], __tblock_end[], __kbss_start[], _end[];
void virtio_irq_timer();
void virtio_irq_device();
void virtio_irq_spurious();

extern void (*const virtio_fault_stubs[32])();  // one per exception vector (start.S)
extern uint8_t virtio_kernel_stack_top[];
}

#define KBSS(align) [[gnu::section(".kbss.cpu"), gnu::aligned(align)]]

namespace morgana::platform::virtio {
namespace {

constexpr uint64_t kPresent = 1, kWritable = 2, kUser = 4, kWriteThrough = 8, kNoCache = 16;
constexpr uint64_t kLarge = 0x80, kNoExecute = 1ull << 63;
constexpr uint64_t kPage = 4096, kLargePage = 2ull << 20;
constexpr uint64_t kPageTablePool = 10;  // 4 KiB-granular 2 MiB chunks: image, stack, MMIO
constexpr uint64_t kVirtioMmioEnd = kVirtioMmioBase + kVirtioMmioSlots * 512;
constexpr uint64_t kLapicBase = 0xfee00000;

using Table = uint64_t[512];
KBSS(4096) Table g_pml4;
KBSS(4096) Table g_pdpt;
KBSS(4096) Table g_pd[4];  // 0..4 GiB
KBSS(4096) Table g_pt_pool[kPageTablePool];
uint64_t g_pt_used;
KBSS(4096) Table g_pt_pci;  // the PCI window's last 2 MiB, page by page (below the IOAPIC)

struct [[gnu::packed]] Tss {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;
  uint8_t iomap[65536 / 8];
  uint8_t iomap_end;  // the CPU may read one byte past the map; all ones
};
static_assert(offsetof(Tss, iomap) == 104);
static_assert(sizeof(Tss) - 1 == TSS_LIMIT);

struct IdtEntry {
  uint16_t offset_low, selector;
  uint8_t ist, type;
  uint16_t offset_mid;
  uint32_t offset_high, reserved;
};
static_assert(sizeof(IdtEntry) == 16);

KBSS(16) uint8_t g_fault_stack[8192];

}  // namespace
}  // namespace morgana::platform::virtio

// Loaded by start64 (start.S); the PCI window's entries by GATE_MAP_PCI.
extern "C" {
KBSS(8) uint64_t virtio_pci_pdes[VIRTIO_PCI_PDES];
KBSS(8) uint64_t* virtio_pci_pd_slot;
KBSS(4096) morgana::platform::virtio::IdtEntry virtio_idt[256];
KBSS(4096) morgana::platform::virtio::Tss virtio_tss;
}

namespace morgana::platform::virtio {
namespace {

uint64_t& pte(uint64_t* table, uint64_t address, int shift) {
  return table[(address >> shift) & 511];
}

// Flags of one 4 KiB page below `ram_end`, by what the linker put there.
uint64_t page_flags(uint64_t address, uint64_t ram_end, uint64_t stack_top) {
  auto in = [address](const char* start, const char* end) {
    return address >= reinterpret_cast<uint64_t>(start) &&
           address < reinterpret_cast<uint64_t>(end);
  };
  if (address < reinterpret_cast<uint64_t>(__image_start) || address >= ram_end) return 0;
  if (address >= stack_top || is_guard_page(address)) return 0;
  if (in(__image_start, __ktext_end)) return kPresent;  // ring-0 code: supervisor, RX
  if (in(__ktext_end, __rodata_start)) return kPresent | kUser;
  if (in(__rodata_start, __kdata_start)) return kPresent | kUser | kNoExecute;
  if (in(__kdata_start, __kdata_end)) return kPresent | kWritable | kNoExecute;
  if (in(__tblock_start, __tblock_end)) return kPresent | kUser | kNoExecute;  // the canary
  if (in(__kbss_start, _end)) return kPresent | kWritable | kNoExecute;
  return kPresent | kWritable | kUser | kNoExecute;  // data, bss, heap, stack
}

uint64_t* new_page_table() {
  MORGANA_ASSERT(g_pt_used < kPageTablePool);
  return g_pt_pool[g_pt_used++];
}

void map_ram(uint64_t ram_end, uint64_t stack_top) {
  const uint64_t image_end = reinterpret_cast<uint64_t>(_end);
  for (uint64_t chunk = 0; chunk < ram_end; chunk += kLargePage) {
    uint64_t& pde = pte(g_pd[chunk >> 30], chunk, 21);
    const bool uniform = chunk >= image_end && chunk + kLargePage <= ram_end &&
                         !(g_guard_page >= chunk && g_guard_page < chunk + kLargePage) &&
                         !(stack_top > chunk && stack_top < chunk + kLargePage);
    if (uniform) {
      pde = chunk | kPresent | kWritable | kUser | kNoExecute | kLarge;
      continue;
    }
    uint64_t* pt = new_page_table();
    for (uint64_t i = 0; i < 512; ++i) {
      const uint64_t address = chunk + i * kPage;
      const uint64_t flags = page_flags(address, ram_end, stack_top);
      pt[i] = flags ? address | flags : 0;
    }
    pde = reinterpret_cast<uint64_t>(pt) | kPresent | kWritable | kUser;
  }
}

void map_mmio(uint64_t start, uint64_t end, uint64_t flags) {
  uint64_t& pde = pte(g_pd[start >> 30], start, 21);
  uint64_t* pt = pde ? reinterpret_cast<uint64_t*>(pde & ~0xfffull & ~kNoExecute) : nullptr;
  if (!pt) {
    pt = new_page_table();
    pde = reinterpret_cast<uint64_t>(pt) | kPresent | kWritable | kUser;
  }
  for (uint64_t address = start & ~(kPage - 1); address < end; address += kPage) {
    pte(pt, address, 12) = address | flags | kPresent | kWriteThrough | kNoCache | kNoExecute;
  }
}

// The page directory entries GATE_MAP_PCI installs for [kPciWindowBase, kPciWindowEnd):
// 2 MiB pages, and for the last 2 MiB (which also holds microvm's virtio-mmio window and
// ends at the IOAPIC) a page table, all user-accessible, writable, uncached and NX. Not
// mapped at boot: only images that find PCI devices need them, and on microvm the range
// holds other devices (the ACPI GED).
void prepare_pci_window() {
  static_assert((kPciWindowEnd - kPciWindowBase) / kLargePage == VIRTIO_PCI_PDES);
  static_assert(kPciWindowBase >> 30 == 3 && (kPciWindowEnd - 1) >> 30 == 3);
  constexpr uint64_t kMmio = kPresent | kWritable | kUser | kWriteThrough | kNoCache | kNoExecute;
  for (uint64_t i = 0; i + 1 < VIRTIO_PCI_PDES; ++i) {
    virtio_pci_pdes[i] = (kPciWindowBase + i * kLargePage) | kMmio | kLarge;
  }
  const uint64_t last = kPciWindowEnd - kLargePage;
  for (uint64_t i = 0; i < 512; ++i) g_pt_pci[i] = (last + i * kPage) | kMmio;
  virtio_pci_pdes[VIRTIO_PCI_PDES - 1] =
      reinterpret_cast<uint64_t>(g_pt_pci) | kPresent | kWritable | kUser;
  virtio_pci_pd_slot = &pte(g_pd[3], kPciWindowBase, 21);
}

void set_idt_entry(IdtEntry& entry, void (*handler)(), uint8_t ist) {
  const auto address = reinterpret_cast<uint64_t>(handler);
  entry = IdtEntry{static_cast<uint16_t>(address),
                   GDT_KERNEL_CODE,
                   ist,
                   0x8e,  // present, DPL 0, 64-bit interrupt gate
                   static_cast<uint16_t>(address >> 16),
                   static_cast<uint32_t>(address >> 32),
                   0};
}

void open_ports(uint16_t first, uint16_t count) {
  for (uint32_t port = first; port < uint32_t(first) + count; ++port) {
    virtio_tss.iomap[port / 8] &= static_cast<uint8_t>(~(1u << (port % 8)));
  }
}

}  // namespace
}  // namespace morgana::platform::virtio

namespace morgana::platform::virtio {

uint64_t build_cpu_tables(uint64_t ram_end, uint64_t stack_bottom, uint64_t stack_top) {
  (void)stack_bottom;
  MORGANA_ASSERT(reinterpret_cast<uint64_t>(_end) + kLargePage <= ram_end);
  g_pml4[0] = reinterpret_cast<uint64_t>(g_pdpt) | kPresent | kWritable | kUser;
  for (uint64_t i = 0; i < 4; ++i) {
    g_pdpt[i] = reinterpret_cast<uint64_t>(g_pd[i]) | kPresent | kWritable | kUser;
  }
  map_ram(ram_end, stack_top);
  map_mmio(kVirtioMmioBase, kVirtioMmioEnd, kWritable | kUser);
  map_mmio(kLapicBase, kLapicBase + kPage, kWritable);
  // The IOAPICs, supervisor-only: GATE_ROUTE_IRQ programs them (both in one 2 MiB chunk).
  map_mmio(IOAPIC_BASE, IOAPIC_BASE + kPage, kWritable);
  map_mmio(IOAPIC2_BASE, IOAPIC2_BASE + kPage, kWritable);
  prepare_pci_window();

  // Exceptions run on IST1, the interrupts inside the idle gate (already on the kernel
  // stack).
  for (int vector = 0; vector < 32; ++vector) {
    set_idt_entry(virtio_idt[vector], virtio_fault_stubs[vector], 1);
  }
  set_idt_entry(virtio_idt[VECTOR_TIMER], virtio_irq_timer, 0);
  set_idt_entry(virtio_idt[VECTOR_DEVICE], virtio_irq_device, 0);
  set_idt_entry(virtio_idt[VECTOR_SPURIOUS], virtio_irq_spurious, 0);

  // The TSS: ring-0 stacks, and the I/O bitmap that lets CPL 3 reach exactly the legacy
  // ports the platform uses (kvm-pvm checks the bitmap, not IOPL: DESIGN.md §4a).
  virtio_tss.rsp[0] = reinterpret_cast<uint64_t>(virtio_kernel_stack_top);
  virtio_tss.ist[0] = reinterpret_cast<uint64_t>(g_fault_stack + sizeof g_fault_stack);
  virtio_tss.iomap_base = offsetof(Tss, iomap);
  memset(virtio_tss.iomap, 0xff, sizeof virtio_tss.iomap);
  virtio_tss.iomap_end = 0xff;
  open_ports(kSerialPort, 8);
  open_ports(kDebugExitPort, 1);
  open_ports(kPitPorts, 4);
  open_ports(0x61, 1);
  open_ports(kCmosPorts, 2);
  open_ports(kPciConfigPorts, 8);
  return reinterpret_cast<uint64_t>(g_pml4);
}

}  // namespace morgana::platform::virtio
