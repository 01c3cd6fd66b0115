// The stub resolver: its pure parts on packets built byte by byte, then whole lookups in
// simulation (tests/sim: Morgana stacks on a virtual link, virtual time) against the real
// dns::Server on other hosts: A/AAAA, CNAME chains, NXDOMAIN and NODATA with negative
// caching, TTL expiry, retry to a second server, TCP after truncation, forged responses,
// coalesced lookups, the cache's bounds and connect by name.
#include "morgana/proto/dns/resolver.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "morgana/proto/dns/presentation.h"
#include "morgana/proto/dns/server.h"
#include "sim_world.h"
#include "test_util.h"

namespace {

namespace async = morgana::async;
namespace dns = morgana::dns;
namespace net = morgana::net;
namespace sim = morgana::sim;
using dns_test::bytes;
using dns_test::name;
using morgana::Errc;
using morgana::Error;
using morgana::Result;
using morgana::random::ChaCha20Rng;
using morgana::random::MixRdrand;
using sim::kMs;
using sim::kSecond;
using Resolver = dns::Resolver<sim::Stack>;

// --- Pure parts ---------------------------------------------------------------------------

TEST(ResolverQuery, IsBuiltAsRfc1035AndRfc6891Say) {
  auto query = dns::build_query(0xBEEF, name("a.test."), dns::Type::kA, 1232);
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(*query, bytes({0xBE, 0xEF, 0x01, 0x00, 0,    1,   0,   0, 0, 0, 0, 1,  // RD; QD 1, AR 1
                           1,    'a',  4,    't',  'e',  's', 't', 0, 0, 1, 0, 1,  // a.test. A IN
                           0,    0,    41,   0x04, 0xD0, 0,   0,   0, 0, 0, 0}));  // OPT, 1232
  auto plain = dns::build_query(0x0102, name("a.test."), dns::Type::kAaaa, 0);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*plain, bytes({0x01, 0x02, 0x01, 0x00, 0,   1,   0,   0, 0, 0,  0, 0,  //
                           1,    'a',  4,    't',  'e', 's', 't', 0, 0, 28, 0, 1}));
}

// The answer to "a.test. A" with ID 0x0102: a.test. 60 IN A 192.0.2.1, RD RA.
std::vector<uint8_t> answer_bytes() {
  return bytes({0x01, 0x02, 0x81, 0x80, 0,   1,   0,   1, 0, 0,  0, 0,  //
                1,    'a',  4,    't',  'e', 's', 't', 0, 0, 1,  0, 1,  //
                0xC0, 12,   0,    1,    0,   1,   0,   0, 0, 60, 0, 4, 192, 0, 2, 1});
}

TEST(ResolverCheck, AcceptsOnlyTheAnswerToOurQuestion) {
  dns::Message out;
  auto check = [&](std::vector<uint8_t> response, const char* qname = "A.TEST.") {
    return dns::check_response(response, 0x0102, name(qname), dns::Type::kA, out);
  };
  EXPECT_EQ(check(answer_bytes()), std::nullopt);  // the question matches without case
  ASSERT_EQ(out.answers.size(), 1u);
  EXPECT_EQ(std::get<dns::A>(out.answers[0].rdata).address, (std::array<uint8_t, 4>{192, 0, 2, 1}));

  auto wrong_id = answer_bytes();
  wrong_id[1] ^= 1;
  EXPECT_EQ(check(wrong_id), dns::ResolverDrop::kWrongId);
  auto query = answer_bytes();
  query[2] &= 0x7F;  // QR clear: a query, perhaps our own reflected
  EXPECT_EQ(check(query), dns::ResolverDrop::kNotResponse);
  auto status = answer_bytes();
  status[2] |= 0x10;  // opcode 2, STATUS
  EXPECT_EQ(check(status), dns::ResolverDrop::kWrongOpcode);
  EXPECT_EQ(check(answer_bytes(), "b.test."), dns::ResolverDrop::kWrongQuestion);
  auto aaaa = answer_bytes();
  aaaa[21] = 28;  // the question asks AAAA
  EXPECT_EQ(check(aaaa), dns::ResolverDrop::kWrongQuestion);
  auto short_one = answer_bytes();
  short_one.resize(short_one.size() - 1);
  EXPECT_EQ(check(short_one), dns::ResolverDrop::kMalformed);
  EXPECT_EQ(check(bytes({1, 2, 0x81})), dns::ResolverDrop::kMalformed);
}

dns::Record record(const char* owner, dns::Type type, uint32_t ttl, dns::Rdata rdata) {
  return dns::Record{name(owner), type, dns::Class::kIn, ttl, std::move(rdata)};
}
dns::Record soa_record(const char* owner, uint32_t ttl, uint32_t minimum) {
  dns::Soa soa{name("ns1.test."), name("hostmaster.test."), 1, 7200, 3600, 1209600, minimum};
  return record(owner, dns::Type::kSoa, ttl, soa);
}
dns::Message response(const char* qname, dns::Rcode rcode = dns::Rcode::kNoError) {
  dns::Message message;
  message.header.qr = true;
  message.rcode = rcode;
  message.questions.push_back({name(qname), dns::Type::kA, dns::Class::kIn});
  return message;
}

