// Fuzzes the whole stack core (StackCore, src/net/stack/) with frames: Ethernet and ARP,
// IPv4 with reassembly state, ICMP echo, a UDP echo socket, a TCP listener and a live
// connection established by a valid handshake before the fuzzed part. STYLE.md: random
// bytes are wrapped in valid outer layers, so each operation (first byte) is one of:
//   - a raw Ethernet frame, or a raw IPv4 packet in a valid frame;
//   - a transport payload (ICMP, UDP, TCP or another protocol) with ports aimed at the
//     live connection, the listener or the socket and its checksum fixed, in valid IPv4
//     and Ethernet;
//   - a TCP segment built around the live connection's current sequence numbers;
//   - a new connection's SYN or the ACK that completes it; an echo request or UDP
//     datagram (fragmented when large); a fuzzed set of fragments; ARP;
//   - time advances (VirtualBackend::advance, then tick()), the applications' calls
//     (write, shutdown, close, abort, UDP send), and a link that refuses frames.
// Every frame the core sends is parsed back and must be well formed (checksums, lengths
// within the MTU, ICMP errors within 576 bytes; fragments are reassembled and checked).
// At the end the tasks, sockets and the core are destroyed: the pool asserts that every
// buffer came back and ASan reports any other leak.
// The inputs that found bugs (now fixed) are in fuzz/regressions/stack/; the smoke runs
// them with the seeds.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "morgana/async/async.h"
#include "morgana/async/virtual_backend.h"
#include "morgana/net/arp.h"
#include "morgana/net/checksum.h"
#include "morgana/net/icmp.h"
#include "morgana/net/ipv4_input.h"
#include "morgana/net/stack/core.h"
#include "morgana/net/tcp_seq.h"
#include "morgana/net/udp.h"

namespace {

using namespace morgana;
using namespace morgana::net;
using Bytes = std::vector<uint8_t>;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSecond = 1000 * kMs;
constexpr uint16_t kTcpPort = 8000;  // the listener (the port of the captured exchange)
constexpr uint16_t kUdpPort = 7777;  // the echo socket (likewise)
constexpr uint16_t kPeerPort = 40000;
constexpr MacAddress kOurMac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
constexpr MacAddress kPeerMac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
constexpr Ipv4Address kOurIp = {{10, 0, 0, 2}};
constexpr Ipv4Address kPeerIp = {{10, 0, 0, 1}};

void check(bool condition) {
  if (!condition) __builtin_trap();
}

// clang 14 cannot emit -fsanitize=function's prologue for the split parts of these
// coroutines ("error: Cannot represent a difference across sections"): the harness's own
// coroutines opt out of that one check.
#define HARNESS_COROUTINE __attribute__((no_sanitize("function")))

// The input, consumed front to back; zeros once it runs out.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return at_ >= size_; }
  uint8_t u8() { return at_ < size_ ? data_[at_++] : 0; }
  uint16_t u16() { return uint16_t(u8() << 8 | u8()); }
  uint32_t u32() { return uint32_t(u16()) << 16 | u16(); }
  Bytes take(size_t n) {
    n = std::min(n, size_ - std::min(at_, size_));
    Bytes bytes(data_ + at_, data_ + at_ + n);
    at_ += n;
    return bytes;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

void put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = uint8_t(v >> 8);
  b[at + 1] = uint8_t(v);
}
void put32(Bytes& b, size_t at, uint32_t v) {
  put16(b, at, uint16_t(v >> 16));
  put16(b, at + 2, uint16_t(v));
}

// Writes the transport checksum at `at` (ICMP: over the message; UDP and TCP: with the
// pseudo-header). A no-op when the bytes are too short to hold it.
void fix_checksum(Bytes& body, IpProtocol protocol, Ipv4Address source, Ipv4Address destination) {
  const size_t at = protocol == IpProtocol::kIcmp ? 2 : protocol == IpProtocol::kUdp ? 6 : 16;
  if (body.size() < at + 2) return;
  put16(body, at, 0);
  uint16_t sum = protocol == IpProtocol::kIcmp
                     ? internet_checksum(body)
                     : ipv4_transport_checksum(source, destination, uint8_t(protocol), body);
  if (protocol == IpProtocol::kUdp && sum == 0) sum = 0xffff;  // RFC 768: 0 means none
  put16(body, at, sum);
}

Bytes ethernet(MacAddress destination, EtherType type, std::span<const uint8_t> payload,
               MacAddress source = kPeerMac) {
  Bytes frame(14);
  std::memcpy(frame.data(), destination.bytes.data(), 6);
  std::memcpy(frame.data() + 6, source.bytes.data(), 6);
  put16(frame, 12, uint16_t(type));
  frame.insert(frame.end(), payload.begin(), payload.end());
  return frame;
}

Bytes ipv4(const Ipv4SendParams& params, uint16_t flags_fragment,
           std::span<const uint8_t> payload) {
  Bytes packet(kIpv4HeaderSize);
  encode_ipv4_header(params, uint16_t(payload.size()), flags_fragment,
                     std::span(packet).first<kIpv4HeaderSize>());
  packet.insert(packet.end(), payload.begin(), payload.end());
  return packet;
}

Bytes tcp_segment(const TcpSegmentHeader& h, Ipv4Address source, Ipv4Address destination,
                  std::span<const uint8_t> payload) {
  std::array<uint8_t, kTcpMaxOptions> options{};
  const size_t n = encode_tcp_options(h.options, options);
  Bytes b(kTcpHeaderSize + n);
  put16(b, 0, h.source_port);
  put16(b, 2, h.destination_port);
  put32(b, 4, h.sequence);
  put32(b, 8, h.acknowledgment);
  b[12] = uint8_t((kTcpHeaderSize + n) / 4 << 4);
  b[13] = h.flags;
  put16(b, 14, h.window);
  put16(b, 18, h.urgent_pointer);
  std::memcpy(b.data() + kTcpHeaderSize, options.data(), n);
  b.insert(b.end(), payload.begin(), payload.end());
  fix_checksum(b, IpProtocol::kTcp, source, destination);
  return b;
}

// What the stack's side of the live connection showed on the wire.
struct Observed {
  bool synced = false;
  uint32_t iss = 0;
  uint32_t sent_max = 0;
  uint32_t last_ack = 0;
  uint32_t window = 0;  // scaled
  uint8_t wscale = 0;
  uint32_t tsval = 0;
};

class Harness final : public LinkOutput {
 public:
  Harness() = default;

