// The server's per-query path: rate limiting, the memo of encoded responses, answer()
// for everything else, and zone transfers (RFC 5936) to allowed addresses.
#include "morgana/proto/dns/server.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>

namespace morgana::dns {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;

size_t round_up_pow2(size_t n) {
  return n == 0 ? 0 : std::bit_ceil(n);
}

uint16_t be16(std::span<const uint8_t> bytes, size_t at) {
  return static_cast<uint16_t>(bytes[at] << 8 | bytes[at + 1]);
}

// FNV-1a, then a final mix (from MurmurHash3's fmix64): FNV's low bits, which pick the
// memo's set, depend only on the low bits of each byte otherwise.
uint64_t memo_hash(std::span<const uint8_t> bytes) {
  uint64_t hash = 0xcbf29ce484222325;
  for (uint8_t b : bytes) hash = (hash ^ b) * 0x100000001b3;
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccd;
  hash ^= hash >> 33;
  return hash;
}

// The response RRL sends instead of a dropped one (RFC 1035 §4.1.1 header, TC set): the
// question only, so the client retries over TCP. `question_end` is where the question of
// a query in memo_key()'s simple form ends.
void slip_response(std::span<const uint8_t> query, size_t question_end, std::vector<uint8_t>& out) {
  out.assign(query.begin(), query.begin() + static_cast<ptrdiff_t>(question_end));
  out[2] = static_cast<uint8_t>(0x80 | (query[2] & 0x79) | 0x02);  // QR, opcode, RD; TC
  out[3] = static_cast<uint8_t>(query[3] & 0x10);                  // CD; RCODE NOERROR
  for (size_t i = 6; i < kHeaderSize; ++i) out[i] = 0;             // no records
}

// Where the question of a simple query ends (see memo_key), or 0.
size_t simple_question_end(std::span<const uint8_t> query) {
  if (query.size() < kHeaderSize + 5) return 0;
  size_t at = kHeaderSize;
  while (at < query.size() && query[at] != 0) {
    if (query[at] > kMaxLabelSize) return 0;  // a pointer or an extended label type
    at += 1 + query[at];
  }
  at += 1;  // the root label
  if (at - kHeaderSize > kMaxNameSize || at + 4 > query.size()) return 0;
  return at + 4;
}

}  // namespace

std::string ServerStats::format() const {
  char text[512];
  std::snprintf(text, sizeof text,
                "dns: queries=%llu answered=%llu memo_hits=%llu memo_misses=%llu "
                "memo_evictions=%llu formerr=%llu dropped=%llu rrl_dropped=%llu "
                "rrl_slipped=%llu rrl_evictions=%llu transfers=%llu transfers_refused=%llu",
                (unsigned long long)queries, (unsigned long long)answered,
                (unsigned long long)memo_hits, (unsigned long long)memo_misses,
                (unsigned long long)memo_evictions, (unsigned long long)formerr,
                (unsigned long long)dropped, (unsigned long long)rrl_dropped,
                (unsigned long long)rrl_slipped, (unsigned long long)rrl_evictions,
                (unsigned long long)transfers, (unsigned long long)transfers_refused);
  return text;
}

std::vector<uint8_t>& Responses::add() {
  if (count_ == buffers_.size()) buffers_.emplace_back();
  auto& buffer = buffers_[count_++];
  buffer.clear();
  return buffer;
}

