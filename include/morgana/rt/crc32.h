// CRC-32 as zlib and `python3 -c 'zlib.crc32(...)'` compute it (reflected polynomial
// 0xedb88320), one table lookup per byte: what the examples print so a test can compare
// a transfer's bytes with its peer's without keeping them.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace morgana::rt {

namespace detail {
inline constexpr std::array<uint32_t, 256> kCrc32Table = [] {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}();
}  // namespace detail

// Continues `crc` (0 to start) over `bytes`.
inline uint32_t crc32_update(uint32_t crc, std::span<const uint8_t> bytes) {
  crc = ~crc;
  for (uint8_t b : bytes) crc = detail::kCrc32Table[(crc ^ b) & 0xff] ^ (crc >> 8);
  return ~crc;
}

}  // namespace morgana::rt
