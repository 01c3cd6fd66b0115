// The authoritative answering algorithm (RFC 1034 §4.3.2 step 3): referrals at zone cuts,
// exact matches, CNAME chains within the zone, wildcard synthesis (RFC 4592 §3.3), and
// NXDOMAIN or NODATA with the SOA for negative caching (RFC 2308 §3).
#include "morgana/proto/dns/answer.h"

#include <algorithm>

namespace morgana::dns {
namespace {

// A CNAME chain longer than this is cut short (NSD and BIND use similar bounds).
constexpr size_t kMaxCnameChain = 8;

class Responder {
 public:
  Responder(const Zone& zone, const Question& question, Message& response)
      : zone_(zone), question_(question), r_(response) {}

  // Fills the response's sections and RCODE; returns how many additional records are
  // glue that must not be dropped silently (RFC 9471).
  size_t run() {
    Name name = question_.name;
    Type qtype = question_.type;
    std::vector<Name> visited;
    for (size_t hop = 0;; ++hop) {
      const Node* cut = zone_.delegation(name);
      // RFC 4035 §3.1.4.1: DS lives on the parent side of the cut, so it is answered here.
      if (cut && !(qtype == Type::kDs && cut->name == name)) return referral(*cut, hop == 0);
      const Node* node = zone_.find(name);
      if (!node) {
        // RFC 4592 §3.3.1: a "*" child of the closest encloser stands in for the name.
        node = zone_.wildcard(zone_.closest_encloser(name).name);
        if (!node) {
          r_.rcode = Rcode::kNxDomain;
          negative();
          return 0;
        }
      }
      if (qtype == Type::kAny) {
        // RFC 8482 §4.1: one RRset stands for all of them (NSD's refuse-any does the same).
        if (node->rrsets.empty()) return negative(), 0;
        add(Section::kAnswer, node->rrsets.front(), name);
        return 0;
      }
      if (const RRset* rrset = node->find(qtype)) {
        add(Section::kAnswer, *rrset, name);
        if (qtype == Type::kDs && cut) return 0;  // parent-side data: no apex NS follows
        return positive();
      }
      const RRset* cname = node->find(Type::kCname);
      if (!cname) return negative(), 0;
      add(Section::kAnswer, *cname, name);
      const Name& target = std::get<Cname>(cname->records.front().rdata).target;
      visited.push_back(name);
      bool loop = std::find(visited.begin(), visited.end(), target) != visited.end();
      // RFC 1034 §4.3.2: follow the chain while it stays in this zone.
      if (!target.is_subdomain_of(zone_.origin()) || loop || hop + 1 >= kMaxCnameChain) return 0;
      name = target;
    }
  }

 private:
  // `owner` replaces the stored owner, so answers keep the case the query used (RFC 4343
  // §4.1) and wildcard answers carry the name asked for (RFC 4592 §3.3.1).
  void add(Section section, const RRset& rrset, const Name& owner) {
    for (const auto& record : rrset.records) {
      r_.section(section).push_back(record);
      r_.section(section).back().name = owner;
    }
  }

  // NODATA or NXDOMAIN: the SOA, with RFC 2308 §3's TTL min(SOA TTL, SOA MINIMUM).
  void negative() {
    Record soa = zone_.soa();
    soa.ttl = std::min(soa.ttl, std::get<Soa>(soa.rdata).minimum);
    r_.authority.push_back(std::move(soa));
  }

  // As NSD without minimal-responses: the apex NS in authority (unless it is the answer),
  // and addresses for the names the answer and authority records point at.
  size_t positive() {
    bool ns_answered = !r_.answers.empty() && r_.answers.front().type == Type::kNs &&
                       r_.answers.front().name == zone_.origin();
    if (!ns_answered) {
      if (const RRset* ns = zone_.find(zone_.origin(), Type::kNs))
        add(Section::kAuthority, *ns, zone_.origin());
    }
    add_addresses();
    return 0;
  }

  // RFC 1034 §4.3.2 step 3b: the NS RRset of the cut, with glue. Not authoritative.
  size_t referral(const Node& cut, bool first) {
    if (first) r_.header.aa = false;
    add(Section::kAuthority, *cut.find(Type::kNs), cut.name);
    add_addresses();
    return r_.additional.size();  // all of it is glue (RFC 9471 §3)
  }

  // A records for every target first, then AAAA records, the order NSD uses; an RRset
  // already in the answer is not repeated (RFC 2181 §5.5 asks for no duplicates, and NSD
  // leaves them out).
  void add_addresses() {
    auto answered = [&](const Name& host, Type type) {
      return std::any_of(r_.answers.begin(), r_.answers.end(), [&](const Record& record) {
        return record.type == type && record.name == host;
      });
    };
    std::vector<const Name*> hosts;
    for (const auto* section : {&r_.answers, &r_.authority})
      for (const auto& record : *section)
        if (const Name* host = additional_name(record.rdata))
          if (std::none_of(hosts.begin(), hosts.end(), [&](const Name* h) { return *h == *host; }))
            hosts.push_back(host);
    for (Type type : {Type::kA, Type::kAaaa})
      for (const Name* host : hosts)
        if (host->is_subdomain_of(zone_.origin()))
          if (const RRset* rrset = zone_.find(*host, type); rrset && !answered(*host, type))
            add(Section::kAdditional, *rrset, *host);
  }

