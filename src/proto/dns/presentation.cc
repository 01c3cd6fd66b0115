// Printing DNS records and messages in presentation form (RFC 1035 §5.1, RFC 3597 §5,
// RFC 4034 §2.2, §3.2 and §5.3 for DNSSEC data, RFC 5952 for IPv6 addresses).
#include "morgana/proto/dns/presentation.h"

#include "proto/dns/text.h"
#include "proto/dns/wire.h"

namespace morgana::dns {
namespace {

// A <character-string> in double quotes; `"` and `\` escaped, non-printables as \DDD.
std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char ch : text) {
    auto c = static_cast<uint8_t>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c > 0x7E) {
      out.push_back('\\');
      out.push_back(static_cast<char>('0' + c / 100));
      out.push_back(static_cast<char>('0' + c / 10 % 10));
      out.push_back(static_cast<char>('0' + c % 10));
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
  return out;
}

std::string generic(std::span<const uint8_t> data) {
  std::string out = "\\# " + decimal(data.size());
  if (!data.empty()) out += " " + hex(data);
  return out;
}

uint16_t be16(std::span<const uint8_t> d, size_t at) {
  return static_cast<uint16_t>(d[at] << 8 | d[at + 1]);
}
uint32_t be32(std::span<const uint8_t> d, size_t at) {
  return uint32_t{d[at]} << 24 | uint32_t{d[at + 1]} << 16 | uint32_t{d[at + 2]} << 8 | d[at + 3];
}

// DS (RFC 4034 §5.3): key tag, algorithm, digest type, digest in hex.
std::string ds_to_string(std::span<const uint8_t> d) {
  if (d.size() < 5) return generic(d);
  return decimal(be16(d, 0)) + " " + decimal(d[2]) + " " + decimal(d[3]) + " " + hex(d.subspan(4));
}

// DNSKEY (RFC 4034 §2.2): flags, protocol, algorithm, public key in base64.
std::string dnskey_to_string(std::span<const uint8_t> d) {
  if (d.size() < 5) return generic(d);
  return decimal(be16(d, 0)) + " " + decimal(d[2]) + " " + decimal(d[3]) + " " +
         base64(d.subspan(4));
}

// RRSIG (RFC 4034 §3.2): type covered, algorithm, labels, original TTL, expiration,
// inception, key tag, signer's name (never compressed), signature in base64.
std::string rrsig_to_string(std::span<const uint8_t> d) {
  if (d.size() < 19) return generic(d);
  // RFC 4034 §3.1.7: the signer's name is never compressed; decoding from the name's own
  // start refuses any pointer.
  size_t length = 0;
  auto signer = Name::decode(d.subspan(18), length);
  size_t offset = 18 + length;
  if (!signer.ok() || offset >= d.size()) return generic(d);
  return type_name(static_cast<Type>(be16(d, 0))) + " " + decimal(d[2]) + " " + decimal(d[3]) +
         " " + decimal(be32(d, 4)) + " " + timestamp(be32(d, 8)) + " " + timestamp(be32(d, 12)) +
         " " + decimal(be16(d, 16)) + " " + signer->to_string() + " " + base64(d.subspan(offset));
}

}  // namespace

std::string ipv4_to_string(std::span<const uint8_t, 4> a) {
  return decimal(a[0]) + "." + decimal(a[1]) + "." + decimal(a[2]) + "." + decimal(a[3]);
}

std::string ipv6_to_string(std::span<const uint8_t, 16> a) {
  uint16_t groups[8];
  for (size_t i = 0; i < 8; ++i) groups[i] = be16(a, 2 * i);
  // RFC 5952 §4.2: the longest run of two or more zero groups becomes "::", the first
  // such run on a tie.
  size_t best = 8, best_length = 1;
  for (size_t i = 0; i < 8;) {
    size_t j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_length) best = i, best_length = j - i;
    i = j == i ? i + 1 : j;
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_length - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out.push_back(':');
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {  // RFC 5952 §4.1: no leading zeros
      unsigned digit = groups[i] >> shift & 15;
      if (digit != 0 || started || shift == 0) {
        out.push_back(kDigits[digit]);
        started = true;
      }
    }
  }
  return out;
}

