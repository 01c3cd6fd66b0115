// TcpConnection: creation and option negotiation, the application's calls, state changes
// and timers. Segment arrival is in tcp_input.cc, everything sent in tcp_output.cc.
#include "morgana/net/tcp_connection.h"

#include <algorithm>

namespace morgana::net {

namespace {

// RFC 9293 §3.7.1: the send MSS when the peer sent no MSS option.
constexpr uint32_t kDefaultMss = 536;
// RFC 7323 §3.2: the timestamps option takes 12 bytes of every segment (with padding).
constexpr uint32_t kTimestampsOverhead = 12;
// Never segment below this (a hostile MSS option must not make us send 1-byte segments).
constexpr uint32_t kMinMss = 64;

}  // namespace

const char* tcp_state_name(TcpState state) {
  switch (state) {
    case TcpState::kClosed:
      return "CLOSED";
    case TcpState::kListen:
      return "LISTEN";
    case TcpState::kSynSent:
      return "SYN-SENT";
    case TcpState::kSynReceived:
      return "SYN-RECEIVED";
    case TcpState::kEstablished:
      return "ESTABLISHED";
    case TcpState::kFinWait1:
      return "FIN-WAIT-1";
    case TcpState::kFinWait2:
      return "FIN-WAIT-2";
    case TcpState::kCloseWait:
      return "CLOSE-WAIT";
    case TcpState::kClosing:
      return "CLOSING";
    case TcpState::kLastAck:
      return "LAST-ACK";
    case TcpState::kTimeWait:
      return "TIME-WAIT";
  }
  return "?";
}

TcpConnection::TcpConnection(const TcpConfig& config, const TcpEndpoints& endpoints,
                             TcpOutput& output)
    : config_(config),
      endpoints_(endpoints),
      output_(&output),
      rtt_(config.rtt),
      congestion_(config.congestion, config.mss),
      send_mss_(config.mss) {
  send_.emplace(config.send_buffer, config.buffer_budget);
  receive_.emplace(config.receive_buffer, config.buffer_budget);
}

TcpConnection::~TcpConnection() = default;

static Result<void> check_config(const TcpConfig& config) {
  if (config.mss < kMinMss || config.send_buffer == 0 || config.receive_buffer == 0 ||
      config.send_buffer > (1u << 30) || config.receive_buffer > (1u << 30) ||
      config.send_buffer_max > (1u << 30) || config.receive_buffer_max > (1u << 30) ||
      config.tso_max_payload > 65535 - 40)  // an IPv4 datagram with both fixed headers
    return Error{Errc::kInvalidArgument, "tcp: bad connection configuration"};
  return ok();
}

Result<std::unique_ptr<TcpConnection>> TcpConnection::connect(const TcpConfig& config,
                                                              const TcpEndpoints& endpoints,
                                                              uint32_t iss, TcpOutput& output,
                                                              uint64_t now) {
  TRY(check_config(config));
  std::unique_ptr<TcpConnection> connection(new TcpConnection(config, endpoints, output));
  if (!connection->buffers_allocated())
    return Error{Errc::kNoMemory, "tcp: no memory for the connection's buffers"};
  TcpConnection& c = *connection;
  c.active_open_ = true;
  c.iss_ = iss;
  c.snd_una_ = iss;
  c.snd_nxt_ = iss;
  c.snd_max_ = iss;
  // RFC 7323 §5.4 suggests a random offset per connection; the ISS is one already.
  c.ts_offset_ = iss;
  c.state_ = TcpState::kSynSent;
  c.send_syn(now);
  return connection;
}

Result<std::unique_ptr<TcpConnection>> TcpConnection::accept(const TcpConfig& config,
                                                             const TcpEndpoints& endpoints,
                                                             const TcpSegment& syn, uint32_t iss,
                                                             TcpOutput& output, uint64_t now) {
  TRY(check_config(config));
  if (!syn.has(kTcpSyn) || syn.has(kTcpAck) || syn.has(kTcpRst))
    return Error{Errc::kInvalidArgument, "tcp: accept() needs a SYN"};
  std::unique_ptr<TcpConnection> connection(new TcpConnection(config, endpoints, output));
  if (!connection->buffers_allocated())
    return Error{Errc::kNoMemory, "tcp: no memory for the connection's buffers"};
  TcpConnection& c = *connection;
  c.iss_ = iss;
  c.snd_una_ = iss;
  c.snd_nxt_ = iss;
  c.snd_max_ = iss;
  c.ts_offset_ = iss;
  c.irs_ = syn.sequence;
  c.rcv_nxt_ = syn.sequence + 1;
  c.rcv_adv_ = c.rcv_nxt_;
  c.negotiate(syn.options);
  c.update_send_window(syn, /*syn=*/true);
  c.state_ = TcpState::kSynReceived;
  c.stats_.segments_in++;
  c.send_syn(now);
  return connection;
}

uint8_t TcpConnection::our_window_shift() const {
  // RFC 7323 §2.3: the smallest shift that lets the whole receive buffer be advertised,
  // at the largest size autotuning may give it (the shift is fixed at the handshake).
  const uint32_t largest = std::max(config_.receive_buffer, config_.receive_buffer_max);
  uint8_t shift = 0;
  while (shift < kTcpMaxWindowScale && (largest >> shift) > 0xffff) ++shift;
  return shift;
}

void TcpConnection::negotiate(const TcpOptions& peer) {
  // RFC 7323 §2.2 / §3.2, RFC 2018 §2: an option is in use only if both SYNs carried it.
  wscale_on_ = config_.window_scaling && peer.window_scale.has_value();
  snd_wscale_ = wscale_on_ ? *peer.window_scale : 0;
  rcv_wscale_ = wscale_on_ ? our_window_shift() : 0;
  ts_on_ = config_.timestamps && peer.timestamps.has_value();
  if (ts_on_) ts_recent_ = peer.timestamps->value;
  sack_on_ = config_.sack && peer.sack_permitted;
  // RFC 9293 §3.7.1: send no more than the peer's MSS (536 if it sent none), and RFC 7323
  // §3.2 (as Linux): the timestamps option comes out of each segment's payload.
  uint32_t mss = std::min<uint32_t>(peer.mss.value_or(kDefaultMss), config_.mss);
  // A peer MSS below what the option overhead needs (0 is legal on the wire) must not
  // wrap the subtraction: clamp first (found by fuzz/tcp_connection).
  if (ts_on_) mss = std::max(mss, kMinMss + kTimestampsOverhead) - kTimestampsOverhead;
  send_mss_ = std::max(mss, kMinMss);
  congestion_.set_mss(send_mss_);
}

uint32_t TcpConnection::mss() const {
  return send_mss_;
}

bool TcpConnection::synchronized() const {
  return state_ != TcpState::kClosed && state_ != TcpState::kListen && state_ != TcpState::kSynSent;
}

bool TcpConnection::can_send_data() const {
  switch (state_) {
    case TcpState::kEstablished:
    case TcpState::kCloseWait:
    case TcpState::kFinWait1:
    case TcpState::kClosing:
    case TcpState::kLastAck:
      return true;
    default:
      return false;
  }
}

void TcpConnection::set_state(TcpState state, uint64_t now) {
  if (state == state_) return;
  state_ = state;
  switch (state) {
    case TcpState::kEstablished:
    case TcpState::kCloseWait:
      restart_keepalive(now);
      break;
    case TcpState::kFinWait2:
      // Linux tcp_fin_timeout: an orphaned FIN-WAIT-2 does not wait for the peer forever.
      if (app_closed_) state_deadline_ = now + config_.fin_wait2_timeout_ns;
      keepalive_deadline_ = kNever;
      break;
    default:
      keepalive_deadline_ = kNever;
      break;
  }
}

void TcpConnection::enter_time_wait(uint64_t now) {
  set_state(TcpState::kTimeWait, now);
  // RFC 9293 §3.10.7.4: everything is acknowledged; only the 2MSL timer runs.
  rtx_deadline_ = persist_deadline_ = delack_deadline_ = keepalive_deadline_ = kNever;
  persisting_ = false;
  state_deadline_ = now + config_.time_wait_ns;
  events_ |= kClosedEvent;
}

void TcpConnection::enter_closed() {
  state_ = TcpState::kClosed;
  rtx_deadline_ = persist_deadline_ = delack_deadline_ = keepalive_deadline_ = kNever;
  state_deadline_ = kNever;
  persisting_ = false;
  events_ |= kClosedEvent;
}

void TcpConnection::fail(Errc code, const char* what, bool rst, uint64_t now) {
  if (rst) send_rst(snd_max_, now);
  error_ = Error{code, what};
  enter_closed();
  // Waiters on either direction must see the error.
  events_ |= kErrorEvent | kReadableEvent | kWritableEvent;
}

// --- The application's side ----------------------------------------------------------

size_t TcpConnection::writable() const {
  if ((state_ != TcpState::kEstablished && state_ != TcpState::kCloseWait) || fin_queued_) return 0;
  // After a failed growth, only the room in the storage the ring has (the writer then
  // waits for ACKs to free some: back-pressure instead of an out-of-memory panic).
  return send_->appendable();
}

size_t TcpConnection::write(std::span<const uint8_t> bytes, uint64_t now, TcpPush push) {
  if (writable() == 0 || bytes.empty()) return 0;
  size_t taken = send_->append(bytes);
  if (push == TcpPush::kNow) output(now);
  return taken;
}

void TcpConnection::push(uint64_t now) {
  output(now);
}

size_t TcpConnection::readable() const {
  return receive_->size();
}

bool TcpConnection::at_eof() const {
  return fin_received_ && receive_->size() == 0;
}

size_t TcpConnection::read(std::span<uint8_t> out, uint64_t now, TcpPush push) {
  size_t count = receive_->read(out);
  if (count == 0 || fin_received_) return count;
  rcv_copied_ += count;
  adjust_receive_buffer(now);
  if (state_ != TcpState::kEstablished && state_ != TcpState::kFinWait1 &&
      state_ != TcpState::kFinWait2)
    return count;
  // RFC 1122 §4.2.3.3 / RFC 9293 §3.8.6.2.2: tell the peer about the space once it is
  // worth it: as Linux's tcp_cleanup_rbuf, when the window we can offer now is at least
  // twice what is left of the advertised one (and SWS avoidance lets it open).
  uint32_t left = seq_gt(rcv_adv_, rcv_nxt_) ? rcv_adv_ - rcv_nxt_ : 0;
  uint32_t space = std::min(receive_space(), uint32_t{0xffff} << rcv_wscale_);
  uint32_t threshold = std::min(send_mss_, config_.receive_buffer / 2);
  if (space >= 2 * left && space - left >= threshold) {
    ack_now_ = true;
    if (push == TcpPush::kNow) output(now);
  }
  return count;
}

void TcpConnection::measure_receive_rtt(uint64_t now) {
  // Linux's tcp_rcv_rtt_measure: the time a window's worth of data takes to arrive is at
  // least one round trip, and one round trip when the window is what limits the peer; the
  // estimate is the smallest such time seen (a receiver may never send data to time).
  // At least a millisecond: a whole window can arrive in one batch of frames (an image
  // takes what the monitor queued at once), which would time as nothing; a longer
  // estimate only means growing by what a longer interval carried, within the maximum.
  constexpr uint64_t kMinSampleNs = 1'000'000;
  if (rcv_rtt_timing_ && !seq_lt(rcv_nxt_, rcv_rtt_seq_)) {
    const uint64_t sample = std::max<uint64_t>(now - rcv_rtt_start_, kMinSampleNs);
    rcv_rtt_ns_ = rcv_rtt_ns_ == 0 ? sample : std::min(rcv_rtt_ns_, sample);
    rcv_rtt_timing_ = false;
  }
  if (!rcv_rtt_timing_) {
    const uint32_t window = seq_gt(rcv_adv_, rcv_nxt_) ? rcv_adv_ - rcv_nxt_ : 0;
    rcv_rtt_seq_ = rcv_nxt_ + std::max(window, send_mss_);
    rcv_rtt_start_ = now;
    rcv_rtt_timing_ = true;
  }
}

void TcpConnection::adjust_receive_buffer(uint64_t now) {
  // Linux's dynamic right-sizing (tcp_rcv_space_adjust): once per receiver RTT, the bytes
  // the application read in it are the rate the connection runs at; while that grows, the
  // buffer becomes twice it, so the window stays ahead of the transfer. An application
  // that reads nothing never grows its window, nor does a peer that sends no faster.
  const uint32_t capacity = receive_->capacity();
  // Never past what the window field can say.
  const uint32_t limit = static_cast<uint32_t>(
      std::min<uint64_t>(config_.receive_buffer_max, uint64_t{0xffff} << rcv_wscale_));
  if (capacity >= limit || rcv_rtt_ns_ == 0 || now - rcv_space_start_ < rcv_rtt_ns_) return;
  const uint64_t copied = rcv_copied_ - rcv_space_mark_;
  rcv_space_mark_ = rcv_copied_;
  rcv_space_start_ = now;
  if (copied <= rcv_space_) return;
  rcv_space_ = copied;
  const uint64_t wanted = 2 * copied;
  if (wanted <= capacity) return;
  receive_->raise_capacity(static_cast<uint32_t>(std::min<uint64_t>(wanted, limit)));
  stats_.receive_buffer_raises++;
}

void TcpConnection::grow_send_buffer() {
  const uint32_t capacity = send_->capacity();
  if (capacity >= config_.send_buffer_max) return;
  send_->raise_capacity(
      static_cast<uint32_t>(std::min<uint64_t>(uint64_t{capacity} * 2, config_.send_buffer_max)));
  stats_.send_buffer_raises++;
  events_ |= kWritableEvent;
}

void TcpConnection::shutdown_write(uint64_t now) {
  if (fin_queued_) return;
  switch (state_) {
    case TcpState::kSynReceived:
      // RFC 9293 §3.10.4: the FIN goes once the handshake completes.
      fin_queued_ = true;
      fin_seq_ = iss_ + 1;
      return;
    case TcpState::kEstablished:
      set_state(TcpState::kFinWait1, now);
      break;
    case TcpState::kCloseWait:
      set_state(TcpState::kLastAck, now);
      break;
    default:
      return;  // not connected yet (SYN-SENT: close() handles it), or already closing
  }
  fin_queued_ = true;
  fin_seq_ = data_end();
  output(now);
}

void TcpConnection::close(uint64_t now) {
  if (state_ == TcpState::kClosed) return;
  if (state_ == TcpState::kSynSent) {  // RFC 9293 §3.10.4: delete the TCB
    enter_closed();
    return;
  }
  if (receive_->size() > 0) {
    // RFC 1122 §4.2.2.13 / RFC 2525 §2.17: closing with unread data resets, so the peer
    // learns the data was not consumed.
    abort(now);
    return;
  }
  app_closed_ = true;
  shutdown_write(now);
  if (state_ == TcpState::kFinWait2 && state_deadline_ == kNever)
    state_deadline_ = now + config_.fin_wait2_timeout_ns;
}

void TcpConnection::abort(uint64_t now) {
  // RFC 9293 §3.10.5: RST in the synchronised states that still have a peer listening.
  switch (state_) {
    case TcpState::kSynReceived:
    case TcpState::kEstablished:
    case TcpState::kFinWait1:
    case TcpState::kFinWait2:
    case TcpState::kCloseWait:
      send_rst(snd_max_, now);
      break;
    default:
      break;
  }
  if (state_ != TcpState::kClosed) enter_closed();
}

// --- Timers ---------------------------------------------------------------------------

uint64_t TcpConnection::next_deadline() const {
  return std::min(
      {rtx_deadline_, persist_deadline_, delack_deadline_, keepalive_deadline_, state_deadline_});
}

void TcpConnection::on_timer(uint64_t now) {
  if (state_deadline_ <= now) {
    // TIME-WAIT's 2MSL, or an orphaned FIN-WAIT-2 giving up.
    enter_closed();
    return;
  }
  if (rtx_deadline_ <= now) on_retransmit_timeout(now);
  if (state_ == TcpState::kClosed) return;
  if (persist_deadline_ <= now) on_persist_timeout(now);
  if (state_ == TcpState::kClosed) return;
  if (delack_deadline_ <= now) {
    delack_deadline_ = kNever;
    send_ack(now);
  }
  if (keepalive_deadline_ <= now) on_keepalive_timeout(now);
}

void TcpConnection::on_retransmit_timeout(uint64_t now) {
  rtx_deadline_ = kNever;
  if (probe_pending_) {
    probe_pending_ = false;
    if (snd_una_ != snd_max_ && recovery_ == Recovery::kNone && can_send_data()) {
      send_loss_probe(now);
      return;
    }
  }
  if (state_ == TcpState::kSynSent || state_ == TcpState::kSynReceived) {
    if (retransmits_ >= config_.max_syn_retransmits) {
      fail(Errc::kTimedOut, "tcp: handshake timed out", state_ == TcpState::kSynReceived, now);
      return;
    }
    ++retransmits_;
    stats_.timeouts++;
    stats_.retransmits++;
    rtt_.back_off();
    rtt_timing_ = false;   // Karn
    ts_rto_guard_ = true;  // RFC 7323 §4.2: and for the echoed timestamps
    ts_rto_floor_ = ts_clock(now);
    send_syn(now);
    return;
  }
  if (snd_una_ == snd_max_) return;
  if (retransmits_ >= config_.max_retransmits) {
    fail(Errc::kTimedOut, "tcp: retransmissions exhausted", true, now);
    return;
  }
  stats_.timeouts++;
  // RFC 5681 §3.1 eq. 4 on the first timeout of a series (later ones keep ssthresh: the
  // flight is then one segment and would say nothing about the path).
  if (retransmits_ == 0 || recovery_ != Recovery::kTimeout)
    congestion_.on_timeout(snd_max_ - snd_una_, now);
  ++retransmits_;
  rtt_.back_off();  // RFC 6298 §5.5
  rtt_timing_ = false;
  // RFC 7323 §4.2: ACKs echoing a TSval from before this moment measure the timeout.
  ts_rto_guard_ = true;
  ts_rto_floor_ = ts_clock(now);
  // RFC 6298 §5.4 and go-back-N: resend from SND.UNA as the (one segment) window allows;
  // RFC 6582 §3.2 step 1 / RFC 6675 §5.1: "recover" stops dupACKs of the old flight from
  // starting a fast retransmit.
  recovery_ = Recovery::kTimeout;
  recover_ = snd_max_;
  inflation_ = 0;
  dupacks_ = 0;
  // RFC 6675 §5.1: the scoreboard is kept (as Linux), so the resend skips what the
  // receiver holds; reneging is detected on the ACKs (on_new_ack) and clears it.
  high_rxt_ = snd_una_;
  persisting_ = false;
  persist_deadline_ = kNever;
  snd_nxt_ = snd_una_;
  uint32_t length = std::min(snd_max_ - snd_una_, current_mss());
  if (sack_on_) length = std::min(length, scoreboard_.next_sacked(snd_una_, snd_max_) - snd_una_);
  retransmit(snd_una_, length, now);
  start_retransmit_timer(now);
}

uint64_t TcpConnection::persist_interval() const {
  uint64_t interval = rtt_.rto_ns();
  for (unsigned i = 0; i < persist_backoff_ && interval < config_.rtt.max_rto_ns; ++i)
    interval *= 2;
  return std::min(interval, config_.rtt.max_rto_ns);
}

void TcpConnection::on_persist_timeout(uint64_t now) {
  persist_deadline_ = kNever;
  if (!can_send_data() || !has_unsent()) return;
  // The probes are answered as long as the peer lives (RFC 1122 §4.2.2.17: keep probing
  // indefinitely); only unanswered ones count towards giving up.
  if (retransmits_ >= config_.max_retransmits) {
    fail(Errc::kTimedOut, "tcp: zero-window probes unanswered", true, now);
    return;
  }
  uint32_t window_left = seq_gt(snd_una_ + snd_wnd_, snd_nxt_) ? snd_una_ + snd_wnd_ - snd_nxt_ : 0;
  uint32_t unsent = seq_gt(data_end(), snd_nxt_) ? data_end() - snd_nxt_ : 0;
  if (window_left > 0 && unsent > 0) {
    // RFC 9293 §3.8.6.2.1: the override timeout: send what the small window takes; the
    // retransmission timer takes over.
    send_data(snd_nxt_, std::min({window_left, unsent, current_mss()}), false, now);
    return;
  }
  // RFC 9293 §3.8.6.1: probe a zero window with one byte beyond it (or the FIN). Nothing
  // else is in flight, so an earlier probe that was not taken is the byte to send again.
  ++retransmits_;
  stats_.zero_window_probes++;
  persisting_ = true;
  snd_nxt_ = snd_una_;
  unsent = seq_gt(data_end(), snd_nxt_) ? data_end() - snd_nxt_ : 0;
  send_data(snd_nxt_, unsent > 0 ? 1 : 0, unsent == 0, now);
  rtx_deadline_ = kNever;  // the persist timer owns the probe
  ++persist_backoff_;
  persist_deadline_ = now + persist_interval();
}

void TcpConnection::restart_keepalive(uint64_t now) {
  keepalive_sent_ = 0;
  if (config_.keepalive && (state_ == TcpState::kEstablished || state_ == TcpState::kCloseWait))
    keepalive_deadline_ = now + config_.keepalive_idle_ns;
}

void TcpConnection::on_keepalive_timeout(uint64_t now) {
  keepalive_deadline_ = kNever;
  if (snd_max_ != snd_una_ || has_unsent()) {
    // Not idle: the retransmission timer watches the peer.
    keepalive_deadline_ = now + config_.keepalive_idle_ns;
    return;
  }
  if (keepalive_sent_ >= config_.keepalive_probes) {
    fail(Errc::kTimedOut, "tcp: keepalive unanswered", true, now);
    return;
  }
  // RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT - 1 with no data makes the peer answer with an
  // ACK (the segment is outside its window).
  ++keepalive_sent_;
  stats_.keepalives++;
  transmit(snd_una_ - 1, kTcpAck, 0, 0, now);
  keepalive_deadline_ = now + config_.keepalive_interval_ns;
}

}  // namespace morgana::net