size_t memo_key(std::span<const uint8_t> query, Transport transport, size_t udp_limit,
                std::span<uint8_t, kMaxMemoKeySize> key) {
  size_t question_end = simple_question_end(query);
  if (question_end == 0) return 0;
  uint8_t flags = query[2];
  // A query (QR clear) with opcode QUERY, RFC 1035 §4.1.1; one question, no answer or
  // authority records, at most one additional record (which must be OPT).
  if ((flags & 0xF8) != 0 || be16(query, 4) != 1 || be16(query, 6) != 0 || be16(query, 8) != 0)
    return 0;
  uint16_t additional = be16(query, 10);
  if (additional > 1) return 0;
  bool edns = additional == 1;
  uint8_t version = 0;
  bool dnssec_ok = false;
  size_t limit = transport == Transport::kTcp ? kMaxMessageSize : kClassicUdpSize;
  if (edns) {
    // RFC 6891 §6.1.2: root owner, TYPE 41, CLASS the payload size, TTL the extended
    // RCODE, version and flags, then RDLENGTH and options that must fill it exactly.
    size_t at = question_end;
    if (query.size() < at + 11 || query[at] != 0 ||
        be16(query, at + 1) != static_cast<uint16_t>(Type::kOpt))
      return 0;
    size_t payload = be16(query, at + 3);
    version = query[at + 6];
    dnssec_ok = (query[at + 7] & 0x80) != 0;
    size_t rdlength = be16(query, at + 9);
    at += 11;
    if (query.size() - at != rdlength) return 0;
    while (at < query.size()) {
      if (query.size() - at < 4) return 0;
      size_t length = be16(query, at + 2);
      at += 4;
      if (query.size() - at < length) return 0;
      at += length;
    }
    if (transport == Transport::kUdp)
      limit = std::min(std::max(payload, kClassicUdpSize),
                       std::clamp(udp_limit, kClassicUdpSize, kMaxMessageSize));
  } else if (query.size() != question_end) {
    return 0;
  }
  key[0] = static_cast<uint8_t>((flags & 0x01) | (query[3] & 0x10) >> 3 | edns << 2 |
                                dnssec_ok << 3 | (transport == Transport::kTcp) << 4);
  key[1] = version;
  key[2] = static_cast<uint8_t>(limit >> 8);
  key[3] = static_cast<uint8_t>(limit);
  size_t question_size = question_end - kHeaderSize;
  std::memcpy(key.data() + 4, query.data() + kHeaderSize, question_size);
  return 4 + question_size;
}

Server::Server(Zones zones, ServerOptions options)
    : zones_(std::move(zones)), options_(std::move(options)) {
  // Two slots per set: at least one set when the memo is on.
  if (options_.memo_entries > 0)
    memo_.resize(round_up_pow2(std::max<size_t>(options_.memo_entries, 2)));
  if (options_.rrl_per_second > 0)
    rrl_.resize(round_up_pow2(std::max<size_t>(options_.rrl_buckets, 1)));
}

// GCRA (the "virtual scheduling" form of a token bucket): each response moves the
// bucket's theoretical arrival time one interval on; a response is allowed while that
// time is at most one second ahead of now, which allows a burst of one second's worth.
// Returns the source's bucket when the response must not be sent, else nullptr.
Server::RrlBucket* Server::rate_limited(net::Ipv4Address source, uint64_t now_ns) {
  uint32_t network = source.to_u32() & 0xFFFFFF00;  // per /24, as BIND's and NSD's RRL
  uint32_t key = network | 1;
  RrlBucket& bucket = rrl_[((network >> 8) * 0x9E3779B1u) & (rrl_.size() - 1)];
  if (bucket.key != key) {
    if (bucket.key != 0) ++stats_.rrl_evictions;
    bucket = RrlBucket{key, 0, now_ns};
  }
  uint64_t interval = kNsPerSecond / options_.rrl_per_second;
  uint64_t tat = std::max(bucket.tat_ns, now_ns);
  if (tat + interval > now_ns + kNsPerSecond) return &bucket;
  bucket.tat_ns = tat + interval;
  return nullptr;
}

