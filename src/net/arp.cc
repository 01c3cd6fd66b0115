// ARP packet parsing and encoding (RFC 826).
#include "morgana/net/arp.h"

#include "morgana/net/cursor.h"

namespace morgana::net {

namespace {
constexpr uint16_t kHardwareEthernet = 1;
constexpr uint16_t kProtocolIpv4 = 0x0800;
}  // namespace

const char* drop_reason_name(ArpDrop reason) {
  switch (reason) {
    case ArpDrop::kTruncated:
      return "truncated";
    case ArpDrop::kUnsupported:
      return "unsupported";
    case ArpDrop::kBadOperation:
      return "bad_operation";
    case ArpDrop::kBadSender:
      return "bad_sender";
    case ArpDrop::kAddressConflict:
      return "address_conflict";
    case ArpDrop::kNotForUs:
      return "not_for_us";
    case ArpDrop::kPendingOverflow:
      return "pending_overflow";
    case ArpDrop::kUnresolved:
      return "unresolved";
    case ArpDrop::kEvicted:
      return "evicted";
    case ArpDrop::kNoBuffer:
      return "no_buffer";
    case ArpDrop::kCount:
      break;
  }
  return "?";
}

Parsed<ArpPacket, ArpDrop> parse_arp(std::span<const uint8_t> bytes) {
  Cursor cursor(bytes);
  auto header = cursor.read<ArpHeader>();
  if (!header) return ArpDrop::kTruncated;
  if (header->hardware_type.value() != kHardwareEthernet ||
      header->protocol_type.value() != kProtocolIpv4 || header->hardware_length != 6 ||
      header->protocol_length != 4) {
    return ArpDrop::kUnsupported;
  }
  const uint16_t operation = header->operation.value();
  if (operation != uint16_t(ArpOperation::kRequest) &&
      operation != uint16_t(ArpOperation::kReply)) {
    return ArpDrop::kBadOperation;
  }
  // A group address never owns an IPv4 address; learning it would let one packet point
  // a cache entry at every host on the link.
  if (header->sender_mac.is_multicast() || header->sender_ip.is_broadcast() ||
      header->sender_ip.is_multicast()) {
    return ArpDrop::kBadSender;
  }
  return ArpPacket{ArpOperation(operation), header->sender_mac, header->sender_ip,
                   header->target_mac, header->target_ip};
}

void encode_arp(const ArpPacket& packet, std::span<uint8_t, sizeof(ArpHeader)> out) {
  ArpHeader header{Be16(kHardwareEthernet),
                   Be16(kProtocolIpv4),
                   6,
                   4,
                   Be16(uint16_t(packet.operation)),
                   packet.sender_mac,
                   packet.sender_ip,
                   packet.target_mac,
                   packet.target_ip};
  Writer writer(out);
  bool ok = writer.write(header);
  MORGANA_ASSERT(ok);
}

}  // namespace morgana::net