  // --- What the stack sends ---------------------------------------------------------
  Result<void> transmit_frame(std::span<const uint8_t> frame) override {
    if (link_full_) return Error{Errc::kAgain, "link full"};
    ++frames_out_;
    check(frame.size() <= size_t(mtu_) + kEthernetHeaderSize);
    auto parsed = parse_ethernet(frame);
    check(parsed.ok());
    check(parsed->source == kOurMac && parsed->tags == 0);
    if (parsed->ethertype == uint16_t(EtherType::kArp)) {
      auto arp = parse_arp(parsed->payload);
      check(arp.ok());
      check(arp->sender_mac == kOurMac && arp->sender_ip == kOurIp);
      // A neighbour that answers (when the input asked for one): the reply goes in after
      // this step, never from inside transmit_frame().
      if (arp_answers_ && arp->operation == ArpOperation::kRequest && arp->target_ip != kOurIp &&
          replies_.size() < 16) {
        const uint8_t host = arp->target_ip.bytes[3];
        const MacAddress mac = {{0x02, 0x00, 0x00, 0x00, 0x01, host}};
        std::array<uint8_t, sizeof(ArpHeader)> reply{};
        encode_arp(
            {ArpOperation::kReply, host == 1 ? kPeerMac : mac, arp->target_ip, kOurMac, kOurIp},
            reply);
        replies_.push_back(ethernet(kOurMac, EtherType::kArp, reply, host == 1 ? kPeerMac : mac));
      }
      return ok();
    }
    check(parsed->ethertype == uint16_t(EtherType::kIpv4));
    auto ip = parse_ipv4(parsed->payload);
    check(ip.ok());
    check(ip->header.size() + ip->payload.size() <= mtu_ && ip->source == kOurIp && ip->ttl != 0);
    if (ip->is_fragment()) {
      // Reassembled as the peer would: the whole datagram must then be valid.
      if (ip->destination == kPeerIp) {
        if (auto whole = peer_input_->receive(parsed->payload, now())) check_transport(*whole);
      }
      return ok();
    }
    check_transport(*ip);
    return ok();
  }

  void check_transport(const Ipv4Datagram& ip) {
    switch (IpProtocol(ip.protocol)) {
      case IpProtocol::kIcmp: {
        auto icmp = parse_icmp(ip.payload);
        check(icmp.ok());
        // RFC 1812 §4.3.2.3 / RFC 1122: an ICMP error stays within 576 bytes.
        if (icmp->type != uint8_t(IcmpType::kEchoReply))
          check(ip.header.size() + ip.payload.size() <= 576);
        return;
      }
      case IpProtocol::kUdp:
        check(parse_udp(ip.payload, ip.source, ip.destination).ok());
        return;
      case IpProtocol::kTcp: {
        auto segment = parse_tcp(ip.payload, ip.source, ip.destination);
        check(segment.ok());
        check(segment->payload.size() + segment->header_size + ip.header.size() <= mtu_);
        observe(ip, *segment);
        return;
      }
      default:
        check(false);  // the stack sends nothing else
    }
  }

