// A stub resolver for applications (RFC 1034 §5.3.1, RFC 1123 §6.1.3): A and AAAA lookups
// sent to configured recursive servers over UDP, retried and rotated across servers, over
// TCP when truncated, cached by TTL (negative answers too, RFC 2308), and connect by name.
// Works over any net::Stack: Morgana's own in an image, the host's sockets on unix.
//
//   auto resolver = TRY(dns::Resolver<net::AppStack>::create(stack, random::system(), options));
//   CO_TRY_ASSIGN(auto addresses, co_await resolver->lookup_a("www.morgana.test"));
//   CO_TRY_ASSIGN(auto flow, co_await resolver->connect("www.morgana.test", 80));
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "morgana/async/event.h"
#include "morgana/async/loop.h"
#include "morgana/async/scope.h"
#include "morgana/async/task.h"
#include "morgana/async/timeout.h"
#include "morgana/net/address.h"
#include "morgana/net/drop.h"
#include "morgana/net/endpoint.h"
#include "morgana/net/stack.h"
#include "morgana/proto/dns/message.h"
#include "morgana/proto/dns/name.h"
#include "morgana/proto/dns/server.h"
#include "morgana/proto/dns/types.h"
#include "morgana/random/random.h"
#include "morgana/rt/result.h"

namespace morgana::dns {

inline constexpr uint16_t kDnsPort = 53;

// An AAAA record's address, in network order (RFC 3596 §2.2); ipv6_to_string()
// (presentation.h) prints it.
using Ipv6Address = std::array<uint8_t, 16>;

struct ResolverOptions {
  // Recursive servers, tried in turn (RFC 1035 §7.2); at least one.
  std::vector<net::Endpoint> servers;
  // How long one attempt waits for its answer (over UDP, and again over TCP after TC).
  uint64_t timeout_ns = 2'000'000'000;
  // Attempts per lookup, each to the next server (RFC 1123 §6.1.3.3); at least one.
  unsigned attempts = 3;
  // The EDNS(0) UDP payload size we advertise (RFC 6891 §6.2.5; 1232 as DNS Flag Day
  // 2020 settled on); 0 sends no OPT record, so answers are cut at 512 bytes.
  uint16_t edns_payload_size = 1232;
  // CNAME links followed for one lookup, across the answers of all its queries.
  size_t max_cname_links = 8;
  // The cache's bounds: entries and bytes (each entry is charged its name, its
  // addresses and ResolverCache::kEntryOverhead). 0 entries turns caching off.
  size_t cache_entries = 256;
  size_t cache_bytes = 64 * 1024;
  // TTL caps in seconds: an answer is never kept longer than this, whatever it says.
  // RFC 2308 §5 suggests one to three hours for negative answers.
  uint32_t max_ttl = 86400;
  uint32_t max_negative_ttl = 3600;
  // Distinct names being looked up at once; more fail with kAgain.
  size_t max_in_flight = 64;
};

// Why a message that reached the resolver's socket or connection was not taken as the
// answer (spoofing resistance, RFC 5452 §4: only a response from the server we asked,
// with our ID and our question, counts).
enum class ResolverDrop : uint8_t {
  kWrongSource,    // not from the server's address and port 53 (or the port configured)
  kTooLarge,       // longer than the payload size we advertised
  kMalformed,      // does not decode
  kNotResponse,    // QR clear
  kWrongId,        // not the ID of our query
  kWrongOpcode,    // not a QUERY response
  kWrongQuestion,  // not exactly our question (name, type, class IN)
  kCount
};
const char* drop_reason_name(ResolverDrop reason);

struct ResolverStats {
  uint64_t lookups = 0;          // lookup_a / lookup_aaaa calls with a valid name
  uint64_t cache_hits = 0;       // answered from the cache (negative hits included)
  uint64_t negative_hits = 0;    // ... of which NXDOMAIN or NODATA
  uint64_t coalesced = 0;        // joined a query for the same name already in flight
  uint64_t udp_queries = 0;      // datagrams sent
  uint64_t tcp_queries = 0;      // queries sent over TCP (after a truncated answer)
  uint64_t truncated = 0;        // UDP answers with TC set
  uint64_t timeouts = 0;         // attempts that got no answer in time
  uint64_t retries = 0;          // attempts after a lookup's first
  uint64_t server_errors = 0;    // answers with SERVFAIL, REFUSED, FORMERR, NOTIMP, ...
  uint64_t edns_fallbacks = 0;   // FORMERR to EDNS: asked again without OPT (RFC 6891 §7)
  uint64_t cache_entries = 0;    // now
  uint64_t cache_bytes = 0;      // now
  uint64_t cache_evictions = 0;  // entries pushed out by the bounds (not by expiry)
  net::DropCounters<ResolverDrop> drops;
  // "resolver: lookups=... cache_hits=... drops: wrong_id=1" for the console.
  std::string format() const;
};

// The pieces that do not depend on the stack (resolver.cc), public for tests.

// A query: our ID, RD set (a stub asks for recursion, RFC 1035 §7.1), one question of
// class IN, and an OPT record advertising `edns_payload_size` unless it is 0.
Result<std::vector<uint8_t>> build_query(uint16_t id, const Name& name, Type type,
                                         uint16_t edns_payload_size);

// Checks `bytes` as the response to our query (ID, opcode, QR, exactly our question) and
// decodes it into `out`; otherwise says why it is dropped. The caller checks the source.
std::optional<ResolverDrop> check_response(std::span<const uint8_t> bytes, uint16_t id,
                                           const Name& name, Type type, Message& out);

// What a NOERROR or NXDOMAIN response says about `name` and `type` (A or AAAA).
struct Interpretation {
  enum class Kind : uint8_t {
    kData,      // addresses: `data` holds them back to back (4 or 16 bytes each)
    kNxDomain,  // the name (or the end of its CNAME chain) does not exist
    kNoData,    // it exists without records of this type
    kFollow,    // the answer ends in a CNAME whose target it says nothing about: ask for `next`
    kFailed,    // `error` (a CNAME chain over the bound)
  };
  Kind kind = Kind::kFailed;
  std::vector<uint8_t> data;
  // Seconds the result may be kept: the least TTL of the CNAME links and records used;
  // for a negative answer min(SOA TTL, SOA MINIMUM) (RFC 2308 §5), combined likewise.
  uint32_t ttl = 0;
  bool cacheable = false;  // negative answers without an SOA are not (RFC 2308 §5)
  size_t links = 0;        // CNAME links followed in this answer
  Name next;
  Error error{Errc::kMalformed, "unusable answer"};
};
// Follows the CNAME chain from `name` through the answer section (at most `max_links`
// links; RFC 1034 §3.6.2, RFC 6604 §2: the RCODE speaks of the chain's last name).
Interpretation interpret(const Message& response, const Name& name, Type type, size_t max_links);

// The error a lookup ends with for a server's RCODE other than NOERROR and NXDOMAIN:
// kIo, naming the RCODE.
Error rcode_error(Rcode rcode);
// The cache key of (name, type): the name's wire form lower-cased (RFC 4343), then type.
std::string cache_key(const Name& name, Type type);

// Answers by (name, type) until their TTL runs out, bounded in entries and bytes, least
// recently used pushed out first. Times are the event loop's clock (virtual in tests).
class ResolverCache {
 public:
  enum class Kind : uint8_t { kData, kNxDomain, kNoData };
  struct Entry {
    Kind kind = Kind::kData;
    std::vector<uint8_t> data;  // addresses back to back
    uint64_t expires_ns = 0;
  };
  // What an entry is charged besides its key and data: its list node, index slot and
  // vector headers (an estimate; the point is a bound that holds).
  static constexpr size_t kEntryOverhead = 128;

