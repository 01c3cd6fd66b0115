// One TCP connection's protocol engine (RFC 9293), sans I/O: segments come in through
// on_segment(), time through on_timer(), the application's bytes through write()/read(),
// and every segment to send goes out through a TcpOutput the owner supplies. No
// coroutines, no clock, no allocation after creation except the two data buffers: the
// stack's TCP layer (demultiplexing, listeners, flows) drives it, and so do the unit and
// simulation tests directly.
//
// Implements: the full state machine incl. simultaneous open and close, half-close and
// TIME_WAIT; RFC 6298 RTO with Karn's rule; MSS; RFC 7323 window scaling, timestamps and
// PAWS; RFC 2018 SACK with RFC 6675 loss recovery (NextSeg rules 1-4 incl. the rescue
// retransmission; the scoreboard survives an RTO) and RFC 3042 Limited Transmit; NewReno (RFC 6582)
// fast retransmit/recovery without SACK; CUBIC or NewReno congestion control; delayed ACKs (RFC
// 1122 §4.2.3.2, RFC 5681 §4.2); Nagle (RFC 896, switchable); zero-window probing (RFC 9293
// §3.8.6.1), RFC 8985 §7 tail loss probes, and window-update on reopen (receiver SWS avoidance, RFC
// 1122 §4.2.3.3); keepalive (RFC 1122 §4.2.3.6, off by default); RFC 5961 challenge ACKs for RST
// and SYN; bounded send and receive buffers with out-of-order data held within the advertised
// window.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "morgana/net/address.h"
#include "morgana/net/tcp_buffers.h"
#include "morgana/net/tcp_congestion.h"
#include "morgana/net/tcp_header.h"
#include "morgana/net/tcp_rtt.h"
#include "morgana/net/tcp_sack.h"
#include "morgana/net/tcp_seq.h"
#include "morgana/rt/result.h"

