// Private to the unix target: the device table that main() fills in from the command
// line and that the platform calls (yield, NetDevice, BlockDevice) read, plus start-up hooks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "morgana/platform/platform.h"
#include "platform/abi/hvt_abi.h"
#include "platform/host/device_options.h"

namespace morgana::platform::unix_target {

// One attached device. DeviceId i is manifest entry i, exactly as on hvt, so the same
// application sees the same ids and ReadySet bits on both targets.
struct AttachedDevice {
  std::string name;
  abi::DeviceType type = abi::DeviceType::kNet;
  int fd = -1;
  // kNet
  MacAddress mac{};
  uint16_t mtu = 0;
  NetOffloads offloads = 0;  // in force since the first NetDevice::open
  // kBlock
  uint64_t capacity = 0;
  uint32_t block_size = 0;
  bool read_only = false;
  bool opened = false;
  // For --stats. Net: frames and bytes each way, frames dropped on receive (oversized,
  // or carrying metadata we cannot use).
  // Block: calls and bytes each way, flushes.
  struct Counters {
    uint64_t calls_in = 0, bytes_in = 0;
    uint64_t calls_out = 0, bytes_out = 0;
    uint64_t dropped = 0;
    uint64_t flushes = 0;
    uint64_t gso_in = 0, gso_out = 0;  // net: frames carrying many segments (GRO / TSO)
  } counters;
};

inline constexpr uint16_t kNetMtu = 1500;
inline constexpr uint16_t kEthernetHeader = 14;
inline constexpr uint32_t kBlockSize = 512;

// The table, indexed by DeviceId; at most abi::kMaxDevices entries.
AttachedDevice* device_table();
uint32_t device_count();
void set_device_count(uint32_t count);

// The device named `name` with type `type`, or nullptr. Sets *id on success.
const AttachedDevice* find_device(std::string_view name, abi::DeviceType type, DeviceId* id);

// Extra file descriptors that yield() sleeps on besides the manifest's devices, for
// host-side services that live next to the platform (the socket stack's one epoll fd):
// the loop must sleep in one place, so they join the same ppoll. Each is reported under
// its own DeviceId, from abi::kMaxDevices up to 63 (above every manifest device, one bit
// each in the 64-bit ReadySet), readable when poll says POLLIN (or an error or hang-up),
// so `async::wait_readable(id)` waits for it. kOutOfRange when all ids are taken.
inline constexpr DeviceId kFirstWatchId = abi::kMaxDevices;
inline constexpr DeviceId kWatchIdLimit = 64;
Result<DeviceId> watch_fd(int fd);
// Stops watching; the id may be handed out again. The descriptor is not closed.
void unwatch_fd(DeviceId id);

// Turns a tap's offloads off again before the image exits: the tap may be persistent,
// and the next program to attach it may read frames without a vnet header.
void reset_tap_offloads();

// Attach host resources. Each returns "" or a message naming the option at fault.
std::string attach_tap(const host::NetAttachment& attachment, AttachedDevice& out);
std::string attach_file(const host::BlockAttachment& attachment, AttachedDevice& out);

// --stats: halt() prints the counters and heap use on stderr, prefixed with `program`.
void enable_stats(const std::string& program);

// Start-up, called by main() before anything else: fixes the monotonic origin, draws the
// boot seed and installs the fault handlers.
void start_clock();
void init_boot_seed();
void install_fault_handlers();

// Fills `bytes` from getrandom(); exits with a message if the kernel refuses.
void fill_random(uint8_t* bytes, size_t size);

// Writes all of `text` to `fd`, retrying on EINTR and EAGAIN. Async-signal-safe.
void write_all(int fd, std::string_view text);

}  // namespace morgana::platform::unix_target
