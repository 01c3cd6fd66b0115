// The Internet checksum against RFC 1071's worked example, a plain 16-bit reference
// implementation (every length, alignment and split), Linux's captured checksums, and
// RFC 1624's incremental update against full recomputation.
#include <gtest/gtest.h>

#include <random>

#include "data/ping.h"
#include "data/tcp.h"
#include "data/udp.h"
#include "morgana/net/checksum.h"
#include "test_util.h"

namespace morgana::net {
namespace {

// RFC 1071 §1 taken literally: 16-bit big-endian words, odd byte padded, folded.
uint16_t reference_checksum(std::span<const uint8_t> bytes) {
  uint32_t sum = 0;
  for (size_t i = 0; i < bytes.size(); i += 2) {
    uint16_t word = static_cast<uint16_t>(bytes[i] << 8);
    if (i + 1 < bytes.size()) word |= bytes[i + 1];
    sum += word;
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(~sum);
}

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 §3: the sum of these bytes is ddf2 (so the checksum is 220d).
  const uint8_t bytes[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  Checksum sum;
  sum.add(bytes);
  EXPECT_EQ(sum.sum(), 0xddf2);
  EXPECT_EQ(internet_checksum(bytes), 0x220d);
}

TEST(Checksum, MatchesReferenceForEveryLengthAndAlignment) {
  std::mt19937 rng(1071);
  test::Bytes storage(700);
  for (auto& b : storage) b = static_cast<uint8_t>(rng());
  // All-ones data exercises the carries hardest.
  test::Bytes ones(300, 0xff);
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t length = 0; length + offset <= 300; ++length) {
      auto span = std::span<const uint8_t>(storage).subspan(offset, length);
      ASSERT_EQ(internet_checksum(span), reference_checksum(span)) << offset << "+" << length;
      auto all_ones = std::span<const uint8_t>(ones).subspan(offset, length);
      ASSERT_EQ(internet_checksum(all_ones), reference_checksum(all_ones));
    }
  }
}

TEST(Checksum, PiecesOfAnyLengthSumLikeTheWhole) {
  std::mt19937 rng(1624);
  test::Bytes data(1500);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  const uint16_t whole = internet_checksum(data);
  for (int trial = 0; trial < 200; ++trial) {
    Checksum sum;
    size_t at = 0;
    while (at < data.size()) {
      size_t n = std::min<size_t>(rng() % 40, data.size() - at);
      sum.add(std::span<const uint8_t>(data).subspan(at, n));
      at += n;
    }
    ASSERT_EQ(sum.finish(), whole);
  }
  Checksum words;
  words.add_u16(0x0001);
  words.add_u32(0xf203f4f5);
  words.add_u16(0xf6f7);
  EXPECT_EQ(words.sum(), 0xddf2);
}

TEST(Checksum, VerifiesLinuxHeaders) {
  using namespace testdata;
  // IPv4 header checksum of the captured echo request.
  Checksum header;
  header.add(std::span<const uint8_t>(kPing0).subspan(14, 20));
  EXPECT_TRUE(header.verifies());
  // The ICMP checksum covers the whole message.
  EXPECT_EQ(internet_checksum(std::span<const uint8_t>(kPing0).subspan(34)), 0);
  // UDP and TCP checksums include the pseudo-header.
  EXPECT_EQ(ipv4_transport_checksum(test::kIpB, test::kIpA, 17, test::l4(kUdp0)), 0);
  for (auto frame : {std::span<const uint8_t>(kTcp0), std::span<const uint8_t>(kTcp3)}) {
    EXPECT_EQ(ipv4_transport_checksum(test::kIpB, test::kIpA, 6, test::l4(frame)), 0);
  }
  EXPECT_EQ(ipv4_transport_checksum(test::kIpA, test::kIpB, 6, test::l4(kTcp5)), 0);
  // Swapping the addresses keeps the sum (addition commutes); changing one does not.
  EXPECT_EQ(ipv4_transport_checksum(test::kIpA, test::kIpB, 17, test::l4(kUdp0)), 0);
  EXPECT_NE(ipv4_transport_checksum(test::kIpA, test::ip("10.77.0.3"), 17, test::l4(kUdp0)), 0);
}

TEST(Checksum, IncrementalUpdateMatchesRecomputation) {
  std::mt19937 rng(1624);
  for (int trial = 0; trial < 2000; ++trial) {
    test::Bytes data(4 + 2 * (rng() % 30));
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    // Mostly zero data drives sums to the edge between 0x0000 and 0xffff. (Data that is
    // all zero has no correct incremental answer, RFC 1624 §3; covered data never is:
    // IPv4's version, UDP's and TCP's protocol in the pseudo-header are non-zero.)
    if (trial % 7 == 0) std::fill(data.begin() + 2, data.end(), 0);
    data[0] = 0x45;
    const uint16_t before = internet_checksum(data);
    size_t word = 2 + 2 * (rng() % (data.size() / 2 - 1));
    const uint16_t old_value = static_cast<uint16_t>(data[word] << 8 | data[word + 1]);
    const uint16_t new_value = trial % 5 == 0 ? 0 : static_cast<uint16_t>(rng());
    data[word] = static_cast<uint8_t>(new_value >> 8);
    data[word + 1] = static_cast<uint8_t>(new_value);
    const uint16_t adjusted = checksum_adjust(before, old_value, new_value);
    // 0x0000 and 0xffff are both zero in one's complement, so the test is the one a
    // receiver makes: the message with the adjusted checksum must verify.
    data.push_back(static_cast<uint8_t>(adjusted >> 8));
    data.push_back(static_cast<uint8_t>(adjusted));
    ASSERT_EQ(reference_checksum(data), 0) << trial;
  }
}

TEST(Checksum, IncrementalUpdateOf32BitField) {
  test::Bytes data = {10, 77, 0, 2, 10, 77, 0, 1, 0, 17, 0, 21};
  const uint16_t before = internet_checksum(data);
  data[3] = 99;
  EXPECT_EQ(checksum_adjust32(before, 0x0a4d0002, 0x0a4d0063), internet_checksum(data));
}

}  // namespace
}  // namespace morgana::net
