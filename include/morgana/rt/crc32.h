// CRC-32 as zlib and `python3 -c 'zlib.crc32(...)'` compute it (reflected polynomial
// 0xedb88320): what the examples print so a test can compare a transfer's bytes with its
// peer's without keeping them. Carry-less multiplication (PCLMULQDQ) where the CPU has it,
// else slicing-by-16, so checking a stream costs little beside receiving it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#if defined(__x86_64__)
#include <cpuid.h>
#include <smmintrin.h>
#include <wmmintrin.h>
#endif

namespace morgana::rt {

namespace detail {

inline constexpr size_t kCrc32Slices = 16;

// kCrc32Tables[0] is the classic byte-at-a-time table; kCrc32Tables[k][b] is the CRC of
// byte b followed by k zero bytes, so 16 bytes fold into the CRC with 16 independent
// lookups instead of a chain of 16 dependent ones (slicing-by-N, Intel's 2006 paper as
// zlib's crc32.c braid tables do it).
inline constexpr std::array<std::array<uint32_t, 256>, kCrc32Slices> kCrc32Tables = [] {
  std::array<std::array<uint32_t, 256>, kCrc32Slices> tables{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    tables[0][i] = c;
  }
  for (size_t k = 1; k < kCrc32Slices; ++k) {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = tables[k - 1][i];
      tables[k][i] = tables[0][c & 0xff] ^ (c >> 8);
    }
  }
  return tables;
}();

// Four bytes as a little-endian word (the reflected CRC consumes the lowest byte first).
inline uint32_t crc32_load_le(std::span<const uint8_t, 4> b) {
  return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
}

// Continues the raw (not inverted) CRC register `crc` over `bytes`, 16 bytes per step.
inline uint32_t crc32_slicing(uint32_t crc, std::span<const uint8_t> bytes) {
  const auto& t = kCrc32Tables;
  while (bytes.size() >= kCrc32Slices) {
    const uint32_t w0 = crc ^ crc32_load_le(bytes.subspan<0, 4>());
    const uint32_t w1 = crc32_load_le(bytes.subspan<4, 4>());
    const uint32_t w2 = crc32_load_le(bytes.subspan<8, 4>());
    const uint32_t w3 = crc32_load_le(bytes.subspan<12, 4>());
    // Byte j of the block is followed by 15 - j more bytes: table 15 - j.
    crc = t[15][w0 & 0xff] ^ t[14][(w0 >> 8) & 0xff] ^ t[13][(w0 >> 16) & 0xff] ^ t[12][w0 >> 24] ^
          t[11][w1 & 0xff] ^ t[10][(w1 >> 8) & 0xff] ^ t[9][(w1 >> 16) & 0xff] ^ t[8][w1 >> 24] ^
          t[7][w2 & 0xff] ^ t[6][(w2 >> 8) & 0xff] ^ t[5][(w2 >> 16) & 0xff] ^ t[4][w2 >> 24] ^
          t[3][w3 & 0xff] ^ t[2][(w3 >> 8) & 0xff] ^ t[1][(w3 >> 16) & 0xff] ^ t[0][w3 >> 24];
    bytes = bytes.subspan(kCrc32Slices);
  }
  for (uint8_t b : bytes) crc = t[0][(crc ^ b) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
// lane * x^(128+32 or more) folded onto `next` (a lambda would not inherit the target).
__attribute__((target("pclmul,sse4.1"))) inline __m128i crc32_fold(__m128i lane, __m128i k,
                                                                   __m128i next) {
  return _mm_xor_si128(
      _mm_xor_si128(_mm_clmulepi64_si128(lane, k, 0x00), _mm_clmulepi64_si128(lane, k, 0x11)),
      next);
}

// The raw CRC register over `bytes`, whose size is a multiple of 16 and at least 64, by
// folding with carry-less multiplication: Intel's "Fast CRC Computation for Generic
// Polynomials Using PCLMULQDQ" (2009), with the constants Linux's crc32-pclmul_asm.S
// uses for this reflected polynomial. Four 128-bit lanes fold 64 bytes per step, then
// into one lane, then a Barrett reduction to 32 bits.
__attribute__((target("pclmul,sse4.1"))) inline uint32_t crc32_clmul(
    uint32_t crc, std::span<const uint8_t> bytes) {
  auto load = [&](size_t at) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes.subspan(at, 16).data()));
  };
  // x^(4*128+32) and x^(4*128-32) mod P, bit-reflected (lane folding, 64 bytes apart).
  const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
  // x^(128+32) and x^(128-32) mod P (folding one lane into the next, 16 bytes apart).
  const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
  const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124);  // x^64 mod P: the last 64-bit fold
  const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
  const __m128i poly_mu = _mm_set_epi64x(0x1f7011641, 0x1db710641);  // P and its quotient
  __m128i x1 = _mm_xor_si128(load(0), _mm_cvtsi32_si128(static_cast<int>(crc)));
  __m128i x2 = load(16), x3 = load(32), x4 = load(48);
  size_t at = 64;
  for (; at + 64 <= bytes.size(); at += 64) {
    x1 = crc32_fold(x1, k1k2, load(at));
    x2 = crc32_fold(x2, k1k2, load(at + 16));
    x3 = crc32_fold(x3, k1k2, load(at + 32));
    x4 = crc32_fold(x4, k1k2, load(at + 48));
  }
  x1 = crc32_fold(x1, k3k4, x2);
  x1 = crc32_fold(x1, k3k4, x3);
  x1 = crc32_fold(x1, k3k4, x4);
  for (; at + 16 <= bytes.size(); at += 16) x1 = crc32_fold(x1, k3k4, load(at));
  // 128 -> 64 bits (multiplying by x^32 on the way), then 64 -> 32 (Barrett).
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(k3k4, x1, 0x01), _mm_srli_si128(x1, 8));
  __m128i x2b = _mm_srli_si128(x1, 4);
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5, 0x00), x2b);
  x2b = x1;
  x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly_mu, 0x10);
  x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly_mu, 0x00);
  x1 = _mm_xor_si128(x1, x2b);
  return static_cast<uint32_t>(_mm_extract_epi32(x1, 1));
}

// Asked once: an image may run on a host whose CPU lacks the instructions.
inline bool crc32_have_clmul() {
  static const bool have = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
    return (ecx & bit_PCLMUL) != 0 && (ecx & bit_SSE4_1) != 0;
  }();
  return have;
}
#endif

}  // namespace detail

// Continues `crc` (0 to start) over `bytes`.
inline uint32_t crc32_update(uint32_t crc, std::span<const uint8_t> bytes) {
  crc = ~crc;
#if defined(__x86_64__)
  // Below 64 bytes (and for the last <16) the tables are as fast as the set-up.
  if (bytes.size() >= 64 && detail::crc32_have_clmul()) {
    const size_t folded = bytes.size() & ~size_t{15};
    crc = detail::crc32_clmul(crc, bytes.first(folded));
    bytes = bytes.subspan(folded);
  }
#endif
  return ~detail::crc32_slicing(crc, bytes);
}

}  // namespace morgana::rt
