// Next-hop selection: on-link by prefix, otherwise the default gateway.
#include "morgana/net/route.h"

namespace morgana::net {

Result<Ipv4Routes> Ipv4Routes::create(Ipv4Prefix interface, std::optional<Ipv4Address> gateway) {
  if (interface.length > 32 || interface.address.is_unspecified()) {
    return Error{Errc::kInvalidArgument, "route: bad interface address"};
  }
  if (gateway && (!interface.contains(*gateway) || *gateway == interface.address ||
                  gateway->is_unspecified())) {
    return Error{Errc::kInvalidArgument, "route: gateway not on the interface's link"};
  }
  return Ipv4Routes(interface, gateway);
}

Result<NextHop> Ipv4Routes::next_hop(Ipv4Address destination) const {
  if (destination.is_unspecified() || destination.is_loopback()) {
    return Error{Errc::kInvalidArgument, "route: unspecified or loopback destination"};
  }
  // A /31 has no broadcast address (RFC 3021); a /32 has no on-link neighbours but its
  // own address.
  const bool has_broadcast = interface_.length < 31;
  if (destination.is_broadcast() ||
      (has_broadcast && destination == interface_.subnet_broadcast())) {
    return NextHop{destination, NextHopKind::kBroadcast};
  }
  // Multicast is sent on the link (RFC 1112 §6.4); ARP maps it to a group MAC.
  if (destination.is_multicast() || interface_.contains(destination)) {
    return NextHop{destination, NextHopKind::kOnLink};
  }
  if (gateway_) return NextHop{*gateway_, NextHopKind::kGateway};
  return Error{Errc::kNotFound, "route: no route to host"};
}

}  // namespace morgana::net
