// An authoritative zone held in memory: records grouped by owner name and type, with the
// lookups answering needs (RFC 1034 §4.3.2, RFC 4592): exact names, closest enclosers,
// wildcards, delegation points and glue. Zones holds several and picks the best match.
#pragma once

#include <map>
#include <string_view>
#include <vector>

#include "morgana/proto/dns/message.h"
#include "morgana/proto/dns/name.h"
#include "morgana/proto/dns/zone_file.h"
#include "morgana/rt/result.h"

namespace morgana::dns {

// Records with one owner, type and class. RFC 2181 §5: no duplicates, and one TTL (the
// lowest given, §5.2).
struct RRset {
  Type type = Type::kA;
  std::vector<Record> records;  // never empty
  uint32_t ttl() const { return records.front().ttl; }
};

// A name in the zone: an owner of records, or an empty non-terminal (RFC 4592 §2.2.2)
// that exists only because names below it do.
struct Node {
  Name name;
  std::vector<RRset> rrsets;  // in the order types first appear in the zone
  const RRset* find(Type type) const;
};

class Zone {
 public:
  // Checks and indexes one zone's records. Fails (filling `error`, whose `where` is the
  // offending owner) unless there is exactly one SOA and it is at the apex, every record
  // is at or below `origin` and in the SOA's class, no meta-type is present, and a name
  // with a CNAME has nothing else but DNSSEC data (RFC 1034 §3.6.2, RFC 2181 §10.1).
  static Result<Zone> create(const Name& origin, std::vector<Record> records, Diagnostic& error);
  // parse_zone_file() and create() in one.
  static Result<Zone> load(std::string_view text, const Name& origin, std::string_view file_name,
                           Diagnostic& error);

  const Name& origin() const { return origin_; }
  Class zone_class() const { return soa().rclass; }
  const Record& soa() const;

  // The node for exactly `name`, empty non-terminals included; nullptr if none.
  const Node* find(const Name& name) const;
  const RRset* find(const Name& name, Type type) const;
  // RFC 4592 §3.3.1: the deepest existing node that is `name` or one of its ancestors.
  // Precondition: `name` is at or below the origin.
  const Node& closest_encloser(const Name& name) const;
  // RFC 4592 §3.3.1: the source of synthesis "*.<encloser>", or nullptr.
  const Node* wildcard(const Name& encloser) const;
  // The delegation point nearest the apex on the way down to `name`: `name` or an ancestor,
  // strictly below the apex, that owns NS records (RFC 1034 §4.2.1). nullptr if none.
  const Node* delegation(const Name& name) const;
  // The A and AAAA RRsets this zone holds for `host` (glue included), in that order.
  std::vector<const RRset*> addresses(const Name& host) const;

  // Every node in RFC 4034 §6.1 canonical order (for transfers and tests).
  const std::map<Name, Node, CanonicalLess>& nodes() const { return nodes_; }

 private:
  Zone() = default;
  Name origin_;
  std::map<Name, Node, CanonicalLess> nodes_;
};

class Zones {
 public:
  // Fails with kExists if a zone with the same origin is already there.
  Result<void> add(Zone zone);
  // The zone with the longest origin that `name` is at or below; nullptr if none.
  const Zone* find(const Name& name) const;
  size_t size() const { return zones_.size(); }

 private:
  std::vector<Zone> zones_;
};

}  // namespace morgana::dns
