// SACK scoreboard: block merging and validation (RFC 2018), RFC 6675 IsLost, SetPipe and
// NextSeg rule 1 on hand-worked examples, sequence wraparound, and the range bound.
#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

#include "morgana/net/tcp_sack.h"

namespace morgana::net {
namespace {

constexpr uint32_t kMss = 1000;
// Most tests start 2.5 segments before 2^32 so ranges and holes straddle the wrap.
constexpr uint32_t kBase = 0xFFFFF63C;  // 2^32 - 2500

// Sequence number `segments` MSS after kBase (fractions allowed: 1.5 = 1500 bytes).
constexpr uint32_t at(double segments) {
  return kBase + static_cast<uint32_t>(segments * kMss);
}

SackBlock block(double left, double right) {
  return {at(left), at(right)};
}

bool update(SackScoreboard& board, uint32_t snd_una, uint32_t snd_nxt,
            std::initializer_list<SackBlock> blocks) {
  std::vector<SackBlock> list(blocks);
  return board.update(snd_una, snd_nxt, list, kMss);
}

TEST(SackScoreboard, StartsEmpty) {
  SackScoreboard board;
  EXPECT_EQ(board.ranges(), 0u);
  EXPECT_EQ(board.sacked_bytes(), 0u);
  EXPECT_EQ(board.highest_sacked(at(0)), at(0));
  EXPECT_FALSE(board.is_lost(at(0)));
  EXPECT_EQ(board.pipe(at(0), at(10), at(0)), 10 * kMss);  // nothing SACKed: all in flight
  EXPECT_FALSE(board.next_lost(at(0), at(10), at(0), kMss));
}

TEST(SackScoreboard, BlocksMerge) {
  SackScoreboard board;
  EXPECT_TRUE(update(board, at(0), at(10), {block(1, 2), block(3, 4)}));
  EXPECT_EQ(board.ranges(), 2u);
  EXPECT_EQ(board.sacked_bytes(), 2000u);
  // Filling the gap exactly (adjacent on both sides) joins everything into one range.
  EXPECT_TRUE(update(board, at(0), at(10), {block(2, 3)}));
  EXPECT_EQ(board.ranges(), 1u);
  EXPECT_EQ(board.sacked_bytes(), 3000u);
  EXPECT_EQ(board.highest_sacked(at(0)), at(4));
  // The same block again is not new information (does not count as a duplicate ACK).
  EXPECT_FALSE(update(board, at(0), at(10), {block(1, 4)}));
  // An overlapping block extending both ends adds only what is new.
  EXPECT_TRUE(update(board, at(0), at(10), {block(0.5, 4.5)}));
  EXPECT_EQ(board.ranges(), 1u);
  EXPECT_EQ(board.sacked_bytes(), 4000u);
  EXPECT_TRUE(board.is_sacked(at(0.5)));
  EXPECT_TRUE(board.is_sacked(at(4.5) - 1));
  EXPECT_FALSE(board.is_sacked(at(4.5)));
  EXPECT_FALSE(board.is_sacked(at(0.5) - 1));
}

TEST(SackScoreboard, OneBlockSpanningSeveralRanges) {
  SackScoreboard board;
  EXPECT_TRUE(update(board, at(0), at(20), {block(1, 2), block(3, 4), block(5, 6), block(8, 9)}));
  EXPECT_EQ(board.ranges(), 4u);
  EXPECT_TRUE(update(board, at(0), at(20), {block(1.5, 5.5)}));
  EXPECT_EQ(board.ranges(), 2u);  // [1, 6) and [8, 9)
  EXPECT_EQ(board.sacked_bytes(), 6000u);
  EXPECT_TRUE(board.is_sacked(at(2.5)));
  EXPECT_FALSE(board.is_sacked(at(7)));
}

TEST(SackScoreboard, IgnoresBlocksOutsideTheWindow) {
  SackScoreboard board;
  // Below snd_una (a D-SACK, RFC 2883) and beyond snd_nxt (bogus): ignored.
  EXPECT_FALSE(update(board, at(2), at(10), {block(0, 1), block(1, 2)}));
  EXPECT_FALSE(update(board, at(2), at(10), {block(9, 11), block(12, 13)}));
  // Empty and inverted blocks.
  EXPECT_FALSE(update(board, at(2), at(10), {block(5, 5), block(6, 5)}));
  EXPECT_EQ(board.ranges(), 0u);
  // A block straddling snd_una counts only above it.
  EXPECT_TRUE(update(board, at(2), at(10), {block(1, 3)}));
  EXPECT_EQ(board.sacked_bytes(), 1000u);
  EXPECT_FALSE(board.is_sacked(at(1.5)));
  EXPECT_TRUE(board.is_sacked(at(2)));
}

TEST(SackScoreboard, CumulativeAckDropsCoveredRanges) {
  SackScoreboard board;
  update(board, at(0), at(10), {block(1, 3), block(4, 6), block(7, 8)});
  EXPECT_EQ(board.sacked_bytes(), 5000u);
  // snd_una moves into the middle range: the first goes, the second is trimmed.
  EXPECT_FALSE(update(board, at(5), at(10), {}));
  EXPECT_EQ(board.ranges(), 2u);
  EXPECT_EQ(board.sacked_bytes(), 2000u);
  EXPECT_EQ(board.highest_sacked(at(5)), at(8));
  update(board, at(8), at(10), {});
  EXPECT_EQ(board.ranges(), 0u);
  EXPECT_EQ(board.highest_sacked(at(8)), at(8));
}

TEST(SackScoreboard, WrapAroundTwoToThe32) {
  // Sequence numbers from 2^32 - 500 across zero: ordering stays by sequence, not value.
  const uint32_t una = 0xFFFFFE0C;  // 2^32 - 500
  SackScoreboard board;
  SackBlock after_wrap{una + 3000, una + 4000};  // 2500..3500 past zero
  SackBlock across{una + 200, una + 1200};       // 0xFFFFFED4 .. 700
  std::vector<SackBlock> blocks{after_wrap, across};
  EXPECT_TRUE(board.update(una, una + 5000, blocks, kMss));
  EXPECT_EQ(board.ranges(), 2u);
  EXPECT_EQ(board.sacked_bytes(), 2000u);
  EXPECT_TRUE(board.is_sacked(0));  // inside `across`, past the wrap
  EXPECT_TRUE(board.is_sacked(0xFFFFFFFF));
  EXPECT_FALSE(board.is_sacked(una));
  EXPECT_EQ(board.highest_sacked(una), una + 4000);
  EXPECT_EQ(board.highest_sacked(una), 3500u);
  // Joining them across zero.
  std::vector<SackBlock> middle{{una + 1200, una + 3000}};
  EXPECT_TRUE(board.update(una, una + 5000, middle, kMss));
  EXPECT_EQ(board.ranges(), 1u);
  EXPECT_EQ(board.sacked_bytes(), 3800u);
  // 3800 bytes above una > 2 * MSS: lost; the pipe is the 200 bytes below the range
  // retransmitted (high_rxt = una + 200) plus the 1000 above it.
  EXPECT_TRUE(board.is_lost(una));
  EXPECT_EQ(board.pipe(una, una + 5000, una), 1000u);
  EXPECT_EQ(board.pipe(una, una + 5000, una + 200), 1200u);
  auto hole = board.next_lost(una, una + 5000, una, kMss);
  ASSERT_TRUE(hole);
  EXPECT_EQ(hole->seq, una);
  EXPECT_EQ(hole->length, 200u);
}

TEST(SackScoreboard, IsLostByRangeCount) {
  // RFC 6675 §4: DupThresh (3) discontiguous SACKed ranges above, however small.
  SackScoreboard board;
  update(board, at(0), at(10), {block(1, 1.1), block(1.2, 1.3), block(1.4, 1.5)});
  EXPECT_EQ(board.sacked_bytes(), 300u);
  EXPECT_TRUE(board.is_lost(at(0)));
  EXPECT_TRUE(board.is_lost(at(1) - 1));
  EXPECT_FALSE(board.is_lost(at(1.1)));  // only two ranges above
  // The last byte of the lowest range has only two ranges above it.
  EXPECT_FALSE(board.is_lost(at(1.1) - 1));
  // A fourth range below: bytes under it see all three above.
  update(board, at(0), at(10), {block(0.5, 0.6)});
  EXPECT_EQ(board.ranges(), 4u);
  EXPECT_TRUE(board.is_lost(at(0.6)));
  EXPECT_FALSE(board.is_lost(at(1.1)));
}

TEST(SackScoreboard, IsLostByBytes) {
  // More than (DupThresh - 1) * SMSS = 2000 SACKed bytes above.
  SackScoreboard board;
  update(board, at(0), at(10), {block(1, 3)});  // exactly 2000
  EXPECT_FALSE(board.is_lost(at(0)));
  update(board, at(0), at(10), {block(3, 4)});  // 3000 in one range
  EXPECT_TRUE(board.is_lost(at(0)));
  // Bytes are counted strictly above the sequence: from inside the range, 2000 remain.
  EXPECT_TRUE(board.is_lost(at(1.5)));     // 2500 above 1.5
  EXPECT_FALSE(board.is_lost(at(2) - 1));  // exactly 2000 above
}

// The worked example below: 10 segments outstanding from kBase; the receiver holds
// segments 1-2, 5 and 7 (SACK ranges [1,3), [5,6), [7,8)); holes [0,1), [3,5), [6,7),
// [8,10).
SackScoreboard worked_example() {
  SackScoreboard board;
  EXPECT_TRUE(update(board, at(0), at(10), {block(7, 8), block(5, 6), block(1, 3)}));
  return board;
}

TEST(SackScoreboard, PipeWorkedExample) {
  SackScoreboard board = worked_example();
  // Hole [0,1): 3 ranges above: lost. [3,5): 2 ranges, 2000 bytes: not lost (2000 in
  // flight). [6,7): 1000. [8,10): 2000. Pipe = 5000.
  EXPECT_TRUE(board.is_lost(at(0)));
  EXPECT_FALSE(board.is_lost(at(3)));
  EXPECT_EQ(board.pipe(at(0), at(10), at(0)), 5000u);
  // After retransmitting segment 0 (HighRxt one past it) the retransmission is in
  // flight: 6000.
  EXPECT_EQ(board.pipe(at(0), at(10), at(1)), 6000u);
  // Retransmitting into a hole that is not lost counts it twice (RFC 6675 (a) and (b)).
  EXPECT_EQ(board.pipe(at(0), at(10), at(4)), 6000u + 1000u);
  // high_rxt below snd_una (stale) is ignored.
  EXPECT_EQ(board.pipe(at(0), at(10), at(0) - kMss), 5000u);
  // Segment 8 SACKed: hole [3,5) now has 3 ranges above and becomes lost.
  update(board, at(0), at(10), {block(8, 9)});
  EXPECT_EQ(board.ranges(), 3u);  // [7,9) merged
  EXPECT_EQ(board.pipe(at(0), at(10), at(1)), 1000u + 1000u + 1000u);
}

TEST(SackScoreboard, NextLostWorkedExample) {
  SackScoreboard board = worked_example();
  auto hole = board.next_lost(at(0), at(10), at(0), kMss);
  ASSERT_TRUE(hole);
  EXPECT_EQ(hole->seq, at(0));
  EXPECT_EQ(hole->length, kMss);
  // Once segment 0 was retransmitted, the next hole [3,5) is not lost yet: rule 1 has
  // nothing (rules 2-4 are the connection's).
  EXPECT_FALSE(board.next_lost(at(0), at(10), at(1), kMss));
  // Segment 3 and 8 SACKed: ranges [1,4), [5,6), [7,9); hole [4,5) has 3000 bytes
  // above: lost.
  update(board, at(0), at(10), {block(3, 4), block(8, 9)});
  hole = board.next_lost(at(0), at(10), at(1), kMss);
  ASSERT_TRUE(hole);
  EXPECT_EQ(hole->seq, at(4));
  EXPECT_EQ(hole->length, kMss);
  EXPECT_TRUE(board.is_lost(at(4)));
  EXPECT_FALSE(board.is_lost(at(6)));  // one range, 2000 bytes above
  EXPECT_FALSE(board.next_lost(at(0), at(10), at(5), kMss));
}

TEST(SackScoreboard, NextLostSkipsSackedAndRespectsHighRxt) {
  SackScoreboard board;
  // Holes [0, 2.5) and [3.5, 4) below ranges [2.5, 3.5), [4, 5), [6, 7), [8, 9).
  update(board, at(0), at(10), {block(2.5, 3.5), block(4, 5), block(6, 7), block(8, 9)});
  // Capped at the MSS, then at the next SACKed byte.
  auto hole = board.next_lost(at(0), at(10), at(0), kMss);
  ASSERT_TRUE(hole);
  EXPECT_EQ(hole->seq, at(0));
  EXPECT_EQ(hole->length, 1000u);
  hole = board.next_lost(at(0), at(10), at(2), kMss);
  ASSERT_TRUE(hole);
  EXPECT_EQ(hole->seq, at(2));
  EXPECT_EQ(hole->length, 500u);
  // high_rxt inside a SACKed range: the next hole above it.
  hole = board.next_lost(at(0), at(10), at(3), kMss);
  ASSERT_TRUE(hole);
  EXPECT_EQ(hole->seq, at(3.5));
  EXPECT_EQ(hole->length, 500u);
  // Hole [5, 6) has 2 ranges and 2000 bytes above: not lost.
  EXPECT_FALSE(board.next_lost(at(0), at(10), at(4), kMss));
}

TEST(SackScoreboard, BoundedToMaxRanges) {
  // 40 disjoint 100-byte blocks, lowest first: the lowest 32 are kept.
  SackScoreboard board;
  const uint32_t una = at(0);
  const uint32_t nxt = una + 100'000;
  for (uint32_t i = 0; i < 40; ++i) {
    std::vector<SackBlock> one{{una + 1000 + 200 * i, una + 1100 + 200 * i}};
    EXPECT_TRUE(board.update(una, nxt, one, kMss));
  }
  EXPECT_EQ(board.ranges(), SackScoreboard::kMaxRanges);
  EXPECT_EQ(board.sacked_bytes(), 3200u);
  EXPECT_EQ(board.highest_sacked(una), una + 1100 + 200 * 31);
  // Highest first: each lower block displaces the highest; the lowest 32 remain.
  SackScoreboard reverse;
  for (uint32_t i = 40; i-- > 0;) {
    std::vector<SackBlock> one{{una + 1000 + 200 * i, una + 1100 + 200 * i}};
    reverse.update(una, nxt, one, kMss);
  }
  EXPECT_EQ(reverse.ranges(), SackScoreboard::kMaxRanges);
  EXPECT_EQ(reverse.sacked_bytes(), 3200u);
  EXPECT_EQ(reverse.highest_sacked(una), una + 1100 + 200 * 31);
  EXPECT_TRUE(reverse.is_sacked(una + 1000));
  EXPECT_FALSE(reverse.is_sacked(una + 1000 + 200 * 32));
  // Filling gaps merges ranges and frees room again.
  std::vector<SackBlock> fill{{una + 1100, una + 1200}, {una + 1300, una + 1400}};
  EXPECT_TRUE(reverse.update(una, nxt, fill, kMss));
  EXPECT_EQ(reverse.ranges(), SackScoreboard::kMaxRanges - 2);
  EXPECT_EQ(reverse.sacked_bytes(), 3400u);
  // Pipe stays consistent with what is remembered: everything unSACKed below the
  // highest range is lost (3+ ranges above) except the holes near the top.
  EXPECT_LE(reverse.pipe(una, nxt, una), 100'000u - 3400u);
}

TEST(SackScoreboard, ClearForgets) {
  SackScoreboard board = worked_example();
  board.clear();
  EXPECT_EQ(board.ranges(), 0u);
  EXPECT_EQ(board.sacked_bytes(), 0u);
  EXPECT_EQ(board.pipe(at(0), at(10), at(0)), 10'000u);
}

}  // namespace
}  // namespace morgana::net
