// The unix target's network devices: a Linux tap interface per manifest entry, opened
// non-blocking so that yield() waits for frames in ppoll and read() never blocks.
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "morgana/platform/platform.h"
#include "platform/unix/unix_platform.h"

namespace morgana::platform {
namespace unix_target {

std::string attach_tap(const host::NetAttachment& attachment, AttachedDevice& out) {
  const std::string option = "--net:" + attachment.name;
  if (attachment.kind != host::NetAttachment::Kind::kTap) {
    return option + ": only tap interfaces are supported by the unix target";
  }
  if (attachment.ifname.empty() || attachment.ifname.size() >= IFNAMSIZ) {
    return option + ": interface name '" + attachment.ifname + "' must be 1.." +
           std::to_string(IFNAMSIZ - 1) + " bytes";
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return option + ": cannot open /dev/net/tun: " + std::strerror(errno);
  ifreq request{};
  // No packet-information header: reads and writes carry bare Ethernet frames.
  request.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::memcpy(request.ifr_name, attachment.ifname.data(), attachment.ifname.size());
  if (ioctl(fd, TUNSETIFF, &request) < 0) {
    int error = errno;
    close(fd);
    return option + ": cannot attach to tap '" + attachment.ifname + "': " + std::strerror(error);
  }

  out.fd = fd;
  out.mtu = kNetMtu;
  if (attachment.mac) {
    std::memcpy(out.mac.data(), attachment.mac->data(), 6);
  } else {
    // A random unicast, locally administered address (02:xx:xx:xx:xx:xx), so two
    // instances on one bridge do not collide. Not drawn from the boot seed, which the
    // application may use as a secret.
    fill_random(out.mac.data() + 1, 5);
    out.mac[0] = 0x02;
  }
  return "";
}

}  // namespace unix_target

using namespace unix_target;

// A tap has one way to move frames (read and write on its descriptor), so `path`, which
// picks between hvt's rings and calls, does not apply here.
Result<NetDevice> NetDevice::open(std::string_view name, NetPath /*path*/) {
  DeviceId id = 0;
  const AttachedDevice* device = find_device(name, abi::DeviceType::kNet, &id);
  if (device == nullptr) return Error{Errc::kNotFound, "no network device of that name"};
  return NetDevice(id, device->mac, device->mtu);
}

Result<void> NetDevice::write(std::span<const uint8_t> frame) {
  if (frame.size() < kEthernetHeader || frame.size() > size_t(mtu_) + kEthernetHeader) {
    return Error{Errc::kInvalidArgument, "frame shorter than a header or longer than mtu + 14"};
  }
  AttachedDevice& device = device_table()[id_];
  for (;;) {
    ssize_t n = ::write(device.fd, frame.data(), frame.size());
    if (n >= 0) {  // A tap takes whole frames: no partial writes.
      device.counters.calls_out++;
      device.counters.bytes_out += frame.size();
      return ok();
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return Error{Errc::kAgain, "tap queue full"};
    return Error{Errc::kIo, "tap write failed"};
  }
}

Result<size_t> NetDevice::read(std::span<uint8_t> buffer) {
  AttachedDevice& device = device_table()[id_];
  // The host side may run the tap with a larger MTU than we announce. Reading through a
  // second, scratch segment tells an oversized frame apart from one that just fits, and
  // such frames are dropped instead of being handed over truncated.
  static uint8_t overflow[65536];
  for (;;) {
    iovec segments[2] = {{buffer.data(), buffer.size()}, {overflow, sizeof(overflow)}};
    ssize_t n = readv(device.fd, segments, 2);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return Error{Errc::kAgain, "no frame pending"};
      return Error{Errc::kIo, "tap read failed"};
    }
    if (size_t(n) <= buffer.size()) {
      device.counters.calls_in++;
      device.counters.bytes_in += size_t(n);
      return size_t(n);
    }
    // Too large for the caller's buffer: drop it and look at the next frame.
    device.counters.dropped++;
  }
}

}  // namespace morgana::platform
