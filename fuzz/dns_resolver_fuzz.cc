// libFuzzer target for the stub resolver's reply handling (resolver.h, resolver.cc): a
// dns::Resolver over a scripted stack in virtual time, whose queries the input answers.
//
// The input is a script. Its first bytes choose the resolver's options (servers,
// attempts, EDNS size, CNAME bound, cache bounds and TTL caps); then, step by step, it
// starts lookups (A, AAAA, connect by name), probes the cache, lets time pass, or answers
// one of the queries in flight: with a response built around the query (its ID and
// question, any RCODE, TC, answers of A/AAAA/CNAME records over a small set of names,
// an SOA in authority, TTLs with the top bit set), that response with one byte changed,
// raw bytes behind the query's ID, the same from another address, or over TCP a framed
// stream cut into pieces, a reset or a close. When the script ends, the queries still
// open go unanswered and every lookup must end by its timeouts.
//
// What must hold (STYLE.md: wrap random bytes in valid outer layers, assert what a user
// would notice):
// - every query is a well-formed QUERY with RD, one question of class IN for A or AAAA,
//   for a name a lookup asked or a CNAME target a delivered response named, to a
//   configured server, with OPT iff EDNS is on (or after a FORMERR without OPT, off);
// - an address a lookup returns was in an acceptable response to a query of its type: from
//   the server asked, QR set, its ID, exactly its question, not truncated over UDP, not
//   over the advertised size. Forged, truncated and oversized answers are never used;
// - every lookup completes exactly once, with addresses or a documented error;
// - a cache hit gives what the network last gave for that name and type, no later than
//   the TTL cap after it; the cache stays within its entry and byte bounds.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "morgana/async/async.h"
#include "morgana/async/virtual_backend.h"
#include "morgana/proto/dns/resolver.h"

namespace {

using namespace morgana;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

// --- The scripted stack ------------------------------------------------------------------

struct UdpPort {
  uint16_t port = 0;
  bool open = true;
  std::deque<std::pair<std::vector<uint8_t>, net::Endpoint>> inbox;
  async::Event readable;
};

struct TcpConnection {
  net::Endpoint remote;
  bool open = true;
  bool peer_closed = false;
  bool reset = false;
  std::vector<uint8_t> written;
  std::deque<std::vector<uint8_t>> inbox;
  async::Event readable;
};

// A query the resolver sent and the script may answer.
struct Exchange {
  bool tcp = false;
  UdpPort* udp = nullptr;
  TcpConnection* connection = nullptr;
  net::Endpoint server;
  dns::Message query;
  bool answered = false;
};

class FuzzStack;

class FuzzUdpSocket {
 public:
  FuzzUdpSocket() = default;
  FuzzUdpSocket(FuzzStack* stack, UdpPort* port) : stack_(stack), port_(port) {}
  FuzzUdpSocket(FuzzUdpSocket&& other) noexcept
      : stack_(other.stack_), port_(std::exchange(other.port_, nullptr)) {}
  FuzzUdpSocket& operator=(FuzzUdpSocket&& other) noexcept {
    close();
    stack_ = other.stack_;
    port_ = std::exchange(other.port_, nullptr);
    return *this;
  }
  ~FuzzUdpSocket() { close(); }

  async::Task<Result<net::UdpReceived>> receive(std::span<uint8_t> buffer) {
    for (;;) {
      if (port_ == nullptr || !port_->open) co_return Error{Errc::kClosed, "socket closed"};
      if (!port_->inbox.empty()) {
        auto [bytes, from] = std::move(port_->inbox.front());
        port_->inbox.pop_front();
        size_t n = std::min(bytes.size(), buffer.size());
        std::copy_n(bytes.begin(), n, buffer.begin());
        co_return net::UdpReceived{n, from, n < bytes.size()};
      }
      port_->readable.reset();
      CO_TRY(co_await port_->readable.wait());
    }
  }
  Result<void> send_to(net::Endpoint to, std::span<const uint8_t> payload);
  Result<void> connect(net::Endpoint) { return Error{Errc::kUnsupported, "not used"}; }
  Result<void> send(std::span<const uint8_t>) { return Error{Errc::kUnsupported, "not used"}; }
  void close() {
    if (port_ != nullptr) port_->open = false;
    port_ = nullptr;
  }
  net::Endpoint local() const { return {{}, port_ ? port_->port : uint16_t(0)}; }

