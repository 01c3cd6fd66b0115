// UDP: Linux's datagram parses and our encoder reproduces it (also when the device
// completes the checksum); zero checksums mean none; bad lengths, checksums and ports are
// dropped with their reasons.
#include <gtest/gtest.h>

#include <string>

#include "data/udp.h"
#include "morgana/net/checksum.h"
#include "morgana/net/ethernet.h"
#include "morgana/net/ipv4.h"
#include "morgana/net/udp.h"
#include "test_util.h"

namespace morgana::net {
namespace {

using test::Bytes;
using test::bytes_of;

UdpDrop reason_of(const Bytes& segment) {
  auto parsed = parse_udp(segment, test::kIpB, test::kIpA);
  EXPECT_FALSE(parsed);
  return parsed ? UdpDrop::kCount : parsed.reason();
}

void set_checksum(Bytes& segment) {
  segment[6] = segment[7] = 0;
  uint16_t sum = ipv4_transport_checksum(test::kIpB, test::kIpA, 17, segment);
  if (sum == 0) sum = 0xffff;
  segment[6] = uint8_t(sum >> 8), segment[7] = uint8_t(sum);
}

TEST(Udp, ParsesLinuxDatagram) {
  auto datagram = parse_udp(test::l4(testdata::kUdp0), test::kIpB, test::kIpA);
  ASSERT_TRUE(datagram);
  EXPECT_EQ(datagram->destination_port, 7777);
  EXPECT_EQ(datagram->source_port, uint16_t(testdata::kUdp0[34] << 8 | testdata::kUdp0[35]));
  EXPECT_TRUE(datagram->checksummed);
  EXPECT_EQ(std::string(datagram->payload.begin(), datagram->payload.end()), "hello morgana");
  EXPECT_EQ(datagram->payload.data(), testdata::kUdp0 + 42);  // in place
  // The checksum covers the addresses: the same bytes from elsewhere fail.
  auto spoofed = parse_udp(test::l4(testdata::kUdp0), test::ip("10.77.0.9"), test::kIpA);
  ASSERT_FALSE(spoofed);
  EXPECT_EQ(spoofed.reason(), UdpDrop::kBadChecksum);
}

TEST(Udp, ZeroChecksumMeansNone) {
  Bytes segment = bytes_of(test::l4(testdata::kUdp0));
  segment[6] = segment[7] = 0;
  segment.back() ^= 1;  // not covered by any checksum now
  auto datagram = parse_udp(segment, test::kIpB, test::kIpA);
  ASSERT_TRUE(datagram);
  EXPECT_FALSE(datagram->checksummed);
}

TEST(Udp, LengthsAreChecked) {
  const Bytes good = bytes_of(test::l4(testdata::kUdp0));
  for (size_t n = 0; n < good.size(); ++n) {
    Bytes prefix(good.begin(), good.begin() + static_cast<long>(n));
    EXPECT_EQ(reason_of(prefix), n < 8 ? UdpDrop::kTruncated : UdpDrop::kBadLength) << n;
  }
  Bytes short_length = good;
  short_length[5] = 7;  // under the header size
  EXPECT_EQ(reason_of(short_length), UdpDrop::kBadLength);
  // A length field shorter than the IP payload: the rest is ignored (RFC 768 length
  // governs; Linux trims the same way).
  Bytes trailing = good;
  trailing.push_back(0xee);
  auto datagram = parse_udp(trailing, test::kIpB, test::kIpA);
  ASSERT_TRUE(datagram);
  EXPECT_EQ(datagram->payload.size(), 13u);
  Bytes flipped = good;
  flipped[10] ^= 0x20;
  EXPECT_EQ(reason_of(flipped), UdpDrop::kBadChecksum);
  Bytes port_zero = good;
  port_zero[2] = port_zero[3] = 0;
  set_checksum(port_zero);
  EXPECT_EQ(reason_of(port_zero), UdpDrop::kBadPort);
}

TEST(Udp, EncoderReproducesLinuxFrame) {
  auto pool = test::make_pool(1);
  const auto original = parse_udp(test::l4(testdata::kUdp0), test::kIpB, test::kIpA).value();
  auto packet = pool->allocate_copy(original.payload);
  ASSERT_TRUE(packet.ok());
  UdpCounters udp;
  Ipv4Counters ip;
  EthernetCounters link;
  ASSERT_TRUE(udp_prepend(original.source_port, 7777, test::kIpB, test::kIpA, *packet, udp));
  Ipv4SendParams params{test::kIpB, test::kIpA, IpProtocol::kUdp,
                        uint16_t(testdata::kUdp0[18] << 8 | testdata::kUdp0[19])};
  params.fragmentation = Fragmentation::kDontFragment;  // Linux: "flags [DF]"
  ASSERT_TRUE(ipv4_prepend(params, *packet, ip));
  ASSERT_TRUE(
      ethernet_prepend({test::kMacB, kNoVlan}, test::kMacA, EtherType::kIpv4, *packet, link));
  EXPECT_EQ(bytes_of(packet->data()), bytes_of(testdata::kUdp0));
  EXPECT_EQ(udp.sent, 1u);
}

// With the checksum left to the device, the header carries the pseudo-header sum and the
// packet the request; completed as a NIC completes NEEDS_CSUM, it is Linux's frame again.
TEST(Udp, DeviceChecksumCompletesToLinuxFrame) {
  auto pool = test::make_pool(1);
  const auto original = parse_udp(test::l4(testdata::kUdp0), test::kIpB, test::kIpA).value();
  auto packet = pool->allocate_copy(original.payload);
  ASSERT_TRUE(packet.ok());
  UdpCounters udp;
  Ipv4Counters ip;
  EthernetCounters link;
  ASSERT_TRUE(udp_prepend(original.source_port, 7777, test::kIpB, test::kIpA, *packet, udp,
                          ChecksumBy::kDevice));
  Checksum pseudo;
  add_ipv4_pseudo_header(pseudo, test::kIpB, test::kIpA, 17, uint16_t(packet->size()));
  EXPECT_EQ(uint16_t(packet->data()[6] << 8 | packet->data()[7]), pseudo.sum());
  Ipv4SendParams params{test::kIpB, test::kIpA, IpProtocol::kUdp,
                        uint16_t(testdata::kUdp0[18] << 8 | testdata::kUdp0[19])};
  params.fragmentation = Fragmentation::kDontFragment;
  ASSERT_TRUE(ipv4_prepend(params, *packet, ip));
  ASSERT_TRUE(
      ethernet_prepend({test::kMacB, kNoVlan}, test::kMacA, EtherType::kIpv4, *packet, link));
  const platform::NetFrameMeta meta = packet->offload();
  EXPECT_EQ(meta.checksum, platform::NetChecksum::kPartial);
  EXPECT_EQ(meta.csum_start, 34u);
  EXPECT_EQ(meta.csum_offset, kUdpChecksumField);
  EXPECT_EQ(meta.gso_size, 0u);
  Bytes frame = bytes_of(packet->data());
  Checksum sum;
  sum.add(std::span(frame).subspan(meta.csum_start));  // the field holds the pseudo sum
  const uint16_t value = sum.finish();
  frame[meta.csum_start + meta.csum_offset] = uint8_t(value >> 8);
  frame[meta.csum_start + meta.csum_offset + 1] = uint8_t(value);
  EXPECT_EQ(frame, bytes_of(testdata::kUdp0)) << test::hex(frame);
}

TEST(Udp, ComputedZeroChecksumIsSentAsAllOnes) {
  auto pool = test::make_pool(2);
  UdpCounters counters;
  // Find the two payload bytes that make the sum come out as zero.
  auto probe = pool->allocate_copy(Bytes{0, 0});
  ASSERT_TRUE(udp_prepend(1000, 2000, test::kIpB, test::kIpA, *probe, counters));
  const uint16_t c = uint16_t(probe->data()[6] << 8 | probe->data()[7]);
  auto packet = pool->allocate_copy(Bytes{uint8_t(c >> 8), uint8_t(c)});
  ASSERT_TRUE(udp_prepend(1000, 2000, test::kIpB, test::kIpA, *packet, counters));
  EXPECT_EQ(packet->data()[6], 0xff);
  EXPECT_EQ(packet->data()[7], 0xff);
  auto parsed = parse_udp(packet->data(), test::kIpB, test::kIpA);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->checksummed);
}

TEST(Udp, PrependNeedsHeadroom) {
  auto pool = test::make_pool(1);
  PacketBuffer packet = std::move(pool->allocate()).value();
  packet.reset(4);
  UdpCounters counters;
  EXPECT_FALSE(udp_prepend(1, 2, test::kIpB, test::kIpA, packet, counters));
  EXPECT_EQ(counters.drops[UdpDrop::kNoBuffer], 1u);
}

}  // namespace
}  // namespace morgana::net