  void observe(const Ipv4Datagram& ip, const TcpSegment& segment) {
    if (ip.destination != kPeerIp || segment.has(kTcpRst)) return;
    if (segment.has(kTcpSyn) && segment.has(kTcpAck) && handshakes_.size() < 4096)
      handshakes_[segment.destination_port] = segment.sequence;
    if (segment.has(kTcpSyn) && !segment.has(kTcpAck) && active_.size() < 64)
      active_[segment.source_port] = {segment.sequence, segment.destination_port};
    if (segment.destination_port != kPeerPort || segment.source_port != kTcpPort) return;
    Observed& o = live_;
    const bool syn = segment.has(kTcpSyn);
    if (syn) {
      o.synced = true;
      o.iss = segment.sequence;
      o.sent_max = segment.sequence;
      o.wscale = segment.options.window_scale.value_or(0);
    }
    const uint32_t end =
        segment.sequence + uint32_t(segment.payload.size()) + syn + segment.has(kTcpFin);
    if (seq_gt(end, o.sent_max)) o.sent_max = end;
    if (segment.has(kTcpAck)) o.last_ack = segment.acknowledgment;
    o.window = syn ? segment.window : uint32_t(segment.window) << o.wscale;
    if (segment.options.timestamps) o.tsval = segment.options.timestamps->value;
  }

  // --- Setup --------------------------------------------------------------------------
  bool setup(Input& in) {
    const uint8_t bits = in.u8(), more = in.u8();
    static constexpr uint16_t kMtus[] = {1500, 1500, 576, 1280};
    mtu_ = kMtus[more & 3];
    CoreConfig config;
    config.mac = kOurMac;
    config.mtu = mtu_;
    config.options.ipv4 = Ipv4Prefix{kOurIp, 24};
    if (more & 4) config.options.gateway = Ipv4Address{{10, 0, 0, 254}};
    config.options.sack = bits & 1;
    config.options.timestamps = bits & 2;
    config.options.window_scaling = bits & 4;
    config.options.congestion =
        (bits & 8) ? CongestionAlgorithm::kNewReno : CongestionAlgorithm::kCubic;
    static constexpr uint32_t kBuffers[] = {4096, 65536, 256 * 1024, 16384};
    config.options.tcp_send_buffer = kBuffers[(more >> 3) & 3];
    config.options.tcp_receive_buffer = kBuffers[(more >> 5) & 3];
    config.options.max_connections = (more & 0x80) ? 8 : 1024;
    config.buffers.count = (bits & 0x10) ? 24 : 256;  // a small pool runs out
    config.seed[0] = 1;
    arp_answers_ = bits & 0x20;
    auto core = StackCore::create(config, *this);
    check(core.ok());
    core_ = std::move(core).value();
    peer_input_.emplace(std::move(Ipv4Input::create({{kPeerIp, 24}, {}})).value());

    auto socket = core_->udp().bind(kUdpPort);
    check(socket.ok());
    udp_ = std::move(socket).value();
    auto listener = loop_.run(core_->tcp().listen(kTcpPort));
    check(listener.ok());
    listener_ = std::move(listener).value();
    async::spawn(udp_echo(&udp_, &echo_udp_));
    async::spawn(acceptor(this));
    core_->start();

    // The live connection: the peer introduces itself (ARP), sends its SYN with the
    // options the input picked, and acknowledges the SYN-ACK.
    std::array<uint8_t, sizeof(ArpHeader)> arp{};
    encode_arp({ArpOperation::kRequest, kPeerMac, kPeerIp, MacAddress{}, kOurIp}, arp);
    receive(ethernet(MacAddress::broadcast(), EtherType::kArp, arp));
    peer_iss_ = in.u32();
    peer_next_ = peer_iss_ + 1;
    TcpSegmentHeader syn;
    syn.source_port = kPeerPort;
    syn.destination_port = kTcpPort;
    syn.sequence = peer_iss_;
    syn.flags = kTcpSyn;
    syn.window = 65535;
    syn.options.mss = (bits & 0x40) ? 536 : 1460;
    if (more & 0x40) syn.options.window_scale = uint8_t(in.u8() % 16);
    syn.options.sack_permitted = bits & 0x80;
    if (bits & 0x40) syn.options.timestamps = TcpTimestamps{peer_ts_, 0};
    peer_ts_on_ = syn.options.timestamps.has_value();
    peer_wscale_ = syn.options.window_scale.value_or(0);
    send_tcp(syn, {});
    if (!live_.synced) return false;
    TcpSegmentHeader ack = peer_header(kTcpAck);
    send_tcp(ack, {});
    settle();
    return flows_.size() == 1;
  }

