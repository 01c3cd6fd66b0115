// The virtio-net driver over either transport (transport.h): one receive and one transmit
// queue per device, frames copied through fixed buffers, checksum and TCP segmentation
// offloads where the device has them, the device polled from the event loop without exits
// and its interrupt used only to end the idle sleep (DESIGN.md §3). The platform's
// NetDevice (devices.cc) maps manifest entries onto these NICs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "morgana/platform/platform.h"
#include "morgana/rt/result.h"
#include "platform/virtio/transport.h"

namespace morgana::platform::virtio {

inline constexpr uint16_t kNetMtu = 1500;

// Takes the virtio-net device behind `transport` as the next NIC (NICs are numbered in
// the order they are attached). The device is initialised only when it is opened.
Result<void> virtio_net_attach(std::unique_ptr<Transport> transport);
size_t virtio_net_count();

// Initialises the NIC on its first open (NetDevice::open), negotiating the offloads of
// `wanted` the device has (checksums both ways; TSO both ways, which needs them), and
// returns those in force; later opens get the first one's. Only opened NICs are polled
// and may end the idle sleep.
Result<NetOffloads> virtio_net_open(size_t nic, NetOffloads wanted);
// The MAC address of an opened NIC.
std::array<uint8_t, 6> virtio_net_mac(size_t nic);

// Queues one frame on an opened NIC: at most kNetMtu + 14 bytes, or kNetMaxOffloadFrame
// with meta.gso_size (TSO in force); metadata asking for an offload not in force is
// refused (kInvalidArgument). kAgain when the transmit queue is full. The device is
// notified once per batch (virtio_net_flush), when the batch grows long, or when the
// queue fills up, not once per frame.
Result<void> virtio_net_write(size_t nic, std::span<const uint8_t> frame, const NetFrameMeta& meta);
// Takes the next received frame into `buffer` and what the device says of it into `*meta`;
// kAgain when none is pending. Frames that are malformed or do not fit are dropped and
// counted, never returned; so are, without `meta`, those that need it (a partial
// checksum, a merged segment).
Result<size_t> virtio_net_read(size_t nic, std::span<uint8_t> buffer, NetFrameMeta* meta);
// Whether a received frame is waiting on an opened NIC (shared memory only: no exit).
bool virtio_net_pending(size_t nic);
// Notifies the devices of frames queued since the last notify, if they want it.
void virtio_net_flush();

// The idle sleep (clock.cc: yield). Arming lets the opened NICs interrupt when a frame
// arrives and returns true if one already has (then do not sleep: disarm and poll). Disarming
// suppresses the interrupts again and acknowledges those that may have been raised;
// `device_interrupt` says the sleep ended on the device vector.
bool virtio_net_arm_wakeup();
void virtio_net_disarm_wakeup(bool device_interrupt);

// One line per NIC with its counters (`--stats`).
void virtio_net_print_stats();

}  // namespace morgana::platform::virtio
