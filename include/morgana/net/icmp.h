// ICMP for IPv4 (RFC 792, RFC 1122 §3.2.2): message parsing, the echo reply, error
// messages (destination unreachable, time exceeded) quoting the offending datagram, the
// rules for when an error may be sent, and a token-bucket rate limiter for them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "morgana/net/drop.h"
#include "morgana/net/endian.h"
#include "morgana/net/ipv4.h"

namespace morgana::net {

struct IcmpHeader {
  uint8_t type;
  uint8_t code;
  Be16 checksum;
  Be32 rest;  // echo: identifier and sequence; unreachable code 4: next-hop MTU
};
static_assert(sizeof(IcmpHeader) == 8);

enum class IcmpType : uint8_t {
  kEchoReply = 0,
  kDestinationUnreachable = 3,
  kSourceQuench = 4,
  kRedirect = 5,
  kEchoRequest = 8,
  kTimeExceeded = 11,
  kParameterProblem = 12,
};

// RFC 792 "Destination Unreachable Message" codes (4: RFC 1191 path MTU discovery).
enum class UnreachableCode : uint8_t {
  kNetwork = 0,
  kHost = 1,
  kProtocol = 2,
  kPort = 3,
  kFragmentationNeeded = 4,
};

enum class IcmpDrop : uint8_t {
  kTruncated,        // under the 8-byte header
  kBadChecksum,      // RFC 792: covers the whole ICMP message
  kIgnoredType,      // a type we take no action on (timestamp, redirect, ...)
  kErrorNotAllowed,  // an error we must not send (RFC 1122 §3.2.2)
  kRateLimited,      // an error (or reply) the rate limiter refused
  kNoBuffer,         // no buffer to send a reply or error
  kCount
};
const char* drop_reason_name(IcmpDrop reason);

using IcmpCounters = LayerCounters<IcmpDrop>;

// A checksummed ICMP message, parsed in place.
struct IcmpMessage {
  uint8_t type = 0;
  uint8_t code = 0;
  uint16_t checksum = 0;
  uint32_t rest = 0;
  std::span<const uint8_t> body;  // after the 8-byte header

  uint16_t echo_id() const { return static_cast<uint16_t>(rest >> 16); }
  uint16_t echo_sequence() const { return static_cast<uint16_t>(rest); }
};

Parsed<IcmpMessage, IcmpDrop> parse_icmp(std::span<const uint8_t> message);

// Whether ICMP type `type` is an error message (RFC 1122 §3.2.2 lists them; unknown
// types count as errors, so we never answer them).
bool icmp_is_error(uint8_t type);

// RFC 792 "Echo or Echo Reply Message": the header of the reply to `request` (type 8).
// Identifier, sequence and data stay as they were, so the checksum is the request's
// adjusted for the type byte (RFC 1624 eqn. 3) instead of summed again. Send it with
// `request.body` as the data (see Ipv4Payload).
std::array<uint8_t, sizeof(IcmpHeader)> echo_reply_header(const IcmpMessage& request);

// RFC 1122 §3.2.2: an error MUST NOT be sent about an ICMP error, a datagram sent to a
// broadcast or multicast address (IP or link layer), a fragment other than the first,
// or a datagram whose source is not one host.
enum class LinkBroadcast : uint8_t { kNo, kYes };
bool icmp_error_allowed(const Ipv4Datagram& original, bool destination_is_broadcast,
                        LinkBroadcast link_broadcast);

// How much of the offending datagram an error quotes: RFC 792's minimum (its header and
// the first 8 payload bytes), or as much as keeps the error within 576 bytes (RFC 1812
// §4.3.2.3; what Linux sends).
enum class IcmpQuote : uint8_t { kHeaderPlus8, kUpTo576 };
inline constexpr size_t kIcmpErrorMax = sizeof(IcmpHeader) + 576 - kIpv4HeaderSize - 8;

// Writes an ICMP error message (header, then the quote of `original`) into `out`, which
// must hold kIcmpErrorMax bytes; returns its length. `rest` is the 32-bit field after
// the checksum (zero except for e.g. the next-hop MTU of "fragmentation needed").
size_t build_icmp_error(IcmpType type, uint8_t code, uint32_t rest, const Ipv4Datagram& original,
                        IcmpQuote quote, std::span<uint8_t> out);
inline size_t build_destination_unreachable(UnreachableCode code, const Ipv4Datagram& original,
                                            IcmpQuote quote, std::span<uint8_t> out,
                                            uint16_t next_hop_mtu = 0) {
  return build_icmp_error(IcmpType::kDestinationUnreachable, static_cast<uint8_t>(code),
                          next_hop_mtu, original, quote, out);
}

// RFC 1812 §4.3.2.5: ICMP errors go out with precedence 6 (internetwork control).
inline constexpr uint8_t kIcmpErrorTos = 0xc0;

// A token bucket: `per_second` tokens a second, holding at most `burst` (RFC 1812
// §4.3.2.8 recommends limiting ICMP errors; Linux allows 1000/s with a burst of 50).
// Starts full. Time in nanoseconds, passed in, never going backwards.
class TokenBucket {
 public:
  explicit TokenBucket(uint32_t per_second = 1000, uint32_t burst = 50);
  // Takes one token if there is one.
  bool allow(uint64_t now);

 private:
  uint64_t cost_ns_;      // time that earns one token
  uint64_t capacity_ns_;  // burst tokens' worth of time
  uint64_t credit_ns_;
  uint64_t last_ = 0;
};

}  // namespace morgana::net
