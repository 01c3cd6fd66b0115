// The platform interface an application and the layers above it use: console, clocks,
// yield, halt, and the devices named in the image's manifest. One header; each target
// (hvt, unix) provides its own implementation in src/platform/<target>/.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "morgana/rt/result.h"

namespace morgana::platform {

// --- Console ------------------------------------------------------------------------
// Buffered: on hvt the bytes go into a shared ring that the monitor drains, so a line
// costs no exit. Output is flushed at yield() and halt().
void console_write(std::string_view text);
void console_flush();

// --- Clocks -------------------------------------------------------------------------
// Nanoseconds since boot; never goes backwards. Never exits to the monitor.
uint64_t monotonic_ns();
// Nanoseconds since the Unix epoch (host wall clock at boot + monotonic time).
uint64_t wall_clock_ns();

// --- Event loop hook -----------------------------------------------------------------
// Bit i is set when device i (DeviceId) has input pending.
using ReadySet = uint64_t;
// Sleeps until monotonic_ns() >= deadline_ns or a device has input, whichever comes
// first, and returns the devices with input pending (0 on timeout). A deadline in the
// past polls without sleeping.
ReadySet yield(uint64_t deadline_ns);

// Ends the image with `status` (0..125), after flushing the console.
[[noreturn]] void halt(int status);

// --- Entropy ------------------------------------------------------------------------
// The 32-byte seed the host provided at boot (getrandom on the host side).
std::span<const uint8_t, 32> boot_seed();

// --- Devices ------------------------------------------------------------------------
using DeviceId = uint32_t;
using MacAddress = std::array<uint8_t, 6>;

// How frames travel between an hvt image and its monitor: shared-memory rings served by
// the monitor's I/O thread (no exit per frame; the default), or one call per frame (the
// simple path, kept for monitors without rings and for tests). Other targets ignore it.
enum class NetPath { kRings, kCalls };

// A network interface from the manifest. Frames are whole Ethernet frames without FCS.
class NetDevice {
 public:
  // Looks the device up by its manifest name; kNotFound if the image has none. The
  // first open of a device chooses its path; later opens share it.
  static Result<NetDevice> open(std::string_view name, NetPath path = NetPath::kRings);

  DeviceId id() const { return id_; }
  MacAddress mac() const { return mac_; }
  uint16_t mtu() const { return mtu_; }
  ReadySet ready_bit() const { return ReadySet{1} << id_; }

  // Sends one frame; frames over mtu + 14 bytes are refused with kInvalidArgument;
  // kAgain when the transmit ring is full (try again after yield()).
  Result<void> write(std::span<const uint8_t> frame);
  // Receives one frame into `buffer` (should hold mtu + 14 bytes) and returns its
  // length; kAgain when none is pending.
  Result<size_t> read(std::span<uint8_t> buffer);

 private:
  NetDevice(DeviceId id, MacAddress mac, uint16_t mtu) : id_(id), mac_(mac), mtu_(mtu) {}
  DeviceId id_;
  MacAddress mac_;
  uint16_t mtu_;
};

// A block device from the manifest. Offsets and lengths are multiples of block_size().
class BlockDevice {
 public:
  static Result<BlockDevice> open(std::string_view name);

  DeviceId id() const { return id_; }
  uint64_t capacity() const { return capacity_; }  // bytes
  uint32_t block_size() const { return block_size_; }
  bool read_only() const { return read_only_; }

  Result<void> read(uint64_t offset, std::span<uint8_t> buffer);
  Result<void> write(uint64_t offset, std::span<const uint8_t> data);  // kReadOnly if ro
  Result<void> flush();

 private:
  BlockDevice(DeviceId id, uint64_t capacity, uint32_t block_size, bool read_only)
      : id_(id), capacity_(capacity), block_size_(block_size), read_only_(read_only) {}
  DeviceId id_;
  uint64_t capacity_;
  uint32_t block_size_;
  bool read_only_;
};

}  // namespace morgana::platform