TEST(ResolverInterpret, FollowsTheChainAndTakesTheLeastTtl) {
  auto message = response("alias.test.");
  message.answers = {
      record("alias.test.", dns::Type::kCname, 120, dns::Cname{name("www.test.")}),
      record("evil.test.", dns::Type::kA, 600, dns::A{{6, 6, 6, 6}}),  // not asked for
      record("www.test.", dns::Type::kA, 60, dns::A{{192, 0, 2, 80}}),
      record("www.test.", dns::Type::kA, 60, dns::A{{192, 0, 2, 81}}),
  };
  auto got = dns::interpret(message, name("alias.test."), dns::Type::kA, 8);
  EXPECT_EQ(got.kind, dns::Interpretation::Kind::kData);
  EXPECT_EQ(got.data, bytes({192, 0, 2, 80, 192, 0, 2, 81}));
  EXPECT_EQ(got.ttl, 60u);
  EXPECT_EQ(got.links, 1u);
  EXPECT_TRUE(got.cacheable);

  // RFC 2181 §8: a TTL with the top bit set counts as 0, so nothing is kept.
  message.answers[0].ttl = 0x80000000;
  EXPECT_EQ(dns::interpret(message, name("alias.test."), dns::Type::kA, 8).ttl, 0u);
  // The chain bound.
  EXPECT_EQ(dns::interpret(message, name("alias.test."), dns::Type::kA, 0).kind,
            dns::Interpretation::Kind::kFailed);
}

TEST(ResolverInterpret, NegativeAnswersTakeTheSoaTtlOrMinimum) {
  auto nx = response("nope.test.", dns::Rcode::kNxDomain);
  nx.authority = {soa_record("test.", 300, 60)};
  auto got = dns::interpret(nx, name("nope.test."), dns::Type::kA, 8);
  EXPECT_EQ(got.kind, dns::Interpretation::Kind::kNxDomain);
  EXPECT_EQ(got.ttl, 60u);  // RFC 2308 §5: min(TTL, MINIMUM)
  EXPECT_TRUE(got.cacheable);

  auto nodata = response("www.test.");
  nodata.authority = {soa_record("test.", 30, 600)};
  got = dns::interpret(nodata, name("www.test."), dns::Type::kA, 8);
  EXPECT_EQ(got.kind, dns::Interpretation::Kind::kNoData);
  EXPECT_EQ(got.ttl, 30u);

  // An SOA of another zone does not speak for this name; without one nothing is cached.
  nodata.authority = {soa_record("other.", 30, 600)};
  got = dns::interpret(nodata, name("www.test."), dns::Type::kA, 8);
  EXPECT_EQ(got.kind, dns::Interpretation::Kind::kNoData);
  EXPECT_FALSE(got.cacheable);

  // A chain into another zone that the answer says nothing more about: ask for the target.
  auto partial = response("away.test.");
  partial.answers = {record("away.test.", dns::Type::kCname, 300, dns::Cname{name("h.other.")})};
  got = dns::interpret(partial, name("away.test."), dns::Type::kA, 8);
  EXPECT_EQ(got.kind, dns::Interpretation::Kind::kFollow);
  EXPECT_EQ(got.next, name("h.other."));
  // RFC 6604: NXDOMAIN at the end of a chain speaks of its last name.
  partial.rcode = dns::Rcode::kNxDomain;
  partial.authority = {soa_record("other.", 300, 120)};
  got = dns::interpret(partial, name("away.test."), dns::Type::kA, 8);
  EXPECT_EQ(got.kind, dns::Interpretation::Kind::kNxDomain);
  EXPECT_EQ(got.ttl, 120u);
}

TEST(ResolverCache, ExpiresEvictsLeastRecentlyUsedAndHoldsItsBounds) {
  constexpr uint64_t kNow = 1000 * kSecond;
  dns::ResolverCache cache(3, 10'000);
  using Kind = dns::ResolverCache::Kind;
  auto key = [](const char* n) { return dns::cache_key(name(n), dns::Type::kA); };
  EXPECT_EQ(key("WWW.Test."), key("www.test."));
  EXPECT_NE(key("www.test."), dns::cache_key(name("www.test."), dns::Type::kAaaa));

  EXPECT_TRUE(cache.insert(key("a."), Kind::kData, {1, 2, 3, 4}, 10, kNow));
  EXPECT_FALSE(cache.insert(key("zero."), Kind::kData, {1, 2, 3, 4}, 0, kNow));  // TTL 0
  ASSERT_NE(cache.find(key("a."), kNow + 10 * kSecond - 1), nullptr);
  EXPECT_EQ(cache.find(key("a."), kNow + 10 * kSecond), nullptr);  // expired, and removed
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);

  for (const char* n : {"a.", "b.", "c."})
    EXPECT_TRUE(cache.insert(key(n), Kind::kNxDomain, {}, 60, kNow));
  ASSERT_NE(cache.find(key("a."), kNow), nullptr);  // now b. is the least recently used
  EXPECT_TRUE(cache.insert(key("d."), Kind::kData, {1, 1, 1, 1}, 60, kNow));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.evictions(), 1u);
  EXPECT_EQ(cache.find(key("b."), kNow), nullptr);
  EXPECT_NE(cache.find(key("a."), kNow), nullptr);

  // The byte bound: a value over it is not kept; values that fit push older ones out.
  dns::ResolverCache small(100, 400);
  EXPECT_FALSE(small.insert(key("big."), Kind::kData, std::vector<uint8_t>(400), 60, kNow));
  std::vector<uint8_t> hundred(100);
  EXPECT_TRUE(small.insert(key("x."), Kind::kData, hundred, 60, kNow));
  EXPECT_TRUE(small.insert(key("y."), Kind::kData, hundred, 60, kNow));
  EXPECT_LE(small.bytes(), 400u);
  EXPECT_EQ(small.size(), 1u);
  EXPECT_NE(small.find(key("y."), kNow), nullptr);
  // Replacing an entry does not count it twice.
  EXPECT_TRUE(small.insert(key("y."), Kind::kData, hundred, 60, kNow));
  EXPECT_EQ(small.size(), 1u);
  EXPECT_EQ(small.bytes(), key("y.").size() + 100 + dns::ResolverCache::kEntryOverhead);
}

