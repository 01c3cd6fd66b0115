// ICMP: our echo replies to Linux's echo requests (plain and fragmented) are Linux's own
// replies byte for byte once given the same IP ID; our port unreachable for Linux's UDP
// datagram is Linux's; RFC 1122 §3.2.2's rules on errors hold; the rate limiter limits.
#include <gtest/gtest.h>

#include <cstring>

#include "data/ping.h"
#include "data/ping_frag.h"
#include "data/udp.h"
#include "morgana/net/ethernet.h"
#include "morgana/net/icmp.h"
#include "morgana/net/ipv4_input.h"
#include "test_util.h"

namespace morgana::net {
namespace {

using test::Bytes;
using test::bytes_of;

uint16_t id_of(std::span<const uint8_t> frame) {
  return uint16_t(frame[18] << 8 | frame[19]);
}

// Sends `payload` from A to B as IPv4 (fragmenting at 1500) and frames each packet the
// way A's Ethernet layer would.
std::vector<Bytes> send_from_a(const Ipv4SendParams& params, Ipv4Payload payload) {
  auto pool = test::make_pool(8);
  PacketQueue out;
  Ipv4Counters ip_counters;
  EthernetCounters link_counters;
  EXPECT_TRUE(ipv4_send(params, payload, 1500, *pool, out, ip_counters).ok());
  std::vector<Bytes> frames;
  while (!out.empty()) {
    PacketBuffer packet = out.pop_front();
    EXPECT_TRUE(ethernet_prepend({test::kMacA, kNoVlan}, test::kMacB, EtherType::kIpv4, packet,
                                 link_counters));
    frames.push_back(bytes_of(packet.data()));
  }
  return frames;
}

TEST(Icmp, ParsesLinuxEcho) {
  auto request = parse_icmp(test::l4(testdata::kPing0));
  ASSERT_TRUE(request);
  EXPECT_EQ(request->type, uint8_t(IcmpType::kEchoRequest));
  EXPECT_EQ(request->code, 0);
  EXPECT_EQ(request->echo_sequence(), 1);  // "seq 1"
  EXPECT_EQ(request->body.size(), 56u);    // ping's default data size
  auto reply = parse_icmp(test::l4(testdata::kPing1));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->type, uint8_t(IcmpType::kEchoReply));
  EXPECT_EQ(reply->echo_id(), request->echo_id());
}

TEST(Icmp, MalformedMessagesAreDropped) {
  const Bytes good = bytes_of(test::l4(testdata::kPing0));
  for (size_t n = 0; n < 8; ++n) {
    Bytes prefix(good.begin(), good.begin() + static_cast<long>(n));
    auto parsed = parse_icmp(prefix);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.reason(), IcmpDrop::kTruncated);
  }
  for (size_t n = 8; n < good.size(); ++n) {  // cut data fails the checksum
    Bytes prefix(good.begin(), good.begin() + static_cast<long>(n));
    auto parsed = parse_icmp(prefix);
    ASSERT_FALSE(parsed) << n;
    EXPECT_EQ(parsed.reason(), IcmpDrop::kBadChecksum);
  }
  Bytes flipped = good;
  flipped[20] ^= 0x40;
  EXPECT_EQ(parse_icmp(flipped).reason(), IcmpDrop::kBadChecksum);
}

TEST(Icmp, EchoReplyIsLinuxReply) {
  auto ip = parse_ipv4(test::l3(testdata::kPing0)).value();
  auto request = parse_icmp(ip.payload).value();
  auto header = echo_reply_header(request);
  // Linux's reply differs from a recomputed one only in the IP ID it chose.
  Ipv4SendParams params{ip.destination, ip.source, IpProtocol::kIcmp, id_of(testdata::kPing1)};
  auto frames = send_from_a(params, {header, request.body});
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], bytes_of(testdata::kPing1)) << test::hex(frames[0]);
}

TEST(Icmp, FragmentedEchoReplyIsLinuxReply) {
  auto input = Ipv4Input::create({Ipv4Prefix::parse("10.77.0.1/24").value(), {}});
  ASSERT_TRUE(input.ok());
  (void)input->receive(test::l3(testdata::kPingFrag1), 0);
  (void)input->receive(test::l3(testdata::kPingFrag2), 0);
  auto datagram = input->receive(test::l3(testdata::kPingFrag0), 0);
  ASSERT_TRUE(datagram);
  auto request = parse_icmp(datagram->payload);
  ASSERT_TRUE(request);
  auto header = echo_reply_header(*request);
  Ipv4SendParams params{datagram->destination, datagram->source, IpProtocol::kIcmp,
                        id_of(testdata::kPingFrag3)};
  auto frames = send_from_a(params, {header, request->body});
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0], bytes_of(testdata::kPingFrag3));
  EXPECT_EQ(frames[1], bytes_of(testdata::kPingFrag4));
  EXPECT_EQ(frames[2], bytes_of(testdata::kPingFrag5));
}

