// The TCP segment header and its options (RFC 9293 §3.1-3.2; MSS RFC 9293 §3.7.1, window
// scale and timestamps RFC 7323, SACK RFC 2018): bounds-checked parsing with checksum
// validation, and encoding in the layout Linux uses. The state machine comes later.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "morgana/net/address.h"
#include "morgana/net/buffer.h"
#include "morgana/net/checksum.h"
#include "morgana/net/drop.h"
#include "morgana/net/endian.h"

namespace morgana::net {

struct TcpHeader {
  Be16 source_port;
  Be16 destination_port;
  Be32 sequence;
  Be32 acknowledgment;
  uint8_t data_offset;  // upper 4 bits: header length in 32-bit words
  uint8_t flags;
  Be16 window;
  Be16 checksum;
  Be16 urgent_pointer;
};
static_assert(sizeof(TcpHeader) == 20);

inline constexpr size_t kTcpHeaderSize = sizeof(TcpHeader);
inline constexpr size_t kTcpMaxOptions = 40;

// RFC 9293 §3.1 control bits (with RFC 3168's ECE and CWR).
inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;
inline constexpr uint8_t kTcpUrg = 0x20;
inline constexpr uint8_t kTcpEce = 0x40;
inline constexpr uint8_t kTcpCwr = 0x80;

// RFC 7323 §2.3: a shift over 14 is used as 14.
inline constexpr uint8_t kTcpMaxWindowScale = 14;
// RFC 2018 §3: at most 4 blocks fit in 40 bytes (3 next to timestamps).
inline constexpr size_t kTcpMaxSackBlocks = 4;

struct SackBlock {
  uint32_t left = 0;   // first sequence number of the block
  uint32_t right = 0;  // sequence number just past it
  friend bool operator==(const SackBlock&, const SackBlock&) = default;
};

struct TcpTimestamps {
  uint32_t value = 0;
  uint32_t echo_reply = 0;
  friend bool operator==(const TcpTimestamps&, const TcpTimestamps&) = default;
};

struct TcpOptions {
  std::optional<uint16_t> mss;
  std::optional<uint8_t> window_scale;  // clamped to 14 on parse
  bool sack_permitted = false;
  std::optional<TcpTimestamps> timestamps;
  uint8_t sack_count = 0;
  std::array<SackBlock, kTcpMaxSackBlocks> sack{};

  std::span<const SackBlock> sack_blocks() const { return {sack.data(), sack_count}; }
  // Blocks past sack_count don't count.
  friend bool operator==(const TcpOptions& a, const TcpOptions& b) {
    return a.mss == b.mss && a.window_scale == b.window_scale &&
           a.sack_permitted == b.sack_permitted && a.timestamps == b.timestamps &&
           std::ranges::equal(a.sack_blocks(), b.sack_blocks());
  }
};

enum class TcpDrop : uint8_t {
  kTruncated,      // under 20 bytes
  kBadDataOffset,  // data offset under 5 or past the segment
  kBadChecksum,    // RFC 9293 §3.1: covers pseudo-header, header and data
  kBadOption,      // an option whose length is wrong or runs past the header
  kBadPort,        // port 0 at either end
  kNoBuffer,       // send: no headroom for header and options
  kCount
};
const char* drop_reason_name(TcpDrop reason);

using TcpCounters = LayerCounters<TcpDrop>;

struct TcpSegment {
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  uint32_t sequence = 0;
  uint32_t acknowledgment = 0;
  uint8_t flags = 0;
  uint16_t window = 0;  // unscaled, as on the wire
  uint16_t urgent_pointer = 0;
  size_t header_size = 0;  // 20-60
  TcpOptions options;
  std::span<const uint8_t> payload;

  bool has(uint8_t flag) const { return (flags & flag) != 0; }
};

// RFC 9293 §3.2: the option list. EOL ends it, NOP pads; every other option has a
// length byte of at least 2 that must fit what is left. Known options must have their
// exact lengths (SACK: 2 + 8n, n = 1..4). Unknown options are skipped. Any violation
// drops the segment: RFC 9293 §3.2 allows it and a mis-parsed option list cannot be
// trusted.
Parsed<TcpOptions, TcpDrop> parse_tcp_options(std::span<const uint8_t> options);

// Parses a segment (the IPv4 payload) and verifies its checksum, unless the device
// vouched for it.
Parsed<TcpSegment, TcpDrop> parse_tcp(std::span<const uint8_t> segment, Ipv4Address source,
                                      Ipv4Address destination,
                                      ReceivedChecksum checksum = ReceivedChecksum::kUnverified);

// Encodes `options` in Linux's layout (MSS; SACK-permitted beside timestamps, or
// NOP-padded; NOP + window scale; NOP NOP + SACK blocks), every option 4-byte aligned.
// SACK blocks that don't fit are left out. Returns the length, a multiple of 4.
size_t encode_tcp_options(const TcpOptions& options, std::span<uint8_t, kTcpMaxOptions> out);

struct TcpSegmentHeader {
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  uint32_t sequence = 0;
  uint32_t acknowledgment = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  uint16_t urgent_pointer = 0;
  TcpOptions options;
  // Not a wire field: with TCP segmentation offload, the device cuts the payload into
  // segments of this many bytes, each with a copy of this header (sequence numbers
  // advanced, FIN and PSH only on the last). 0: the segment goes as it is.
  uint16_t tso_segment_size = 0;
};

// The checksum field's offset in a TCP header (for checksum offload).
inline constexpr uint16_t kTcpChecksumField = 16;

// Prepends header and options to a packet holding the payload, with the checksum (or,
// ChecksumBy::kDevice, its pseudo-header part and the packet's offload request).
[[nodiscard]] bool tcp_prepend(const TcpSegmentHeader& header, Ipv4Address source,
                               Ipv4Address destination, PacketBuffer& packet, TcpCounters& counters,
                               ChecksumBy by = ChecksumBy::kStack);

}  // namespace morgana::net