 private:
  FuzzStack* stack_ = nullptr;
  UdpPort* port_ = nullptr;
};

class FuzzTcpFlow {
 public:
  FuzzTcpFlow() = default;
  FuzzTcpFlow(FuzzStack* stack, TcpConnection* c) : stack_(stack), c_(c) {}
  FuzzTcpFlow(FuzzTcpFlow&& other) noexcept
      : stack_(other.stack_), c_(std::exchange(other.c_, nullptr)) {}
  FuzzTcpFlow& operator=(FuzzTcpFlow&& other) noexcept {
    close();
    stack_ = other.stack_;
    c_ = std::exchange(other.c_, nullptr);
    return *this;
  }
  ~FuzzTcpFlow() { close(); }

  async::Task<Result<size_t>> read(std::span<uint8_t> buffer) {
    for (;;) {
      if (c_ == nullptr || !c_->open) co_return Error{Errc::kClosed, "flow closed"};
      if (!c_->inbox.empty()) {
        std::vector<uint8_t>& chunk = c_->inbox.front();
        size_t n = std::min(chunk.size(), buffer.size());
        std::copy_n(chunk.begin(), n, buffer.begin());
        chunk.erase(chunk.begin(), chunk.begin() + ptrdiff_t(n));
        if (chunk.empty()) c_->inbox.pop_front();
        co_return n;
      }
      if (c_->reset) co_return Error{Errc::kConnectionReset, "reset by the script"};
      if (c_->peer_closed) co_return size_t{0};
      c_->readable.reset();
      CO_TRY(co_await c_->readable.wait());
    }
  }
  async::Task<Result<void>> write(std::span<const uint8_t> bytes);
  Result<void> shutdown_write() { return ok(); }
  void close() {
    if (c_ != nullptr) c_->open = false;
    c_ = nullptr;
  }
  void abort() { close(); }
  void set_nodelay(bool) {}
  net::Endpoint local() const { return {}; }
  net::Endpoint remote() const { return c_ ? c_->remote : net::Endpoint{}; }

 private:
  FuzzStack* stack_ = nullptr;
  TcpConnection* c_ = nullptr;
};

class FuzzTcpListener {
 public:
  async::Task<Result<FuzzTcpFlow>> accept() { co_return Error{Errc::kUnsupported, "no listening"}; }
  void close() {}
  net::Endpoint local() const { return {}; }
};

class FuzzStack {
 public:
  using TcpFlow = FuzzTcpFlow;
  using TcpListener = FuzzTcpListener;
  using UdpSocket = FuzzUdpSocket;

  struct Tcp {
    FuzzStack* stack;
    async::Task<Result<FuzzTcpListener>> listen(uint16_t) {
      co_return Error{Errc::kUnsupported, "no listening"};
    }
    async::Task<Result<FuzzTcpFlow>> connect(net::Ipv4Address address, uint16_t port) {
      FuzzStack* s = stack;
      if (s->refuse_tcp) co_return Error{Errc::kConnectionRefused, "refused by the script"};
      s->connections.push_back(std::make_unique<TcpConnection>());
      s->connections.back()->remote = {address, port};
      co_return FuzzTcpFlow(s, s->connections.back().get());
    }
  };
  struct Udp {
    FuzzStack* stack;
    Result<FuzzUdpSocket> bind(uint16_t port) {
      for (const auto& p : stack->ports)
        if (p->open && port != 0 && p->port == port)
          return Error{Errc::kAddressInUse, "UDP port in use"};
      stack->ports.push_back(std::make_unique<UdpPort>());
      stack->ports.back()->port = port != 0 ? port : uint16_t(49152 + stack->ports.size() % 1000);
      return FuzzUdpSocket(stack, stack->ports.back().get());
    }
  };

  // References, as the real stacks': a coroutine member runs after the call returns.
  Tcp& tcp() { return tcp_; }
  Udp& udp() { return udp_; }
  net::Ipv4Address ipv4_address() const { return net::Ipv4Address{{10, 0, 0, 2}}; }
  async::Task<Result<void>> wait_configured() { co_return ok(); }
  void print_stats() {}