std::string rdata_to_string(Type type, const Rdata& rdata) {
  if (auto* a = std::get_if<A>(&rdata)) return ipv4_to_string(a->address);
  if (auto* aaaa = std::get_if<Aaaa>(&rdata)) return ipv6_to_string(aaaa->address);
  if (auto* ns = std::get_if<Ns>(&rdata)) return ns->host.to_string();
  if (auto* cname = std::get_if<Cname>(&rdata)) return cname->target.to_string();
  if (auto* ptr = std::get_if<Ptr>(&rdata)) return ptr->target.to_string();
  if (auto* soa = std::get_if<Soa>(&rdata)) {
    return soa->mname.to_string() + " " + soa->rname.to_string() + " " + decimal(soa->serial) +
           " " + decimal(soa->refresh) + " " + decimal(soa->retry) + " " + decimal(soa->expire) +
           " " + decimal(soa->minimum);
  }
  if (auto* mx = std::get_if<Mx>(&rdata))
    return decimal(mx->preference) + " " + mx->exchange.to_string();
  if (auto* txt = std::get_if<Txt>(&rdata)) {
    std::string out;
    for (const auto& s : txt->strings) out += (out.empty() ? "" : " ") + quoted(s);
    return out;
  }
  if (auto* srv = std::get_if<Srv>(&rdata)) {
    return decimal(srv->priority) + " " + decimal(srv->weight) + " " + decimal(srv->port) + " " +
           srv->target.to_string();
  }
  if (auto* caa = std::get_if<Caa>(&rdata))
    return decimal(caa->flags) + " " + caa->tag + " " + quoted(caa->value);
  const auto& data = std::get<Opaque>(rdata).data;
  switch (type) {
    case Type::kDs:
      return ds_to_string(data);
    case Type::kDnskey:
      return dnskey_to_string(data);
    case Type::kRrsig:
      return rrsig_to_string(data);
    default:
      return generic(data);
  }
}

std::string to_string(const Record& record) {
  return record.name.to_string() + " " + decimal(record.ttl) + " " + class_name(record.rclass) +
         " " + type_name(record.type) + " " + rdata_to_string(record.type, record.rdata);
}

std::string to_string(const Question& question) {
  return question.name.to_string() + " " + class_name(question.qclass) + " " +
         type_name(question.type);
}

std::string to_string(const Message& message) {
  const Header& h = message.header;
  std::string out = ";; opcode: " + opcode_name(h.opcode) +
                    ", status: " + rcode_name(message.rcode) + ", id: " + decimal(h.id) +
                    "\n;; flags:";
  const std::pair<bool, const char*> flags[] = {{h.qr, "qr"}, {h.aa, "aa"}, {h.tc, "tc"},
                                                {h.rd, "rd"}, {h.ra, "ra"}, {h.z, "z"},
                                                {h.ad, "ad"}, {h.cd, "cd"}};
  for (const auto& [set, name] : flags)
    if (set) out += std::string(" ") + name;
  out += "\n";
  if (message.edns) {
    const Edns& e = *message.edns;
    out += ";; EDNS: version " + decimal(e.version) + ", udp " + decimal(e.udp_payload_size) +
           (e.dnssec_ok ? ", do" : "");
    for (const auto& option : e.options)
      out += ", option " + decimal(option.code) + " " + hex(option.data);
    out += "\n";
  }
  for (const auto& q : message.questions) out += ";" + to_string(q) + "\n";
  const char* titles[] = {";; ANSWER\n", ";; AUTHORITY\n", ";; ADDITIONAL\n"};
  for (int s = 0; s < 3; ++s) {
    const auto& records = message.section(static_cast<Section>(s));
    if (records.empty()) continue;
    out += titles[s];
    for (const auto& record : records) out += to_string(record) + "\n";
  }
  return out;
}

}  // namespace morgana::dns
