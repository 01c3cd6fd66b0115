// TCP header and option parsing and encoding.
#include "morgana/net/tcp_header.h"

#include <algorithm>
#include <cstring>

#include "morgana/net/checksum.h"
#include "morgana/net/cursor.h"

namespace morgana::net {

namespace {

constexpr uint8_t kProtocolTcp = 6;

// RFC 9293 §3.2 and the RFCs named in tcp_header.h.
enum OptionKind : uint8_t {
  kEnd = 0,
  kNop = 1,
  kMss = 2,
  kWindowScale = 3,
  kSackPermitted = 4,
  kSack = 5,
  kTimestamps = 8,
};

uint32_t load_be32(std::span<const uint8_t> bytes, size_t at) {
  return uint32_t{bytes[at]} << 24 | uint32_t{bytes[at + 1]} << 16 | uint32_t{bytes[at + 2]} << 8 |
         bytes[at + 3];
}

}  // namespace

const char* drop_reason_name(TcpDrop reason) {
  switch (reason) {
    case TcpDrop::kTruncated:
      return "truncated";
    case TcpDrop::kBadDataOffset:
      return "bad_data_offset";
    case TcpDrop::kBadChecksum:
      return "bad_checksum";
    case TcpDrop::kBadOption:
      return "bad_option";
    case TcpDrop::kBadPort:
      return "bad_port";
    case TcpDrop::kNoBuffer:
      return "no_buffer";
    case TcpDrop::kCount:
      break;
  }
  return "?";
}

Parsed<TcpOptions, TcpDrop> parse_tcp_options(std::span<const uint8_t> bytes) {
  TcpOptions options;
  Cursor cursor(bytes);
  while (auto kind = cursor.read_u8()) {
    if (*kind == kEnd) break;
    if (*kind == kNop) continue;
    auto length = cursor.read_u8();
    if (!length || *length < 2) return TcpDrop::kBadOption;
    auto body = cursor.read_bytes(*length - 2u);
    if (!body) return TcpDrop::kBadOption;
    switch (*kind) {
      case kMss:
        if (*length != 4) return TcpDrop::kBadOption;
        options.mss = static_cast<uint16_t>((*body)[0] << 8 | (*body)[1]);
        break;
      case kWindowScale:
        if (*length != 3) return TcpDrop::kBadOption;
        options.window_scale = std::min((*body)[0], kTcpMaxWindowScale);
        break;
      case kSackPermitted:
        if (*length != 2) return TcpDrop::kBadOption;
        options.sack_permitted = true;
        break;
      case kSack: {
        const size_t blocks = (*length - 2u) / 8;
        if ((*length - 2u) % 8 != 0 || blocks == 0 || blocks > kTcpMaxSackBlocks) {
          return TcpDrop::kBadOption;
        }
        options.sack_count = static_cast<uint8_t>(blocks);
        for (size_t i = 0; i < blocks; ++i) {
          options.sack[i] = {load_be32(*body, i * 8), load_be32(*body, i * 8 + 4)};
        }
        break;
      }
      case kTimestamps:
        if (*length != 10) return TcpDrop::kBadOption;
        options.timestamps = TcpTimestamps{load_be32(*body, 0), load_be32(*body, 4)};
        break;
      default:
        break;  // RFC 9293 §3.2: unknown options are skipped by their length
    }
  }
  return options;
}

Parsed<TcpSegment, TcpDrop> parse_tcp(std::span<const uint8_t> bytes, Ipv4Address source,
                                      Ipv4Address destination, ReceivedChecksum checksum) {
  Cursor cursor(bytes);
  auto header = cursor.read<TcpHeader>();
  if (!header) return TcpDrop::kTruncated;
  const size_t header_size = static_cast<size_t>(header->data_offset >> 4) * 4;
  if (header_size < kTcpHeaderSize || header_size > bytes.size()) return TcpDrop::kBadDataOffset;
  if (bytes.size() > 0xffff) return TcpDrop::kBadChecksum;
  if (checksum == ReceivedChecksum::kUnverified &&
      ipv4_transport_checksum(source, destination, kProtocolTcp, bytes) != 0) {
    return TcpDrop::kBadChecksum;
  }
  if (header->source_port.value() == 0 || header->destination_port.value() == 0) {
    return TcpDrop::kBadPort;
  }
  auto options = parse_tcp_options(bytes.subspan(kTcpHeaderSize, header_size - kTcpHeaderSize));
  if (!options) return options.reason();
  TcpSegment segment;
  segment.source_port = header->source_port.value();
  segment.destination_port = header->destination_port.value();
  segment.sequence = header->sequence.value();
  segment.acknowledgment = header->acknowledgment.value();
  segment.flags = header->flags;
  segment.window = header->window.value();
  segment.urgent_pointer = header->urgent_pointer.value();
  segment.header_size = header_size;
  segment.options = *options;
  segment.payload = bytes.subspan(header_size);
  return segment;
}

size_t encode_tcp_options(const TcpOptions& options, std::span<uint8_t, kTcpMaxOptions> out) {
  size_t n = 0;
  auto put = [&](uint8_t byte) { out[n++] = byte; };
  auto put32 = [&](uint32_t value) {
    put(static_cast<uint8_t>(value >> 24));
    put(static_cast<uint8_t>(value >> 16));
    put(static_cast<uint8_t>(value >> 8));
    put(static_cast<uint8_t>(value));
  };
  if (options.mss) {
    put(kMss), put(4), put(static_cast<uint8_t>(*options.mss >> 8));
    put(static_cast<uint8_t>(*options.mss));
  }
  if (options.timestamps) {
    if (options.sack_permitted) {
      put(kSackPermitted), put(2);
    } else {
      put(kNop), put(kNop);
    }
    put(kTimestamps), put(10);
    put32(options.timestamps->value);
    put32(options.timestamps->echo_reply);
  } else if (options.sack_permitted) {
    put(kNop), put(kNop), put(kSackPermitted), put(2);
  }
  if (options.window_scale) {
    put(kNop), put(kWindowScale), put(3), put(*options.window_scale);
  }
  // At most 20 bytes so far, so at least 2 blocks fit (3 beside timestamps alone).
  const size_t blocks = std::min<size_t>(options.sack_count, (kTcpMaxOptions - n - 4) / 8);
  if (blocks > 0) {
    put(kNop), put(kNop), put(kSack), put(static_cast<uint8_t>(2 + 8 * blocks));
    for (size_t i = 0; i < blocks; ++i) {
      put32(options.sack[i].left);
      put32(options.sack[i].right);
    }
  }
  return n;
}

bool tcp_prepend(const TcpSegmentHeader& fields, Ipv4Address source, Ipv4Address destination,
                 PacketBuffer& packet, TcpCounters& counters, ChecksumBy by) {
  std::array<uint8_t, kTcpMaxOptions> options;
  const size_t options_size = encode_tcp_options(fields.options, options);
  const size_t header_size = kTcpHeaderSize + options_size;
  const size_t length = packet.size() + header_size;
  auto space = length <= 0xffff ? packet.prepend(header_size) : std::nullopt;
  if (!space) {
    counters.drop(TcpDrop::kNoBuffer);
    return false;
  }
  TcpHeader header{Be16(fields.source_port),
                   Be16(fields.destination_port),
                   Be32(fields.sequence),
                   Be32(fields.acknowledgment),
                   static_cast<uint8_t>(header_size / 4 << 4),
                   fields.flags,
                   Be16(fields.window),
                   Be16(0),
                   Be16(fields.urgent_pointer)};
  std::memcpy(space->data(), &header, sizeof(header));
  std::memcpy(space->data() + kTcpHeaderSize, options.data(), options_size);
  if (by == ChecksumBy::kDevice) {
    // virtio's NEEDS_CSUM: the field holds the folded pseudo-header sum, not inverted,
    // over the whole segment's length (a TSO device adjusts it per wire segment).
    Checksum sum;
    add_ipv4_pseudo_header(sum, source, destination, kProtocolTcp, static_cast<uint16_t>(length));
    header.checksum.set(sum.sum());
    packet.request_offload(kTcpChecksumField, fields.tso_segment_size);
  } else {
    header.checksum.set(
        ipv4_transport_checksum(source, destination, kProtocolTcp, packet.data().first(length)));
  }
  std::memcpy(space->data(), &header, sizeof(header));
  ++counters.sent;
  return true;
}

}  // namespace morgana::net
