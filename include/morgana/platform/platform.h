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

// Work a network device may take off the stack, as virtio-net and a Linux tap with a
// vnet header define it. A bit set in NetDevice::offloads() is in force for every frame
// in both directions, and frames then travel with a NetFrameMeta.
enum NetOffload : uint32_t {
  // Receive: a frame's TCP/UDP checksum may be left for us unchecked (the host verified
  // it, or it came from a local sender that never computed it): NetFrameMeta says which.
  // Send: we may leave a TCP/UDP checksum to the device (NetChecksum::kPartial).
  kNetOffloadChecksum = 1u << 0,
  // Send: a TCP/IPv4 segment up to kNetMaxOffloadFrame bytes that the device cuts into
  // segments of gso_size payload bytes, copying the headers (TSO). Receive: such
  // segments arrive whole (GRO, or a local sender's TSO). Needs kNetOffloadChecksum.
  kNetOffloadTso4 = 1u << 1,
};
using NetOffloads = uint32_t;

// The longest frame with kNetOffloadTso4: Ethernet header, one 802.1Q tag and the
// largest IPv4 datagram.
inline constexpr size_t kNetMaxOffloadFrame = 14 + 4 + 65535;

// A frame's transport checksum, as struct virtio_net_hdr's flags say it.
enum class NetChecksum : uint8_t {
  kNone,     // receive: not checked by anyone; send: complete in the frame
  kPartial,  // the field at csum_start + csum_offset holds only the pseudo-header sum
             // (VIRTIO_NET_HDR_F_NEEDS_CSUM): the device completes it, or, on receive,
             // the frame never crossed a wire and its data are as the sender wrote them
  kValid,    // receive: the host verified it (VIRTIO_NET_HDR_F_DATA_VALID)
};

// What travels beside a frame on a device with offloads (virtio_net_hdr's meaning).
struct NetFrameMeta {
  NetChecksum checksum = NetChecksum::kNone;
  uint16_t csum_start = 0;   // kPartial: the transport header's offset in the frame
  uint16_t csum_offset = 0;  // kPartial: the checksum field's offset in that header
  // A TCP/IPv4 segment carrying more than one wire segment's payload (TSO/GRO): the
  // payload bytes per wire segment. 0: an ordinary frame.
  uint16_t gso_size = 0;
  uint16_t header_length = 0;  // with gso_size: Ethernet + IPv4 + TCP header bytes
};

// A network interface from the manifest. Frames are whole Ethernet frames without FCS.
class NetDevice {
 public:
  // Looks the device up by its manifest name; kNotFound if the image has none. The
  // first open of a device chooses its path and, from `wanted`, the offloads in force
  // (those the device and host support); later opens share them.
  static Result<NetDevice> open(std::string_view name, NetPath path = NetPath::kRings,
                                NetOffloads wanted = 0);

  DeviceId id() const { return id_; }
  MacAddress mac() const { return mac_; }
  uint16_t mtu() const { return mtu_; }
  ReadySet ready_bit() const { return ReadySet{1} << id_; }
  // The offloads in force (a subset of what open() was asked for); 0 on devices and
  // paths without them. With any set, use the read/write overloads that carry a
  // NetFrameMeta: the plain ones drop what they cannot express.
  NetOffloads offloads() const { return offloads_; }

  // Sends one frame; frames over mtu + 14 bytes are refused with kInvalidArgument;
  // kAgain when the transmit ring is full (try again after yield()).
  Result<void> write(std::span<const uint8_t> frame);
  // Receives one frame into `buffer` (should hold mtu + 14 bytes) and returns its
  // length; kAgain when none is pending.
  Result<size_t> read(std::span<uint8_t> buffer);
  // The same with offload metadata. write() refuses (kInvalidArgument) metadata that
  // asks for an offload not in force, and a TSO frame over kNetMaxOffloadFrame bytes;
  // read() fills `meta` and wants a buffer of kNetMaxOffloadFrame bytes with
  // kNetOffloadTso4 (frames that do not fit are dropped).
  Result<void> write(std::span<const uint8_t> frame, const NetFrameMeta& meta);
  Result<size_t> read(std::span<uint8_t> buffer, NetFrameMeta& meta);
  // Zero-copy receive where the device can (the hvt rings): the next frame where it
  // lies, with its metadata, valid until release(), which must come before the next
  // peek() or read(). kAgain when none is pending; kInvalidArgument for a frame dropped
  // (its metadata was unusable); kUnsupported on devices that can only copy (use read()).
  Result<std::span<const uint8_t>> peek(NetFrameMeta& meta);
  void release();

 private:
  NetDevice(DeviceId id, MacAddress mac, uint16_t mtu, NetOffloads offloads = 0)
      : id_(id), mac_(mac), mtu_(mtu), offloads_(offloads) {}
  DeviceId id_;
  MacAddress mac_;
  uint16_t mtu_;
  NetOffloads offloads_;
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
