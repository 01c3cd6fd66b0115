// Resource-record data (RFC 1035 §3.3, RFC 3596, RFC 2782, RFC 8659): typed forms for the
// common types, and opaque bytes (RFC 3597 §2) for DNSSEC types and any type not known.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "morgana/proto/dns/name.h"
#include "morgana/proto/dns/types.h"

namespace morgana::dns {

struct A {
  std::array<uint8_t, 4> address{};
  friend bool operator==(const A&, const A&) = default;
};
struct Aaaa {
  std::array<uint8_t, 16> address{};
  friend bool operator==(const Aaaa&, const Aaaa&) = default;
};
struct Ns {
  Name host;
  friend bool operator==(const Ns&, const Ns&) = default;
};
struct Cname {
  Name target;
  friend bool operator==(const Cname&, const Cname&) = default;
};
struct Ptr {
  Name target;
  friend bool operator==(const Ptr&, const Ptr&) = default;
};
struct Soa {
  Name mname;
  Name rname;
  uint32_t serial = 0;
  uint32_t refresh = 0;
  uint32_t retry = 0;
  uint32_t expire = 0;
  uint32_t minimum = 0;  // RFC 2308 §4: the negative-caching TTL
  friend bool operator==(const Soa&, const Soa&) = default;
};
struct Mx {
  uint16_t preference = 0;
  Name exchange;
  friend bool operator==(const Mx&, const Mx&) = default;
};
struct Txt {
  std::vector<std::string> strings;  // each at most 255 bytes (a <character-string>)
  friend bool operator==(const Txt&, const Txt&) = default;
};
struct Srv {
  uint16_t priority = 0;
  uint16_t weight = 0;
  uint16_t port = 0;
  Name target;
  friend bool operator==(const Srv&, const Srv&) = default;
};
struct Caa {  // RFC 8659 §4.1
  uint8_t flags = 0;
  std::string tag;
  std::string value;
  friend bool operator==(const Caa&, const Caa&) = default;
};
// DS, DNSKEY, RRSIG and every type Morgana has no typed form for (RFC 3597 §2).
struct Opaque {
  std::vector<uint8_t> data;
  friend bool operator==(const Opaque&, const Opaque&) = default;
};

using Rdata = std::variant<Opaque, A, Aaaa, Ns, Cname, Ptr, Soa, Mx, Txt, Srv, Caa>;

// Whether `type` has a typed form, and whether `rdata` holds the form `type` uses.
bool is_typed(Type type);
bool rdata_matches(Type type, const Rdata& rdata);

// The one domain name inside rdata that additional-section processing follows (NS host,
// MX exchange, SRV target), or nullptr. RFC 1035 §3.3.9, §3.3.11; RFC 2782.
const Name* additional_name(const Rdata& rdata);

}  // namespace morgana::dns