Disposition Server::handle(const Query& query, Responses& out) {
  out.clear();
  ++stats_.queries;
  std::array<uint8_t, kMaxMemoKeySize> key_buffer;
  size_t key_size = memo_key(query.bytes, query.transport, options_.udp_limit, key_buffer);
  std::span<const uint8_t> key(key_buffer.data(), key_size);

  RrlBucket* limited = nullptr;
  if (query.transport == Transport::kUdp && !rrl_.empty())
    limited = rate_limited(query.source, query.now_ns);
  if (limited) {
    ++limited->limited;
    if (key_size > 0 && options_.rrl_slip > 0 && limited->limited % options_.rrl_slip == 0) {
      slip_response(query.bytes, simple_question_end(query.bytes), out.add());
      ++stats_.rrl_slipped;
      return Disposition::kSlipped;
    }
    ++stats_.rrl_dropped;
    return Disposition::kRateLimited;
  }

  // The memo is 2-way set associative: a key may sit in either slot of its set, and a new
  // entry replaces the one used less recently (a direct-mapped table let two hot keys
  // that collide evict each other on every query).
  MemoSlot* slot = nullptr;
  uint64_t hash = 0;
  if (key_size > 0 && !memo_.empty()) {
    hash = memo_hash(key);
    MemoSlot* set = &memo_[(hash << 1) & (memo_.size() - 1)];
    for (MemoSlot* candidate : {set, set + 1}) {
      if (candidate->key_size == key_size && candidate->hash == hash &&
          std::equal(key.begin(), key.end(), candidate->bytes.begin())) {
        candidate->used = stats_.queries;
        auto& response = out.add();
        response.assign(candidate->bytes.begin() + key_size, candidate->bytes.end());
        response[0] = query.bytes[0];  // the query's ID (RFC 1035 §4.1.1)
        response[1] = query.bytes[1];
        ++stats_.memo_hits;
        ++stats_.answered;
        return Disposition::kMemoHit;
      }
    }
    slot = set[0].used <= set[1].used ? &set[0] : &set[1];
  }

  auto message = decode(query.bytes);
  if (!message.ok()) {
    auto formerr = answer(zones_, query.bytes, query.transport, options_.udp_limit);
    if (formerr.empty()) {
      ++stats_.dropped;
      return Disposition::kDropped;
    }
    out.add() = std::move(formerr);
    ++stats_.formerr;
    return Disposition::kFormErr;
  }

  // RFC 5936 §2.2: AXFR is a TCP exchange for a zone's apex, by those allowed (§6).
  if (!message->header.qr && message->questions.size() == 1 &&
      message->questions.front().type == Type::kAxfr) {
    const Question& question = message->questions.front();
    const Zone* zone = zones_.find(question.name);
    bool allowed = std::any_of(options_.axfr_allow.begin(), options_.axfr_allow.end(),
                               [&](const net::Ipv4Prefix& p) { return p.contains(query.source); });
    if (zone && question.name == zone->origin() && query.transport == Transport::kTcp && allowed &&
        message->header.opcode == Opcode::kQuery)
      return transfer(*message, *zone, out);
    auto refused = answer(zones_, *message, query.transport, options_.udp_limit);  // REFUSED
    if (zone) {
      ++stats_.transfers_refused;
      // RFC 8914 §4.19: Extended DNS Error 18, "Prohibited", tells why (as NSD does).
      auto decoded = decode(refused);
      if (decoded.ok() && decoded->edns && decoded->rcode == Rcode::kRefused) {
        decoded->edns->options.push_back(extended_error(ExtendedError::kProhibited));
        if (auto encoded = encode(*decoded, {}); encoded.ok()) refused = std::move(encoded->bytes);
      }
    }
    out.add() = std::move(refused);
    ++stats_.answered;
    return zone ? Disposition::kTransferRefused : Disposition::kAnswered;
  }

  auto response = answer(zones_, *message, query.transport, options_.udp_limit);
  if (response.empty()) {
    ++stats_.dropped;
    return Disposition::kDropped;
  }
  if (slot && response.size() <= options_.memo_max_response) {
    if (slot->key_size != 0) ++stats_.memo_evictions;
    ++stats_.memo_misses;
    slot->hash = hash;
    slot->used = stats_.queries;
    slot->key_size = static_cast<uint16_t>(key_size);
    slot->bytes.assign(key.begin(), key.end());
    slot->bytes.insert(slot->bytes.end(), response.begin(), response.end());
  }
  out.add() = std::move(response);
  ++stats_.answered;
  return Disposition::kAnswered;
}

