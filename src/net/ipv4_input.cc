// The IPv4 receive path: parse, filter by destination, reassemble.
#include "morgana/net/ipv4_input.h"

namespace morgana::net {

Result<Ipv4Input> Ipv4Input::create(const Ipv4InputConfig& config) {
  if (config.address.length > 32) return Error{Errc::kInvalidArgument, "ipv4: prefix over 32"};
  Ipv4Reassembler reassembler = TRY(Ipv4Reassembler::create(config.reassembly));
  return Ipv4Input(config, std::move(reassembler));
}

bool Ipv4Input::accepts(Ipv4Address destination) const {
  const Ipv4Address self = config_.address.address;
  if (self.is_unspecified()) return true;
  if (destination == self || destination.is_broadcast()) return true;
  // A /31 or /32 has no broadcast address (RFC 3021).
  return config_.address.length < 31 && destination == config_.address.subnet_broadcast();
}

std::optional<Ipv4Datagram> Ipv4Input::receive(std::span<const uint8_t> packet, uint64_t now) {
  ++counters_.received;
  auto datagram = counters_.accept(parse_ipv4(packet));
  if (!datagram) return std::nullopt;
  const Ipv4Address self = config_.address.address;
  if (!self.is_unspecified() &&
      (datagram->source == self ||
       (config_.address.length < 31 && datagram->source == config_.address.subnet_broadcast()))) {
    counters_.drop(Ipv4Drop::kBadSource);  // RFC 1122 §3.2.1.3: a spoof or a loop
    return std::nullopt;
  }
  if (!accepts(datagram->destination)) {
    counters_.drop(Ipv4Drop::kNotForUs);  // we do not forward (RFC 1122 §3.3.1)
    return std::nullopt;
  }
  if (datagram->is_fragment()) {
    datagram = reassembler_.add(*datagram, now, counters_);
    if (!datagram) return std::nullopt;
  }
  ++counters_.delivered;
  return datagram;
}

}  // namespace morgana::net