namespace morgana::net {

enum class TcpState : uint8_t {
  kClosed,
  kListen,  // not used by a connection (listeners live in the TCP layer); named for logs
  kSynSent,
  kSynReceived,
  kEstablished,
  kFinWait1,
  kFinWait2,
  kCloseWait,
  kClosing,
  kLastAck,
  kTimeWait,
};
const char* tcp_state_name(TcpState state);

struct TcpConfig {
  uint32_t send_buffer = 256 * 1024;     // bytes the application may queue unacknowledged
  uint32_t receive_buffer = 256 * 1024;  // bytes held for the application, incl. out of order
  // Autotuning (as Linux's): how far each buffer may grow past the sizes above while the
  // connection shows that its size is what limits it; at most the size itself (0) turns
  // it off. The receive buffer doubles when the peer filled the advertised window and the
  // application then read every byte (it keeps up: the window was the limit); the send
  // buffer doubles when an ACK finds it full with every byte in flight and the congestion
  // window not the limit. Memory follows use either way (ByteRing grows storage on
  // demand), but a grown window lets a peer fill that much if the application stops
  // reading, so the maximum is a per-connection memory bound (StackOptions).
  uint32_t send_buffer_max = 0;
  uint32_t receive_buffer_max = 0;
  // Limits how far the buffers grow into the heap (ByteRing); nullptr: only the heap.
  const GrowthBudget* buffer_budget = nullptr;
  uint16_t mss = 1460;  // our MSS (interface MTU - 40)
  // TCP segmentation offload: new data may leave as one segment of up to this many
  // payload bytes (whole MSS-sized pieces) that the device cuts into MSS-sized segments
  // (TcpSegmentHeader::tso_segment_size). 0: every segment is one MSS at most.
  uint32_t tso_max_payload = 0;
  bool window_scaling = true;
  bool timestamps = true;
  bool sack = true;
  bool nagle = true;
  CongestionAlgorithm congestion = CongestionAlgorithm::kCubic;
  RttConfig rtt;
  uint64_t delayed_ack_ns = 40'000'000;            // RFC 5681 §4.2: < 500 ms; Linux's minimum
  unsigned max_retransmits = 15;                   // RFC 1122 R2 (Linux tcp_retries2)
  unsigned max_syn_retransmits = 6;                // Linux tcp_syn_retries
  uint64_t time_wait_ns = 60'000'000'000;          // 2*MSL, as Linux
  uint64_t fin_wait2_timeout_ns = 60'000'000'000;  // after close(): Linux tcp_fin_timeout
  bool keepalive = false;
  uint64_t keepalive_idle_ns = 7200'000'000'000;
  uint64_t keepalive_interval_ns = 75'000'000'000;
  unsigned keepalive_probes = 9;
  uint64_t challenge_ack_interval_ns = 1'000'000'000;  // RFC 5961 §7: at most
  unsigned challenge_acks_per_interval = 10;           //   this many per interval
};

// When write() sends what it queued: at once (the engine's default, and what its tests
// drive), or only at the owner's next push(), so that every write of one turn of the
// event loop leaves as one segment (the stack's TCP layer: Linux's autocorking).
enum class TcpPush : uint8_t { kNow, kDeferred };

struct TcpEndpoints {
  Ipv4Address local_address;
  uint16_t local_port = 0;
  Ipv4Address remote_address;
  uint16_t remote_port = 0;
  friend bool operator==(const TcpEndpoints&, const TcpEndpoints&) = default;
};

// Where a connection's segments go. The payload is given in up to two pieces (the send
// buffer is a ring); the owner builds the packet (one copy), prepends TCP/IPv4 headers
// and routes it. transmit() must not call back into the connection.
class TcpOutput {
 public:
  virtual void transmit(const TcpEndpoints& endpoints, const TcpSegmentHeader& header,
                        std::span<const uint8_t> payload1, std::span<const uint8_t> payload2) = 0;
  // True when the link below is not keeping up (frames wait for the device): output()
  // then holds its data back instead of queueing more, and the owner calls push() once
  // the link has room (the owner remembers which connection asked). Without this, a
  // burst from many connections outruns the device, the packet pool runs dry and the
  // segments built are dropped: losses the stack inflicted on itself.
  virtual bool link_busy(const TcpEndpoints& /*endpoints*/) { return false; }

 protected:
  ~TcpOutput() = default;
};

// Per-connection statistics (also summed by the TCP layer).
struct TcpConnectionStats {
  uint64_t segments_in = 0;
  uint64_t segments_out = 0;
  uint64_t bytes_in = 0;     // payload bytes accepted in order
  uint64_t bytes_out = 0;    // payload bytes sent for the first time
  uint64_t retransmits = 0;  // segments sent again (timeout, fast, SACK recovery)
  uint64_t timeouts = 0;     // RTO expiries
  uint64_t fast_recoveries = 0;
  uint64_t out_of_order = 0;    // segments held above rcv_nxt
  uint64_t duplicates = 0;      // segments wholly below rcv_nxt
  uint64_t bad_segments = 0;    // unacceptable segments (RFC 9293 §3.10.7.4 first check)
  uint64_t challenge_acks = 0;  // RFC 5961
  uint64_t paws_rejected = 0;   // RFC 7323 §5
  uint64_t zero_window_probes = 0;
  uint64_t keepalives = 0;
  uint64_t loss_probes = 0;  // RFC 8985 §7 tail loss probes
  // Segments (or their tails) dropped because the receive buffer could not grow.
  uint64_t no_memory_drops = 0;
  // Autotuning's doublings of each buffer's size (TcpConfig::receive_buffer_max).
  uint64_t receive_buffer_raises = 0;
  uint64_t send_buffer_raises = 0;

