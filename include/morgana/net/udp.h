// UDP (RFC 768, RFC 1122 §4.1) header parsing with checksum validation, and the header
// prepended on send. Sockets and port demultiplexing come with the stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "morgana/net/address.h"
#include "morgana/net/buffer.h"
#include "morgana/net/checksum.h"
#include "morgana/net/drop.h"
#include "morgana/net/endian.h"

namespace morgana::net {

struct UdpHeader {
  Be16 source_port;
  Be16 destination_port;
  Be16 length;  // header and data
  Be16 checksum;
};
static_assert(sizeof(UdpHeader) == 8);
// The checksum field's offset in a UDP header (for checksum offload).
inline constexpr uint16_t kUdpChecksumField = 6;

enum class UdpDrop : uint8_t {
  kTruncated,    // under 8 bytes
  kBadLength,    // length field under 8 or beyond the IP payload
  kBadChecksum,  // RFC 1122 §4.1.3.4: silently discard
  kBadPort,      // destination port 0: reserved, nothing can listen there
  kNoListener,   // nobody bound to the port (an ICMP port unreachable may follow)
  kNoBuffer,     // send: no headroom
  kQueueFull,    // the socket's receive queue is at its bound (the application is slow)
  kWrongPeer,    // a connected socket got a datagram from another endpoint
  kCount
};
const char* drop_reason_name(UdpDrop reason);

using UdpCounters = LayerCounters<UdpDrop>;

struct UdpDatagram {
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  bool checksummed = false;  // false: the sender sent 0, "no checksum" (RFC 768)
  std::span<const uint8_t> payload;
};

// Parses `segment` (the IPv4 payload) from `source` to `destination`. The length field
// may be shorter than the segment (the rest is ignored, as Linux does) but not longer;
// a zero checksum means the sender computed none; a checksum the device vouched for is
// not checked again.
Parsed<UdpDatagram, UdpDrop> parse_udp(std::span<const uint8_t> segment, Ipv4Address source,
                                       Ipv4Address destination,
                                       ReceivedChecksum checksum = ReceivedChecksum::kUnverified);

// Prepends the UDP header to a packet holding the payload and fills in the checksum
// (a computed 0 is sent as 0xffff, RFC 768), or, with ChecksumBy::kDevice, only its
// pseudo-header part, and asks the device to finish it (the packet's offload request).
// The device sums the whole packet, so kDevice is for a datagram that leaves in one
// frame, never for one IPv4 fragments. Counts kNoBuffer on failure.
[[nodiscard]] bool udp_prepend(uint16_t source_port, uint16_t destination_port, Ipv4Address source,
                               Ipv4Address destination, PacketBuffer& packet, UdpCounters& counters,
                               ChecksumBy by = ChecksumBy::kStack);

}  // namespace morgana::net
