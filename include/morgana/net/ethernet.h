// Ethernet II framing (IEEE 802.3 with EtherType), with IEEE 802.1Q VLAN tags: parsing in
// place on receive, and the header prepended into a buffer's headroom on send.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "morgana/net/address.h"
#include "morgana/net/buffer.h"
#include "morgana/net/drop.h"
#include "morgana/net/endian.h"

namespace morgana::net {

enum class EtherType : uint16_t {
  kIpv4 = 0x0800,
  kArp = 0x0806,
  kVlan = 0x8100,  // IEEE 802.1Q customer tag
  kQinQ = 0x88a8,  // IEEE 802.1ad service tag (outer tag of a double-tagged frame)
  kIpv6 = 0x86dd,
};

struct EthernetHeader {
  MacAddress destination;
  MacAddress source;
  Be16 ethertype;
};
static_assert(sizeof(EthernetHeader) == 14);

// IEEE 802.1Q: after the source address, TPID 0x8100 then this.
struct VlanTag {
  Be16 tci;  // priority (3 bits), drop eligible (1), VLAN ID (12)
  Be16 ethertype;
};
static_assert(sizeof(VlanTag) == 4);

inline constexpr size_t kEthernetHeaderSize = sizeof(EthernetHeader);
inline constexpr size_t kVlanTagSize = 4;
inline constexpr size_t kEthernetMtu = 1500;
inline constexpr uint16_t kNoVlan = 0;  // VLAN ID 0: untagged, or a priority-only tag

enum class EthernetDrop : uint8_t {
  kTruncated,         // shorter than the header (and tags) it claims
  kLengthField,       // an IEEE 802.3 length instead of an EtherType (LLC/SNAP): unsupported
  kTooManyTags,       // more than two VLAN tags
  kWrongVlan,         // tagged with a VLAN ID other than the interface's
  kNotForUs,          // unicast to another MAC (or multicast we don't listen to)
  kBadSource,         // a multicast source address (IEEE 802.3 §3.2.3: never valid)
  kUnknownEtherType,  // no protocol for it here (IPv6 for now)
  kNoBuffer,          // send side: no headroom for the header
  kTooLong,           // longer than the MTU allows, and not a segment the device merged (GRO)
  kBadOffload,        // offload metadata that does not fit the frame (a merged non-TCP frame)
  kCount
};
const char* drop_reason_name(EthernetDrop reason);

// A parsed frame: views into the received bytes, nothing copied.
struct EthernetFrame {
  MacAddress destination;
  MacAddress source;
  uint16_t ethertype = 0;            // of the payload, after any VLAN tags
  uint16_t vlan_id = kNoVlan;        // of the innermost tag; kNoVlan when untagged
  uint8_t vlan_priority = 0;         // IEEE 802.1p PCP of that tag
  uint8_t tags = 0;                  // 0, 1 or 2 VLAN tags were present
  size_t header_size = 0;            // 14, 18 or 22
  std::span<const uint8_t> payload;  // may include padding to the 60-byte minimum
};

// Parses the header and up to two VLAN tags (802.1Q, or 802.1ad outer + 802.1Q inner).
Parsed<EthernetFrame, EthernetDrop> parse_ethernet(std::span<const uint8_t> frame);

// The interface's link-layer identity: its MAC and VLAN (kNoVlan for an untagged port).
struct EthernetConfig {
  MacAddress mac;
  uint16_t vlan_id = kNoVlan;
};

using EthernetCounters = LayerCounters<EthernetDrop>;

// Receive filter: parses `frame` and keeps it only if it is addressed to us (our MAC or
// broadcast; other multicast is dropped, no group is joined), comes from a unicast
// source, is on our VLAN (priority-tagged frames, VLAN 0, count as untagged), and
// carries IPv4 or ARP. Every rejection is one counted drop.
std::optional<EthernetFrame> ethernet_receive(const EthernetConfig& config,
                                              std::span<const uint8_t> frame,
                                              EthernetCounters& counters);

// Prepends the Ethernet header (with an 802.1Q tag when config.vlan_id is set) to the
// packet. Fails, counting kNoBuffer, when the headroom is too small.
[[nodiscard]] bool ethernet_prepend(const EthernetConfig& config, MacAddress destination,
                                    EtherType ethertype, PacketBuffer& packet,
                                    EthernetCounters& counters);

}  // namespace morgana::net
