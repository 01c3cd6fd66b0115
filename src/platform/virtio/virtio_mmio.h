// The virtio-mmio transport (virtio 1.2 §4.2, version 2 "modern" registers only) on
// QEMU's microvm: finding the devices on its 24 transports, and the Transport operations
// through their registers. The interrupt is one IOAPIC input per transport.
#pragma once

#include <cstddef>
#include <cstdint>

#include "morgana/rt/result.h"
#include "platform/virtio/transport.h"
#include "platform/virtio/virtqueue.h"

namespace morgana::platform::virtio {

struct MmioDevice {
  uint32_t slot;       // transport index, in address order
  uint32_t device_id;  // kDeviceId*
  uint32_t version;    // 2 is modern; 1 (legacy) is not supported
};

// Finds the transports with a device behind them, in slot (address) order; returns how
// many were stored in `out` (at most `max`). One exit per slot, three per device.
size_t mmio_scan(MmioDevice* out, size_t max);
// Looks at one transport only: whether a device is behind it (one exit, three with one).
bool mmio_probe(uint32_t slot, MmioDevice* out);

// The IOAPIC input (GSI) of a slot's interrupt line on microvm: with ACPI, microvm has a
// second IOAPIC whose 24 pins serve the 24 transports (GSI 24 + slot); without it, 8
// transports sit on the first IOAPIC at GSI 16 + slot (ACPI, no second IOAPIC) or 5 +
// slot (no ACPI). QEMU's hw/i386/microvm.c, microvm_devices_init.
uint32_t mmio_gsi(uint32_t slot);

class MmioTransport final : public Transport {
 public:
  explicit MmioTransport(uint32_t slot);

  uint16_t queue_max(uint16_t index) override;
  Result<void> setup_queue(uint16_t index, const SplitQueue& queue,
                           QueueInterrupt interrupt) override;
  Result<void> enable_interrupts() override;
  void notify(uint16_t queue) override { write(kQueueNotify, queue); }
  // Acknowledges every cause (used buffer and configuration change): the line drops, so
  // the next cause makes a new edge.
  bool ack_interrupts() override {
    write(kInterruptAck, 3);
    return true;
  }
  uint32_t config32(uint32_t offset) override { return read(kConfig + offset); }

 protected:
  uint32_t device_features(uint32_t word) override {
    write(kDeviceFeaturesSel, word);
    return read(kDeviceFeatures);
  }
  void set_driver_features(uint32_t word, uint32_t bits) override {
    write(kDriverFeaturesSel, word);
    write(kDriverFeatures, bits);
  }
  void write_status(uint8_t status) override { write(kStatus, status); }
  uint8_t read_status() override { return static_cast<uint8_t>(read(kStatus)); }

 private:
  // Registers (virtio 1.2 §4.2.2).
  enum Reg : uint32_t {
    kDeviceFeatures = 0x010,
    kDeviceFeaturesSel = 0x014,
    kDriverFeatures = 0x020,
    kDriverFeaturesSel = 0x024,
    kQueueSel = 0x030,
    kQueueNumMax = 0x034,
    kQueueNum = 0x038,
    kQueueReady = 0x044,
    kQueueNotify = 0x050,
    kInterruptAck = 0x064,
    kStatus = 0x070,
    kQueueDescLow = 0x080,
    kQueueDriverLow = 0x090,
    kQueueDeviceLow = 0x0a0,
    kConfig = 0x100,
  };
  uint32_t read(uint32_t reg) { return regs_[reg / 4]; }
  void write(uint32_t reg, uint32_t value) { regs_[reg / 4] = value; }
  void write64(uint32_t low_reg, uint64_t value) {
    write(low_reg, static_cast<uint32_t>(value));
    write(low_reg + 4, static_cast<uint32_t>(value >> 32));
  }

  uint32_t slot_;
  volatile uint32_t* regs_;
};

}  // namespace morgana::platform::virtio
