// The unix target's network devices: a Linux tap interface per manifest entry, opened
// non-blocking so that yield() waits for frames in ppoll and read() never blocks. Every
// frame carries a struct virtio_net_hdr (IFF_VNET_HDR, abi::VirtioNetHeader), so the
// stack can ask for the tap's checksum and TSO offloads (TUNSETOFFLOAD) and move TCP
// segments of up to 64 KiB both ways.
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "morgana/platform/platform.h"
#include "platform/abi/vnet_meta.h"
#include "platform/unix/unix_platform.h"

namespace morgana::platform {
namespace unix_target {
namespace {

// TUNSETOFFLOAD's flags for our offload bits.
unsigned tun_offload_flags(NetOffloads offloads) {
  unsigned flags = 0;
  if (offloads & kNetOffloadChecksum) flags |= TUN_F_CSUM;
  if (offloads & kNetOffloadTso4) flags |= TUN_F_TSO4;
  return flags;
}

}  // namespace

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
  // No packet-information header; a virtio_net_hdr in front of every frame instead.
  request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  std::memcpy(request.ifr_name, attachment.ifname.data(), attachment.ifname.size());
  int header_size = sizeof(abi::VirtioNetHeader);
  // No offloads until the stack asks for them (NetDevice::open): a persistent tap keeps
  // whatever its previous user set.
  if (ioctl(fd, TUNSETIFF, &request) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &header_size) < 0 ||
      ioctl(fd, TUNSETOFFLOAD, 0u) < 0) {
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

void reset_tap_offloads() {
  for (uint32_t i = 0; i < device_count(); ++i) {
    AttachedDevice& device = device_table()[i];
    if (device.type == abi::DeviceType::kNet && device.fd >= 0 && device.offloads != 0)
      (void)ioctl(device.fd, TUNSETOFFLOAD, 0u);
  }
}

}  // namespace unix_target

using namespace unix_target;

// A tap has one way to move frames (read and write on its descriptor), so `path`, which
// picks between hvt's rings and calls, does not apply here.
Result<NetDevice> NetDevice::open(std::string_view name, NetPath /*path*/, NetOffloads wanted) {
  DeviceId id = 0;
  const AttachedDevice* found = find_device(name, abi::DeviceType::kNet, &id);
  if (found == nullptr) return Error{Errc::kNotFound, "no network device of that name"};
  AttachedDevice& device = device_table()[id];
  if (!device.opened) {
    device.opened = true;
    // TSO needs the checksum offload (the tap refuses TSO without it).
    if (wanted & kNetOffloadTso4) wanted |= kNetOffloadChecksum;
    wanted &= kNetOffloadChecksum | kNetOffloadTso4;
    // A kernel that refuses leaves the tap as it was: no offloads.
    if (wanted != 0 && ioctl(device.fd, TUNSETOFFLOAD, tun_offload_flags(wanted)) == 0)
      device.offloads = wanted;
  }
  return NetDevice(id, device.mac, device.mtu, device.offloads);
}

Result<void> NetDevice::write(std::span<const uint8_t> frame) {
  return write(frame, NetFrameMeta{});
}

Result<void> NetDevice::write(std::span<const uint8_t> frame, const NetFrameMeta& meta) {
  const bool gso = meta.gso_size != 0;
  const size_t limit = gso ? kNetMaxOffloadFrame : size_t(mtu_) + kEthernetHeader;
  if (frame.size() < kEthernetHeader || frame.size() > limit)
    return Error{Errc::kInvalidArgument, "frame shorter than a header or longer than allowed"};
  if (meta.checksum == NetChecksum::kValid ||
      (meta.checksum == NetChecksum::kPartial &&
       (!(offloads_ & kNetOffloadChecksum) ||
        size_t{meta.csum_start} + meta.csum_offset + 2 > frame.size())) ||
      (gso && (!(offloads_ & kNetOffloadTso4) || meta.checksum != NetChecksum::kPartial)))
    return Error{Errc::kInvalidArgument, "offload metadata the device cannot honour"};
  AttachedDevice& device = device_table()[id_];
  abi::VirtioNetHeader header = to_vnet_header(meta);
  iovec segments[2] = {{&header, sizeof header},
                       {const_cast<uint8_t*>(frame.data()), frame.size()}};
  for (;;) {
    ssize_t n = ::writev(device.fd, segments, 2);
    if (n >= 0) {  // A tap takes whole frames: no partial writes.
      device.counters.calls_out++;
      device.counters.bytes_out += frame.size();
      if (gso) device.counters.gso_out++;
      return ok();
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return Error{Errc::kAgain, "tap queue full"};
    return Error{Errc::kIo, "tap write failed"};
  }
}

Result<size_t> NetDevice::read(std::span<uint8_t> buffer) {
  NetFrameMeta meta;
  for (;;) {
    size_t n = TRY(read(buffer, meta));
    // A caller without metadata cannot be told that the checksum is still to be
    // completed or that this is many segments in one.
    if (meta.checksum != NetChecksum::kPartial && meta.gso_size == 0) return n;
    device_table()[id_].counters.dropped++;
  }
}

Result<size_t> NetDevice::read(std::span<uint8_t> buffer, NetFrameMeta& meta) {
  AttachedDevice& device = device_table()[id_];
  // The host side may run the tap with a larger MTU than we announce. Reading through a
  // second, scratch segment tells an oversized frame apart from one that just fits, and
  // such frames are dropped instead of being handed over truncated.
  static uint8_t overflow[65536];
  abi::VirtioNetHeader header;
  for (;;) {
    iovec segments[3] = {
        {&header, sizeof header}, {buffer.data(), buffer.size()}, {overflow, sizeof(overflow)}};
    ssize_t n = readv(device.fd, segments, 3);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return Error{Errc::kAgain, "no frame pending"};
      return Error{Errc::kIo, "tap read failed"};
    }
    if (size_t(n) < sizeof header) {  // the tap always writes the whole header
      device.counters.dropped++;
      continue;
    }
    size_t length = size_t(n) - sizeof header;
    // Too large for the caller's buffer, or metadata we did not ask for: drop it and
    // look at the next frame.
    if (length > buffer.size() || !from_vnet_header(header, length, meta) ||
        (meta.gso_size != 0 && !(offloads_ & kNetOffloadTso4))) {
      device.counters.dropped++;
      continue;
    }
    device.counters.calls_in++;
    device.counters.bytes_in += length;
    if (meta.gso_size != 0) device.counters.gso_in++;
    return length;
  }
}

Result<std::span<const uint8_t>> NetDevice::peek(NetFrameMeta&) {
  return Error{Errc::kUnsupported, "the tap hands frames over by read(): they are copied"};
}

void NetDevice::release() {}

}  // namespace morgana::platform
