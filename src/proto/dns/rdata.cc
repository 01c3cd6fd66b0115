// RDATA wire forms (RFC 1035 §3.3, RFC 3596 §2.2, RFC 2782, RFC 8659 §4.1, RFC 3597).
#include "morgana/proto/dns/rdata.h"

#include <algorithm>

#include "proto/dns/wire.h"

namespace morgana::dns {
namespace {

template <typename T>
Result<Rdata> finish(WireReader& reader, T value) {
  if (reader.remaining() != 0) return Error{Errc::kMalformed, "RDATA longer than its type needs"};
  return Rdata(std::move(value));
}

Result<std::string> character_string(WireReader& reader) {
  uint8_t length = TRY(reader.u8());
  auto bytes = TRY(reader.bytes(length));
  return std::string(bytes.begin(), bytes.end());
}

Result<void> put_character_string(WireWriter& writer, const std::string& text) {
  if (text.size() > 255) return Error{Errc::kInvalidArgument, "character-string over 255 bytes"};
  writer.u8(static_cast<uint8_t>(text.size()));
  writer.bytes({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  return ok();
}

// RFC 8659 §4.1: a tag is 1-15 letters and digits.
bool valid_caa_tag(const std::string& tag) {
  if (tag.empty() || tag.size() > 15) return false;
  for (char c : tag)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

}  // namespace

bool is_typed(Type type) {
  switch (type) {
    case Type::kA:
    case Type::kAaaa:
    case Type::kNs:
    case Type::kCname:
    case Type::kPtr:
    case Type::kSoa:
    case Type::kMx:
    case Type::kTxt:
    case Type::kSrv:
    case Type::kCaa:
      return true;
    default:
      return false;
  }
}

bool rdata_matches(Type type, const Rdata& rdata) {
  switch (type) {
    case Type::kA:
      return std::holds_alternative<A>(rdata);
    case Type::kAaaa:
      return std::holds_alternative<Aaaa>(rdata);
    case Type::kNs:
      return std::holds_alternative<Ns>(rdata);
    case Type::kCname:
      return std::holds_alternative<Cname>(rdata);
    case Type::kPtr:
      return std::holds_alternative<Ptr>(rdata);
    case Type::kSoa:
      return std::holds_alternative<Soa>(rdata);
    case Type::kMx:
      return std::holds_alternative<Mx>(rdata);
    case Type::kTxt:
      return std::holds_alternative<Txt>(rdata);
    case Type::kSrv:
      return std::holds_alternative<Srv>(rdata);
    case Type::kCaa:
      return std::holds_alternative<Caa>(rdata);
    default:
      return std::holds_alternative<Opaque>(rdata);
  }
}

const Name* additional_name(const Rdata& rdata) {
  if (auto* ns = std::get_if<Ns>(&rdata)) return &ns->host;
  if (auto* mx = std::get_if<Mx>(&rdata)) return &mx->exchange;
  if (auto* srv = std::get_if<Srv>(&rdata)) return &srv->target;
  return nullptr;
}

Result<Rdata> decode_rdata(Type type, WireReader& reader) {
  switch (type) {
    case Type::kA: {
      A a;
      auto bytes = TRY(reader.bytes(4));
      std::copy(bytes.begin(), bytes.end(), a.address.begin());
      return finish(reader, a);
    }
    case Type::kAaaa: {
      Aaaa aaaa;
      auto bytes = TRY(reader.bytes(16));
      std::copy(bytes.begin(), bytes.end(), aaaa.address.begin());
      return finish(reader, aaaa);
    }
    case Type::kNs:
      return finish(reader, Ns{TRY(reader.name())});
    case Type::kCname:
      return finish(reader, Cname{TRY(reader.name())});
    case Type::kPtr:
      return finish(reader, Ptr{TRY(reader.name())});
    case Type::kSoa: {
      Soa soa;
      soa.mname = TRY(reader.name());
      soa.rname = TRY(reader.name());
      soa.serial = TRY(reader.u32());
      soa.refresh = TRY(reader.u32());
      soa.retry = TRY(reader.u32());
      soa.expire = TRY(reader.u32());
      soa.minimum = TRY(reader.u32());
      return finish(reader, std::move(soa));
    }
    case Type::kMx: {
      Mx mx;
      mx.preference = TRY(reader.u16());
      mx.exchange = TRY(reader.name());
      return finish(reader, std::move(mx));
    }
    case Type::kTxt: {
      // RFC 1035 §3.3.14: one or more <character-string>s.
      if (reader.remaining() == 0) return Error{Errc::kMalformed, "TXT RDATA is empty"};
      Txt txt;
      while (reader.remaining() > 0) txt.strings.push_back(TRY(character_string(reader)));
      return Rdata(std::move(txt));
    }
    case Type::kSrv: {
      // RFC 3597 §4 asks receivers to accept a compressed SRV target, though senders
      // must not compress it.
      Srv srv;
      srv.priority = TRY(reader.u16());
      srv.weight = TRY(reader.u16());
      srv.port = TRY(reader.u16());
      srv.target = TRY(reader.name());
      return finish(reader, std::move(srv));
    }
    case Type::kCaa: {
      Caa caa;
      caa.flags = TRY(reader.u8());
      caa.tag = TRY(character_string(reader));
      if (!valid_caa_tag(caa.tag)) return Error{Errc::kMalformed, "CAA tag is not 1-15 letters"};
      auto value = TRY(reader.bytes(reader.remaining()));
      caa.value.assign(value.begin(), value.end());
      return Rdata(std::move(caa));
    }
    default: {
      auto data = TRY(reader.bytes(reader.remaining()));
      return Rdata(Opaque{{data.begin(), data.end()}});
    }
  }
}

Result<void> encode_rdata(Type type, const Rdata& rdata, WireWriter& writer) {
  if (!rdata_matches(type, rdata))
    return Error{Errc::kInvalidArgument, "RDATA form does not match the record type"};
  // RFC 3597 §4: only the RFC 1035 types may have their names compressed.
  if (auto* a = std::get_if<A>(&rdata)) {
    writer.bytes(a->address);
  } else if (auto* aaaa = std::get_if<Aaaa>(&rdata)) {
    writer.bytes(aaaa->address);
  } else if (auto* ns = std::get_if<Ns>(&rdata)) {
    writer.name(ns->host, Compress::kYes);
  } else if (auto* cname = std::get_if<Cname>(&rdata)) {
    writer.name(cname->target, Compress::kYes);
  } else if (auto* ptr = std::get_if<Ptr>(&rdata)) {
    writer.name(ptr->target, Compress::kYes);
  } else if (auto* soa = std::get_if<Soa>(&rdata)) {
    writer.name(soa->mname, Compress::kYes);
    writer.name(soa->rname, Compress::kYes);
    for (uint32_t v : {soa->serial, soa->refresh, soa->retry, soa->expire, soa->minimum})
      writer.u32(v);
  } else if (auto* mx = std::get_if<Mx>(&rdata)) {
    writer.u16(mx->preference);
    writer.name(mx->exchange, Compress::kYes);
  } else if (auto* txt = std::get_if<Txt>(&rdata)) {
    if (txt->strings.empty()) return Error{Errc::kInvalidArgument, "TXT with no strings"};
    for (const auto& s : txt->strings) TRY(put_character_string(writer, s));
  } else if (auto* srv = std::get_if<Srv>(&rdata)) {
    writer.u16(srv->priority);
    writer.u16(srv->weight);
    writer.u16(srv->port);
    writer.name(srv->target, Compress::kNo);  // RFC 2782: "name compression is not to be used"
  } else if (auto* caa = std::get_if<Caa>(&rdata)) {
    if (!valid_caa_tag(caa->tag))
      return Error{Errc::kInvalidArgument, "CAA tag is not 1-15 letters"};
    writer.u8(caa->flags);
    TRY(put_character_string(writer, caa->tag));
    writer.bytes({reinterpret_cast<const uint8_t*>(caa->value.data()), caa->value.size()});
  } else {
    const auto& opaque = std::get<Opaque>(rdata);
    if (opaque.data.size() > kMaxRdataSize)
      return Error{Errc::kInvalidArgument, "RDATA over 65535 bytes"};
    writer.bytes(opaque.data);
  }
  return ok();
}

}  // namespace morgana::dns
