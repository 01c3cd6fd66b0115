// answer() against NSD: for every query capture.sh sent, Morgana's answer from the same
// zone must match NSD's recorded response field by field, with records sorted within
// each section (the comparison rule); most are even byte-identical.
#include "morgana/proto/dns/answer.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace {

using namespace morgana::dns;
using dns_test::capture;
using dns_test::name;
using dns_test::sorted_lines;

struct Case {
  const char* name;
  Transport transport;
};

const Case kCases[] = {
    {"a_www", Transport::kUdp},
    {"aaaa_www", Transport::kUdp},
    {"mx_apex", Transport::kUdp},
    {"ns_apex", Transport::kUdp},
    {"soa_apex", Transport::kUdp},
    {"txt", Transport::kUdp},
    {"caa_apex", Transport::kUdp},
    {"srv", Transport::kUdp},
    {"ptr", Transport::kUdp},
    {"opaque", Transport::kUdp},
    {"cname", Transport::kUdp},
    {"cname_chain", Transport::kUdp},
    {"cname_qtype", Transport::kUdp},
    {"cname_out", Transport::kUdp},
    {"wildcard", Transport::kUdp},
    {"wildcard_deep", Transport::kUdp},
    {"wildcard_nodata", Transport::kUdp},
    {"wildcard_exact", Transport::kUdp},
    {"nxdomain", Transport::kUdp},
    {"nodata", Transport::kUdp},
    {"ent", Transport::kUdp},
    {"referral", Transport::kUdp},
    {"referral_ns", Transport::kUdp},
    {"ds_at_cut", Transport::kUdp},
    {"case", Transport::kUdp},
    {"refused", Transport::kUdp},
    {"edns_a", Transport::kUdp},
    {"edns_do", Transport::kUdp},
    {"edns_nxdomain", Transport::kUdp},
    {"edns_big", Transport::kUdp},
    {"truncated", Transport::kUdp},
    {"truncated_edns", Transport::kUdp},
    {"tcp_many", Transport::kTcp},
    {"any_udp", Transport::kUdp},
    {"any_tcp", Transport::kTcp},
    {"kdig_a", Transport::kUdp},
    {"kdig_edns", Transport::kUdp},
    {"kdig_badvers", Transport::kUdp},
    {"kdig_mx", Transport::kTcp},
};

TEST(Answer, MatchesNsdForEveryCapturedQuery) {
  Zones zones = dns_test::example_zones();
  size_t identical = 0;
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    auto query = decode(capture(c.name, "query"));
    auto expected = decode(capture(c.name, "response"));
    ASSERT_TRUE(query.ok() && expected.ok());
    auto bytes = answer(zones, *query, c.transport);
    auto got = decode(bytes);
    ASSERT_TRUE(got.ok()) << got.error().what;
    EXPECT_EQ(got->header, expected->header);
    EXPECT_EQ(got->rcode, expected->rcode);
    EXPECT_EQ(got->questions, expected->questions);
    EXPECT_EQ(got->questions[0].name.to_string(), expected->questions[0].name.to_string());
    EXPECT_EQ(got->edns, expected->edns);
    EXPECT_EQ(sorted_lines(got->answers), sorted_lines(expected->answers));
    EXPECT_EQ(sorted_lines(got->authority), sorted_lines(expected->authority));
    EXPECT_EQ(sorted_lines(got->additional), sorted_lines(expected->additional));
    if (bytes == capture(c.name, "response")) ++identical;
  }
  // All but SRV (see message_test.cc) come out byte for byte as NSD's.
  EXPECT_EQ(identical, std::size(kCases) - 1);
}

TEST(Answer, KeepsTheQueryCaseInOwnerNames) {
  Zones zones = dns_test::example_zones();
  auto query = decode(capture("case", "query"));
  ASSERT_TRUE(query.ok());
  auto got = decode(answer(zones, *query, Transport::kUdp));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->answers.at(0).name.to_string(), "WwW.MoRgAnA.TeSt.");
}

Message query_for(const char* qname, Type type) {
  Message q;
  q.header.id = 99;
  q.questions.push_back({name(qname), type, Class::kIn});
  return q;
}

TEST(Answer, SendsTheTruncatedQueryInFullOverTcp) {
  Zones zones = dns_test::example_zones();
  auto q = query_for("many.morgana.test.", Type::kA);
  auto udp = decode(answer(zones, q, Transport::kUdp));
  auto tcp = decode(answer(zones, q, Transport::kTcp));
  ASSERT_TRUE(udp.ok() && tcp.ok());
  EXPECT_TRUE(udp->header.tc);
  EXPECT_FALSE(tcp->header.tc);
  EXPECT_EQ(tcp->answers.size(), 40u);
  // An EDNS size below 512 counts as 512 (RFC 6891 §6.2.5); a large one is capped by ours.
  q.edns = Edns{};
  q.edns->udp_payload_size = 100;
  EXPECT_TRUE(decode(answer(zones, q, Transport::kUdp))->header.tc);
  q.edns->udp_payload_size = 65535;
  auto big = decode(answer(zones, q, Transport::kUdp, 512));
  EXPECT_TRUE(big->header.tc);
  EXPECT_EQ(big->edns->udp_payload_size, 512);
}