Disposition Server::transfer(const Message& query, const Zone& zone, Responses& out) {
  for (auto& message : zone_transfer(zone, query)) out.add() = std::move(message);
  ++stats_.transfers;
  return Disposition::kTransfer;
}

std::vector<std::vector<uint8_t>> zone_transfer(const Zone& zone, const Message& query,
                                                size_t message_limit) {
  // RFC 5936 §2.2.1: the header as for a query response, AA set; the question in the
  // first message only (§2.2.1 allows it to be left out of the others).
  Message base;
  base.header.id = query.header.id;
  base.header.qr = true;
  base.header.aa = true;
  base.header.rd = query.header.rd;
  base.header.cd = query.header.cd;
  base.questions = query.questions;
  if (query.edns) {
    Edns edns;
    edns.udp_payload_size = kDefaultUdpLimit;
    base.edns = edns;
  }

  // §2.2: the SOA first and last; every other record once in between.
  std::vector<const Record*> records;
  records.push_back(&zone.soa());
  for (const auto& [name, node] : zone.nodes())
    for (const auto& rrset : node.rrsets)
      if (rrset.type != Type::kSoa || !(name == zone.origin()))
        for (const auto& record : rrset.records) records.push_back(&record);
  records.push_back(&zone.soa());

  // Each record's size on its own bounds what it adds to a message (compression only
  // shrinks it), so messages are packed without re-encoding them record by record.
  auto base_size = encode(base, {});
  if (!base_size.ok()) return {};
  std::vector<std::vector<uint8_t>> messages;
  Message current = base;
  size_t size = base_size->bytes.size();
  auto flush = [&]() -> bool {
    auto encoded = encode(current, {kMaxMessageSize, 0});
    if (!encoded.ok() || encoded->truncated) return false;
    messages.push_back(std::move(encoded->bytes));
    current = base;
    current.questions.clear();
    size = base_size->bytes.size();  // an upper bound: no question after the first
    return true;
  };
  Message single = base;
  for (const Record* record : records) {
    single.answers.assign(1, *record);
    auto alone = encode(single, {});
    if (!alone.ok()) return {};
    size_t added = alone->bytes.size() - base_size->bytes.size();
    if (size + added > message_limit && !current.answers.empty() && !flush()) return {};
    current.answers.push_back(*record);
    size += added;
  }
  if (!flush()) return {};
  return messages;
}

size_t TcpFramer::feed(std::span<const uint8_t> bytes) {
  size_t taken = 0;
  while (taken < bytes.size() && !has_message() && !oversized_) {
    // The two-byte length first, then the message it announces (RFC 1035 §4.2.2).
    size_t total = size_ < 2 ? 2 : 2 + size_t{be16(buffer_, 0)};
    if (total - 2 > max_message_) {
      oversized_ = true;
      break;
    }
    if (buffer_.size() < total) buffer_.resize(total);
    size_t n = std::min(bytes.size() - taken, total - size_);
    std::memcpy(buffer_.data() + size_, bytes.data() + taken, n);
    size_ += n;
    taken += n;
  }
  return taken;
}

bool TcpFramer::has_message() const {
  return size_ >= 2 && size_ == 2 + size_t{be16(buffer_, 0)};
}

std::span<const uint8_t> TcpFramer::message() const {
  return has_message() ? std::span<const uint8_t>(buffer_).subspan(2, size_ - 2)
                       : std::span<const uint8_t>();
}

void TcpFramer::consume() {
  if (has_message()) size_ = 0;
}

void append_tcp_frame(std::span<const uint8_t> message, std::vector<uint8_t>& out) {
  out.push_back(static_cast<uint8_t>(message.size() >> 8));
  out.push_back(static_cast<uint8_t>(message.size()));
  out.insert(out.end(), message.begin(), message.end());
}

}  // namespace morgana::dns
