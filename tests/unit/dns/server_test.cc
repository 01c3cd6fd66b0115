// The server's pure logic: memoised responses must be exactly answer()'s with the ID
// patched, RRL must limit per /24 and slip, AXFR must follow RFC 5936 for allowed
// addresses only, and TCP framing must cope with any split of the stream.
#include "morgana/proto/dns/server.h"

#include <gtest/gtest.h>

#include <set>

#include "test_util.h"

namespace {

using namespace morgana::dns;
using dns_test::capture;
using dns_test::name;
using morgana::net::Ipv4Address;
using morgana::net::Ipv4Prefix;

constexpr uint64_t kSecond = 1'000'000'000;

const Ipv4Address kClient = *Ipv4Address::parse("10.78.0.1");

Server example_server(ServerOptions options = {}) {
  return Server(dns_test::example_zones(), std::move(options));
}

std::vector<uint8_t> query_bytes(const char* qname, Type type, uint16_t id = 7,
                                 std::optional<uint16_t> edns_size = std::nullopt) {
  Message q;
  q.header.id = id;
  q.header.rd = true;
  q.questions.push_back({name(qname), type, Class::kIn});
  if (edns_size) {
    q.edns = Edns{};
    q.edns->udp_payload_size = *edns_size;
  }
  auto encoded = encode(q);
  EXPECT_TRUE(encoded.ok());
  return encoded.ok() ? encoded->bytes : std::vector<uint8_t>();
}

std::vector<uint8_t> first(const Responses& out) {
  EXPECT_GE(out.size(), 1u);
  if (out.size() == 0) return {};
  return {out[0].begin(), out[0].end()};
}

// The captures of tests/unit/dns/data (dig, kdig and NSD), with their transport.
const std::pair<const char*, Transport> kCaptures[] = {
    {"a_www", Transport::kUdp},          {"aaaa_www", Transport::kUdp},
    {"mx_apex", Transport::kUdp},        {"txt", Transport::kUdp},
    {"cname_chain", Transport::kUdp},    {"wildcard", Transport::kUdp},
    {"nxdomain", Transport::kUdp},       {"nodata", Transport::kUdp},
    {"referral", Transport::kUdp},       {"case", Transport::kUdp},
    {"refused", Transport::kUdp},        {"edns_do", Transport::kUdp},
    {"edns_big", Transport::kUdp},       {"truncated", Transport::kUdp},
    {"truncated_edns", Transport::kUdp}, {"tcp_many", Transport::kTcp},
    {"any_udp", Transport::kUdp},        {"kdig_badvers", Transport::kUdp},
    {"kdig_mx", Transport::kTcp},
};

TEST(Server, MemoisedResponsesAreAnswersWithTheQueryId) {
  Server server = example_server();
  Responses out;
  for (const auto& [capture_name, transport] : kCaptures) {
    SCOPED_TRACE(capture_name);
    auto query = capture(capture_name, "query");
    auto expected = answer(server.zones(), query, transport);
    EXPECT_EQ(server.handle({query, transport, kClient, 0}, out), Disposition::kAnswered);
    EXPECT_EQ(first(out), expected);
    // Again with another ID: now from the memo, otherwise the same bytes.
    query[0] ^= 0x5A;
    query[1] ^= 0xA5;
    expected[0] = query[0];
    expected[1] = query[1];
    EXPECT_EQ(server.handle({query, transport, kClient, 0}, out), Disposition::kMemoHit);
    EXPECT_EQ(first(out), expected);
  }
  EXPECT_EQ(server.stats().memo_hits, std::size(kCaptures));
}

TEST(Server, MemoKeyKeepsCaseFlagsAndEffectiveSizeApart) {
  std::array<uint8_t, kMaxMemoKeySize> a, b;
  auto key = [](std::array<uint8_t, kMaxMemoKeySize>& k, const std::vector<uint8_t>& q,
                Transport t = Transport::kUdp) {
    return std::vector<uint8_t>(k.begin(), k.begin() + memo_key(q, t, kDefaultUdpLimit, k));
  };
  auto www = key(a, query_bytes("www.morgana.test.", Type::kA));
  ASSERT_FALSE(www.empty());
  EXPECT_EQ(www, key(b, query_bytes("www.morgana.test.", Type::kA, 999)));  // the ID is not
  EXPECT_NE(www, key(b, query_bytes("WWW.morgana.test.", Type::kA)));  // case is kept (RFC 4343)
  EXPECT_NE(www, key(b, query_bytes("www.morgana.test.", Type::kAaaa)));
  EXPECT_NE(www, key(b, query_bytes("www.morgana.test.", Type::kA), Transport::kTcp));
  EXPECT_NE(www, key(b, query_bytes("www.morgana.test.", Type::kA, 7, 1232)));
  // EDNS sizes that cut the response at the same length share a key (ours is 1232).
  EXPECT_EQ(key(a, query_bytes("www.morgana.test.", Type::kA, 7, 1232)),
            key(b, query_bytes("www.morgana.test.", Type::kA, 7, 4096)));
  EXPECT_EQ(key(a, query_bytes("www.morgana.test.", Type::kA, 7, 100)),
            key(b, query_bytes("www.morgana.test.", Type::kA, 7, 512)));
  EXPECT_NE(key(a, query_bytes("www.morgana.test.", Type::kA, 7, 512)),
            key(b, query_bytes("www.morgana.test.", Type::kA, 7, 513)));
}

TEST(Server, MemoKeyRefusesAnythingButTheSimpleForm) {
  std::array<uint8_t, kMaxMemoKeySize> k;
  auto q = query_bytes("www.morgana.test.", Type::kA, 7, 1232);
  ASSERT_GT(memo_key(q, Transport::kUdp, kDefaultUdpLimit, k), 0u);
  auto variant = [&](auto change) {
    auto copy = q;
    change(copy);
    return memo_key(copy, Transport::kUdp, kDefaultUdpLimit, k);
  };
  EXPECT_EQ(variant([](auto& m) { m[2] |= 0x80; }), 0u);    // a response
  EXPECT_EQ(variant([](auto& m) { m[2] |= 0x28; }), 0u);    // opcode 5 (UPDATE)
  EXPECT_EQ(variant([](auto& m) { m[5] = 2; }), 0u);        // two questions
  EXPECT_EQ(variant([](auto& m) { m[7] = 1; }), 0u);        // an answer record
  EXPECT_EQ(variant([](auto& m) { m.push_back(0); }), 0u);  // trailing bytes
  EXPECT_EQ(variant([](auto& m) { m.pop_back(); }), 0u);    // short OPT
  EXPECT_EQ(variant([](auto& m) { m[12] = 0xC0; }), 0u);    // a pointer in the question
  EXPECT_EQ(variant([](auto& m) {
              m.back() = 4;
              m.insert(m.end(), {0, 1, 0, 9});
            }),
            0u);
  for (size_t n = 0; n < q.size(); ++n)
    EXPECT_EQ(memo_key(std::span(q).first(n), Transport::kUdp, kDefaultUdpLimit, k), 0u) << n;
}

TEST(Server, MemoIsBoundedAndCanBeOff) {
  ServerOptions options;
  options.memo_entries = 4;
  Server server = example_server(options);
  Responses out;
  const char* names[] = {"www.morgana.test.",    "mail.morgana.test.",  "ns1.morgana.test.",
                         "sip.morgana.test.",    "ftp.morgana.test.",   "alias.morgana.test.",
                         "a.wild.morgana.test.", "b.wild.morgana.test."};
  for (int round = 0; round < 3; ++round)
    for (const char* n : names)
      (void)server.handle({query_bytes(n, Type::kA), Transport::kUdp, kClient, 0}, out);
  EXPECT_EQ(server.stats().memo_hits + server.stats().memo_misses, 24u);
  EXPECT_GT(server.stats().memo_evictions, 0u);  // 8 names, 4 slots

  options.memo_entries = 0;
  Server off = example_server(options);
  auto q = query_bytes("www.morgana.test.", Type::kA);
  EXPECT_EQ(off.handle({q, Transport::kUdp, kClient, 0}, out), Disposition::kAnswered);
  EXPECT_EQ(off.handle({q, Transport::kUdp, kClient, 0}, out), Disposition::kAnswered);
  EXPECT_EQ(off.stats().memo_hits, 0u);
}

// The memo is measured in bench/dns with dnsperf's twenty queries: once each has been
// answered, every repeat must be a hit (a direct-mapped memo lost 10% to one collision).
TEST(Server, MemoKeepsAHotSetWithoutThrashing) {
  Server server = example_server();
  Responses out;
  const std::pair<const char*, Type> hot[] = {
      {"www.morgana.test.", Type::kA},
      {"www.morgana.test.", Type::kAaaa},
      {"morgana.test.", Type::kMx},
      {"morgana.test.", Type::kNs},
      {"morgana.test.", Type::kSoa},
      {"mail.morgana.test.", Type::kA},
      {"txt.morgana.test.", Type::kTxt},
      {"alias.morgana.test.", Type::kA},
      {"ftp.morgana.test.", Type::kA},
      {"host1.wild.morgana.test.", Type::kA},
      {"host2.wild.morgana.test.", Type::kTxt},
      {"nope.morgana.test.", Type::kA},
      {"www.morgana.test.", Type::kMx},
      {"_sip._udp.morgana.test.", Type::kSrv},
      {"ptr.morgana.test.", Type::kPtr},
      {"www.sub.morgana.test.", Type::kA},
      {"ns1.morgana.test.", Type::kA},
      {"exact.wild.morgana.test.", Type::kA},
      {"a.b.morgana.test.", Type::kA},
      {"www.example.net.", Type::kA},
  };
  for (int round = 0; round < 3; ++round)
    for (const auto& [qname, type] : hot)
      (void)server.handle({query_bytes(qname, type), Transport::kUdp, kClient, 0}, out);
  EXPECT_EQ(server.stats().memo_misses, std::size(hot));
  EXPECT_EQ(server.stats().memo_hits, 2 * std::size(hot));
  EXPECT_EQ(server.stats().memo_evictions, 0u);
}

TEST(Server, LargeResponsesAreNotMemoised) {
  ServerOptions options;
  options.memo_max_response = 100;
  Server server = example_server(options);
  Responses out;
  auto q = query_bytes("many.morgana.test.", Type::kA);  // forty addresses over TCP
  EXPECT_EQ(server.handle({q, Transport::kTcp, kClient, 0}, out), Disposition::kAnswered);
  EXPECT_GT(out[0].size(), 100u);
  EXPECT_EQ(server.handle({q, Transport::kTcp, kClient, 0}, out), Disposition::kAnswered);
  // A small one still is.
  auto www = query_bytes("www.morgana.test.", Type::kTxt);
  EXPECT_EQ(server.handle({www, Transport::kTcp, kClient, 0}, out), Disposition::kAnswered);
  EXPECT_LE(out[0].size(), 100u);
  EXPECT_EQ(server.handle({www, Transport::kTcp, kClient, 0}, out), Disposition::kMemoHit);
}

TEST(Server, MalformedQueriesGetFormErrOrNothing) {
  Server server = example_server();
  Responses out;
  auto garbage = dns_test::bytes({0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF});
  EXPECT_EQ(server.handle({garbage, Transport::kUdp, kClient, 0}, out), Disposition::kFormErr);
  auto response = decode(first(out));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->header.id, 0x1234);
  EXPECT_EQ(response->rcode, Rcode::kFormErr);
  // Shorter than a header, or itself a response: no answer at all.
  EXPECT_EQ(server.handle({std::span(garbage).first(5), Transport::kUdp, kClient, 0}, out),
            Disposition::kDropped);
  EXPECT_EQ(out.size(), 0u);
  garbage[2] |= 0x80;
  EXPECT_EQ(server.handle({garbage, Transport::kUdp, kClient, 0}, out), Disposition::kDropped);
  // Service continues.
  EXPECT_EQ(
      server.handle({query_bytes("www.morgana.test.", Type::kA), Transport::kUdp, kClient, 0}, out),
      Disposition::kAnswered);
  EXPECT_EQ(server.stats().formerr, 1u);
  EXPECT_EQ(server.stats().dropped, 2u);
}

