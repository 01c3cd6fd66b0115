// UDP header parsing and prepending.
#include "morgana/net/udp.h"

#include <cstring>

#include "morgana/net/checksum.h"
#include "morgana/net/cursor.h"

namespace morgana::net {

namespace {
constexpr uint8_t kProtocolUdp = 17;
}

const char* drop_reason_name(UdpDrop reason) {
  switch (reason) {
    case UdpDrop::kTruncated:
      return "truncated";
    case UdpDrop::kBadLength:
      return "bad_length";
    case UdpDrop::kBadChecksum:
      return "bad_checksum";
    case UdpDrop::kBadPort:
      return "bad_port";
    case UdpDrop::kNoListener:
      return "no_listener";
    case UdpDrop::kNoBuffer:
      return "no_buffer";
    case UdpDrop::kQueueFull:
      return "queue_full";
    case UdpDrop::kWrongPeer:
      return "wrong_peer";
    case UdpDrop::kCount:
      break;
  }
  return "?";
}

Parsed<UdpDatagram, UdpDrop> parse_udp(std::span<const uint8_t> segment, Ipv4Address source,
                                       Ipv4Address destination, ReceivedChecksum checksum) {
  Cursor cursor(segment);
  auto header = cursor.read<UdpHeader>();
  if (!header) return UdpDrop::kTruncated;
  const size_t length = header->length.value();
  if (length < sizeof(UdpHeader) || length > segment.size()) return UdpDrop::kBadLength;
  const auto datagram = segment.first(length);
  const bool checksummed = header->checksum.value() != 0;
  if (checksummed && checksum == ReceivedChecksum::kUnverified) {
    Checksum sum;
    add_ipv4_pseudo_header(sum, source, destination, kProtocolUdp, static_cast<uint16_t>(length));
    sum.add(datagram);
    if (!sum.verifies()) return UdpDrop::kBadChecksum;
  }
  if (header->destination_port.value() == 0) return UdpDrop::kBadPort;
  return UdpDatagram{header->source_port.value(), header->destination_port.value(), checksummed,
                     datagram.subspan(sizeof(UdpHeader))};
}

bool udp_prepend(uint16_t source_port, uint16_t destination_port, Ipv4Address source,
                 Ipv4Address destination, PacketBuffer& packet, UdpCounters& counters,
                 ChecksumBy by) {
  const size_t length = packet.size() + sizeof(UdpHeader);
  auto space = length <= 0xffff ? packet.prepend(sizeof(UdpHeader)) : std::nullopt;
  if (!space) {
    counters.drop(UdpDrop::kNoBuffer);
    return false;
  }
  UdpHeader header{Be16(source_port), Be16(destination_port), Be16(static_cast<uint16_t>(length)),
                   Be16(0)};
  if (by == ChecksumBy::kDevice) {
    // virtio's NEEDS_CSUM, as for TCP: the field holds the folded pseudo-header sum, not
    // inverted. It is never 0 (the protocol and length words are not), so the field
    // cannot read as "no checksum" on the way; a device that completes a UDP sum to 0
    // sends 0xffff (Linux's CSUM_MANGLED_0), as RFC 768 asks.
    Checksum sum;
    add_ipv4_pseudo_header(sum, source, destination, kProtocolUdp, static_cast<uint16_t>(length));
    header.checksum.set(sum.sum());
    std::memcpy(space->data(), &header, sizeof(header));
    packet.request_offload(kUdpChecksumField, 0);
  } else {
    std::memcpy(space->data(), &header, sizeof(header));
    uint16_t checksum =
        ipv4_transport_checksum(source, destination, kProtocolUdp, packet.data().first(length));
    if (checksum == 0) checksum = 0xffff;  // RFC 768: 0 means "none"; all ones is the same sum
    header.checksum.set(checksum);
    std::memcpy(space->data(), &header, sizeof(header));
  }
  ++counters.sent;
  return true;
}

}  // namespace morgana::net
