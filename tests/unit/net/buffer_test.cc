// Packet buffers: a bounded pool whose exhaustion is counted, headroom for prepending
// headers in place, move-only ownership, and intrusive queues.
#include <gtest/gtest.h>

#include <cstring>
#include <utility>

#include "morgana/net/buffer.h"
#include "test_util.h"

namespace morgana::net {
namespace {

TEST(BufferPool, RejectsBadConfigurations) {
  EXPECT_FALSE(BufferPool::create({0, 2048, 128}).ok());
  EXPECT_FALSE(BufferPool::create({4, 32, 0}).ok());
  EXPECT_FALSE(BufferPool::create({4, 2048, 2048}).ok());
  EXPECT_FALSE(BufferPool::create({4, 1 << 20, 128}).ok());
  EXPECT_TRUE(BufferPool::create({4, 2048, 128}).ok());
}

TEST(BufferPool, IsBoundedAndCountsExhaustion) {
  auto pool = test::make_pool(2);
  auto a = pool->allocate();
  auto b = pool->allocate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(pool->available(), 0u);
  auto c = pool->allocate();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::kNoMemory);
  EXPECT_EQ(pool->stats().exhausted, 1u);
  { PacketBuffer released = std::move(a).value(); }  // destroying the handle frees it
  EXPECT_EQ(pool->available(), 1u);
  EXPECT_TRUE(pool->allocate().ok());
  EXPECT_EQ(pool->stats().peak_in_use, 2u);
  EXPECT_EQ(pool->stats().allocations, 3u);
}

TEST(PacketBuffer, PrependsIntoHeadroomWithoutMoving) {
  auto pool = test::make_pool(1);
  PacketBuffer packet = std::move(pool->allocate()).value();
  EXPECT_EQ(packet.size(), 0u);
  EXPECT_EQ(packet.headroom(), 128u);
  EXPECT_EQ(packet.tailroom(), 2048u - 128u);
  const uint8_t payload[] = {'d', 'a', 't', 'a'};
  ASSERT_TRUE(packet.append_bytes(payload));
  const uint8_t* data_at = packet.data().data();
  auto udp = packet.prepend(8);
  ASSERT_TRUE(udp);
  std::memset(udp->data(), 0xaa, 8);
  auto ip = packet.prepend(20);
  ASSERT_TRUE(ip);
  EXPECT_EQ(packet.size(), 32u);
  EXPECT_EQ(packet.data().data() + 28, data_at);  // the payload did not move
  EXPECT_EQ(packet.data()[20], 0xaa);
  EXPECT_EQ(packet.headroom(), 100u);
  EXPECT_FALSE(packet.prepend(101));
  EXPECT_EQ(packet.size(), 32u);  // a failed prepend changes nothing
  EXPECT_FALSE(packet.append(packet.tailroom() + 1));
  // Receive side: consume headers, cut padding.
  EXPECT_TRUE(packet.trim_front(28));
  EXPECT_EQ(packet.data()[0], 'd');
  EXPECT_TRUE(packet.truncate(2));
  EXPECT_EQ(packet.size(), 2u);
  EXPECT_FALSE(packet.truncate(3));
  EXPECT_FALSE(packet.trim_front(3));
  packet.reset(0);
  EXPECT_EQ(packet.headroom(), 0u);
  EXPECT_EQ(packet.tailroom(), 2048u);
}

TEST(PacketBuffer, MovesOwnership) {
  auto pool = test::make_pool(1);
  PacketBuffer a = std::move(pool->allocate()).value();
  ASSERT_TRUE(a.append(10));
  PacketBuffer b = std::move(a);
  EXPECT_FALSE(a);  // NOLINT: moved-from handles are empty by contract
  ASSERT_TRUE(b);
  EXPECT_EQ(b.size(), 10u);
  PacketBuffer c;
  c = std::move(b);
  EXPECT_EQ(pool->available(), 0u);
  c = PacketBuffer();
  EXPECT_EQ(pool->available(), 1u);
}

TEST(PacketBuffer, AllocateCopy) {
  auto pool = test::make_pool(2);
  const uint8_t bytes[] = {1, 2, 3};
  auto copy = pool->allocate_copy(bytes);
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(test::bytes_of(copy->data()), test::Bytes({1, 2, 3}));
  test::Bytes big(2048 - 128 + 1);
  auto too_big = pool->allocate_copy(big);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().code, Errc::kOutOfRange);
}

TEST(PacketQueue, IsFifoAndOwnsItsPackets) {
  auto pool = test::make_pool(4);
  PacketQueue queue;
  for (uint8_t i = 0; i < 4; ++i) {
    const uint8_t byte[] = {i};
    queue.push_back(std::move(pool->allocate_copy(byte)).value());
  }
  EXPECT_EQ(pool->available(), 0u);
  EXPECT_EQ(queue.size(), 4u);
  EXPECT_EQ(queue.front()[0], 0);
  PacketBuffer first = queue.pop_front();
  EXPECT_EQ(first.data()[0], 0);
  PacketQueue other;
  other.push_back(std::move(first));
  other.splice_back(queue);  // other: 0 1 2 3
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(other.size(), 4u);
  for (uint8_t i = 0; i < 2; ++i) EXPECT_EQ(other.pop_front().data()[0], i);
  PacketQueue moved = std::move(other);
  EXPECT_EQ(moved.size(), 2u);
  moved.push_back(PacketBuffer());  // empty handles are ignored
  EXPECT_EQ(moved.size(), 2u);
  moved.clear();
  EXPECT_EQ(pool->available(), 4u);
  EXPECT_FALSE(moved.pop_front());
  EXPECT_TRUE(moved.front().empty());
}

TEST(PacketQueue, DestructionReturnsBuffers) {
  auto pool = test::make_pool(3);
  {
    PacketQueue queue;
    for (int i = 0; i < 3; ++i) queue.push_back(std::move(pool->allocate()).value());
    EXPECT_EQ(pool->available(), 0u);
  }
  EXPECT_EQ(pool->available(), 3u);
}

}  // namespace
}  // namespace morgana::net