  // Sums counters (the TCP layer adds up live and closed connections). Next to the
  // fields, so a new counter is added in both places at once.
  TcpConnectionStats& operator+=(const TcpConnectionStats& other) {
    segments_in += other.segments_in;
    segments_out += other.segments_out;
    bytes_in += other.bytes_in;
    bytes_out += other.bytes_out;
    retransmits += other.retransmits;
    timeouts += other.timeouts;
    fast_recoveries += other.fast_recoveries;
    out_of_order += other.out_of_order;
    duplicates += other.duplicates;
    bad_segments += other.bad_segments;
    challenge_acks += other.challenge_acks;
    paws_rejected += other.paws_rejected;
    zero_window_probes += other.zero_window_probes;
    keepalives += other.keepalives;
    loss_probes += other.loss_probes;
    no_memory_drops += other.no_memory_drops;
    receive_buffer_raises += other.receive_buffer_raises;
    send_buffer_raises += other.send_buffer_raises;
    return *this;
  }
};

class TcpConnection {
 public:
  // Events since the last take_events(): what the flow layer must wake waiters for.
  enum Event : uint32_t {
    kEstablishedEvent = 1u << 0,  // handshake completed (connect returns / accept ready)
    kReadableEvent = 1u << 1,     // new bytes to read, or the peer's FIN (read returns 0)
    kWritableEvent = 1u << 2,     // send-buffer space freed
    kClosedEvent = 1u << 3,       // reached CLOSED (or TIME_WAIT, for the application): the
                                  // connection may be destroyed once the owner is done
    kErrorEvent = 1u << 4,        // reset, refused or timed out: see error()
  };

  // Active open (RFC 9293 §3.10.1): state SYN-SENT, the SYN is transmitted at once.
  static Result<std::unique_ptr<TcpConnection>> connect(const TcpConfig& config,
                                                        const TcpEndpoints& endpoints, uint32_t iss,
                                                        TcpOutput& output, uint64_t now);
  // Passive open from a listener that received `syn` (a valid SYN for the endpoints):
  // state SYN-RECEIVED, the SYN-ACK is transmitted at once. Options are negotiated from
  // the SYN.
  static Result<std::unique_ptr<TcpConnection>> accept(const TcpConfig& config,
                                                       const TcpEndpoints& endpoints,
                                                       const TcpSegment& syn, uint32_t iss,
                                                       TcpOutput& output, uint64_t now);
  ~TcpConnection();
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  // A segment for this connection's endpoints (parsed and checksum-verified).
  void on_segment(const TcpSegment& segment, uint64_t now);
  // Runs whatever timers are due (retransmission, delayed ACK, persist, keepalive,
  // TIME_WAIT, FIN_WAIT_2). Call when now >= next_deadline().
  void on_timer(uint64_t now);
  // The earliest time on_timer() has work; UINT64_MAX when none.
  uint64_t next_deadline() const;

  // --- The application's side -----------------------------------------------------
  // Queues up to writable() bytes for sending; returns how many were taken (0 when the
  // buffer is full, or after shutdown_write()/close() or an error: check state()). With
  // TcpPush::kNow it may transmit at once (subject to the windows and Nagle); with
  // kDeferred nothing leaves before push().
  size_t write(std::span<const uint8_t> bytes, uint64_t now, TcpPush push = TcpPush::kNow);
  // Sends what the windows, Nagle and SWS avoidance allow of the queued data (and an ACK
  // that is due): what write() with kNow does after queueing.
  void push(uint64_t now);
  size_t writable() const;
  // Copies up to out.size() in-order bytes out; freeing receive space may send a window
  // update (with TcpPush::kDeferred only at the next push(): see ack_due()). Returns 0
  // when none are ready (see readable(), at_eof()).
  size_t read(std::span<uint8_t> out, uint64_t now, TcpPush push = TcpPush::kNow);
  // An ACK is owed and waits for push() (a window update a deferred read made due).
  bool ack_due() const { return ack_now_; }
  size_t readable() const;
  // The peer sent FIN and every byte before it has been read.
  bool at_eof() const;
  // Sends FIN after the queued data (half-close): ESTABLISHED -> FIN-WAIT-1, CLOSE-WAIT
  // -> LAST-ACK. Reading continues. Idempotent.
  void shutdown_write(uint64_t now);
  // The application is done with the connection: shutdown_write(), and bytes that
  // arrive afterwards are answered with RST (RFC 9293 §3.10.7 / RFC 1122 §4.2.2.13: data
  // unread at close also resets). The engine finishes the close on its own.
  void close(uint64_t now);
  // Sends RST (unless not yet synchronised) and goes to CLOSED at once.
  void abort(uint64_t now);
  void set_nagle(bool enabled) { config_.nagle = enabled; }