  // A query leaves: it must be well formed (checked by the driver) and is kept to answer.
  void sent(bool tcp, UdpPort* udp, TcpConnection* c, net::Endpoint to,
            std::span<const uint8_t> bytes) {
    auto message = dns::decode(bytes);
    check(message.ok());
    exchanges.push_back(Exchange{tcp, udp, c, to, std::move(*message), false});
  }

  Tcp tcp_{this};
  Udp udp_{this};
  bool refuse_tcp = false;
  std::vector<std::unique_ptr<UdpPort>> ports;
  std::vector<std::unique_ptr<TcpConnection>> connections;
  std::vector<Exchange> exchanges;
};

Result<void> FuzzUdpSocket::send_to(net::Endpoint to, std::span<const uint8_t> payload) {
  if (port_ == nullptr) return Error{Errc::kClosed, "socket closed"};
  stack_->sent(false, port_, nullptr, to, payload);
  return ok();
}

async::Task<Result<void>> FuzzTcpFlow::write(std::span<const uint8_t> bytes) {
  if (c_ == nullptr || !c_->open) co_return Error{Errc::kClosed, "flow closed"};
  c_->written.insert(c_->written.end(), bytes.begin(), bytes.end());
  // RFC 1035 §4.2.2: the resolver writes its query as one framed message.
  dns::TcpFramer framer;
  std::span<const uint8_t> data(c_->written);
  size_t used = framer.feed(data);
  if (framer.has_message()) {
    stack_->sent(true, nullptr, c_, c_->remote, framer.message());
    c_->written.erase(c_->written.begin(), c_->written.begin() + ptrdiff_t(used));
  }
  co_return ok();
}

static_assert(net::Stack<FuzzStack>);

// A random::Source drawing from the script (IDs and ports), zeros once it has run out.
class ScriptRandom {
 public:
  explicit ScriptRandom(FuzzedDataProvider& data) : data_(data) {}
  void fill(std::span<uint8_t> out) {
    for (uint8_t& b : out) b = data_.ConsumeIntegral<uint8_t>();
  }
  uint64_t next_u64() { return data_.ConsumeIntegral<uint64_t>(); }

 private:
  FuzzedDataProvider& data_;
};

// --- The driver ----------------------------------------------------------------------------

using Resolver = dns::Resolver<FuzzStack, ScriptRandom>;

const char* const kNames[] = {"www.test.", "a.test.", "b.a.test.",
                              "c.test.",   "test.",   "x.example."};
constexpr size_t kNameCount = sizeof kNames / sizeof kNames[0];
const net::Endpoint kServers[] = {
    {{{10, 0, 0, 53}}, 53}, {{{10, 0, 0, 54}}, 53}, {{{10, 0, 0, 55}}, 5353}};

struct Outcome {
  bool ok = false;
  Errc code = Errc::kInvalidArgument;
  std::vector<uint8_t> data;  // addresses back to back, as the cache keeps them
  bool operator==(const Outcome&) const = default;
};

struct Driver {
  FuzzedDataProvider& data;
  FuzzStack& stack;
  dns::ResolverOptions options;
  Resolver* resolver = nullptr;
  // Addresses (by query type) in responses the resolver may take, and names it may ask.
  std::set<std::pair<dns::Type, std::vector<uint8_t>>> usable;
  std::set<std::string> askable;
  // Per cache key: what the network last gave (data, NXDOMAIN or NODATA) and when.
  std::map<std::string, std::pair<Outcome, uint64_t>> last;
  std::set<std::string> unknown;  // keys a connect by name may have cached since
  Outcome from_cache;
  bool formerr_without_opt = false;
  size_t exchanges_checked = 0;
  size_t running = 0;
  size_t started = 0;

  dns::Name name_at(size_t i) { return *dns::Name::parse(kNames[i % kNameCount]); }

