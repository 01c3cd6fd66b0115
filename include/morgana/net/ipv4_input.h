// The IPv4 receive path of one interface: validation (parse_ipv4), the destination
// filter and reassembly, with every drop counted in one Ipv4Counters.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>

#include "morgana/net/address.h"
#include "morgana/net/ipv4.h"
#include "morgana/net/ipv4_reassembly.h"
#include "morgana/rt/result.h"

namespace morgana::net {

struct Ipv4InputConfig {
  // Our address and on-link prefix. An unspecified address (0.0.0.0, while DHCP runs)
  // accepts any destination, as RFC 2131 §4.1 lets a client without one receive its
  // OFFER unicast.
  Ipv4Prefix address;
  ReassemblyConfig reassembly;
};

class Ipv4Input {
 public:
  static Result<Ipv4Input> create(const Ipv4InputConfig& config);

  // One IPv4 packet (the Ethernet payload). Returns the datagram for the transport
  // layer: a whole datagram parsed in place (spans into `packet`), or one just
  // reassembled (spans valid until the next receive() or expire()). The caller counts
  // kUnknownProtocol for protocols it does not handle.
  std::optional<Ipv4Datagram> receive(std::span<const uint8_t> packet, uint64_t now);
  // Times out incomplete datagrams; call by next_deadline().
  void expire(uint64_t now) { reassembler_.expire(now, counters_); }
  uint64_t next_deadline() const { return reassembler_.next_deadline(); }

  // Is `destination` ours: our address, the limited broadcast, or our subnet's
  // broadcast (RFC 1122 §3.3.6)?
  bool accepts(Ipv4Address destination) const;

  Ipv4Counters& counters() { return counters_; }
  const Ipv4Reassembler& reassembler() const { return reassembler_; }
  const Ipv4InputConfig& config() const { return config_; }

 private:
  Ipv4Input(const Ipv4InputConfig& config, Ipv4Reassembler reassembler)
      : config_(config), reassembler_(std::move(reassembler)) {}

  Ipv4InputConfig config_;
  Ipv4Reassembler reassembler_;
  Ipv4Counters counters_;
};

}  // namespace morgana::net