  // Events (bitmask of Event) since the last call; resets them.
  uint32_t take_events() {
    uint32_t events = events_;
    events_ = 0;
    return events;
  }
  TcpState state() const { return state_; }
  // Why the connection failed: kConnectionReset, kConnectionRefused (RST in SYN-SENT),
  // kTimedOut (retransmissions or keepalive exhausted). Empty while healthy or after an
  // orderly close.
  const std::optional<Error>& error() const { return error_; }
  const TcpEndpoints& endpoints() const { return endpoints_; }
  const TcpConnectionStats& stats() const { return stats_; }
  const RttEstimator& rtt() const { return rtt_; }
  const CongestionControl& congestion() const { return congestion_; }
  // The negotiated effective send MSS.
  uint32_t mss() const;
  // Tests only: every later growth of either buffer fails, as if the heap were exhausted
  // (ByteRing::fail_growth_for_testing), so the engine's answers to that can be checked.
  void fail_buffer_growth_for_testing() {
    send_->fail_growth_for_testing();
    receive_->fail_growth_for_testing();
  }

 private:
  static constexpr uint64_t kNever = UINT64_MAX;
  // How lost data is being repaired (RFC 5681 §3.2, RFC 6582, RFC 6675, RFC 6298 §5).
  enum class Recovery : uint8_t { kNone, kNewReno, kSack, kTimeout };

  TcpConnection(const TcpConfig& config, const TcpEndpoints& endpoints, TcpOutput& output);

  // --- tcp_connection.cc: options, timers, state changes ---
  void negotiate(const TcpOptions& peer);
  uint8_t our_window_shift() const;
  bool synchronized() const;
  bool can_send_data() const;
  void set_state(TcpState state, uint64_t now);
  void enter_time_wait(uint64_t now);
  void enter_closed();
  void fail(Errc code, const char* what, bool send_rst, uint64_t now);
  void on_retransmit_timeout(uint64_t now);
  void send_loss_probe(uint64_t now);
  void arm_loss_probe(uint64_t now);
  void on_persist_timeout(uint64_t now);
  void on_keepalive_timeout(uint64_t now);
  void restart_keepalive(uint64_t now);
  uint64_t persist_interval() const;
  // Autotuning (TcpConfig::receive_buffer_max, send_buffer_max).
  void measure_receive_rtt(uint64_t now);    // in-order data arrived
  void adjust_receive_buffer(uint64_t now);  // the application read
  void grow_send_buffer();                   // doubles it

  // --- tcp_input.cc: segment arrival (RFC 9293 §3.10.7) ---
  void on_segment_syn_sent(const TcpSegment& segment, uint64_t now);
  bool acceptable(const TcpSegment& segment) const;
  void on_rst(const TcpSegment& segment, uint64_t now);
  // Returns false when the segment must be dropped after the ACK field.
  bool on_ack(const TcpSegment& segment, uint64_t now);
  void on_new_ack(const TcpSegment& segment, uint32_t ack, uint64_t now);
  void on_duplicate_ack(uint64_t now);
  void check_lost_retransmission();
  void update_send_window(const TcpSegment& segment, bool syn);
  void on_text(const TcpSegment& segment, uint64_t now);
  void on_fin(uint64_t now);
  void challenge_ack(uint64_t now);