TEST(Answer, FollowsCnameLoopsOnlyOnce) {
  Diagnostic error;
  auto zone = Zone::load("$TTL 60\n@ SOA ns h 1 2 3 4 5\na CNAME b\nb CNAME a\nc CNAME c\n",
                         name("loop.test."), "loop.zone", error);
  ASSERT_TRUE(zone.ok()) << error.message();
  Zones zones;
  ASSERT_TRUE(zones.add(std::move(*zone)).ok());
  auto got = decode(answer(zones, query_for("a.loop.test.", Type::kA), Transport::kUdp));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->answers.size(), 2u);  // a -> b, b -> a, then the loop is noticed
  auto self = decode(answer(zones, query_for("c.loop.test.", Type::kA), Transport::kUdp));
  EXPECT_EQ(self->answers.size(), 1u);
}

TEST(Answer, ChainEndingInNxdomainReportsIt) {
  Diagnostic error;
  auto zone =
      Zone::load("$TTL 60\n@ SOA ns h 1 2 3 4 5\na CNAME gone\n", name("x.test."), "x.zone", error);
  ASSERT_TRUE(zone.ok());
  Zones zones;
  ASSERT_TRUE(zones.add(std::move(*zone)).ok());
  auto got = decode(answer(zones, query_for("a.x.test.", Type::kA), Transport::kUdp));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->rcode, Rcode::kNxDomain);  // RFC 6604 §3: the last name's status
  EXPECT_EQ(got->answers.size(), 1u);
  EXPECT_EQ(got->authority.at(0).type, Type::kSoa);
}

TEST(Answer, AnyReturnsOneRrsetPerRfc8482) {
  Zones zones = dns_test::example_zones();
  auto got = decode(answer(zones, query_for("morgana.test.", Type::kAny), Transport::kUdp));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->rcode, Rcode::kNoError);
  ASSERT_FALSE(got->answers.empty());
  for (const auto& record : got->answers) EXPECT_EQ(record.type, got->answers[0].type);
  auto nx = decode(answer(zones, query_for("nope.morgana.test.", Type::kAny), Transport::kUdp));
  EXPECT_EQ(nx->rcode, Rcode::kNxDomain);
}

TEST(Answer, RefusesAndRejectsWhatItDoesNotServe) {
  Zones zones = dns_test::example_zones();
  auto rcode_of = [&](const Message& q) {
    return decode(answer(zones, q, Transport::kUdp))->rcode;
  };
  EXPECT_EQ(rcode_of(query_for("morgana.test.", Type::kAxfr)), Rcode::kRefused);
  auto chaos = query_for("www.morgana.test.", Type::kA);
  chaos.questions[0].qclass = Class::kCh;
  EXPECT_EQ(rcode_of(chaos), Rcode::kRefused);
  auto notify = query_for("www.morgana.test.", Type::kA);
  notify.header.opcode = Opcode::kNotify;
  EXPECT_EQ(rcode_of(notify), Rcode::kNotImp);
  auto two = query_for("www.morgana.test.", Type::kA);
  two.questions.push_back(two.questions[0]);
  EXPECT_EQ(rcode_of(two), Rcode::kFormErr);
  EXPECT_EQ(rcode_of(query_for("www.morgana.test.", Type::kOpt)), Rcode::kFormErr);
  auto response = query_for("www.morgana.test.", Type::kA);
  response.header.qr = true;
  EXPECT_TRUE(answer(zones, response, Transport::kUdp).empty());
}

TEST(Answer, MalformedQueryBytesGetFormerrOrNothing) {
  Zones zones = dns_test::example_zones();
  auto query = capture("a_www", "query");
  auto cut = std::vector<uint8_t>(query.begin(), query.end() - 3);
  auto got = decode(answer(zones, std::span<const uint8_t>(cut), Transport::kUdp));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->rcode, Rcode::kFormErr);
  EXPECT_EQ(got->header.id, 0x1D27);
  EXPECT_TRUE(got->questions.empty());
  std::vector<uint8_t> tiny(query.begin(), query.begin() + 5);
  EXPECT_TRUE(answer(zones, std::span<const uint8_t>(tiny), Transport::kUdp).empty());
  auto whole = answer(zones, std::span<const uint8_t>(query), Transport::kUdp);
  EXPECT_EQ(whole, capture("a_www", "response"));
}

// Seen next to NSD in tests/integration/dns.sh: an address RRset that is the answer is
// not repeated in the additional section, and a REFUSED with EDNS says why (RFC 8914).
TEST(Answer, LeavesAnsweredAddressesOutOfAdditional) {
  Zones zones = dns_test::example_zones();
  auto got = decode(answer(zones, query_for("ns1.morgana.test.", Type::kAaaa), Transport::kUdp));
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->answers.size(), 1u);
  for (const auto& record : got->additional)
    EXPECT_FALSE(record.type == Type::kAaaa && record.name == name("ns1.morgana.test."));
  EXPECT_EQ(got->additional.size(), 2u);  // ns1 A, ns2 A
}

TEST(Answer, RefusedOutsideOurZonesCarriesExtendedError) {
  Zones zones = dns_test::example_zones();
  auto q = query_for("www.example.net.", Type::kA);
  q.edns = Edns{};
  auto got = decode(answer(zones, q, Transport::kUdp));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->rcode, Rcode::kRefused);
  ASSERT_EQ(got->edns->options.size(), 1u);
  EXPECT_EQ(got->edns->options[0], extended_error(ExtendedError::kNotAuthoritative));
  EXPECT_EQ(got->edns->options[0].data, (std::vector<uint8_t>{0, 20}));
}

}  // namespace
