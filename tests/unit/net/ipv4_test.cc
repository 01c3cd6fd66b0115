// IPv4: Linux's packets parse to the fields tcpdump printed; malformed variants (every
// truncation, bad version/IHL/lengths/checksum/source) are dropped with the right reason;
// our headers and fragments reproduce Linux's bytes; the input path filters destinations.
#include <gtest/gtest.h>

#include <cstring>

#include "data/ping.h"
#include "data/ping_frag.h"
#include "data/udp.h"
#include "morgana/net/checksum.h"
#include "morgana/net/ipv4.h"
#include "morgana/net/ipv4_input.h"
#include "test_util.h"

namespace morgana::net {
namespace {

using test::Bytes;
using test::bytes_of;

void fix_checksum(Bytes& packet) {
  const size_t header_size = size_t(packet[0] & 15) * 4;
  packet[10] = packet[11] = 0;
  const uint16_t sum = internet_checksum(std::span(packet).first(header_size));
  packet[10] = uint8_t(sum >> 8);
  packet[11] = uint8_t(sum);
}

Ipv4Drop reason_of(const Bytes& packet) {
  auto parsed = parse_ipv4(packet);
  EXPECT_FALSE(parsed);
  return parsed ? Ipv4Drop::kCount : parsed.reason();
}

uint16_t id_of(std::span<const uint8_t> frame) {
  return uint16_t(frame[18] << 8 | frame[19]);
}

TEST(Ipv4, ParsesLinuxEchoRequest) {
  auto datagram = parse_ipv4(test::l3(testdata::kPing0));
  ASSERT_TRUE(datagram);
  EXPECT_EQ(datagram->source, test::kIpB);
  EXPECT_EQ(datagram->destination, test::kIpA);
  EXPECT_EQ(datagram->protocol, uint8_t(IpProtocol::kIcmp));
  EXPECT_EQ(datagram->ttl, 64);
  EXPECT_EQ(datagram->tos, 0);
  EXPECT_EQ(datagram->id, id_of(testdata::kPing0));
  EXPECT_TRUE(datagram->dont_fragment());  // ping sets DF ("flags [DF]")
  EXPECT_FALSE(datagram->is_fragment());
  EXPECT_EQ(datagram->header.size(), 20u);
  EXPECT_TRUE(datagram->options().empty());
  EXPECT_EQ(datagram->payload.size(), 64u);                    // "length 64"
  EXPECT_EQ(datagram->payload.data(), testdata::kPing0 + 34);  // in place
}

TEST(Ipv4, ParsesLinuxFragments) {
  const std::span<const uint8_t> frames[] = {testdata::kPingFrag0, testdata::kPingFrag1,
                                             testdata::kPingFrag2};
  const size_t offsets[] = {0, 1480, 2960};
  const size_t sizes[] = {1480, 1480, 48};
  for (size_t i = 0; i < 3; ++i) {
    auto datagram = parse_ipv4(test::l3(frames[i]));
    ASSERT_TRUE(datagram);
    EXPECT_TRUE(datagram->is_fragment());
    EXPECT_EQ(datagram->fragment_offset(), offsets[i]);
    EXPECT_EQ(datagram->more_fragments(), i < 2);
    EXPECT_FALSE(datagram->dont_fragment());
    EXPECT_EQ(datagram->payload.size(), sizes[i]);
    EXPECT_EQ(datagram->id, id_of(frames[i]));
  }
}

TEST(Ipv4, TruncatedAtEveryByteIsDropped) {
  const Bytes packet = bytes_of(test::l3(testdata::kPing0));
  for (size_t n = 0; n < packet.size(); ++n) {
    Bytes prefix(packet.begin(), packet.begin() + static_cast<long>(n));
    EXPECT_EQ(reason_of(prefix), n < 20 ? Ipv4Drop::kTruncated : Ipv4Drop::kBadTotalLength) << n;
  }
}

TEST(Ipv4, MalformedHeadersAreDroppedWithTheirReason) {
  const Bytes good = bytes_of(test::l3(testdata::kPing0));
  Bytes p = good;
  p[0] = 0x65;  // version 6
  fix_checksum(p);
  EXPECT_EQ(reason_of(p), Ipv4Drop::kBadVersion);
  p = good;
  p[0] = 0x44;  // IHL 4
  EXPECT_EQ(reason_of(p), Ipv4Drop::kBadHeaderLength);
  p = good;
  p[0] = 0x4f;  // IHL 15: 60 bytes, more than the 21 that arrive
  p.resize(21);
  EXPECT_EQ(reason_of(p), Ipv4Drop::kTruncated);
  p = good;
  p[0] = 0x46;  // IHL 6 but total length 20: header longer than the datagram
  p[2] = 0, p[3] = 20;
  fix_checksum(p);
  EXPECT_EQ(reason_of(p), Ipv4Drop::kBadHeaderLength);
  p = good;
  p[3] += 1;  // total length one more than received
  fix_checksum(p);
  EXPECT_EQ(reason_of(p), Ipv4Drop::kBadTotalLength);
  p = good;
  p[2] = 0xff, p[3] = 0xff;
  fix_checksum(p);
  EXPECT_EQ(reason_of(p), Ipv4Drop::kBadTotalLength);
  p = good;
  p[8] -= 1;  // TTL changed without fixing the checksum
  EXPECT_EQ(reason_of(p), Ipv4Drop::kBadChecksum);
  for (const char* source : {"255.255.255.255", "224.0.0.5", "127.0.0.1"}) {
    p = good;
    std::memcpy(&p[12], test::ip(source).bytes.data(), 4);
    fix_checksum(p);
    EXPECT_EQ(reason_of(p), Ipv4Drop::kBadSource) << source;
  }
  // Any TTL is accepted by a host (RFC 1122 §3.2.1.7), even 0.
  p = good;
  p[8] = 0;
  fix_checksum(p);
  EXPECT_TRUE(parse_ipv4(p));
}

TEST(Ipv4, SkipsOptionsAndCutsPadding) {
  // Linux's echo request with a Router Alert option (RFC 2113: 94 04 00 00) inserted.
  Bytes p = bytes_of(test::l3(testdata::kPing0));
  const uint8_t option[] = {0x94, 0x04, 0x00, 0x00};
  p.insert(p.begin() + 20, option, option + 4);
  p[0] = 0x46;
  p[3] += 4;
  fix_checksum(p);
  p.insert(p.end(), 6, 0);  // link-layer padding after the datagram
  auto datagram = parse_ipv4(p);
  ASSERT_TRUE(datagram);
  EXPECT_EQ(datagram->header.size(), 24u);
  EXPECT_EQ(bytes_of(datagram->options()), Bytes(option, option + 4));
  EXPECT_EQ(bytes_of(datagram->payload), bytes_of(test::l4(testdata::kPing0)));
}

TEST(Ipv4, HeaderEncodingReproducesLinux) {
  // Linux's echo reply: no DF, TTL 64, TOS 0.
  Ipv4SendParams params{test::kIpA, test::kIpB, IpProtocol::kIcmp, id_of(testdata::kPing1)};
  uint8_t header[20];
  encode_ipv4_header(params, 64, 0, header);
  EXPECT_EQ(Bytes(header, header + 20), bytes_of(std::span(testdata::kPing1).subspan(14, 20)));

  // Linux's echo request through the zero-copy path: DF set.
  auto pool = test::make_pool(2);
  Ipv4Counters counters;
  auto packet = pool->allocate_copy(test::l4(testdata::kPing0));
  ASSERT_TRUE(packet.ok());
  Ipv4SendParams request{test::kIpB, test::kIpA, IpProtocol::kIcmp, id_of(testdata::kPing0)};
  request.fragmentation = Fragmentation::kDontFragment;
  ASSERT_TRUE(ipv4_prepend(request, *packet, counters));
  EXPECT_EQ(bytes_of(packet->data()), bytes_of(test::l3(testdata::kPing0)));
  EXPECT_EQ(counters.sent, 1u);
}

TEST(Ipv4, FragmentationReproducesLinuxFragments) {
  // The reply Linux fragmented, as one payload: its three fragments' data back to back.
  const std::span<const uint8_t> frames[] = {testdata::kPingFrag3, testdata::kPingFrag4,
                                             testdata::kPingFrag5};
  Bytes payload;
  for (auto frame : frames) {
    auto datagram = parse_ipv4(test::l3(frame));
    ASSERT_TRUE(datagram);
    payload.insert(payload.end(), datagram->payload.begin(), datagram->payload.end());
  }
  ASSERT_EQ(payload.size(), 3008u);  // ICMP header + 3000 bytes of data
  auto pool = test::make_pool(8);
  PacketQueue out;
  Ipv4Counters counters;
  Ipv4SendParams params{test::kIpA, test::kIpB, IpProtocol::kIcmp, id_of(frames[0])};
  // Split into two pieces at an odd place, to cross the piece boundary mid-fragment.
  Ipv4Payload pieces{std::span(payload).first(8), std::span(payload).subspan(8)};
  auto sent = ipv4_send(params, pieces, 1500, *pool, out, counters);
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(*sent, 3u);
  for (auto frame : frames) {
    EXPECT_EQ(bytes_of(out.pop_front().data()), bytes_of(test::l3(frame)));
  }
  EXPECT_EQ(counters.sent, 3u);
  EXPECT_EQ(counters.fragments_sent, 3u);
}

TEST(Ipv4, SendHonoursDontFragmentAndBounds) {
  auto pool = test::make_pool(3);
  PacketQueue out;
  Ipv4Counters counters;
  Bytes payload(3000, 0x5a);
  Ipv4SendParams params{test::kIpA, test::kIpB, IpProtocol::kUdp, 1};
  params.fragmentation = Fragmentation::kDontFragment;
  auto sent = ipv4_send(params, {payload, {}}, 1500, *pool, out, counters);
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(counters.drops[Ipv4Drop::kTooBig], 1u);
  params.fragmentation = Fragmentation::kAllowed;
  EXPECT_FALSE(ipv4_send(params, {payload, {}}, 67, *pool, out, counters).ok());  // MTU < 68
  Bytes huge(65516);
  EXPECT_FALSE(ipv4_send(params, {huge, {}}, 1500, *pool, out, counters).ok());
  // 3000 bytes at MTU 576: 7 fragments but only 3 buffers: nothing is sent.
  sent = ipv4_send(params, {payload, {}}, 576, *pool, out, counters);
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, Errc::kNoMemory);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(pool->available(), 3u);
  EXPECT_EQ(counters.drops[Ipv4Drop::kNoBuffer], 1u);
  // A small datagram is one packet; the smallest MTU still works.
  sent = ipv4_send(params, {std::span(payload).first(100), {}}, 68, *pool, out, counters);
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(*sent, 3u);  // 48 + 48 + 4
  EXPECT_EQ(counters.fragments_sent, 3u);
}

TEST(Ipv4Input, FiltersDestinationsAndSources) {
  auto created = Ipv4Input::create({Ipv4Prefix::parse("10.77.0.1/24").value(), {}});
  ASSERT_TRUE(created.ok());
  Ipv4Input& input = *created;
  auto with_addresses = [](const char* source, const char* destination) {
    Bytes p = bytes_of(test::l3(testdata::kPing0));
    std::memcpy(&p[12], test::ip(source).bytes.data(), 4);
    std::memcpy(&p[16], test::ip(destination).bytes.data(), 4);
    fix_checksum(p);
    return p;
  };
  EXPECT_TRUE(input.receive(test::l3(testdata::kPing0), 0));
  EXPECT_TRUE(input.receive(with_addresses("10.77.0.2", "255.255.255.255"), 0));
  EXPECT_TRUE(input.receive(with_addresses("10.77.0.2", "10.77.0.255"), 0));
  EXPECT_TRUE(input.receive(with_addresses("192.0.2.7", "10.77.0.1"), 0));  // off-link is fine
  EXPECT_FALSE(input.receive(with_addresses("10.77.0.2", "10.77.0.3"), 0));
  EXPECT_FALSE(input.receive(with_addresses("10.77.0.2", "224.0.0.1"), 0));
  EXPECT_FALSE(input.receive(with_addresses("10.77.0.1", "10.77.0.1"), 0));    // our own
  EXPECT_FALSE(input.receive(with_addresses("10.77.0.255", "10.77.0.1"), 0));  // broadcast
  EXPECT_EQ(input.counters().received, 8u);
  EXPECT_EQ(input.counters().delivered, 4u);
  EXPECT_EQ(input.counters().drops[Ipv4Drop::kNotForUs], 2u);
  EXPECT_EQ(input.counters().drops[Ipv4Drop::kBadSource], 2u);

  // Without an address yet (DHCP), anything is accepted.
  auto unconfigured = Ipv4Input::create({});
  ASSERT_TRUE(unconfigured.ok());
  EXPECT_TRUE(unconfigured->receive(with_addresses("10.77.0.2", "10.77.0.3"), 0));
}

TEST(Ipv4Input, ReassemblesLinuxFragments) {
  auto input = Ipv4Input::create({Ipv4Prefix::parse("10.77.0.1/24").value(), {}});
  ASSERT_TRUE(input.ok());
  EXPECT_FALSE(input->receive(test::l3(testdata::kPingFrag0), 0));
  EXPECT_FALSE(input->receive(test::l3(testdata::kPingFrag1), 0));
  auto datagram = input->receive(test::l3(testdata::kPingFrag2), 0);
  ASSERT_TRUE(datagram);
  EXPECT_TRUE(datagram->reassembled);
  EXPECT_EQ(datagram->payload.size(), 3008u);
  EXPECT_EQ(input->counters().delivered, 1u);
  EXPECT_EQ(input->counters().fragments_received, 3u);
  EXPECT_EQ(input->counters().reassembled, 1u);
  EXPECT_EQ(input->counters().drops.total(), 0u);
}

}  // namespace
}  // namespace morgana::net
