// The tap backend: one non-blocking fd on /dev/net/tun per attachment. Reads and writes
// carry exactly one Ethernet frame each, behind a virtio_net_hdr (IFF_VNET_HDR).
#include "tender/net_tap.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace morgana::tender {

NetBackendResult TapBackend::create(const host::NetAttachment& attachment) {
  const std::string what = "--net:" + attachment.name + "=tap:" + attachment.ifname;
  if (attachment.ifname.empty() || attachment.ifname.size() >= IFNAMSIZ) {
    return {nullptr,
            what + ": interface name must be 1 to " + std::to_string(IFNAMSIZ - 1) + " bytes"};
  }
  // O_NONBLOCK: send() and recv() must never stall the vCPU (net_backend.h).
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return {nullptr, what + ": cannot open /dev/net/tun: " + std::strerror(errno)};
  }
  ifreq ifr{};
  // IFF_NO_PI: no 4-byte packet-information prefix. IFF_VNET_HDR: a virtio_net_hdr in
  // front of each frame instead, which says what the tap's offloads did or should do.
  // None until the guest's ring asks (a persistent tap keeps its last user's).
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  std::memcpy(ifr.ifr_name, attachment.ifname.data(), attachment.ifname.size());
  int header_size = sizeof(abi::VirtioNetHeader);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &header_size) < 0 ||
      ioctl(fd, TUNSETOFFLOAD, 0u) < 0) {
    int err = errno;
    close(fd);
    return {nullptr, what + ": cannot attach: " + std::strerror(err)};
  }
  return {std::unique_ptr<NetBackend>(new TapBackend(fd, ifr.ifr_name)), ""};
}

TapBackend::~TapBackend() {
  // The next program on a persistent tap may read it without a vnet header.
  if (offloading_) (void)ioctl(fd_, TUNSETOFFLOAD, 0u);
  close(fd_);
}

bool TapBackend::enable_offloads(uint32_t offloads) {
  unsigned flags = 0;
  if (offloads & abi::kNetRingOffloadChecksum) flags |= TUN_F_CSUM;
  if (offloads & abi::kNetRingOffloadTso4) flags |= TUN_F_TSO4;
  if (ioctl(fd_, TUNSETOFFLOAD, flags) < 0) return false;
  offloading_ = flags != 0;
  return true;
}

void TapBackend::send(std::span<const uint8_t> frame) {
  send_offloaded(frame, abi::VirtioNetHeader{});
}

void TapBackend::send_offloaded(std::span<const uint8_t> frame, const abi::VirtioNetHeader& vnet) {
  const bool gso = vnet.gso_type != abi::kVirtioNetGsoNone;
  if (frame.size() < kNetMinFrame) return counters_.drop(NetDrop::kSendTooShort);
  if (frame.size() > (gso ? abi::kNetMaxOffloadFrame : kNetMaxFrame))
    return counters_.drop(NetDrop::kSendTooLarge);
  iovec iov[2] = {{const_cast<abi::VirtioNetHeader*>(&vnet), sizeof vnet},
                  {const_cast<uint8_t*>(frame.data()), frame.size()}};
  const ssize_t total = static_cast<ssize_t>(sizeof vnet + frame.size());
  ssize_t n;
  do {
    n = writev(fd_, iov, 2);
  } while (n < 0 && errno == EINTR);
  if (n == total) {
    if (gso) counters_.gso_sent();
    return counters_.sent(frame.size());
  }
  // EAGAIN: the tap's queue towards the host stack is full. Anything else (EIO when
  // the interface is down, EINVAL for a frame the kernel rejects) is the host's refusal.
  counters_.drop(n < 0 && errno == EAGAIN ? NetDrop::kSendQueueFull : NetDrop::kSendError);
}

size_t TapBackend::recv(std::span<uint8_t> buf) {
  abi::VirtioNetHeader vnet;
  for (;;) {
    size_t len = recv_offloaded(buf, vnet);
    // Without offloads the kernel completes checksums and segments before the tap:
    // such metadata here would be its mistake, and the frame unusable as it is.
    if (len == 0 ||
        ((vnet.flags & abi::kVirtioNetNeedsCsum) == 0 && vnet.gso_type == abi::kVirtioNetGsoNone))
      return len;
    counters_.drop(NetDrop::kRecvBadOffload);
  }
}

size_t TapBackend::recv_offloaded(std::span<uint8_t> buf, abi::VirtioNetHeader& vnet) {
  // A second iovec catches the tail of a frame longer than `buf` (the host's side of
  // the tap may have a larger MTU), so such a frame is seen whole and dropped rather
  // than silently truncated. The tap never delivers more than 64 KiB at once.
  for (;;) {
    iovec iov[3] = {
        {&vnet, sizeof vnet}, {buf.data(), buf.size()}, {overflow_.get(), kOverflowBytes}};
    ssize_t n = readv(fd_, iov, 3);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) counters_.drop(NetDrop::kRecvError);
      return 0;
    }
    if (static_cast<size_t>(n) <= sizeof vnet) {  // the tap always writes the header
      counters_.drop(NetDrop::kRecvError);
      continue;
    }
    size_t len = static_cast<size_t>(n) - sizeof vnet;
    const uint8_t gso = vnet.gso_type & ~abi::kVirtioNetGsoEcn;
    if (gso != abi::kVirtioNetGsoNone && gso != abi::kVirtioNetGsoTcpv4) {
      counters_.drop(NetDrop::kRecvBadOffload);
      continue;
    }
    if (len > buf.size() || len > (gso ? abi::kNetMaxOffloadFrame : kNetMaxFrame)) {
      counters_.drop(NetDrop::kRecvTooLarge);
      continue;  // try the next frame: recv() returns 0 only when nothing is waiting
    }
    if (gso) counters_.gso_received();
    counters_.received(len);
    return len;
  }
}

}  // namespace morgana::tender
