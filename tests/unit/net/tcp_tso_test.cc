// TCP segmentation offload and checksum offload: the engine's TSO segments (whole MSS
// pieces, cut at the MSS it counted them in, within cwnd and the peer's window), the
// codec's partial checksums and offload requests, and receive-side checksum vouching.
#include <gtest/gtest.h>

#include <algorithm>

#include "morgana/net/checksum.h"
#include "morgana/net/ipv4.h"
#include "tcp_connection_harness.h"

namespace morgana::net {
namespace {

using test::Bytes;
using test::kMs;
using test::Link;
using test::Sent;

constexpr uint32_t kTsoMax = 65535 - 20 - 60;

TEST(TcpTso, BulkGoesInSegmentsOfWholeMssPieces) {
  TcpConfig config;
  config.tso_max_payload = kTsoMax;
  Link link(config, TcpConfig{});
  link.handshake();
  Bytes data = test::pattern(1 << 20);
  Bytes got;
  link.transfer(data, got);
  EXPECT_TRUE(got == data);
  EXPECT_EQ(link.a->stats().retransmits, 0u);
  const uint32_t mss = link.a->mss();
  size_t large = 0, data_segments = 0;
  for (const Sent& sent : link.out_a.log) {
    if (sent.payload.empty()) continue;
    ++data_segments;
    ASSERT_LE(sent.payload.size(), kTsoMax);
    if (sent.payload.size() > mss) {
      ++large;
      // The device cuts at the MSS the engine counted in, into whole pieces only.
      EXPECT_EQ(sent.header.tso_segment_size, mss);
      EXPECT_EQ(sent.payload.size() % mss, 0u);
    } else {
      EXPECT_EQ(sent.header.tso_segment_size, 0u);
    }
  }
  EXPECT_GT(large, 0u);
  // A megabyte in far fewer segments than MSS-sized ones would take.
  EXPECT_LT(data_segments, data.size() / mss / 4);
  // The first flight is the initial window (RFC 6928: 10 segments) in one segment, not
  // more: TSO never lets the engine exceed cwnd.
  auto first = std::find_if(link.out_a.log.begin(), link.out_a.log.end(),
                            [](const Sent& sent) { return !sent.payload.empty(); });
  ASSERT_NE(first, link.out_a.log.end());
  EXPECT_LE(first->payload.size(), 10u * mss);
}

TEST(TcpTso, LossRecoveryResendsMssSizedPieces) {
  TcpConfig config;
  config.tso_max_payload = kTsoMax;
  Link link(config, TcpConfig{});
  link.rng.seed(7);
  link.handshake();
  // 5% of what A hands its device is lost whole: for a TSO segment, many MSS at once.
  link.loss = 0.05;
  Bytes data = test::pattern(1 << 20, 7);
  Bytes got;
  link.transfer(data, got);
  EXPECT_TRUE(got == data);
  EXPECT_GT(link.a->stats().retransmits, 0u);
  const uint32_t mss = link.a->mss();
  // Retransmissions fill holes one MSS at a time.
  for (const Sent& sent : link.out_a.log) {
    if (sent.payload.empty() || sent.payload.size() <= mss) continue;
    EXPECT_EQ(sent.payload.size() % mss, 0u);
  }
}

TEST(TcpTso, WithoutTsoNoSegmentExceedsTheMss) {
  Link link;
  link.handshake();
  Bytes data = test::pattern(256 << 10);
  Bytes got;
  link.transfer(data, got);
  for (const Sent& sent : link.out_a.log) {
    EXPECT_LE(sent.payload.size(), link.a->mss());
    EXPECT_EQ(sent.header.tso_segment_size, 0u);
  }
}

// A segment whose checksum the device completes: the field holds the folded
// pseudo-header sum (not inverted) over the segment's length, and the packet carries
// the offload request pointing at it.
TEST(TcpTso, DeviceChecksumLeavesThePseudoHeaderSum) {
  auto pool = test::make_pool(2);
  auto packet = pool->allocate();
  ASSERT_TRUE(packet.ok());
  Bytes payload = test::pattern(1000);
  ASSERT_TRUE(packet->append_bytes(payload));
  TcpSegmentHeader header;
  header.source_port = 80;
  header.destination_port = 40000;
  header.sequence = 1;
  header.flags = kTcpAck | kTcpPsh;
  header.tso_segment_size = 400;
  TcpCounters counters;
  ASSERT_TRUE(tcp_prepend(header, test::kIpA, test::kIpB, *packet, counters, ChecksumBy::kDevice));
  const size_t length = packet->size();
  Checksum pseudo;
  add_ipv4_pseudo_header(pseudo, test::kIpA, test::kIpB, 6, uint16_t(length));
  auto bytes = packet->data();
  EXPECT_EQ(uint16_t(bytes[16] << 8 | bytes[17]), pseudo.sum());
  platform::NetFrameMeta meta = packet->offload();
  EXPECT_EQ(meta.checksum, platform::NetChecksum::kPartial);
  EXPECT_EQ(meta.csum_start, 0u);
  EXPECT_EQ(meta.csum_offset, kTcpChecksumField);
  EXPECT_EQ(meta.gso_size, 400u);
  EXPECT_EQ(meta.header_length, length - payload.size());
  // Headers prepended later move the transport header, and the request with it.
  ASSERT_TRUE(packet->prepend(20).has_value());
  EXPECT_EQ(packet->offload().csum_start, 20u);
  EXPECT_EQ(packet->offload().header_length, 20 + length - payload.size());
  // Completing the sum as a device does gives a segment that verifies.
  Bytes wire(bytes.begin(), bytes.end());
  Checksum completed;
  completed.add(wire);
  uint16_t value = completed.finish();
  wire[16] = uint8_t(value >> 8);
  wire[17] = uint8_t(value);
  EXPECT_TRUE(parse_tcp(wire, test::kIpA, test::kIpB).ok());
}

// A checksum the device vouched for is not checked again (a local sender's segment
// carries only the pseudo-header sum); one it did not vouch for still is.
TEST(TcpTso, VouchedChecksumIsNotCheckedAgain) {
  auto pool = test::make_pool(2);
  auto packet = pool->allocate();
  ASSERT_TRUE(packet.ok());
  ASSERT_TRUE(packet->append_bytes(test::pattern(100)));
  TcpSegmentHeader header;
  header.source_port = 80;
  header.destination_port = 40000;
  header.flags = kTcpAck;
  TcpCounters counters;
  ASSERT_TRUE(tcp_prepend(header, test::kIpA, test::kIpB, *packet, counters, ChecksumBy::kDevice));
  Bytes wire(packet->data().begin(), packet->data().end());
  auto unverified = parse_tcp(wire, test::kIpA, test::kIpB);
  ASSERT_FALSE(unverified.ok());
  EXPECT_EQ(unverified.reason(), TcpDrop::kBadChecksum);
  EXPECT_TRUE(parse_tcp(wire, test::kIpA, test::kIpB, ReceivedChecksum::kVouched).ok());
}

}  // namespace
}  // namespace morgana::net
