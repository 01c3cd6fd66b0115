// Modern virtio-pci (virtio_pci.h): capability parsing (virtio 1.2 §4.1.4), the common
// configuration structure (§4.1.4.3) and MSI-X (PCI Local Bus 3.0 §6.8.2).
#include "platform/virtio/virtio_pci.h"

#include "platform/virtio/gate.h"
#include "platform/virtio/virtio.h"

namespace morgana::platform::virtio {
namespace {

// Configuration space.
constexpr uint8_t kCommand = 0x04, kBar0 = 0x10, kCapabilities = 0x34;
constexpr uint32_t kStatusCapList = 1u << 20;  // in the dword at kCommand
constexpr uint32_t kCommandMemory = 1u << 1, kCommandBusMaster = 1u << 2,
                   kCommandIntxDisable = 1u << 10;
constexpr uint8_t kCapVendor = 0x09, kCapMsix = 0x11;
constexpr uint32_t kMsixEnable = 1u << 31, kMsixFunctionMask = 1u << 30;  // in the cap's dword

// virtio_pci_cap.cfg_type.
enum CfgType : uint8_t { kCommonCfg = 1, kNotifyCfg = 2, kIsrCfg = 3, kDeviceCfg = 4 };

// The common configuration structure.
enum Common : uint32_t {
  kDeviceFeatureSelect = 0x00,
  kDeviceFeature = 0x04,
  kDriverFeatureSelect = 0x08,
  kDriverFeature = 0x0c,
  kConfigMsixVector = 0x10,
  kDeviceStatus = 0x14,
  kQueueSelect = 0x16,
  kQueueSize = 0x18,
  kQueueMsixVector = 0x1a,
  kQueueEnable = 0x1c,
  kQueueNotifyOff = 0x1e,
  kQueueDesc = 0x20,
  kQueueDriver = 0x28,
  kQueueDevice = 0x30,
  kCommonLength = 0x38,
};
constexpr uint16_t kNoVector = 0xffff;

// The guest-physical address of BAR `bar`, or 0 if it is not a memory BAR below 4 GiB.
uint64_t bar_address(PciAddress address, uint8_t bar) {
  if (bar > 5) return 0;
  const uint32_t low = pci_read32(address, static_cast<uint8_t>(kBar0 + 4 * bar));
  if (low & 1) return 0;  // an I/O BAR
  if ((low & 6) == 4 &&
      (bar == 5 || pci_read32(address, static_cast<uint8_t>(kBar0 + 4 * bar + 4))))
    return 0;  // 64-bit, above 4 GiB (or malformed)
  return low & ~0xfu;
}

// [base, base + length) inside the window GATE_MAP_PCI maps, without overflow.
bool in_window(uint64_t base, uint64_t length) {
  return base >= kPciWindowBase && base < kPciWindowEnd && length <= kPciWindowEnd - base;
}

}  // namespace

Result<std::unique_ptr<PciTransport>> PciTransport::create(PciAddress address) {
  std::unique_ptr<PciTransport> t(new PciTransport(address));
  const uint32_t command = pci_read32(address, kCommand);
  if (!(command & kStatusCapList)) return Error{Errc::kUnsupported, "no capability list"};
  uint8_t cap = static_cast<uint8_t>(pci_read32(address, kCapabilities) & 0xfc);
  // A well-formed list is short; the bound stops a looping one.
  for (int seen = 0; cap >= 0x40 && seen < 48; ++seen) {
    const uint32_t head = pci_read32(address, cap);
    const uint8_t id = head & 0xff, next = static_cast<uint8_t>((head >> 8) & 0xfc);
    if (id == kCapMsix && t->msix_cap_ == 0) {
      const uint32_t table = pci_read32(address, static_cast<uint8_t>(cap + 4));
      const uint64_t base = bar_address(address, table & 7);
      if (base && in_window(base + (table & ~7u), 16)) {
        t->msix_cap_ = cap;
        t->msix_table_ = base + (table & ~7u);
      }
    } else if (id == kCapVendor && cap <= 0xec) {
      const uint8_t type = static_cast<uint8_t>(head >> 24);
      const uint8_t bar = pci_read32(address, static_cast<uint8_t>(cap + 4)) & 0xff;
      const uint32_t offset = pci_read32(address, static_cast<uint8_t>(cap + 8));
      const uint32_t length = pci_read32(address, static_cast<uint8_t>(cap + 12));
      const uint64_t base =
          (type >= kCommonCfg && type <= kDeviceCfg) ? bar_address(address, bar) : 0;
      // The first structure of each type that we can reach is the one to use (§4.1.4).
      if (base && in_window(base + offset, length)) {
        const uintptr_t at = base + offset;
        if (type == kCommonCfg && !t->common_ && length >= kCommonLength) {
          t->common_ = at;
        } else if (type == kNotifyCfg && !t->notify_ && length >= 2) {
          t->notify_ = at;
          t->notify_length_ = length;
          t->notify_multiplier_ = pci_read32(address, static_cast<uint8_t>(cap + 16));
        } else if (type == kDeviceCfg && !t->device_) {
          t->device_ = at;
          t->device_length_ = length;
        }
      }
    }
    cap = next;
  }
  if (!t->common_ || !t->notify_)
    return Error{Errc::kUnsupported,
                 "no modern virtio-pci common or notify structure in a memory BAR in "
                 "0xfe000000-0xfebfffff"};
  // Memory decoding and bus mastering (the device's DMA); INTx off, MSI-X is the interrupt.
  pci_write32(address, kCommand,
              (command & 0xffff) | kCommandMemory | kCommandBusMaster | kCommandIntxDisable);
  return t;
}

uint32_t PciTransport::device_features(uint32_t word) {
  *common32(kDeviceFeatureSelect) = word;
  return *common32(kDeviceFeature);
}

void PciTransport::set_driver_features(uint32_t word, uint32_t bits) {
  *common32(kDriverFeatureSelect) = word;
  *common32(kDriverFeature) = bits;
}

void PciTransport::write_status(uint8_t status) {
  *reinterpret_cast<volatile uint8_t*>(common_ + kDeviceStatus) = status;
  // §4.1.4.3.2: a reset is done when the status reads 0 again (at once on QEMU; bounded
  // in case a device never finishes).
  for (int i = 0; status == 0 && i < 1000 && read_status() != 0; ++i) asm volatile("pause");
}

uint8_t PciTransport::read_status() {
  return *reinterpret_cast<volatile uint8_t*>(common_ + kDeviceStatus);
}

uint16_t PciTransport::queue_max(uint16_t index) {
  *common16(kQueueSelect) = index;
  return *common16(kQueueSize);  // 0: no such queue
}

Result<void> PciTransport::setup_queue(uint16_t index, const SplitQueue& queue,
                                       QueueInterrupt interrupt) {
  if (index >= kMaxQueues) return Error{Errc::kOutOfRange, "virtqueue index beyond 3"};
  if (queue_max(index) < queue.size())  // also selects the queue
    return Error{Errc::kUnsupported, "the device's virtqueue is smaller than the driver's"};
  const uint32_t off = *common16(kQueueNotifyOff);
  const uint64_t at = uint64_t{off} * notify_multiplier_;
  if (at + 2 > notify_length_)
    return Error{Errc::kOutOfRange, "the queue's notify address is outside its structure"};
  notify_address_[index] = notify_ + at;
  *common16(kQueueSize) = queue.size();
  auto write64 = [this](uint32_t offset, uint64_t value) {
    *common32(offset) = static_cast<uint32_t>(value);
    *common32(offset + 4) = static_cast<uint32_t>(value >> 32);
  };
  write64(kQueueDesc, queue.desc_address());
  write64(kQueueDriver, queue.avail_address());
  write64(kQueueDevice, queue.used_address());
  // MSI-X table entry 0 is the wake-up message (enable_interrupts); the device answers
  // kNoVector when it cannot use it.
  const uint16_t vector = interrupt == QueueInterrupt::kWakeUp ? 0 : kNoVector;
  *common16(kQueueMsixVector) = vector;
  if (*common16(kQueueMsixVector) != vector)
    return Error{Errc::kUnsupported, "the device takes no MSI-X vector for its queue"};
  *common16(kQueueEnable) = 1;
  return ok();
}

Result<void> PciTransport::enable_interrupts() {
  if (!msix_table_)
    return Error{Errc::kUnsupported, "no MSI-X table in 0xfe000000-0xfebfffff to wake the image"};
  // Entry 0: a fixed-delivery message to APIC 0 (physical) on the wake-up vector, edge.
  auto* entry = reinterpret_cast<volatile uint32_t*>(msix_table_);
  entry[0] = 0xfee00000;  // message address, low
  entry[1] = 0;           // high
  entry[2] = VECTOR_DEVICE;
  entry[3] = 0;  // vector control: unmasked
  const uint32_t control = pci_read32(address_, msix_cap_);
  pci_write32(address_, msix_cap_, (control | kMsixEnable) & ~kMsixFunctionMask);
  *common16(kConfigMsixVector) = kNoVector;  // no configuration-change interrupts
  return ok();
}

void PciTransport::notify(uint16_t queue) {
  if (queue < kMaxQueues && notify_address_[queue])
    *reinterpret_cast<volatile uint16_t*>(notify_address_[queue]) = queue;
}

uint32_t PciTransport::config32(uint32_t offset) {
  if (!device_ || offset > device_length_ || device_length_ - offset < 4) return 0;
  return *reinterpret_cast<volatile uint32_t*>(device_ + offset);
}

}  // namespace morgana::platform::virtio