  // --- Helpers the operations use -----------------------------------------------------
  uint64_t now() { return backend_.now_ns(); }

  void receive(std::span<const uint8_t> frame) {
    if (frame.size() > 2048) return;
    Bytes copy(frame.begin(), frame.end());  // exact size, for ASan
    core_->receive_frame(copy);
  }

  // Lets the tasks run, then feeds the replies of answering neighbours.
  void settle() {
    loop_.run_until_idle();
    for (int round = 0; round < 4 && !replies_.empty(); ++round) {
      auto replies = std::move(replies_);
      replies_.clear();
      for (const Bytes& frame : replies) receive(frame);
      loop_.run_until_idle();
    }
  }

  void send_ip(IpProtocol protocol, std::span<const uint8_t> body, Ipv4Address source = kPeerIp,
               Ipv4Address destination = kOurIp, MacAddress mac = kOurMac, uint16_t id = 0) {
    Ipv4SendParams params{source, destination, protocol, id};
    receive(ethernet(mac, EtherType::kIpv4, ipv4(params, 0, body)));
  }

  void send_tcp(const TcpSegmentHeader& header, std::span<const uint8_t> payload) {
    send_ip(IpProtocol::kTcp, tcp_segment(header, kPeerIp, kOurIp, payload));
  }

  // A segment of the live connection as the peer would send it next.
  TcpSegmentHeader peer_header(uint8_t flags) {
    TcpSegmentHeader h;
    h.source_port = kPeerPort;
    h.destination_port = kTcpPort;
    h.sequence = peer_next_;
    h.acknowledgment = live_.sent_max;
    h.flags = flags;
    h.window = uint16_t(std::min<uint32_t>(65535, (256u * 1024) >> peer_wscale_));
    if (peer_ts_on_) h.options.timestamps = TcpTimestamps{++peer_ts_, live_.tsval};
    return h;
  }

  // Sends `body` as a datagram, in fragments of at most the MTU when it is larger.
  void send_datagram(IpProtocol protocol, std::span<const uint8_t> body, uint16_t id) {
    const size_t step = (size_t(mtu_) - kIpv4HeaderSize) & ~size_t{7};
    Ipv4SendParams params{kPeerIp, kOurIp, protocol, id};
    for (size_t at = 0; at < body.size() || at == 0; at += step) {
      const size_t n = std::min(step, body.size() - at);
      const bool more = at + n < body.size();
      const uint16_t flags = uint16_t((more ? kIpv4FlagMoreFragments : 0) | (at / 8));
      receive(ethernet(kOurMac, EtherType::kIpv4, ipv4(params, flags, body.subspan(at, n))));
      if (!more) break;
    }
  }

  // --- The applications ---------------------------------------------------------------
  HARNESS_COROUTINE static async::Task<void> udp_echo(UdpSocket* socket, bool* echo) {
    Bytes buffer(65536);
    for (;;) {
      auto got = co_await socket->receive(buffer);
      if (!got) co_return;
      if (*echo) (void)socket->send_to(got->from, {buffer.data(), got->size});
    }
  }

  HARNESS_COROUTINE static async::Task<void> acceptor(Harness* h) {
    for (;;) {
      auto flow = co_await h->listener_.accept();
      if (!flow) co_return;
      if (h->flows_.size() >= 8) continue;  // dropped: closed gracefully
      h->flows_.push_back(std::make_unique<TcpFlow>(std::move(flow).value()));
      async::spawn(reader(h, h->flows_.back().get()));
    }
  }

  HARNESS_COROUTINE static async::Task<void> connector(Harness* h, uint16_t port) {
    auto flow = co_await h->core_->tcp().connect(kPeerIp, port);
    if (!flow || h->flows_.size() >= 8) co_return;
    h->flows_.push_back(std::make_unique<TcpFlow>(std::move(flow).value()));
    async::spawn(reader(h, h->flows_.back().get()));
  }

  HARNESS_COROUTINE static async::Task<void> reader(Harness* h, TcpFlow* flow) {
    Bytes buffer(4096);
    for (;;) {
      auto n = co_await flow->read(buffer);
      if (!n || *n == 0) co_return;
      h->bytes_read_ += *n;
      if (h->echo_tcp_ && !(co_await flow->write({buffer.data(), *n}))) co_return;
    }
  }

