// The TCP connection's buffers: the byte ring wraps and keeps out-of-order bytes in place
// across reads; out-of-order ranges merge, bound their count and report SACK blocks most
// recent first (RFC 2018 §4).
#include "morgana/net/tcp_buffers.h"

#include <gtest/gtest.h>

#include <vector>

namespace morgana::net {
namespace {

TEST(ByteRing, WrapsAndPeeksInTwoPieces) {
  ByteRing ring(8);
  std::vector<uint8_t> bytes = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(ring.append(bytes), 6u);
  ring.consume(5);
  EXPECT_EQ(ring.append(bytes), 6u);
  EXPECT_EQ(ring.append(bytes), 1u);  // full at 8
  auto pieces = ring.peek(1, 6);
  EXPECT_EQ(pieces.first.size() + pieces.second.size(), 6u);
  EXPECT_FALSE(pieces.second.empty());
  std::vector<uint8_t> out(8);
  EXPECT_EQ(ring.read(out), 8u);
  EXPECT_EQ(out, (std::vector<uint8_t>{6, 1, 2, 3, 4, 5, 6, 1}));
}

TEST(ByteRing, OutOfOrderBytesSurviveReads) {
  ByteRing ring(8);
  std::vector<uint8_t> head = {1, 2}, later = {7, 8};
  ring.write_at(4, later);  // held above the two in-order bytes still to come
  ring.write_at(0, head);
  ring.grow(2);
  std::vector<uint8_t> out(2);
  EXPECT_EQ(ring.read(out), 2u);  // the ring is empty; the held bytes must stay put
  std::vector<uint8_t> middle = {3, 4};
  ring.write_at(0, middle);
  ring.grow(4);
  std::vector<uint8_t> rest(4);
  EXPECT_EQ(ring.read(rest), 4u);
  EXPECT_EQ(rest, (std::vector<uint8_t>{3, 4, 7, 8}));
}

TEST(OutOfOrderRanges, MergesAndReportsMostRecentFirst) {
  OutOfOrderRanges ranges;
  EXPECT_TRUE(ranges.insert(100, 200));
  EXPECT_TRUE(ranges.insert(300, 400));
  EXPECT_TRUE(ranges.insert(500, 600));
  EXPECT_TRUE(ranges.insert(200, 250));  // extends the first: now the most recent
  SackBlock blocks[4];
  ASSERT_EQ(ranges.sack_blocks(blocks), 3u);
  EXPECT_EQ(blocks[0], (SackBlock{100, 250}));
  EXPECT_EQ(blocks[1], (SackBlock{500, 600}));
  EXPECT_EQ(blocks[2], (SackBlock{300, 400}));
  EXPECT_TRUE(ranges.insert(240, 310));  // bridges two
  EXPECT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges.highest(0), 600u);
  EXPECT_FALSE(ranges.take_contiguous(99));
  EXPECT_EQ(ranges.take_contiguous(100), 400u);
  EXPECT_EQ(ranges.size(), 1u);
}

TEST(OutOfOrderRanges, WrapsAroundAndBoundsTheCount) {
  OutOfOrderRanges ranges;
  EXPECT_TRUE(ranges.insert(0xfffffff0u, 0x10));
  EXPECT_TRUE(ranges.insert(0x10, 0x20));
  EXPECT_EQ(ranges.size(), 1u);
  for (uint32_t i = 1; i < OutOfOrderRanges::kMaxRanges; ++i)
    EXPECT_TRUE(ranges.insert(i * 100, i * 100 + 10));
  EXPECT_FALSE(ranges.insert(5000, 5010));  // a 17th range
  EXPECT_TRUE(ranges.insert(100, 150));     // merging still works
}

}  // namespace
}  // namespace morgana::net