  const Zone& zone_;
  const Question& question_;
  Message& r_;
};

std::vector<uint8_t> encode_or_servfail(Message& response, const EncodeOptions& options) {
  auto encoded = encode(response, options);
  if (encoded.ok()) return std::move(encoded->bytes);
  response.answers.clear();
  response.authority.clear();
  response.additional.clear();
  response.rcode = Rcode::kServFail;
  auto fallback = encode(response, options);
  return fallback.ok() ? std::move(fallback->bytes) : std::vector<uint8_t>();
}

}  // namespace

std::vector<uint8_t> answer(const Zones& zones, const Message& query, Transport transport,
                            size_t udp_limit) {
  if (query.header.qr) return {};  // never answer a response: that is how loops start
  udp_limit = std::clamp(udp_limit, kClassicUdpSize, kMaxMessageSize);
  Message r;
  r.header.id = query.header.id;
  r.header.qr = true;
  r.header.opcode = query.header.opcode;
  r.header.rd = query.header.rd;
  r.header.cd = query.header.cd;
  EncodeOptions options;
  options.limit = transport == Transport::kTcp ? kMaxMessageSize : kClassicUdpSize;
  if (query.edns) {
    // RFC 6891 §6.2.5: sizes below 512 mean 512; we never exceed our own limit.
    size_t asked = std::max<size_t>(query.edns->udp_payload_size, kClassicUdpSize);
    if (transport == Transport::kUdp) options.limit = std::min(asked, udp_limit);
    Edns edns;
    edns.udp_payload_size = static_cast<uint16_t>(udp_limit);
    edns.dnssec_ok = query.edns->dnssec_ok;  // RFC 3225 §3: DO is copied into the response
    r.edns = edns;
  }
  if (query.questions.size() != 1) {
    r.rcode = Rcode::kFormErr;  // RFC 9619: exactly one question
    return encode_or_servfail(r, options);
  }
  r.questions = query.questions;
  const Question& question = query.questions.front();
  if (query.edns && query.edns->version != 0) {
    r.rcode = Rcode::kBadVers;  // RFC 6891 §6.1.3
    return encode_or_servfail(r, options);
  }
  if (query.header.opcode != Opcode::kQuery) {
    r.rcode = Rcode::kNotImp;
    return encode_or_servfail(r, options);
  }
  if (question.type == Type::kOpt) {
    r.rcode = Rcode::kFormErr;  // RFC 6891 §6.1.1: OPT is not a question
    return encode_or_servfail(r, options);
  }

  const Zone* zone = zones.find(question.name);
  // RFC 4035 §3.1.4.1: DS at a zone's apex is the parent zone's to answer, if we have it.
  if (zone && question.type == Type::kDs && question.name == zone->origin() &&
      !question.name.is_root())
    if (const Zone* parent = zones.find(question.name.parent())) zone = parent;
  bool class_ok = zone && (question.qclass == zone->zone_class() || question.qclass == Class::kAny);
  if (!class_ok || question.type == Type::kAxfr || question.type == Type::kIxfr) {
    // Not our zone, or a transfer (Server offers AXFR to the addresses it allows).
    r.rcode = Rcode::kRefused;
    // RFC 8914 §4.21: Extended DNS Error 20, "Not Authoritative", as NSD sends it.
    if (!class_ok && r.edns)
      r.edns->options.push_back(extended_error(ExtendedError::kNotAuthoritative));
    return encode_or_servfail(r, options);
  }
  if (is_meta_type(question.type) && question.type != Type::kAny) {
    r.rcode = Rcode::kNotImp;
    return encode_or_servfail(r, options);
  }
  r.header.aa = true;
  options.required_additional = Responder(*zone, question, r).run();
  return encode_or_servfail(r, options);
}

std::vector<uint8_t> answer(const Zones& zones, std::span<const uint8_t> query, Transport transport,
                            size_t udp_limit) {
  auto message = decode(query);
  if (message.ok()) return answer(zones, *message, transport, udp_limit);
  auto header = decode_header(query);
  if (!header.ok() || header->qr || query.size() < kHeaderSize) return {};
  Message r;
  r.header.id = header->id;
  r.header.qr = true;
  r.header.opcode = header->opcode;
  r.header.rd = header->rd;
  r.rcode = Rcode::kFormErr;
  return encode_or_servfail(r, {});
}

}  // namespace morgana::dns
