// The stub resolver's stack-independent parts: building queries, checking that a message
// is the answer to ours, reading the CNAME chain and the negative-caching TTL out of it,
// and the TTL cache.
#include "morgana/proto/dns/resolver.h"

#include <cstdio>
#include <variant>

namespace morgana::dns {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;

// RFC 2181 §8: a TTL with the most significant bit set is taken as zero.
uint32_t usable_ttl(uint32_t ttl) {
  return ttl > 0x7FFFFFFF ? 0 : ttl;
}

// The address bytes of an A or AAAA record, or none for any other form.
std::span<const uint8_t> address_bytes(const Rdata& rdata) {
  if (const auto* a = std::get_if<A>(&rdata)) return a->address;
  if (const auto* aaaa = std::get_if<Aaaa>(&rdata)) return aaaa->address;
  return {};
}

}  // namespace

const char* drop_reason_name(ResolverDrop reason) {
  switch (reason) {
    case ResolverDrop::kWrongSource:
      return "wrong_source";
    case ResolverDrop::kTooLarge:
      return "too_large";
    case ResolverDrop::kMalformed:
      return "malformed";
    case ResolverDrop::kNotResponse:
      return "not_response";
    case ResolverDrop::kWrongId:
      return "wrong_id";
    case ResolverDrop::kWrongOpcode:
      return "wrong_opcode";
    case ResolverDrop::kWrongQuestion:
      return "wrong_question";
    case ResolverDrop::kCount:
      break;
  }
  return "unknown";
}

std::string ResolverStats::format() const {
  char text[640];
  int n = std::snprintf(
      text, sizeof text,
      "resolver: lookups=%llu cache_hits=%llu negative_hits=%llu coalesced=%llu udp=%llu "
      "tcp=%llu truncated=%llu timeouts=%llu retries=%llu server_errors=%llu "
      "edns_fallbacks=%llu cache_entries=%llu cache_bytes=%llu cache_evictions=%llu",
      (unsigned long long)lookups, (unsigned long long)cache_hits,
      (unsigned long long)negative_hits, (unsigned long long)coalesced,
      (unsigned long long)udp_queries, (unsigned long long)tcp_queries,
      (unsigned long long)truncated, (unsigned long long)timeouts, (unsigned long long)retries,
      (unsigned long long)server_errors, (unsigned long long)edns_fallbacks,
      (unsigned long long)cache_entries, (unsigned long long)cache_bytes,
      (unsigned long long)cache_evictions);
  if (n < 0 || size_t(n) >= sizeof text) return text;
  // With no layer name DropCounters writes " drops: wrong_id=1 ..." (or " drops: none").
  drops.format(std::span<char>(text + n, sizeof text - size_t(n)), "");
  return text;
}

Result<std::vector<uint8_t>> build_query(uint16_t id, const Name& name, Type type,
                                         uint16_t edns_payload_size) {
  Message query;
  query.header.id = id;
  query.header.rd = true;
  query.questions.push_back({name, type, Class::kIn});
  if (edns_payload_size != 0) {
    Edns edns;
    edns.udp_payload_size = edns_payload_size;
    query.edns = edns;
  }
  Encoded encoded = TRY(encode(query));
  return std::move(encoded.bytes);
}

std::optional<ResolverDrop> check_response(std::span<const uint8_t> bytes, uint16_t id,
                                           const Name& name, Type type, Message& out) {
  // The cheap header checks first: most forgeries fail on the ID without a full decode.
  auto header = decode_header(bytes);
  if (!header) return ResolverDrop::kMalformed;
  if (!header->qr) return ResolverDrop::kNotResponse;
  if (header->id != id) return ResolverDrop::kWrongId;
  if (header->opcode != Opcode::kQuery) return ResolverDrop::kWrongOpcode;
  auto message = decode(bytes);
  if (!message) return ResolverDrop::kMalformed;
  // RFC 5452 §4.2: the question must be ours (names compare without case, RFC 4343).
  if (message->questions.size() != 1) return ResolverDrop::kWrongQuestion;
  const Question& question = message->questions.front();
  if (!(question.name == name) || question.type != type || question.qclass != Class::kIn)
    return ResolverDrop::kWrongQuestion;
  out = std::move(*message);
  return std::nullopt;
}

