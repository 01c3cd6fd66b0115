// The virtio console driver over either transport (transport.h): the image's console output
// through port 0's transmit queue, a whole buffer per notify instead of an exit per byte
// on the 16550 (console.cc decides when to flush and falls back to the UART without it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "morgana/rt/result.h"
#include "platform/virtio/transport.h"

namespace morgana::platform::virtio {

// Initialises the virtio console behind `transport` as the image's console output. Only
// one console is driven: a second one is refused (kExists).
Result<void> virtio_console_attach(std::unique_ptr<Transport> transport);
// Whether console output goes to a virtio console: attached and not given up on.
bool virtio_console_active();

// Copies `text` into transmit buffers, makes them available and notifies the device once
// (one exit). When every buffer is still with the device it waits for one (bounded); a
// device that keeps them for 10 s is given up on: false, and the caller writes `text`
// to the UART. The device writes asynchronously (under KVM in QEMU's I/O thread), so
// text sent here may reach the host after later UART output unless virtio_console_drain
// runs in between.
bool virtio_console_send(std::string_view text);
// Waits (bounded, as above) until the device has taken every buffer sent, i.e. written
// it out: before UART output and before the image exits. False if it was given up on.
bool virtio_console_drain();

// One `--stats` line: flushes, notifies, bytes and waits for buffers.
void virtio_console_print_stats();

}  // namespace morgana::platform::virtio