TEST(Server, RateLimitsEachSlash24AndSlipsTruncatedResponses) {
  ServerOptions options;
  options.rrl_per_second = 5;
  Server server = example_server(options);
  Responses out;
  auto q = query_bytes("www.morgana.test.", Type::kA);
  uint64_t t = 100 * kSecond;
  // A burst of one second's worth, then one in two dropped and one in two slipped.
  for (int i = 0; i < 5; ++i)
    EXPECT_NE(server.handle({q, Transport::kUdp, kClient, t}, out), Disposition::kRateLimited);
  EXPECT_EQ(server.handle({q, Transport::kUdp, kClient, t}, out), Disposition::kRateLimited);
  EXPECT_EQ(server.handle({q, Transport::kUdp, kClient, t}, out), Disposition::kSlipped);
  auto slipped = decode(first(out));
  ASSERT_TRUE(slipped.ok());
  EXPECT_TRUE(slipped->header.tc);
  EXPECT_TRUE(slipped->header.qr);
  EXPECT_EQ(slipped->header.id, 7);
  EXPECT_EQ(slipped->questions.at(0).name.to_string(), "www.morgana.test.");
  EXPECT_TRUE(slipped->answers.empty());
  // The same /24 shares the limit; another /24 and TCP do not.
  EXPECT_EQ(server.handle({q, Transport::kUdp, *Ipv4Address::parse("10.78.0.200"), t}, out),
            Disposition::kRateLimited);
  EXPECT_NE(server.handle({q, Transport::kUdp, *Ipv4Address::parse("10.78.1.1"), t}, out),
            Disposition::kRateLimited);
  EXPECT_NE(server.handle({q, Transport::kTcp, kClient, t}, out), Disposition::kRateLimited);
  // One interval later one more response is allowed; a second later, a whole burst.
  EXPECT_NE(server.handle({q, Transport::kUdp, kClient, t + kSecond / 5}, out),
            Disposition::kRateLimited);
  int allowed = 0;
  for (int i = 0; i < 10; ++i)
    allowed += server.handle({q, Transport::kUdp, kClient, t + 3 * kSecond}, out) !=
                   Disposition::kRateLimited &&
               out.size() == 1 && !decode(first(out))->header.tc;
  EXPECT_EQ(allowed, 5);
  EXPECT_GT(server.stats().rrl_dropped, 0u);
  EXPECT_GT(server.stats().rrl_slipped, 0u);
}