TEST(ResolverCreate, RefusesUnusableOptions) {
  async::VirtualBackend backend;
  async::Loop loop(backend);
  sim::SimNetwork network(backend, 1);
  auto stack = sim::Stack::create(network.add_port(morgana::platform::DeviceId(0), {}),
                                  sim::host_options(0), {});
  ASSERT_TRUE(stack.ok());
  auto rng = ChaCha20Rng::from_seed(std::array<uint8_t, 32>{}, MixRdrand::kNo);
  dns::ResolverOptions options;
  EXPECT_EQ(Resolver::create(**stack, rng, options).error().code, Errc::kInvalidArgument);
  options.servers = {{sim::host_address(1), 0}};
  EXPECT_FALSE(Resolver::create(**stack, rng, options).ok());
  options.servers = {{sim::host_address(1), dns::kDnsPort}};
  options.edns_payload_size = 511;
  EXPECT_FALSE(Resolver::create(**stack, rng, options).ok());
  options.edns_payload_size = 1232;
  options.attempts = 0;
  EXPECT_FALSE(Resolver::create(**stack, rng, options).ok());
  options.attempts = 1;
  options.max_in_flight = 0;
  EXPECT_FALSE(Resolver::create(**stack, rng, options).ok());
  options.max_in_flight = 1;
  EXPECT_TRUE(Resolver::create(**stack, rng, options).ok());
}

// --- In simulation, against dns::Server -------------------------------------------------

std::string test_zone() {
  std::string text = R"($ORIGIN test.
$TTL 300
@       IN SOA ns1 hostmaster 1 7200 3600 1209600 60
        IN NS  ns1
ns1     IN A   10.0.0.2
www  60 IN A   192.0.2.80
www  60 IN A   192.0.2.81
www  60 IN AAAA 2001:db8::80
alias 120 IN CNAME c2
c2   30 IN CNAME www
away    IN CNAME host.other.
gone    IN CNAME nothing.other.
loop1   IN CNAME loop2
loop2   IN CNAME loop1
svc     IN A   10.0.0.9
svc     IN A   10.0.0.2
)";
  for (int i = 0; i < 10; ++i)
    text += "n" + std::to_string(i) + " IN A 192.0.2." + std::to_string(100 + i) + "\n";
  // 100 addresses: 1,600 bytes of records, over the 1,232 of EDNS, so UDP answers are TC.
  for (int i = 1; i <= 100; ++i) text += "many IN A 198.51.100." + std::to_string(i) + "\n";
  return text;
}

const char* const kOtherZone = R"($ORIGIN other.
$TTL 300
@       IN SOA ns1.test. hostmaster.test. 1 7200 3600 1209600 30
        IN NS  ns1.test.
host    IN A   203.0.113.7
)";

dns::Zones test_zones() {
  dns::Zones zones;
  for (auto [zone_text, origin] :
       {std::pair{test_zone(), "test."}, std::pair{std::string(kOtherZone), "other."}}) {
    dns::Diagnostic error;
    auto zone = dns::Zone::load(zone_text, name(origin), origin, error);
    EXPECT_TRUE(zone.ok()) << error.message();
    if (zone.ok()) {
      EXPECT_TRUE(zones.add(std::move(*zone)).ok());
    }
  }
  return zones;
}

// How a simulated server host treats queries.
enum class Behaviour : uint8_t {
  kAnswer,      // dns::Server answers
  kSilent,      // nothing comes back (a dead server, or the path to it)
  kRefuse,      // dns::Server without zones: REFUSED
  kForgeFirst,  // forged answers first, then (50 ms later) the real one
  kNoEdns,      // FORMERR without OPT to a query with EDNS, as servers before RFC 6891
};

struct TestServer {
  explicit TestServer(Behaviour b)
      : behaviour(b), server(b == Behaviour::kRefuse ? dns::Zones() : test_zones(), {}) {}
  Behaviour behaviour;
  dns::Server server;
  uint64_t udp_queries = 0;
  uint64_t tcp_queries = 0;
  std::optional<dns::Message> last_query;
};

// A response a forger builds from a query it saw: our question, an answer of its own.
std::vector<uint8_t> forged(const dns::Message& query, uint16_t id, const char* qname) {
  dns::Message message;
  message.header.id = id;
  message.header.qr = true;
  message.header.rd = true;
  message.header.ra = true;
  dns::Question question = query.questions.front();
  if (qname != nullptr) question.name = name(qname);
  message.questions = {question};
  dns::Record record{question.name, question.type, dns::Class::kIn, 3600, dns::Opaque{}};
  if (question.type == dns::Type::kA)
    record.rdata = dns::A{{6, 6, 6, 6}};
  else
    record.rdata = dns::Aaaa{};
  message.answers.push_back(record);
  auto encoded = dns::encode(message);
  EXPECT_TRUE(encoded.ok());
  return encoded.ok() ? encoded->bytes : std::vector<uint8_t>();
}

// The forger's sockets: one on the server host at another port, one on a third host.
struct Forgers {
  net::UdpSocket* other_port = nullptr;
  net::UdpSocket* other_host = nullptr;
};

