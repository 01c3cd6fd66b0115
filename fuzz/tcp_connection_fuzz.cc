// Fuzzes the TCP engine (TcpConnection, src/net/tcp_*.cc) against live connection state.
// Two engines, A (active opener) and B, complete a handshake with options chosen from the
// first input bytes (SACK, timestamps, window scaling, buffers and their autotuning, MSS,
// ISS near a wrap, and a middlebox rewriting the MSS option of the SYN),
// optionally exchange data, and then the rest of the input is a sequence of operations:
//   - the network: deliver, drop, duplicate or reorder the segments in flight;
//   - injected segments built around the connection's current sequence numbers (as the
//     wire shows them: in window, at the edge, old, far future, raw), flags, window,
//     timestamps and SACK blocks derived from the input, and a payload that is either the
//     sender's true stream at that offset or raw bytes (which taints that direction);
//   - time advances (timers run when due), and the application's write, read,
//     shutdown_write, close, abort and Nagle switch.
// STYLE.md: random bytes are wrapped in valid outer layers (every segment is encoded and
// parsed with the real codec, checksum included) so they reach the state machine.
// After every step: readable()/writable() within the buffers; bytes read equal the
// peer's stream (unless tainted) and never outrun what was written or injected; no
// segment carries data the application did not write, more than the MSS, a FIN before
// shutdown, or acknowledges sequence space never delivered; after timers run,
// next_deadline() lies in the future and within the longest timer.
// The inputs that found bugs (now fixed) are in fuzz/regressions/tcp_connection/; the
// smoke runs them with the seeds.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "morgana/net/tcp_connection.h"
#include "morgana/net/tcp_header.h"
#include "morgana/net/tcp_seq.h"

