// ChaCha20 against RFC 8439's test vectors, and the generator built on it: its output is
// exactly the fast-key-erasure keystream, seeds and mixing change it, and the helpers
// (uniform, std::uniform_random_bit_generator) behave.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "morgana/random/random.h"

namespace {

using morgana::random::ChaCha20Rng;
using morgana::random::MixRdrand;

std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

std::array<uint8_t, 64> block(const std::vector<uint8_t>& key, uint32_t counter,
                              const std::vector<uint8_t>& nonce) {
  std::array<uint8_t, 64> out{};
  morgana::random::chacha20_block(std::span<const uint8_t, 32>(key.data(), 32), counter,
                                  std::span<const uint8_t, 12>(nonce.data(), 12), out);
  return out;
}

std::vector<uint8_t> to_vector(const std::array<uint8_t, 64>& a) {
  return {a.begin(), a.end()};
}

TEST(ChaCha20, Rfc8439Section232BlockFunction) {
  std::vector<uint8_t> key;
  for (int i = 0; i < 32; ++i) key.push_back(static_cast<uint8_t>(i));
  const auto nonce = from_hex("000000090000004a00000000");
  // RFC 8439 §2.3.2, "Serialized Block".
  const auto expected = from_hex(
      "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
      "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e");
  EXPECT_EQ(to_vector(block(key, 1, nonce)), expected);
}

TEST(ChaCha20, Rfc8439AppendixA1Vectors) {
  const std::vector<uint8_t> zero_key(32, 0), zero_nonce(12, 0);
  // Test vectors #1 and #2 of RFC 8439 §A.1: all-zero key and nonce, counters 0 and 1.
  EXPECT_EQ(to_vector(block(zero_key, 0, zero_nonce)),
            from_hex("76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
                     "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"));
  EXPECT_EQ(to_vector(block(zero_key, 1, zero_nonce)),
            from_hex("9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
                     "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f"));
}

std::array<uint8_t, 32> test_seed(uint8_t first = 100) {
  std::array<uint8_t, 32> seed{};
  for (int i = 0; i < 32; ++i) seed[i] = static_cast<uint8_t>(first + i);
  return seed;
}

TEST(ChaCha20Rng, OutputIsTheFastKeyErasureKeystream) {
  const auto seed = test_seed();
  auto rng = ChaCha20Rng::from_seed(seed, MixRdrand::kNo);
  std::vector<uint8_t> out(224 * 2 + 10);
  rng.fill(out);

  // Model: 4 blocks under the key (nonce 0, counters 0..3); bytes 0..31 become the next
  // key, bytes 32..255 are output.
  std::vector<uint8_t> key(seed.begin(), seed.end()), expected;
  const std::vector<uint8_t> nonce(12, 0);
  while (expected.size() < out.size()) {
    std::vector<uint8_t> blocks;
    for (uint32_t i = 0; i < 4; ++i) {
      auto b = block(key, i, nonce);
      blocks.insert(blocks.end(), b.begin(), b.end());
    }
    key.assign(blocks.begin(), blocks.begin() + 32);
    expected.insert(expected.end(), blocks.begin() + 32, blocks.end());
  }
  expected.resize(out.size());
  EXPECT_EQ(out, expected);
  // Known answer, cross-checked with Python's `cryptography` ChaCha20.
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 16),
            from_hex("e0092c7b62040cb2050c7033ce4cc15d"));
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 224, out.begin() + 240),
            from_hex("0f9208c52af2a5809ee6716197217216"));
}

TEST(ChaCha20Rng, PiecewiseReadsSeeTheSameStream) {
  auto a = ChaCha20Rng::from_seed(test_seed(), MixRdrand::kNo);
  auto b = ChaCha20Rng::from_seed(test_seed(), MixRdrand::kNo);
  std::vector<uint8_t> whole(1000);
  a.fill(whole);
  std::vector<uint8_t> pieces;
  std::mt19937 sizes(3);
  while (pieces.size() < whole.size()) {
    std::vector<uint8_t> piece(std::min<size_t>(sizes() % 300, whole.size() - pieces.size()));
    b.fill(piece);
    pieces.insert(pieces.end(), piece.begin(), piece.end());
  }
  EXPECT_EQ(pieces, whole);

  auto c = ChaCha20Rng::from_seed(test_seed(), MixRdrand::kNo);
  uint64_t expected = 0;
  for (int i = 7; i >= 0; --i) expected = expected << 8 | whole[i];  // little-endian
  EXPECT_EQ(c.next_u64(), expected);
}

