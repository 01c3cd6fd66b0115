// RFC 6298 retransmission-timeout estimation: the smoothed RTT and its variation from
// samples, and the RTO derived from them with a floor, a ceiling and exponential back-off.
#include "morgana/net/tcp_rtt.h"

namespace morgana::net {

namespace {

uint64_t clamp_rto(uint64_t rto, const RttConfig& config) {
  if (rto < config.min_rto_ns) return config.min_rto_ns;
  if (rto > config.max_rto_ns) return config.max_rto_ns;
  return rto;
}

uint64_t abs_difference(uint64_t a, uint64_t b) {
  return a > b ? a - b : b - a;
}

}  // namespace

RttEstimator::RttEstimator(const RttConfig& config)
    : config_(config), base_rto_ns_(clamp_rto(config.initial_rto_ns, config)) {}

void RttEstimator::sample(uint64_t rtt_ns) {
  if (!has_sample_) {
    // RFC 6298 §2.2: the first measurement R sets SRTT = R and RTTVAR = R/2.
    srtt_ns_ = rtt_ns;
    rttvar_ns_ = rtt_ns / 2;
    min_rtt_ns_ = rtt_ns;
    has_sample_ = true;
  } else {
    // RFC 6298 §2.3: RTTVAR is updated with the old SRTT, then SRTT
    // (beta = 1/4, alpha = 1/8).
    rttvar_ns_ = rttvar_ns_ - rttvar_ns_ / 4 + abs_difference(srtt_ns_, rtt_ns) / 4;
    srtt_ns_ = srtt_ns_ - srtt_ns_ / 8 + rtt_ns / 8;
    if (rtt_ns < min_rtt_ns_) min_rtt_ns_ = rtt_ns;
  }
  // RFC 6298 §2.2-2.3: RTO = SRTT + max(G, K*RTTVAR) with K = 4, then §2.4-2.5's floor
  // and ceiling. A new sample means the path answers again, so the back-off is dropped
  // (RFC 6298 §5.7 leaves this to the implementation; Linux does the same).
  uint64_t variation = 4 * rttvar_ns_;
  if (variation < config_.granularity_ns) variation = config_.granularity_ns;
  base_rto_ns_ = clamp_rto(srtt_ns_ + variation, config_);
  backoffs_ = 0;
}

void RttEstimator::back_off() {
  // Counted without bound so the connection can give up after N retransmissions; the RTO
  // itself saturates at the ceiling in rto_ns().
  if (backoffs_ < UINT32_MAX) ++backoffs_;
}

uint64_t RttEstimator::rto_ns() const {
  // RFC 6298 §5.5: each expiry doubles the RTO; §2.5 allows a maximum. Doubling is done
  // step by step so that it saturates instead of overflowing.
  uint64_t rto = base_rto_ns_;
  for (unsigned i = 0; i < backoffs_ && rto < config_.max_rto_ns && rto <= UINT64_MAX / 2; ++i) {
    rto *= 2;
  }
  return rto > config_.max_rto_ns ? config_.max_rto_ns : rto;
}

}  // namespace morgana::net