  HARNESS_COROUTINE static async::Task<void> writer(TcpFlow* flow, size_t length, size_t* active) {
    Bytes bytes(length, 0x5a);
    (void)co_await flow->write(bytes);
    --*active;
  }

  // --- The operations -----------------------------------------------------------------
  void live_segment(Input& in) {
    const uint8_t control = in.u8(), kind = in.u8();
    TcpSegmentHeader h = peer_header(kTcpAck);
    const uint32_t seq_bases[] = {live_.last_ack, peer_next_, peer_iss_ + 1, live_.last_ack};
    const uint32_t base = seq_bases[kind & 3];
    const uint32_t window = std::max<uint32_t>(live_.window, 1);
    switch ((kind >> 2) & 7) {
      case 0:
        h.sequence = base;
        break;
      case 1:
        h.sequence = base + in.u16() % window;
        break;
      case 2:
        h.sequence = base + window - 2 + in.u8() % 4;
        break;
      case 3:
        h.sequence = base - 1 - in.u16();
        break;
      case 4:
        h.sequence = base + 0x80000000u - 8 + in.u8() % 16;
        break;
      case 5:
        h.sequence = base + uint32_t(int32_t(int8_t(in.u8())));
        break;
      case 6:
        h.sequence = in.u32();
        break;
      default:
        h.sequence = base - 1;
        break;
    }
    switch (control & 7) {
      case 0:
      case 1:
        break;  // everything the stack sent
      case 2:
        h.acknowledgment -= in.u16() % 4096;
        break;
      case 3:
        h.acknowledgment += 1 + in.u8() % 16;
        break;
      case 4:
        h.acknowledgment = in.u32();
        break;
      default:
        h.acknowledgment = live_.iss + 1 + uint32_t(in.u8()) * 64;
        break;
    }
    const uint8_t flags = in.u8();
    h.flags = (control & 8) ? flags : uint8_t(kTcpAck | (flags & (kTcpFin | kTcpPsh)));
    if (control & 0x10) h.window = in.u16();
    const uint8_t options = in.u8();
    if (options & 1) {
      h.options.timestamps =
          TcpTimestamps{(options & 0x40) ? in.u32() : peer_ts_ + uint32_t(int32_t(int8_t(in.u8()))),
                        (options & 0x80) ? in.u32() : live_.tsval};
    } else if (options & 0x40) {
      h.options.timestamps.reset();
    }
    h.options.sack_count =
        uint8_t(std::min<size_t>((options >> 1) & 7, h.options.timestamps ? 3 : 4));
    for (size_t i = 0; i < h.options.sack_count; ++i) {
      const uint32_t left = h.acknowledgment + uint32_t(in.u16()) * 8;
      h.options.sack[i] = {left, left + 1 + uint32_t(in.u16())};
    }
    const uint16_t length_choice = in.u16();
    static constexpr size_t kLengths[] = {0, 1, 100, 536, 1000, 1448, 1460, 20};
    size_t length =
        (length_choice & 0x8000) ? (length_choice & 0x7fff) % 1500 : kLengths[length_choice & 7];
    length = std::min(length, size_t(mtu_) - 80);
    Bytes payload = (options & 0x20) ? in.take(length) : Bytes(length, 0x61);
    if (h.sequence == peer_next_ && !(h.flags & (kTcpSyn | kTcpRst)))
      peer_next_ += uint32_t(payload.size()) + ((h.flags & kTcpFin) ? 1 : 0);
    send_tcp(h, payload);
  }

  // A transport payload from the input, aimed (ports, addresses) and checksummed.
  void aimed(Input& in) {
    const uint8_t target = in.u8(), where = in.u8();
    Bytes body = in.take(in.u16() % 1600);
    static constexpr Ipv4Address kSources[] = {
        kPeerIp, {{10, 0, 0, 7}}, {{192, 168, 1, 1}}, {{10, 0, 0, 255}}};
    static constexpr Ipv4Address kDestinations[] = {
        kOurIp, kOurIp, {{255, 255, 255, 255}}, {{10, 0, 0, 255}}};
    const Ipv4Address source = kSources[where & 3], destination = kDestinations[(where >> 2) & 3];
    const MacAddress mac = (where & 0x10) ? MacAddress::broadcast() : kOurMac;
    IpProtocol protocol = IpProtocol::kTcp;
    switch (target & 7) {
      case 0:  // ICMP (an echo request when the type byte says so)
        protocol = IpProtocol::kIcmp;
        if (body.size() >= 8 && (target & 8)) {
          body[0] = uint8_t(IcmpType::kEchoRequest);
          body[1] = 0;
        }
        break;
      case 1:  // UDP to the socket or an unbound port
        protocol = IpProtocol::kUdp;
        if (body.size() >= 8) {
          if (!(target & 8)) put16(body, 2, kUdpPort);
          if (target & 0x10) put16(body, 4, uint16_t(body.size()));
        }
        break;
      case 2:  // TCP on the live connection
        if (body.size() >= 20) {
          put16(body, 0, kPeerPort);
          put16(body, 2, kTcpPort);
          if (target & 8) put32(body, 4, peer_next_);
          if (target & 0x10) put32(body, 8, live_.sent_max);
          if (target & 0x20) body[12] = uint8_t((body[12] & 0xf0) < 0x50 ? 0x50 : body[12]);
        }
        break;
      case 3:  // TCP to the listener from another port
        if (body.size() >= 20) {
          put16(body, 0, uint16_t(1024 + (target >> 3)));
          put16(body, 2, kTcpPort);
        }
        break;
      case 4:
        break;  // TCP anywhere
      default:  // another protocol: answered with protocol unreachable
        protocol = IpProtocol(uint8_t(target >> 3) * 8 + 3);
        break;
    }
    fix_checksum(body, protocol, source, destination);
    send_ip(protocol, body, source, destination, mac, uint16_t(where >> 5));
  }

