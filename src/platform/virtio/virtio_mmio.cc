// virtio-mmio transport (virtio_mmio.h): discovery on microvm, queue set-up through the
// version 2 registers, and the interrupt line routed through an IOAPIC.
#include "platform/virtio/virtio_mmio.h"

#include "platform/virtio/gate.h"
#include "platform/virtio/virtio.h"

namespace morgana::platform::virtio {
namespace {

constexpr uint32_t kMagic = 0x74726976;  // "virt"
constexpr uint32_t kRegMagic = 0x000, kRegVersion = 0x004, kRegDeviceId = 0x008;

// microvm has 24 transports with its second IOAPIC (the default, with ACPI), else 8.
bool g_second_ioapic;
bool g_irq_routed[2 * IOAPIC_PINS];  // per GSI: its IOAPIC entry is programmed

volatile uint32_t* slot_registers(uint32_t slot) {
  return reinterpret_cast<volatile uint32_t*>(kVirtioMmioBase + uint64_t{slot} * 512);
}

}  // namespace

bool mmio_probe(uint32_t slot, MmioDevice* out) {
  if (slot >= kVirtioMmioSlots) return false;
  // A transport without a device reads DeviceID 0, and so does an address without a
  // transport: one read finds a device; the magic is checked on those only.
  volatile uint32_t* regs = slot_registers(slot);
  const uint32_t device_id = regs[kRegDeviceId / 4];
  if (device_id == 0 || regs[kRegMagic / 4] != kMagic) return false;
  *out = MmioDevice{slot, device_id, regs[kRegVersion / 4]};
  return true;
}

size_t mmio_scan(MmioDevice* out, size_t max) {
  g_second_ioapic = slot_registers(8)[kRegMagic / 4] == kMagic;
  size_t count = 0;
  for (uint32_t slot = 0; slot < kVirtioMmioSlots && count < max; ++slot) {
    if (mmio_probe(slot, &out[count])) ++count;
  }
  return count;
}

uint32_t mmio_gsi(uint32_t slot) {
  if (g_second_ioapic) return IOAPIC_PINS + slot;
  return (g_acpi ? 16 : 5) + slot;
}

MmioTransport::MmioTransport(uint32_t slot) : slot_(slot), regs_(slot_registers(slot)) {}

uint16_t MmioTransport::queue_max(uint16_t index) {
  write(kQueueSel, index);
  const uint32_t max = read(kQueueNumMax);
  return static_cast<uint16_t>(max > 32768 ? 32768 : max);
}

// One interrupt line serves every queue here: `interrupt` is for transports that can
// tell them apart.
Result<void> MmioTransport::setup_queue(uint16_t index, const SplitQueue& queue, QueueInterrupt) {
  if (queue_max(index) < queue.size())  // also selects the queue
    return Error{Errc::kUnsupported, "the device's virtqueue is smaller than the driver's"};
  write(kQueueNum, queue.size());
  write64(kQueueDescLow, queue.desc_address());
  write64(kQueueDriverLow, queue.avail_address());
  write64(kQueueDeviceLow, queue.used_address());
  write(kQueueReady, 1);
  return ok();
}

Result<void> MmioTransport::enable_interrupts() {
  const uint32_t gsi = mmio_gsi(slot_);
  if (gsi >= 2 * IOAPIC_PINS) return Error{Errc::kOutOfRange, "interrupt line beyond GSI 47"};
  // QEMU's IOAPIC model delivers input 0 of either IOAPIC on input 2 (its ISA IRQ 0 to
  // GSI 2 override, hw/intc/ioapic.c: ioapic_set_irq), so slot 0 on microvm's second
  // IOAPIC interrupts through that one's pin 2. Every device shares one vector, so also
  // routing pin 2 (slot 2's) is harmless.
  const uint32_t pins[2] = {gsi, gsi % IOAPIC_PINS == 0 ? gsi + 2 : gsi};
  for (uint32_t pin : pins) {
    if (g_irq_routed[pin]) continue;
    // The IOAPIC is reachable from ring 0 only (cpu.cc): one gate call, four MMIO writes.
    gate(GATE_ROUTE_IRQ, pin);
    g_irq_routed[pin] = true;
  }
  return ok();
}

}  // namespace morgana::platform::virtio
