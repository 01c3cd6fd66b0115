// Ethernet II parsing, the receive filter and header prepending.
#include "morgana/net/ethernet.h"

#include "morgana/net/cursor.h"

namespace morgana::net {

const char* drop_reason_name(EthernetDrop reason) {
  switch (reason) {
    case EthernetDrop::kTruncated:
      return "truncated";
    case EthernetDrop::kLengthField:
      return "length_field";
    case EthernetDrop::kTooManyTags:
      return "too_many_tags";
    case EthernetDrop::kWrongVlan:
      return "wrong_vlan";
    case EthernetDrop::kNotForUs:
      return "not_for_us";
    case EthernetDrop::kBadSource:
      return "bad_source";
    case EthernetDrop::kUnknownEtherType:
      return "unknown_ethertype";
    case EthernetDrop::kNoBuffer:
      return "no_buffer";
    case EthernetDrop::kTooLong:
      return "too_long";
    case EthernetDrop::kBadOffload:
      return "bad_offload";
    case EthernetDrop::kCount:
      break;
  }
  return "?";
}

Parsed<EthernetFrame, EthernetDrop> parse_ethernet(std::span<const uint8_t> bytes) {
  Cursor cursor(bytes);
  auto header = cursor.read<EthernetHeader>();
  if (!header) return EthernetDrop::kTruncated;
  EthernetFrame frame;
  frame.destination = header->destination;
  frame.source = header->source;
  uint16_t type = header->ethertype.value();
  while (type == uint16_t(EtherType::kVlan) || type == uint16_t(EtherType::kQinQ)) {
    if (frame.tags == 2) return EthernetDrop::kTooManyTags;
    auto tag = cursor.read<VlanTag>();
    if (!tag) return EthernetDrop::kTruncated;
    frame.vlan_id = tag->tci.value() & 0x0fff;
    frame.vlan_priority = static_cast<uint8_t>(tag->tci.value() >> 13);
    ++frame.tags;
    type = tag->ethertype.value();
  }
  // IEEE 802.3 §3.2.6: values up to 1500 are a length (an LLC frame), 1536 and up an
  // EtherType; the range in between is undefined.
  if (type < 0x0600) return EthernetDrop::kLengthField;
  frame.ethertype = type;
  frame.header_size = cursor.position();
  frame.payload = cursor.rest();
  return frame;
}

std::optional<EthernetFrame> ethernet_receive(const EthernetConfig& config,
                                              std::span<const uint8_t> bytes,
                                              EthernetCounters& counters) {
  ++counters.received;
  auto frame = counters.accept(parse_ethernet(bytes));
  if (!frame) return std::nullopt;
  if (frame->source.is_multicast()) {
    counters.drop(EthernetDrop::kBadSource);
    return std::nullopt;
  }
  if (frame->destination != config.mac && !frame->destination.is_broadcast()) {
    counters.drop(EthernetDrop::kNotForUs);
    return std::nullopt;
  }
  // With QinQ the inner (customer) tag names the VLAN; an untagged port accepts only
  // untagged and priority-tagged (VID 0, IEEE 802.1Q §9.6) frames.
  if (frame->vlan_id != config.vlan_id || (config.vlan_id == kNoVlan && frame->tags > 1)) {
    counters.drop(EthernetDrop::kWrongVlan);
    return std::nullopt;
  }
  if (frame->ethertype != uint16_t(EtherType::kIpv4) &&
      frame->ethertype != uint16_t(EtherType::kArp)) {
    counters.drop(EthernetDrop::kUnknownEtherType);
    return std::nullopt;
  }
  ++counters.delivered;
  return frame;
}

bool ethernet_prepend(const EthernetConfig& config, MacAddress destination, EtherType ethertype,
                      PacketBuffer& packet, EthernetCounters& counters) {
  const bool tagged = config.vlan_id != kNoVlan;
  auto space = packet.prepend(kEthernetHeaderSize + (tagged ? kVlanTagSize : 0));
  if (!space) {
    counters.drop(EthernetDrop::kNoBuffer);
    return false;
  }
  Writer writer(*space);
  EthernetHeader header{destination, config.mac,
                        Be16(tagged ? uint16_t(EtherType::kVlan) : uint16_t(ethertype))};
  bool ok = writer.write(header);
  if (tagged)
    ok = ok && writer.write(VlanTag{Be16(config.vlan_id & 0x0fff), Be16(uint16_t(ethertype))});
  MORGANA_ASSERT(ok && writer.remaining() == 0);
  ++counters.sent;
  return true;
}

}  // namespace morgana::net
