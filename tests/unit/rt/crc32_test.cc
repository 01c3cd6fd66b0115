// rt::crc32_update: zlib's values (computed with Python's zlib.crc32) for known inputs,
// and agreement with a bit-at-a-time reference at every length and split point, for the
// table path and (where the CPU has it) the carry-less multiplication path on their own.
#include "morgana/rt/crc32.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace {

using morgana::rt::crc32_update;

uint32_t crc_of(std::string_view text) {
  return crc32_update(0, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

// The definition, one bit at a time: nothing shared with the tables under test.
uint32_t reference_crc(std::span<const uint8_t> bytes) {
  uint32_t crc = 0xffffffffu;
  for (uint8_t b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? 0xedb88320u ^ (crc >> 1) : crc >> 1;
  }
  return ~crc;
}

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> bytes(n);
  for (size_t i = 0; i < n; ++i) bytes[i] = uint8_t(i * 7 + 3);
  return bytes;
}

TEST(Crc32, MatchesZlibOnKnownInputs) {
  EXPECT_EQ(crc_of(""), 0u);
  EXPECT_EQ(crc_of("123456789"), 0xcbf43926u);  // the catalogue's check value
  EXPECT_EQ(crc_of("The quick brown fox jumps over the lazy dog"), 0x414fa339u);
  const std::vector<uint8_t> zeros(64, 0), ones(33, 0xff);
  EXPECT_EQ(crc32_update(0, zeros), 0x758d6336u);
  EXPECT_EQ(crc32_update(0, ones), 0x682db523u);
  EXPECT_EQ(crc32_update(0, pattern(100000)), 0xf730caa8u);
}

TEST(Crc32, EveryLengthMatchesTheBitwiseDefinition) {
  const std::vector<uint8_t> bytes = pattern(300);
  for (size_t n = 0; n <= bytes.size(); ++n) {
    std::span<const uint8_t> piece(bytes.data(), n);
    ASSERT_EQ(crc32_update(0, piece), reference_crc(piece)) << "length " << n;
  }
}

TEST(Crc32, ContinuesAcrossAnySplit) {
  // A stream read in pieces of any size (as discard's reads are) gives the whole's CRC.
  const std::vector<uint8_t> bytes = pattern(97);
  const uint32_t whole = reference_crc(bytes);
  for (size_t split = 0; split <= bytes.size(); ++split) {
    std::span<const uint8_t> all(bytes);
    uint32_t crc = crc32_update(0, all.first(split));
    crc = crc32_update(crc, all.subspan(split));
    ASSERT_EQ(crc, whole) << "split at " << split;
  }
  // Also from an unaligned start inside a buffer.
  std::span<const uint8_t> all(bytes);
  EXPECT_EQ(crc32_update(0, all.subspan(3, 50)), reference_crc(all.subspan(3, 50)));
}

TEST(Crc32, BothPathsMatchTheBitwiseDefinition) {
  const std::vector<uint8_t> bytes = pattern(4096 + 48);
  for (size_t n = 0; n <= bytes.size(); n += (n < 300 ? 1 : 61)) {
    std::span<const uint8_t> piece(bytes.data(), n);
    const uint32_t expected = ~reference_crc(piece);  // the raw register, not inverted
    ASSERT_EQ(morgana::rt::detail::crc32_slicing(0xffffffffu, piece), expected) << "length " << n;
#if defined(__x86_64__)
    if (n >= 64 && n % 16 == 0 && morgana::rt::detail::crc32_have_clmul()) {
      ASSERT_EQ(morgana::rt::detail::crc32_clmul(0xffffffffu, piece), expected) << "length " << n;
    }
#endif
  }
#if defined(__x86_64__)
  if (!morgana::rt::detail::crc32_have_clmul()) GTEST_SKIP() << "no PCLMULQDQ on this CPU";
#endif
}

}  // namespace
