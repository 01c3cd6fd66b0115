// Reading RDATA from zone-file fields (RFC 1035 §5.1 and §3.3, RFC 3596 §2.4, RFC 2782,
// RFC 8659 §4.1.1, RFC 4034 §2.2/§3.2/§5.3, and RFC 3597 §5's generic "\#" form).
#include <optional>

#include "morgana/proto/dns/presentation.h"
#include "proto/dns/text.h"
#include "proto/dns/wire.h"

namespace morgana::dns {
namespace {

constexpr Error bad(const char* what) {
  return Error{Errc::kMalformed, what};
}

std::optional<std::array<uint8_t, 4>> parse_ipv4(std::string_view text) {
  std::array<uint8_t, 4> out{};
  for (size_t i = 0; i < 4; ++i) {
    size_t dot = i < 3 ? text.find('.') : text.size();
    if (dot == std::string_view::npos || dot == 0 || dot > 3) return std::nullopt;
    auto value = parse_decimal(text.substr(0, dot), 255);
    if (!value) return std::nullopt;
    out[i] = static_cast<uint8_t>(*value);
    text.remove_prefix(i < 3 ? dot + 1 : dot);
  }
  return out;
}

// RFC 4291 §2.2: eight hex groups, one "::" for a run of zeros, an IPv4 tail allowed.
std::optional<std::array<uint8_t, 16>> parse_ipv6(std::string_view text) {
  uint16_t head[8], tail[8];
  size_t heads = 0, tails = 0;
  bool gap = false;
  if (text.size() >= 2 && text.substr(0, 2) == "::") {
    gap = true;
    text.remove_prefix(2);
  }
  while (!text.empty()) {
    size_t end = text.find(':');
    std::string_view group = text.substr(0, end);
    uint16_t* groups = gap ? tail : head;
    size_t& count = gap ? tails : heads;
    if (group.find('.') != std::string_view::npos && end == std::string_view::npos) {
      auto v4 = parse_ipv4(group);
      if (!v4 || heads + tails + 2 > 8) return std::nullopt;
      groups[count++] = static_cast<uint16_t>((*v4)[0] << 8 | (*v4)[1]);
      groups[count++] = static_cast<uint16_t>((*v4)[2] << 8 | (*v4)[3]);
      break;
    }
    if (group.empty() || group.size() > 4 || heads + tails == 8) return std::nullopt;
    auto bytes = parse_hex(std::string(4 - group.size(), '0') + std::string(group));
    if (!bytes) return std::nullopt;
    groups[count++] = static_cast<uint16_t>((*bytes)[0] << 8 | (*bytes)[1]);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
    if (!text.empty() && text[0] == ':') {
      if (gap) return std::nullopt;
      gap = true;
      text.remove_prefix(1);
    } else if (text.empty()) {
      return std::nullopt;  // a trailing single colon
    }
  }
  if (gap ? heads + tails > 7 : heads != 8) return std::nullopt;
  std::array<uint8_t, 16> out{};
  for (size_t i = 0; i < heads; ++i) {
    out[2 * i] = static_cast<uint8_t>(head[i] >> 8);
    out[2 * i + 1] = static_cast<uint8_t>(head[i]);
  }
  for (size_t i = 0; i < tails; ++i) {
    size_t at = 16 - 2 * (tails - i);
    out[at] = static_cast<uint8_t>(tail[i] >> 8);
    out[at + 1] = static_cast<uint8_t>(tail[i]);
  }
  return out;
}

// Fields are unquoted except where a <character-string> may be quoted.
bool plain(std::span<const Token> fields) {
  for (const auto& field : fields)
    if (field.quoted) return false;
  return true;
}

std::string joined(std::span<const Token> fields) {
  std::string out;
  for (const auto& field : fields) out += field.text;
  return out;
}

Result<Name> name_field(const Token& field, const Name& origin, const char* what) {
  if (field.quoted) return bad(what);
  auto name = field.text == "@" ? Result<Name>(origin) : Name::parse(field.text, origin);
  if (!name.ok()) return bad(what);
  return name;
}

template <typename T>
Result<T> number(const Token& field, const char* what) {
  auto value = parse_decimal(field.text, static_cast<T>(-1));
  if (field.quoted || !value) return bad(what);
  return static_cast<T>(*value);
}

// A TTL, or (for SOA timers, which are 32-bit) any plain 32-bit number.
Result<uint32_t> ttl_field(const Token& field, const char* what) {
  auto plain = parse_decimal(field.text, UINT32_MAX);
  auto value =
      plain ? std::optional<uint32_t>(static_cast<uint32_t>(*plain)) : parse_ttl(field.text);
  if (field.quoted || !value) return bad(what);
  return *value;
}

// RFC 3597 §5: "\# <length> <hex>...", the hex possibly split over several fields.
Result<Rdata> parse_generic(Type type, std::span<const Token> fields) {
  if (fields.size() < 2 || !plain(fields)) return bad("generic RDATA needs \\# and a length");
  auto length = parse_decimal(fields[1].text, kMaxRdataSize);
  if (!length) return bad("generic RDATA length is not a number");
  auto data = parse_hex(joined(fields.subspan(2)));
  if (!data) return bad("generic RDATA is not hex");
  if (data->size() != *length) return bad("generic RDATA length does not match its data");
  if (!is_typed(type)) return Rdata(Opaque{std::move(*data)});
  // A known type given generically: read it as if it came off the wire (uncompressed).
  WireReader reader(*data);
  auto rdata = decode_rdata(type, reader);
  if (!rdata.ok()) return bad("generic RDATA is not valid for its type");
  return rdata;
}

Result<Rdata> parse_rrsig(std::span<const Token> fields, const Name& origin) {
  if (fields.size() < 9 || !plain(fields)) return bad("RRSIG needs 9 fields");
  auto covered = parse_type(fields[0].text);
  if (!covered) return bad("RRSIG type covered is not a type");
  WireWriter out(kMaxRdataSize);
  out.u16(static_cast<uint16_t>(*covered));
  out.u8(TRY(number<uint8_t>(fields[1], "RRSIG algorithm is not a number")));
  out.u8(TRY(number<uint8_t>(fields[2], "RRSIG labels is not a number")));
  out.u32(TRY(ttl_field(fields[3], "RRSIG original TTL is not a TTL")));
  for (size_t i : {4, 5}) {
    auto time = parse_timestamp(fields[i].text);
    if (!time) return bad("RRSIG time is not YYYYMMDDHHmmSS");
    out.u32(*time);
  }
  out.u16(TRY(number<uint16_t>(fields[6], "RRSIG key tag is not a number")));
  out.name(TRY(name_field(fields[7], origin, "RRSIG signer is not a name")), Compress::kNo);
  auto signature = parse_base64(joined(fields.subspan(8)));
  if (!signature) return bad("RRSIG signature is not base64");
  out.bytes(*signature);
  if (out.overflowed()) return bad("RRSIG longer than 65535 bytes");
  return Rdata(Opaque{out.take()});
}

// DS (RFC 4034 §5.3) and DNSKEY (§2.2) share a shape: u16, u8, u8, then binary data.
Result<Rdata> parse_ds_or_dnskey(Type type, std::span<const Token> fields) {
  bool ds = type == Type::kDs;
  if (fields.size() < 4 || !plain(fields))
    return bad(ds ? "DS needs 4 fields" : "DNSKEY needs 4 fields");
  WireWriter out(kMaxRdataSize);
  out.u16(TRY(number<uint16_t>(
      fields[0], ds ? "DS key tag is not a number" : "DNSKEY flags is not a number")));
  out.u8(TRY(number<uint8_t>(
      fields[1], ds ? "DS algorithm is not a number" : "DNSKEY protocol is not a number")));
  out.u8(TRY(number<uint8_t>(
      fields[2], ds ? "DS digest type is not a number" : "DNSKEY algorithm is not a number")));
  auto data = ds ? parse_hex(joined(fields.subspan(3))) : parse_base64(joined(fields.subspan(3)));
  if (!data) return bad(ds ? "DS digest is not hex" : "DNSKEY key is not base64");
  out.bytes(*data);
  if (out.overflowed()) return bad("RDATA longer than 65535 bytes");
  return Rdata(Opaque{out.take()});
}

}  // namespace

Result<std::string> unescape(std::string_view raw) {
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      out.push_back(raw[i]);
      continue;
    }
    if (i + 1 >= raw.size()) return bad("string ends in a backslash");
    if (raw[i + 1] >= '0' && raw[i + 1] <= '9') {
      auto value = i + 3 < raw.size() ? parse_decimal(raw.substr(i + 1, 3), 255) : std::nullopt;
      if (!value) return bad("bad \\DDD escape in string");
      out.push_back(static_cast<char>(*value));
      i += 3;
    } else {
      out.push_back(raw[++i]);
    }
  }
  return out;
}