TEST(ChaCha20Rng, SeedsAndMixingChangeTheOutput) {
  auto base = ChaCha20Rng::from_seed(test_seed(), MixRdrand::kNo);
  auto other_seed = ChaCha20Rng::from_seed(test_seed(101), MixRdrand::kNo);
  auto mixed = ChaCha20Rng::from_seed(test_seed(), MixRdrand::kNo);
  const uint8_t extra[] = {1, 2, 3};
  mixed.mix(extra);
  auto mixed_again = ChaCha20Rng::from_seed(test_seed(), MixRdrand::kNo);
  mixed_again.mix(extra);
  const uint64_t v = base.next_u64();
  EXPECT_NE(other_seed.next_u64(), v);
  const uint64_t m = mixed.next_u64();
  EXPECT_NE(m, v);
  EXPECT_EQ(mixed_again.next_u64(), m);  // mixing is deterministic

  // Mixing discards buffered output made under the old key, and long inputs (several
  // 32-byte chunks, differing only at the end) give different keys.
  std::vector<uint8_t> long_a(100, 7), long_b(100, 7);
  long_b.back() = 8;
  auto x = ChaCha20Rng::from_seed(test_seed(), MixRdrand::kNo);
  auto y = ChaCha20Rng::from_seed(test_seed(), MixRdrand::kNo);
  x.next_u64();
  y.next_u64();
  x.mix(long_a);
  y.mix(long_b);
  EXPECT_NE(x.next_u64(), y.next_u64());
}

TEST(ChaCha20Rng, RdrandMixingWhenTheCpuHasIt) {
  auto plain = ChaCha20Rng::from_seed(test_seed(), MixRdrand::kNo);
  auto hardware = ChaCha20Rng::from_seed(test_seed(), MixRdrand::kYes);
  EXPECT_FALSE(plain.rdrand_mixed());
  if (!hardware.rdrand_mixed()) GTEST_SKIP() << "this CPU has no working RDRAND";
  EXPECT_NE(plain.next_u64(), hardware.next_u64());
}

TEST(ChaCha20Rng, UniformStaysInBoundsWithoutObviousBias) {
  auto rng = ChaCha20Rng::from_seed(test_seed(), MixRdrand::kNo);
  EXPECT_EQ(rng.uniform(0), 0u);
  EXPECT_EQ(rng.uniform(1), 0u);
  constexpr uint64_t kBound = 6;
  std::array<int, kBound> counts{};
  for (int i = 0; i < 60000; ++i) {
    const uint64_t v = rng.uniform(kBound);
    ASSERT_LT(v, kBound);
    ++counts[v];
  }
  for (int c : counts) {
    EXPECT_GT(c, 9500);  // expected 10000 each; 5 sigma is about 450
    EXPECT_LT(c, 10500);
  }
  // A bound just above 2^63 rejects nearly half the draws; it must still terminate.
  const uint64_t big = (uint64_t{1} << 63) + 12345;
  for (int i = 0; i < 100; ++i) EXPECT_LT(rng.uniform(big), big);
}

TEST(ChaCha20Rng, WorksWithStandardAlgorithms) {
  static_assert(std::uniform_random_bit_generator<ChaCha20Rng>);
  static_assert(morgana::random::Source<ChaCha20Rng>);
  auto rng = ChaCha20Rng::from_seed(test_seed(), MixRdrand::kNo);
  std::vector<int> v(100);
  for (int i = 0; i < 100; ++i) v[i] = i;
  std::shuffle(v.begin(), v.end(), rng);
  EXPECT_FALSE(std::is_sorted(v.begin(), v.end()));
  std::sort(v.begin(), v.end());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(v[i], i);
}

}  // namespace
