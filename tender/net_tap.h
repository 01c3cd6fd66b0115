// The tap backend of `--net:NAME=tap:IFNAME`: guest frames go to and come from a Linux
// tap interface (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR), through one non-blocking fd, with
// the tap's checksum and TSO offloads when the guest's ring asks for them.
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
  uint32_t offloads() const override {
    return abi::kNetRingOffloadChecksum | abi::kNetRingOffloadTso4;
  }
  bool enable_offloads(uint32_t offloads) override;
  void send_offloaded(std::span<const uint8_t> frame, const abi::VirtioNetHeader& vnet) override;
  size_t recv_offloaded(std::span<uint8_t> buf, abi::VirtioNetHeader& vnet) override;

  // The interface name the kernel gave (equal to the requested one).
  const std::string& ifname() const { return ifname_; }

 private:
  // The tap never delivers more than 64 KiB at once.
  static constexpr size_t kOverflowBytes = 65536;

  TapBackend(int fd, std::string ifname)
      : fd_(fd), ifname_(std::move(ifname)), overflow_(new uint8_t[kOverflowBytes]) {}

  int fd_;
  std::string ifname_;
  bool offloading_ = false;              // enable_offloads() turned something on
  std::unique_ptr<uint8_t[]> overflow_;  // recv(): the tail of an oversized frame
};

}  // namespace morgana::tender