async::Task<Result<void>> serve_udp(net::UdpSocket socket, TestServer* test, Forgers forgers) {
  std::vector<uint8_t> buffer(65536);
  dns::Responses out;
  for (;;) {
    CO_TRY_ASSIGN(net::UdpReceived got, co_await socket.receive(buffer));
    std::span<const uint8_t> query(buffer.data(), got.size);
    ++test->udp_queries;
    auto decoded = dns::decode(query);
    if (decoded.ok()) test->last_query = *decoded;
    if (test->behaviour == Behaviour::kSilent) continue;
    if (test->behaviour == Behaviour::kNoEdns && decoded.ok() && decoded->edns) {
      dns::Message formerr;
      formerr.header.id = decoded->header.id;
      formerr.header.qr = true;
      formerr.rcode = dns::Rcode::kFormErr;
      formerr.questions = decoded->questions;
      auto encoded = dns::encode(formerr);
      if (encoded.ok()) (void)socket.send_to(got.from, encoded->bytes);
      continue;
    }
    if (test->behaviour == Behaviour::kForgeFirst && decoded.ok()) {
      const dns::Message& q = *decoded;
      uint16_t id = q.header.id;
      auto reflected = std::vector<uint8_t>(query.begin(), query.end());          // QR clear
      (void)socket.send_to(got.from, forged(q, uint16_t(id ^ 0x5555), nullptr));  // wrong ID
      (void)socket.send_to(got.from, forged(q, id, "evil.test."));                // wrong question
      (void)socket.send_to(got.from, reflected);                                  // not a response
      (void)forgers.other_port->send_to(got.from, forged(q, id, nullptr));        // wrong port
      (void)forgers.other_host->send_to(got.from, forged(q, id, nullptr));        // wrong address
      CO_TRY(co_await async::sleep_for(std::chrono::milliseconds(50)));
    }
    (void)test->server.handle({query, dns::Transport::kUdp, got.from.address, async::now()}, out);
    for (size_t i = 0; i < out.size(); ++i) (void)socket.send_to(got.from, out[i]);
  }
}

async::Task<Result<void>> serve_connection(net::TcpFlow flow, TestServer* test) {
  dns::TcpFramer framer;
  dns::Responses out;
  std::vector<uint8_t> chunk(4096), frames;
  for (;;) {
    CO_TRY_ASSIGN(size_t n, co_await flow.read(chunk));
    if (n == 0) break;
    std::span<const uint8_t> data(chunk.data(), n);
    frames.clear();
    while (!data.empty()) {
      data = data.subspan(framer.feed(data));
      if (!framer.has_message()) continue;
      ++test->tcp_queries;
      (void)test->server.handle(
          {framer.message(), dns::Transport::kTcp, flow.remote().address, async::now()}, out);
      framer.consume();
      for (size_t i = 0; i < out.size(); ++i) dns::append_tcp_frame(out[i], frames);
    }
    if (!frames.empty()) CO_TRY(co_await flow.write(frames));
  }
  flow.close();
  co_return morgana::ok();
}

async::Task<Result<void>> serve_tcp(net::TcpListener listener, TestServer* test,
                                    async::Scope* flows) {
  for (;;) {
    CO_TRY_ASSIGN(net::TcpFlow flow, co_await listener.accept());
    CO_TRY(flows->spawn(serve_connection(std::move(flow), test)));
  }
}

// A client (host 0, 10.0.0.1) and two server hosts (10.0.0.2, 10.0.0.3), each serving
// DNS on port 53 with its Behaviour while a test body runs.
struct Env {
  explicit Env(uint64_t seed, Behaviour first = Behaviour::kAnswer,
               Behaviour second = Behaviour::kAnswer)
      : world(seed), rng(ChaCha20Rng::from_seed(seed_bytes(seed), MixRdrand::kNo)) {
    client = &world.add_host(sim::host_options(0));
    hosts[0] = &world.add_host(sim::host_options(1));
    hosts[1] = &world.add_host(sim::host_options(2));
    servers[0] = std::make_unique<TestServer>(first);
    servers[1] = std::make_unique<TestServer>(second);
  }
  static std::array<uint8_t, 32> seed_bytes(uint64_t seed) {
    std::array<uint8_t, 32> bytes{};
    std::memcpy(bytes.data(), &seed, sizeof seed);
    return bytes;
  }
  net::Endpoint server(size_t i) const { return {sim::host_address(1 + i), dns::kDnsPort}; }
  dns::ResolverOptions options(std::vector<net::Endpoint> list) const {
    dns::ResolverOptions o;
    o.servers = std::move(list);
    o.timeout_ns = kSecond;
    return o;
  }
  std::unique_ptr<Resolver> resolver(const dns::ResolverOptions& o) {
    auto created = Resolver::create(*client, rng, o);
    EXPECT_TRUE(created.ok());
    return created.ok() ? std::move(*created) : nullptr;
  }
  // Runs `body` with both servers up; fails the test on an error.
  void run(async::Task<Result<void>> body) {
    Result<void> done = world.run(serving(this, std::move(body)), 3600 * kSecond);
    EXPECT_TRUE(done.ok()) << errc_name(done.error().code) << ": " << done.error().what << "\n"
                           << world.describe();
  }

