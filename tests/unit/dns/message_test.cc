// DNS messages against packets captured from dig, kdig and NSD (data/capture.sh): decoded
// field by field, re-encoded byte for byte where NSD's compression is the same as ours,
// and malformed variants of them rejected.
#include "morgana/proto/dns/message.h"

#include <gtest/gtest.h>

#include "morgana/proto/dns/presentation.h"
#include "test_util.h"

namespace {

using namespace morgana::dns;
using dns_test::bytes;
using dns_test::capture;
using dns_test::name;

// Every exchange capture.sh recorded (data/queries.txt).
const char* const kCaptures[] = {
    "a_www",
    "aaaa_www",
    "mx_apex",
    "ns_apex",
    "soa_apex",
    "txt",
    "caa_apex",
    "srv",
    "ptr",
    "opaque",
    "cname",
    "cname_chain",
    "cname_qtype",
    "cname_out",
    "wildcard",
    "wildcard_deep",
    "wildcard_nodata",
    "wildcard_exact",
    "nxdomain",
    "nodata",
    "ent",
    "referral",
    "referral_ns",
    "ds_at_cut",
    "case",
    "refused",
    "edns_a",
    "edns_do",
    "edns_nxdomain",
    "edns_big",
    "truncated",
    "truncated_edns",
    "tcp_many",
    "any_udp",
    "any_tcp",
    "kdig_a",
    "kdig_edns",
    "kdig_badvers",
    "kdig_mx",
};

TEST(Message, DecodesDigQueryFieldByField) {
  auto m = decode(capture("a_www", "query"));
  ASSERT_TRUE(m.ok()) << m.error().what;
  EXPECT_EQ(m->header.id, 0x1D27);
  EXPECT_FALSE(m->header.qr);
  EXPECT_EQ(m->header.opcode, Opcode::kQuery);
  EXPECT_TRUE(m->header.rd);
  EXPECT_TRUE(m->header.ad);  // dig sets AD in queries (RFC 6840 §5.7)
  EXPECT_FALSE(m->header.aa || m->header.tc || m->header.ra || m->header.cd);
  EXPECT_EQ(m->rcode, Rcode::kNoError);
  ASSERT_EQ(m->questions.size(), 1u);
  EXPECT_EQ(m->questions[0].name, name("www.morgana.test."));
  EXPECT_EQ(m->questions[0].type, Type::kA);
  EXPECT_EQ(m->questions[0].qclass, Class::kIn);
  EXPECT_TRUE(m->answers.empty() && m->authority.empty() && m->additional.empty());
  EXPECT_FALSE(m->edns.has_value());
}

TEST(Message, DecodesNsdAnswerFieldByField) {
  auto m = decode(capture("a_www", "response"));
  ASSERT_TRUE(m.ok()) << m.error().what;
  EXPECT_EQ(m->header.id, 0x1D27);
  EXPECT_TRUE(m->header.qr && m->header.aa && m->header.rd);
  EXPECT_FALSE(m->header.tc || m->header.ra || m->header.ad);
  ASSERT_EQ(m->answers.size(), 1u);
  const Record& a = m->answers[0];
  EXPECT_EQ(a.name, name("www.morgana.test."));
  EXPECT_EQ(a.type, Type::kA);
  EXPECT_EQ(a.rclass, Class::kIn);
  EXPECT_EQ(a.ttl, 3600u);
  EXPECT_EQ(std::get<A>(a.rdata).address, (std::array<uint8_t, 4>{10, 78, 0, 80}));
  ASSERT_EQ(m->authority.size(), 2u);
  EXPECT_EQ(m->authority[0].name, name("morgana.test."));
  EXPECT_EQ(std::get<Ns>(m->authority[0].rdata).host, name("ns1.morgana.test."));
  EXPECT_EQ(std::get<Ns>(m->authority[1].rdata).host, name("ns2.morgana.test."));
  ASSERT_EQ(m->additional.size(), 3u);
  EXPECT_EQ(m->additional[1].name, name("ns2.morgana.test."));
  EXPECT_EQ(m->additional[1].ttl, 600u);
  EXPECT_EQ(m->additional[2].type, Type::kAaaa);
  EXPECT_EQ(ipv6_to_string(std::get<Aaaa>(m->additional[2].rdata).address), "fd78::2");
}

TEST(Message, DecodesEdnsOptionsAndFlags) {
  auto cookie = decode(capture("edns_a", "query"));
  ASSERT_TRUE(cookie.ok());
  ASSERT_TRUE(cookie->edns.has_value());
  EXPECT_EQ(cookie->edns->udp_payload_size, 1232);
  EXPECT_EQ(cookie->edns->version, 0);
  EXPECT_FALSE(cookie->edns->dnssec_ok);
  ASSERT_EQ(cookie->edns->options.size(), 1u);
  EXPECT_EQ(cookie->edns->options[0].code, 10);  // COOKIE, RFC 7873
  EXPECT_EQ(cookie->edns->options[0].data.size(), 8u);
  EXPECT_TRUE(cookie->additional.empty());  // the OPT is lifted out of the section

  auto dnssec = decode(capture("edns_do", "query"));
  ASSERT_TRUE(dnssec.ok() && dnssec->edns);
  EXPECT_TRUE(dnssec->edns->dnssec_ok);
  auto dnssec_answer = decode(capture("edns_do", "response"));
  ASSERT_TRUE(dnssec_answer.ok() && dnssec_answer->edns);
  EXPECT_TRUE(dnssec_answer->edns->dnssec_ok);

  auto nsid = decode(capture("kdig_edns", "query"));
  ASSERT_TRUE(nsid.ok() && nsid->edns);
  EXPECT_EQ(nsid->edns->udp_payload_size, 4096);
  ASSERT_EQ(nsid->edns->options.size(), 1u);
  EXPECT_EQ(nsid->edns->options[0].code, 3);  // NSID, RFC 5001
  EXPECT_TRUE(nsid->edns->options[0].data.empty());
}

TEST(Message, DecodesExtendedRcode) {
  auto query = decode(capture("kdig_badvers", "query"));
  ASSERT_TRUE(query.ok() && query->edns);
  EXPECT_EQ(query->edns->version, 1);
  auto response = decode(capture("kdig_badvers", "response"));
  ASSERT_TRUE(response.ok() && response->edns);
  EXPECT_EQ(response->rcode, Rcode::kBadVers);  // header 0 plus extended 1 << 4
  EXPECT_EQ(response->edns->version, 0);
}

TEST(Message, DecodesNegativeReferralAndTruncatedAnswers) {
  auto nx = decode(capture("nxdomain", "response"));
  ASSERT_TRUE(nx.ok());
  EXPECT_EQ(nx->rcode, Rcode::kNxDomain);
  ASSERT_EQ(nx->authority.size(), 1u);
  const auto& soa = std::get<Soa>(nx->authority[0].rdata);
  EXPECT_EQ(soa.mname, name("ns1.morgana.test."));
  EXPECT_EQ(soa.rname, name("hostmaster.morgana.test."));
  EXPECT_EQ(soa.serial, 2026112601u);
  EXPECT_EQ(soa.refresh, 7200u);
  EXPECT_EQ(soa.retry, 3600u);
  EXPECT_EQ(soa.expire, 1209600u);
  EXPECT_EQ(soa.minimum, 300u);
  EXPECT_EQ(nx->authority[0].ttl, 300u);  // RFC 2308 §3: min(TTL, MINIMUM)

  auto referral = decode(capture("referral", "response"));
  ASSERT_TRUE(referral.ok());
  EXPECT_FALSE(referral->header.aa);
  EXPECT_TRUE(referral->answers.empty());
  ASSERT_EQ(referral->authority.size(), 2u);
  EXPECT_EQ(referral->authority[0].name, name("sub.morgana.test."));
  ASSERT_EQ(referral->additional.size(), 2u);
  EXPECT_EQ(referral->additional[0].name, name("ns1.sub.morgana.test."));

  auto truncated = decode(capture("truncated", "response"));
  ASSERT_TRUE(truncated.ok());
  EXPECT_TRUE(truncated->header.tc);
  EXPECT_TRUE(truncated->answers.empty());
  auto full = decode(capture("tcp_many", "response"));
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->answers.size(), 40u);
}