TEST(Server, RateLimitingIsOffByDefault) {
  Server server = example_server();
  Responses out;
  auto q = query_bytes("www.morgana.test.", Type::kA);
  for (int i = 0; i < 10000; ++i)
    ASSERT_NE(server.handle({q, Transport::kUdp, kClient, 0}, out), Disposition::kRateLimited);
}

// Every record of the zone, as text, with the SOA once.
std::multiset<std::string> zone_records(const Zone& zone) {
  std::multiset<std::string> lines;
  for (const auto& [owner, node] : zone.nodes())
    for (const auto& rrset : node.rrsets)
      for (const auto& record : rrset.records) lines.insert(to_string(record));
  return lines;
}

TEST(Server, TransfersTheZoneOverTcpToAllowedAddresses) {
  ServerOptions options;
  options.axfr_allow.push_back(*Ipv4Prefix::parse("10.78.0.0/24"));
  Server server = example_server(options);
  const Zone& zone = *server.zones().find(name("morgana.test."));
  Responses out;
  auto q = query_bytes("morgana.test.", Type::kAxfr);
  ASSERT_EQ(server.handle({q, Transport::kTcp, kClient, 0}, out), Disposition::kTransfer);
  std::vector<Record> records;
  for (size_t i = 0; i < out.size(); ++i) {
    auto m = decode(out[i]);
    ASSERT_TRUE(m.ok());
    EXPECT_TRUE(m->header.aa);
    EXPECT_EQ(m->header.id, 7);
    EXPECT_EQ(m->rcode, Rcode::kNoError);
    EXPECT_EQ(m->questions.size(), i == 0 ? 1u : 0u);  // RFC 5936 §2.2.1
    records.insert(records.end(), m->answers.begin(), m->answers.end());
  }
  // RFC 5936 §2.2: the SOA first and last, everything else once.
  ASSERT_GE(records.size(), 2u);
  EXPECT_EQ(records.front(), zone.soa());
  EXPECT_EQ(records.back(), zone.soa());
  records.pop_back();
  std::multiset<std::string> got;
  for (const auto& r : records) got.insert(to_string(r));
  EXPECT_EQ(got, zone_records(zone));

  // Split into messages of at most 512 bytes, the same records arrive.
  auto message = decode(q);
  auto small = zone_transfer(zone, *message, 512);
  EXPECT_GT(small.size(), 2u);
  size_t count = 0;
  for (const auto& m : small) {
    EXPECT_LE(m.size(), 512u);
    count += decode(m)->answers.size();
  }
  EXPECT_EQ(count, records.size() + 1);
}