  // --- tcp_output.cc: what goes out ---
  // Sends what the windows, Nagle and SWS avoidance allow, then a pure ACK if one is due.
  void output(uint64_t now);
  void send_syn(uint64_t now);
  void send_ack(uint64_t now);
  void send_rst(uint32_t seq, uint64_t now);
  // Sends [seq, seq + length) of queued data (FIN added when it ends at fin_seq_).
  void send_data(uint32_t seq, uint32_t length, bool fin, uint64_t now);
  void retransmit(uint32_t seq, uint32_t length, uint64_t now);
  void transmit(uint32_t seq, uint8_t flags, uint32_t data_offset, uint32_t length, uint64_t now);
  uint16_t window_to_advertise(bool syn);
  uint32_t receive_space() const;
  uint32_t in_flight() const;
  // Linux's tcp_current_mss: send_mss_ less the SACK option this host would put on a
  // segment now, so payload + options never exceed what the peer's MSS allows.
  uint32_t current_mss() const;
  // The TCP header options other than timestamps a data segment may carry (RFC 9293
  // §3.7.1: the MSS counts the payload plus the options beyond the fixed header).
  uint32_t option_budget(uint32_t length) const;
  // RFC 6675 §4 NextSeg rules 3 and 4 (after rules 1 and 2 sent what they could).
  void sack_recovery_extras(uint64_t now);
  uint32_t data_end() const { return snd_una_ + send_->size(); }
  bool fin_sent() const { return fin_queued_ && seq_gt(snd_max_, fin_seq_); }
  bool fin_acked() const { return fin_queued_ && seq_gt(snd_una_, fin_seq_); }
  bool has_unsent() const;
  void start_retransmit_timer(uint64_t now);
  void enter_recovery(uint64_t now);
  void schedule_ack(uint64_t now);
  uint32_t ts_clock(uint64_t now) const {
    return static_cast<uint32_t>(now / 1'000'000) + ts_offset_;
  }

  TcpConfig config_;
  TcpEndpoints endpoints_;
  TcpOutput* output_;
  TcpState state_ = TcpState::kClosed;
  uint32_t events_ = 0;
  std::optional<Error> error_;
  TcpConnectionStats stats_;
  RttEstimator rtt_;
  CongestionControl congestion_;
  SackScoreboard scoreboard_;

  // Buffers: a small initial storage allocated at creation, grown with use (ByteRing).
  bool buffers_allocated() const { return send_->allocated() && receive_->allocated(); }
  std::optional<ByteRing> send_;
  std::optional<ByteRing> receive_;  // in-order bytes, then out-of-order data above them
  OutOfOrderRanges out_of_order_;

  // Send sequence space (RFC 9293 §3.3.1). SND.NXT goes back to SND.UNA after a timeout
  // (go-back-N); snd_max_ is the highest sequence ever sent.
  uint32_t iss_ = 0;
  uint32_t snd_una_ = 0;
  uint32_t snd_nxt_ = 0;
  uint32_t snd_max_ = 0;
  uint32_t snd_wnd_ = 0;  // scaled
  uint32_t snd_wl1_ = 0;
  uint32_t snd_wl2_ = 0;
  uint32_t max_snd_wnd_ = 0;  // RFC 9293 §3.8.6.2.1 Max(SND.WND)
  uint32_t fin_seq_ = 0;      // sequence number of our FIN, once queued
  bool fin_queued_ = false;
  bool active_open_ = false;
  bool app_closed_ = false;  // close(): later data is answered with RST