  ResolverCache(size_t max_entries, size_t max_bytes)
      : max_entries_(max_entries), max_bytes_(max_bytes) {}

  // The live entry for `key` (an expired one is removed), or nullptr. Valid until the
  // next insert or clear.
  const Entry* find(std::string_view key, uint64_t now_ns);
  // Keeps `data` for `ttl` seconds, replacing an entry with the same key. Returns false
  // when it is not kept: TTL 0 (RFC 1035 §3.2.1: use once only) or too big for the bound.
  bool insert(std::string key, Kind kind, std::vector<uint8_t> data, uint32_t ttl, uint64_t now_ns);
  void clear();

  size_t size() const { return lru_.size(); }
  size_t bytes() const { return bytes_; }
  uint64_t evictions() const { return evictions_; }

 private:
  struct Node {
    std::string key;
    Entry entry;
    size_t charge = 0;
  };
  using Iterator = std::list<Node>::iterator;
  void erase(Iterator it);

  size_t max_entries_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t evictions_ = 0;
  std::list<Node> lru_;                                   // most recently used first
  std::unordered_map<std::string_view, Iterator> index_;  // keys view into the nodes
};

// The DNS servers the stack's DHCP lease named (RFC 2132 §3.8, option 6), on port 53;
// none without a lease, or on a stack with no DHCP client of its own (the host's sockets).
template <typename S>
concept HasDhcpLease = requires(S& stack) {
  stack.core().dhcp_lease();
};

template <net::Stack S>
std::vector<net::Endpoint> dhcp_dns_servers(S& stack) {
  std::vector<net::Endpoint> servers;
  if constexpr (HasDhcpLease<S>) {
    const auto* lease = stack.core().dhcp_lease();
    if (lease != nullptr && lease->has_value())
      for (size_t i = 0; i < (*lease)->dns_count && i < (*lease)->dns.size(); ++i)
        servers.push_back({(*lease)->dns[i], kDnsPort});
  }
  return servers;
}

// The resolver over stack S, drawing query IDs and source ports from R. Lookups may run
// concurrently; lookups of the same name and type share one query. Each lookup task
// completes exactly once. Cancelling a lookup ends only the caller's wait (kCancelled):
// the query goes on and its answer is cached. The resolver must outlive its lookups, and
// be destroyed before its stack and the event loop.
template <net::Stack S, random::Source R = random::ChaCha20Rng>
class Resolver {
 public:
  using TcpFlow = typename S::TcpFlow;

