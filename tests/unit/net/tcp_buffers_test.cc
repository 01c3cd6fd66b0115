// The TCP connection's buffers: the byte ring wraps, keeps out-of-order bytes in place
// across reads, grows with use (keeping wrapped and out-of-order bytes) and acts as full
// when growth fails; out-of-order ranges merge, bound their count and report SACK blocks
// most recent first (RFC 2018 §4).
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

// Bytes numbered by their position in the stream, so any misplaced byte shows.
std::vector<uint8_t> stream(uint32_t from, uint32_t count) {
  std::vector<uint8_t> bytes(count);
  for (uint32_t i = 0; i < count; ++i) bytes[i] = static_cast<uint8_t>((from + i) * 7 + 3);
  return bytes;
}

TEST(ByteRing, StartsSmallAndGrowsKeepingWrappedBytes) {
  ByteRing ring(64 * 1024);
  EXPECT_EQ(ring.storage(), ByteRing::kInitialStorage);
  EXPECT_EQ(ring.free(), 64u * 1024);
  // Wrap inside the initial storage: head at 3000, 4000 bytes stored across the end.
  EXPECT_EQ(ring.append(stream(0, 3000)), 3000u);
  ring.consume(3000);
  EXPECT_EQ(ring.append(stream(3000, 4000)), 4000u);
  EXPECT_EQ(ring.storage(), ByteRing::kInitialStorage);
  auto wrapped = ring.peek(0, 4000);
  EXPECT_FALSE(wrapped.second.empty());
  // 10000 more need 14000: doubling gives 16 KiB, and the old bytes keep their order.
  EXPECT_EQ(ring.append(stream(7000, 10000)), 10000u);
  EXPECT_EQ(ring.storage(), 16u * 1024);
  std::vector<uint8_t> out(14000);
  EXPECT_EQ(ring.read(out), 14000u);
  EXPECT_EQ(out, stream(3000, 14000));
  // Never beyond the capacity, however much is offered.
  EXPECT_EQ(ring.append(stream(0, 100 * 1024)), 64u * 1024);
  EXPECT_EQ(ring.storage(), 64u * 1024);
  EXPECT_EQ(ring.append(stream(0, 1)), 0u);
}

TEST(ByteRing, OutOfOrderBytesSurviveGrowth) {
  ByteRing ring(32 * 1024);
  EXPECT_EQ(ring.append(stream(0, 3500)), 3500u);
  ring.consume(3500);  // head near the end of the 4 KiB storage
  // Out-of-order bytes at offsets [2000, 3000): they wrap physically.
  ASSERT_TRUE(ring.reserve(3000));
  ring.write_at(2000, stream(2000, 1000));
  // A later segment needs [3000, 20000): the ring grows, unwrapping what it holds.
  ASSERT_TRUE(ring.reserve(20000));
  EXPECT_EQ(ring.storage(), 32u * 1024);
  ring.write_at(3000, stream(3000, 17000));
  ring.write_at(0, stream(0, 2000));  // the hole fills
  ring.grow(20000);
  std::vector<uint8_t> out(20000);
  EXPECT_EQ(ring.read(out), 20000u);
  EXPECT_EQ(out, stream(0, 20000));
}

TEST(ByteRing, FailedGrowthActsAsFullUntilBytesAreConsumed) {
  ByteRing ring(64 * 1024);
  ring.fail_growth_for_testing();
  // Only the initial storage can be used; the rest is refused, not lost or overwritten.
  EXPECT_EQ(ring.append(stream(0, 10000)), ByteRing::kInitialStorage);
  EXPECT_EQ(ring.appendable(), 0u);
  EXPECT_EQ(ring.append(stream(4096, 10)), 0u);
  EXPECT_FALSE(ring.reserve(ByteRing::kInitialStorage + 1));
  EXPECT_EQ(ring.storage(), ByteRing::kInitialStorage);
  // The window may still offer up to the capacity: the receive side drops what it
  // cannot store.
  EXPECT_EQ(ring.free(), 64u * 1024 - ByteRing::kInitialStorage);
  std::vector<uint8_t> out(1000);
  EXPECT_EQ(ring.read(out), 1000u);
  EXPECT_EQ(out, stream(0, 1000));
  // Room was freed: appending tries to grow again, fails again, and takes what fits
  // (wrapping around the end of the storage).
  EXPECT_EQ(ring.appendable(), 64u * 1024 - 3096);
  EXPECT_EQ(ring.append(stream(4096, 5000)), 1000u);
  EXPECT_EQ(ring.appendable(), 0u);
  std::vector<uint8_t> all(ByteRing::kInitialStorage);
  EXPECT_EQ(ring.read(all), ByteRing::kInitialStorage);
  EXPECT_EQ(all, stream(1000, ByteRing::kInitialStorage));
}

// What the budget below reports as the heap's free bytes.
size_t g_heap_free = 0;
size_t budget_heap_free() {
  return g_heap_free;
}

TEST(ByteRing, GrowsOnlyWhileTheBudgetKeepsItsFloorFree) {
  const GrowthBudget budget{budget_heap_free, 100 * 1024};
  ByteRing ring(64 * 1024, &budget);
  // 8 KiB of storage would leave 100 KiB + 4 KiB free: allowed.
  g_heap_free = 112 * 1024;
  EXPECT_EQ(ring.append(stream(0, 6000)), 6000u);
  EXPECT_EQ(ring.storage(), 8u * 1024);
  // 16 KiB would take the heap below the floor: the ring acts as full at 8 KiB, as when
  // the heap itself refuses, and keeps every byte it took.
  EXPECT_EQ(ring.append(stream(6000, 6000)), 8u * 1024 - 6000);
  EXPECT_EQ(ring.storage(), 8u * 1024);
  EXPECT_EQ(ring.appendable(), 0u);
  // Memory freed elsewhere: once bytes are consumed it grows again.
  g_heap_free = SIZE_MAX;  // unbounded (the host): no overflow in the check
  std::vector<uint8_t> out(1000);
  EXPECT_EQ(ring.read(out), 1000u);
  EXPECT_EQ(ring.append(stream(8192, 10000)), 10000u);
  EXPECT_EQ(ring.storage(), 32u * 1024);
  std::vector<uint8_t> all(ring.size());
  EXPECT_EQ(ring.read(all), all.size());
  EXPECT_EQ(all, stream(1000, all.size()));
}

TEST(ByteRing, SmallCapacityAllocatesOnlyThat) {
  ByteRing ring(100);
  EXPECT_EQ(ring.storage(), 100u);
  EXPECT_EQ(ring.append(stream(0, 200)), 100u);
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
