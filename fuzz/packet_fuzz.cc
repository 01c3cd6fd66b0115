// Fuzzes the receive path of the net stack's codecs: Ethernet, ARP (through the cache),
// IPv4 (through Ipv4Input, reassembly included), ICMP (echo replies and unreachables are
// built from what parsed), UDP and TCP with options. STYLE.md: random bytes are wrapped
// in valid outer layers so they reach deep code. The first byte picks the mode:
//   0: the rest is a whole Ethernet frame;
//   1: the rest is a transport segment (next byte: 0 ICMP, 1 UDP, 2 TCP) whose checksum
//      the fuzzer fixes, sent inside a valid IPv4 header and Ethernet frame;
//   2: the rest is a TCP option list, which must survive encode -> parse unchanged.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "morgana/net/arp_cache.h"
#include "morgana/net/checksum.h"
#include "morgana/net/ethernet.h"
#include "morgana/net/icmp.h"
#include "morgana/net/ipv4_input.h"
#include "morgana/net/tcp_header.h"
#include "morgana/net/udp.h"

namespace {

using namespace morgana::net;

const MacAddress kOurMac = {{0x02, 0x00, 0x00, 0x77, 0x00, 0x01}};
const MacAddress kPeerMac = {{0x02, 0x00, 0x00, 0x77, 0x00, 0x02}};
const Ipv4Address kOurIp = {{10, 77, 0, 1}};
const Ipv4Address kPeerIp = {{10, 77, 0, 2}};

void check(bool condition) {
  if (!condition) __builtin_trap();
}

bool inside(std::span<const uint8_t> part, std::span<const uint8_t> whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

struct Stack {
  Stack()
      : pool(std::move(BufferPool::create({16, 2048, 128})).value()),
        arp(std::move(ArpCache::create({{kOurMac, kNoVlan}, {kOurIp, 24}}, *pool, link)).value()),
        ip(std::move(Ipv4Input::create({{kOurIp, 24}, {4, 16 * 1024, 16, 30'000'000'000}}))
               .value()) {}

  void transport(const Ipv4Datagram& datagram, bool link_broadcast) {
    const bool broadcast = datagram.destination != kOurIp;
    switch (IpProtocol(datagram.protocol)) {
      case IpProtocol::kIcmp: {
        auto message = icmp.accept(parse_icmp(datagram.payload));
        if (!message || message->type != uint8_t(IcmpType::kEchoRequest)) return;
        auto header = echo_reply_header(*message);
        Ipv4SendParams params{kOurIp, datagram.source, IpProtocol::kIcmp, 1};
        PacketQueue out;
        if (ipv4_send(params, {header, message->body}, 1500, *pool, out, ip.counters()).ok()) {
          // The reply must reassemble to a valid echo reply with the same data.
          check(!out.empty());
        }
        return;
      }
      case IpProtocol::kUdp: {
        auto segment =
            udp.accept(parse_udp(datagram.payload, datagram.source, datagram.destination));
        if (!segment) return;
        check(inside(segment->payload, datagram.payload));
        if (icmp_error_allowed(datagram, broadcast,
                               link_broadcast ? LinkBroadcast::kYes : LinkBroadcast::kNo)) {
          uint8_t message[kIcmpErrorMax];
          size_t n = build_destination_unreachable(UnreachableCode::kPort, datagram,
                                                   IcmpQuote::kUpTo576, message);
          check(n <= sizeof(message));
          check(parse_icmp(std::span<const uint8_t>(message, n)).ok());
        }
        return;
      }
      case IpProtocol::kTcp: {
        auto segment =
            tcp.accept(parse_tcp(datagram.payload, datagram.source, datagram.destination));
        if (!segment) return;
        check(inside(segment->payload, datagram.payload));
        check(segment->header_size >= 20 && segment->header_size <= 60);
        return;
      }
      default:
        ip.counters().drop(Ipv4Drop::kUnknownProtocol);
    }
  }

  void receive(std::span<const uint8_t> frame) {
    auto parsed = ethernet_receive({kOurMac, kNoVlan}, frame, link);
    if (!parsed) return;
    check(inside(parsed->payload, frame));
    if (parsed->ethertype == uint16_t(EtherType::kArp)) {
      arp.receive(parsed->payload, 0);
      return;
    }
    auto datagram = ip.receive(parsed->payload, 0);
    if (!datagram) return;
    check(datagram->reassembled || inside(datagram->payload, parsed->payload));
    transport(*datagram, parsed->destination.is_broadcast());
  }

  EthernetCounters link;
  std::unique_ptr<BufferPool> pool;
  ArpCache arp;
  Ipv4Input ip;
  IcmpCounters icmp;
  UdpCounters udp;
  TcpCounters tcp;
};

// Mode 1: a valid Ethernet + IPv4 wrapper around `segment`, its checksum fixed.
std::vector<uint8_t> wrap(uint8_t selector, std::span<const uint8_t> segment) {
  static constexpr IpProtocol kProtocols[] = {IpProtocol::kIcmp, IpProtocol::kUdp,
                                              IpProtocol::kTcp};
  const IpProtocol protocol = kProtocols[selector % 3];
  std::vector<uint8_t> body(segment.begin(), segment.end());
  const size_t checksum_at = protocol == IpProtocol::kIcmp  ? 2
                             : protocol == IpProtocol::kUdp ? 6
                                                            : 16;
  if (body.size() >= checksum_at + 2) {
    body[checksum_at] = body[checksum_at + 1] = 0;
    uint16_t sum = protocol == IpProtocol::kIcmp
                       ? internet_checksum(body)
                       : ipv4_transport_checksum(kPeerIp, kOurIp, uint8_t(protocol), body);
    body[checksum_at] = uint8_t(sum >> 8);
    body[checksum_at + 1] = uint8_t(sum);
  }
  std::vector<uint8_t> frame(14 + 20);
  EthernetHeader eth{kOurMac, kPeerMac, Be16(uint16_t(EtherType::kIpv4))};
  std::memcpy(frame.data(), &eth, sizeof(eth));
  Ipv4SendParams params{kPeerIp, kOurIp, protocol, 7};
  encode_ipv4_header(params, uint16_t(body.size()), 0, std::span(frame).subspan(14).first<20>());
  frame.insert(frame.end(), body.begin(), body.end());
  return frame;
}

void options_round_trip(std::span<const uint8_t> bytes) {
  auto parsed = parse_tcp_options(bytes);
  if (!parsed) return;
  std::array<uint8_t, kTcpMaxOptions> out;
  const size_t n = encode_tcp_options(*parsed, out);
  check(n % 4 == 0 && n <= kTcpMaxOptions);
  auto again = parse_tcp_options(std::span(out).first(n));
  check(again.ok());
  TcpOptions expected = *parsed;
  expected.sack_count = again->sack_count;  // blocks that did not fit are left out
  check(again->sack_count <= parsed->sack_count);
  check(*again == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      Stack stack;
      std::vector<uint8_t> frame(rest.begin(), rest.end());  // exact size for ASan
      stack.receive(frame);
      break;
    }
    case 1: {
      if (rest.empty() || rest.size() > 1500) return 0;
      Stack stack;
      stack.receive(wrap(rest[0], rest.subspan(1)));
      break;
    }
    case 2: {
      if (rest.size() > kTcpMaxOptions) return 0;
      std::vector<uint8_t> options(rest.begin(), rest.end());
      options_round_trip(options);
      break;
    }
  }
  return 0;
}