TEST(Icmp, PortUnreachableIsLinuxMessage) {
  // Linux's datagram to closed port 7778, and Linux's answer to it.
  auto original = parse_ipv4(test::l3(testdata::kUdp1)).value();
  ASSERT_TRUE(icmp_error_allowed(original, false, LinkBroadcast::kNo));
  uint8_t message[kIcmpErrorMax];
  const size_t length =
      build_destination_unreachable(UnreachableCode::kPort, original, IcmpQuote::kUpTo576, message);
  EXPECT_EQ(length, 8u + 39u);  // "length 47": the whole small datagram is quoted
  Ipv4SendParams params{test::kIpA, test::kIpB, IpProtocol::kIcmp, id_of(testdata::kUdp2)};
  params.tos = kIcmpErrorTos;  // Linux's "tos 0xc0"
  auto frames = send_from_a(params, {std::span<const uint8_t>(message, length), {}});
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], bytes_of(testdata::kUdp2)) << test::hex(frames[0]);
}

TEST(Icmp, ErrorQuotesHeaderPlus8OrUpTo576) {
  auto original = parse_ipv4(test::l3(testdata::kUdp1)).value();
  uint8_t message[kIcmpErrorMax];
  size_t length = build_destination_unreachable(UnreachableCode::kPort, original,
                                                IcmpQuote::kHeaderPlus8, message);
  ASSERT_EQ(length, 8u + 20 + 8);
  auto parsed = parse_icmp(std::span<const uint8_t>(message, length));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->type, 3);
  EXPECT_EQ(parsed->code, 3);
  EXPECT_EQ(bytes_of(parsed->body), bytes_of(test::l3(testdata::kUdp1).first(28)));

  // A 3028-byte datagram is quoted up to the 576-byte limit.
  auto input = Ipv4Input::create({Ipv4Prefix::parse("10.77.0.1/24").value(), {}});
  (void)input->receive(test::l3(testdata::kPingFrag0), 0);
  (void)input->receive(test::l3(testdata::kPingFrag1), 0);
  auto big = input->receive(test::l3(testdata::kPingFrag2), 0);
  ASSERT_TRUE(big);
  length = build_icmp_error(IcmpType::kDestinationUnreachable, 4, 1400, *big, IcmpQuote::kUpTo576,
                            message);
  EXPECT_EQ(length, kIcmpErrorMax);
  EXPECT_EQ(20 + length, 576u);
  parsed = parse_icmp(std::span<const uint8_t>(message, length));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->rest, 1400u);  // RFC 1191 next-hop MTU
  // The quoted header is the reassembled one: whole datagram, no fragment bits.
  EXPECT_EQ(bytes_of(parsed->body.first(20)), bytes_of(big->header));
}

TEST(Icmp, ErrorsAreNotSentWhereRfc1122Forbids) {
  auto udp = parse_ipv4(test::l3(testdata::kUdp1)).value();
  EXPECT_TRUE(icmp_error_allowed(udp, false, LinkBroadcast::kNo));
  EXPECT_FALSE(icmp_error_allowed(udp, true, LinkBroadcast::kNo));
  EXPECT_FALSE(icmp_error_allowed(udp, false, LinkBroadcast::kYes));
  Ipv4Datagram d = udp;
  d.destination = test::ip("224.0.0.9");
  EXPECT_FALSE(icmp_error_allowed(d, false, LinkBroadcast::kNo));
  for (const char* source : {"0.0.0.0", "127.0.0.1", "240.0.0.1", "255.255.255.255"}) {
    d = udp;
    d.source = test::ip(source);
    EXPECT_FALSE(icmp_error_allowed(d, false, LinkBroadcast::kNo)) << source;
  }
  d = udp;
  d.flags_fragment = 185;  // a non-initial fragment
  EXPECT_FALSE(icmp_error_allowed(d, false, LinkBroadcast::kNo));
  // About an ICMP error: never. About an echo request: allowed.
  auto unreachable = parse_ipv4(test::l3(testdata::kUdp2)).value();
  EXPECT_FALSE(icmp_error_allowed(unreachable, false, LinkBroadcast::kNo));
  auto echo = parse_ipv4(test::l3(testdata::kPing0)).value();
  EXPECT_TRUE(icmp_error_allowed(echo, false, LinkBroadcast::kNo));
  EXPECT_TRUE(icmp_is_error(3));
  EXPECT_TRUE(icmp_is_error(11));
  EXPECT_TRUE(icmp_is_error(200));  // unknown: treated as an error, never answered
  EXPECT_FALSE(icmp_is_error(8));
  EXPECT_FALSE(icmp_is_error(13));
}

TEST(TokenBucket, LimitsToRateWithBurst) {
  constexpr uint64_t kMs = 1'000'000;
  TokenBucket bucket(1000, 50);  // Linux's defaults
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += bucket.allow(5 * kMs);
  EXPECT_EQ(allowed, 50);  // the burst, then nothing at the same instant
  EXPECT_FALSE(bucket.allow(5 * kMs + kMs - 1));
  EXPECT_TRUE(bucket.allow(6 * kMs));  // one token per millisecond
  EXPECT_FALSE(bucket.allow(6 * kMs));
  // A long pause refills only up to the burst.
  allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += bucket.allow(3600'000 * kMs);
  EXPECT_EQ(allowed, 50);
  // Time that goes backwards earns nothing (and breaks nothing).
  EXPECT_FALSE(bucket.allow(kMs));
  // Over one second at a steady 2000/s, about 1000 + burst pass.
  TokenBucket steady(1000, 50);
  allowed = 0;
  for (uint64_t t = 0; t < 1000 * kMs; t += kMs / 2) allowed += steady.allow(t);
  EXPECT_GE(allowed, 1000);
  EXPECT_LE(allowed, 1050);
}

}  // namespace
}  // namespace morgana::net