TEST(Server, RefusesTransfersToOthersAndOverUdp) {
  ServerOptions options;
  options.axfr_allow.push_back(*Ipv4Prefix::parse("10.78.0.1/32"));
  Server server = example_server(options);
  Responses out;
  auto q = query_bytes("morgana.test.", Type::kAxfr);
  auto other = *Ipv4Address::parse("10.78.0.9");
  EXPECT_EQ(server.handle({q, Transport::kTcp, other, 0}, out), Disposition::kTransferRefused);
  EXPECT_EQ(decode(first(out))->rcode, Rcode::kRefused);
  EXPECT_EQ(server.handle({q, Transport::kUdp, kClient, 0}, out), Disposition::kTransferRefused);
  EXPECT_EQ(decode(first(out))->rcode, Rcode::kRefused);
  // Not a zone's apex, or not our zone.
  auto www = query_bytes("www.morgana.test.", Type::kAxfr);
  EXPECT_EQ(server.handle({www, Transport::kTcp, kClient, 0}, out), Disposition::kTransferRefused);
  EXPECT_EQ(decode(first(out))->rcode, Rcode::kRefused);
  auto outside = query_bytes("example.net.", Type::kAxfr);
  EXPECT_EQ(server.handle({outside, Transport::kTcp, kClient, 0}, out), Disposition::kAnswered);
  EXPECT_EQ(decode(first(out))->rcode, Rcode::kRefused);
  EXPECT_EQ(server.stats().transfers, 0u);
  EXPECT_EQ(server.stats().transfers_refused, 3u);
}

