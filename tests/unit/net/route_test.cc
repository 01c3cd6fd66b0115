// Next-hop selection: on-link by prefix, otherwise the gateway; broadcasts need no
// resolution; bad configurations and destinations are refused.
#include <gtest/gtest.h>

#include "morgana/net/route.h"
#include "test_util.h"

namespace morgana::net {
namespace {

using test::ip;

Ipv4Prefix prefix(const char* text) {
  return Ipv4Prefix::parse(text).value();
}

TEST(Routes, OnLinkOrGateway) {
  auto routes = Ipv4Routes::create(prefix("10.77.0.2/24"), ip("10.77.0.1"));
  ASSERT_TRUE(routes.ok());
  auto hop = routes->next_hop(ip("10.77.0.9"));
  ASSERT_TRUE(hop.ok());
  EXPECT_EQ(hop->kind, NextHopKind::kOnLink);
  EXPECT_EQ(hop->address, ip("10.77.0.9"));
  hop = routes->next_hop(ip("192.0.2.1"));
  ASSERT_TRUE(hop.ok());
  EXPECT_EQ(hop->kind, NextHopKind::kGateway);
  EXPECT_EQ(hop->address, ip("10.77.0.1"));
  hop = routes->next_hop(ip("10.77.1.1"));  // just outside the /24
  EXPECT_EQ(hop->kind, NextHopKind::kGateway);
}

TEST(Routes, BroadcastAndMulticast) {
  auto routes = Ipv4Routes::create(prefix("10.77.0.2/24"), ip("10.77.0.1"));
  ASSERT_TRUE(routes.ok());
  EXPECT_EQ(routes->next_hop(ip("10.77.0.255"))->kind, NextHopKind::kBroadcast);
  EXPECT_EQ(routes->next_hop(ip("255.255.255.255"))->kind, NextHopKind::kBroadcast);
  EXPECT_EQ(routes->next_hop(ip("224.0.0.251"))->kind, NextHopKind::kOnLink);
  // A /31 has no broadcast address (RFC 3021): .1 is simply the peer.
  auto point_to_point = Ipv4Routes::create(prefix("10.0.0.0/31"));
  ASSERT_TRUE(point_to_point.ok());
  EXPECT_EQ(point_to_point->next_hop(ip("10.0.0.1"))->kind, NextHopKind::kOnLink);
}

TEST(Routes, NoGatewayMeansNoRoute) {
  auto routes = Ipv4Routes::create(prefix("10.77.0.2/24"));
  ASSERT_TRUE(routes.ok());
  auto hop = routes->next_hop(ip("8.8.8.8"));
  ASSERT_FALSE(hop.ok());
  EXPECT_EQ(hop.error().code, Errc::kNotFound);
  EXPECT_FALSE(routes->next_hop(ip("0.0.0.0")).ok());
  EXPECT_FALSE(routes->next_hop(ip("127.0.0.1")).ok());
}

TEST(Routes, RefusesBadConfigurations) {
  EXPECT_FALSE(Ipv4Routes::create(prefix("10.77.0.2/24"), ip("10.78.0.1")).ok());  // off-link
  EXPECT_FALSE(Ipv4Routes::create(prefix("10.77.0.2/24"), ip("10.77.0.2")).ok());  // ourselves
  EXPECT_FALSE(Ipv4Routes::create(prefix("0.0.0.0/0")).ok());
  EXPECT_FALSE(Ipv4Routes::create({ip("10.0.0.1"), 33}).ok());
  EXPECT_TRUE(Ipv4Routes::create(prefix("10.0.0.1/0"), ip("10.9.9.9")).ok());  // all on-link
}

}  // namespace
}  // namespace morgana::net