  static async::Task<Result<void>> serving(Env* env, async::Task<Result<void>> body) {
    async::Scope tasks, flows;
    CO_TRY_ASSIGN(net::UdpSocket other_port, env->hosts[0]->udp().bind(5353));
    CO_TRY_ASSIGN(net::UdpSocket other_host, env->hosts[1]->udp().bind(5353));
    Forgers forgers{&other_port, &other_host};
    for (size_t i = 0; i < 2; ++i) {
      CO_TRY_ASSIGN(net::UdpSocket udp, env->hosts[i]->udp().bind(dns::kDnsPort));
      CO_TRY_ASSIGN(net::TcpListener tcp, co_await env->hosts[i]->tcp().listen(dns::kDnsPort));
      CO_TRY(tasks.spawn(serve_udp(std::move(udp), env->servers[i].get(), forgers)));
      CO_TRY(tasks.spawn(serve_tcp(std::move(tcp), env->servers[i].get(), &flows)));
    }
    Result<void> result = co_await std::move(body);
    tasks.request_stop();
    flows.request_stop();
    (void)co_await tasks.join();
    (void)co_await flows.join();
    co_return result;
  }

  sim::SimWorld world;
  ChaCha20Rng rng;
  sim::Stack* client = nullptr;
  sim::Stack* hosts[2] = {};
  std::unique_ptr<TestServer> servers[2];
};

std::vector<std::string> strings(const std::vector<net::Ipv4Address>& addresses) {
  std::vector<std::string> out;
  for (const auto& a : addresses) out.push_back(a.to_string().c_str());
  std::sort(out.begin(), out.end());
  return out;
}
std::vector<std::string> strings(const std::vector<dns::Ipv6Address>& addresses) {
  std::vector<std::string> out;
  for (const auto& a : addresses) out.push_back(dns::ipv6_to_string(a));
  std::sort(out.begin(), out.end());
  return out;
}
using Strings = std::vector<std::string>;

// What a Result<vector<address>> holds, as text, or its error: for EXPECT_EQ.
template <typename T>
Strings text(const Result<T>& result) {
  if (!result)
    return {std::string("error ") + errc_name(result.error().code) + ": " + result.error().what};
  return strings(*result);
}

TEST(ResolverSim, LooksUpAAndAaaaWithEdns) {
  Env env(1);
  env.run([](Env* env) -> async::Task<Result<void>> {
    auto resolver = env->resolver(env->options({env->server(0)}));
    auto a = co_await resolver->lookup_a("www.test");
    EXPECT_EQ(text(a), (Strings{"192.0.2.80", "192.0.2.81"}));
    auto aaaa = co_await resolver->lookup_aaaa("www.test.");
    EXPECT_EQ(text(aaaa), (Strings{"2001:db8::80"}));
    // The query asked for recursion and advertised EDNS(0) with 1,232 bytes.
    const auto& query = env->servers[0]->last_query;
    EXPECT_TRUE(query && query->header.rd);
    EXPECT_TRUE(query && query->edns && query->edns->udp_payload_size == 1232);
    // Names compare without case (RFC 4343): the same cache entry.
    auto again = co_await resolver->lookup_a("WWW.Test.");
    EXPECT_EQ(text(again), text(a));
    auto stats = resolver->stats();
    EXPECT_EQ(stats.udp_queries, 2u);
    EXPECT_EQ(stats.cache_hits, 1u);
    EXPECT_EQ(env->servers[0]->udp_queries, 2u);
    EXPECT_EQ(stats.drops.total(), 0u);
    // Not a name at all.
    auto bad = co_await resolver->lookup_a("a..b");
    EXPECT_FALSE(bad.ok());
    co_return morgana::ok();
  }(&env));
}

TEST(ResolverSim, FollowsCnameChains) {
  Env env(2);
  env.run([](Env* env) -> async::Task<Result<void>> {
    auto resolver = env->resolver(env->options({env->server(0)}));
    // alias -> c2 -> www, all in one answer.
    auto alias = co_await resolver->lookup_a("alias.test");
    EXPECT_EQ(text(alias), (Strings{"192.0.2.80", "192.0.2.81"}));
    EXPECT_EQ(env->servers[0]->udp_queries, 1u);
    // away -> host.other.: the server answers the CNAME only (authoritative for test.
    // and other., it does not chase into another zone), so a second query follows.
    auto away = co_await resolver->lookup_a("away.test");
    EXPECT_EQ(text(away), (Strings{"203.0.113.7"}));
    EXPECT_EQ(env->servers[0]->udp_queries, 3u);
    // gone -> nothing.other., which does not exist: NXDOMAIN of the chain's end.
    auto gone = co_await resolver->lookup_a("gone.test");
    EXPECT_EQ(gone.ok() ? Errc::kInvalidArgument : gone.error().code, Errc::kNotFound);
    // loop1 -> loop2 -> loop1 ...: refused after max_cname_links.
    auto loop = co_await resolver->lookup_a("loop1.test");
    EXPECT_EQ(loop.ok() ? Errc::kInvalidArgument : loop.error().code, Errc::kMalformed);
    // The chain's TTL is its least (c2: 30 s): alias is asked again after 31 s.
    uint64_t before = env->servers[0]->udp_queries;
    CO_TRY(co_await async::sleep_for(std::chrono::seconds(29)));
    (void)co_await resolver->lookup_a("alias.test");
    EXPECT_EQ(env->servers[0]->udp_queries, before);
    CO_TRY(co_await async::sleep_for(std::chrono::seconds(2)));
    (void)co_await resolver->lookup_a("alias.test");
    EXPECT_EQ(env->servers[0]->udp_queries, before + 1);
    co_return morgana::ok();
  }(&env));
}