  // A new connection from port 1024 + k: its SYN (options from the input), or the ACK
  // that completes the handshake, maybe with data and FIN.
  void handshake(Input& in) {
    const uint8_t control = in.u8();
    const uint16_t port = uint16_t(1024 + (in.u8() & 0x3f));
    TcpSegmentHeader h;
    h.source_port = port;
    h.destination_port = kTcpPort;
    h.window = 65535;
    const uint32_t iss = 7777u * port;
    if (!(control & 1)) {
      h.sequence = iss;
      h.flags = kTcpSyn;
      if (control & 2) h.options.mss = in.u16();
      if (control & 4) h.options.window_scale = uint8_t(in.u8() % 16);
      h.options.sack_permitted = control & 8;
      if (control & 0x10) h.options.timestamps = TcpTimestamps{in.u32(), 0};
      send_tcp(h, {});
      return;
    }
    if ((control & 0x20) && !active_.empty()) {
      // The peer's answer to one of the stack's active opens: SYN-ACK, or RST (refused).
      auto it = active_.begin();
      std::advance(it, in.u8() % active_.size());
      h.source_port = it->second.port;
      h.destination_port = it->first;
      h.sequence = in.u32();
      h.acknowledgment = it->second.seq + ((control & 2) ? 0 : 1);
      h.flags = (control & 0x40) ? uint8_t(kTcpRst | kTcpAck) : uint8_t(kTcpSyn | kTcpAck);
      if (control & 4) h.options.mss = in.u16();
      if (control & 8) h.options.window_scale = uint8_t(in.u8() % 16);
      h.options.sack_permitted = control & 0x10;
      if (control & 0x80) h.options.timestamps = TcpTimestamps{in.u32(), in.u32()};
      send_tcp(h, {});
      return;
    }
    auto found = handshakes_.find(port);
    h.sequence = iss + 1;
    h.acknowledgment = found != handshakes_.end() ? found->second + 1 : in.u32();
    h.flags = uint8_t(kTcpAck | ((control & 2) ? kTcpFin : 0) | ((control & 4) ? kTcpRst : 0));
    Bytes payload = (control & 8) ? in.take(in.u8()) : Bytes{};
    send_tcp(h, payload);
  }

  void echo_request(Input& in) {
    const uint8_t control = in.u8();
    static constexpr size_t kSizes[] = {0, 56, 1472, 1473, 3000, 8000, 65507, 20000};
    Bytes body(8 + kSizes[control & 7]);
    body[0] = uint8_t(IcmpType::kEchoRequest);
    put32(body, 4, in.u32());
    for (size_t i = 8; i < body.size(); ++i) body[i] = uint8_t(i);
    fix_checksum(body, IpProtocol::kIcmp, kPeerIp, kOurIp);
    send_datagram(IpProtocol::kIcmp, body, uint16_t(in.u8()));
  }

  void udp_datagram(Input& in) {
    const uint8_t control = in.u8();
    static constexpr size_t kSizes[] = {0, 1, 512, 1472, 1473, 4000, 65507, 9000};
    Bytes body(8 + kSizes[control & 7], 0x75);
    put16(body, 0, 5000);
    put16(body, 2, (control & 8) ? uint16_t(in.u16()) : kUdpPort);
    put16(body, 4, uint16_t(body.size()));
    fix_checksum(body, IpProtocol::kUdp, kPeerIp, kOurIp);
    send_datagram(IpProtocol::kUdp, body, uint16_t(in.u8()));
  }