  // kInvalidArgument without servers, with a server at port 0 or address 0.0.0.0, zero
  // attempts, timeout or max_in_flight, or an EDNS payload size under 512 (other than 0).
  static Result<std::unique_ptr<Resolver>> create(S& stack, R& random, ResolverOptions options) {
    if (options.servers.empty()) return Error{Errc::kInvalidArgument, "no DNS server configured"};
    for (const net::Endpoint& server : options.servers)
      if (server.port == 0 || server.address.is_unspecified())
        return Error{Errc::kInvalidArgument, "a DNS server at port 0 or address 0.0.0.0"};
    if (options.attempts == 0 || options.timeout_ns == 0 || options.max_in_flight == 0)
      return Error{Errc::kInvalidArgument,
                   "resolver attempts, timeout and lookups in flight must be positive"};
    if (options.edns_payload_size != 0 && options.edns_payload_size < kClassicUdpSize)
      return Error{Errc::kInvalidArgument, "EDNS payload size under 512 bytes (RFC 6891 §6.2.5)"};
    return std::unique_ptr<Resolver>(new Resolver(stack, random, std::move(options)));
  }

  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // The IPv4 addresses of `name` (presentation form; relative names are taken as
  // absolute: there is no search list), following CNAMEs. Errors: the name's parse error;
  // kNotFound for NXDOMAIN ("NXDOMAIN: ...") or NODATA ("NODATA: ..."); kTimedOut when no
  // server answered; kIo naming the RCODE when every attempt got SERVFAIL, REFUSED, ...;
  // kMalformed for a CNAME chain over max_cname_links; kAgain over max_in_flight.
  async::Task<Result<std::vector<net::Ipv4Address>>> lookup_a(std::string_view name) {
    // Not a coroutine: the name is parsed now, so the task keeps no view of the caller's text.
    return lookup_a_parsed(Name::parse(name));
  }
  // The IPv6 addresses of `name`, as lookup_a.
  async::Task<Result<std::vector<Ipv6Address>>> lookup_aaaa(std::string_view name) {
    return lookup_aaaa_parsed(Name::parse(name));
  }

  // A TCP connection to `host` (a name, or a dotted-quad IPv4 address, which skips DNS)
  // at `port`: each of its A addresses is tried in turn until one connects, each for at
  // most `attempt_timeout_ns` (0: as long as the stack's own connect takes). The error is
  // the lookup's, or the last connect's.
  async::Task<Result<TcpFlow>> connect(std::string_view host, uint16_t port,
                                       uint64_t attempt_timeout_ns = 0) {
    if (auto literal = net::Ipv4Address::parse(host))
      return connect_addresses({*literal}, port, attempt_timeout_ns);
    return connect_name(Name::parse(host), port, attempt_timeout_ns);
  }

  ResolverStats stats() const {
    ResolverStats stats = stats_;
    stats.cache_entries = cache_.size();
    stats.cache_bytes = cache_.bytes();
    stats.cache_evictions = cache_.evictions();
    return stats;
  }
  const ResolverOptions& options() const { return options_; }
  void clear_cache() { cache_.clear(); }

