// The tap backend of `--net:NAME=tap:IFNAME`: guest frames go to and come from a Linux
// tap interface as they are (IFF_TAP | IFF_NO_PI), through one non-blocking fd.
#pragma once

#include <memory>
#include <string>

#include "platform/host/device_options.h"
#include "tender/net_backend.h"

namespace morgana::tender {

class TapBackend final : public NetBackend {
 public:
  // Attaches to the tap interface `attachment.ifname`, creating it if it does not
  // exist (a new one vanishes again when the backend is destroyed, and the caller
  // brings it up). Needs CAP_NET_ADMIN, or a persistent tap owned by this user.
  // Fails with e.g. "--net:service=tap:tap0: cannot attach: Operation not permitted".
  static NetBackendResult create(const host::NetAttachment& attachment);
  ~TapBackend() override;

  void send(std::span<const uint8_t> frame) override;
  size_t recv(std::span<uint8_t> buf) override;
  int wait_fd() const override { return fd_; }

  // The interface name the kernel gave (equal to the requested one).
  const std::string& ifname() const { return ifname_; }

 private:
  // The tap never delivers more than 64 KiB at once.
  static constexpr size_t kOverflowBytes = 65536;

  TapBackend(int fd, std::string ifname)
      : fd_(fd), ifname_(std::move(ifname)), overflow_(new uint8_t[kOverflowBytes]) {}

  int fd_;
  std::string ifname_;
  std::unique_ptr<uint8_t[]> overflow_;  // recv(): the tail of an oversized frame
};

}  // namespace morgana::tender