  // Fragments of one datagram, at offsets and lengths the input picks (overlapping,
  // missing, repeated), in its order.
  void fragments(Input& in) {
    const uint8_t control = in.u8();
    const uint16_t id = uint16_t(control >> 4);
    const IpProtocol protocol = (control & 1) ? IpProtocol::kUdp : IpProtocol::kIcmp;
    Bytes body(8 + 8 * size_t(in.u8()) + (in.u8() & 7), 0x33);
    if (protocol == IpProtocol::kUdp) {
      put16(body, 0, 5000);
      put16(body, 2, kUdpPort);
      put16(body, 4, uint16_t(body.size()));
    } else {
      body[0] = uint8_t(IcmpType::kEchoRequest);
    }
    if (control & 2) {
      Bytes raw = in.take(body.size() - 8);
      std::copy(raw.begin(), raw.end(), body.begin() + 8);
    }
    fix_checksum(body, protocol, kPeerIp, kOurIp);
    const size_t count = 1 + in.u8() % 8;
    Ipv4SendParams params{kPeerIp, kOurIp, protocol, id};
    for (size_t i = 0; i < count; ++i) {
      const uint8_t shape = in.u8();
      const size_t offset = size_t(in.u8()) * 8;
      size_t length = std::min<size_t>((size_t(in.u8()) + 1) * 8, 1480);
      if (shape & 1) length -= shape >> 5;  // a ragged (last or bad) fragment
      const bool more = !(shape & 2);
      Bytes part(length);
      for (size_t j = 0; j < length; ++j)
        part[j] = offset + j < body.size() ? body[offset + j] : ((shape & 4) ? uint8_t(j) : 0x33);
      uint16_t flags = uint16_t((more ? kIpv4FlagMoreFragments : 0) | (offset / 8));
      if (shape & 8) flags |= kIpv4FlagDontFragment;
      receive(ethernet(kOurMac, EtherType::kIpv4, ipv4(params, flags, part)));
    }
  }

  void arp(Input& in) {
    const uint8_t control = in.u8();
    std::array<uint8_t, sizeof(ArpHeader)> packet{};
    static constexpr Ipv4Address kSenders[] = {kPeerIp, {{10, 0, 0, 9}}, kOurIp, {{0, 0, 0, 0}}};
    const Ipv4Address sender = kSenders[control & 3];
    const MacAddress mac = {{0x02, 0x00, 0x00, 0x00, 0x01, uint8_t(in.u8() & 0xfe)}};
    const Ipv4Address target = (control & 4) ? kOurIp : Ipv4Address{{10, 0, 0, in.u8()}};
    encode_arp({(control & 8) ? ArpOperation::kReply : ArpOperation::kRequest, mac, sender,
                MacAddress{}, target},
               packet);
    Bytes body(packet.begin(), packet.end());
    if (control & 0x10) {  // fuzzed bytes over the packet
      Bytes raw = in.take(in.u8() % 40);
      body.resize(std::max(body.size(), raw.size()));
      std::copy(raw.begin(), raw.end(), body.begin());
    }
    receive(
        ethernet((control & 0x20) ? kOurMac : MacAddress::broadcast(), EtherType::kArp, body, mac));
  }

  void advance(Input& in) {
    static constexpr uint64_t kSteps[] = {1 * kMs,     40 * kMs,     200 * kMs,    kSecond,
                                          3 * kSecond, 30 * kSecond, 61 * kSecond, 0};
    uint64_t step = kSteps[in.u8() % 8];
    if (step == 0) {
      const uint64_t next = core_->next_deadline();
      step = next == UINT64_MAX || next <= now() ? 1 : std::min(next - now(), 600 * kSecond);
    }
    backend_.advance(step);
    core_->tick();
    // Every timer that was due has run: none is left overdue (a driver would spin).
    check(core_->next_deadline() > now());
  }