 private:
  // A query in progress for one (name, type), shared by every lookup waiting for it.
  // It runs as a task of the resolver's own scope, so a waiter that is cancelled leaves
  // the others (and the cache) unaffected. Freed when it has finished and nobody waits.
  struct Flight {
    std::string key;
    async::Event done;
    Result<std::vector<uint8_t>> result{Error{Errc::kCancelled, "the lookup was abandoned"}};
    size_t waiters = 0;
    bool finished = false;
  };

  Resolver(S& stack, R& random, ResolverOptions options)
      : stack_(stack),
        random_(random),
        options_(std::move(options)),
        cache_(options_.cache_entries, options_.cache_bytes) {}

  static constexpr uint16_t kEphemeralFirst = 49152;  // RFC 6335 §6: 49152-65535
  static constexpr unsigned kPortTries = 8;
  static constexpr size_t kTcpChunk = 4096;

  // The addresses of A records, kept back to back (ResolverCache::Entry::data).
  static std::vector<net::Ipv4Address> ipv4_addresses(const std::vector<uint8_t>& data) {
    std::vector<net::Ipv4Address> addresses(data.size() / 4);
    for (size_t i = 0; i < addresses.size(); ++i)
      std::copy_n(data.begin() + ptrdiff_t(4 * i), 4, addresses[i].bytes.begin());
    return addresses;
  }

  async::Task<Result<std::vector<net::Ipv4Address>>> lookup_a_parsed(Result<Name> name) {
    CO_TRY_ASSIGN(std::vector<uint8_t> data, co_await lookup(std::move(name), Type::kA));
    co_return ipv4_addresses(data);
  }

  async::Task<Result<std::vector<Ipv6Address>>> lookup_aaaa_parsed(Result<Name> name) {
    CO_TRY_ASSIGN(std::vector<uint8_t> data, co_await lookup(std::move(name), Type::kAaaa));
    std::vector<Ipv6Address> addresses(data.size() / 16);
    for (size_t i = 0; i < addresses.size(); ++i)
      std::copy_n(data.begin() + ptrdiff_t(16 * i), 16, addresses[i].begin());
    co_return addresses;
  }

  // The cache, then a query in flight for the same key, then a new one.
  async::Task<Result<std::vector<uint8_t>>> lookup(Result<Name> name, Type type) {
    if (!name) co_return name.error();
    ++stats_.lookups;
    std::string key = cache_key(*name, type);
    if (const ResolverCache::Entry* entry = cache_.find(key, async::now())) {
      ++stats_.cache_hits;
      if (entry->kind != ResolverCache::Kind::kData) ++stats_.negative_hits;
      co_return from_cache(*entry);
    }
    Flight* flight = nullptr;
    if (auto it = flights_.find(key); it != flights_.end()) {
      flight = it->second.get();
      ++stats_.coalesced;
    } else {
      if (flights_.size() >= options_.max_in_flight)
        co_return Error{Errc::kAgain, "too many DNS lookups in flight"};
      auto owned = std::make_unique<Flight>();
      owned->key = std::move(key);
      flight = owned.get();
      flights_.emplace(std::string_view(flight->key), std::move(owned));
      auto spawned = flights_scope_.spawn(run_flight(flight, *name, type));
      if (!spawned) {
        erase_flight(flight);
        co_return spawned.error();
      }
    }
    ++flight->waiters;
    auto woke = co_await flight->done.wait();
    Result<std::vector<uint8_t>> result = woke ? flight->result : woke.error();
    if (--flight->waiters == 0 && flight->finished) erase_flight(flight);
    co_return result;
  }

  // By iterator: the map's key is a view of the flight's own string.
  void erase_flight(Flight* flight) { flights_.erase(flights_.find(flight->key)); }

  static Result<std::vector<uint8_t>> from_cache(const ResolverCache::Entry& entry) {
    switch (entry.kind) {
      case ResolverCache::Kind::kData:
        return entry.data;
      case ResolverCache::Kind::kNxDomain:
        return nxdomain();
      case ResolverCache::Kind::kNoData:
        break;
    }
    return nodata();
  }
  static Error nxdomain() { return Error{Errc::kNotFound, "NXDOMAIN: the name does not exist"}; }
  static Error nodata() {
    return Error{Errc::kNotFound, "NODATA: the name has no records of this type"};
  }

  async::Task<void> run_flight(Flight* flight, Name name, Type type) {
    flight->result = co_await resolve(name, type);
    flight->finished = true;
    flight->done.set();
    // Every waiter was cancelled: nobody will come back for the result.
    if (flight->waiters == 0) erase_flight(flight);
  }

