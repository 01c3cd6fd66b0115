// RFC 6298 retransmission-timeout estimation: SRTT/RTTVAR from samples, RTO with a floor
// and a ceiling, exponential back-off. Karn's rule is the caller's: it passes only samples
// from segments that were not retransmitted (or from timestamps, RFC 7323 §4).
#pragma once

#include <cstdint>

namespace morgana::net {

struct RttConfig {
  uint64_t initial_rto_ns = 1'000'000'000;  // RFC 6298 §2.1
  uint64_t min_rto_ns = 200'000'000;        // Linux's floor (RFC 6298 §2.4 says 1 s; see docs)
  uint64_t max_rto_ns = 120'000'000'000;    // RFC 6298 §2.5: at least 60 s
  uint64_t granularity_ns = 1'000'000;      // G
};

class RttEstimator {
 public:
  explicit RttEstimator(const RttConfig& config = {});
  // RFC 6298 §2.2-2.3 (alpha 1/8, beta 1/4); resets the back-off.
  void sample(uint64_t rtt_ns);
  // RFC 6298 §5.5: doubles the RTO up to the ceiling.
  void back_off();
  uint64_t rto_ns() const;  // with back-off applied
  uint64_t srtt_ns() const { return srtt_ns_; }
  uint64_t rttvar_ns() const { return rttvar_ns_; }
  uint64_t min_rtt_ns() const { return min_rtt_ns_; }
  bool has_sample() const { return has_sample_; }
  unsigned backoffs() const { return backoffs_; }

 private:
  RttConfig config_;
  uint64_t srtt_ns_ = 0;
  uint64_t rttvar_ns_ = 0;
  uint64_t base_rto_ns_;
  uint64_t min_rtt_ns_ = 0;
  unsigned backoffs_ = 0;
  bool has_sample_ = false;
};

}  // namespace morgana::net
