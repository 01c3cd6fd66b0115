// PCI configuration space on q35 and pc through mechanism #1 (ports 0xcf8/0xcfc, open to
// CPL 3), and the scan for virtio devices on bus 0. Each access is two exits, so the
// scan reads one register per slot and only images with devices scan.
#pragma once

#include <cstddef>
#include <cstdint>

namespace morgana::platform::virtio {

struct PciAddress {
  uint8_t bus, slot, function;
};

uint32_t pci_read32(PciAddress address, uint8_t offset);  // offset: a multiple of 4
void pci_write32(PciAddress address, uint8_t offset, uint32_t value);

// Whether there is a PCI host bridge at 00:00.0 (q35, pc; not microvm).
bool pci_present();

struct PciVirtio {
  PciAddress address;
  uint32_t device_id;  // the virtio device type (kDeviceId*), not the PCI device ID
};

// The virtio devices on bus 0 (function 0 of each slot), in slot order: modern ones
// (PCI device ID 0x1040 + type) and transitional ones (0x1000 net, 0x1001 block, 0x1003
// console), which have the modern interface too. Returns how many were stored (at most
// `max`).
size_t pci_scan_virtio(PciVirtio* out, size_t max);
// Looks at one slot of bus 0 only (one configuration read, two exits).
bool pci_probe_virtio(uint8_t slot, PciVirtio* out);

}  // namespace morgana::platform::virtio