  // Queries until the answer ends the CNAME chain, then caches what it says under the
  // name asked for, for the least TTL met on the way.
  async::Task<Result<std::vector<uint8_t>>> resolve(Name name, Type type) {
    Name current = name;
    size_t links = 0;
    uint32_t ttl = UINT32_MAX;
    bool cacheable = true;
    for (;;) {
      CO_TRY_ASSIGN(Message response, co_await exchange(current, type));
      Interpretation got = interpret(response, current, type, options_.max_cname_links - links);
      links += got.links;
      ttl = std::min(ttl, got.ttl);
      cacheable = cacheable && got.cacheable;
      using Kind = Interpretation::Kind;
      if (got.kind == Kind::kFailed) co_return got.error;
      if (got.kind == Kind::kFollow) {
        current = got.next;
        continue;
      }
      auto kind = got.kind == Kind::kData       ? ResolverCache::Kind::kData
                  : got.kind == Kind::kNxDomain ? ResolverCache::Kind::kNxDomain
                                                : ResolverCache::Kind::kNoData;
      uint32_t cap =
          kind == ResolverCache::Kind::kData ? options_.max_ttl : options_.max_negative_ttl;
      if (cacheable)
        (void)cache_.insert(cache_key(name, type), kind, got.data, std::min(ttl, cap),
                            async::now());
      if (kind == ResolverCache::Kind::kNxDomain) co_return nxdomain();
      if (kind == ResolverCache::Kind::kNoData) co_return nodata();
      co_return std::move(got.data);
    }
  }

  // RFC 1035 §7.2: up to `attempts` attempts, each to the next server, starting with the
  // one that answered last. Returns a NOERROR or NXDOMAIN response, or the reason none came.
  async::Task<Result<Message>> exchange(Name name, Type type) {
    Error last{Errc::kTimedOut, "no DNS server answered in time"};
    const size_t first = preferred_;
    for (unsigned attempt = 0; attempt < options_.attempts; ++attempt) {
      if (attempt > 0) ++stats_.retries;
      const size_t index = (first + attempt) % options_.servers.size();
      const net::Endpoint server = options_.servers[index];
      bool edns = options_.edns_payload_size != 0;
      Result<Message> response = co_await one_attempt(server, name, type, edns);
      // RFC 6891 §7: a FORMERR without an OPT record is a server that does not know EDNS;
      // ask it again without.
      if (response && response->rcode == Rcode::kFormErr && edns && !response->edns) {
        ++stats_.edns_fallbacks;
        response = co_await one_attempt(server, name, type, false);
      }
      if (!response) {
        if (response.error().code == Errc::kCancelled) co_return response.error();
        if (response.error().code == Errc::kTimedOut) {
          ++stats_.timeouts;
          last = Error{Errc::kTimedOut, "no DNS server answered in time"};
        } else {
          last = response.error();
        }
        continue;
      }
      if (response->rcode == Rcode::kNoError || response->rcode == Rcode::kNxDomain) {
        preferred_ = index;
        co_return std::move(*response);
      }
      // SERVFAIL, REFUSED, NOTIMP...: another server may do better (RFC 1035 §7.3).
      ++stats_.server_errors;
      last = rcode_error(response->rcode);
    }
    co_return last;
  }

  // One query to one server over UDP, then over TCP if the answer was truncated (RFC
  // 1035 §4.2.1, RFC 7766 §5): a truncated answer is never used.
  async::Task<Result<Message>> one_attempt(net::Endpoint server, Name name, Type type, bool edns) {
    const auto timeout = std::chrono::nanoseconds(options_.timeout_ns);
    Result<Message> response =
        co_await async::with_timeout(udp_query(server, name, type, edns), timeout);
    if (response && response->header.tc) {
      ++stats_.truncated;
      response = co_await async::with_timeout(tcp_query(server, name, type, edns), timeout);
    }
    co_return response;
  }

  uint16_t next_id() { return static_cast<uint16_t>(random_.next_u64()); }

  // RFC 5452 §9.2: a source port drawn at random from the ephemeral range; the stack's
  // own allocation (sequential) only when several random picks were taken.
  Result<typename S::UdpSocket> bind_random_port() {
    for (unsigned i = 0; i < kPortTries; ++i) {
      auto port = static_cast<uint16_t>(kEphemeralFirst +
                                        random::uniform(random_, 65536 - kEphemeralFirst));
      auto socket = stack_.udp().bind(port);
      if (socket || socket.error().code != Errc::kAddressInUse) return socket;
    }
    return stack_.udp().bind(0);
  }

