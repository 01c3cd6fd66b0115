// IPv4 header parsing and validation, header encoding, and fragmentation on send.
#include "morgana/net/ipv4.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "morgana/net/checksum.h"
#include "morgana/net/cursor.h"

namespace morgana::net {

const char* drop_reason_name(Ipv4Drop reason) {
  switch (reason) {
    case Ipv4Drop::kTruncated:
      return "truncated";
    case Ipv4Drop::kBadVersion:
      return "bad_version";
    case Ipv4Drop::kBadHeaderLength:
      return "bad_header_length";
    case Ipv4Drop::kBadTotalLength:
      return "bad_total_length";
    case Ipv4Drop::kBadChecksum:
      return "bad_checksum";
    case Ipv4Drop::kBadSource:
      return "bad_source";
    case Ipv4Drop::kNotForUs:
      return "not_for_us";
    case Ipv4Drop::kUnknownProtocol:
      return "unknown_protocol";
    case Ipv4Drop::kFragmentBadLength:
      return "fragment_bad_length";
    case Ipv4Drop::kFragmentTooLarge:
      return "fragment_too_large";
    case Ipv4Drop::kFragmentOverlap:
      return "fragment_overlap";
    case Ipv4Drop::kFragmentInconsistent:
      return "fragment_inconsistent";
    case Ipv4Drop::kTooManyFragments:
      return "too_many_fragments";
    case Ipv4Drop::kReassemblyTimeout:
      return "reassembly_timeout";
    case Ipv4Drop::kReassemblyEvicted:
      return "reassembly_evicted";
    case Ipv4Drop::kReassemblyNoMemory:
      return "reassembly_no_memory";
    case Ipv4Drop::kNoBuffer:
      return "no_buffer";
    case Ipv4Drop::kTooBig:
      return "too_big";
    case Ipv4Drop::kNoRoute:
      return "no_route";
    case Ipv4Drop::kCount:
      break;
  }
  return "?";
}

Parsed<Ipv4Datagram, Ipv4Drop> parse_ipv4(std::span<const uint8_t> packet) {
  Cursor cursor(packet);
  auto header = cursor.read<Ipv4Header>();
  if (!header) return Ipv4Drop::kTruncated;
  if (header->version_ihl >> 4 != 4) return Ipv4Drop::kBadVersion;
  const size_t header_size = size_t{header->version_ihl & 0x0fu} * 4;
  const size_t total = header->total_length.value();
  if (header_size < kIpv4HeaderSize) return Ipv4Drop::kBadHeaderLength;
  if (header_size > packet.size()) return Ipv4Drop::kTruncated;
  if (total < header_size) return Ipv4Drop::kBadHeaderLength;
  // RFC 1122 §3.2.1.1 and 3.2.1.2: the claimed length must fit what arrived; anything
  // after it is link-layer padding.
  if (total > packet.size()) return Ipv4Drop::kBadTotalLength;
  if (internet_checksum(packet.first(header_size)) != 0) return Ipv4Drop::kBadChecksum;
  // RFC 1122 §3.2.1.3: a source must name one host. Loopback never appears on a wire.
  if (header->source.is_broadcast() || header->source.is_multicast() ||
      header->source.is_loopback()) {
    return Ipv4Drop::kBadSource;
  }
  Ipv4Datagram datagram;
  datagram.source = header->source;
  datagram.destination = header->destination;
  datagram.protocol = header->protocol;
  datagram.ttl = header->ttl;
  datagram.tos = header->tos;
  datagram.id = header->id.value();
  datagram.flags_fragment = header->flags_fragment.value();
  datagram.header = packet.first(header_size);
  datagram.payload = packet.subspan(header_size, total - header_size);
  return datagram;
}

void encode_ipv4_header(const Ipv4SendParams& params, uint16_t payload_length,
                        uint16_t flags_fragment, std::span<uint8_t, kIpv4HeaderSize> out) {
  MORGANA_ASSERT(params.ttl != 0);  // RFC 1122 §3.2.1.7: MUST NOT send TTL 0
  Ipv4Header header{};
  header.version_ihl = 0x45;
  header.tos = params.tos;
  header.total_length.set(static_cast<uint16_t>(kIpv4HeaderSize + payload_length));
  header.id.set(params.id);
  header.flags_fragment.set(flags_fragment);
  header.ttl = params.ttl;
  header.protocol = static_cast<uint8_t>(params.protocol);
  header.source = params.source;
  header.destination = params.destination;
  std::memcpy(out.data(), &header, sizeof(header));
  Be16 checksum(internet_checksum(out));
  std::memcpy(out.data() + offsetof(Ipv4Header, checksum), &checksum, sizeof(checksum));
}

bool ipv4_prepend(const Ipv4SendParams& params, PacketBuffer& packet, Ipv4Counters& counters) {
  if (packet.size() > kIpv4MaxDatagram - kIpv4HeaderSize) {
    counters.drop(Ipv4Drop::kTooBig);
    return false;
  }
  const auto payload_length = static_cast<uint16_t>(packet.size());
  auto space = packet.prepend(kIpv4HeaderSize);
  if (!space) {
    counters.drop(Ipv4Drop::kNoBuffer);
    return false;
  }
  const uint16_t flags =
      params.fragmentation == Fragmentation::kDontFragment ? kIpv4FlagDontFragment : 0;
  encode_ipv4_header(params, payload_length, flags, space->first<kIpv4HeaderSize>());
  ++counters.sent;
  return true;
}

namespace {

// Copies payload bytes [offset, offset + n) into `out`, across the two pieces.
void copy_payload(const Ipv4Payload& payload, size_t offset, size_t n, uint8_t* out) {
  if (offset < payload.head.size()) {
    size_t from_head = std::min(n, payload.head.size() - offset);
    std::memcpy(out, payload.head.data() + offset, from_head);
    out += from_head;
    n -= from_head;
    offset = payload.head.size();
  }
  if (n > 0) std::memcpy(out, payload.body.data() + (offset - payload.head.size()), n);
}

}  // namespace

Result<size_t> ipv4_send(const Ipv4SendParams& params, Ipv4Payload payload, size_t mtu,
                         BufferPool& pool, PacketQueue& out, Ipv4Counters& counters) {
  const size_t total = payload.size();
  const size_t buffer_space = pool.config().size - pool.config().headroom;
  if (total > kIpv4MaxDatagram - kIpv4HeaderSize) {
    counters.drop(Ipv4Drop::kTooBig);
    return Error{Errc::kOutOfRange, "ipv4: datagram over 65535 bytes"};
  }
  if (mtu < kIpv4MinMtu || mtu > buffer_space || pool.config().headroom < kIpv4HeaderSize) {
    counters.drop(Ipv4Drop::kTooBig);
    return Error{Errc::kOutOfRange, "ipv4: MTU under 68 or over the buffer size"};
  }
  const bool fits = kIpv4HeaderSize + total <= mtu;
  if (!fits && params.fragmentation == Fragmentation::kDontFragment) {
    counters.drop(Ipv4Drop::kTooBig);
    return Error{Errc::kOutOfRange, "ipv4: over the MTU with DF set"};
  }
  const uint16_t df =
      params.fragmentation == Fragmentation::kDontFragment ? kIpv4FlagDontFragment : 0;
  // RFC 791 §3.2: every fragment but the last carries a multiple of 8 bytes.
  const size_t per_fragment = fits ? total : (mtu - kIpv4HeaderSize) & ~size_t{7};
  PacketQueue built;
  size_t offset = 0;
  do {
    const size_t n = std::min(per_fragment, total - offset);
    const bool last = offset + n == total;
    auto packet = pool.allocate();
    if (!packet) {
      counters.drop(Ipv4Drop::kNoBuffer);
      return packet.error();  // `built` returns its buffers to the pool
    }
    auto space = packet->prepend(kIpv4HeaderSize);
    auto data = packet->append(n);
    MORGANA_ASSERT(space && data);  // mtu <= buffer_space, checked above
    copy_payload(payload, offset, n, data->data());
    const uint16_t flags =
        static_cast<uint16_t>(df | (last ? 0 : kIpv4FlagMoreFragments) | (offset / 8));
    encode_ipv4_header(params, static_cast<uint16_t>(n), flags, space->first<kIpv4HeaderSize>());
    built.push_back(std::move(*packet));
    offset += n;
  } while (offset < total);
  const size_t packets = built.size();
  counters.sent += packets;
  if (packets > 1) counters.fragments_sent += packets;
  out.splice_back(built);
  return packets;
}

}  // namespace morgana::net
