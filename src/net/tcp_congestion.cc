// TCP congestion control: RFC 5681 slow start and congestion avoidance with RFC 3465
// byte counting, NewReno's window on loss (RFC 6582), and CUBIC's window growth (RFC 9438).
#include "morgana/net/tcp_congestion.h"

#include <bit>

namespace morgana::net {

namespace {

// RFC 9438 §5.1 and §4.6: the cubic scaling constant and the multiplicative decrease.
constexpr double kCubicC = 0.4;
constexpr double kCubicBeta = 0.7;
// RFC 9438 §4.3: the Reno-friendly additive increase that matches Reno's average
// throughput given beta_cubic: 3 * (1 - beta) / (1 + beta).
constexpr double kCubicAlpha = 3.0 * (1.0 - kCubicBeta) / (1.0 + kCubicBeta);
// RFC 3465 §2.2: slow start grows by at most L = 2*SMSS per ACK.
constexpr uint32_t kAbcLimit = 2;
// A bound on the window (1 GiB, the most a scaled window can announce) so that byte
// arithmetic never overflows.
constexpr uint32_t kMaxCwnd = 1u << 30;
constexpr double kNsPerSecond = 1e9;

uint32_t min_u32(uint32_t a, uint32_t b) {
  return a < b ? a : b;
}
uint32_t max_u32(uint32_t a, uint32_t b) {
  return a > b ? a : b;
}

}  // namespace

double cube_root(double x) {
  if (x == 0 || x != x) return x;  // zero and NaN are their own cube root
  if (x < 0) return -cube_root(-x);
  // A first guess with a third of the exponent: dividing the bit pattern by three and
  // adding back two thirds of the bias is within a factor of 1.26 of the answer.
  uint64_t bits = std::bit_cast<uint64_t>(x);
  double y = std::bit_cast<double>(bits / 3 + (uint64_t{682} << 52));
  // Newton's iteration y' = (2y + x/y^2) / 3 converges quadratically from there; stop
  // once it no longer moves (a few steps), with a bound for denormal inputs.
  for (int i = 0; i < 100; ++i) {
    double next = (2 * y + x / (y * y)) / 3;
    if (next == y) break;
    y = next;
  }
  return y;
}

const char* congestion_algorithm_name(CongestionAlgorithm algorithm) {
  switch (algorithm) {
    case CongestionAlgorithm::kNewReno:
      return "newreno";
    case CongestionAlgorithm::kCubic:
      return "cubic";
  }
  return "unknown";
}

uint32_t CongestionControl::initial_window(uint32_t mss) {
  // RFC 6928 §2: min(10*MSS, max(2*MSS, 14600)).
  uint64_t ten = uint64_t{10} * mss;
  uint64_t floor = uint64_t{2} * mss > 14600 ? uint64_t{2} * mss : 14600;
  uint64_t window = ten < floor ? ten : floor;
  return window > kMaxCwnd ? kMaxCwnd : static_cast<uint32_t>(window);
}

CongestionControl::CongestionControl(CongestionAlgorithm algorithm, uint32_t mss)
    : algorithm_(algorithm), mss_(mss == 0 ? 1 : mss), cwnd_(0) {
  set_cwnd(initial_window(mss_));
}

void CongestionControl::set_cwnd(uint32_t bytes) {
  cwnd_ = min_u32(max_u32(bytes, mss_), kMaxCwnd);
  cwnd_segments_ = static_cast<double>(cwnd_) / mss_;
}

void CongestionControl::set_mss(uint32_t mss) {
  if (mss == 0 || mss == mss_) return;
  uint32_t old_mss = mss_;
  mss_ = mss;
  // Before any ACK or loss the window is still the initial one, which RFC 6928 defines
  // from the MSS; afterwards cwnd and ssthresh keep their size in segments (as Linux,
  // which counts them in segments).
  if (cwnd_ == initial_window(old_mss) && ssthresh_ == UINT32_MAX) {
    set_cwnd(initial_window(mss));
    return;
  }
  uint32_t segments = min_u32(cwnd_ / old_mss, kMaxCwnd / mss);
  set_cwnd(segments * mss);
  if (ssthresh_ != UINT32_MAX) {
    uint32_t ssthresh_segments = min_u32(ssthresh_ / old_mss, kMaxCwnd / mss);
    ssthresh_ = max_u32(ssthresh_segments * mss, 2 * mss);
  }
  bytes_acked_ = 0;
}

void CongestionControl::on_ack(uint32_t acked, uint32_t flight, uint64_t now_ns, uint64_t rtt_ns,
                               bool cwnd_limited) {
  // The flight size before the ACK is not needed for growth: `cwnd_limited` already says
  // whether the window was the limit.
  (void)flight;
  if (rtt_ns > 0) {
    // Smoothed like RFC 6298's SRTT (alpha 1/8); CUBIC's target looks one RTT ahead.
    srtt_ns_ = srtt_ns_ == 0 ? rtt_ns : srtt_ns_ - srtt_ns_ / 8 + rtt_ns / 8;
  }
  if (acked == 0) return;
  timed_out_ = false;
  // RFC 7661 §4.1's idea: an application-limited sender has not tested the window, so
  // it does not grow (Linux's tcp_is_cwnd_limited).
  if (!cwnd_limited) return;

  if (in_slow_start()) {
    // RFC 5681 §3.1 with RFC 3465 §2.2: cwnd grows by the bytes acknowledged, at most
    // L = 2*SMSS per ACK, so delayed ACKs still double the window each RTT.
    uint32_t increase = min_u32(acked, kAbcLimit * mss_);
    uint32_t room = ssthresh_ - cwnd_;
    if (increase < room) {
      set_cwnd(cwnd_ + increase);
      return;
    }
    // Reaching ssthresh: the rest of the allowed increase counts towards avoidance (as
    // Linux's tcp_slow_start returns it).
    set_cwnd(ssthresh_);
    acked = increase - room;
    if (acked == 0) return;
  }
  if (algorithm_ == CongestionAlgorithm::kCubic) {
    cubic_update(acked, now_ns);
  } else {
    reno_avoidance(acked);
  }
}

void CongestionControl::reno_avoidance(uint32_t acked) {
  // RFC 5681 §3.1 with RFC 3465 §2.1: one SMSS per cwnd of acknowledged bytes. A large
  // ACK may cross several windows' worth (as Linux's tcp_cong_avoid_ai).
  uint64_t counted = uint64_t{bytes_acked_} + acked;
  if (counted >= cwnd_) {
    uint64_t steps = counted / cwnd_;
    counted -= steps * cwnd_;
    uint64_t grown = cwnd_ + steps * mss_;
    set_cwnd(grown > kMaxCwnd ? kMaxCwnd : static_cast<uint32_t>(grown));
  }
  bytes_acked_ = static_cast<uint32_t>(counted < cwnd_ ? counted : 0);
}

double CongestionControl::cubic_window(double t_seconds) const {
  // RFC 9438 §4.2 eq. 1.
  double d = t_seconds - k_;
  return kCubicC * d * d * d + origin_;
}

void CongestionControl::cubic_update(uint32_t acked, uint64_t now_ns) {
  double cwnd = cwnd_segments_;
  if (!in_epoch_) {
    // RFC 9438 §4.2: t counts from the start of this congestion-avoidance stage, and K is
    // the time the curve takes from cwnd_epoch back to W_max (eq. 2).
    in_epoch_ = true;
    epoch_start_ns_ = now_ns;
    if (epoch_after_timeout_) {
      // §4.8: after a timeout, K = 0 and W_max = cwnd at the start of the stage.
      epoch_after_timeout_ = false;
      w_max_ = cwnd;
    }
    if (w_max_ > cwnd) {
      k_ = cube_root((w_max_ - cwnd) / kCubicC);
      origin_ = w_max_;
    } else {
      // Already above the last W_max (e.g. the first avoidance after slow start): the
      // curve starts at its plateau and is convex from here (as Linux's origin_point).
      k_ = 0;
      origin_ = cwnd;
    }
    // §4.3: W_est starts at cwnd_epoch.
    w_est_ = cwnd;
  }
  double t =
      now_ns > epoch_start_ns_ ? static_cast<double>(now_ns - epoch_start_ns_) / kNsPerSecond : 0.0;
  double segments_acked = static_cast<double>(acked) / mss_;

  // §4.3: W_est grows like Reno with alpha_cubic, then alpha = 1 once it has reached the
  // window before the last reduction.
  double alpha = w_est_ >= cwnd_prior_ ? 1.0 : kCubicAlpha;
  w_est_ += alpha * segments_acked / cwnd;

  double next = cwnd;
  if (cubic_window(t) < w_est_) {
    // §4.3: the Reno-friendly region (short RTTs, small windows): cwnd follows W_est. It
    // never shrinks on an ACK.
    if (w_est_ > next) next = w_est_;
  } else {
    // §4.4-4.5: aim at the curve one RTT ahead, bounded to [cwnd, 1.5*cwnd], and move
    // there by (target - cwnd) / cwnd per segment acknowledged.
    double rtt = static_cast<double>(srtt_ns_) / kNsPerSecond;
    double target = cubic_window(t + rtt);
    if (target < cwnd) target = cwnd;
    if (target > 1.5 * cwnd) target = 1.5 * cwnd;
    next = cwnd + (target - cwnd) / cwnd * segments_acked;
  }
  double bytes = next * mss_;
  uint32_t whole = bytes >= kMaxCwnd ? kMaxCwnd : static_cast<uint32_t>(bytes);
  cwnd_ = min_u32(max_u32(whole, mss_), kMaxCwnd);
  cwnd_segments_ = bytes >= kMaxCwnd ? static_cast<double>(kMaxCwnd) / mss_ : next;
}

uint32_t CongestionControl::reduced_ssthresh(uint32_t flight) const {
  uint32_t reduced;
  if (algorithm_ == CongestionAlgorithm::kCubic) {
    // RFC 9438 §4.6: ssthresh = flight_size * beta_cubic (flight, not cwnd: a sender
    // that was not using its window must not keep it).
    reduced = static_cast<uint32_t>(static_cast<double>(flight) * kCubicBeta);
  } else {
    // RFC 5681 §3.1 eq. 4 (and RFC 6582 §3.2 step 2).
    reduced = flight / 2;
  }
  // Both: at least two segments.
  return max_u32(reduced, 2 * mss_);
}

void CongestionControl::on_enter_recovery(uint32_t flight, uint64_t now_ns) {
  (void)now_ns;
  if (algorithm_ == CongestionAlgorithm::kCubic) {
    double cwnd = cwnd_segments_;
    cwnd_prior_ = cwnd;
    // RFC 9438 §4.7 fast convergence: a loss below the previous W_max means the share
    // is shrinking (a new flow arrived), so release bandwidth by lowering W_max further.
    w_max_ = cwnd < w_max_ ? cwnd * (1.0 + kCubicBeta) / 2.0 : cwnd;
    in_epoch_ = false;
    epoch_after_timeout_ = false;
  }
  ssthresh_ = reduced_ssthresh(flight);
  // RFC 6675 §5 step 4.2 / RFC 9438 §4.6: cwnd = ssthresh; the connection's pipe
  // estimate decides what may be sent during recovery.
  set_cwnd(ssthresh_);
  bytes_acked_ = 0;
}

void CongestionControl::on_exit_recovery(uint64_t now_ns) {
  (void)now_ns;
  // RFC 6582 §3.2 step 3, option 2: deflate to ssthresh. CUBIC starts a new epoch on the
  // next ACK (in_epoch_ was cleared on entry).
  set_cwnd(ssthresh_);
  bytes_acked_ = 0;
}

void CongestionControl::on_timeout(uint32_t flight, uint64_t now_ns) {
  (void)now_ns;
  // RFC 5681 §3.1: when the retransmitted segment times out again, ssthresh is held
  // (the flight is then one segment and would collapse it).
  if (!timed_out_) {
    if (algorithm_ == CongestionAlgorithm::kCubic) {
      cwnd_prior_ = cwnd_segments_;
      // RFC 9438 §4.8: the next avoidance stage restarts the curve from where it is.
      epoch_after_timeout_ = true;
    }
    ssthresh_ = reduced_ssthresh(flight);
  }
  timed_out_ = true;
  in_epoch_ = false;
  // RFC 5681 §3.1: the loss window is one segment.
  set_cwnd(mss_);
  bytes_acked_ = 0;
}

void CongestionControl::on_idle_restart(uint64_t now_ns) {
  (void)now_ns;
  // RFC 5681 §4.1: restart window = min(IW, cwnd). CUBIC starts a new epoch so the idle
  // time does not count as time on the curve.
  uint32_t restart = initial_window(mss_);
  if (cwnd_ > restart) set_cwnd(restart);
  in_epoch_ = false;
  bytes_acked_ = 0;
}

}  // namespace morgana::net