TEST(TcpFramer, ReassemblesMessagesFromAnySplit) {
  auto a = query_bytes("www.morgana.test.", Type::kA, 1);
  auto b = query_bytes("mail.morgana.test.", Type::kMx, 2, 1232);
  std::vector<uint8_t> stream;
  append_tcp_frame(a, stream);
  append_tcp_frame(b, stream);
  for (size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    SCOPED_TRACE(chunk);
    TcpFramer framer;
    std::vector<std::vector<uint8_t>> got;
    for (size_t at = 0; at < stream.size(); at += chunk) {
      auto piece = std::span(stream).subspan(at, std::min(chunk, stream.size() - at));
      while (!piece.empty()) {
        piece = piece.subspan(framer.feed(piece));
        if (framer.has_message()) {
          got.emplace_back(framer.message().begin(), framer.message().end());
          framer.consume();
        }
      }
    }
    EXPECT_FALSE(framer.partial());
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], a);
    EXPECT_EQ(got[1], b);
  }
}

TEST(TcpFramer, ReportsEmptyAndUnfinishedMessages) {
  TcpFramer framer;
  uint8_t empty[] = {0, 0, 0, 5, 1};
  EXPECT_EQ(framer.feed(empty), 2u);
  ASSERT_TRUE(framer.has_message());
  EXPECT_TRUE(framer.message().empty());
  framer.consume();
  EXPECT_EQ(framer.feed(std::span(empty).subspan(2)), 3u);
  EXPECT_FALSE(framer.has_message());
  EXPECT_TRUE(framer.partial());
}

TEST(TcpFramer, RefusesToBufferMessagesOverItsBound) {
  TcpFramer framer(512);
  uint8_t big[] = {0x02, 0x01, 0, 0, 0};  // announces 513 bytes
  EXPECT_EQ(framer.feed(big), 2u);
  EXPECT_TRUE(framer.oversized());
  EXPECT_FALSE(framer.has_message());
  EXPECT_EQ(framer.feed(std::span(big).subspan(2)), 0u);  // nothing more is taken
  TcpFramer fits(512);
  std::vector<uint8_t> stream;
  append_tcp_frame(std::vector<uint8_t>(512, 7), stream);
  EXPECT_EQ(fits.feed(stream), stream.size());
  EXPECT_TRUE(fits.has_message());
  EXPECT_FALSE(fits.oversized());
}

}  // namespace