  // Each new query: a QUERY for a name someone may ask, to a configured server.
  void check_new_queries() {
    for (; exchanges_checked < stack.exchanges.size(); ++exchanges_checked) {
      const Exchange& e = stack.exchanges[exchanges_checked];
      const dns::Message& q = e.query;
      check(!q.header.qr && q.header.rd && q.header.opcode == dns::Opcode::kQuery);
      check(q.questions.size() == 1 && q.answers.empty() && q.authority.empty());
      check(q.questions[0].qclass == dns::Class::kIn);
      check(q.questions[0].type == dns::Type::kA || q.questions[0].type == dns::Type::kAaaa);
      check(askable.count(dns::cache_key(q.questions[0].name, dns::Type::kA)) == 1);
      check(!q.edns || (options.edns_payload_size != 0 &&
                        q.edns->udp_payload_size == options.edns_payload_size));
      // RFC 6891 §7: without OPT only when EDNS is off, or after a FORMERR without one.
      check(q.edns || options.edns_payload_size == 0 || formerr_without_opt);
      check(std::find(options.servers.begin(), options.servers.end(), e.server) !=
            options.servers.end());
    }
  }

  // Whether the resolver may take `bytes` as the answer to `e`, by RFC 5452's rules; if
  // so, its addresses of the question's type become usable and its CNAME targets askable.
  void model(const Exchange& e, std::span<const uint8_t> bytes, net::Endpoint from) {
    auto m = dns::decode(bytes);
    if (!m) return;
    if (m->rcode == dns::Rcode::kFormErr && !m->edns) formerr_without_opt = true;
    for (const auto* section : {&m->answers, &m->authority, &m->additional})
      for (const dns::Record& r : *section)
        if (const auto* cname = std::get_if<dns::Cname>(&r.rdata))
          askable.insert(dns::cache_key(cname->target, dns::Type::kA));
    const dns::Question& asked = e.query.questions[0];
    const size_t limit = e.query.edns ? e.query.edns->udp_payload_size : dns::kClassicUdpSize;
    // Over TCP the connection is the server's whatever `from` says.
    if ((!e.tcp && from != e.server) || !m->header.qr || m->header.id != e.query.header.id ||
        m->header.opcode != dns::Opcode::kQuery || m->questions.size() != 1 ||
        !(m->questions[0].name == asked.name) || m->questions[0].type != asked.type ||
        m->questions[0].qclass != dns::Class::kIn || (!e.tcp && m->header.tc) ||
        (!e.tcp && bytes.size() > limit))
      return;
    for (const dns::Record& r : m->answers) {
      if (const auto* a = std::get_if<dns::A>(&r.rdata))
        usable.insert({asked.type, {a->address.begin(), a->address.end()}});
      if (const auto* a = std::get_if<dns::Aaaa>(&r.rdata))
        usable.insert({asked.type, {a->address.begin(), a->address.end()}});
    }
  }

  dns::Name pick_name(const dns::Name& question) {
    size_t i = data.ConsumeIntegralInRange<size_t>(0, kNameCount);
    return i == kNameCount ? question : name_at(i);
  }

  uint32_t pick_ttl() {
    switch (data.ConsumeIntegralInRange<int>(0, 3)) {
      case 0:
        return 0;
      case 1:
        return data.ConsumeIntegralInRange<uint32_t>(1, 30);
      case 2:
        return 0x80000000u | data.ConsumeIntegral<uint32_t>();  // RFC 2181 §8: taken as 0
      default:
        return data.ConsumeIntegral<uint32_t>();
    }
  }