TEST(Message, DecodesTypedAndOpaqueRdata) {
  auto txt = decode(capture("txt", "response"));
  ASSERT_TRUE(txt.ok());
  EXPECT_EQ(std::get<Txt>(txt->answers[0].rdata).strings,
            (std::vector<std::string>{"hello world", "quote \" and backslash \\", "ABC"}));
  auto mx = decode(capture("mx_apex", "response"));
  ASSERT_TRUE(mx.ok());
  EXPECT_EQ(std::get<Mx>(mx->answers[1].rdata).preference, 20);
  EXPECT_EQ(std::get<Mx>(mx->answers[1].rdata).exchange, name("mail2.example.net."));
  auto srv = decode(capture("srv", "response"));
  ASSERT_TRUE(srv.ok());
  const auto& s = std::get<Srv>(srv->answers[0].rdata);
  EXPECT_EQ(s.priority, 10);
  EXPECT_EQ(s.weight, 60);
  EXPECT_EQ(s.port, 5060);
  EXPECT_EQ(s.target, name("sip.morgana.test."));  // NSD compresses it; we accept that
  auto caa = decode(capture("caa_apex", "response"));
  ASSERT_TRUE(caa.ok());
  EXPECT_EQ(std::get<Caa>(caa->answers[0].rdata), (Caa{0, "issue", "ca.example.net"}));
  auto opaque = decode(capture("opaque", "response"));
  ASSERT_TRUE(opaque.ok());
  EXPECT_EQ(static_cast<uint16_t>(opaque->answers[0].type), 65400);
  EXPECT_EQ(std::get<Opaque>(opaque->answers[0].rdata).data, bytes({0x0A, 0x0B, 0x0C, 0x0D}));
  auto ds = decode(capture("ds_at_cut", "response"));
  ASSERT_TRUE(ds.ok());
  EXPECT_EQ(to_string(ds->answers[0]),
            "sub.morgana.test. 3600 IN DS 12345 13 2 "
            "3B6BA3A8F2C4E1D4E5F6A7B8C9D0E1F2A3B4C5D6E7F8091A2B3C4D5E6F708192");
}

