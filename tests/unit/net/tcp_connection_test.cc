// TcpConnection: the handshake and option negotiation (also against Linux's captured SYN),
// data both ways, half-close, simultaneous open and close, TIME-WAIT, RSTs and challenge
// ACKs, PAWS, refused and timed-out connections.
#include <gtest/gtest.h>

#include "data/tcp.h"
#include "tcp_connection_harness.h"

namespace morgana::net {
namespace {

using test::Bytes;
using test::kMs;
using test::Link;
using test::Sent;

TEST(TcpConnection, HandshakeNegotiatesAllOptions) {
  Link link;
  link.connect();
  ASSERT_EQ(link.out_a.log.size(), 1u);
  const Sent& syn = link.out_a.log[0];
  EXPECT_EQ(syn.header.flags, kTcpSyn);
  EXPECT_EQ(syn.header.sequence, 1000u);
  EXPECT_EQ(syn.header.options.mss, 1460);
  EXPECT_EQ(syn.header.options.window_scale, 3);  // 256 KiB >> 3 fits 16 bits
  EXPECT_TRUE(syn.header.options.sack_permitted);
  ASSERT_TRUE(syn.header.options.timestamps);
  EXPECT_EQ(syn.header.options.timestamps->echo_reply, 0u);
  EXPECT_EQ(syn.header.window, 65535);
  EXPECT_EQ(link.a->state(), TcpState::kSynSent);

  ASSERT_TRUE(link.run_until([&] { return link.established(); }));
  const Sent& syn_ack = link.out_b.log[0];
  EXPECT_EQ(syn_ack.header.flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(syn_ack.header.acknowledgment, 1001u);
  EXPECT_EQ(syn_ack.header.options.window_scale, 3);
  EXPECT_TRUE(syn_ack.header.options.sack_permitted);
  ASSERT_TRUE(syn_ack.header.options.timestamps);
  EXPECT_EQ(syn_ack.header.options.timestamps->echo_reply, syn.header.options.timestamps->value);
  EXPECT_EQ(link.a->mss(), 1448u);  // 1460 - 12 bytes of timestamps
  EXPECT_EQ(link.b->mss(), 1448u);
  EXPECT_TRUE(link.a->take_events() & TcpConnection::kEstablishedEvent);
  EXPECT_TRUE(link.b->take_events() & TcpConnection::kEstablishedEvent);
  // The third segment acknowledges the SYN-ACK and advertises the scaled window.
  const Sent& ack = link.out_a.log[1];
  EXPECT_EQ(ack.header.flags, kTcpAck);
  EXPECT_EQ(ack.header.acknowledgment, 5001u);
  EXPECT_EQ(ack.header.window, 256 * 1024 >> 3);
  EXPECT_TRUE(link.a->rtt().has_sample());
}

TEST(TcpConnection, EachOptionOffOnOneSide) {
  for (int option = 0; option < 4; ++option) {
    SCOPED_TRACE(option);
    TcpConfig off;
    if (option == 0) off.window_scaling = false;
    if (option == 1) off.sack = false;
    if (option == 2) off.timestamps = false;
    if (option == 3) off.mss = 1000;
    // The passive side lacks it: its SYN-ACK must not carry it.
    Link link({}, off);
    link.connect();
    ASSERT_TRUE(link.run_until([&] { return link.established(); }));
    const TcpOptions& answer = link.out_b.log[0].header.options;
    EXPECT_EQ(answer.window_scale.has_value(), option != 0);
    EXPECT_EQ(answer.sack_permitted, option != 1);
    EXPECT_EQ(answer.timestamps.has_value(), option != 2);
    // Data still flows, with the segments each side can take.
    Bytes data = test::pattern(100'000);
    size_t written = 0;
    Bytes got;
    link.step_app = [&] {
      written += link.a->write(std::span(data).subspan(written), link.now);
      Link::drain(*link.b, got, link.now);
    };
    ASSERT_TRUE(link.run_until([&] { return got.size() == data.size(); }));
    EXPECT_EQ(got, data);
    uint32_t expected_mss = option == 3 ? 1000 - 12 : option == 2 ? 1460 : 1448;
    EXPECT_EQ(link.a->mss(), expected_mss);
    for (const Sent& sent : link.out_a.log) {
      EXPECT_LE(sent.payload.size(), expected_mss);
      if (!(sent.header.flags & kTcpSyn)) {
        EXPECT_EQ(sent.header.options.timestamps.has_value(), option != 2);
      }
    }
    // Without window scaling the window field is the byte count, capped at 65535.
    if (option == 0) {
      EXPECT_EQ(link.out_a.log[1].header.window, 65535);
    }
  }
}

TEST(TcpConnection, AcceptsLinuxSyn) {
  // Linux's SYN: mss 1460, sackOK, TS val 3894708478 ecr 0, nop, wscale 10.
  TcpSegment syn =
      test::parse_from(Bytes(test::l4(testdata::kTcp0).begin(), test::l4(testdata::kTcp0).end()),
                       {test::kIpB, 35652, test::kIpA, 8000});
  test::Capture out;
  TcpEndpoints ours = {test::kIpA, 8000, test::kIpB, 35652};
  uint64_t now = 5000 * kMs;
  auto made = TcpConnection::accept({}, ours, syn, 1536195182, out, now);
  ASSERT_TRUE(made.ok());
  TcpConnection& c = **made;
  EXPECT_EQ(c.state(), TcpState::kSynReceived);
  ASSERT_EQ(out.log.size(), 1u);
  const TcpSegmentHeader& h = out.log[0].header;
  EXPECT_EQ(h.flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(h.acknowledgment, 3608451834u);
  EXPECT_EQ(h.options.mss, 1460);
  EXPECT_TRUE(h.options.sack_permitted);
  EXPECT_EQ(h.options.window_scale, 3);
  ASSERT_TRUE(h.options.timestamps);
  EXPECT_EQ(h.options.timestamps->echo_reply, 3894708478u);
  // Linux's SYN-ACK option layout, as the codec encodes it.
  EXPECT_EQ(out.log[0].wire.size(), 40u);

  // Linux's ACK (ack 1, win 63 << 10) and its 78-byte request (our ISS is the one of the
  // capture).
  auto segment_of = [&](const uint8_t* frame, size_t size) {
    Bytes wire(frame + 34, frame + size);
    return wire;
  };
  Bytes ack_wire = segment_of(testdata::kTcp2, sizeof(testdata::kTcp2));
  c.on_segment(test::parse_from(ack_wire, {test::kIpB, 35652, test::kIpA, 8000}), now + kMs);
  EXPECT_EQ(c.state(), TcpState::kEstablished);
  Bytes data_wire = segment_of(testdata::kTcp3, sizeof(testdata::kTcp3));
  c.on_segment(test::parse_from(data_wire, {test::kIpB, 35652, test::kIpA, 8000}), now + 2 * kMs);
  EXPECT_EQ(c.readable(), 78u);
  // A lone segment: the ACK is delayed...
  EXPECT_EQ(out.log.size(), 1u);
  EXPECT_EQ(c.next_deadline(), now + 2 * kMs + 40 * kMs);
  c.on_timer(c.next_deadline());
  ASSERT_EQ(out.log.size(), 2u);
  // ...and then carries Linux's TSval back, with the full scaled window.
  EXPECT_EQ(out.log[1].header.acknowledgment, 3608451834u + 78);
  EXPECT_EQ(out.log[1].header.options.timestamps->echo_reply, 3894708479u);
  EXPECT_EQ(out.log[1].header.window, (256 * 1024 - 78) >> 3);
  Bytes got(78);
  EXPECT_EQ(c.read(got, now + 50 * kMs), 78u);
  EXPECT_EQ(std::string(got.begin(), got.begin() + 3), "GET");
}

TEST(TcpConnection, DataBothWaysHalfCloseAndTimeWait) {
  Link link;
  link.handshake();
  Bytes to_b = test::pattern(5000, 1), to_a = test::pattern(3000, 2);
  EXPECT_EQ(link.a->write(to_b, link.now), to_b.size());
  EXPECT_EQ(link.b->write(to_a, link.now), to_a.size());
  Bytes got_a, got_b;
  link.step_app = [&] {
    Link::drain(*link.a, got_a, link.now);
    Link::drain(*link.b, got_b, link.now);
  };
  ASSERT_TRUE(link.run_until([&] { return got_a.size() == 3000 && got_b.size() == 5000; }));
  EXPECT_EQ(got_a, to_a);
  EXPECT_EQ(got_b, to_b);

  // A half-closes; B keeps sending and A keeps reading.
  link.a->shutdown_write(link.now);
  EXPECT_EQ(link.a->state(), TcpState::kFinWait1);
  EXPECT_EQ(link.a->write(to_b, link.now), 0u);
  ASSERT_TRUE(link.run_until([&] { return link.b->at_eof(); }));
  EXPECT_EQ(link.b->state(), TcpState::kCloseWait);
  ASSERT_TRUE(link.run_until([&] { return link.a->state() == TcpState::kFinWait2; }));
  got_a.clear();
  EXPECT_EQ(link.b->write(to_a, link.now), to_a.size());
  ASSERT_TRUE(link.run_until([&] { return got_a.size() == 3000; }));
  EXPECT_EQ(got_a, to_a);
  EXPECT_FALSE(link.a->at_eof());

  link.b->close(link.now);
  EXPECT_EQ(link.b->state(), TcpState::kLastAck);
  ASSERT_TRUE(link.run_until([&] { return link.a->state() == TcpState::kTimeWait; }));
  EXPECT_TRUE(link.a->at_eof());
  EXPECT_TRUE(link.a->take_events() & TcpConnection::kClosedEvent);
  ASSERT_TRUE(link.run_until([&] { return link.b->state() == TcpState::kClosed; }));
  EXPECT_FALSE(link.b->error());
  // TIME-WAIT lasts 2 MSL.
  uint64_t entered = link.now;
  ASSERT_TRUE(link.run_until([&] { return link.a->state() == TcpState::kClosed; }));
  EXPECT_GE(link.now - entered, link.config_a.time_wait_ns - 20 * kMs);
  EXPECT_FALSE(link.a->error());
  EXPECT_EQ(link.a->next_deadline(), UINT64_MAX);
}

TEST(TcpConnection, SimultaneousOpen) {
  Link link;
  auto a = TcpConnection::connect({}, test::kEndA, 1000, link.out_a, link.now);
  auto b = TcpConnection::connect({}, test::kEndB, 9000, link.out_b, link.now);
  ASSERT_TRUE(a.ok() && b.ok());
  link.a = std::move(a).value();
  link.b = std::move(b).value();
  ASSERT_TRUE(link.run_until([&] { return link.established(); }, 5000 * kMs));
  EXPECT_TRUE(link.out_a.log[1].has(kTcpSyn) && link.out_a.log[1].has(kTcpAck));
  Bytes data = test::pattern(10'000);
  EXPECT_EQ(link.a->write(data, link.now), data.size());
  Bytes got;
  link.step_app = [&] { Link::drain(*link.b, got, link.now); };
  ASSERT_TRUE(link.run_until([&] { return got.size() == data.size(); }));
  EXPECT_EQ(got, data);
  EXPECT_EQ(link.a->stats().retransmits, 0u);
}

TEST(TcpConnection, SimultaneousClose) {
  Link link;
  link.handshake();
  link.a->close(link.now);
  link.b->close(link.now);
  EXPECT_EQ(link.a->state(), TcpState::kFinWait1);
  EXPECT_EQ(link.b->state(), TcpState::kFinWait1);
  ASSERT_TRUE(link.run_until([&] {
    return link.a->state() == TcpState::kTimeWait && link.b->state() == TcpState::kTimeWait;
  }));
  // Both went through CLOSING: each saw the other's FIN before the ACK of its own.
  ASSERT_TRUE(link.run_until([&] {
    return link.a->state() == TcpState::kClosed && link.b->state() == TcpState::kClosed;
  }));
  EXPECT_FALSE(link.a->error());
}

TEST(TcpConnection, RefusedByRst) {
  Link link;
  link.connect();
  const Sent& syn = link.out_a.log[0];
  TcpSegment rst;
  rst.source_port = 80;
  rst.destination_port = 40000;
  rst.flags = kTcpRst | kTcpAck;
  rst.acknowledgment = syn.header.sequence + 1;
  link.a->on_segment(rst, link.now);
  EXPECT_EQ(link.a->state(), TcpState::kClosed);
  ASSERT_TRUE(link.a->error());
  EXPECT_EQ(link.a->error()->code, Errc::kConnectionRefused);
  EXPECT_TRUE(link.a->take_events() & TcpConnection::kErrorEvent);
}

TEST(TcpConnection, SynRetransmissionsGiveUp) {
  Link link;
  link.drop = [](bool, const Sent&) { return true; };
  link.connect();
  ASSERT_TRUE(link.run_until([&] { return link.a->state() == TcpState::kClosed; }));
  EXPECT_EQ(link.out_a.log.size(), 1u + link.config_a.max_syn_retransmits);
  ASSERT_TRUE(link.a->error());
  EXPECT_EQ(link.a->error()->code, Errc::kTimedOut);
  // Backed off: 1 + 2 + 4 + ... seconds.
  EXPECT_GE(link.now, 1000 * kMs + 127'000 * kMs);
}

TEST(TcpConnection, RtoBacksOffAndGivesUp) {
  TcpConfig config;
  config.max_retransmits = 5;
  Link link(config);
  link.handshake();
  link.drop = [](bool to_b, const Sent&) { return to_b; };  // B hears nothing more
  Bytes data = test::pattern(1000);
  link.a->write(data, link.now);
  uint64_t start = link.now;
  std::vector<uint64_t> times;
  link.step_app = [&] {
    if (link.out_a.log.size() > times.size() + 2) times.push_back(link.now);
  };
  ASSERT_TRUE(link.run_until([&] { return link.a->state() == TcpState::kClosed; }));
  ASSERT_TRUE(link.a->error());
  EXPECT_EQ(link.a->error()->code, Errc::kTimedOut);
  EXPECT_EQ(link.a->stats().timeouts, 5u);
  EXPECT_EQ(link.a->stats().retransmits, 5u);
  // The last segment is the RST.
  EXPECT_TRUE(link.out_a.log.back().has(kTcpRst));
  // Each interval is (about) twice the previous.
  ASSERT_GE(times.size(), 4u);
  for (size_t i = 2; i + 1 < times.size(); ++i) {
    uint64_t before = times[i] - times[i - 1], after = times[i + 1] - times[i];
    EXPECT_NEAR(static_cast<double>(after) / before, 2.0, 0.1) << i;
  }
  EXPECT_GT(link.now - start, 3000 * kMs);
}

// A hand-made segment from B's side of an established link.
TcpSegment from_b(const Link& link, uint8_t flags, uint32_t seq_offset = 0) {
  TcpSegment s;
  s.source_port = 80;
  s.destination_port = 40000;
  s.flags = flags;
  s.sequence = 5001 + seq_offset;
  s.acknowledgment = 1001;
  s.window = 1000;
  (void)link;
  return s;
}

TEST(TcpConnection, RstExactMatchResets) {
  TcpConfig config;
  config.timestamps = false;
  Link link(config);
  link.handshake();
  link.a->on_segment(from_b(link, kTcpRst), link.now);
  EXPECT_EQ(link.a->state(), TcpState::kClosed);
  EXPECT_EQ(link.a->error()->code, Errc::kConnectionReset);
}

TEST(TcpConnection, InWindowRstAndSynGetChallengeAcks) {
  TcpConfig config;
  config.timestamps = false;
  config.challenge_acks_per_interval = 3;
  Link link(config);
  link.handshake();
  size_t before = link.out_a.log.size();
  link.a->on_segment(from_b(link, kTcpRst, 100), link.now);  // in window, not exact
  EXPECT_EQ(link.a->state(), TcpState::kEstablished);
  ASSERT_EQ(link.out_a.log.size(), before + 1);
  EXPECT_EQ(link.out_a.log.back().header.flags, kTcpAck);
  EXPECT_EQ(link.out_a.log.back().header.acknowledgment, 5001u);
  // Out of window: silently dropped.
  link.a->on_segment(from_b(link, kTcpRst, 10'000'000), link.now);
  EXPECT_EQ(link.out_a.log.size(), before + 1);
  // RFC 5961 §4: a SYN (even at RCV.NXT) gets a challenge ACK, not a reset.
  link.a->on_segment(from_b(link, kTcpSyn), link.now);
  EXPECT_EQ(link.a->state(), TcpState::kEstablished);
  EXPECT_EQ(link.out_a.log.size(), before + 2);
  // Rate limited: 3 per second.
  link.a->on_segment(from_b(link, kTcpSyn), link.now);
  link.a->on_segment(from_b(link, kTcpSyn), link.now);
  EXPECT_EQ(link.out_a.log.size(), before + 3);
  EXPECT_EQ(link.a->stats().challenge_acks, 3u);
  link.a->on_segment(from_b(link, kTcpSyn), link.now + 1001 * kMs);
  EXPECT_EQ(link.a->stats().challenge_acks, 4u);
  // RFC 5961 §5: an ACK for data never sent is challenged and ignored.
  TcpSegment bogus = from_b(link, kTcpAck);
  bogus.acknowledgment = 99999;
  link.a->on_segment(bogus, link.now + 1001 * kMs);
  EXPECT_EQ(link.a->stats().challenge_acks, 5u);
}

TEST(TcpConnection, RstInEachState) {
  // SYN-RECEIVED (passive): reset, the listener would stay.
  {
    Link link;
    link.drop = [](bool to_b, const Sent&) { return !to_b; };
    link.connect();
    ASSERT_TRUE(link.run_until([&] { return link.b != nullptr; }));
    TcpSegment rst;
    rst.source_port = 40000;
    rst.destination_port = 80;
    rst.flags = kTcpRst;
    rst.sequence = 1001;
    link.b->on_segment(rst, link.now);
    EXPECT_EQ(link.b->state(), TcpState::kClosed);
    EXPECT_EQ(link.b->error()->code, Errc::kConnectionReset);
  }
  // FIN-WAIT-2, CLOSE-WAIT, LAST-ACK, TIME-WAIT: exact RSTs end them.
  for (TcpState target :
       {TcpState::kFinWait2, TcpState::kCloseWait, TcpState::kLastAck, TcpState::kTimeWait}) {
    SCOPED_TRACE(tcp_state_name(target));
    TcpConfig config;
    config.timestamps = false;
    Link link(config, config);
    link.handshake();
    TcpConnection* c = link.a.get();
    uint32_t peer_seq = 5001;
    if (target == TcpState::kFinWait2 || target == TcpState::kTimeWait) {
      link.a->close(link.now);
      if (target == TcpState::kTimeWait) {
        link.b->close(link.now);
        peer_seq = 5002;
      }
    } else {
      link.b->close(link.now);
      peer_seq = 5002;
      if (target == TcpState::kLastAck) {
        link.drop = [](bool to_b, const Sent&) { return to_b; };
        ASSERT_TRUE(link.run_until([&] { return c->state() == TcpState::kCloseWait; }));
        c->close(link.now);
      }
    }
    ASSERT_TRUE(link.run_until([&] { return c->state() == target; }));
    TcpSegment rst = from_b(link, kTcpRst);
    rst.sequence = peer_seq;
    c->on_segment(rst, link.now);
    EXPECT_EQ(c->state(), TcpState::kClosed);
    bool reset_error = target == TcpState::kFinWait2 || target == TcpState::kCloseWait;
    EXPECT_EQ(c->error().has_value(), reset_error);
  }
}

TEST(TcpConnection, PawsRejectsOldTimestamps) {
  Link link;
  link.handshake();
  // B's next data segment, replayed later with an older timestamp.
  link.b->write(test::pattern(100), link.now);
  ASSERT_FALSE(link.out_b.pending.empty());
  Sent data = link.out_b.pending.back();
  link.run_for(50 * kMs);
  EXPECT_EQ(link.a->readable(), 100u);
  TcpSegment old = test::parse_from(data.wire, test::kEndB);
  old.sequence += 100;  // would be new data
  old.options.timestamps->value -= 1000;
  size_t before = link.out_a.log.size();
  link.a->on_segment(old, link.now);
  EXPECT_EQ(link.a->stats().paws_rejected, 1u);
  EXPECT_EQ(link.a->readable(), 100u);
  ASSERT_EQ(link.out_a.log.size(), before + 1);  // answered with an ACK
  EXPECT_EQ(link.out_a.log.back().header.acknowledgment, 5001u + 100);
}

TEST(TcpConnection, CloseWithUnreadDataResets) {
  Link link;
  link.handshake();
  link.b->write(test::pattern(10), link.now);
  link.run_for(50 * kMs);
  ASSERT_EQ(link.a->readable(), 10u);
  link.a->close(link.now);
  EXPECT_EQ(link.a->state(), TcpState::kClosed);
  EXPECT_TRUE(link.out_a.log.back().has(kTcpRst));
  ASSERT_TRUE(link.run_until([&] { return link.b->state() == TcpState::kClosed; }));
  EXPECT_EQ(link.b->error()->code, Errc::kConnectionReset);
}

TEST(TcpConnection, DataAfterCloseResets) {
  Link link;
  link.handshake();
  link.a->close(link.now);
  ASSERT_TRUE(link.run_until([&] { return link.a->state() == TcpState::kFinWait2; }));
  link.b->write(test::pattern(10), link.now);
  ASSERT_TRUE(link.run_until([&] { return link.b->state() == TcpState::kClosed; }));
  EXPECT_EQ(link.b->error()->code, Errc::kConnectionReset);
  EXPECT_EQ(link.a->state(), TcpState::kClosed);
}

TEST(TcpConnection, OrphanedFinWait2TimesOut) {
  Link link;
  link.handshake();
  link.a->close(link.now);
  ASSERT_TRUE(link.run_until([&] { return link.a->state() == TcpState::kFinWait2; }));
  uint64_t start = link.now;
  ASSERT_TRUE(link.run_until([&] { return link.a->state() == TcpState::kClosed; }));
  EXPECT_NEAR(static_cast<double>(link.now - start), 60e9, 1e8);
}

TEST(TcpConnection, Keepalive) {
  TcpConfig config;
  config.keepalive = true;
  config.keepalive_idle_ns = 10'000 * kMs;
  config.keepalive_interval_ns = 1000 * kMs;
  config.keepalive_probes = 3;
  Link link(config);
  link.handshake();
  link.run_for(35'000 * kMs);  // B answers every probe
  EXPECT_EQ(link.a->state(), TcpState::kEstablished);
  EXPECT_GE(link.a->stats().keepalives, 3u);
  link.drop = [](bool, const Sent&) { return true; };
  ASSERT_TRUE(link.run_until([&] { return link.a->state() == TcpState::kClosed; }));
  EXPECT_EQ(link.a->error()->code, Errc::kTimedOut);
}

}  // namespace
}  // namespace morgana::net