  // A response around the query: its ID and question (the name's case perhaps changed),
  // then what the script says.
  std::vector<uint8_t> build_response(const Exchange& e) {
    dns::Message r;
    r.header.id = e.query.header.id;
    r.header.qr = true;
    r.header.rd = true;
    r.header.ra = data.ConsumeBool();
    r.header.aa = data.ConsumeBool();
    r.header.tc = data.ConsumeIntegralInRange<int>(0, 3) == 0;
    static constexpr dns::Rcode kRcodes[] = {
        dns::Rcode::kNoError, dns::Rcode::kNoError, dns::Rcode::kNxDomain, dns::Rcode::kServFail,
        dns::Rcode::kRefused, dns::Rcode::kFormErr, dns::Rcode::kNotImp};
    r.rcode = kRcodes[data.ConsumeIntegralInRange<size_t>(0, std::size(kRcodes) - 1)];
    dns::Question question = e.query.questions[0];
    if (data.ConsumeBool()) {
      std::string text = question.name.to_string();
      for (char& c : text)
        if (c >= 'a' && c <= 'z' && data.ConsumeBool()) c = char(c - 'a' + 'A');
      if (auto upper = dns::Name::parse(text)) question.name = *upper;
    }
    if (data.ConsumeIntegralInRange<int>(0, 15) == 0)
      question.type = question.type == dns::Type::kA ? dns::Type::kAaaa : dns::Type::kA;
    r.questions.push_back(question);
    size_t records = data.ConsumeIntegralInRange<size_t>(0, 6);
    for (size_t i = 0; i < records; ++i) {
      dns::Record rec;
      rec.name = pick_name(question.name);
      rec.ttl = pick_ttl();
      switch (data.ConsumeIntegralInRange<int>(0, 3)) {
        case 0: {
          dns::A a;
          a.address = {10, 1, 0, data.ConsumeIntegral<uint8_t>()};
          rec.type = dns::Type::kA;
          rec.rdata = a;
          break;
        }
        case 1: {
          dns::Aaaa a;
          a.address[0] = 0xfd;
          a.address[15] = data.ConsumeIntegral<uint8_t>();
          rec.type = dns::Type::kAaaa;
          rec.rdata = a;
          break;
        }
        default:
          rec.type = dns::Type::kCname;
          rec.rdata = dns::Cname{pick_name(question.name)};
          break;
      }
      if (data.ConsumeIntegralInRange<int>(0, 15) == 0) rec.rclass = dns::Class(3);  // CHAOS
      r.answers.push_back(std::move(rec));
    }
    if (data.ConsumeBool()) {
      dns::Soa soa;
      soa.mname = name_at(0);
      soa.rname = name_at(1);
      soa.minimum = pick_ttl();
      dns::Record rec{pick_name(question.name), dns::Type::kSoa, dns::Class::kIn, pick_ttl(), soa};
      if (data.ConsumeBool()) rec.name = name_at(4);  // the zone apex, "test."
      r.authority.push_back(std::move(rec));
    }
    if (e.query.edns && data.ConsumeBool()) r.edns = dns::Edns{};
    auto encoded = dns::encode(r);
    check(encoded.ok());
    return std::move(encoded->bytes);
  }

  void deliver(Exchange& e, std::vector<uint8_t> bytes, net::Endpoint from) {
    model(e, bytes, from);
    if (!e.tcp) {
      e.udp->inbox.push_back({std::move(bytes), from});
      e.udp->readable.set();
      return;
    }
    // RFC 1035 §4.2.2 framing, cut into pieces the script chooses.
    std::vector<uint8_t> stream;
    dns::append_tcp_frame(bytes, stream);
    size_t at = 0;
    while (at < stream.size()) {
      size_t n = data.ConsumeIntegralInRange<size_t>(1, stream.size() - at);
      e.connection->inbox.emplace_back(stream.begin() + ptrdiff_t(at),
                                       stream.begin() + ptrdiff_t(at + n));
      at += n;
    }
    e.connection->readable.set();
  }

  void answer(Exchange& e) {
    net::Endpoint from = e.server;
    switch (data.ConsumeIntegralInRange<int>(0, 7)) {
      case 0: {  // a response with one byte changed
        auto bytes = build_response(e);
        bytes[data.ConsumeIntegralInRange<size_t>(0, bytes.size() - 1)] ^=
            data.ConsumeIntegralInRange<uint8_t>(1, 255);
        return deliver(e, std::move(bytes), from);
      }
      case 1: {  // raw bytes behind the query's ID
        auto bytes = data.ConsumeBytes<uint8_t>(data.ConsumeIntegralInRange<size_t>(0, 600));
        if (bytes.size() >= 2) {
          bytes[0] = uint8_t(e.query.header.id >> 8);
          bytes[1] = uint8_t(e.query.header.id);
        }
        return deliver(e, std::move(bytes), from);
      }
      case 2:  // a good-looking response from somewhere else
        from.port = uint16_t(from.port + 1);
        if (data.ConsumeBool()) from = {{{10, 0, 0, 66}}, 53};
        return deliver(e, build_response(e), from);
      case 3:
        if (e.tcp) {
          e.connection->reset = data.ConsumeBool();
          e.connection->peer_closed = true;
          e.connection->readable.set();
          e.answered = true;
          return;
        }
        [[fallthrough]];
      default:
        e.answered = true;
        return deliver(e, build_response(e), from);
    }
  }