TEST(Message, PreservesCase) {
  auto m = decode(capture("case", "response"));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->answers[0].name.to_string(), "WwW.MoRgAnA.TeSt.");
  EXPECT_EQ(m->answers[0].name, name("www.morgana.test."));
}

// Our compressor makes the same choices as NSD's for every capture but SRV: NSD leaves the
// SRV target out of its compression table, so the additional record for the same name is
// 4 bytes longer than ours. Queries from dig and kdig have nothing
// to compress, so they must come back identical too.
TEST(Message, ReencodesCapturesByteForByte) {
  for (const char* name : kCaptures) {
    for (const char* which : {"query", "response"}) {
      SCOPED_TRACE(std::string(name) + "." + which);
      auto original = capture(name, which);
      auto m = decode(original);
      ASSERT_TRUE(m.ok()) << m.error().what;
      auto encoded = encode(*m);
      ASSERT_TRUE(encoded.ok()) << encoded.error().what;
      EXPECT_FALSE(encoded->truncated);
      auto again = decode(encoded->bytes);
      ASSERT_TRUE(again.ok()) << again.error().what;
      EXPECT_EQ(*again, *m);
      if (std::string(name) != "srv" || std::string(which) == "query")
        EXPECT_EQ(encoded->bytes, original);
      else
        EXPECT_EQ(encoded->bytes.size() + 4, original.size());
    }
  }
}

TEST(Message, RejectsEveryTruncationOfEveryCapture) {
  for (const char* name : kCaptures) {
    for (const char* which : {"query", "response"}) {
      auto original = capture(name, which);
      for (size_t n = 0; n < original.size(); ++n) {
        auto m = decode(std::span(original).first(n));
        EXPECT_FALSE(m.ok()) << name << "." << which << " cut to " << n << " bytes";
      }
    }
  }
}

