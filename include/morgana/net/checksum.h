// The Internet checksum (RFC 1071), its incremental update (RFC 1624) and the IPv4
// pseudo-header sum that UDP and TCP cover (RFC 768, RFC 9293 §3.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "morgana/net/address.h"

namespace morgana::net {

// A running one's-complement sum over a byte stream that may arrive in pieces of any
// length (an odd-length piece shifts the next one by a byte; RFC 1071 §2(B) makes that a
// byte swap). Sums 8 bytes per step with end-around carry (RFC 1071 §4.1 "deferred
// carries"), in the CPU's byte order, and swaps once at the end.
class Checksum {
 public:
  void add(std::span<const uint8_t> bytes);
  void add_u16(uint16_t value);  // a big-endian 16-bit field with this value
  void add_u32(uint32_t value);

  // The folded 16-bit one's-complement sum, host order.
  uint16_t sum() const;
  // The value to store in a checksum field (~sum), host order; pass it to Be16::set.
  uint16_t finish() const { return static_cast<uint16_t>(~sum()); }
  // True when the bytes added include their checksum field and that field is correct
  // (RFC 1071 §1: the receiver's sum is all ones).
  bool verifies() const { return sum() == 0xffff; }

 private:
  uint64_t accumulator_ = 0;  // sum of native-order 64-bit words, carries folded in
  bool odd_ = false;          // an odd number of bytes has been added so far
};

// The checksum field value for `bytes` (with their own checksum field zero), host order.
uint16_t internet_checksum(std::span<const uint8_t> bytes);

// RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered data changed from
// `old_word` to `new_word`, without summing the data again: HC' = ~(~HC + ~m + m').
uint16_t checksum_adjust(uint16_t checksum, uint16_t old_word, uint16_t new_word);
// The same for a 32-bit field (two words), e.g. an address rewritten.
uint16_t checksum_adjust32(uint16_t checksum, uint32_t old_value, uint32_t new_value);

// Adds the IPv4 pseudo-header (RFC 768; RFC 9293 §3.1): source, destination, zero,
// protocol, and the upper-layer length.
void add_ipv4_pseudo_header(Checksum& sum, Ipv4Address source, Ipv4Address destination,
                            uint8_t protocol, uint16_t length);

// Whether a received UDP/TCP checksum is still to be checked. A device with checksum
// offload (platform::NetChecksum) vouches for a frame the host verified, and for one
// from a local sender that never computed the sum (the field then holds only the
// pseudo-header sum, and checking it would fail).
enum class ReceivedChecksum : uint8_t { kUnverified, kVouched };
// Who completes a UDP/TCP checksum we send: the stack, or the device (checksum offload;
// the field then holds the pseudo-header sum, as virtio's NEEDS_CSUM wants).
enum class ChecksumBy : uint8_t { kStack, kDevice };

// The UDP/TCP checksum of `segment` (its checksum field zero) under that pseudo-header.
uint16_t ipv4_transport_checksum(Ipv4Address source, Ipv4Address destination, uint8_t protocol,
                                 std::span<const uint8_t> segment);

}  // namespace morgana::net
