// The virtio-net driver over either transport (transport.h): one receive and one transmit
// queue per device, frames copied through fixed buffers, the device polled from the event
// loop without exits and its interrupt used only to end the idle sleep (DESIGN.md §3).
// The platform's NetDevice (devices.cc) maps manifest entries onto these NICs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "morgana/rt/result.h"
#include "platform/virtio/transport.h"

namespace morgana::platform::virtio {

inline constexpr uint16_t kNetMtu = 1500;

// Initialises the virtio-net device behind `transport` and appends it to the NICs; NICs
// are numbered in the order they are attached.
Result<void> virtio_net_attach(std::unique_ptr<Transport> transport);
size_t virtio_net_count();
std::array<uint8_t, 6> virtio_net_mac(size_t nic);

// Queues one frame (at most kNetMtu + 14 bytes) for transmission; kAgain when the
// transmit queue is full. The device is notified once per batch (virtio_net_flush), when
// the batch grows long, or when the queue fills up, not once per frame.
Result<void> virtio_net_write(size_t nic, std::span<const uint8_t> frame);
// Takes the next received frame into `buffer`; kAgain when none is pending. Frames that
// are malformed or do not fit are dropped and counted, never returned.
Result<size_t> virtio_net_read(size_t nic, std::span<uint8_t> buffer);
// Marks a NIC as used by the application (NetDevice::open): only those are polled and
// may end the idle sleep.
void virtio_net_open(size_t nic);
// Whether a received frame is waiting on an opened NIC (shared memory only: no exit).
bool virtio_net_pending(size_t nic);
// Notifies the devices of frames queued since the last notify, if they want it.
void virtio_net_flush();

// The idle sleep (clock.cc: yield). Arming lets the opened NICs interrupt when a frame
// arrives
// and returns true if one already has (then do not sleep: disarm and poll). Disarming
// suppresses the interrupts again and acknowledges those that may have been raised;
// `device_interrupt` says the sleep ended on the device vector.
bool virtio_net_arm_wakeup();
void virtio_net_disarm_wakeup(bool device_interrupt);

// One line per NIC with its counters (`--stats`).
void virtio_net_print_stats();

}  // namespace morgana::platform::virtio
