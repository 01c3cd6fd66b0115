// IPv4 (RFC 791, host requirements from RFC 1122 §3): header validation and in-place
// parsing on receive, header encoding and fragmentation on send. Reassembly is in
// ipv4_reassembly.h; Ipv4Input (ipv4_input.h) puts the receive side together.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "morgana/net/address.h"
#include "morgana/net/buffer.h"
#include "morgana/net/checksum.h"
#include "morgana/net/drop.h"
#include "morgana/net/endian.h"
#include "morgana/rt/result.h"

namespace morgana::net {

// RFC 791 §3.1 "Internet Header Format" (fixed part; options follow, IHL says how many).
struct Ipv4Header {
  uint8_t version_ihl;
  uint8_t tos;
  Be16 total_length;
  Be16 id;
  Be16 flags_fragment;  // reserved bit, DF, MF, then 13 bits of offset in 8-byte units
  uint8_t ttl;
  uint8_t protocol;
  Be16 checksum;
  Ipv4Address source;
  Ipv4Address destination;
};
static_assert(sizeof(Ipv4Header) == 20);

enum class IpProtocol : uint8_t { kIcmp = 1, kTcp = 6, kUdp = 17 };

inline constexpr size_t kIpv4HeaderSize = sizeof(Ipv4Header);
inline constexpr size_t kIpv4MaxHeaderSize = 60;
inline constexpr size_t kIpv4MaxDatagram = 65535;  // total length is 16 bits
inline constexpr size_t kIpv4MinMtu = 68;          // RFC 791 §3.2 "Fragmentation"
inline constexpr uint16_t kIpv4FlagReserved = 0x8000;
inline constexpr uint16_t kIpv4FlagDontFragment = 0x4000;
inline constexpr uint16_t kIpv4FlagMoreFragments = 0x2000;
inline constexpr uint16_t kIpv4OffsetMask = 0x1fff;
inline constexpr uint8_t kIpv4DefaultTtl = 64;  // RFC 1700; what Linux uses

enum class Ipv4Drop : uint8_t {
  kTruncated,             // under 20 bytes, or the header (IHL) is longer than what arrived
  kBadVersion,            // version is not 4
  kBadHeaderLength,       // IHL < 5, or the header is longer than the total length
  kBadTotalLength,        // total length exceeds the bytes received
  kBadChecksum,           // RFC 791 §3.1: header checksum
  kBadSource,             // broadcast, multicast, loopback or our own source (RFC 1122 §3.2.1.3)
  kNotForUs,              // neither our address nor a broadcast we accept
  kUnknownProtocol,       // counted by the dispatcher for protocols it lacks
  kFragmentBadLength,     // a non-final fragment that is empty or not a multiple of 8 bytes
  kFragmentTooLarge,      // would reassemble past 65535 bytes (e.g. "ping of death")
  kFragmentOverlap,       // overlaps data already received with different bytes
  kFragmentInconsistent,  // disagrees with the end of the datagram already known
  kTooManyFragments,      // more fragments than a datagram may have
  kReassemblyTimeout,     // datagram incomplete when its timer ran out (RFC 791 §3.2)
  kReassemblyEvicted,     // incomplete datagram dropped to make room for another
  kReassemblyNoMemory,    // datagram would exceed the reassembly memory bound
  kNoBuffer,              // send: no pool buffer or headroom for the packet
  kTooBig,                // send: larger than 65535 bytes, or over the MTU with DF set
  kNoRoute,               // send: off-link without a gateway, or no address yet
  kCount
};
const char* drop_reason_name(Ipv4Drop reason);

struct Ipv4Counters : LayerCounters<Ipv4Drop> {
  uint64_t fragments_received = 0;
  uint64_t reassembled = 0;
  uint64_t fragments_sent = 0;
};

// A validated packet: a whole datagram, one fragment, or a reassembled datagram. The
// spans point into the received bytes (or into the reassembler's storage).
struct Ipv4Datagram {
  Ipv4Address source;
  Ipv4Address destination;
  uint8_t protocol = 0;
  uint8_t ttl = 0;
  uint8_t tos = 0;
  uint16_t id = 0;
  uint16_t flags_fragment = 0;
  bool reassembled = false;
  // The transport checksum as the device left it (set by the stack's core, only for a
  // whole datagram whose frame the device vouched for: platform::NetChecksum).
  ReceivedChecksum transport_checksum = ReceivedChecksum::kUnverified;
  std::span<const uint8_t> header;   // 20-60 bytes, options included
  std::span<const uint8_t> payload;  // exactly total length minus header (padding cut)

  bool more_fragments() const { return (flags_fragment & kIpv4FlagMoreFragments) != 0; }
  bool dont_fragment() const { return (flags_fragment & kIpv4FlagDontFragment) != 0; }
  size_t fragment_offset() const {
    return static_cast<size_t>(flags_fragment & kIpv4OffsetMask) * 8;
  }
  bool is_fragment() const { return more_fragments() || fragment_offset() != 0; }
  std::span<const uint8_t> options() const { return header.subspan(kIpv4HeaderSize); }
};

// RFC 791 §3.1 / RFC 1122 §3.2.1.1-3.2.1.3: checks version, IHL, total length against
// what arrived, the header checksum and the source address; options are skipped (by IHL,
// uninterpreted: RFC 1122 §3.2.1.8 lets a host ignore those it doesn't implement), and
// trailing link-layer padding is cut off. TTL is not checked: a host that does not
// forward accepts any TTL (RFC 1122 §3.2.1.7).
Parsed<Ipv4Datagram, Ipv4Drop> parse_ipv4(std::span<const uint8_t> packet);

enum class Fragmentation : uint8_t { kAllowed, kDontFragment };

struct Ipv4SendParams {
  Ipv4Address source;
  Ipv4Address destination;
  IpProtocol protocol = IpProtocol::kUdp;
  uint16_t id = 0;  // the caller's counter; RFC 6864 asks only for uniqueness per flow
  uint8_t ttl = kIpv4DefaultTtl;
  uint8_t tos = 0;
  Fragmentation fragmentation = Fragmentation::kAllowed;
};

// Writes a 20-byte header (no options) with its checksum.
void encode_ipv4_header(const Ipv4SendParams& params, uint16_t payload_length,
                        uint16_t flags_fragment, std::span<uint8_t, kIpv4HeaderSize> out);

// Prepends the header to a packet that holds exactly the payload. The zero-copy path
// for a datagram that fits the MTU; counts kNoBuffer / kTooBig on failure.
[[nodiscard]] bool ipv4_prepend(const Ipv4SendParams& params, PacketBuffer& packet,
                                Ipv4Counters& counters);

// A payload given as two pieces sent back to back, e.g. a header built on the stack and
// data that already sits elsewhere, so nothing is concatenated first.
struct Ipv4Payload {
  std::span<const uint8_t> head;
  std::span<const uint8_t> body;
  size_t size() const { return head.size() + body.size(); }
};

// Builds the datagram into new pool buffers appended to `out`: one packet if it fits
// `mtu`, else fragments (RFC 791 §3.2: each carries a multiple of 8 bytes except the
// last, MF on all but the last). Returns the number of packets. On failure nothing is
// appended: kOutOfRange for a payload over 65515 bytes, an MTU under 68 or over the
// buffers, or an oversize payload with kDontFragment; kNoMemory when the pool runs out.
Result<size_t> ipv4_send(const Ipv4SendParams& params, Ipv4Payload payload, size_t mtu,
                         BufferPool& pool, PacketQueue& out, Ipv4Counters& counters);

}  // namespace morgana::net