Interpretation interpret(const Message& response, const Name& name, Type type, size_t max_links) {
  Interpretation result;
  Name current = name;
  uint32_t ttl = UINT32_MAX;
  for (;;) {
    // Records of other names, types or classes in the answer are not what we asked for
    // and are ignored (RFC 5452 §6: accept only what answers the question).
    bool found = false;
    for (const Record& record : response.answers) {
      if (record.type != type || record.rclass != Class::kIn || !(record.name == current)) continue;
      auto bytes = address_bytes(record.rdata);
      if (bytes.empty()) continue;
      result.data.insert(result.data.end(), bytes.begin(), bytes.end());
      ttl = std::min(ttl, usable_ttl(record.ttl));
      found = true;
    }
    if (found) {
      result.kind = Interpretation::Kind::kData;
      result.ttl = ttl;
      result.cacheable = true;
      return result;
    }
    const Cname* cname = nullptr;
    uint32_t cname_ttl = 0;
    for (const Record& record : response.answers) {
      if (record.type == Type::kCname && record.rclass == Class::kIn && record.name == current) {
        cname = std::get_if<Cname>(&record.rdata);
        cname_ttl = usable_ttl(record.ttl);
        if (cname != nullptr) break;
      }
    }
    if (cname == nullptr) break;
    // The bound also ends loops (a -> b -> a), which RFC 1034 §3.6.2 says to expect.
    if (result.links == max_links) {
      result.kind = Interpretation::Kind::kFailed;
      result.error = Error{Errc::kMalformed, "CNAME chain longer than the resolver follows"};
      return result;
    }
    ++result.links;
    ttl = std::min(ttl, cname_ttl);
    current = cname->target;
  }

  // Nothing for `current` in the answer. RFC 2308 §5: a negative answer is cached for
  // min(the SOA's TTL, its MINIMUM), taking the SOA of the zone `current` is in.
  const Soa* soa = nullptr;
  uint32_t soa_ttl = 0;
  for (const Record& record : response.authority) {
    if (record.type != Type::kSoa || !current.is_subdomain_of(record.name)) continue;
    soa = std::get_if<Soa>(&record.rdata);
    soa_ttl = usable_ttl(record.ttl);
    if (soa != nullptr) break;
  }
  result.next = current;
  result.ttl = ttl;
  if (response.rcode == Rcode::kNxDomain) {
    result.kind = Interpretation::Kind::kNxDomain;
  } else if (soa != nullptr || result.links == 0) {
    result.kind = Interpretation::Kind::kNoData;
  } else {
    // A CNAME to a name the answer says nothing more about (an authoritative server
    // answering for its own zone only): the target needs a query of its own.
    result.kind = Interpretation::Kind::kFollow;
    result.cacheable = true;
    return result;
  }
  if (soa != nullptr) {
    result.ttl = std::min(ttl, std::min(soa_ttl, usable_ttl(soa->minimum)));
    result.cacheable = true;
  }
  return result;
}

Error rcode_error(Rcode rcode) {
  switch (rcode) {
    case Rcode::kServFail:
      return Error{Errc::kIo, "SERVFAIL: the DNS server failed to answer"};
    case Rcode::kRefused:
      return Error{Errc::kIo, "REFUSED: the DNS server refused the query"};
    case Rcode::kFormErr:
      return Error{Errc::kIo, "FORMERR: the DNS server could not read the query"};
    case Rcode::kNotImp:
      return Error{Errc::kIo, "NOTIMP: the DNS server does not implement the query"};
    case Rcode::kBadVers:
      return Error{Errc::kIo, "BADVERS: the DNS server does not speak EDNS version 0"};
    case Rcode::kNoError:
    case Rcode::kNxDomain:
      break;
  }
  return Error{Errc::kIo, "the DNS server answered with an unexpected RCODE"};
}

std::string cache_key(const Name& name, Type type) {
  auto wire = name.wire();
  std::string key(wire.begin(), wire.end());
  // Label lengths are at most 63, below 'A', so lower-casing every byte is safe.
  for (char& c : key)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  auto value = static_cast<uint16_t>(type);
  key.push_back(static_cast<char>(value >> 8));
  key.push_back(static_cast<char>(value));
  return key;
}

const ResolverCache::Entry* ResolverCache::find(std::string_view key, uint64_t now_ns) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  Iterator node = it->second;
  if (node->entry.expires_ns <= now_ns) {
    erase(node);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, node);
  return &node->entry;
}

bool ResolverCache::insert(std::string key, Kind kind, std::vector<uint8_t> data, uint32_t ttl,
                           uint64_t now_ns) {
  if (auto it = index_.find(key); it != index_.end()) erase(it->second);
  const size_t charge = key.size() + data.size() + kEntryOverhead;
  if (ttl == 0 || max_entries_ == 0 || charge > max_bytes_) return false;
  while (!lru_.empty() && (lru_.size() >= max_entries_ || bytes_ + charge > max_bytes_)) {
    Iterator victim = std::prev(lru_.end());
    if (victim->entry.expires_ns > now_ns) ++evictions_;
    erase(victim);
  }
  lru_.push_front(
      Node{std::move(key), Entry{kind, std::move(data), now_ns + ttl * kNsPerSecond}, charge});
  index_.emplace(std::string_view(lru_.front().key), lru_.begin());
  bytes_ += charge;
  return true;
}

void ResolverCache::clear() {
  index_.clear();
  lru_.clear();
  bytes_ = 0;
}

void ResolverCache::erase(Iterator it) {
  bytes_ -= it->charge;
  index_.erase(index_.find(std::string_view(it->key)));
  lru_.erase(it);
}

}  // namespace morgana::dns