  // Receive sequence space.
  uint32_t irs_ = 0;
  uint32_t rcv_nxt_ = 0;
  uint32_t rcv_adv_ = 0;        // right edge of the window we advertised (never recedes)
  uint32_t last_ack_sent_ = 0;  // RFC 7323 §4.3 Last.ACK.sent
  uint32_t rcv_mss_ = 536;      // estimate of the peer's segment size (Linux's rcv_mss)
  std::optional<uint32_t> remote_fin_seq_;  // a FIN seen above RCV.NXT
  // Receive autotuning: the receiver's RTT estimate (0: none yet), timed by how long a
  // window's worth of data takes to arrive; and the bytes the application read
  // (rcv_copied_), in total and in the last measured RTT (rcv_space_, from the 10
  // segments of an initial window).
  uint64_t rcv_rtt_ns_ = 0;
  bool rcv_rtt_timing_ = false;
  uint32_t rcv_rtt_seq_ = 0;
  uint64_t rcv_rtt_start_ = 0;
  uint64_t rcv_copied_ = 0;
  uint64_t rcv_space_mark_ = 0;
  uint64_t rcv_space_start_ = 0;
  uint64_t rcv_space_ = 10 * 1460;
  bool fin_received_ = false;

  // Negotiated options.
  uint32_t send_mss_;  // effective send MSS (RFC 9293 §3.7.1), minus timestamp option
  uint8_t snd_wscale_ = 0;
  uint8_t rcv_wscale_ = 0;
  bool wscale_on_ = false;
  bool ts_on_ = false;
  bool sack_on_ = false;
  uint32_t ts_recent_ = 0;
  uint32_t ts_offset_ = 0;

  // Loss recovery.
  Recovery recovery_ = Recovery::kNone;
  uint32_t recover_ = 0;      // RFC 6582 "recover" / RFC 6675 RecoveryPoint
  uint32_t high_rxt_ = 0;     // RFC 6675 HighRxt
  uint32_t inflation_ = 0;    // RFC 6582 cwnd inflation by duplicate ACKs
  bool rescue_sent_ = false;  // RFC 6675 §4 NextSeg rule 4: one per recovery (RescueRxt)
  // Lost retransmission detection for the hole at SND.UNA in SACK recovery: snd_max_ when
  // it was resent; SACKs for data sent after that, beyond DupThresh segments, mean the
  // resend was lost too (RFC 8985 §6.2's idea, by sequence instead of time).
  bool una_rxt_valid_ = false;
  uint32_t una_rxt_mark_ = 0;
  bool resend_una_ = false;
  // RFC 8985 §7: rtx_deadline_ is the probe timeout (PTO) rather than the RTO.
  bool probe_pending_ = false;
  bool probe_out_ = false;          // TLPRxtOut: one probe until an ACK advances SND.UNA
  uint64_t rto_deadline_ = kNever;  // the RTO behind a pending probe
  unsigned dupacks_ = 0;
  bool cwnd_blocked_ = false;  // output() stopped at cwnd since the last ACK

  // RTT timing of one segment (Karn: abandoned when anything is retransmitted).
  bool rtt_timing_ = false;
  uint32_t rtt_seq_ = 0;
  uint64_t rtt_start_ = 0;
  // RFC 7323 §4.2 / Karn: after a retransmission timeout, an ACK that echoes a TSval from
  // before it measures the timeout, not the path; samples need TSecr >= this (the TSval
  // of the first retransmission).
  bool ts_rto_guard_ = false;
  uint32_t ts_rto_floor_ = 0;

  // Timers (absolute, kNever when stopped).
  uint64_t rtx_deadline_ = kNever;
  uint64_t persist_deadline_ = kNever;
  uint64_t delack_deadline_ = kNever;
  uint64_t keepalive_deadline_ = kNever;
  uint64_t state_deadline_ = kNever;  // TIME_WAIT or FIN_WAIT_2
  unsigned retransmits_ = 0;          // consecutive timeouts (or unanswered probes)
  unsigned persist_backoff_ = 0;
  bool persisting_ = false;  // a zero-window probe is outstanding
  unsigned keepalive_sent_ = 0;
  uint64_t last_send_ = 0;

  // ACK state.
  bool ack_now_ = false;
  uint32_t unacked_bytes_ = 0;  // received in order since our last ACK

  // RFC 5961 §7 challenge ACK rate limit.
  uint64_t challenge_window_start_ = 0;
  unsigned challenge_count_ = 0;
};

}  // namespace morgana::net
