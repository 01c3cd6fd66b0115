// Zone: the checks a zone must pass (SOA at the apex, CNAME alone, records inside) and
// the lookups answering uses, on the example zone and small hand-written ones.
#include "morgana/proto/dns/zone.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace {

using namespace morgana::dns;
using dns_test::name;

std::string zone_error(const std::string& text, const char* origin = "x.test.") {
  Diagnostic error;
  auto zone = Zone::load(text, name(origin), "x.zone", error);
  return zone.ok() ? "loaded" : error.message();
}

TEST(Zone, ValidatesTheApexAndCnames) {
  const std::string soa = "$TTL 60\n@ SOA ns h 1 2 3 4 5\n";
  EXPECT_EQ(zone_error(soa + "a A 192.0.2.1\n"), "loaded");
  EXPECT_EQ(zone_error("$TTL 60\na A 192.0.2.1\n"),
            "x.zone: x.test.: no SOA record at the zone apex");
  EXPECT_EQ(zone_error(soa + "a SOA ns h 1 2 3 4 5\n"),
            "x.zone: a.x.test.: SOA record below the zone apex");
  EXPECT_EQ(zone_error(soa + "@ SOA ns h 2 2 3 4 5\n"),
            "x.zone: x.test.: more than one SOA record");
  EXPECT_EQ(zone_error(soa + "a CNAME b\na A 192.0.2.1\n"),
            "x.zone: a.x.test.: CNAME and other data at the same name");
  EXPECT_EQ(zone_error(soa + "a CNAME b\na CNAME c\n"),
            "x.zone: a.x.test.: more than one CNAME record");
  EXPECT_EQ(zone_error(soa + "a CH A 192.0.2.1\n"),
            "x.zone: a.x.test.: record class differs from the SOA's");
  EXPECT_EQ(zone_error(soa + "@ CNAME b\n"),
            "x.zone: x.test.: CNAME and other data at the same name");
}

TEST(Zone, CreateChecksRecordsFromAnySource) {
  Diagnostic error;
  std::vector<Record> records = {
      {name("x.test."), Type::kSoa, Class::kIn, 60, Soa{name("ns.x.test."), name("h.x.test.")}},
      {name("elsewhere."), Type::kA, Class::kIn, 60, A{}}};
  EXPECT_FALSE(Zone::create(name("x.test."), records, error).ok());
  EXPECT_EQ(error.message(), "elsewhere.: record outside the zone");
  records[1] = {name("a.x.test."), Type::kMx, Class::kIn, 60, A{}};
  EXPECT_FALSE(Zone::create(name("x.test."), records, error).ok());
  EXPECT_EQ(error.message(), "a.x.test.: RDATA form does not match the record type");
  records[1] = {name("a.x.test."), Type::kAny, Class::kIn, 60, Opaque{}};
  EXPECT_FALSE(Zone::create(name("x.test."), records, error).ok());
  EXPECT_EQ(error.message(), "a.x.test.: meta-type in a zone");
}

TEST(Zone, MergesRrsetsDropsDuplicatesAndUsesTheLowestTtl) {
  Diagnostic error;
  auto zone = Zone::load(
      "@ 60 SOA ns h 1 2 3 4 5\na 300 A 192.0.2.1\na 100 A 192.0.2.2\nA 50 A 192.0.2.1\n",
      name("x.test."), "x.zone", error);
  ASSERT_TRUE(zone.ok()) << error.message();
  const RRset* a = zone->find(name("a.x.test."), Type::kA);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->records.size(), 2u);  // RFC 2181 §5: the duplicate is dropped
  for (const auto& record : a->records) EXPECT_EQ(record.ttl, 50u);  // RFC 2181 §5.2
}

TEST(Zone, LooksUpNamesEnclosersWildcardsAndDelegations) {
  Zones zones = dns_test::example_zones();
  const Zone* zone = zones.find(name("www.morgana.test."));
  ASSERT_NE(zone, nullptr);
  EXPECT_EQ(zone->origin(), name("morgana.test."));
  EXPECT_EQ(std::get<Soa>(zone->soa().rdata).serial, 2026112601u);
  EXPECT_EQ(zones.find(name("www.example.com.")), nullptr);

  // Exact names, and empty non-terminals that exist only through names below them.
  EXPECT_NE(zone->find(name("WWW.morgana.test."), Type::kAaaa), nullptr);
  EXPECT_EQ(zone->find(name("www.morgana.test."), Type::kMx), nullptr);
  const Node* ent = zone->find(name("a.b.morgana.test."));
  ASSERT_NE(ent, nullptr);
  EXPECT_TRUE(ent->rrsets.empty());
  EXPECT_EQ(zone->find(name("nope.morgana.test.")), nullptr);

  // RFC 4592 §3.3.1: closest enclosers and sources of synthesis.
  EXPECT_EQ(zone->closest_encloser(name("x.y.wild.morgana.test.")).name,
            name("wild.morgana.test."));
  EXPECT_EQ(zone->closest_encloser(name("nope.morgana.test.")).name, name("morgana.test."));
  EXPECT_EQ(zone->closest_encloser(name("q.a.b.morgana.test.")).name, name("a.b.morgana.test."));
  const Node* star = zone->wildcard(name("wild.morgana.test."));
  ASSERT_NE(star, nullptr);
  EXPECT_EQ(star->name, name("*.wild.morgana.test."));
  EXPECT_EQ(zone->wildcard(name("morgana.test.")), nullptr);

  // Delegations: the cut itself and everything below it, not the apex's own NS.
  const Node* cut = zone->delegation(name("host.sub.morgana.test."));
  ASSERT_NE(cut, nullptr);
  EXPECT_EQ(cut->name, name("sub.morgana.test."));
  EXPECT_EQ(zone->delegation(name("sub.morgana.test.")), cut);
  EXPECT_EQ(zone->delegation(name("morgana.test.")), nullptr);
  EXPECT_EQ(zone->delegation(name("www.morgana.test.")), nullptr);

  // Glue below the cut, and addresses in A-then-AAAA order.
  auto glue = zone->addresses(name("ns2.sub.morgana.test."));
  ASSERT_EQ(glue.size(), 1u);
  EXPECT_EQ(glue[0]->type, Type::kAaaa);
  auto ns1 = zone->addresses(name("ns1.morgana.test."));
  ASSERT_EQ(ns1.size(), 2u);
  EXPECT_EQ(ns1[0]->type, Type::kA);
  EXPECT_TRUE(zone->addresses(name("mail2.example.net.")).empty());
}

TEST(Zone, ZonesPicksTheLongestOrigin) {
  Diagnostic error;
  Zones zones;
  for (const char* origin : {"test.", "sub.x.test.", "x.test."}) {
    auto zone = Zone::load("$TTL 1\n@ SOA ns h 1 2 3 4 5\n", name(origin), "z", error);
    ASSERT_TRUE(zone.ok());
    ASSERT_TRUE(zones.add(std::move(*zone)).ok());
  }
  auto again = Zone::load("$TTL 1\n@ SOA ns h 1 2 3 4 5\n", name("X.TEST."), "z", error);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(zones.add(std::move(*again)).error().code, morgana::Errc::kExists);
  EXPECT_EQ(zones.size(), 3u);
  EXPECT_EQ(zones.find(name("a.sub.x.test."))->origin(), name("sub.x.test."));
  EXPECT_EQ(zones.find(name("a.x.test."))->origin(), name("x.test."));
  EXPECT_EQ(zones.find(name("y.test."))->origin(), name("test."));
  EXPECT_EQ(zones.find(name("example.")), nullptr);
}

}  // namespace