TEST(ResolverSim, NxDomainAndNoDataAreCachedForTheSoaMinimum) {
  Env env(3);
  env.run([](Env* env) -> async::Task<Result<void>> {
    auto resolver = env->resolver(env->options({env->server(0)}));
    TestServer& server = *env->servers[0];
    auto nx = co_await resolver->lookup_a("nope.test");
    EXPECT_EQ(text(nx), (Strings{"error not found: NXDOMAIN: the name does not exist"}));
    auto nodata = co_await resolver->lookup_aaaa("ns1.test");
    EXPECT_EQ(text(nodata),
              (Strings{"error not found: NODATA: the name has no records of this type"}));
    EXPECT_EQ(server.udp_queries, 2u);
    // Within the SOA's MINIMUM (60 s) both come from the cache.
    CO_TRY(co_await async::sleep_for(std::chrono::seconds(59)));
    auto nx2 = co_await resolver->lookup_a("nope.test");
    auto nodata2 = co_await resolver->lookup_aaaa("ns1.test");
    EXPECT_EQ(text(nx2), text(nx));
    EXPECT_EQ(text(nodata2), text(nodata));
    EXPECT_EQ(server.udp_queries, 2u);
    EXPECT_EQ(resolver->stats().negative_hits, 2u);
    // After it they are asked again.
    CO_TRY(co_await async::sleep_for(std::chrono::seconds(2)));
    (void)co_await resolver->lookup_a("nope.test");
    EXPECT_EQ(server.udp_queries, 3u);
    co_return morgana::ok();
  }(&env));
}

TEST(ResolverSim, AnswersExpireWithTheirTtlInVirtualTime) {
  Env env(4);
  env.run([](Env* env) -> async::Task<Result<void>> {
    auto resolver = env->resolver(env->options({env->server(0)}));
    TestServer& server = *env->servers[0];
    (void)co_await resolver->lookup_a("www.test");  // TTL 60
    CO_TRY(co_await async::sleep_for(std::chrono::seconds(59)));
    auto cached = co_await resolver->lookup_a("www.test");
    EXPECT_EQ(text(cached), (Strings{"192.0.2.80", "192.0.2.81"}));
    EXPECT_EQ(server.udp_queries, 1u);
    CO_TRY(co_await async::sleep_for(std::chrono::seconds(1)));
    auto fresh = co_await resolver->lookup_a("www.test");
    EXPECT_EQ(text(fresh), text(cached));
    EXPECT_EQ(server.udp_queries, 2u);
    // The TTL cap: with max_ttl 10, ns1 (TTL 300) is kept 10 s only.
    auto capped_options = env->options({env->server(0)});
    capped_options.max_ttl = 10;
    auto capped = env->resolver(capped_options);
    (void)co_await capped->lookup_a("ns1.test");
    CO_TRY(co_await async::sleep_for(std::chrono::seconds(9)));
    (void)co_await capped->lookup_a("ns1.test");
    EXPECT_EQ(server.udp_queries, 3u);
    CO_TRY(co_await async::sleep_for(std::chrono::seconds(2)));
    (void)co_await capped->lookup_a("ns1.test");
    EXPECT_EQ(server.udp_queries, 4u);
    co_return morgana::ok();
  }(&env));
}

TEST(ResolverSim, TimesOutAndRetriesTheNextServer) {
  Env env(5, Behaviour::kSilent, Behaviour::kAnswer);
  env.run([](Env* env) -> async::Task<Result<void>> {
    auto resolver = env->resolver(env->options({env->server(0), env->server(1)}));
    uint64_t start = async::now();
    auto a = co_await resolver->lookup_a("www.test");
    EXPECT_EQ(text(a), (Strings{"192.0.2.80", "192.0.2.81"}));
    EXPECT_GE(async::now() - start, kSecond);  // one timeout passed first
    auto stats = resolver->stats();
    EXPECT_EQ(stats.timeouts, 1u);
    EXPECT_EQ(stats.retries, 1u);
    EXPECT_EQ(env->servers[0]->udp_queries, 1u);
    EXPECT_EQ(env->servers[1]->udp_queries, 1u);
    // The server that answered is asked first from now on.
    (void)co_await resolver->lookup_a("ns1.test");
    EXPECT_EQ(resolver->stats().timeouts, 1u);
    EXPECT_EQ(env->servers[1]->udp_queries, 2u);

    // Only silent servers: kTimedOut after every attempt.
    auto silent_options = env->options({env->server(0)});
    silent_options.attempts = 3;
    auto silent = env->resolver(silent_options);
    start = async::now();
    auto none = co_await silent->lookup_a("www.test");
    EXPECT_EQ(none.ok() ? Errc::kInvalidArgument : none.error().code, Errc::kTimedOut);
    EXPECT_GE(async::now() - start, 3 * kSecond);
    EXPECT_EQ(silent->stats().timeouts, 3u);
    EXPECT_EQ(env->servers[0]->udp_queries, 4u);
    co_return morgana::ok();
  }(&env));
}

TEST(ResolverSim, ServerErrorsMoveOnAndAreReported) {
  Env env(6, Behaviour::kRefuse, Behaviour::kAnswer);
  env.run([](Env* env) -> async::Task<Result<void>> {
    auto resolver = env->resolver(env->options({env->server(0), env->server(1)}));
    auto a = co_await resolver->lookup_a("www.test");
    EXPECT_EQ(text(a), (Strings{"192.0.2.80", "192.0.2.81"}));
    EXPECT_EQ(resolver->stats().server_errors, 1u);
    auto refusing = env->resolver(env->options({env->server(0)}));
    auto refused = co_await refusing->lookup_a("www.test");
    EXPECT_EQ(text(refused),
              (Strings{"error I/O error: REFUSED: the DNS server refused the query"}));
    EXPECT_EQ(refusing->stats().server_errors, 3u);  // every attempt
    co_return morgana::ok();
  }(&env));
}