  async::Task<Result<Message>> udp_query(net::Endpoint server, Name name, Type type, bool edns) {
    const uint16_t id = next_id();
    const uint16_t size = edns ? options_.edns_payload_size : 0;
    CO_TRY_ASSIGN(std::vector<uint8_t> query, build_query(id, name, type, size));
    CO_TRY_ASSIGN(auto socket, bind_random_port());
    CO_TRY(socket.send_to(server, query));
    ++stats_.udp_queries;
    // One byte more than we allow, so a datagram over our size shows as cut.
    std::vector<uint8_t> buffer(std::max<size_t>(size, kClassicUdpSize) + 1);
    for (;;) {
      CO_TRY_ASSIGN(net::UdpReceived received, co_await socket.receive(buffer));
      if (received.from != server) {
        stats_.drops.drop(ResolverDrop::kWrongSource);
        continue;
      }
      if (received.truncated || received.size >= buffer.size()) {
        stats_.drops.drop(ResolverDrop::kTooLarge);
        continue;
      }
      Message message;
      auto dropped = check_response({buffer.data(), received.size}, id, name, type, message);
      if (dropped) {
        stats_.drops.drop(*dropped);
        continue;
      }
      co_return message;
    }
  }

  // RFC 1035 §4.2.2, RFC 7766 §8: the query after a two-byte length; the answer read back
  // the same way, on a connection of its own that is closed afterwards.
  async::Task<Result<Message>> tcp_query(net::Endpoint server, Name name, Type type, bool edns) {
    const uint16_t id = next_id();
    CO_TRY_ASSIGN(std::vector<uint8_t> query,
                  build_query(id, name, type, edns ? options_.edns_payload_size : 0));
    std::vector<uint8_t> frame;
    append_tcp_frame(query, frame);
    CO_TRY_ASSIGN(TcpFlow flow, co_await stack_.tcp().connect(server.address, server.port));
    ++stats_.tcp_queries;
    CO_TRY(co_await flow.write(frame));
    TcpFramer framer;
    std::vector<uint8_t> chunk(kTcpChunk);
    for (;;) {
      CO_TRY_ASSIGN(size_t n, co_await flow.read(chunk));
      if (n == 0)
        co_return Error{Errc::kClosed,
                        "the DNS server closed the TCP connection without an answer"};
      std::span<const uint8_t> data(chunk.data(), n);
      while (!data.empty()) {
        data = data.subspan(framer.feed(data));
        if (!framer.has_message()) continue;
        Message message;
        auto dropped = check_response(framer.message(), id, name, type, message);
        framer.consume();
        if (!dropped) {
          flow.close();
          co_return message;
        }
        stats_.drops.drop(*dropped);
      }
    }
  }

  async::Task<Result<TcpFlow>> connect_name(Result<Name> name, uint16_t port,
                                            uint64_t attempt_timeout_ns) {
    CO_TRY_ASSIGN(std::vector<uint8_t> data, co_await lookup(std::move(name), Type::kA));
    co_return co_await connect_addresses(ipv4_addresses(data), port, attempt_timeout_ns);
  }

  async::Task<Result<TcpFlow>> connect_addresses(std::vector<net::Ipv4Address> addresses,
                                                 uint16_t port, uint64_t attempt_timeout_ns) {
    Error last{Errc::kUnreachable, "the name has no IPv4 address"};
    for (const net::Ipv4Address& address : addresses) {
      async::Task<Result<TcpFlow>> attempt = stack_.tcp().connect(address, port);
      if (attempt_timeout_ns != 0)
        attempt =
            async::with_timeout(std::move(attempt), std::chrono::nanoseconds(attempt_timeout_ns));
      Result<TcpFlow> flow = co_await std::move(attempt);
      if (flow) co_return std::move(flow);
      if (flow.error().code == Errc::kCancelled) co_return flow.error();
      last = flow.error();
    }
    co_return last;
  }

  S& stack_;
  R& random_;
  ResolverOptions options_;
  ResolverStats stats_;
  ResolverCache cache_;
  size_t preferred_ = 0;  // the server that answered last
  std::unordered_map<std::string_view, std::unique_ptr<Flight>> flights_;  // keys view Flight::key
  // Declared last: destroyed first, so no flight task outlives what it uses.
  async::Scope flights_scope_;
};

}  // namespace morgana::dns
