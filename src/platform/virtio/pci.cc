// PCI configuration mechanism #1 and the virtio scan of bus 0 (pci.h).
#include "platform/virtio/pci.h"

#include "platform/virtio/transport.h"
#include "platform/virtio/virtio.h"

namespace morgana::platform::virtio {
namespace {

constexpr uint16_t kVendorRedHat = 0x1af4;  // virtio devices (virtio 1.2 §4.1.2)

uint32_t config_address(PciAddress address, uint8_t offset) {
  return 0x80000000u | uint32_t{address.bus} << 16 | uint32_t{address.slot & 31u} << 11 |
         uint32_t{address.function & 7u} << 8 | (offset & 0xfcu);
}

}  // namespace

uint32_t pci_read32(PciAddress address, uint8_t offset) {
  outl(kPciConfigPorts, config_address(address, offset));
  return inl(kPciConfigPorts + 4);
}

void pci_write32(PciAddress address, uint8_t offset, uint32_t value) {
  outl(kPciConfigPorts, config_address(address, offset));
  outl(kPciConfigPorts + 4, value);
}

bool pci_present() {
  // Without a host bridge the ports are unassigned and read all ones.
  return (pci_read32(PciAddress{0, 0, 0}, 0) & 0xffff) != 0xffff;
}

bool pci_probe_virtio(uint8_t slot, PciVirtio* out) {
  if (slot >= 32) return false;
  const PciAddress address{0, slot, 0};
  const uint32_t id = pci_read32(address, 0);
  if ((id & 0xffff) != kVendorRedHat) return false;
  const uint32_t device = id >> 16;
  uint32_t type = 0;
  if (device >= 0x1041 && device <= 0x107f) {
    type = device - 0x1040;
  } else if (device == 0x1000) {
    type = kDeviceIdNet;
  } else if (device == 0x1001) {
    type = kDeviceIdBlock;
  } else if (device == 0x1003) {
    type = kDeviceIdConsole;
  }
  if (type == 0) return false;
  *out = PciVirtio{address, type};
  return true;
}

size_t pci_scan_virtio(PciVirtio* out, size_t max) {
  size_t count = 0;
  for (uint8_t slot = 0; slot < 32 && count < max; ++slot) {
    if (pci_probe_virtio(slot, &out[count])) ++count;
  }
  return count;
}

}  // namespace morgana::platform::virtio
