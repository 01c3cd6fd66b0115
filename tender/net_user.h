// The user-mode backend of `--net:NAME=user[,forward=tcp:HOSTADDR:HOSTPORT-:GUESTPORT]...`:
// libslirp emulates a small NATed network in the monitor process, so no root is needed.
#pragma once

#include <memory>

#include "platform/host/device_options.h"
#include "tender/net_backend.h"

namespace morgana::tender {

// The guest network, as QEMU's user networking has it, so its guides apply unchanged.
// slirp answers ARP for the gateway and DHCP from kUserGuestAddr onwards.
inline constexpr char kUserNetwork[] = "10.0.2.0";  // /24
inline constexpr char kUserGateway[] = "10.0.2.2";  // slirp itself
inline constexpr char kUserDns[] = "10.0.2.3";      // announced by DHCP, but not served
inline constexpr char kUserGuestAddr[] = "10.0.2.15";

// libslirp in restricted mode (DESIGN.md §4): the guest reaches nothing outside the
// virtual network, not even the host's loopback, and DNS is not forwarded; the only
// traffic that crosses is through the configured TCP forwards, host → guest.
//
// libslirp is not thread-safe, so one I/O thread owns the Slirp instance and its poll
// loop. Frames cross between that thread and the monitor through two bounded
// single-producer/single-consumer queues of kUserQueueFrames frames each, each with an
// eventfd: the to-guest one is wait_fd(), the to-slirp one wakes the I/O thread.
inline constexpr size_t kUserQueueFrames = 256;

class UserBackend final : public NetBackend {
 public:
  // Creates the Slirp instance, opens every forward's listening socket and starts the
  // I/O thread. A forward that cannot listen fails the whole attachment, naming it:
  // "--net:service=user,forward=tcp:127.0.0.1:8080-:80: cannot listen on
  // 127.0.0.1:8080: Address already in use".
  static NetBackendResult create(const host::NetAttachment& attachment);
  // Stops and joins the I/O thread, then frees slirp (closing every socket).
  ~UserBackend() override;

  void send(std::span<const uint8_t> frame) override;
  size_t recv(std::span<uint8_t> buf) override;
  int wait_fd() const override;

 private:
  struct Impl;  // libslirp state and the I/O thread (net_user.cc)
  UserBackend();
  std::unique_ptr<Impl> impl_;
};

}  // namespace morgana::tender
