// What the virtio drivers need from a transport (virtio 1.2 §4): the initialisation
// sequence (reset, feature negotiation, queue set-up, DRIVER_OK), notifying a queue,
// device configuration, and the interrupt that ends the idle sleep. Two implementations,
// chosen at run time by the machine the image boots on: virtio-mmio on microvm
// (virtio_mmio.h) and modern virtio-pci on q35/pc (virtio_pci.h). Every register access
// is an exit (30-80 us on kvm-pvm, DESIGN.md §4a), so drivers use them at set-up and keep
// only notifies (an ioeventfd under KVM) and wake-up acknowledgements on their data path.
#pragma once

#include <cstdint>

#include "morgana/rt/result.h"
#include "platform/virtio/virtqueue.h"

namespace morgana::platform::virtio {

// Device types (virtio 1.2 §5).
inline constexpr uint32_t kDeviceIdNet = 1;
inline constexpr uint32_t kDeviceIdBlock = 2;
inline constexpr uint32_t kDeviceIdConsole = 3;

// Feature bits every driver here deals with (virtio 1.2 §6).
inline constexpr uint64_t kFeatureVersion1 = 1ull << 32;

// Whether a queue may interrupt at all (its suppression flag decides when, virtqueue.h).
enum class QueueInterrupt { kNone, kWakeUp };

class Transport {
 public:
  virtual ~Transport() = default;

  // Resets the device and negotiates features: accepts what the device offers of
  // `wanted` (VERSION_1 is always required), cut down by `usable` when the driver can use
  // only some combinations, and checks that it takes them (FEATURES_OK). Returns the
  // negotiated set.
  Result<uint64_t> negotiate(uint64_t wanted, uint64_t (*usable)(uint64_t) = nullptr);
  virtual uint16_t queue_max(uint16_t index) = 0;
  // Gives queue `index` to the device; kUnsupported if the device's queue is smaller.
  virtual Result<void> setup_queue(uint16_t index, const SplitQueue& queue,
                                   QueueInterrupt interrupt) = 0;
  // Routes the device's interrupt to the wake-up vector (gate.h: VECTOR_DEVICE).
  virtual Result<void> enable_interrupts() = 0;
  void driver_ok();
  // Tells the device the driver gave up on it (status FAILED).
  void fail();

  virtual void notify(uint16_t queue) = 0;
  // Lets the device interrupt again after an interrupt (or a cause that raised none);
  // returns whether that took an exit (MSI-X needs nothing).
  virtual bool ack_interrupts() = 0;

  // Device configuration space (little-endian; aligned 32-bit reads).
  virtual uint32_t config32(uint32_t offset) = 0;
  uint16_t config16(uint32_t offset) {
    return static_cast<uint16_t>(config32(offset & ~3u) >> (8 * (offset & 2)));
  }

 protected:
  virtual uint32_t device_features(uint32_t word) = 0;  // word 0: bits 0-31, 1: 32-63
  virtual void set_driver_features(uint32_t word, uint32_t bits) = 0;
  virtual void write_status(uint8_t status) = 0;
  virtual uint8_t read_status() = 0;

 private:
  uint8_t status_ = 0;  // what we last wrote (reading it back is an exit)
};

}  // namespace morgana::platform::virtio
