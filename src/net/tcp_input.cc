// TcpConnection's receiving side (RFC 9293 §3.10.7): the SYN-SENT handshake, the
// acceptability test with PAWS, RST and SYN checks with RFC 5961 challenge ACKs, ACK
// processing (RTT, congestion, fast retransmit and SACK recovery), and the segment text
// and FIN into the receive buffer.
#include <algorithm>

#include "morgana/net/tcp_connection.h"

namespace morgana::net {

namespace {

uint32_t segment_length(const TcpSegment& segment) {
  return static_cast<uint32_t>(segment.payload.size()) + (segment.has(kTcpSyn) ? 1 : 0) +
         (segment.has(kTcpFin) ? 1 : 0);
}

}  // namespace

void TcpConnection::on_segment(const TcpSegment& segment, uint64_t now) {
  if (state_ == TcpState::kClosed || state_ == TcpState::kListen) return;
  stats_.segments_in++;
  if (state_ == TcpState::kSynSent) {
    on_segment_syn_sent(segment, now);
    return;
  }

  if (state_ == TcpState::kSynReceived && segment.has(kTcpSyn) && !segment.has(kTcpRst) &&
      segment.sequence == irs_) {
    if (!segment.has(kTcpAck)) {
      // The peer retransmitted its SYN: our SYN-ACK was lost.
      transmit(iss_, kTcpSyn | kTcpAck, 0, 0, now);
      return;
    }
    if (segment.acknowledgment == snd_max_) {
      // RFC 9293 §3.5 figure 8 (simultaneous open): the peer's SYN-ACK acknowledges our
      // SYN and completes the handshake; its SYN was acknowledged already.
      update_send_window(segment, /*syn=*/true);
      on_new_ack(segment, segment.acknowledgment, now);
      output(now);
      return;
    }
  }

  // RFC 7323 §5.3 R1 (PAWS): an older timestamp marks an old duplicate.
  if (ts_on_ && segment.options.timestamps && !segment.has(kTcpRst) &&
      seq_lt(segment.options.timestamps->value, ts_recent_)) {
    stats_.paws_rejected++;
    send_ack(now);
    return;
  }

  // RFC 7323 §4.3: TS.Recent follows a segment with SEG.SEQ <= Last.ACK.sent. That holds
  // for a duplicate too (as Linux, whose window test accepts a segment ending at the
  // last ACK): a retransmission sent because our ACK was lost must be answered with its
  // own TSval, or the sender measures its whole RTO as the round trip.
  if (ts_on_ && segment.options.timestamps && !segment.has(kTcpRst) &&
      seq_leq(segment.sequence, last_ack_sent_) &&
      seq_geq(segment.options.timestamps->value, ts_recent_))
    ts_recent_ = segment.options.timestamps->value;

  if (!acceptable(segment)) {
    stats_.bad_segments++;
    if (segment.has(kTcpRst)) return;
    // RFC 9293 §3.10.7.4: a zero window still takes valid ACKs (a window update may
    // ride on the peer's own zero-window probe).
    bool zero_window = !seq_gt(rcv_adv_, rcv_nxt_);
    if (zero_window && segment.sequence == rcv_nxt_ && segment.has(kTcpAck) &&
        !segment.has(kTcpSyn))
      (void)on_ack(segment, now);
    if (state_ == TcpState::kClosed) return;
    // RFC 9293 §3.10.7.4: a retransmitted FIN in TIME-WAIT restarts the 2 MSL timeout.
    if (state_ == TcpState::kTimeWait && segment.has(kTcpFin))
      state_deadline_ = now + config_.time_wait_ns;
    send_ack(now);
    output(now);
    return;
  }

  if (segment.has(kTcpRst)) {
    on_rst(segment, now);
    return;
  }
  if (segment.has(kTcpSyn)) {
    // RFC 5961 §4: a SYN in a synchronised state only earns a (rate-limited) challenge
    // ACK; a peer that really restarted answers it with a RST that matches exactly.
    challenge_ack(now);
    return;
  }
  if (!segment.has(kTcpAck)) return;
  restart_keepalive(now);
  if (!on_ack(segment, now) || state_ == TcpState::kClosed) return;
  on_text(segment, now);
  if (state_ == TcpState::kClosed) return;
  output(now);
}

void TcpConnection::on_segment_syn_sent(const TcpSegment& segment, uint64_t now) {
  // RFC 9293 §3.10.7.3.
  if (segment.has(kTcpAck) &&
      (seq_leq(segment.acknowledgment, iss_) || seq_gt(segment.acknowledgment, snd_max_))) {
    if (!segment.has(kTcpRst)) transmit(segment.acknowledgment, kTcpRst, 0, 0, now);
    return;
  }
  if (segment.has(kTcpRst)) {
    // RFC 5961 §3.2 for SYN-SENT: only a RST acknowledging our SYN is believed.
    if (segment.has(kTcpAck)) fail(Errc::kConnectionRefused, "tcp: connection refused", false, now);
    return;
  }
  if (!segment.has(kTcpSyn)) return;
  irs_ = segment.sequence;
  rcv_nxt_ = irs_ + 1;
  rcv_adv_ = rcv_nxt_;
  last_ack_sent_ = rcv_nxt_;
  negotiate(segment.options);
  update_send_window(segment, /*syn=*/true);
  if (segment.has(kTcpAck)) {
    on_new_ack(segment, segment.acknowledgment, now);  // -> ESTABLISHED
    send_ack(now);
  } else {
    // RFC 9293 §3.5 simultaneous open: SYN-RECEIVED, our SYN again with the ACK.
    set_state(TcpState::kSynReceived, now);
    transmit(iss_, kTcpSyn | kTcpAck, 0, 0, now);
  }
}

bool TcpConnection::acceptable(const TcpSegment& segment) const {
  // RFC 9293 §3.10.7.4 first check: the four cases of segment length and window.
  uint32_t window = seq_gt(rcv_adv_, rcv_nxt_) ? rcv_adv_ - rcv_nxt_ : 0;
  uint32_t length = segment_length(segment);
  uint32_t seq = segment.sequence;
  if (length == 0) return window == 0 ? seq == rcv_nxt_ : seq_in(seq, rcv_nxt_, rcv_nxt_ + window);
  if (window == 0) return false;
  return seq_in(seq, rcv_nxt_, rcv_nxt_ + window) ||
         seq_in(seq + length - 1, rcv_nxt_, rcv_nxt_ + window);
}

void TcpConnection::challenge_ack(uint64_t now) {
  // RFC 5961 §7: rate-limited so challenge ACKs cannot be used to flood or as an oracle.
  if (now - challenge_window_start_ >= config_.challenge_ack_interval_ns) {
    challenge_window_start_ = now;
    challenge_count_ = 0;
  }
  if (challenge_count_ >= config_.challenge_acks_per_interval) return;
  ++challenge_count_;
  stats_.challenge_acks++;
  send_ack(now);
}

void TcpConnection::on_rst(const TcpSegment& segment, uint64_t now) {
  // RFC 5961 §3.2: only an exact match resets; an in-window one may be a blind attack,
  // and the challenge ACK lets a genuine peer answer with the exact sequence number.
  if (segment.sequence != rcv_nxt_) {
    challenge_ack(now);
    return;
  }
  switch (state_) {
    case TcpState::kSynReceived:
      // RFC 9293 §3.10.7.4: an active open (simultaneous) is refused; a passive one is
      // simply gone (the listener stays).
      fail(active_open_ ? Errc::kConnectionRefused : Errc::kConnectionReset,
           active_open_ ? "tcp: connection refused" : "tcp: connection reset", false, now);
      break;
    case TcpState::kEstablished:
    case TcpState::kFinWait1:
    case TcpState::kFinWait2:
    case TcpState::kCloseWait:
      fail(Errc::kConnectionReset, "tcp: connection reset by peer", false, now);
      break;
    default:  // CLOSING, LAST-ACK, TIME-WAIT: the close was under way; just finish it
      enter_closed();
      break;
  }
}

void TcpConnection::update_send_window(const TcpSegment& segment, bool syn) {
  uint32_t window = syn ? segment.window : static_cast<uint32_t>(segment.window) << snd_wscale_;
  // RFC 9293 §3.10.7.4: only a segment newer than the last update (WL1, WL2) moves it.
  if (syn || seq_lt(snd_wl1_, segment.sequence) ||
      (snd_wl1_ == segment.sequence && seq_leq(snd_wl2_, segment.acknowledgment))) {
    snd_wnd_ = window;
    snd_wl1_ = segment.sequence;
    snd_wl2_ = segment.acknowledgment;
  }
  max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
  if (snd_wnd_ == 0) {
    retransmits_ = 0;  // the peer is alive, only full: never give up on it for that
  } else if (persisting_) {
    // The window opened. If the probe byte was not taken (the ACK does not cover it),
    // it goes again with the rest.
    persisting_ = false;
    persist_deadline_ = kNever;
    persist_backoff_ = 0;
    if (seq_lt(snd_una_, snd_max_)) snd_nxt_ = snd_max_ = snd_una_;
  }
}

bool TcpConnection::on_ack(const TcpSegment& segment, uint64_t now) {
  uint32_t ack = segment.acknowledgment;
  if (state_ == TcpState::kSynReceived) {
    if (!seq_gt(ack, snd_una_) || seq_gt(ack, snd_max_)) {
      // RFC 9293 §3.10.7.4: <SEQ=SEG.ACK><CTL=RST>.
      transmit(ack, kTcpRst, 0, 0, now);
      return false;
    }
  }
  // RFC 5961 §5.2: acceptable ACKs are in [SND.UNA - MAX.SND.WND, SND.NXT].
  if (seq_gt(ack, snd_max_) || seq_lt(ack, snd_una_ - max_snd_wnd_)) {
    challenge_ack(now);
    return false;
  }
  if (seq_gt(ack, snd_una_)) {
    on_new_ack(segment, ack, now);
    if (state_ == TcpState::kClosed) return false;
    update_send_window(segment, false);
    return true;
  }
  if (ack != snd_una_) return true;  // old but plausible: the text still counts
  // RFC 5681 §2 duplicate ACK: nothing new, no data, same window, data outstanding; with
  // SACK, RFC 6675 §2: an ACK that SACKs new data.
  bool outstanding = snd_max_ != snd_una_;
  uint32_t window = static_cast<uint32_t>(segment.window) << snd_wscale_;
  bool duplicate =
      outstanding && segment.payload.empty() && !segment.has(kTcpFin) && window == snd_wnd_;
  if (sack_on_ && outstanding) {
    bool new_sack =
        scoreboard_.update(snd_una_, snd_max_, segment.options.sack_blocks(), send_mss_);
    duplicate = new_sack;
  }
  update_send_window(segment, false);
  if (recovery_ == Recovery::kSack) check_lost_retransmission();
  if (duplicate && !persisting_) on_duplicate_ack(now);
  return true;
}

void TcpConnection::on_new_ack(const TcpSegment& segment, uint32_t ack, uint64_t now) {
  uint32_t flight = in_flight();
  uint32_t acked = ack - snd_una_;

  // RTT (RFC 6298 §3): a timed segment (never retransmitted: Karn) or, with timestamps,
  // the echoed clock of an ACK that advances SND.UNA (RFC 7323 §4.1).
  uint64_t sample = 0;
  if (rtt_timing_ && seq_gt(ack, rtt_seq_)) {
    sample = std::max<uint64_t>(now - rtt_start_, 1);
    rtt_timing_ = false;
  } else if (ts_on_ && segment.options.timestamps && segment.options.timestamps->echo_reply != 0) {
    uint32_t echo = segment.options.timestamps->echo_reply;
    uint32_t ms = ts_clock(now) - echo;
    // RFC 7323 §4.2 (Karn's rule for timestamps): an echo of a TSval sent before the last
    // retransmission timeout measures that timeout, not the path.
    bool stale = ts_rto_guard_ && seq_lt(echo, ts_rto_floor_);
    // A millisecond clock: a sample under one tick counts as one.
    if (ms < 0x80000000u && !stale) sample = uint64_t{std::max<uint32_t>(ms, 1)} * 1'000'000;
  }
  if (sample != 0) rtt_.sample(sample);
  retransmits_ = 0;

  if (state_ == TcpState::kSynSent || state_ == TcpState::kSynReceived) {
    // Our SYN is acknowledged (RFC 9293 §3.10.7.3 / §3.10.7.4).
    snd_una_ = iss_ + 1;
    if (seq_lt(snd_nxt_, snd_una_)) snd_nxt_ = snd_una_;
    rtx_deadline_ = kNever;
    set_state(fin_queued_ ? TcpState::kFinWait1 : TcpState::kEstablished, now);
    events_ |= kEstablishedEvent | kWritableEvent;
    return;
  }

  uint32_t data_acked = std::min(acked, send_->size());
  bool cwnd_limited = cwnd_blocked_ || flight + send_mss_ >= congestion_.cwnd();
  cwnd_blocked_ = false;
  // Autotuning: the application filled the send buffer and all of it but what Nagle holds
  // (under a segment) was in flight, with neither the congestion window nor the peer's
  // window the limit: the buffer is (Linux's tcp_should_expand_sndbuf), so it doubles.
  const bool buffer_limited = recovery_ == Recovery::kNone && !cwnd_limited &&
                              flight + send_mss_ <= snd_wnd_ && send_->free() < send_mss_ &&
                              seq_lt(data_end(), snd_nxt_ + send_mss_);
  send_->consume(data_acked);
  if (data_acked > 0) events_ |= kWritableEvent;
  snd_una_ = ack;
  if (seq_lt(snd_nxt_, snd_una_)) snd_nxt_ = snd_una_;
  persist_backoff_ = 0;
  if (sack_on_) {
    scoreboard_.update(snd_una_, snd_max_, segment.options.sack_blocks(), send_mss_);
    // RFC 2018 §8: a cumulative ACK that stops at data the receiver SACKed means it
    // discarded that data (reneged); the scoreboard no longer describes it.
    if (scoreboard_.is_sacked(snd_una_)) scoreboard_.clear();
  }

  switch (recovery_) {
    case Recovery::kNewReno:
      if (seq_geq(ack, recover_)) {
        // RFC 6582 §3.2 step 3: full acknowledgment.
        recovery_ = Recovery::kNone;
        inflation_ = 0;
        congestion_.on_exit_recovery(now);
      } else {
        // RFC 6582 §3.2 step 5: a partial ACK: the next hole is lost too; deflate by the
        // amount acknowledged, add back one SMSS.
        retransmit(snd_una_, std::min(current_mss(), snd_max_ - snd_una_), now);
        inflation_ = inflation_ > acked ? inflation_ - acked : 0;
        if (acked >= send_mss_) inflation_ += send_mss_;
      }
      break;
    case Recovery::kSack:
      if (seq_geq(ack, recover_)) {
        recovery_ = Recovery::kNone;  // RFC 6675 §5 step (B)
        congestion_.on_exit_recovery(now);
      }
      break;  // a partial ACK: output() sends the next holes (RFC 6675 §5 step (C))
    case Recovery::kTimeout:
      if (seq_geq(ack, recover_)) recovery_ = Recovery::kNone;
      congestion_.on_ack(acked, flight, now, sample, cwnd_limited);  // slow start again
      break;
    case Recovery::kNone:
      congestion_.on_ack(acked, flight, now, sample, cwnd_limited);
      break;
  }
  if (buffer_limited) grow_send_buffer();
  dupacks_ = 0;
  probe_out_ = false;
  if (recovery_ == Recovery::kSack) {
    // The new SND.UNA's hole was resent earlier in this recovery (when, is not kept): its
    // loss is judged from data sent from now on.
    una_rxt_valid_ = seq_lt(snd_una_, high_rxt_);
    una_rxt_mark_ = snd_max_;
    resend_una_ = false;
    check_lost_retransmission();
  }

  // RFC 6298 §5.2-5.3.
  if (snd_una_ == snd_max_) {
    rtx_deadline_ = kNever;
  } else if (!persisting_) {
    start_retransmit_timer(now);
  }

  if (fin_acked()) {
    switch (state_) {
      case TcpState::kFinWait1:
        set_state(TcpState::kFinWait2, now);
        break;
      case TcpState::kClosing:
        enter_time_wait(now);
        break;
      case TcpState::kLastAck:
        enter_closed();
        break;
      default:
        break;
    }
  }
}

void TcpConnection::check_lost_retransmission() {
  // More than (DupThresh - 1) * SMSS SACKed among what was sent after SND.UNA's resend
  // (IsLost's byte rule, RFC 6675 §4): the resend is lost. Once per resend.
  if (!una_rxt_valid_ || !seq_lt(una_rxt_mark_, snd_max_)) return;
  if (scoreboard_.sacked_between(una_rxt_mark_, snd_max_) >
      (SackScoreboard::kDupThresh - 1) * send_mss_) {
    una_rxt_valid_ = false;
    resend_una_ = true;
  }
}

void TcpConnection::on_duplicate_ack(uint64_t now) {
  ++dupacks_;
  switch (recovery_) {
    case Recovery::kNone:
      // RFC 5681 §3.2 / RFC 6675 §5: DupThresh duplicates, or SACK says the first
      // segment is lost. (During RTO recovery the old flight's dupACKs are ignored:
      // RFC 6582 §3.2 step 2's "recover".)
      // RFC 8985 §7.4 (by RACK's rule): new SACK information after a loss probe covers data
      // sent a PTO (two round trips) after everything unacknowledged below it: lost.
      if (dupacks_ >= SackScoreboard::kDupThresh ||
          (sack_on_ && (scoreboard_.is_lost(snd_una_) || probe_out_)))
        enter_recovery(now);
      break;
    case Recovery::kNewReno:
      inflation_ += send_mss_;  // RFC 6582 §3.2 step 4
      break;
    case Recovery::kTimeout:
      // Once everything outstanding has been sent again since the RTO, DupThresh ACKs
      // with new SACK information come from segments sent after SND.UNA's resend: that
      // resend was lost too. Repair it by SACK recovery rather than another (backed-off)
      // timeout, as RACK would (RFC 8985 §6.2).
      if (sack_on_ && snd_nxt_ == snd_max_ && seq_lt(snd_una_, snd_nxt_) &&
          dupacks_ >= SackScoreboard::kDupThresh)
        enter_recovery(now);
      break;
    case Recovery::kSack:
      break;
  }
}

void TcpConnection::on_text(const TcpSegment& segment, uint64_t now) {
  // RFC 9293 §3.10.7.4 seventh and eighth: text and FIN in the states still receiving.
  if (state_ != TcpState::kEstablished && state_ != TcpState::kFinWait1 &&
      state_ != TcpState::kFinWait2)
    return;
  uint32_t seq = segment.sequence;
  std::span<const uint8_t> payload = segment.payload;
  bool fin = segment.has(kTcpFin);
  if (seq_lt(seq, rcv_nxt_)) {
    uint32_t old = rcv_nxt_ - seq;
    if (old > payload.size()) fin = false;  // the FIN was seen before too
    if (old >= payload.size()) {
      if (!payload.empty()) {
        stats_.duplicates++;
        ack_now_ = true;  // the peer may have missed our ACK
      }
      payload = {};
    } else {
      payload = payload.subspan(old);
    }
    seq = rcv_nxt_;
  }
  // Never beyond the window we advertised (nor the space we have), nor beyond a FIN
  // already seen: the stream ends there.
  uint32_t edge = seq_min(rcv_adv_, rcv_nxt_ + receive_space());
  if (remote_fin_seq_) edge = seq_min(edge, *remote_fin_seq_);
  if (seq_gt(seq + static_cast<uint32_t>(payload.size()), edge)) {
    payload = payload.first(seq_gt(edge, seq) ? edge - seq : 0);
    fin = false;
    ack_now_ = true;
  }
  // The window may promise more than the ring has storage for (it grows with use); what
  // the heap cannot hold now is dropped unacknowledged and the peer sends it again.
  if (!payload.empty()) {
    uint32_t offset = receive_->size() + (seq - rcv_nxt_);
    if (!receive_->reserve(offset + static_cast<uint32_t>(payload.size()))) {
      uint32_t room = receive_->storage() > offset ? receive_->storage() - offset : 0;
      payload = payload.first(std::min<size_t>(payload.size(), room));
      fin = false;
      stats_.no_memory_drops++;
    }
  }
  if (!payload.empty()) {
    if (app_closed_) {
      // RFC 9293 §3.10.4 / RFC 1122 §4.2.2.13: nobody will read it; tell the peer.
      send_rst(snd_max_, now);
      enter_closed();
      return;
    }
    uint32_t length = static_cast<uint32_t>(payload.size());
    // Linux's tcp_measure_rcv_mss: the peer's full segment size, for the ACK-every-
    // second-segment rule.
    if (length >= rcv_mss_) rcv_mss_ = std::min<uint32_t>(length, config_.mss);
    if (seq == rcv_nxt_) {
      receive_->write_at(receive_->size(), payload);
      receive_->grow(length);
      rcv_nxt_ += length;
      stats_.bytes_in += length;
      bool filled_hole = !out_of_order_.empty();
      while (auto right = out_of_order_.take_contiguous(rcv_nxt_)) {
        if (!seq_gt(*right, rcv_nxt_)) continue;
        uint32_t more = *right - rcv_nxt_;
        receive_->grow(more);
        stats_.bytes_in += more;
        rcv_nxt_ = *right;
      }
      events_ |= kReadableEvent;
      unacked_bytes_ += length;
      if (config_.receive_buffer_max > config_.receive_buffer) measure_receive_rtt(now);
      // RFC 5681 §4.2: an ACK at once when a segment fills (part of) a hole.
      if (filled_hole)
        ack_now_ = true;
      else
        schedule_ack(now);
    } else {
      // Held out of order within the window; RFC 5681 §4.2: a duplicate ACK at once
      // (with SACK blocks) so the sender learns of the hole.
      if (out_of_order_.insert(seq, seq + length)) {
        receive_->write_at(receive_->size() + (seq - rcv_nxt_), payload);
        stats_.out_of_order++;
      }
      ack_now_ = true;
    }
  }
  if (fin) {
    // A FIN after a hole is remembered and processed once the hole fills. Data held
    // beyond it cannot be part of the stream (a broken or hostile peer): dropped, or a
    // range reaching past the FIN would carry RCV.NXT over it when the hole fills.
    remote_fin_seq_ = seq + static_cast<uint32_t>(payload.size());
    if (seq_gt(out_of_order_.highest(rcv_nxt_), *remote_fin_seq_)) out_of_order_.clear();
    ack_now_ = true;
  }
  if (!fin_received_ && remote_fin_seq_ && *remote_fin_seq_ == rcv_nxt_) on_fin(now);
}

void TcpConnection::on_fin(uint64_t now) {
  rcv_nxt_++;
  // Nothing follows a FIN: out-of-order data still held (beyond it, so bogus) would be
  // reported in SACK blocks at or below RCV.NXT (Linux's tcp_fin purges it too).
  out_of_order_.clear();
  fin_received_ = true;
  remote_fin_seq_.reset();
  ack_now_ = true;
  events_ |= kReadableEvent;
  switch (state_) {
    case TcpState::kEstablished:
      set_state(TcpState::kCloseWait, now);
      break;
    case TcpState::kFinWait1:
      // Simultaneous close (RFC 9293 §3.6): our FIN is not acknowledged yet.
      if (fin_acked())
        enter_time_wait(now);
      else
        set_state(TcpState::kClosing, now);
      break;
    case TcpState::kFinWait2:
      enter_time_wait(now);
      break;
    default:
      break;
  }
}

}  // namespace morgana::net
