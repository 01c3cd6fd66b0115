// The tap backend: one non-blocking fd on /dev/net/tun per attachment. Reads and writes
// carry exactly one Ethernet frame each, so there is no framing to do here.
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
  // IFF_NO_PI: no 4-byte packet-information prefix, so a read is exactly a frame.
  // No IFF_VNET_HDR: the guest does no offloads, frames are never larger than the MTU.
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, attachment.ifname.data(), attachment.ifname.size());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return {nullptr, what + ": cannot attach: " + std::strerror(err)};
  }
  return {std::unique_ptr<NetBackend>(new TapBackend(fd, ifr.ifr_name)), ""};
}

TapBackend::~TapBackend() {
  close(fd_);
}

void TapBackend::send(std::span<const uint8_t> frame) {
  if (frame.size() < kNetMinFrame) return counters_.drop(NetDrop::kSendTooShort);
  if (frame.size() > kNetMaxFrame) return counters_.drop(NetDrop::kSendTooLarge);
  ssize_t n;
  do {
    n = write(fd_, frame.data(), frame.size());
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(frame.size())) return counters_.sent(frame.size());
  // EAGAIN: the tap's queue towards the host stack is full. Anything else (EIO when
  // the interface is down, EINVAL for a frame the kernel rejects) is the host's refusal.
  counters_.drop(n < 0 && errno == EAGAIN ? NetDrop::kSendQueueFull : NetDrop::kSendError);
}

size_t TapBackend::recv(std::span<uint8_t> buf) {
  // A second iovec catches the tail of a frame longer than `buf` (the host's side of
  // the tap may have a larger MTU), so such a frame is seen whole and dropped rather
  // than silently truncated. The tap never delivers more than 64 KiB at once.
  for (;;) {
    iovec iov[2] = {{buf.data(), buf.size()}, {overflow_.get(), kOverflowBytes}};
    ssize_t n = readv(fd_, iov, 2);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) counters_.drop(NetDrop::kRecvError);
      return 0;
    }
    size_t len = static_cast<size_t>(n);
    if (len > buf.size() || len > kNetMaxFrame) {
      counters_.drop(NetDrop::kRecvTooLarge);
      continue;  // try the next frame: recv() returns 0 only when nothing is waiting
    }
    counters_.received(len);
    return len;
  }
}

}  // namespace morgana::tender