TEST(ResolverSim, FormErrToEdnsIsAskedAgainWithout) {
  Env env(12, Behaviour::kNoEdns);
  env.run([](Env* env) -> async::Task<Result<void>> {
    auto resolver = env->resolver(env->options({env->server(0)}));
    auto a = co_await resolver->lookup_a("www.test");
    EXPECT_EQ(text(a), (Strings{"192.0.2.80", "192.0.2.81"}));
    auto stats = resolver->stats();
    EXPECT_EQ(stats.edns_fallbacks, 1u);
    EXPECT_EQ(stats.server_errors, 0u);
    EXPECT_EQ(env->servers[0]->udp_queries, 2u);
    co_return morgana::ok();
  }(&env));
}

TEST(ResolverSim, TruncatedAnswersAreAskedAgainOverTcp) {
  Env env(7);
  env.run([](Env* env) -> async::Task<Result<void>> {
    auto resolver = env->resolver(env->options({env->server(0)}));
    auto many = co_await resolver->lookup_a("many.test");
    Strings expected;
    for (int i = 1; i <= 100; ++i) expected.push_back("198.51.100." + std::to_string(i));
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(text(many), expected);
    auto stats = resolver->stats();
    EXPECT_EQ(stats.truncated, 1u);
    EXPECT_EQ(stats.tcp_queries, 1u);
    EXPECT_EQ(env->servers[0]->tcp_queries, 1u);
    // Without EDNS the limit is 512 bytes; still complete, through TCP.
    auto classic_options = env->options({env->server(0)});
    classic_options.edns_payload_size = 0;
    auto classic = env->resolver(classic_options);
    auto again = co_await classic->lookup_a("many.test");
    EXPECT_EQ(text(again), expected);
    EXPECT_EQ(classic->stats().tcp_queries, 1u);
    EXPECT_FALSE(env->servers[0]->last_query && env->servers[0]->last_query->edns);
    co_return morgana::ok();
  }(&env));
}

TEST(ResolverSim, ForgedResponsesAreDroppedAndCounted) {
  Env env(8, Behaviour::kForgeFirst, Behaviour::kAnswer);
  env.run([](Env* env) -> async::Task<Result<void>> {
    auto resolver = env->resolver(env->options({env->server(0)}));
    auto a = co_await resolver->lookup_a("www.test");
    // 6.6.6.6, the forgers' answer, was never taken.
    EXPECT_EQ(text(a), (Strings{"192.0.2.80", "192.0.2.81"}));
    auto stats = resolver->stats();
    EXPECT_EQ(stats.drops[dns::ResolverDrop::kWrongId], 1u);
    EXPECT_EQ(stats.drops[dns::ResolverDrop::kWrongQuestion], 1u);
    EXPECT_EQ(stats.drops[dns::ResolverDrop::kNotResponse], 1u);
    EXPECT_EQ(stats.drops[dns::ResolverDrop::kWrongSource], 2u);  // other port, other host
    EXPECT_EQ(stats.drops.total(), 5u);
    EXPECT_EQ(stats.timeouts, 0u);
    EXPECT_NE(stats.format().find("wrong_source=2"), std::string::npos) << stats.format();
    co_return morgana::ok();
  }(&env));
}

TEST(ResolverSim, ConcurrentLookupsShareOneQuery) {
  Env env(9, Behaviour::kSilent, Behaviour::kAnswer);
  env.run([](Env* env) -> async::Task<Result<void>> {
    auto resolver = env->resolver(env->options({env->server(1)}));
    auto [a, b, c] =
        co_await async::when_all(resolver->lookup_a("www.test"), resolver->lookup_a("www.test"),
                                 resolver->lookup_a("WWW.TEST"));
    EXPECT_EQ(text(a), (Strings{"192.0.2.80", "192.0.2.81"}));
    EXPECT_EQ(text(b), text(a));
    EXPECT_EQ(text(c), text(a));
    EXPECT_EQ(env->servers[1]->udp_queries, 1u);
    EXPECT_EQ(resolver->stats().coalesced, 2u);

    // A waiter that gives up leaves the shared query (and the others) alone. The first
    // server is silent, so the answer comes from the second after a 1 s timeout.
    auto slow = env->resolver(env->options({env->server(0), env->server(1)}));
    auto [impatient, patient] = co_await async::when_all(
        async::with_timeout(slow->lookup_a("ns1.test"), std::chrono::milliseconds(500)),
        slow->lookup_a("ns1.test"));
    EXPECT_EQ(impatient.ok() ? Errc::kInvalidArgument : impatient.error().code, Errc::kTimedOut);
    EXPECT_EQ(text(patient), (Strings{"10.0.0.2"}));
    EXPECT_EQ(env->servers[0]->udp_queries, 1u);
    EXPECT_EQ(env->servers[1]->udp_queries, 2u);
    // ... and its answer was cached.
    auto cached = co_await slow->lookup_a("ns1.test");
    EXPECT_EQ(text(cached), (Strings{"10.0.0.2"}));
    EXPECT_EQ(slow->stats().cache_hits, 1u);
    co_return morgana::ok();
  }(&env));
}

