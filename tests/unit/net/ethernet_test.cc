// Ethernet II: Linux's frames parse to the addresses tcpdump printed; VLAN-tagged frames
// (built byte by byte from a capture: this kernel has no 8021q module) are handled; the
// receive filter drops what is not ours with the right reason; our header matches Linux's.
#include <gtest/gtest.h>

#include "data/arp.h"
#include "data/ping.h"
#include "morgana/net/ethernet.h"
#include "test_util.h"

namespace morgana::net {
namespace {

using test::Bytes;
using test::bytes_of;

// Inserts an 802.1Q tag (TPID, then TCI) after the MAC addresses.
Bytes with_tag(Bytes frame, uint16_t tpid, uint16_t tci) {
  const uint8_t tag[] = {uint8_t(tpid >> 8), uint8_t(tpid), uint8_t(tci >> 8), uint8_t(tci)};
  frame.insert(frame.begin() + 12, tag, tag + 4);
  return frame;
}

TEST(Ethernet, ParsesLinuxFrames) {
  auto request = parse_ethernet(testdata::kArp0);
  ASSERT_TRUE(request);
  EXPECT_TRUE(request->destination.is_broadcast());
  EXPECT_EQ(request->source, test::kMacB);
  EXPECT_EQ(request->ethertype, uint16_t(EtherType::kArp));
  EXPECT_EQ(request->tags, 0);
  EXPECT_EQ(request->header_size, 14u);
  EXPECT_EQ(request->payload.size(), 28u);

  auto ping = parse_ethernet(testdata::kPing0);
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->destination, test::kMacA);
  EXPECT_EQ(ping->ethertype, uint16_t(EtherType::kIpv4));
  EXPECT_EQ(ping->payload.data(), testdata::kPing0 + 14);  // parsed in place
  EXPECT_EQ(ping->payload.size(), 84u);
}

TEST(Ethernet, ParsesVlanTags) {
  // PCP 5, VLAN 10 around Linux's echo request.
  Bytes tagged = with_tag(bytes_of(testdata::kPing0), 0x8100, 5 << 13 | 10);
  auto frame = parse_ethernet(tagged);
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->tags, 1);
  EXPECT_EQ(frame->vlan_id, 10);
  EXPECT_EQ(frame->vlan_priority, 5);
  EXPECT_EQ(frame->ethertype, uint16_t(EtherType::kIpv4));
  EXPECT_EQ(frame->header_size, 18u);
  EXPECT_EQ(bytes_of(frame->payload), bytes_of(std::span(testdata::kPing0).subspan(14)));

  // 802.1ad outer tag (VLAN 100) around an 802.1Q inner tag (VLAN 10).
  Bytes double_tagged = with_tag(tagged, 0x88a8, 100);
  frame = parse_ethernet(double_tagged);
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->tags, 2);
  EXPECT_EQ(frame->vlan_id, 10);
  EXPECT_EQ(frame->header_size, 22u);

  auto triple = parse_ethernet(with_tag(double_tagged, 0x8100, 7));
  ASSERT_FALSE(triple);
  EXPECT_EQ(triple.reason(), EthernetDrop::kTooManyTags);
}

TEST(Ethernet, TruncatedAtEveryByteIsDroppedNotOverrun) {
  Bytes tagged = with_tag(bytes_of(testdata::kArp0), 0x8100, 10);
  for (size_t n = 0; n < 18; ++n) {
    // Exactly-sized copies so ASan sees any read past the end.
    Bytes prefix(tagged.begin(), tagged.begin() + static_cast<long>(n));
    auto frame = parse_ethernet(prefix);
    ASSERT_FALSE(frame) << n;
    EXPECT_EQ(frame.reason(), EthernetDrop::kTruncated);
  }
  EXPECT_TRUE(parse_ethernet(std::span(tagged).first(18)));
}

TEST(Ethernet, RejectsLengthFields) {
  Bytes frame = bytes_of(testdata::kArp0);
  frame[12] = 0x00;
  frame[13] = 0x2e;  // an 802.3 length: LLC follows
  auto parsed = parse_ethernet(frame);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.reason(), EthernetDrop::kLengthField);
}