namespace {

using namespace morgana::net;
using Bytes = std::vector<uint8_t>;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSecond = 1000 * kMs;
constexpr size_t kMaxInFlight = 256;  // segments queued towards one side
constexpr size_t kMaxSegment = 4096;  // payload bytes the harness encodes (MSS <= 1460)

void check(bool condition) {
  if (!condition) __builtin_trap();
}

// The input, consumed front to back; zeros once it runs out.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return at_ >= size_; }
  uint8_t u8() { return at_ < size_ ? data_[at_++] : 0; }
  uint16_t u16() { return uint16_t(u8() << 8 | u8()); }
  uint32_t u32() { return uint32_t(u16()) << 16 | u16(); }
  std::span<const uint8_t> take(size_t n) {
    n = std::min(n, size_ - std::min(at_, size_));
    std::span<const uint8_t> bytes(data_ + at_, n);
    at_ += n;
    return bytes;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

// Byte `offset` of a direction's stream (offset 0 is the byte at ISS + 1). Defined for
// every offset, so an injected segment can carry the true bytes wherever it lies.
uint8_t content(int direction, int64_t offset) {
  uint64_t x =
      uint64_t(offset) * 0x9E3779B97F4A7C15ull + uint64_t(direction + 1) * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  x *= 0x94D049BB133111EBull;
  return uint8_t(x >> 56);
}

const Ipv4Address kIpA = {{10, 0, 0, 1}};
const Ipv4Address kIpB = {{10, 0, 0, 2}};

struct Side {
  int index = 0;  // 0: A, 1: B (the direction of the stream it writes)
  TcpConfig config;
  TcpEndpoints endpoints;
  uint32_t iss = 0;
  std::unique_ptr<TcpConnection> connection;

  // The application.
  uint64_t written = 0;  // bytes of its own stream write() took
  size_t writing = 0;    // during write(): bytes it may be taking
  bool shut = false;     // shutdown_write(), close() or abort() called
  uint64_t read = 0;     // bytes of the peer's stream read
  bool tainted = false;  // raw bytes were injected into the peer's stream towards it

  // The wire, as seen from outside.
  std::deque<Bytes> inbox;  // segments in flight towards this side
  bool sent_any = false;
  uint32_t sent_max = 0;     // highest sequence end it sent
  uint32_t last_ack = 0;     // acknowledgment of its last ACK segment
  uint32_t last_window = 0;  // its last advertised window, scaled
  uint32_t last_tsval = 0;
  uint8_t wscale = 0;  // the shift it asked for in its SYN
  // Offsets in the peer's stream (relative to peer ISS + 1).
  int64_t delivered_end = -1;  // highest end of any segment given to it
  int64_t injected_end = 0;    // highest end of payload injected towards it
};

class Fuzzer final : public TcpOutput {
 public:
  Side a, b;
  uint64_t now = 1000 * kSecond;
  std::unique_ptr<BufferPool> pool = std::move(BufferPool::create({4, 8192, 128})).value();
  TcpCounters counters;

  Side& peer_of(const Side& side) { return side.index == 0 ? b : a; }
  static int64_t offset(uint32_t seq, uint32_t base) { return int32_t(seq - base); }

  // Every segment an engine sends: encoded to real bytes, parsed back, checked, and put
  // in flight towards the peer.
  void transmit(const TcpEndpoints& endpoints, const TcpSegmentHeader& header,
                std::span<const uint8_t> payload1, std::span<const uint8_t> payload2) override {
    Side& from = endpoints.local_port == a.endpoints.local_port ? a : b;
    Side& to = peer_of(from);
    check(endpoints == from.endpoints);
    Bytes payload(payload1.begin(), payload1.end());
    payload.insert(payload.end(), payload2.begin(), payload2.end());
    check(payload.size() <= kMaxSegment);
    Bytes wire = encode(header, from.endpoints, payload);
    auto parsed = parse_tcp(wire, from.endpoints.local_address, from.endpoints.remote_address);
    check(parsed.ok());
    check(parsed->options == header.options && parsed->flags == header.flags);
    const uint8_t flags = header.flags;
    const bool syn = flags & kTcpSyn, fin = flags & kTcpFin, rst = flags & kTcpRst;

    // Data: only what the application wrote, at its place in the stream, within the MSS.
    const int64_t at = offset(header.sequence, from.iss + 1);
    if (!payload.empty()) {
      check(!syn && !rst);
      if (from.connection) check(payload.size() <= from.connection->mss());
      check(at >= 0 && uint64_t(at) + payload.size() <= from.written + from.writing);
      for (size_t i = 0; i < payload.size(); ++i)
        check(payload[i] == content(from.index, at + int64_t(i)));
    }
    if (fin) check(from.shut && at >= 0 && uint64_t(at) + payload.size() <= from.written);
    // Never an acknowledgment of sequence space that was not delivered to it.
    if ((flags & kTcpAck) && !(syn && !from.sent_any && from.index == 0)) {
      const int64_t acked = offset(header.acknowledgment, to.iss + 1);
      check(acked <= from.delivered_end);
      for (const SackBlock& block : header.options.sack_blocks()) {
        check(seq_lt(block.left, block.right) && seq_gt(block.left, header.acknowledgment));
        check(offset(block.right, to.iss + 1) <= from.delivered_end);
      }
    }
    if (syn) {
      from.wscale = header.options.window_scale.value_or(0);
    }
    if (!rst) {
      const uint32_t end = header.sequence + uint32_t(payload.size()) + syn + fin;
      if (!from.sent_any || seq_gt(end, from.sent_max)) from.sent_max = end;
      from.sent_any = true;
      if (flags & kTcpAck) from.last_ack = header.acknowledgment;
      from.last_window = syn ? header.window : uint32_t(header.window) << from.wscale;
      if (header.options.timestamps) from.last_tsval = header.options.timestamps->value;
    }
    to.inbox.push_back(std::move(wire));
    if (to.inbox.size() > kMaxInFlight) to.inbox.pop_front();
  }

  Bytes encode(const TcpSegmentHeader& header, const TcpEndpoints& from,
               std::span<const uint8_t> payload) {
    auto packet = pool->allocate();
    check(packet.ok());
    check(packet->append_bytes(payload));
    check(tcp_prepend(header, from.local_address, from.remote_address, *packet, counters));
    return Bytes(packet->data().begin(), packet->data().end());
  }

  // Hands a segment (from the peer) to `to`, noting how far into the peer's stream it
  // reaches.
  void deliver(Side& to, const Bytes& wire) {
    const Side& from = peer_of(to);
    auto segment = parse_tcp(wire, from.endpoints.local_address, from.endpoints.remote_address);
    if (!segment) return;
    if (!segment->has(kTcpRst)) {
      const int64_t end = offset(segment->sequence, from.iss + 1) +
                          int64_t(segment->payload.size()) + segment->has(kTcpSyn) +
                          segment->has(kTcpFin);
      to.delivered_end = std::max(to.delivered_end, end);
    }
    if (to.connection) to.connection->on_segment(*segment, now);
  }

  bool deliver_front(Side& to) {
    if (to.inbox.empty()) return false;
    Bytes wire = std::move(to.inbox.front());
    to.inbox.pop_front();
    deliver(to, wire);
    return true;
  }

  // Delivers what is in flight both ways (and what that provokes), up to `limit`.
  void deliver_all(size_t limit) {
    for (size_t i = 0; i < limit; ++i) {
      bool moved = deliver_front(b);
      moved |= deliver_front(a);
      if (!moved) return;
    }
  }

  void run_timers(Side& side) {
    if (!side.connection) return;
    for (int i = 0; i < 3 && side.connection->next_deadline() <= now; ++i)
      side.connection->on_timer(now);
  }

  void advance(uint64_t ns) {
    now += ns;
    run_timers(a);
    run_timers(b);
  }

  size_t write(Side& side, size_t length) {
    Bytes bytes(length);
    for (size_t i = 0; i < length; ++i) bytes[i] = content(side.index, int64_t(side.written + i));
    side.writing = length;
    const size_t expected = std::min(length, side.connection->writable());
    size_t taken = side.connection->write(bytes, now);
    side.writing = 0;
    check(taken == expected);
    side.written += taken;
    return taken;
  }

  void read(Side& side, size_t length) {
    Bytes out(length);
    const size_t before = side.connection->readable();
    size_t n = side.connection->read(out, now);
    check(n == std::min(length, before));
    const Side& peer = peer_of(side);
    for (size_t i = 0; i < n && !side.tainted; ++i)
      check(out[i] == content(peer.index, int64_t(side.read + i)));
    side.read += n;
    check(side.read <=
          std::max<uint64_t>(peer.written, uint64_t(std::max<int64_t>(side.injected_end, 0))));
  }

  // A segment "from the peer" towards `to`, built around the sequence numbers the wire
  // showed last.
  void inject(Side& to, Input& in) {
    Side& from = peer_of(to);
    const uint8_t control = in.u8(), kind = in.u8();
    TcpSegmentHeader header;
    header.source_port = from.endpoints.local_port;
    header.destination_port = from.endpoints.remote_port;

    // Sequence number: around what `to` expects next (its last ACK), what the peer sent
    // last, or the end of the peer's written stream.
    const uint32_t seq_bases[] = {to.last_ack, from.sent_max, from.iss + 1 + uint32_t(from.written),
                                  to.last_ack};
    const uint32_t seq_base = seq_bases[kind & 3];
    const uint32_t window = std::max<uint32_t>(to.last_window, 1);
    uint32_t seq = seq_base;
    switch ((kind >> 2) & 7) {
      case 0:
        break;
      case 1:  // in the window
        seq = seq_base + in.u16() % window;
        break;
      case 2:  // at the right edge
        seq = seq_base + window - 2 + in.u8() % 4;
        break;
      case 3:  // old
        seq = seq_base - 1 - in.u16();
        break;
      case 4:  // far away (2^31 either side)
        seq = seq_base + 0x80000000u - 8 + in.u8() % 16;
        break;
      case 5:  // a small step either way
        seq = seq_base + uint32_t(int32_t(int8_t(in.u8())));
        break;
      case 6:
        seq = in.u32();
        break;
      case 7:  // just below the window (the last byte acknowledged)
        seq = seq_base - 1;
        break;
    }
    header.sequence = seq;

    // Acknowledgment: around what `to` sent (its highest sequence) or what the peer
    // acknowledged last.
    const uint32_t ack_base = (kind & 0x20) ? to.sent_max : from.last_ack;
    switch (control & 7) {
      case 0:
      case 1:
        header.acknowledgment = ack_base;
        break;
      case 2:
        header.acknowledgment = ack_base - in.u16() % 4096;
        break;
      case 3:
        header.acknowledgment = ack_base + 1 + in.u8() % 16;
        break;
      case 4:
        header.acknowledgment = ack_base - 0x10000 * (1 + in.u8() % 64);  // SND.UNA - MAX.SND.WND
        break;
      case 5:
        header.acknowledgment = in.u32();
        break;
      default:
        header.acknowledgment = ack_base - uint32_t(in.u8()) * 64;
        break;
    }

    const uint8_t flag_choice = in.u8();
    // Mostly a plain ACK with PSH/FIN; the rest of the time any combination.
    header.flags =
        (control & 8) ? flag_choice : uint8_t(kTcpAck | (flag_choice & (kTcpFin | kTcpPsh)));
    header.window = (control & 0x10)
                        ? in.u16()
                        : uint16_t(std::min<uint32_t>(from.last_window >> from.wscale, 0xffff));
    header.urgent_pointer = (header.flags & kTcpUrg) ? in.u16() : 0;

    const uint8_t option_choice = in.u8();
    TcpOptions& options = header.options;
    if (option_choice & 1) {
      const uint8_t ts_kind = in.u8();
      uint32_t value = from.last_tsval + uint32_t(int32_t(int8_t(in.u8())));
      if (ts_kind & 1) value = in.u32();
      uint32_t echo = (ts_kind & 2) ? in.u32() : to.last_tsval - (ts_kind >> 4);
      options.timestamps = TcpTimestamps{value, echo};
    }
    const size_t max_blocks = options.timestamps ? 3 : 4;
    options.sack_count = uint8_t(std::min<size_t>((option_choice >> 1) & 7, max_blocks));
    for (size_t i = 0; i < options.sack_count; ++i) {
      // Blocks inside what `to` sent (between the peer's ACK and `to`'s highest
      // sequence), or anywhere.
      const uint8_t block_kind = in.u8();
      uint32_t left = from.last_ack + uint32_t(in.u16()) * ((block_kind & 1) ? 1 : 64);
      uint32_t length = 1 + uint32_t(in.u16()) * ((block_kind & 2) ? 1 : 16);
      if (block_kind & 4) left = to.sent_max - uint32_t(in.u16());
      if (block_kind & 8) left = in.u32();
      options.sack[i] = {left, (block_kind & 16) ? in.u32() : left + length};
    }
    if (option_choice & 0x10) {
      options.mss = in.u16();
      options.window_scale = uint8_t(in.u8() % 16);
      options.sack_permitted = true;
    }

    // Payload: the peer's true bytes at that place, or raw input.
    const uint16_t length_choice = in.u16();
    static constexpr size_t kLengths[] = {0, 1, 7, 100, 536, 1000, 1448, 1460};
    size_t length =
        (length_choice & 0x8000) ? (length_choice & 0x7fff) % 4000 : kLengths[length_choice & 7];
    Bytes payload;
    const int64_t at = offset(seq, from.iss + 1);
    if (option_choice & 0x20) {
      auto raw = in.take(length);
      payload.assign(raw.begin(), raw.end());
      if (!payload.empty()) to.tainted = true;
    } else {
      payload.resize(length);
      for (size_t i = 0; i < length; ++i) payload[i] = content(from.index, at + int64_t(i));
    }
    if (!payload.empty()) to.injected_end = std::max(to.injected_end, at + int64_t(payload.size()));
    deliver(to, encode(header, from.endpoints, payload));
  }

  void check_side(Side& side) {
    TcpConnection& c = *side.connection;
    const TcpConfig& k = side.config;
    check(c.readable() <= std::max(k.receive_buffer, k.receive_buffer_max));
    check(c.writable() <= std::max(k.send_buffer, k.send_buffer_max));
    if (c.at_eof()) check(c.readable() == 0);
    if (c.writable() > 0) check(!side.shut);
    // RFC 9293 §3.7.1: never more than our own MSS. Known bug
    // (fuzz/regressions/tcp_connection/peer-mss-under-12-wraps): an MSS option under 12
    // with timestamps wraps the send MSS to about 2^32.
    check(c.mss() <= side.config.mss);
    const uint64_t deadline = c.next_deadline();
    if (deadline != UINT64_MAX) {
      // Timers run whenever time moves, so none is overdue; and none is further off than
      // the longest one (keepalive, 2MSL, the RTO ceiling).
      check(deadline > now);
      uint64_t longest = std::max({k.time_wait_ns, k.fin_wait2_timeout_ns, k.rtt.max_rto_ns,
                                   k.delayed_ack_ns, k.keepalive ? k.keepalive_idle_ns : 0,
                                   k.keepalive ? k.keepalive_interval_ns : 0});
      check(deadline - now <= longest);
    }
    if (c.state() == TcpState::kClosed) check(deadline == UINT64_MAX);
  }
};

TcpConfig config_from(uint8_t bits, uint8_t more) {
  TcpConfig config;
  config.sack = bits & 1;
  config.timestamps = bits & 2;
  config.window_scaling = bits & 4;
  config.nagle = bits & 8;
  config.congestion = (bits & 16) ? CongestionAlgorithm::kNewReno : CongestionAlgorithm::kCubic;
  static constexpr uint32_t kBuffers[] = {2048, 16 * 1024, 64 * 1024, 256 * 1024};
  config.send_buffer = kBuffers[(bits >> 5) & 3];
  config.receive_buffer = kBuffers[(more >> 4) & 3];
  if (more & 0x40) {  // autotuning, up to 4x each
    config.send_buffer_max = 4 * config.send_buffer;
    config.receive_buffer_max = 4 * config.receive_buffer;
  }
  static constexpr uint16_t kMss[] = {1460, 536, 64, 1000};
  config.mss = kMss[more & 3];
  if (bits & 0x80) {
    config.keepalive = true;
    config.keepalive_idle_ns = 10 * kSecond;
    config.keepalive_interval_ns = kSecond;
    config.keepalive_probes = 3;
  }
  if (more & 4) {  // give up sooner, so the failure paths are reached
    config.max_retransmits = 3;
    config.max_syn_retransmits = 2;
  }
  return config;
}

uint32_t iss_from(uint8_t choice, Input& in) {
  static constexpr uint32_t kIss[] = {1000,        0xfffffff0u, 0x7ffffff0u, 0,
                                      0xffff0000u, 5000,        1u << 31};
  return (choice & 7) < 7 ? kIss[choice & 7] : in.u32();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  Input in(data, size);
  Fuzzer f;
  f.a.index = 0;
  f.b.index = 1;
  f.a.endpoints = {kIpA, 40000, kIpB, 80};
  f.b.endpoints = {kIpB, 80, kIpA, 40000};
  const uint8_t a_bits = in.u8(), b_bits = in.u8(), more = in.u8(), iss_choice = in.u8();
  const uint8_t middlebox = in.u8();  // rewrites the MSS option of the SYN B sees
  f.a.config = config_from(a_bits, more);
  f.b.config = config_from(b_bits, uint8_t(more >> 2));
  f.a.iss = iss_from(iss_choice, in);
  f.b.iss = iss_from(uint8_t(iss_choice >> 3), in);

  // The handshake: A's SYN makes B (as the TCP layer does for a listener), the SYN-ACK
  // goes back, and A's ACK completes it unless the setup leaves B in SYN-RECEIVED.
  auto made = TcpConnection::connect(f.a.config, f.a.endpoints, f.a.iss, f, f.now);
  check(made.ok());
  f.a.connection = std::move(made).value();
  check(f.b.inbox.size() == 1);
  {
    Bytes wire = std::move(f.b.inbox.front());
    f.b.inbox.pop_front();
    auto parsed = parse_tcp(wire, kIpA, kIpB);
    check(parsed.ok());
    TcpSegment syn = *parsed;
    if (middlebox & 1) syn.options.mss = in.u16();
    if (middlebox & 2) syn.options.mss.reset();
    f.b.delivered_end = 0;
    auto accepted = TcpConnection::accept(f.b.config, f.b.endpoints, syn, f.b.iss, f, f.now);
    check(accepted.ok());
    f.b.connection = std::move(accepted).value();
  }
  f.now += 5 * kMs;
  check(f.deliver_front(f.a));
  check(f.a.connection->state() == TcpState::kEstablished);
  f.now += 5 * kMs;
  if (!(iss_choice & 0x40)) {
    check(f.deliver_front(f.b));
    check(f.b.connection->state() == TcpState::kEstablished);
  }
  if (iss_choice & 0x80) {  // some data both ways first
    f.write(f.a, 3000);
    f.write(f.b, 2000);
    f.deliver_all(64);
    f.advance(50 * kMs);
    f.deliver_all(64);
    f.read(f.a, 65536);
    f.read(f.b, 65536);
  }
  f.check_side(f.a);
  f.check_side(f.b);

  while (!in.empty()) {
    const uint8_t op = in.u8();
    Side& side = (op & 0x80) ? f.b : f.a;
    switch (op & 0x1f) {
      case 0:
      case 1:
      case 2:
        f.deliver_front(side);
        break;
      case 3:
        f.deliver_all(1 + in.u8());
        break;
      case 4:  // lost
        if (!side.inbox.empty()) side.inbox.pop_front();
        break;
      case 5:  // duplicated
        if (!side.inbox.empty()) side.inbox.push_back(side.inbox.front());
        break;
      case 6:  // reordered
        if (!side.inbox.empty()) {
          side.inbox.push_back(std::move(side.inbox.front()));
          side.inbox.pop_front();
        }
        break;
      case 7:
      case 8:
      case 9:
      case 10:
        f.inject(side, in);
        break;
      case 11:
      case 12: {
        static constexpr uint64_t kSteps[] = {1 * kMs, 10 * kMs,    40 * kMs,     200 * kMs,
                                              kSecond, 3 * kSecond, 30 * kSecond, 61 * kSecond};
        f.advance(kSteps[in.u8() % 8]);
        break;
      }
      case 13: {  // to the next deadline of either side
        uint64_t next = std::min(f.a.connection->next_deadline(), f.b.connection->next_deadline());
        if (next != UINT64_MAX) f.advance(next - f.now);
        break;
      }
      case 14:
      case 15:
      case 16: {
        static constexpr size_t kLengths[] = {1, 10, 100, 536, 1448, 3000, 20000, 70000};
        f.write(side, kLengths[in.u8() % 8]);
        break;
      }
      case 17:
      case 18: {
        static constexpr size_t kLengths[] = {1, 100, 1448, 1 << 20};
        f.read(side, kLengths[in.u8() % 4]);
        break;
      }
      case 19:
        side.shut = true;
        side.connection->shutdown_write(f.now);
        break;
      case 20:
        side.shut = true;
        side.connection->close(f.now);
        break;
      case 21:
        side.shut = true;
        side.connection->abort(f.now);
        break;
      case 22:
        side.connection->set_nagle(op & 0x40);
        break;
      case 23: {  // a burst: write, deliver, read (a connection at work between the attacks)
        f.write(side, 1 + in.u16() % 8192);
        f.deliver_all(32);
        f.read(f.peer_of(side), 1 << 20);
        break;
      }
      default:
        f.deliver_front(side);
        break;
    }
    (void)side.connection->take_events();
    (void)f.peer_of(side).connection->take_events();
    f.check_side(f.a);
    f.check_side(f.b);
  }
  return 0;
}
