// RFC 6298 RTO estimation: hand-computed SRTT/RTTVAR/RTO sequences, the floor and the
// ceiling, exponential back-off and its reset by a new sample.
#include <gtest/gtest.h>

#include "morgana/net/tcp_rtt.h"

namespace morgana::net {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;

TEST(RttEstimator, InitialRtoBeforeAnySample) {
  RttEstimator rtt;
  EXPECT_FALSE(rtt.has_sample());
  EXPECT_EQ(rtt.rto_ns(), 1 * kSec);  // RFC 6298 §2.1
}

TEST(RttEstimator, FirstSampleSetsSrttAndHalfVariance) {
  // RFC 6298 §2.2: R = 300 ms gives SRTT = 300, RTTVAR = 150, RTO = 300 + 4*150 = 900 ms.
  RttEstimator rtt;
  rtt.sample(300 * kMs);
  EXPECT_TRUE(rtt.has_sample());
  EXPECT_EQ(rtt.srtt_ns(), 300 * kMs);
  EXPECT_EQ(rtt.rttvar_ns(), 150 * kMs);
  EXPECT_EQ(rtt.rto_ns(), 900 * kMs);
  EXPECT_EQ(rtt.min_rtt_ns(), 300 * kMs);
}

TEST(RttEstimator, SubsequentSamplesSmooth) {
  // RFC 6298 §2.3 by hand, with RTTVAR updated from the old SRTT:
  //   R=100: SRTT=100, RTTVAR=50, RTO=300
  //   R=200: RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5;
  //          RTO = 112.5 + 250 = 362.5
  //   R=80:  RTTVAR = 3/4*62.5 + 1/4*32.5 = 55; SRTT = 7/8*112.5 + 10 = 108.4375;
  //          RTO = 108.4375 + 220 = 328.4375
  RttEstimator rtt(RttConfig{.min_rto_ns = 1 * kMs});
  rtt.sample(100 * kMs);
  EXPECT_EQ(rtt.rto_ns(), 300 * kMs);
  rtt.sample(200 * kMs);
  EXPECT_EQ(rtt.rttvar_ns(), 62'500'000u);
  EXPECT_EQ(rtt.srtt_ns(), 112'500'000u);
  EXPECT_EQ(rtt.rto_ns(), 362'500'000u);
  rtt.sample(80 * kMs);
  EXPECT_EQ(rtt.rttvar_ns(), 55'000'000u);
  EXPECT_EQ(rtt.srtt_ns(), 108'437'500u);
  EXPECT_EQ(rtt.rto_ns(), 328'437'500u);
  EXPECT_EQ(rtt.min_rtt_ns(), 80 * kMs);
}

TEST(RttEstimator, ConstantSamplesConvergeToFloor) {
  // With a steady 10 ms RTT the variance decays and the RTO falls to the 200 ms floor.
  RttEstimator rtt;
  rtt.sample(10 * kMs);
  EXPECT_EQ(rtt.rto_ns(), 200 * kMs);  // 10 + 4*5 = 30 ms, raised to the floor
  for (int i = 0; i < 100; ++i) rtt.sample(10 * kMs);
  EXPECT_EQ(rtt.srtt_ns(), 10 * kMs);
  EXPECT_EQ(rtt.rto_ns(), 200 * kMs);
}

TEST(RttEstimator, GranularityBoundsTheVarianceTerm) {
  // With no variance left, RTO = SRTT + G (RFC 6298 §2.3's max(G, K*RTTVAR)).
  RttEstimator rtt(RttConfig{.min_rto_ns = 0, .granularity_ns = 5 * kMs});
  for (int i = 0; i < 200; ++i) rtt.sample(40 * kMs);
  EXPECT_LT(rtt.rttvar_ns(), 4u);  // integer decay stops a few ns above zero
  EXPECT_EQ(rtt.rto_ns(), 45 * kMs);
}

TEST(RttEstimator, LargeSampleHitsCeiling) {
  RttEstimator rtt(RttConfig{.max_rto_ns = 60 * kSec});
  rtt.sample(30 * kSec);  // 30 + 4*15 = 90 s
  EXPECT_EQ(rtt.rto_ns(), 60 * kSec);
}

TEST(RttEstimator, BackOffDoublesUpToCeiling) {
  // RFC 6298 §5.5: 1, 2, 4, ... 64 s, then the 120 s ceiling.
  RttEstimator rtt;
  uint64_t expected = 1 * kSec;
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(rtt.rto_ns(), expected) << i;
    rtt.back_off();
    expected *= 2;
  }
  EXPECT_EQ(rtt.backoffs(), 7u);
  EXPECT_EQ(rtt.rto_ns(), 120 * kSec);
  for (int i = 0; i < 100; ++i) rtt.back_off();  // saturates, never overflows
  EXPECT_EQ(rtt.rto_ns(), 120 * kSec);
  EXPECT_EQ(rtt.backoffs(), 107u);
}

TEST(RttEstimator, SampleResetsBackOff) {
  RttEstimator rtt;
  rtt.sample(100 * kMs);
  rtt.back_off();
  rtt.back_off();
  EXPECT_EQ(rtt.rto_ns(), 1200 * kMs);  // 300 ms * 4
  rtt.sample(100 * kMs);                // RTTVAR = 37.5, SRTT = 100: RTO = 250 ms
  EXPECT_EQ(rtt.backoffs(), 0u);
  EXPECT_EQ(rtt.rto_ns(), 250 * kMs);
}

TEST(RttEstimator, MinRttTracksSmallestSample) {
  RttEstimator rtt;
  rtt.sample(50 * kMs);
  rtt.sample(20 * kMs);
  rtt.sample(70 * kMs);
  EXPECT_EQ(rtt.min_rtt_ns(), 20 * kMs);
}

}  // namespace
}  // namespace morgana::net