  void application(Input& in) {
    const uint8_t control = in.u8();
    TcpFlow* flow = flows_.empty() ? nullptr : flows_[(control >> 4) % flows_.size()].get();
    switch (control & 15) {
      case 0:
      case 1:
        if (flow && *flow && writers_ < 4) {
          static constexpr size_t kSizes[] = {1, 100, 1460, 5000, 70000, 300000, 10, 2000};
          ++writers_;
          async::spawn(writer(flow, kSizes[in.u8() % 8], &writers_));
        }
        break;
      case 2:
        if (flow) (void)flow->shutdown_write();
        break;
      case 3:
        if (flow) flow->close();
        break;
      case 4:
        if (flow) flow->abort();
        break;
      case 5:
        if (flow) flow->set_nodelay(control & 0x10);
        break;
      case 6:
        echo_tcp_ = !echo_tcp_;
        break;
      case 7:
        echo_udp_ = !echo_udp_;
        break;
      case 8: {
        static constexpr Ipv4Address kTo[] = {
            kPeerIp, {{10, 0, 0, 9}}, {{8, 8, 8, 8}}, {{10, 0, 0, 255}}};
        Bytes payload(size_t(in.u16()) % 70000, 0x21);
        (void)udp_.send_to({kTo[in.u8() & 3], 9}, payload);
        break;
      }
      case 9:
        link_full_ = !link_full_;
        if (!link_full_) (void)core_->flush();
        break;
      case 10:
        arp_answers_ = !arp_answers_;
        break;
      case 11:
        listener_.close();
        break;
      case 12:
        core_->print_stats();
        break;
      case 13:
        async::spawn(connector(this, uint16_t(9000 + in.u8() % 4)));
        break;
      default:
        break;
    }
  }

  void step(Input& in) {
    const uint8_t op = in.u8();
    switch (op % 16) {
      case 0: {  // a raw frame
        Bytes frame = in.take(in.u16() % 1600);
        receive(frame);
        break;
      }
      case 1: {  // a raw IPv4 packet in a valid frame (header checksum fixed on request)
        Bytes packet = in.take(in.u16() % 1600);
        if ((op & 0x10) && packet.size() >= kIpv4HeaderSize) {
          const size_t header = std::min(packet.size(), size_t(packet[0] & 0x0f) * 4);
          put16(packet, 10, 0);
          put16(packet, 10, internet_checksum({packet.data(), header}));
        }
        receive(ethernet(kOurMac, EtherType::kIpv4, packet));
        break;
      }
      case 2:
      case 3:
        aimed(in);
        break;
      case 4:
      case 5:
      case 6:
      case 7:
        live_segment(in);
        break;
      case 8:
        handshake(in);
        break;
      case 9:
        echo_request(in);
        break;
      case 10:
        udp_datagram(in);
        break;
      case 11:
        fragments(in);
        break;
      case 12:
        arp(in);
        break;
      case 13:
      case 14:
        advance(in);
        break;
      default:
        application(in);
        break;
    }
    settle();
    check(core_->pool().stats().in_use <= core_->pool().config().count);
    const TcpConfig& tcp = core_->tcp().config().connection;
    core_->tcp().for_each_connection([&](const TcpConnection& c) {
      // Autotuning may grow either buffer up to its maximum.
      check(c.readable() <= std::max(tcp.receive_buffer, tcp.receive_buffer_max) &&
            c.writable() <= std::max(tcp.send_buffer, tcp.send_buffer_max));
      check(c.mss() <= uint32_t(mtu_) - 40);
      if (c.state() == TcpState::kClosed) check(c.next_deadline() == UINT64_MAX);
    });
    check(core_->tcp().connections() <= core_->tcp().config().max_connections);
  }

  // Stops the tasks, closes everything, and destroys the core: its pool asserts that
  // every buffer was returned.
  void finish() {
    loop_.request_stop();
    loop_.run_until_idle();
    flows_.clear();
    listener_.close();
    udp_.close();
    core_.reset();
  }

 private:
  async::VirtualBackend backend_{1000 * kSecond};
  async::Loop loop_{backend_};
  std::unique_ptr<StackCore> core_;
  std::optional<Ipv4Input> peer_input_;
  UdpSocket udp_;
  TcpListener listener_;
  std::vector<std::unique_ptr<TcpFlow>> flows_;
  std::vector<Bytes> replies_;
  std::unordered_map<uint16_t, uint32_t> handshakes_;  // peer port -> the stack's ISS
  struct ActiveOpen {
    uint32_t seq;   // the stack's ISS
    uint16_t port;  // the peer's port
  };
  std::unordered_map<uint16_t, ActiveOpen> active_;  // the stack's port -> its SYN
  Observed live_;
  uint32_t peer_iss_ = 0;
  uint32_t peer_next_ = 0;
  uint32_t peer_ts_ = 100;
  bool peer_ts_on_ = false;
  uint8_t peer_wscale_ = 0;
  uint16_t mtu_ = 1500;
  bool link_full_ = false;
  bool arp_answers_ = false;
  bool echo_udp_ = true;
  bool echo_tcp_ = false;
  size_t writers_ = 0;
  uint64_t frames_out_ = 0;
  uint64_t bytes_read_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 32768) return 0;
  Input in(data, size);
  auto harness = std::make_unique<Harness>();
  check(harness->setup(in));
  while (!in.empty()) harness->step(in);
  harness->finish();
  return 0;
}
