// Wire types: big-endian fields, address parsing and formatting, prefix arithmetic, and
// the Cursor/Writer bounds (a read past the end fails and consumes nothing).
#include <gtest/gtest.h>

#include <cstring>

#include "morgana/net/address.h"
#include "morgana/net/cursor.h"
#include "morgana/net/endian.h"
#include "morgana/net/ipv4.h"
#include "test_util.h"

namespace morgana::net {
namespace {

using test::ip;

TEST(Endian, StoresBigEndianBytes) {
  Be16 a(0x1234);
  Be32 b(0xdeadbeef);
  uint8_t raw[6];
  std::memcpy(raw, &a, 2);
  std::memcpy(raw + 2, &b, 4);
  EXPECT_EQ(raw[0], 0x12);
  EXPECT_EQ(raw[1], 0x34);
  EXPECT_EQ(raw[2], 0xde);
  EXPECT_EQ(raw[5], 0xef);
  EXPECT_EQ(a.value(), 0x1234);
  EXPECT_EQ(b.value(), 0xdeadbeefu);
  a.set(0xff00);
  EXPECT_EQ(a.value(), 0xff00);
}

TEST(MacAddress, ParsesAndFormats) {
  auto mac = MacAddress::parse("02:00:00:77:00:0A");
  ASSERT_TRUE(mac);
  EXPECT_EQ(mac->bytes[5], 0x0a);
  EXPECT_STREQ(mac->to_string().c_str(), "02:00:00:77:00:0a");
  EXPECT_TRUE(MacAddress::parse("02-00-00-77-00-0a"));
  EXPECT_FALSE(MacAddress::parse("02:00:00:77:00"));
  EXPECT_FALSE(MacAddress::parse("02:00:00:77:00:0g"));
  EXPECT_FALSE(MacAddress::parse("02:00-00:77:00:0a"));
  EXPECT_FALSE(MacAddress::parse("02:00:00:77:00:0a "));
  EXPECT_TRUE(MacAddress::broadcast().is_broadcast());
  EXPECT_TRUE(MacAddress::broadcast().is_multicast());
  EXPECT_TRUE((MacAddress{{0x01, 0x00, 0x5e, 0, 0, 1}}).is_multicast());
  EXPECT_FALSE(test::kMacA.is_multicast());
}

TEST(Ipv4Address, ParsesStrictDottedQuads) {
  auto a = Ipv4Address::parse("10.77.0.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to_u32(), 0x0a4d0001u);
  EXPECT_STREQ(a->to_string().c_str(), "10.77.0.1");
  EXPECT_STREQ(Ipv4Address::broadcast().to_string().c_str(), "255.255.255.255");
  EXPECT_STREQ(Ipv4Address{}.to_string().c_str(), "0.0.0.0");
  for (const char* bad : {"", "10.77.0", "10.77.0.1.", "10.77.0.256", "010.77.0.1", "10.77..1",
                          "1.2.3.4/5", "a.b.c.d", "-1.2.3.4", "1.2.3.4 ", "1234.1.1.1"}) {
    EXPECT_FALSE(Ipv4Address::parse(bad)) << bad;
  }
  EXPECT_TRUE(Ipv4Address::parse("0.0.0.0"));
  EXPECT_TRUE(ip("224.0.0.1").is_multicast());
  EXPECT_TRUE(ip("127.0.0.1").is_loopback());
  EXPECT_FALSE(ip("10.0.0.1").is_multicast());
}

TEST(Ipv4Prefix, Arithmetic) {
  auto prefix = Ipv4Prefix::parse("10.77.0.1/24");
  ASSERT_TRUE(prefix);
  EXPECT_EQ(prefix->length, 24);
  EXPECT_EQ(prefix->netmask(), ip("255.255.255.0"));
  EXPECT_EQ(prefix->network(), ip("10.77.0.0"));
  EXPECT_EQ(prefix->subnet_broadcast(), ip("10.77.0.255"));
  EXPECT_TRUE(prefix->contains(ip("10.77.0.200")));
  EXPECT_FALSE(prefix->contains(ip("10.77.1.1")));
  EXPECT_STREQ(prefix->to_string().c_str(), "10.77.0.1/24");
  EXPECT_EQ(ipv4_netmask(0), 0u);
  EXPECT_EQ(ipv4_netmask(32), 0xffffffffu);
  EXPECT_EQ(ipv4_netmask(17), 0xffff8000u);
  EXPECT_TRUE((Ipv4Prefix{ip("1.2.3.4"), 0}).contains(ip("200.1.1.1")));
  EXPECT_FALSE(Ipv4Prefix::parse("10.77.0.1/33"));
  EXPECT_FALSE(Ipv4Prefix::parse("10.77.0.1"));
  EXPECT_FALSE(Ipv4Prefix::parse("10.77.0.1/"));
  EXPECT_FALSE(Ipv4Prefix::parse("10.77.0.1/024"));
}

TEST(Cursor, ReadsWithinBoundsOnly) {
  const uint8_t bytes[] = {0x45, 0x00, 0x00, 0x54, 1, 2, 3};
  Cursor cursor(bytes);
  auto first = cursor.read<Be32>();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->value(), 0x45000054u);
  EXPECT_EQ(cursor.remaining(), 3u);
  EXPECT_FALSE(cursor.read<Be32>());  // only 3 left
  EXPECT_EQ(cursor.remaining(), 3u);  // and nothing consumed
  EXPECT_FALSE(cursor.read_bytes(4));
  EXPECT_FALSE(cursor.skip(4));
  auto peeked = cursor.peek<Be16>();
  ASSERT_TRUE(peeked);
  EXPECT_EQ(peeked->value(), 0x0102);
  EXPECT_EQ(cursor.position(), 4u);
  auto view = cursor.read_bytes(2);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->data(), bytes + 4);  // a view, not a copy
  EXPECT_EQ(cursor.read_u8(), 3);
  EXPECT_FALSE(cursor.read_u8());
  EXPECT_TRUE(cursor.skip(0));
  EXPECT_TRUE(cursor.rest().empty());
}

TEST(Cursor, ReadsWholeHeadersAtOddOffsets) {
  // A struct read at an unaligned offset must still work (it is copied out).
  uint8_t bytes[1 + sizeof(Ipv4Header)] = {};
  bytes[1] = 0x45;
  bytes[3] = 0x01;
  Cursor cursor(bytes);
  ASSERT_TRUE(cursor.skip(1));
  auto header = cursor.read<Ipv4Header>();
  ASSERT_TRUE(header);
  EXPECT_EQ(header->version_ihl, 0x45);
  EXPECT_EQ(header->total_length.value(), 0x0100);
}

TEST(Writer, WritesWholeOrNothing) {
  uint8_t bytes[5] = {};
  Writer writer(bytes);
  EXPECT_TRUE(writer.write(Be32(0x01020304)));
  EXPECT_FALSE(writer.write(Be16(0xffff)));  // 1 byte left
  EXPECT_EQ(bytes[4], 0);
  const uint8_t two[] = {9, 9};
  EXPECT_FALSE(writer.write_bytes(two));
  EXPECT_TRUE(writer.write_u8(7));
  EXPECT_FALSE(writer.write_u8(8));
  EXPECT_EQ(writer.written(), 5u);
  EXPECT_EQ(bytes[0], 1);
  EXPECT_EQ(bytes[4], 7);
}

}  // namespace
}  // namespace morgana::net
