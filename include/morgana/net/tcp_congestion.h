// TCP congestion control (RFC 5681 slow start and congestion avoidance, RFC 6582 NewReno,
// RFC 9438 CUBIC), as one value type the connection owns: it reports events and reads
// cwnd/ssthresh; loss recovery itself (which segment to resend) lives in the connection
// and the SACK scoreboard. Pure logic, time passed in as nanoseconds.
#pragma once

#include <cstdint>

namespace morgana::net {

enum class CongestionAlgorithm : uint8_t { kNewReno, kCubic };

const char* congestion_algorithm_name(CongestionAlgorithm algorithm);

// The real cube root, by Newton's method (the image's libc has no cbrt); exposed for tests.
double cube_root(double x);

class CongestionControl {
 public:
  // RFC 5681 §3.1 / RFC 6928: the initial window is min(10*MSS, max(2*MSS, 14600)).
  CongestionControl(CongestionAlgorithm algorithm, uint32_t mss);

  CongestionAlgorithm algorithm() const { return algorithm_; }
  uint32_t cwnd() const { return cwnd_; }
  uint32_t ssthresh() const { return ssthresh_; }
  bool in_slow_start() const { return cwnd_ < ssthresh_; }

  // The MSS can shrink after the handshake (peer's MSS option, PMTU); keeps cwnd in
  // whole segments.
  void set_mss(uint32_t mss);

  // New data was cumulatively acknowledged outside loss recovery: `acked` bytes,
  // `flight` bytes were outstanding before this ACK, `rtt_ns` is the latest RTT sample
  // (0 when none: Karn). Slow start (with RFC 3465 ABC, L = 2*MSS) or congestion
  // avoidance; CUBIC's window growth per RFC 9438 §4 incl. its Reno-friendly region.
  // `cwnd_limited` is false when the sender was application-limited: the window then
  // does not grow (RFC 7661's idea, as Linux).
  void on_ack(uint32_t acked, uint32_t flight, uint64_t now_ns, uint64_t rtt_ns, bool cwnd_limited);
  // Loss detected by duplicate ACKs or SACK (entering fast recovery): ssthresh from the
  // flight size (NewReno: max(flight/2, 2*MSS); CUBIC: beta = 0.7 with fast convergence)
  // and cwnd = ssthresh.
  void on_enter_recovery(uint32_t flight, uint64_t now_ns);
  // Recovery ended (the ACK covered the recovery point): cwnd = ssthresh (RFC 6582 §3.2
  // step 3, "deflate").
  void on_exit_recovery(uint64_t now_ns);
  // Retransmission timeout (RFC 5681 §3.1 eq. 4): ssthresh from the flight size, cwnd =
  // one segment (loss window); CUBIC resets its epoch.
  void on_timeout(uint32_t flight, uint64_t now_ns);
  // Idle longer than one RTO with nothing in flight (RFC 5681 §4.1): cwnd restarts at
  // min(initial window, cwnd).
  void on_idle_restart(uint64_t now_ns);

  // RFC 6928's initial window for this MSS, in bytes.
  static uint32_t initial_window(uint32_t mss);
  // CUBIC's state (RFC 9438 §4.1-4.2), for tests and diagnostics: W_max in segments, K in
  // seconds, and W_cubic(t) = C*(t-K)^3 + W_max for t seconds into the current epoch.
  double cubic_w_max() const { return w_max_; }
  double cubic_k() const { return k_; }
  double cubic_window(double t_seconds) const;

 private:
  void cubic_update(uint32_t acked, uint64_t now_ns);
  void reno_avoidance(uint32_t acked);
  void set_cwnd(uint32_t bytes);
  uint32_t reduced_ssthresh(uint32_t flight) const;

  CongestionAlgorithm algorithm_;
  uint32_t mss_;
  uint32_t cwnd_;
  uint32_t ssthresh_ = UINT32_MAX;
  uint32_t bytes_acked_ = 0;  // RFC 3465 appropriate byte counting in avoidance
  // A timeout with no ACK since the previous one keeps ssthresh (RFC 5681 §3.1, eq. 4).
  bool timed_out_ = false;
  // CUBIC (RFC 9438 §4), windows in segments, times in seconds.
  double w_max_ = 0;          // W_max: the window before the last reduction (§4.7 lowers it)
  double origin_ = 0;         // the plateau of the current epoch's curve: max(W_max, cwnd_epoch)
  double k_ = 0;              // K (§4.2 eq. 2)
  double w_est_ = 0;          // W_est, the Reno-friendly estimate (§4.3)
  double cwnd_prior_ = 0;     // cwnd before the last reduction (§4.3: alpha becomes 1 there)
  double cwnd_segments_ = 0;  // cwnd with its fraction; cwnd_ is its whole bytes
  uint64_t epoch_start_ns_ = 0;
  uint64_t srtt_ns_ = 0;              // smoothed RTT for W_cubic(t + RTT) (§4.4)
  bool in_epoch_ = false;             // false: the next ACK in avoidance starts an epoch (§4.2)
  bool epoch_after_timeout_ = false;  // §4.8: that epoch uses K = 0, W_max = cwnd_epoch
};

}  // namespace morgana::net
