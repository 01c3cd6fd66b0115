// An IPv4 transport endpoint: address and port.
#pragma once

#include <cstdint>

#include "morgana/net/address.h"

namespace morgana::net {

struct Endpoint {
  Ipv4Address address;
  uint16_t port = 0;
  friend constexpr bool operator==(const Endpoint&, const Endpoint&) = default;
};

// What a UDP receive returns: the datagram's size (bytes copied into the caller's
// buffer), its sender, and whether it was cut to fit the buffer.
struct UdpReceived {
  size_t size = 0;
  Endpoint from;
  bool truncated = false;
};

}  // namespace morgana::net
