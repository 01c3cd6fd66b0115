// IPv4 next-hop selection for a host with one interface (RFC 1122 §3.3.1.1): a
// destination inside our prefix is reached directly, anything else through the default
// gateway, if there is one.
#pragma once

#include <optional>

#include "morgana/net/address.h"
#include "morgana/rt/result.h"

namespace morgana::net {

enum class NextHopKind : uint8_t {
  kOnLink,     // the destination itself is on our link
  kGateway,    // through the default gateway
  kBroadcast,  // limited or subnet broadcast: no resolution, link broadcast
};

struct NextHop {
  Ipv4Address address;  // whom to resolve with ARP (the destination or the gateway)
  NextHopKind kind = NextHopKind::kOnLink;
};

class Ipv4Routes {
 public:
  // kInvalidArgument when the prefix length is over 32, our address is unspecified, or
  // the gateway is not inside our prefix (it must be reachable directly) or is our own
  // address.
  static Result<Ipv4Routes> create(Ipv4Prefix interface,
                                   std::optional<Ipv4Address> gateway = std::nullopt);

  // kNotFound ("no route to host") for an off-link destination without a gateway, and
  // kInvalidArgument for an unspecified or loopback destination.
  Result<NextHop> next_hop(Ipv4Address destination) const;

  const Ipv4Prefix& interface() const { return interface_; }
  const std::optional<Ipv4Address>& gateway() const { return gateway_; }

 private:
  Ipv4Routes(Ipv4Prefix interface, std::optional<Ipv4Address> gateway)
      : interface_(interface), gateway_(gateway) {}

  Ipv4Prefix interface_;
  std::optional<Ipv4Address> gateway_;
};

}  // namespace morgana::net