TEST(Message, RejectsCountsLargerThanTheMessage) {
  auto original = capture("a_www", "response");
  for (size_t field : {4, 6, 8, 10}) {  // QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT
    for (int count : {1, 0xFF, 0xFFFF}) {
      auto copy = original;
      int value = (copy[field] << 8 | copy[field + 1]) + count;
      if (value > 0xFFFF) value = 0xFFFF;
      copy[field] = static_cast<uint8_t>(value >> 8);
      copy[field + 1] = static_cast<uint8_t>(value);
      EXPECT_FALSE(decode(copy).ok()) << "count field " << field << " +" << count;
    }
  }
}

TEST(Message, RejectsTrailingBytesAndBadRdlength) {
  auto original = capture("a_www", "response");
  auto longer = original;
  longer.push_back(0);
  EXPECT_FALSE(decode(longer).ok());
  // The answer's RDLENGTH (offset 0x2C) claiming 5 bytes for an A record.
  auto wrong = original;
  ASSERT_EQ(wrong[0x2D], 4);
  wrong[0x2D] = 5;
  EXPECT_FALSE(decode(wrong).ok());
  wrong[0x2D] = 3;
  EXPECT_FALSE(decode(wrong).ok());
}

// A header with one question whose name is `name_bytes`, then type A class IN.
std::vector<uint8_t> query_with_name(std::vector<uint8_t> name_bytes) {
  auto m = bytes({0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0});
  m.insert(m.end(), name_bytes.begin(), name_bytes.end());
  auto tail = bytes({0, 1, 0, 1});
  m.insert(m.end(), tail.begin(), tail.end());
  return m;
}

TEST(Message, RejectsBadNamesInQuestions) {
  // A pointer to itself, a pointer forward, a pointer into the header.
  EXPECT_FALSE(decode(query_with_name(bytes({0xC0, 12}))).ok());
  EXPECT_FALSE(decode(query_with_name(bytes({0xC0, 14}))).ok());
  EXPECT_FALSE(decode(query_with_name(bytes({0x01, 'a', 0xC0, 12}))).ok());
  // Label types 0x40 and 0x80 (a length over 63).
  EXPECT_FALSE(decode(query_with_name(bytes({0x40, 'a', 0}))).ok());
  EXPECT_FALSE(decode(query_with_name(bytes({0x80, 'a', 0}))).ok());
  // 4 x 63-byte labels: 256 bytes with the root, one over RFC 1035's limit.
  std::vector<uint8_t> long_name;
  for (int i = 0; i < 4; ++i) {
    long_name.push_back(63);
    long_name.insert(long_name.end(), 63, 'x');
  }
  long_name.push_back(0);
  EXPECT_FALSE(decode(query_with_name(long_name)).ok());
  long_name.erase(long_name.begin() + 1, long_name.begin() + 3);  // 61 + 3 x 63: exactly 255
  long_name[0] = 61;
  EXPECT_TRUE(decode(query_with_name(long_name)).ok());
}

TEST(Message, RejectsMisplacedOrRepeatedOpt) {
  auto edns = capture("edns_do", "query");
  auto m = decode(edns);
  ASSERT_TRUE(m.ok());
  // The OPT record is the last 11 bytes; repeat it with ARCOUNT 2.
  auto twice = edns;
  twice.insert(twice.end(), edns.end() - 11, edns.end());
  twice[11] = 2;
  EXPECT_FALSE(decode(twice).ok());
  // Moved to the answer section (ANCOUNT 1, ARCOUNT 0).
  auto answer = edns;
  answer[7] = 1;
  answer[11] = 0;
  EXPECT_FALSE(decode(answer).ok());
  // Owned by a name other than the root.
  auto owned = edns;
  owned.insert(owned.end() - 11, {0xC0, 12});
  owned.erase(owned.end() - 11);
  EXPECT_FALSE(decode(owned).ok());
}

Message sample_response() {
  Message m;
  m.header.id = 7;
  m.header.qr = true;
  m.header.aa = true;
  m.questions.push_back({name("many.morgana.test."), Type::kA, Class::kIn});
  for (int i = 0; i < 40; ++i)
    m.answers.push_back({name("many.morgana.test."), Type::kA, Class::kIn, 3600,
                         A{{10, 78, 1, static_cast<uint8_t>(i)}}});
  m.authority.push_back(
      {name("morgana.test."), Type::kNs, Class::kIn, 3600, Ns{name("ns1.morgana.test.")}});
  return m;
}

