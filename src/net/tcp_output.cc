// TcpConnection's sending side: which bytes may go now (flow and congestion windows,
// Nagle, sender SWS avoidance, SACK loss recovery), the advertised window (receiver SWS
// avoidance), and building every segment with its options.
#include <algorithm>

#include "morgana/net/tcp_connection.h"

namespace morgana::net {

namespace {

// RFC 2018 §3: a SACK option is kind, length and 8 bytes per block; Linux's layout (and
// ours, encode_tcp_options) puts two NOPs before it.
constexpr uint32_t kSackOptionBase = 4;
constexpr uint32_t kSackBlockSize = 8;

uint32_t sack_option_size(size_t blocks) {
  return blocks == 0 ? 0 : kSackOptionBase + kSackBlockSize * static_cast<uint32_t>(blocks);
}

}  // namespace

uint32_t TcpConnection::option_budget(uint32_t length) const {
  // send_mss_ is the peer's MSS less the timestamps option, so whatever it leaves beside
  // the payload is room for other options.
  return send_mss_ > length ? send_mss_ - length : 0;
}

uint32_t TcpConnection::current_mss() const {
  if (!sack_on_ || out_of_order_.empty()) return send_mss_;
  // RFC 2018 §3: 3 blocks fit beside timestamps, 4 without (as transmit() sends them).
  size_t blocks = std::min<size_t>(out_of_order_.size(), ts_on_ ? 3 : 4);
  uint32_t option = sack_option_size(blocks);
  // A tiny (hostile) MSS leaves no room: transmit() then sends fewer blocks instead.
  return send_mss_ > 2 * option ? send_mss_ - option : send_mss_;
}

uint32_t TcpConnection::receive_space() const {
  return receive_->capacity() - receive_->size();
}

uint16_t TcpConnection::window_to_advertise(bool syn) {
  uint32_t space = receive_space();
  if (syn) {
    // RFC 7323 §2.2: the window in a SYN is never scaled.
    uint32_t window = std::min<uint32_t>(space, 0xffff);
    if (seq_gt(rcv_nxt_ + window, rcv_adv_)) rcv_adv_ = rcv_nxt_ + window;
    return static_cast<uint16_t>(window);
  }
  space = std::min(space, uint32_t{0xffff} << rcv_wscale_);
  uint32_t current = seq_gt(rcv_adv_, rcv_nxt_) ? rcv_adv_ - rcv_nxt_ : 0;
  // RFC 1122 §4.2.3.3 (receiver SWS avoidance): move the right edge only by at least
  // min(buffer / 2, MSS); RFC 9293 §3.8.6.2.2: never move it back.
  uint32_t threshold = std::min(send_mss_, config_.receive_buffer / 2);
  if (space >= current + threshold) {
    // Rounded down to what the scaled field can say, so the edge we remember is the one
    // the peer sees.
    uint32_t window = (space >> rcv_wscale_) << rcv_wscale_;
    if (window > current) {
      rcv_adv_ = rcv_nxt_ + window;
      current = window;
    }
  }
  // RFC 7323 §2.4: the field rounds down; we still accept up to rcv_adv_.
  return static_cast<uint16_t>(std::min<uint32_t>(current >> rcv_wscale_, 0xffff));
}

void TcpConnection::transmit(uint32_t seq, uint8_t flags, uint32_t data_offset, uint32_t length,
                             uint64_t now) {
  TcpSegmentHeader header;
  header.source_port = endpoints_.local_port;
  header.destination_port = endpoints_.remote_port;
  header.sequence = seq;
  header.flags = flags;
  bool syn = (flags & kTcpSyn) != 0;
  if (flags & kTcpAck) header.acknowledgment = rcv_nxt_;
  if (!(flags & kTcpRst)) header.window = window_to_advertise(syn);
  TcpOptions& options = header.options;
  // Over one MSS only from output()'s TSO path (whole MSS-sized pieces): the device cuts
  // it at the size the pieces were counted in.
  const uint32_t segment_size =
      config_.tso_max_payload != 0 && length > current_mss() ? current_mss() : 0;
  header.tso_segment_size = static_cast<uint16_t>(segment_size);
  if (syn) {
    options.mss = config_.mss;
    // Active open: offer everything configured. SYN-ACK: answer only what the SYN
    // offered (negotiate() recorded it), RFC 7323 §1.3 / RFC 2018 §2.
    bool offering = state_ == TcpState::kSynSent;
    if (offering ? config_.window_scaling : wscale_on_) options.window_scale = our_window_shift();
    options.sack_permitted = offering ? config_.sack : sack_on_;
    if (offering ? config_.timestamps : ts_on_)
      options.timestamps = TcpTimestamps{ts_clock(now), ts_on_ ? ts_recent_ : 0};
  } else if (!(flags & kTcpRst)) {
    if (ts_on_) options.timestamps = TcpTimestamps{ts_clock(now), ts_recent_};
    if (sack_on_ && !out_of_order_.empty()) {
      // RFC 2018 §3: 3 blocks fit beside timestamps, 4 without; and RFC 9293 §3.7.1: the
      // payload plus the options must fit the peer's MSS (IPv4 would drop a larger
      // segment: DF), so a segment sized before the blocks appeared carries fewer.
      size_t room = ts_on_ ? 3 : 4;
      // A TSO segment's options go on each of its wire segments: the budget is one's.
      uint32_t budget = option_budget(segment_size != 0 ? segment_size : length);
      while (room > 0 && sack_option_size(room) > budget) --room;
      options.sack_count = static_cast<uint8_t>(
          out_of_order_.sack_blocks(std::span<SackBlock>(options.sack.data(), room)));
    }
  }
  ByteRing::Pieces pieces = length > 0 ? send_->peek(data_offset, length) : ByteRing::Pieces{};
  output_->transmit(endpoints_, header, pieces.first, pieces.second);
  stats_.segments_out++;
  last_send_ = now;
  if (flags & kTcpAck) {
    // Any segment carrying the ACK satisfies a pending (delayed) ACK.
    last_ack_sent_ = rcv_nxt_;
    ack_now_ = false;
    unacked_bytes_ = 0;
    delack_deadline_ = kNever;
  }
}

void TcpConnection::send_syn(uint64_t now) {
  uint8_t flags = state_ == TcpState::kSynSent ? kTcpSyn : kTcpSyn | kTcpAck;
  if (!rtt_timing_ && retransmits_ == 0) {
    rtt_timing_ = true;
    rtt_seq_ = iss_;
    rtt_start_ = now;
  }
  transmit(iss_, flags, 0, 0, now);
  snd_nxt_ = snd_max_ = iss_ + 1;
  rtx_deadline_ = now + rtt_.rto_ns();
}

void TcpConnection::send_ack(uint64_t now) {
  if (state_ == TcpState::kClosed || state_ == TcpState::kSynSent) return;
  transmit(snd_nxt_, kTcpAck, 0, 0, now);
}

void TcpConnection::send_rst(uint32_t seq, uint64_t now) {
  transmit(seq, kTcpRst | kTcpAck, 0, 0, now);
}

bool TcpConnection::has_unsent() const {
  if (seq_lt(snd_nxt_, data_end())) return true;
  return fin_queued_ && seq_leq(snd_nxt_, fin_seq_);
}

uint32_t TcpConnection::in_flight() const {
  switch (recovery_) {
    case Recovery::kSack:
      return scoreboard_.pipe(snd_una_, snd_max_, high_rxt_);
    case Recovery::kTimeout:
      // RFC 5681 §3.1: after an RTO everything not acknowledged is presumed lost, so the
      // flight is what was sent again since, less what the receiver SACKed (skipped).
      return snd_nxt_ - snd_una_ - (sack_on_ ? scoreboard_.sacked_between(snd_una_, snd_nxt_) : 0);
    default:
      return snd_nxt_ - snd_una_;
  }
}

void TcpConnection::start_retransmit_timer(uint64_t now) {
  rtx_deadline_ = now + rtt_.rto_ns();
  persist_deadline_ = kNever;
  persist_backoff_ = 0;
  probe_pending_ = false;
  arm_loss_probe(now);
}

void TcpConnection::arm_loss_probe(uint64_t now) {
  // The RTO stays where it is; the probe goes first if it is due earlier (as Linux's
  // tcp_schedule_loss_probe).
  if (probe_pending_ && rtx_deadline_ != kNever) rtx_deadline_ = rto_deadline_;
  probe_pending_ = false;
  if (rtx_deadline_ == kNever) return;
  // RFC 8985 §7.2: outside recovery, with SACK and an RTT estimate, a tail loss probe
  // after PTO = 2*SRTT (plus the worst-case delayed ACK, 200 ms, when one segment is out)
  // turns a lost tail or a lost last ACK into SACK recovery instead of an RTO.
  if (sack_on_ && recovery_ == Recovery::kNone && !probe_out_ && rtt_.has_sample() &&
      snd_una_ != snd_max_ && can_send_data()) {
    constexpr uint64_t kWorstCaseDelayedAck = 200'000'000;
    constexpr uint64_t kProbeSlack = 2'000'000;  // as Linux's TCP_TIMEOUT_MIN
    uint64_t pto = 2 * rtt_.srtt_ns() +
                   (snd_max_ - snd_una_ <= send_mss_ ? kWorstCaseDelayedAck : kProbeSlack);
    if (now + pto < rtx_deadline_) {
      rto_deadline_ = rtx_deadline_;
      rtx_deadline_ = now + pto;
      probe_pending_ = true;
    }
  }
}

void TcpConnection::send_loss_probe(uint64_t now) {
  // RFC 8985 §7.3: new data if the peer's window allows a segment, else the last
  // segment again. Either makes the receiver ACK (with SACK blocks for what it has).
  probe_out_ = true;
  stats_.loss_probes++;
  const uint32_t mss = current_mss();
  uint32_t unsent = seq_gt(data_end(), snd_nxt_) ? data_end() - snd_nxt_ : 0;
  uint32_t window_edge = snd_una_ + snd_wnd_;
  uint32_t window_left = seq_gt(window_edge, snd_nxt_) ? window_edge - snd_nxt_ : 0;
  if (snd_nxt_ == snd_max_ && unsent > 0 && window_left >= std::min(unsent, mss)) {
    uint32_t length = std::min(unsent, mss);
    send_data(snd_nxt_, length, fin_queued_ && snd_nxt_ + length == fin_seq_, now);
  } else {
    uint32_t length = std::min(snd_max_ - snd_una_, mss);
    retransmit(snd_max_ - length, length, now);
  }
  // §7.3: then the RTO.
  rtx_deadline_ = now + rtt_.rto_ns();
}

void TcpConnection::send_data(uint32_t seq, uint32_t length, bool fin, uint64_t now) {
  MORGANA_ASSERT(seq_geq(seq, snd_una_));
  uint8_t flags = kTcpAck;
  // PSH on the segment that empties the queue (RFC 9293 §3.9.1.2), as Linux.
  if (length > 0 && seq + length == data_end()) flags |= kTcpPsh;
  if (fin) flags |= kTcpFin;
  bool retransmission = seq_lt(seq, snd_max_);
  if (retransmission) {
    stats_.retransmits++;
    if (seq == snd_una_) {
      una_rxt_valid_ = true;
      una_rxt_mark_ = snd_max_;
    }
    // Karn: a sample across a retransmission is ambiguous.
    if (rtt_timing_ && seq_leq(seq, rtt_seq_)) rtt_timing_ = false;
  } else {
    stats_.bytes_out += length;
    if (!rtt_timing_ && length > 0) {
      rtt_timing_ = true;
      rtt_seq_ = seq;
      rtt_start_ = now;
    }
  }
  transmit(seq, flags, seq - snd_una_, length, now);
  uint32_t end = seq + length + (fin ? 1 : 0);
  if (seq_gt(end, snd_max_)) snd_max_ = end;
  if (seq_gt(end, snd_nxt_) && seq == snd_nxt_) snd_nxt_ = end;
  if (rtx_deadline_ == kNever && !persisting_) {
    start_retransmit_timer(now);
  } else if (!retransmission && length > 0 && !persisting_) {
    arm_loss_probe(now);  // RFC 8985 §7.2: after new data
  }
}

void TcpConnection::retransmit(uint32_t seq, uint32_t length, uint64_t now) {
  // [seq, seq + length) may end in our FIN's sequence number.
  uint32_t data = seq_lt(seq, data_end()) ? std::min(length, data_end() - seq) : 0;
  bool fin = fin_sent() && seq + data == fin_seq_ && seq_gt(seq + length, fin_seq_);
  send_data(seq, data, fin, now);
}

void TcpConnection::enter_recovery(uint64_t now) {
  stats_.fast_recoveries++;
  uint32_t flight = snd_max_ - snd_una_;
  // A retransmission sent after an RTO was lost: the window that loss speaks for is the
  // (slow-starting) cwnd, not the old flight presumed lost by the timeout.
  if (recovery_ == Recovery::kTimeout) flight = std::min(flight, congestion_.cwnd());
  recover_ = snd_max_;
  congestion_.on_enter_recovery(flight, now);
  dupacks_ = 0;
  rescue_sent_ = false;
  const uint32_t mss = current_mss();
  if (sack_on_) {
    // RFC 6675 §5 step 4: retransmit the first segment presumed lost, then let the pipe
    // decide (output()).
    recovery_ = Recovery::kSack;
    high_rxt_ = snd_una_;
    uint32_t length = std::min(scoreboard_.next_sacked(snd_una_, snd_max_) - snd_una_, mss);
    retransmit(snd_una_, length, now);
    high_rxt_ = snd_una_ + length;
  } else {
    // RFC 6582 §3.2 step 2: retransmit, cwnd = ssthresh + 3 * SMSS.
    recovery_ = Recovery::kNewReno;
    inflation_ = 3 * send_mss_;
    retransmit(snd_una_, std::min(mss, snd_max_ - snd_una_), now);
  }
  start_retransmit_timer(now);
}

void TcpConnection::sack_recovery_extras(uint64_t now) {
  const uint32_t mss = current_mss();
  for (;;) {
    uint32_t pipe = in_flight();
    if (pipe >= congestion_.cwnd() || congestion_.cwnd() - pipe < mss) return;
    // Rule 3: a hole below SACKed data not yet deemed lost (nor resent) goes before
    // waiting for DupThresh more ACKs that may never come.
    if (auto hole = scoreboard_.next_unsacked(snd_una_, snd_max_, high_rxt_, mss)) {
      retransmit(hole->seq, hole->length, now);
      high_rxt_ = hole->seq + hole->length;
      continue;
    }
    // Rule 4: once per recovery, the highest unSACKed segment (the tail, whose loss no
    // later segment can reveal); HighRxt stays.
    if (rescue_sent_) return;
    rescue_sent_ = true;
    if (auto hole = scoreboard_.last_unsacked(snd_una_, snd_max_, mss);
        hole && seq_geq(hole->seq, high_rxt_))
      retransmit(hole->seq, hole->length, now);
    return;
  }
}

void TcpConnection::output(uint64_t now) {
  if (!can_send_data()) {
    if (ack_now_) send_ack(now);
    return;
  }
  bool sent = false;
  bool link_blocked = false;
  // RFC 5681 §4.1: after an idle period longer than the RTO, restart from the initial
  // window rather than bursting the old cwnd into the network.
  if (snd_max_ == snd_una_ && has_unsent() && last_send_ != 0 && now - last_send_ > rtt_.rto_ns())
    congestion_.on_idle_restart(now);

  // Every segment is sized by the options it will carry (Linux's tcp_current_mss); a
  // "full" segment for Nagle and SWS avoidance is one of this size.
  const uint32_t mss = current_mss();
  if (recovery_ == Recovery::kSack) {
    // RFC 6675 §5 step (C): while the pipe leaves room for a segment, NextSeg rule 1
    // (lost holes) first; new data (rule 2) below, then rules 3 and 4.
    if (resend_una_) {
      // The resend of SND.UNA was lost (on_ack): it replaces itself in the pipe.
      resend_una_ = false;
      retransmit(snd_una_, std::min(scoreboard_.next_sacked(snd_una_, snd_max_) - snd_una_, mss),
                 now);
      sent = true;
    }
    for (;;) {
      uint32_t pipe = scoreboard_.pipe(snd_una_, snd_max_, high_rxt_);
      if (pipe >= congestion_.cwnd() || congestion_.cwnd() - pipe < mss) break;
      auto hole = scoreboard_.next_lost(snd_una_, snd_max_, high_rxt_, mss);
      if (!hole) break;
      retransmit(hole->seq, hole->length, now);
      high_rxt_ = hole->seq + hole->length;
      sent = true;
    }
  }

  for (;;) {
    // RFC 6675 §5.1: resending from SND.UNA after an RTO skips what the receiver SACKed
    // (the scoreboard outlives the timeout).
    if (sack_on_ && seq_lt(snd_nxt_, snd_max_))
      snd_nxt_ = seq_min(scoreboard_.sacked_run_end(snd_nxt_), snd_max_);
    if (!has_unsent()) break;
    uint32_t end = data_end();
    uint32_t unsent = seq_lt(snd_nxt_, end) ? end - snd_nxt_ : 0;
    bool resend = seq_lt(snd_nxt_, snd_max_);
    uint32_t window_edge = snd_una_ + snd_wnd_;
    uint32_t window_left = seq_gt(window_edge, snd_nxt_) ? window_edge - snd_nxt_ : 0;
    uint32_t cwnd = congestion_.cwnd() + (recovery_ == Recovery::kNewReno ? inflation_ : 0);
    // RFC 3042 Limited Transmit: the first two duplicate ACKs each let one segment of
    // new data go beyond cwnd, so a small window still produces DupThresh of them.
    if (recovery_ == Recovery::kNone && !resend)
      cwnd += std::min<uint32_t>(dupacks_, SackScoreboard::kDupThresh - 1) * mss;
    uint32_t flight = in_flight();
    uint32_t cwnd_left = cwnd > flight ? cwnd - flight : 0;
    if (unsent == 0) {
      // Only the FIN is left: it needs one sequence number of window (RFC 9293
      // §3.10.7.4 would drop it otherwise); a closed window is probed instead.
      if (window_left == 0) break;
      send_data(snd_nxt_, 0, true, now);
      sent = true;
      break;
    }
    // With TSO, new data goes in one segment of as many whole MSS as the windows allow
    // (the device cuts it; the peer sees MSS-sized segments either way). Resends stay at
    // one MSS: they fill holes, which are MSS-sized.
    uint32_t burst = mss;
    if (config_.tso_max_payload >= 2 * mss && !resend) burst = config_.tso_max_payload / mss * mss;
    uint32_t length = std::min({unsent, burst, window_left});
    if (resend && sack_on_)
      length = std::min(length, scoreboard_.next_sacked(snd_nxt_, end) - snd_nxt_);
    if (length == 0) break;  // zero window: the persist timer probes
    if (length > cwnd_left) {
      // Whole segments only while data is in flight: the ACKs will open the window.
      cwnd_blocked_ = true;
      if (cwnd_left >= mss) {
        length = cwnd_left / mss * mss;
      } else {
        if (flight > 0 || cwnd_left == 0) break;
        length = cwnd_left;
      }
    }
    // A TSO segment holds whole MSS only; a shorter tail goes on its own next time round
    // (where Nagle and sender SWS avoidance judge it as any small segment).
    if (length > mss) length -= length % mss;
    if (length < mss && !resend) {
      if (length < unsent) {
        // RFC 9293 §3.8.6.2.1 (sender SWS avoidance): a partial segment goes only when
        // it is at least half the largest window the peer offered; else wait for the
        // window to open (or the override/persist timer).
        if (length < max_snd_wnd_ / 2 || flight > 0) break;
      } else if (config_.nagle && snd_max_ != snd_una_ && !fin_queued_) {
        // RFC 896 / RFC 1122 §4.2.3.4: one small segment in flight at a time. A pending
        // FIN pushes (Linux sends the tail with the FIN at once).
        break;
      }
    }
    // The link is not keeping up: the data waits in the send buffer (the owner pushes
    // again once the device has room) rather than in packets the device cannot take.
    if (output_->link_busy(endpoints_)) {
      link_blocked = true;
      break;
    }
    bool fin = fin_queued_ && snd_nxt_ + length == fin_seq_ && length < window_left;
    send_data(snd_nxt_, length, fin, now);
    sent = true;
  }
  if (recovery_ == Recovery::kSack) {
    uint64_t before = stats_.segments_out;
    sack_recovery_extras(now);
    if (stats_.segments_out != before) sent = true;
  }

  if (!sent && ack_now_) send_ack(now);
  // Data waits with nothing in flight: only the persist timer can move it (RFC 9293
  // §3.8.6.1 zero window, or the §3.8.6.2.1 override for a small one).
  if (!link_blocked && (snd_max_ == snd_una_ || persisting_) && has_unsent() &&
      rtx_deadline_ == kNever && persist_deadline_ == kNever)
    persist_deadline_ = now + persist_interval();
}

void TcpConnection::schedule_ack(uint64_t now) {
  // RFC 1122 §4.2.3.2 / RFC 5681 §4.2: ACK at least every second full-sized segment, and
  // within delayed_ack_ns otherwise. "Full-sized" is the peer's segment size as seen
  // (Linux's rcv_mss: its segments shrink by the SACK blocks they carry), and as Linux
  // (__tcp_ack_snd_check) the ACK goes once more than one such segment is unacknowledged.
  if (unacked_bytes_ > rcv_mss_) {
    ack_now_ = true;
  } else if (delack_deadline_ == kNever) {
    delack_deadline_ = now + config_.delayed_ack_ns;
  }
}

}  // namespace morgana::net