TEST(Ethernet, ReceiveFilterCountsEachReason) {
  const EthernetConfig config{test::kMacA, kNoVlan};
  EthernetCounters counters;
  EXPECT_TRUE(ethernet_receive(config, testdata::kPing0, counters));  // unicast to us
  EXPECT_TRUE(ethernet_receive(config, testdata::kArp0, counters));   // broadcast
  // Priority-tagged (VLAN 0) frames count as untagged.
  EXPECT_TRUE(
      ethernet_receive(config, with_tag(bytes_of(testdata::kPing0), 0x8100, 3 << 13), counters));
  EXPECT_FALSE(ethernet_receive(config, testdata::kPing1, counters));  // to B
  EXPECT_FALSE(
      ethernet_receive(config, with_tag(bytes_of(testdata::kPing0), 0x8100, 10), counters));
  Bytes multicast_source = bytes_of(testdata::kPing0);
  multicast_source[6] |= 1;
  EXPECT_FALSE(ethernet_receive(config, multicast_source, counters));
  Bytes ipv6 = bytes_of(testdata::kPing0);
  ipv6[12] = 0x86;
  ipv6[13] = 0xdd;
  EXPECT_FALSE(ethernet_receive(config, ipv6, counters));
  EXPECT_FALSE(ethernet_receive(config, std::span(testdata::kPing0).first(13), counters));

  EXPECT_EQ(counters.received, 8u);
  EXPECT_EQ(counters.delivered, 3u);
  EXPECT_EQ(counters.drops[EthernetDrop::kNotForUs], 1u);
  EXPECT_EQ(counters.drops[EthernetDrop::kWrongVlan], 1u);
  EXPECT_EQ(counters.drops[EthernetDrop::kBadSource], 1u);
  EXPECT_EQ(counters.drops[EthernetDrop::kUnknownEtherType], 1u);
  EXPECT_EQ(counters.drops[EthernetDrop::kTruncated], 1u);
  EXPECT_EQ(counters.drops.total(), 5u);

  char line[200];
  counters.drops.format(line, "ethernet");
  EXPECT_STREQ(line,
               "ethernet drops: truncated=1 wrong_vlan=1 not_for_us=1 bad_source=1 "
               "unknown_ethertype=1");
  EthernetCounters none;
  none.drops.format(line, "ethernet");
  EXPECT_STREQ(line, "ethernet drops: none");
  char tiny[8];
  EXPECT_EQ(counters.drops.format(tiny, "ethernet"), 7u);
  EXPECT_STREQ(tiny, "etherne");
}

TEST(Ethernet, VlanInterfaceAcceptsOnlyItsVlan) {
  const EthernetConfig config{test::kMacA, 10};
  EthernetCounters counters;
  EXPECT_TRUE(ethernet_receive(config, with_tag(bytes_of(testdata::kPing0), 0x8100, 10), counters));
  EXPECT_FALSE(ethernet_receive(config, testdata::kPing0, counters));
  EXPECT_FALSE(
      ethernet_receive(config, with_tag(bytes_of(testdata::kPing0), 0x8100, 11), counters));
  EXPECT_EQ(counters.drops[EthernetDrop::kWrongVlan], 2u);
}

TEST(Ethernet, PrependReproducesLinuxHeader) {
  auto pool = test::make_pool(3);
  EthernetCounters counters;
  // Linux's echo reply frame, header rebuilt by us around its IPv4 packet.
  auto packet = pool->allocate_copy(std::span(testdata::kPing1).subspan(14));
  ASSERT_TRUE(packet.ok());
  ASSERT_TRUE(
      ethernet_prepend({test::kMacA, kNoVlan}, test::kMacB, EtherType::kIpv4, *packet, counters));
  EXPECT_EQ(bytes_of(packet->data()), bytes_of(testdata::kPing1));
  EXPECT_EQ(counters.sent, 1u);

  // On a VLAN interface the tag goes in between, and the frame parses back.
  auto tagged = pool->allocate_copy(std::span(testdata::kPing1).subspan(14));
  ASSERT_TRUE(tagged.ok());
  ASSERT_TRUE(
      ethernet_prepend({test::kMacA, 10}, test::kMacB, EtherType::kIpv4, *tagged, counters));
  EXPECT_EQ(bytes_of(tagged->data()), with_tag(bytes_of(testdata::kPing1), 0x8100, 10));

  PacketBuffer full = std::move(pool->allocate()).value();
  full.reset(10);
  EXPECT_FALSE(
      ethernet_prepend({test::kMacA, kNoVlan}, test::kMacB, EtherType::kIpv4, full, counters));
  EXPECT_EQ(counters.drops[EthernetDrop::kNoBuffer], 1u);
}

}  // namespace
}  // namespace morgana::net