  void record(const dns::Name& name, dns::Type type, const Outcome& outcome) {
    const bool negative = !outcome.ok && outcome.code == Errc::kNotFound;
    if (outcome.ok || negative) last[dns::cache_key(name, type)] = {outcome, async::now()};
  }

  // One lookup: its result must be addresses it may have, or a documented error. One
  // that completes in the instant it started was answered by the cache (a query takes
  // at least one driver step), and is kept in `from_cache` for probe().
  async::Task<void> lookup(size_t name_index, int kind) {
    const dns::Name name = name_at(name_index);
    const std::string text = name.to_string();
    const dns::Type type = kind == 1 ? dns::Type::kAaaa : dns::Type::kA;
    const uint64_t start = async::now();
    Outcome outcome;
    if (kind == 2) {
      auto flow = co_await resolver->connect(text, 80);
      // Its lookup went to the cache too, with addresses this task does not see.
      if (async::now() != start) {
        last.erase(dns::cache_key(name, type));
        unknown.insert(dns::cache_key(name, type));
      }
      if (flow) {
        const net::Ipv4Address a = flow->remote().address;
        check(usable.count({type, {a.bytes.begin(), a.bytes.end()}}) == 1);
      } else {
        check_documented(flow.error().code);
      }
      --running;
      co_return;
    }
    if (kind == 1) {
      auto r = co_await resolver->lookup_aaaa(text);
      outcome.ok = r.ok();
      if (r) {
        for (const auto& a : *r) outcome.data.insert(outcome.data.end(), a.begin(), a.end());
      } else {
        outcome.code = r.error().code;
      }
    } else {
      auto r = co_await resolver->lookup_a(text);
      outcome.ok = r.ok();
      if (r) {
        for (const auto& a : *r)
          outcome.data.insert(outcome.data.end(), a.bytes.begin(), a.bytes.end());
      } else {
        outcome.code = r.error().code;
      }
    }
    if (outcome.ok) {
      const size_t width = type == dns::Type::kA ? 4 : 16;
      check(!outcome.data.empty() && outcome.data.size() % width == 0);
      for (size_t i = 0; i < outcome.data.size(); i += width)
        check(usable.count({type,
                            {outcome.data.begin() + ptrdiff_t(i),
                             outcome.data.begin() + ptrdiff_t(i + width)}}) == 1);
    } else {
      check_documented(outcome.code);
    }
    if (async::now() == start) {
      from_cache = outcome;
    } else if (outcome.ok || outcome.code == Errc::kNotFound) {
      last[dns::cache_key(name, type)] = {outcome, async::now()};
      unknown.erase(dns::cache_key(name, type));
    }
    --running;
  }

  static void check_documented(Errc code) {
    static constexpr Errc kDocumented[] = {
        Errc::kNotFound, Errc::kTimedOut,        Errc::kIo,     Errc::kMalformed,
        Errc::kAgain,    Errc::kConnectionReset, Errc::kClosed, Errc::kConnectionRefused};
    check(std::find(std::begin(kDocumented), std::end(kDocumented), code) != std::end(kDocumented));
  }

