// The modern virtio-pci transport (virtio 1.2 §4.1) on q35 and pc: the device's common,
// notify and device configuration structures, found through its vendor capabilities in
// memory BARs, and its interrupt as an MSI-X message straight to the local APIC (no
// IOAPIC and no acknowledgement: an MSI is an edge that needs none).
#pragma once

#include <cstdint>
#include <memory>

#include "morgana/rt/result.h"
#include "platform/virtio/pci.h"
#include "platform/virtio/transport.h"

namespace morgana::platform::virtio {

class PciTransport final : public Transport {
 public:
  // Reads the capabilities and enables memory decoding and bus mastering; fails with a
  // reason when a structure is missing or outside the mapped window (kPciWindowBase).
  static Result<std::unique_ptr<PciTransport>> create(PciAddress address);

  uint16_t queue_max(uint16_t index) override;
  Result<void> setup_queue(uint16_t index, const SplitQueue& queue,
                           QueueInterrupt interrupt) override;
  Result<void> enable_interrupts() override;
  void notify(uint16_t queue) override;
  bool ack_interrupts() override { return false; }  // MSI-X: nothing to acknowledge
  uint32_t config32(uint32_t offset) override;

 protected:
  uint32_t device_features(uint32_t word) override;
  void set_driver_features(uint32_t word, uint32_t bits) override;
  void write_status(uint8_t status) override;
  uint8_t read_status() override;

 private:
  static constexpr uint16_t kMaxQueues = 4;
  explicit PciTransport(PciAddress address) : address_(address) {}

  volatile uint32_t* common32(uint32_t offset) const {
    return reinterpret_cast<volatile uint32_t*>(common_ + offset);
  }
  volatile uint16_t* common16(uint32_t offset) const {
    return reinterpret_cast<volatile uint16_t*>(common_ + offset);
  }

  PciAddress address_;
  uintptr_t common_ = 0, device_ = 0, notify_ = 0;
  uint32_t device_length_ = 0, notify_length_ = 0, notify_multiplier_ = 0;
  uintptr_t notify_address_[kMaxQueues] = {};  // per queue, set up by setup_queue
  uint8_t msix_cap_ = 0;                       // config offset of the MSI-X capability
  uintptr_t msix_table_ = 0;                   // its entry 0
};

}  // namespace morgana::platform::virtio
