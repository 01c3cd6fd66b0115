// Zone: validation of a zone's records and the lookups the answering logic needs.
#include "morgana/proto/dns/zone.h"

#include <algorithm>

namespace morgana::dns {
namespace {

bool dnssec_type(Type type) {
  return type == Type::kRrsig || type == Type::kNsec || type == Type::kDnskey;
}

Error fail(Diagnostic& error, const Name& where, const char* reason) {
  error = {where.to_string(), 0, reason};
  return Error{Errc::kInvalidArgument, reason};
}

}  // namespace

const RRset* Node::find(Type type) const {
  for (const auto& rrset : rrsets)
    if (rrset.type == type) return &rrset;
  return nullptr;
}

Result<Zone> Zone::create(const Name& origin, std::vector<Record> records, Diagnostic& error) {
  Zone zone;
  zone.origin_ = origin;
  const Record* soa = nullptr;
  for (const auto& record : records) {
    if (record.type == Type::kSoa) {
      if (!(record.name == origin))
        return fail(error, record.name, "SOA record below the zone apex");
      if (soa) return fail(error, record.name, "more than one SOA record");
      soa = &record;
    }
  }
  if (!soa) return fail(error, origin, "no SOA record at the zone apex");
  Class rclass = soa->rclass;

  zone.nodes_.emplace(origin, Node{origin, {}});
  for (auto& record : records) {
    if (!record.name.is_subdomain_of(origin))
      return fail(error, record.name, "record outside the zone");
    if (record.rclass != rclass)
      return fail(error, record.name, "record class differs from the SOA's");
    if (is_meta_type(record.type)) return fail(error, record.name, "meta-type in a zone");
    if (!rdata_matches(record.type, record.rdata))
      return fail(error, record.name, "RDATA form does not match the record type");
    // The node, and every empty non-terminal between it and the apex.
    for (Name name = record.name; !(name == origin); name = name.parent())
      if (!zone.nodes_.emplace(name, Node{name, {}}).second) break;
    Node& node = zone.nodes_.find(record.name)->second;
    auto rrset = std::find_if(node.rrsets.begin(), node.rrsets.end(),
                              [&](const RRset& r) { return r.type == record.type; });
    if (rrset == node.rrsets.end()) {
      node.rrsets.push_back({record.type, {std::move(record)}});
      continue;
    }
    // RFC 2181 §5.2: one TTL per RRset, the lowest given.
    uint32_t ttl = std::min(rrset->ttl(), record.ttl);
    bool duplicate = false;
    for (auto& existing : rrset->records) {
      existing.ttl = ttl;
      duplicate = duplicate || existing.rdata == record.rdata;
    }
    record.ttl = ttl;
    if (!duplicate) rrset->records.push_back(std::move(record));
  }

  for (const auto& [name, node] : zone.nodes_) {
    const RRset* cname = node.find(Type::kCname);
    if (!cname) continue;
    if (cname->records.size() > 1) return fail(error, name, "more than one CNAME record");
    for (const auto& rrset : node.rrsets)
      if (rrset.type != Type::kCname && !dnssec_type(rrset.type))
        return fail(error, name, "CNAME and other data at the same name");
  }
  return zone;
}

Result<Zone> Zone::load(std::string_view text, const Name& origin, std::string_view file_name,
                        Diagnostic& error) {
  auto records = TRY(parse_zone_file(text, origin, file_name, error));
  auto zone = create(origin, std::move(records), error);
  if (!zone.ok()) error.where = std::string(file_name) + ": " + error.where;
  return zone;
}

const Record& Zone::soa() const {
  const RRset* soa = find(origin_, Type::kSoa);
  MORGANA_ASSERT(soa != nullptr);
  return soa->records.front();
}

const Node* Zone::find(const Name& name) const {
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : &it->second;
}

const RRset* Zone::find(const Name& name, Type type) const {
  const Node* node = find(name);
  return node ? node->find(type) : nullptr;
}

const Node& Zone::closest_encloser(const Name& name) const {
  MORGANA_ASSERT(name.is_subdomain_of(origin_));
  for (Name at = name;; at = at.parent()) {
    if (const Node* node = find(at)) return *node;
    MORGANA_ASSERT(!(at == origin_));
  }
}

const Node* Zone::wildcard(const Name& encloser) const {
  auto star = encloser.wildcard_child();
  return star.ok() ? find(*star) : nullptr;
}

const Node* Zone::delegation(const Name& name) const {
  size_t apex_labels = origin_.label_count();
  size_t labels = name.label_count();
  for (size_t k = apex_labels + 1; k <= labels; ++k) {
    const Node* node = find(name.suffix(k));
    if (!node) return nullptr;  // nothing exists below a missing name
    if (node->find(Type::kNs)) return node;
  }
  return nullptr;
}

std::vector<const RRset*> Zone::addresses(const Name& host) const {
  std::vector<const RRset*> out;
  if (const Node* node = find(host)) {
    if (const RRset* a = node->find(Type::kA)) out.push_back(a);
    if (const RRset* aaaa = node->find(Type::kAaaa)) out.push_back(aaaa);
  }
  return out;
}

Result<void> Zones::add(Zone zone) {
  for (const auto& existing : zones_)
    if (existing.origin() == zone.origin()) return Error{Errc::kExists, "zone already loaded"};
  zones_.push_back(std::move(zone));
  return ok();
}

const Zone* Zones::find(const Name& name) const {
  const Zone* best = nullptr;
  for (const auto& zone : zones_) {
    if (!name.is_subdomain_of(zone.origin())) continue;
    if (!best || zone.origin().wire_size() > best->origin().wire_size()) best = &zone;
  }
  return best;
}

}  // namespace morgana::dns