  // A lookup that the cache answers completes before the driver runs again; what it gives
  // must be what the network last gave for that key, within the TTL cap.
  async::Task<Result<void>> probe(async::Scope& lookups) {
    const size_t index = data.ConsumeIntegralInRange<size_t>(0, kNameCount - 1);
    const int kind = data.ConsumeIntegralInRange<int>(0, 1);
    const uint64_t hits = resolver->stats().cache_hits;
    ++running;
    ++started;
    CO_TRY(lookups.spawn(lookup(index, kind)));
    CO_TRY(co_await async::sleep_for(std::chrono::nanoseconds(1)));
    // Only the probe started in this step, and only a new lookup consults the cache.
    if (resolver->stats().cache_hits == hits) co_return ok();
    const dns::Type type = kind == 1 ? dns::Type::kAaaa : dns::Type::kA;
    const std::string key = dns::cache_key(name_at(index), type);
    if (unknown.count(key) != 0) co_return ok();
    auto it = last.find(key);
    check(it != last.end() && from_cache == it->second.first);
    const uint64_t cap = it->second.first.ok ? options.max_ttl : options.max_negative_ttl;
    check(async::now() - it->second.second < uint64_t{cap} * 1'000'000'000);
    co_return ok();
  }

  async::Task<Result<void>> run() {
    async::Scope lookups;
    for (size_t i = 0; i < kNameCount; ++i)
      askable.insert(dns::cache_key(name_at(i), dns::Type::kA));
    const uint64_t timeout = options.timeout_ns;
    for (unsigned step = 0; step < 400 && data.remaining_bytes() > 0; ++step) {
      CO_TRY(co_await async::sleep_for(std::chrono::nanoseconds(1000)));
      check_new_queries();
      const int action = data.ConsumeIntegralInRange<int>(0, 9);
      if (action == 0 && started < 12) {
        ++running;
        ++started;
        CO_TRY(lookups.spawn(lookup(data.ConsumeIntegralInRange<size_t>(0, kNameCount - 1),
                                    data.ConsumeIntegralInRange<int>(0, 2))));
      } else if (action == 1 && started < 12) {
        CO_TRY(co_await probe(lookups));
      } else if (action == 2) {
        CO_TRY(co_await async::sleep_for(
            std::chrono::nanoseconds(data.ConsumeIntegralInRange<uint64_t>(1, 20) * timeout / 4)));
      } else {
        std::vector<Exchange*> open;
        for (Exchange& e : stack.exchanges)
          if (!e.answered && (e.tcp ? e.connection->open : e.udp->open)) open.push_back(&e);
        if (!open.empty()) answer(*open[data.ConsumeIntegralInRange<size_t>(0, open.size() - 1)]);
      }
      const dns::ResolverStats stats = resolver->stats();
      check(stats.cache_entries <= options.cache_entries &&
            stats.cache_bytes <= options.cache_bytes);
      check(stats.cache_hits <= stats.lookups && stats.negative_hits <= stats.cache_hits);
    }
    // The script is over: nothing more is answered, and every lookup ends by its timeouts
    // (attempts, each UDP then TCP, for each CNAME link) in bounded virtual time.
    const uint64_t bound =
        async::now() + 4 * (options.max_cname_links + 2) * options.attempts * timeout;
    while (running > 0) {
      check(async::now() <= bound);
      CO_TRY(co_await async::sleep_for(std::chrono::nanoseconds(timeout / 2)));
      check_new_queries();
    }
    CO_TRY(co_await lookups.join());
    co_return ok();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  FuzzedDataProvider data(bytes, size);
  dns::ResolverOptions options;
  const size_t servers = data.ConsumeIntegralInRange<size_t>(1, 3);
  options.servers.assign(std::begin(kServers), std::begin(kServers) + ptrdiff_t(servers));
  options.timeout_ns = 100'000'000;
  options.attempts = data.ConsumeIntegralInRange<unsigned>(1, 3);
  static constexpr uint16_t kEdns[] = {1232, 0, 512, 4096};
  options.edns_payload_size = kEdns[data.ConsumeIntegralInRange<size_t>(0, 3)];
  options.max_cname_links = data.ConsumeIntegralInRange<size_t>(0, 8);
  options.cache_entries = data.ConsumeIntegralInRange<size_t>(0, 8);
  options.cache_bytes = data.ConsumeIntegralInRange<size_t>(0, 1024);
  options.max_ttl = data.ConsumeIntegralInRange<uint32_t>(1, 60);
  options.max_negative_ttl = data.ConsumeIntegralInRange<uint32_t>(1, 60);
  options.max_in_flight = data.ConsumeIntegralInRange<size_t>(1, 4);

  async::VirtualBackend backend;
  async::Loop loop(backend);
  FuzzStack stack;
  stack.refuse_tcp = data.ConsumeIntegralInRange<int>(0, 7) == 0;
  ScriptRandom random(data);
  auto resolver = Resolver::create(stack, random, options);
  check(resolver.ok());
  Driver driver{data, stack, options};
  driver.resolver = resolver->get();
  auto result = loop.run(driver.run());
  check(result.ok());
  return 0;
}