TEST(ResolverSim, TheCacheKeepsItsBounds) {
  Env env(10);
  env.run([](Env* env) -> async::Task<Result<void>> {
    auto options = env->options({env->server(0)});
    options.cache_entries = 4;
    auto resolver = env->resolver(options);
    for (int i = 0; i < 10; ++i) {
      auto a = co_await resolver->lookup_a("n" + std::to_string(i) + ".test");
      EXPECT_EQ(text(a), (Strings{"192.0.2." + std::to_string(100 + i)}));
    }
    auto stats = resolver->stats();
    EXPECT_EQ(stats.cache_entries, 4u);
    EXPECT_EQ(stats.cache_evictions, 6u);
    // The four most recent are kept, the others were pushed out.
    (void)co_await resolver->lookup_a("n9.test");
    EXPECT_EQ(env->servers[0]->udp_queries, 10u);
    (void)co_await resolver->lookup_a("n0.test");
    EXPECT_EQ(env->servers[0]->udp_queries, 11u);

    // The byte bound: 100 addresses (400 bytes and the key) do not fit in 300 bytes, so
    // many.test is asked for every time; the small answers still are kept.
    auto small_options = env->options({env->server(0)});
    small_options.cache_bytes = 300;
    auto small = env->resolver(small_options);
    (void)co_await small->lookup_a("many.test");
    (void)co_await small->lookup_a("many.test");
    EXPECT_EQ(small->stats().tcp_queries, 2u);
    (void)co_await small->lookup_a("n1.test");
    (void)co_await small->lookup_a("n1.test");
    EXPECT_EQ(small->stats().cache_hits, 1u);
    EXPECT_LE(small->stats().cache_bytes, 300u);
    co_return morgana::ok();
  }(&env));
}

async::Task<Result<void>> greet(net::TcpListener listener, size_t connections) {
  const char hello[] = "hello from 10.0.0.2\n";
  for (size_t i = 0; i < connections; ++i) {
    CO_TRY_ASSIGN(net::TcpFlow flow, co_await listener.accept());
    CO_TRY(co_await flow.write(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(hello), sizeof hello - 1)));
    flow.close();
  }
  co_return morgana::ok();
}

async::Task<Result<std::string>> read_all(net::TcpFlow flow) {
  std::string text;
  std::array<uint8_t, 256> buffer;
  for (;;) {
    CO_TRY_ASSIGN(size_t n, co_await flow.read(buffer));
    if (n == 0) break;
    text.append(reinterpret_cast<const char*>(buffer.data()), n);
  }
  co_return text;
}

TEST(ResolverSim, ConnectsByNameTryingEachAddress) {
  Env env(11);
  env.run([](Env* env) -> async::Task<Result<void>> {
    CO_TRY_ASSIGN(net::TcpListener listener, co_await env->hosts[0]->tcp().listen(8080));
    async::Scope server;
    CO_TRY(server.spawn(greet(std::move(listener), 2)));
    auto resolver = env->resolver(env->options({env->server(0)}));
    // svc.test has 10.0.0.9 (no host: nothing answers ARP) and then 10.0.0.2.
    auto addresses = co_await resolver->lookup_a("svc.test");
    EXPECT_EQ(text(addresses), (Strings{"10.0.0.2", "10.0.0.9"}));
    // 10.0.0.9 comes first in the zone and in the answer, so it is tried first.
    EXPECT_TRUE(addresses.ok() && addresses->front() == sim::host_address(8));
    uint64_t start = async::now();
    auto flow = co_await resolver->connect("svc.test", 8080, kSecond);
    if (!flow) co_return flow.error();
    EXPECT_EQ(flow->remote(), (net::Endpoint{sim::host_address(1), 8080}));
    EXPECT_GE(async::now() - start, kSecond);  // the first attempt ran its course
    auto greeting = co_await read_all(std::move(*flow));
    EXPECT_EQ(greeting.value_or(std::string()), "hello from 10.0.0.2\n");

    // A literal address needs no DNS.
    uint64_t queries = resolver->stats().udp_queries;
    auto direct = co_await resolver->connect("10.0.0.2", 8080);
    if (!direct) co_return direct.error();
    EXPECT_EQ(resolver->stats().udp_queries, queries);
    auto again = co_await read_all(std::move(*direct));
    EXPECT_EQ(again.value_or(std::string()), "hello from 10.0.0.2\n");
    (void)co_await server.join();

    // A name that does not exist: the lookup's error.
    auto none = co_await resolver->connect("nope.test", 8080);
    EXPECT_EQ(none.ok() ? Errc::kInvalidArgument : none.error().code, Errc::kNotFound);
    co_return morgana::ok();
  }(&env));
}

// Under loss the retries get every answer through; nothing wrong is ever accepted.
TEST(ResolverSim, LossyLinkStillResolves) {
  for (uint64_t seed : sim::sim_seeds(100, 5)) {
    MORGANA_SIM_TRACE(seed);
    sim::LinkConditions lossy;
    lossy.loss = 0.2;
    lossy.duplicate = 0.1;
    lossy.reorder = 0.1;
    lossy.reorder_delay_ns = 5 * kMs;
    Env env(seed);
    env.world.network().set_links(lossy);
    env.run([](Env* env) -> async::Task<Result<void>> {
      // Long enough for TCP's retransmissions (RFC 6298: the first RTO is 1 s).
      auto options = env->options({env->server(0), env->server(1)});
      options.timeout_ns = 5 * kSecond;
      options.attempts = 20;
      auto resolver = env->resolver(options);
      for (const char* n : {"www.test", "alias.test", "many.test", "n3.test"}) {
        auto a = co_await resolver->lookup_a(n);
        EXPECT_TRUE(a.ok()) << n << ": " << (a.ok() ? "" : a.error().what);
        EXPECT_FALSE(a.ok() && a->empty()) << n;
      }
      co_return morgana::ok();
    }(&env));
    if (HasFailure()) break;
  }
}

}  // namespace
