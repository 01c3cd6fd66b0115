// RFC 1071 checksum, 8 bytes per step: the data is summed as native-order 64-bit words
// with end-around carry, folded to 16 bits and byte-swapped once at the end (RFC 1071
// §2(B): the one's-complement sum is independent of byte order up to that swap).
#include "morgana/net/checksum.h"

#include <cstring>

namespace morgana::net {
namespace {

inline uint64_t add_carry(uint64_t sum, uint64_t value) {
  sum += value;
  return sum + (sum < value);  // end-around carry; cannot overflow again
}

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Sum of `bytes` as if they started at an even offset, native order, not yet folded.
uint64_t sum_bytes(const uint8_t* p, size_t n) {
  uint64_t a = 0, b = 0;
  // Two independent chains so the adds overlap in the pipeline.
  while (n >= 32) {
    a = add_carry(a, load64(p));
    b = add_carry(b, load64(p + 8));
    a = add_carry(a, load64(p + 16));
    b = add_carry(b, load64(p + 24));
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    a = add_carry(a, load64(p));
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t tail = 0;  // zero padding on the right, as RFC 1071 pads an odd byte
    std::memcpy(&tail, p, n);
    b = add_carry(b, tail);
  }
  return add_carry(a, b);
}

inline uint16_t fold(uint64_t sum) {
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

inline uint16_t swap16(uint16_t v) {
  return static_cast<uint16_t>(v << 8 | v >> 8);
}

// Native order to the host-order value of a big-endian word.
inline uint16_t native_to_host(uint16_t v) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return swap16(v);
#else
  return v;
#endif
}

}  // namespace

void Checksum::add(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return;
  uint64_t partial = sum_bytes(bytes.data(), bytes.size());
  if (odd_) partial = swap16(fold(partial));  // every byte of this piece sits one lane over
  accumulator_ = add_carry(accumulator_, partial);
  odd_ ^= (bytes.size() & 1) != 0;
}

void Checksum::add_u16(uint16_t value) {
  const uint8_t bytes[2] = {static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)};
  add(bytes);
}

void Checksum::add_u32(uint32_t value) {
  const uint8_t bytes[4] = {static_cast<uint8_t>(value >> 24), static_cast<uint8_t>(value >> 16),
                            static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)};
  add(bytes);
}

uint16_t Checksum::sum() const {
  return native_to_host(fold(accumulator_));
}

uint16_t internet_checksum(std::span<const uint8_t> bytes) {
  Checksum sum;
  sum.add(bytes);
  return sum.finish();
}

uint16_t checksum_adjust(uint16_t checksum, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = uint32_t{static_cast<uint16_t>(~checksum)} +
                 uint32_t{static_cast<uint16_t>(~old_word)} + new_word;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

uint16_t checksum_adjust32(uint16_t checksum, uint32_t old_value, uint32_t new_value) {
  checksum = checksum_adjust(checksum, static_cast<uint16_t>(old_value >> 16),
                             static_cast<uint16_t>(new_value >> 16));
  return checksum_adjust(checksum, static_cast<uint16_t>(old_value),
                         static_cast<uint16_t>(new_value));
}

void add_ipv4_pseudo_header(Checksum& sum, Ipv4Address source, Ipv4Address destination,
                            uint8_t protocol, uint16_t length) {
  uint8_t pseudo[12];
  std::memcpy(pseudo, source.bytes.data(), 4);
  std::memcpy(pseudo + 4, destination.bytes.data(), 4);
  pseudo[8] = 0;
  pseudo[9] = protocol;
  pseudo[10] = static_cast<uint8_t>(length >> 8);
  pseudo[11] = static_cast<uint8_t>(length);
  sum.add(pseudo);
}

uint16_t ipv4_transport_checksum(Ipv4Address source, Ipv4Address destination, uint8_t protocol,
                                 std::span<const uint8_t> segment) {
  Checksum sum;
  add_ipv4_pseudo_header(sum, source, destination, protocol, static_cast<uint16_t>(segment.size()));
  sum.add(segment);
  return sum.finish();
}

}  // namespace morgana::net
