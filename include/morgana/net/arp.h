// ARP for IPv4 over Ethernet (RFC 826): the packet format and its parser and encoder. The
// cache and resolution logic are in arp_cache.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "morgana/net/address.h"
#include "morgana/net/drop.h"
#include "morgana/net/endian.h"

namespace morgana::net {

// RFC 826 "Packet format", specialised to Ethernet (hardware type 1) and IPv4.
struct ArpHeader {
  Be16 hardware_type;  // 1: Ethernet
  Be16 protocol_type;  // 0x0800: IPv4
  uint8_t hardware_length;
  uint8_t protocol_length;
  Be16 operation;
  MacAddress sender_mac;
  Ipv4Address sender_ip;
  MacAddress target_mac;
  Ipv4Address target_ip;
};
static_assert(sizeof(ArpHeader) == 28);

enum class ArpOperation : uint16_t { kRequest = 1, kReply = 2 };

enum class ArpDrop : uint8_t {
  kTruncated,        // fewer than 28 bytes
  kUnsupported,      // not Ethernet/IPv4 (hardware/protocol type or lengths)
  kBadOperation,     // neither request nor reply
  kBadSender,        // multicast sender MAC, our own MAC, or a broadcast/multicast sender IP
  kAddressConflict,  // another host claims our IPv4 address (RFC 5227 §2.4)
  kNotForUs,         // about other hosts, and taught us nothing
  kPendingOverflow,  // oldest packet awaiting resolution dropped for a newer one
  kUnresolved,       // packet awaiting resolution dropped: no reply after all retries
  kEvicted,          // packet awaiting resolution dropped: its entry made room for another
  kNoBuffer,         // no buffer for an ARP frame we had to send
  kCount
};
const char* drop_reason_name(ArpDrop reason);

// A validated ARP packet (Ethernet payload; trailing padding is ignored).
struct ArpPacket {
  ArpOperation operation = ArpOperation::kRequest;
  MacAddress sender_mac;
  Ipv4Address sender_ip;
  MacAddress target_mac;
  Ipv4Address target_ip;

  // RFC 5227 §2.1.1: a probe asks about an address without claiming one.
  bool is_probe() const { return sender_ip.is_unspecified(); }
  // RFC 5227 §3 / RFC 5944 §4.6: an announcement names the sender's own address as
  // target (in a request or a reply).
  bool is_gratuitous() const { return sender_ip == target_ip; }
};

// Checks the fixed fields and the sender (RFC 826 "Packet Reception": hardware and
// protocol type and lengths must match what we speak).
Parsed<ArpPacket, ArpDrop> parse_arp(std::span<const uint8_t> bytes);

// Writes the 28-byte packet for `packet` (Ethernet/IPv4 constants filled in).
void encode_arp(const ArpPacket& packet, std::span<uint8_t, sizeof(ArpHeader)> out);

using ArpCounters = LayerCounters<ArpDrop>;

}  // namespace morgana::net