Result<Rdata> parse_rdata(Type type, std::span<const Token> fields, const Name& origin) {
  if (is_meta_type(type)) return bad("a meta-type cannot be in a zone");
  if (!fields.empty() && !fields[0].quoted && fields[0].text == "\\#")
    return parse_generic(type, fields);
  auto count = [&](size_t n, const char* what) -> Result<void> {
    if (fields.size() != n) return bad(what);
    return ok();
  };
  switch (type) {
    case Type::kA: {
      TRY(count(1, "A needs one address"));
      auto address = fields[0].quoted ? std::nullopt : parse_ipv4(fields[0].text);
      if (!address) return bad("A address is not an IPv4 address");
      return Rdata(A{*address});
    }
    case Type::kAaaa: {
      TRY(count(1, "AAAA needs one address"));
      auto address = fields[0].quoted ? std::nullopt : parse_ipv6(fields[0].text);
      if (!address) return bad("AAAA address is not an IPv6 address");
      return Rdata(Aaaa{*address});
    }
    case Type::kNs:
      TRY(count(1, "NS needs one name"));
      return Rdata(Ns{TRY(name_field(fields[0], origin, "NS host is not a name"))});
    case Type::kCname:
      TRY(count(1, "CNAME needs one name"));
      return Rdata(Cname{TRY(name_field(fields[0], origin, "CNAME target is not a name"))});
    case Type::kPtr:
      TRY(count(1, "PTR needs one name"));
      return Rdata(Ptr{TRY(name_field(fields[0], origin, "PTR target is not a name"))});
    case Type::kSoa: {
      TRY(count(7, "SOA needs 7 fields"));
      Soa soa;
      soa.mname = TRY(name_field(fields[0], origin, "SOA primary server is not a name"));
      soa.rname = TRY(name_field(fields[1], origin, "SOA mailbox is not a name"));
      soa.serial = TRY(number<uint32_t>(fields[2], "SOA serial is not a number"));
      soa.refresh = TRY(ttl_field(fields[3], "SOA refresh is not a time"));
      soa.retry = TRY(ttl_field(fields[4], "SOA retry is not a time"));
      soa.expire = TRY(ttl_field(fields[5], "SOA expire is not a time"));
      soa.minimum = TRY(ttl_field(fields[6], "SOA minimum is not a time"));
      return Rdata(std::move(soa));
    }
    case Type::kMx: {
      TRY(count(2, "MX needs a preference and a name"));
      Mx mx;
      mx.preference = TRY(number<uint16_t>(fields[0], "MX preference is not a number"));
      mx.exchange = TRY(name_field(fields[1], origin, "MX exchange is not a name"));
      return Rdata(std::move(mx));
    }
    case Type::kTxt: {
      if (fields.empty()) return bad("TXT needs at least one string");
      Txt txt;
      for (const auto& field : fields) {
        txt.strings.push_back(TRY(unescape(field.text)));
        if (txt.strings.back().size() > 255) return bad("TXT string is longer than 255 bytes");
      }
      return Rdata(std::move(txt));
    }
    case Type::kSrv: {
      TRY(count(4, "SRV needs priority, weight, port and target"));
      Srv srv;
      srv.priority = TRY(number<uint16_t>(fields[0], "SRV priority is not a number"));
      srv.weight = TRY(number<uint16_t>(fields[1], "SRV weight is not a number"));
      srv.port = TRY(number<uint16_t>(fields[2], "SRV port is not a number"));
      srv.target = TRY(name_field(fields[3], origin, "SRV target is not a name"));
      return Rdata(std::move(srv));
    }
    case Type::kCaa: {
      TRY(count(3, "CAA needs flags, tag and value"));
      Caa caa;
      caa.flags = TRY(number<uint8_t>(fields[0], "CAA flags is not a number"));
      caa.tag = std::string(fields[1].text);
      bool tag_ok = !fields[1].quoted && !caa.tag.empty() && caa.tag.size() <= 15;
      for (char c : caa.tag)
        tag_ok =
            tag_ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
      if (!tag_ok) return bad("CAA tag is not 1-15 letters and digits");
      caa.value = TRY(unescape(fields[2].text));
      return Rdata(std::move(caa));
    }
    case Type::kDs:
    case Type::kDnskey:
      return parse_ds_or_dnskey(type, fields);
    case Type::kRrsig:
      return parse_rrsig(fields, origin);
    default:
      return bad("this type needs RFC 3597's \\# form");
  }
}

}  // namespace morgana::dns