TEST(Message, EncoderTruncatesWholeRrsetsAndSetsTc) {
  Message m = sample_response();
  auto full = encode(m);
  ASSERT_TRUE(full.ok());
  EXPECT_FALSE(full->truncated);
  auto cut = encode(m, {.limit = 512});
  ASSERT_TRUE(cut.ok());
  EXPECT_TRUE(cut->truncated);
  EXPECT_LE(cut->bytes.size(), 512u);
  auto decoded = decode(cut->bytes);
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->header.tc);
  EXPECT_TRUE(decoded->answers.empty());  // RFC 2181 §9: no partial RRset
  EXPECT_TRUE(decoded->authority.empty());
  EXPECT_EQ(decoded->questions, m.questions);
}

TEST(Message, EncoderKeepsOptWhenTruncating) {
  Message m = sample_response();
  m.edns = Edns{};
  m.edns->options.push_back({10, {1, 2, 3, 4, 5, 6, 7, 8}});
  auto cut = encode(m, {.limit = 512});
  ASSERT_TRUE(cut.ok());
  EXPECT_TRUE(cut->truncated);
  auto decoded = decode(cut->bytes);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->edns, m.edns);
}

TEST(Message, EncoderDropsOptionalAdditionalWithoutTc) {
  Message m;
  m.header.qr = true;
  m.questions.push_back({name("morgana.test."), Type::kMx, Class::kIn});
  m.answers.push_back(
      {name("morgana.test."), Type::kMx, Class::kIn, 60, Mx{10, name("mail.morgana.test.")}});
  for (int i = 0; i < 60; ++i)
    m.additional.push_back({name("mail.morgana.test."), Type::kA, Class::kIn, 60,
                            A{{10, 0, 0, static_cast<uint8_t>(i)}}});
  auto optional = encode(m, {.limit = 512});
  ASSERT_TRUE(optional.ok());
  EXPECT_FALSE(optional->truncated);
  EXPECT_EQ(decode(optional->bytes)->answers.size(), 1u);
  auto required = encode(m, {.limit = 512, .required_additional = 1});
  ASSERT_TRUE(required.ok());
  EXPECT_TRUE(required->truncated);  // RFC 9471: glue that does not fit sets TC
}

TEST(Message, EncoderRejectsInconsistentRecords) {
  Message m;
  m.answers.push_back({name("a."), Type::kMx, Class::kIn, 1, A{}});
  EXPECT_FALSE(encode(m).ok());
  Message extended;
  extended.rcode = Rcode::kBadVers;
  EXPECT_FALSE(encode(extended).ok());  // needs an OPT record to carry the upper bits
  extended.edns = Edns{};
  EXPECT_TRUE(encode(extended).ok());
  Message long_txt;
  long_txt.answers.push_back({name("a."), Type::kTxt, Class::kIn, 1, Txt{{std::string(256, 'x')}}});
  EXPECT_FALSE(encode(long_txt).ok());
}

TEST(Message, CompressionPointsOnlyBackwardsAtEqualNames) {
  Message m;
  m.questions.push_back({name("WWW.Example.COM."), Type::kA, Class::kIn});
  m.answers.push_back(
      {name("www.example.com."), Type::kCname, Class::kIn, 1, Cname{name("mail.example.com.")}});
  m.answers.push_back({name("mail.example.com."), Type::kA, Class::kIn, 1, A{{1, 2, 3, 4}}});
  auto encoded = encode(m);
  ASSERT_TRUE(encoded.ok());
  // Question 17+4, CNAME owner as a pointer (2), fixed fields 10, target "mail"+pointer
  // (7), A owner pointer (2) + 10 + 4.
  EXPECT_EQ(encoded->bytes.size(), 12u + 21 + 2 + 10 + 7 + 2 + 10 + 4);
  auto decoded = decode(encoded->bytes);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->answers, m.answers);
}

}  // namespace
