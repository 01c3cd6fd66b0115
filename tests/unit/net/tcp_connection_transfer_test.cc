// TcpConnection data transfer: bulk with loss and reordering (SACK and NewReno), SACK
// blocks and recovery that resends only the holes, zero windows and probes, Nagle,
// delayed ACKs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "tcp_connection_harness.h"

namespace morgana::net {
namespace {

using test::Bytes;
using test::kMs;
using test::Link;
using test::Sent;

void bulk_with_loss(bool sack, uint32_t seed) {
  TcpConfig config;
  config.sack = sack;
  Link link(config, config);
  link.rng.seed(seed);
  link.handshake();
  link.loss = 0.05;
  link.reorder = 0.05;
  Bytes data = test::pattern(1 << 20, seed);
  Bytes got;
  link.transfer(data, got);
  EXPECT_TRUE(got == data);
  EXPECT_GT(link.dropped, 0u);
  EXPECT_GT(link.a->stats().retransmits, 0u);
  EXPECT_GT(link.a->stats().fast_recoveries, 0u);
  EXPECT_GT(link.b->stats().out_of_order, 0u);
  EXPECT_EQ(link.b->stats().bytes_in, data.size());
  // And the close still completes over the lossy path.
  link.a->close(link.now);
  link.b->close(link.now);
  ASSERT_TRUE(link.run_until([&] {
    return link.a->state() == TcpState::kClosed && link.b->state() == TcpState::kClosed;
  }));
  EXPECT_FALSE(link.a->error());
  EXPECT_FALSE(link.b->error());
}

TEST(TcpConnectionTransfer, BulkWithLossAndReorderSack) {
  uint32_t seeds = getenv("TCP_SEEDS") ? atoi(getenv("TCP_SEEDS")) : 3;
  for (uint32_t seed = 1; seed <= seeds; ++seed) {
    SCOPED_TRACE(seed);
    bulk_with_loss(true, seed);
  }
}

TEST(TcpConnectionTransfer, BulkWithLossAndReorderNewReno) {
  uint32_t seeds = getenv("TCP_SEEDS") ? atoi(getenv("TCP_SEEDS")) : 3;
  for (uint32_t seed = 1; seed <= seeds; ++seed) {
    SCOPED_TRACE(seed);
    bulk_with_loss(false, seed);
  }
}

TEST(TcpConnectionTransfer, CleanBulkNeedsNoRetransmission) {
  Link link;
  link.handshake();
  Bytes data = test::pattern(1 << 20);
  Bytes got;
  link.transfer(data, got);
  EXPECT_TRUE(got == data);
  EXPECT_EQ(link.a->stats().retransmits, 0u);
  EXPECT_EQ(link.a->stats().bytes_out, data.size());
  // Slow start grew the window past the initial 10 segments.
  EXPECT_GT(link.a->congestion().cwnd(), 10 * link.a->mss());
  // The receiver acknowledged about every second segment.
  size_t acks = link.out_b.log.size();
  size_t segments = data.size() / link.a->mss();
  EXPECT_LT(acks, segments * 3 / 4);
  EXPECT_GT(acks, segments / 3);
}

// Drops the first transmission of the segments starting at the given offsets (relative to
// A's first data byte).
std::function<bool(bool, const Sent&)> drop_once(std::set<uint32_t> offsets) {
  auto seen = std::make_shared<std::set<uint32_t>>();
  return [offsets, seen](bool to_b, const Sent& sent) {
    if (!to_b || sent.payload.empty()) return false;
    uint32_t offset = sent.header.sequence - 1001;
    if (offsets.count(offset) && !seen->count(offset)) {
      seen->insert(offset);
      return true;
    }
    return false;
  };
}

TEST(TcpConnectionTransfer, SackBlocksForOutOfOrderData) {
  Link link;
  link.handshake();
  uint32_t mss = link.a->mss();
  // Lose segments 1 and 3 of 6: B holds 2, 4-5 above the hole at 1.
  link.drop = drop_once({mss, 3 * mss});
  Bytes data = test::pattern(6 * mss);
  link.a->write(data, link.now);
  link.collect();
  link.run_for(link.delay + kMs);  // deliver the first flight, before any retransmission
  // B's ACKs: segment 0 (delayed), then immediate duplicate ACKs with SACK blocks.
  const Sent& last = link.out_b.log.back();
  EXPECT_EQ(last.header.acknowledgment, 1001u + mss);
  ASSERT_EQ(last.header.options.sack_count, 2);
  // RFC 2018 §4: the block with the most recent segment (4-5) first.
  EXPECT_EQ(last.header.options.sack[0], (SackBlock{1001 + 4 * mss, 1001 + 6 * mss}));
  EXPECT_EQ(last.header.options.sack[1], (SackBlock{1001 + 2 * mss, 1001 + 3 * mss}));
  EXPECT_EQ(link.b->readable(), mss);
  EXPECT_EQ(link.b->stats().out_of_order, 3u);
}

TEST(TcpConnectionTransfer, SackRecoveryResendsOnlyTheHoles) {
  Link link;
  link.handshake();
  uint32_t mss = link.a->mss();
  link.drop = drop_once({2 * mss, 5 * mss});
  Bytes data = test::pattern(10 * mss);  // exactly the initial window
  Bytes got;
  link.transfer(data, got);
  EXPECT_TRUE(got == data);
  EXPECT_EQ(link.a->stats().fast_recoveries, 1u);
  EXPECT_EQ(link.a->stats().timeouts, 0u);
  // The two holes, and (no new data to send) RFC 6675 NextSeg rule 4's one rescue
  // retransmission of the tail, which no later segment could show lost.
  EXPECT_EQ(link.a->stats().retransmits, 3u);
  std::vector<uint32_t> resent;
  std::set<uint32_t> first;
  for (const Sent& sent : link.out_a.log) {
    if (sent.payload.empty()) continue;
    if (!first.insert(sent.header.sequence).second) resent.push_back(sent.header.sequence - 1001);
  }
  EXPECT_EQ(resent, (std::vector<uint32_t>{2 * mss, 5 * mss, 9 * mss}));
}

TEST(TcpConnectionTransfer, NewRenoRecoveryWithoutSack) {
  TcpConfig config;
  config.sack = false;
  Link link(config, config);
  link.handshake();
  uint32_t mss = link.a->mss();
  link.drop = drop_once({2 * mss, 5 * mss});
  Bytes data = test::pattern(30 * mss);
  Bytes got;
  link.transfer(data, got);
  EXPECT_TRUE(got == data);
  EXPECT_EQ(link.a->stats().fast_recoveries, 1u);  // one episode: the partial ACK resent 5
  EXPECT_EQ(link.a->stats().timeouts, 0u);
  EXPECT_EQ(link.a->stats().retransmits, 2u);
  EXPECT_EQ(link.out_b.log.back().header.options.sack_count, 0);
}

TEST(TcpConnectionTransfer, ZeroWindowProbesThenReopen) {
  TcpConfig small;
  small.receive_buffer = 8192;
  Link link({}, small);
  link.handshake();
  Bytes data = test::pattern(40'000);
  size_t written = link.a->write(data, link.now);
  EXPECT_EQ(written, data.size());
  // B's application does not read: the window closes at 8 KiB.
  link.run_for(30'000 * kMs);
  EXPECT_EQ(link.b->readable(), 8192u);
  EXPECT_GT(link.a->stats().zero_window_probes, 3u);
  EXPECT_EQ(link.a->state(), TcpState::kEstablished);  // never gives up on a live peer
  // Probes are backed off: far fewer than one per RTO.
  EXPECT_LT(link.a->stats().zero_window_probes, 12u);
  for (const Sent& sent : link.out_a.log) {
    if (sent.payload.size() == 1) {
      EXPECT_EQ(sent.header.sequence, 1001u + 8192);
    }
  }
  // Reading reopens the window with an update; the rest flows.
  Bytes got;
  link.step_app = [&] { Link::drain(*link.b, got, link.now); };
  uint64_t reopened = link.now;
  ASSERT_TRUE(link.run_until([&] { return got.size() == data.size(); }));
  EXPECT_LT(link.now - reopened, 2000 * kMs);
  EXPECT_TRUE(got == data);
}

TEST(TcpConnectionTransfer, ReceiverNeverAcceptsBeyondItsWindow) {
  TcpConfig small;
  small.receive_buffer = 4000;
  Link link({}, small);
  link.handshake();
  // A segment from A far beyond B's window is trimmed and acknowledged, not stored.
  TcpSegment segment;
  segment.source_port = 40000;
  segment.destination_port = 80;
  segment.flags = kTcpAck;
  segment.sequence = 1001 + 3000;
  segment.acknowledgment = 5001;
  segment.window = 1000;
  Bytes payload(2000, 7);
  segment.payload = payload;
  link.b->on_segment(segment, link.now);
  EXPECT_EQ(link.b->stats().out_of_order, 1u);
  Bytes head(3000, 1);
  segment.sequence = 1001;
  segment.payload = head;
  link.b->on_segment(segment, link.now);
  EXPECT_EQ(link.b->readable(), 4000u);  // 3000 + the 1000 bytes that fit
  EXPECT_EQ(link.out_b.log.back().header.window, 0);
}

TEST(TcpConnectionTransfer, NagleHoldsSmallSegments) {
  for (bool nagle : {true, false}) {
    SCOPED_TRACE(nagle);
    Link link;
    link.handshake();
    link.a->set_nagle(nagle);
    size_t before = link.out_a.log.size();
    uint8_t byte = 'x';
    for (int i = 0; i < 5; ++i) link.a->write({&byte, 1}, link.now);
    size_t sent = link.out_a.log.size() - before;
    // With Nagle, one small segment is in flight and the rest wait for its ACK.
    EXPECT_EQ(sent, nagle ? 1u : 5u);
    Bytes got;
    link.step_app = [&] { Link::drain(*link.b, got, link.now); };
    ASSERT_TRUE(link.run_until([&] { return got.size() == 5; }));
    if (nagle) {
      EXPECT_EQ(link.out_a.log.size() - before, 2u);
    }
  }
}

TEST(TcpConnectionTransfer, DelayedAckTiming) {
  Link link;
  link.handshake();
  uint32_t mss = link.a->mss();
  // One small segment: the ACK comes after delayed_ack_ns.
  link.a->write(test::pattern(100), link.now);
  size_t before = link.out_b.log.size();
  link.run_for(link.delay);
  EXPECT_EQ(link.out_b.log.size(), before);
  uint64_t arrived = link.now;
  link.run_until([&] { return link.out_b.log.size() > before; });
  EXPECT_EQ(link.now - arrived, link.config_b.delayed_ack_ns);
  EXPECT_EQ(link.out_b.log.back().header.acknowledgment, 1001u + 100);
  // Two full segments arriving together: ACKed at once.
  link.run_for(100 * kMs);
  before = link.out_b.log.size();
  link.a->write(test::pattern(2 * mss), link.now);
  link.run_for(link.delay);
  ASSERT_EQ(link.out_b.log.size(), before + 1);
  EXPECT_EQ(link.out_b.log.back().header.acknowledgment, 1001u + 100 + 2 * mss);
}

TEST(TcpConnectionTransfer, DataWithFinIsAckedAtOnce) {
  Link link;
  link.handshake();
  link.a->write(test::pattern(100), link.now);
  link.a->write(test::pattern(100), link.now);  // Nagle holds it behind the first
  link.a->shutdown_write(link.now);             // and the FIN pushes it: PSH+FIN
  const Sent& last = link.out_a.log.back();
  ASSERT_TRUE(last.has(kTcpFin) && last.has(kTcpPsh) && last.payload.size() == 100);
  uint64_t sent = link.now;
  ASSERT_TRUE(link.run_until(
      [&] { return link.out_b.log.back().header.acknowledgment == 1001u + 200 + 1; }));
  // No delayed ACK for a FIN (Linux acknowledges it at once): B answers on arrival.
  EXPECT_EQ(link.now - sent, link.delay);
}

// RFC 9293 §3.7.1: a segment's payload plus its options fit the peer's MSS, also when
// B's data segments carry SACK blocks about A's data (Linux's tcp_current_mss); a
// 1448-byte payload with timestamps and one SACK block would make a 1512-byte datagram.
TEST(TcpConnectionTransfer, SegmentsCarryingSackBlocksFitTheMss) {
  Link link;
  link.handshake();
  uint32_t mss = link.a->mss();
  link.drop = drop_once({mss});  // B holds A's data above a hole for a while
  Bytes from_a = test::pattern(8 * mss, 1), from_b = test::pattern(40 * mss, 2);
  Bytes got_a, got_b;
  size_t written_a = 0, written_b = 0;
  link.step_app = [&] {
    if (written_a < from_a.size())
      written_a += link.a->write(std::span(from_a).subspan(written_a), link.now);
    if (written_b < from_b.size())
      written_b += link.b->write(std::span(from_b).subspan(written_b), link.now);
    Link::drain(*link.a, got_a, link.now);
    Link::drain(*link.b, got_b, link.now);
  };
  ASSERT_TRUE(link.run_until(
      [&] { return got_b.size() == from_a.size() && got_a.size() == from_b.size(); }));
  EXPECT_TRUE(got_a == from_b && got_b == from_a);
  size_t with_sack = 0;
  for (const Sent& sent : link.out_b.log) {
    EXPECT_LE(sent.wire.size(), size_t{1460 + 20}) << "seq " << sent.header.sequence;
    if (!sent.payload.empty() && sent.header.options.sack_count > 0) ++with_sack;
  }
  EXPECT_GT(with_sack, 0u);
}

// An ACK lost after a timeout retransmission: B answers the (duplicate) retransmission
// echoing its TSval (RFC 7323 §4.3), and A does not take the RTO as an RTT sample.
TEST(TcpConnectionTransfer, LostAckAfterTimeoutDoesNotInflateRtt) {
  Link link;
  link.handshake();
  link.a->write(test::pattern(100), link.now);
  link.run_for(2 * kMs);
  uint64_t srtt = link.a->rtt().srtt_ns();
  // B's ACK of the data is lost once.
  bool dropped = false;
  link.drop = [&](bool to_b, const Sent& sent) {
    if (to_b || dropped || sent.header.acknowledgment != 1001u + 100) return false;
    dropped = true;
    return true;
  };
  ASSERT_TRUE(link.run_until([&] { return link.a->stats().retransmits > 0; }));
  const Sent resent = link.out_a.log.back();
  ASSERT_EQ(resent.header.sequence, 1001u);
  ASSERT_TRUE(resent.header.options.timestamps);
  link.run_for(100 * kMs);
  EXPECT_EQ(link.out_b.log.back().header.options.timestamps->echo_reply,
            resent.header.options.timestamps->value);
  EXPECT_LT(link.a->rtt().srtt_ns(), 2 * srtt + 20 * kMs);
  EXPECT_EQ(link.a->rtt().backoffs(), 0u);
}

TEST(TcpConnectionTransfer, NothingIsHeldOrSackedBeyondTheFin) {
  // A broken or hostile peer: data out of order, then a FIN before it. The stream ends at
  // the FIN; what lies beyond is dropped, never reported in SACK blocks at or below the
  // cumulative ACK (found by fuzz/tcp_connection, fuzz/regressions/tcp_connection/
  // sack-block-below-ack-after-fin).
  for (bool hole_first : {false, true}) {
    SCOPED_TRACE(hole_first);
    Link link;
    link.handshake();
    TcpSegment segment;
    segment.source_port = 40000;
    segment.destination_port = 80;
    segment.flags = kTcpAck;
    segment.acknowledgment = 5001;
    segment.window = 1000;
    Bytes beyond(1000, 7);
    segment.sequence = 1001 + 500;
    segment.payload = beyond;
    link.b->on_segment(segment, link.now);
    ASSERT_EQ(link.out_b.log.back().header.options.sack_count, 1);  // held, and reported
    // The FIN at 1001 (the stream is empty), or at 1201 after a hole that fills later.
    Bytes head(200, 1);
    segment.flags = kTcpAck | kTcpFin;
    segment.sequence = hole_first ? 1001 + 200 : 1001;
    segment.payload = {};
    link.b->on_segment(segment, link.now);
    EXPECT_EQ(link.out_b.log.back().header.options.sack_count, 0);
    if (hole_first) {
      segment.flags = kTcpAck;
      segment.sequence = 1001;
      segment.payload = head;
      link.b->on_segment(segment, link.now);
    }
    const Sent& ack = link.out_b.log.back();
    EXPECT_EQ(ack.header.acknowledgment, 1001u + (hole_first ? 200 : 0) + 1);  // the FIN's
    EXPECT_EQ(ack.header.options.sack_count, 0);
    EXPECT_EQ(link.b->state(), TcpState::kCloseWait);
    EXPECT_EQ(link.b->readable(), hole_first ? 200u : 0u);
  }
}

TEST(TcpConnectionTransfer, WriteIsBoundedBySendBuffer) {
  TcpConfig config;
  config.send_buffer = 10'000;
  Link link(config);
  link.handshake();
  Bytes data = test::pattern(25'000);
  EXPECT_EQ(link.a->writable(), 10'000u);
  EXPECT_EQ(link.a->write(data, link.now), 10'000u);
  EXPECT_EQ(link.a->write(data, link.now), 0u);
  link.run_for(100 * kMs);
  EXPECT_TRUE(link.a->take_events() & TcpConnection::kWritableEvent);
  EXPECT_EQ(link.a->writable(), 10'000u);
}

}  // namespace
}  // namespace morgana::net
