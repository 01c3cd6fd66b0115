// Congestion control: RFC 6928 initial windows, RFC 5681/3465 slow start and avoidance,
// NewReno and CUBIC reductions, and CUBIC's curve (RFC 9438) against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>

#include "morgana/net/tcp_congestion.h"

namespace morgana::net {
namespace {

constexpr uint32_t kMss = 1000;
constexpr uint64_t kMs = 1'000'000;

// Acknowledges one window segment by segment over one RTT, as a cwnd-limited sender with
// per-segment ACKs sees it; returns the time after that RTT.
uint64_t ack_one_rtt(CongestionControl& cc, uint64_t now, uint64_t rtt) {
  uint32_t segments = cc.cwnd() / kMss;
  uint32_t flight = cc.cwnd();
  for (uint32_t i = 0; i < segments; ++i) {
    cc.on_ack(kMss, flight, now + rtt * i / segments, rtt, true);
  }
  return now + rtt;
}

double segments(const CongestionControl& cc) {
  return double(cc.cwnd()) / kMss;
}

TEST(CongestionControl, Names) {
  EXPECT_STREQ(congestion_algorithm_name(CongestionAlgorithm::kNewReno), "newreno");
  EXPECT_STREQ(congestion_algorithm_name(CongestionAlgorithm::kCubic), "cubic");
}

TEST(CongestionControl, InitialWindowRfc6928) {
  // min(10*MSS, max(2*MSS, 14600)).
  EXPECT_EQ(CongestionControl::initial_window(1460), 14600u);
  EXPECT_EQ(CongestionControl::initial_window(536), 5360u);
  EXPECT_EQ(CongestionControl::initial_window(1000), 10000u);
  EXPECT_EQ(CongestionControl::initial_window(4000), 14600u);
  EXPECT_EQ(CongestionControl::initial_window(9000), 18000u);
  CongestionControl cc(CongestionAlgorithm::kNewReno, 1460);
  EXPECT_EQ(cc.cwnd(), 14600u);
  EXPECT_EQ(cc.ssthresh(), UINT32_MAX);
  EXPECT_TRUE(cc.in_slow_start());
}

TEST(CongestionControl, SetMssRecomputesInitialWindowThenKeepsSegments) {
  CongestionControl cc(CongestionAlgorithm::kNewReno, 536);
  cc.set_mss(9000);  // still the initial window: recomputed for the new MSS
  EXPECT_EQ(cc.cwnd(), 18000u);
  CongestionControl grown(CongestionAlgorithm::kNewReno, 1000);
  grown.on_enter_recovery(30000, 0);  // cwnd = ssthresh = 15 segments
  grown.set_mss(500);
  EXPECT_EQ(grown.cwnd(), 7500u);
  EXPECT_EQ(grown.ssthresh(), 7500u);
}

TEST(NewReno, SlowStartDoublesPerRtt) {
  CongestionControl cc(CongestionAlgorithm::kNewReno, kMss);
  uint64_t now = 0;
  for (uint32_t expected : {20000u, 40000u, 80000u}) {
    now = ack_one_rtt(cc, now, 10 * kMs);
    EXPECT_EQ(cc.cwnd(), expected);
  }
}

TEST(NewReno, SlowStartWithDelayedAcksAlsoDoubles) {
  // One ACK per two segments: ABC with L = 2 counts both.
  CongestionControl cc(CongestionAlgorithm::kNewReno, kMss);
  for (int i = 0; i < 5; ++i) cc.on_ack(2 * kMss, cc.cwnd(), 0, 0, true);
  EXPECT_EQ(cc.cwnd(), 20000u);
}

TEST(NewReno, AbcCapsIncreasePerAck) {
  // RFC 3465 §2.2: a stretch ACK of 5 segments grows cwnd by at most 2 segments.
  CongestionControl cc(CongestionAlgorithm::kNewReno, kMss);
  cc.on_ack(5 * kMss, 10 * kMss, 0, 0, true);
  EXPECT_EQ(cc.cwnd(), 12000u);
}

TEST(NewReno, SlowStartStopsAtSsthresh) {
  CongestionControl cc(CongestionAlgorithm::kNewReno, kMss);
  cc.on_timeout(23000, 0);  // ssthresh 11500, cwnd 1000
  EXPECT_EQ(cc.ssthresh(), 11500u);
  EXPECT_EQ(cc.cwnd(), 1000u);
  uint32_t flight = cc.cwnd();
  while (cc.in_slow_start()) cc.on_ack(kMss, flight, 0, 0, true);
  EXPECT_EQ(cc.cwnd(), 11500u);  // not beyond it
}

TEST(NewReno, AvoidanceAddsOneSegmentPerWindow) {
  CongestionControl cc(CongestionAlgorithm::kNewReno, kMss);
  cc.on_enter_recovery(40000, 0);
  EXPECT_EQ(cc.ssthresh(), 20000u);
  EXPECT_EQ(cc.cwnd(), 20000u);
  cc.on_exit_recovery(0);
  EXPECT_EQ(cc.cwnd(), 20000u);
  EXPECT_FALSE(cc.in_slow_start());
  for (int i = 0; i < 19; ++i) cc.on_ack(kMss, 20000, 0, 0, true);
  EXPECT_EQ(cc.cwnd(), 20000u);  // 19000 bytes acknowledged: not yet one window
  cc.on_ack(kMss, 20000, 0, 0, true);
  EXPECT_EQ(cc.cwnd(), 21000u);
  for (int i = 0; i < 20; ++i) cc.on_ack(kMss, 21000, 0, 0, true);
  EXPECT_EQ(cc.cwnd(), 21000u);  // the next window is 21 segments
  cc.on_ack(kMss, 21000, 0, 0, true);
  EXPECT_EQ(cc.cwnd(), 22000u);
}

TEST(NewReno, SsthreshIsHalfFlightAtLeastTwoSegments) {
  CongestionControl cc(CongestionAlgorithm::kNewReno, kMss);
  cc.on_enter_recovery(3000, 0);
  EXPECT_EQ(cc.ssthresh(), 2000u);  // max(1500, 2*MSS)
  EXPECT_EQ(cc.cwnd(), 2000u);
  cc.on_enter_recovery(9000, 0);
  EXPECT_EQ(cc.ssthresh(), 4500u);
}

TEST(NewReno, TimeoutGivesLossWindowAndHoldsSsthreshOnRepeat) {
  CongestionControl cc(CongestionAlgorithm::kNewReno, kMss);
  cc.on_timeout(30000, 0);
  EXPECT_EQ(cc.cwnd(), kMss);  // RFC 5681 §3.1: loss window
  EXPECT_EQ(cc.ssthresh(), 15000u);
  cc.on_timeout(kMss, 0);  // the retransmission timed out too
  EXPECT_EQ(cc.ssthresh(), 15000u);
  cc.on_ack(kMss, kMss, 0, 0, true);
  EXPECT_EQ(cc.cwnd(), 2000u);  // slow start again from one segment
  cc.on_timeout(2000, 0);       // a new loss after progress: recomputed
  EXPECT_EQ(cc.ssthresh(), 2000u);
}

TEST(NewReno, NoGrowthWhenApplicationLimited) {
  CongestionControl cc(CongestionAlgorithm::kNewReno, kMss);
  for (int i = 0; i < 10; ++i) cc.on_ack(kMss, 2000, 0, 0, false);
  EXPECT_EQ(cc.cwnd(), 10000u);
}

TEST(NewReno, IdleRestart) {
  CongestionControl cc(CongestionAlgorithm::kNewReno, kMss);
  ack_one_rtt(cc, 0, kMs);
  ack_one_rtt(cc, 0, kMs);
  EXPECT_EQ(cc.cwnd(), 40000u);
  cc.on_idle_restart(0);
  EXPECT_EQ(cc.cwnd(), 10000u);
  cc.on_timeout(10000, 0);
  cc.on_idle_restart(0);
  EXPECT_EQ(cc.cwnd(), kMss);  // min(IW, cwnd)
}

TEST(Cubic, CubeRoot) {
  EXPECT_EQ(cube_root(0), 0);
  EXPECT_DOUBLE_EQ(cube_root(27), 3);
  EXPECT_DOUBLE_EQ(cube_root(-8), -2);
  EXPECT_DOUBLE_EQ(cube_root(1e-300), std::cbrt(1e-300));
  for (double x : {0.001, 0.4, 1.0, 2.0, 75.0, 1e6, 12345.678, 1e300}) {
    EXPECT_NEAR(cube_root(x), std::cbrt(x), std::cbrt(x) * 1e-15) << x;
  }
}

// Brings a CUBIC sender to `window` segments in slow start, then takes a loss.
CongestionControl cubic_after_loss_at(uint32_t window) {
  CongestionControl cc(CongestionAlgorithm::kCubic, kMss);
  while (cc.cwnd() < window * kMss) cc.on_ack(kMss, cc.cwnd(), 0, 0, true);
  EXPECT_EQ(cc.cwnd(), window * kMss);
  cc.on_enter_recovery(window * kMss, 0);
  cc.on_exit_recovery(0);
  return cc;
}

TEST(Cubic, ReductionAndK) {
  CongestionControl cc = cubic_after_loss_at(100);
  // RFC 9438 §4.6: ssthresh = 0.7 * flight; W_max = 100 segments.
  EXPECT_EQ(cc.ssthresh(), 70000u);
  EXPECT_EQ(cc.cwnd(), 70000u);
  EXPECT_DOUBLE_EQ(cc.cubic_w_max(), 100);
  // The first ACK in avoidance starts the epoch: K = cbrt(100 * 0.3 / 0.4) = cbrt(75).
  cc.on_ack(kMss, 70000, 1'000 * kMs, 100 * kMs, true);
  EXPECT_NEAR(cc.cubic_k(), 4.217163326508746, 1e-12);
  // W_cubic(K) = W_max, W_cubic(0) = cwnd_epoch.
  EXPECT_DOUBLE_EQ(cc.cubic_window(cc.cubic_k()), 100);
  EXPECT_NEAR(cc.cubic_window(0), 70, 1e-9);
}

TEST(Cubic, ConcaveThenConvexGrowth) {
  // W_max = 1000 segments, 200 ms RTT: the curve dominates the Reno estimate (which
  // gains only about half a segment per RTT). K = cbrt(1000 * 0.3 / 0.4) = 9.09 s.
  CongestionControl cc = cubic_after_loss_at(1000);
  const uint64_t epoch = 1'000 * kMs;
  const uint64_t rtt = 200 * kMs;
  uint64_t now = epoch;
  cc.on_ack(kMss, cc.cwnd(), now, rtt, true);  // starts the epoch
  const double k = cc.cubic_k();
  EXPECT_NEAR(k, std::cbrt(750.0), 1e-12);
  auto elapsed = [&] { return double(now - epoch) / 1e9; };

  // Concave: the per-RTT increase shrinks while approaching W_max, never passing it.
  double previous = segments(cc);
  double previous_increase = 1e9;
  while (elapsed() < k - 0.2) {
    now = ack_one_rtt(cc, now, rtt);
    double increase = segments(cc) - previous;
    EXPECT_GE(increase, 0);
    EXPECT_LE(increase, previous_increase + 0.5) << "t=" << elapsed();
    EXPECT_LT(segments(cc), 1000);
    previous_increase = increase;
    previous = segments(cc);
  }
  // At t = K the window is at the plateau W_max (it aims one RTT ahead).
  EXPECT_NEAR(segments(cc), 1000, 2);

  // Convex: the per-RTT increase grows past W_max.
  previous_increase = 0;
  for (int i = 0; i < 30; ++i) {
    now = ack_one_rtt(cc, now, rtt);
    double increase = segments(cc) - previous;
    EXPECT_GE(increase, previous_increase - 0.5) << "t=" << elapsed();
    previous_increase = increase;
    previous = segments(cc);
  }
  // Six seconds past K: W_cubic = 1000 + 0.4 * 6^3 = 1086.4, rising 3*0.4*6^2*0.2 = 8.6
  // segments per RTT; the window follows it within a few percent.
  EXPECT_GT(previous_increase, 6);
  EXPECT_NEAR(segments(cc), cc.cubic_window(elapsed()), 0.02 * segments(cc));
  EXPECT_GT(segments(cc), 1060);
}

TEST(Cubic, GrowthPerRttCappedAtHalfWindow) {
  // RFC 9438 §4.4: the target is at most 1.5 * cwnd, so one RTT grows cwnd by at most
  // half. Far past K the curve is steep; the cap binds.
  CongestionControl cc = cubic_after_loss_at(20);
  uint64_t now = 0;
  cc.on_ack(kMss, cc.cwnd(), now, 100 * kMs, true);  // epoch starts at 0
  now = 60'000 * kMs;                                // 60 s later: W_cubic is huge
  double before = segments(cc);
  ack_one_rtt(cc, now, 100 * kMs);
  EXPECT_LE(segments(cc), before * 1.5 + 0.01);
  EXPECT_GT(segments(cc), before * 1.3);
}

TEST(Cubic, FastConvergenceLowersWmax) {
  CongestionControl cc = cubic_after_loss_at(100);
  // A second loss at 70 segments, below W_max = 100: W_max = 70 * (1 + 0.7) / 2.
  cc.on_enter_recovery(70000, 0);
  EXPECT_DOUBLE_EQ(cc.cubic_w_max(), 59.5);
  EXPECT_EQ(cc.ssthresh(), 49000u);
  // K then reaches back to the lowered plateau: cbrt((59.5 - 49) / 0.4).
  cc.on_exit_recovery(0);
  cc.on_ack(kMss, 49000, 0, 0, true);
  EXPECT_NEAR(cc.cubic_k(), std::cbrt(10.5 / 0.4), 1e-12);
}

TEST(Cubic, RenoFriendlyRegionWithSmallRtt) {
  // 1 ms RTT: in 100 RTTs the curve moves only 0.1 s (from 70 to about 72.5 segments),
  // but Reno's estimate grows by alpha = 3*0.3/1.7 per RTT until it reaches the old
  // window (100), then by 1: cwnd follows W_est (RFC 9438 §4.3).
  CongestionControl cc = cubic_after_loss_at(100);
  uint64_t now = 0;
  for (int i = 0; i < 100; ++i) now = ack_one_rtt(cc, now, kMs);
  EXPECT_LT(cc.cubic_window(0.1), 73);
  // About 30 / 0.529 = 57 RTTs to 100 segments, then +1 per RTT for the remaining 43
  // (slightly less per RTT, as cwnd grows within the RTT).
  EXPECT_GT(segments(cc), 135);
  EXPECT_LT(segments(cc), 145);
}

TEST(Cubic, TimeoutRestartsFromLossWindow) {
  CongestionControl cc = cubic_after_loss_at(100);
  cc.on_ack(kMss, 70000, 0, 100 * kMs, true);
  cc.on_timeout(70000, 0);
  EXPECT_EQ(cc.cwnd(), kMss);
  EXPECT_EQ(cc.ssthresh(), 49000u);
  while (cc.in_slow_start()) cc.on_ack(kMss, cc.cwnd(), 0, 0, true);
  // RFC 9438 §4.8: the first avoidance stage after the timeout has K = 0 and W_max =
  // cwnd at its start: the curve is convex from there.
  cc.on_ack(kMss, cc.cwnd(), 0, 100 * kMs, true);
  EXPECT_EQ(cc.cubic_k(), 0);
  EXPECT_DOUBLE_EQ(cc.cubic_w_max(), 49);
}

TEST(Cubic, NoGrowthWhenApplicationLimited) {
  CongestionControl cc = cubic_after_loss_at(100);
  for (int i = 0; i < 100; ++i) cc.on_ack(kMss, 10000, i * 100 * kMs, 100 * kMs, false);
  EXPECT_EQ(cc.cwnd(), 70000u);
}

}  // namespace
}  // namespace morgana::net
