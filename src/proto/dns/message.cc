// DNS message decoding and encoding (RFC 1035 §4.1) with EDNS(0) (RFC 6891 §6).
#include "morgana/proto/dns/message.h"

#include "proto/dns/text.h"
#include "proto/dns/wire.h"

namespace morgana::dns {
namespace {

// RFC 1035 §4.1.1 flag bits, in the 16-bit word after the ID.
constexpr uint16_t kQr = 0x8000, kAa = 0x0400, kTc = 0x0200, kRd = 0x0100, kRa = 0x0080,
                   kZ = 0x0040, kAd = 0x0020, kCd = 0x0010;
constexpr uint32_t kDo = 0x8000;  // RFC 3225: in the low 16 bits of the OPT TTL

constexpr size_t kMinQuestion = 5;  // root name, type, class
constexpr size_t kMinRecord = 11;   // root name, type, class, TTL, RDLENGTH

Header header_from(uint16_t id, uint16_t flags) {
  Header h;
  h.id = id;
  h.qr = flags & kQr;
  h.opcode = static_cast<Opcode>(flags >> 11 & 0xF);
  h.aa = flags & kAa;
  h.tc = flags & kTc;
  h.rd = flags & kRd;
  h.ra = flags & kRa;
  h.z = flags & kZ;
  h.ad = flags & kAd;
  h.cd = flags & kCd;
  return h;
}

uint16_t flags_of(const Header& h, Rcode rcode) {
  uint16_t flags = static_cast<uint16_t>((static_cast<uint16_t>(h.opcode) & 0xF) << 11);
  if (h.qr) flags |= kQr;
  if (h.aa) flags |= kAa;
  if (h.tc) flags |= kTc;
  if (h.rd) flags |= kRd;
  if (h.ra) flags |= kRa;
  if (h.z) flags |= kZ;
  if (h.ad) flags |= kAd;
  if (h.cd) flags |= kCd;
  return static_cast<uint16_t>(flags | (static_cast<uint16_t>(rcode) & 0xF));
}

// RFC 6891 §6.1.2: OPT's options are {code, length, data} triples filling its RDATA.
Result<Edns> decode_opt(uint16_t payload_size, uint32_t ttl, WireReader& rdata) {
  Edns edns;
  edns.udp_payload_size = payload_size;
  edns.version = static_cast<uint8_t>(ttl >> 16);
  edns.dnssec_ok = ttl & kDo;
  edns.z = static_cast<uint16_t>(ttl & 0x7FFF);
  while (rdata.remaining() > 0) {
    EdnsOption option;
    option.code = TRY(rdata.u16());
    uint16_t length = TRY(rdata.u16());
    auto data = TRY(rdata.bytes(length));
    option.data.assign(data.begin(), data.end());
    edns.options.push_back(std::move(option));
  }
  return edns;
}

size_t opt_size(const Edns& edns) {
  size_t size = kMinRecord;
  for (const auto& option : edns.options) size += 4 + option.data.size();
  return size;
}

void encode_opt(const Edns& edns, Rcode rcode, WireWriter& writer) {
  writer.u8(0);  // the root
  writer.u16(static_cast<uint16_t>(Type::kOpt));
  writer.u16(edns.udp_payload_size);
  uint32_t ttl = (static_cast<uint32_t>(rcode) >> 4 & 0xFF) << 24 | uint32_t{edns.version} << 16 |
                 (edns.dnssec_ok ? kDo : 0) | (edns.z & 0x7FFF);
  writer.u32(ttl);
  size_t rdlength = opt_size(edns) - kMinRecord;
  writer.u16(static_cast<uint16_t>(rdlength));
  for (const auto& option : edns.options) {
    writer.u16(option.code);
    writer.u16(static_cast<uint16_t>(option.data.size()));
    writer.bytes(option.data);
  }
}

Result<void> encode_record(const Record& record, WireWriter& writer) {
  if (record.type == Type::kOpt)
    return Error{Errc::kInvalidArgument, "OPT belongs in Message::edns, not in a section"};
  writer.name(record.name, Compress::kYes);
  writer.u16(static_cast<uint16_t>(record.type));
  writer.u16(static_cast<uint16_t>(record.rclass));
  writer.u32(record.ttl);
  size_t length_at = writer.size();
  writer.u16(0);
  TRY(encode_rdata(record.type, record.rdata, writer));
  if (writer.overflowed()) return ok();
  size_t rdlength = writer.size() - length_at - 2;
  if (rdlength > kMaxRdataSize) return Error{Errc::kInvalidArgument, "RDATA over 65535 bytes"};
  writer.patch_u16(length_at, static_cast<uint16_t>(rdlength));
  return ok();
}

bool same_rrset(const Record& a, const Record& b) {
  return a.type == b.type && a.rclass == b.rclass && a.name == b.name;
}

}  // namespace

std::vector<Record>& Message::section(Section which) {
  return which == Section::kAnswer      ? answers
         : which == Section::kAuthority ? authority
                                        : additional;
}
const std::vector<Record>& Message::section(Section which) const {
  return which == Section::kAnswer      ? answers
         : which == Section::kAuthority ? authority
                                        : additional;
}

Result<Header> decode_header(std::span<const uint8_t> bytes) {
  WireReader reader(bytes);
  uint16_t id = TRY(reader.u16());
  uint16_t flags = TRY(reader.u16());
  return header_from(id, flags);
}

Result<Message> decode(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) return Error{Errc::kMalformed, "shorter than a DNS header"};
  if (bytes.size() > kMaxMessageSize) return Error{Errc::kMalformed, "longer than 65535 bytes"};
  WireReader reader(bytes);
  Message message;
  uint16_t id = TRY(reader.u16());
  uint16_t flags = TRY(reader.u16());
  message.header = header_from(id, flags);
  uint16_t counts[4];
  for (auto& count : counts) count = TRY(reader.u16());
  // Reject impossible counts before reserving anything for them.
  size_t least =
      counts[0] * kMinQuestion + (size_t{counts[1]} + counts[2] + counts[3]) * kMinRecord;
  if (least > reader.remaining())
    return Error{Errc::kMalformed, "section counts larger than the message"};

  message.questions.reserve(counts[0]);
  for (size_t i = 0; i < counts[0]; ++i) {
    Question question;
    question.name = TRY(reader.name());
    question.type = static_cast<Type>(TRY(reader.u16()));
    question.qclass = static_cast<Class>(TRY(reader.u16()));
    message.questions.push_back(question);
  }

  uint8_t extended_rcode = 0;
  for (int s = 0; s < 3; ++s) {
    auto section = static_cast<Section>(s);
    auto& records = message.section(section);
    records.reserve(counts[s + 1]);
    for (size_t i = 0; i < counts[s + 1]; ++i) {
      Record record;
      record.name = TRY(reader.name());
      record.type = static_cast<Type>(TRY(reader.u16()));
      uint16_t rclass = TRY(reader.u16());
      record.ttl = TRY(reader.u32());
      uint16_t rdlength = TRY(reader.u16());
      if (rdlength > reader.remaining())
        return Error{Errc::kMalformed, "RDLENGTH runs past the message"};
      size_t start = reader.position();
      WireReader rdata(bytes, start, start + rdlength);
      TRY(reader.bytes(rdlength));
      if (record.type == Type::kOpt) {
        // RFC 6891 §6.1.1: one OPT at most, in the additional section, owned by the root.
        if (section != Section::kAdditional)
          return Error{Errc::kMalformed, "OPT outside the additional section"};
        if (message.edns) return Error{Errc::kMalformed, "more than one OPT record"};
        if (!record.name.is_root()) return Error{Errc::kMalformed, "OPT not owned by the root"};
        message.edns = TRY(decode_opt(rclass, record.ttl, rdata));
        extended_rcode = static_cast<uint8_t>(record.ttl >> 24);
        continue;
      }
      record.rclass = static_cast<Class>(rclass);
      record.rdata = TRY(decode_rdata(record.type, rdata));
      records.push_back(std::move(record));
    }
  }
  if (reader.remaining() != 0) return Error{Errc::kMalformed, "bytes after the last record"};
  message.rcode = static_cast<Rcode>(extended_rcode << 4 | (flags & 0xF));
  return message;
}

Result<Encoded> encode(const Message& message, const EncodeOptions& options) {
  if (static_cast<uint16_t>(message.rcode) > 0xF && !message.edns)
    return Error{Errc::kInvalidArgument, "an extended RCODE needs EDNS"};
  if (static_cast<uint16_t>(message.rcode) > 0xFFF)
    return Error{Errc::kInvalidArgument, "RCODE over 12 bits"};
  size_t limit = options.limit < kMaxMessageSize ? options.limit : kMaxMessageSize;
  // RFC 6891 §7: the OPT record stays even when records are dropped, so keep room for it.
  size_t reserved = message.edns ? opt_size(*message.edns) : 0;
  if (reserved > kMaxMessageSize) return Error{Errc::kInvalidArgument, "EDNS options too long"};
  if (reserved + kHeaderSize > limit)
    return Error{Errc::kOutOfRange, "header and question do not fit the size limit"};
  WireWriter writer(limit - reserved);
  for (int i = 0; i < 6; ++i) writer.u16(0);  // header; flags and counts are patched below
  for (const auto& question : message.questions) {
    writer.name(question.name, Compress::kYes);
    writer.u16(static_cast<uint16_t>(question.type));
    writer.u16(static_cast<uint16_t>(question.qclass));
  }
  if (writer.overflowed())
    return Error{Errc::kOutOfRange, "header and question do not fit the size limit"};
  if (message.questions.size() > 0xFFFF) return Error{Errc::kInvalidArgument, "too many questions"};

  Encoded encoded;
  uint16_t counts[3] = {0, 0, 0};
  bool stop = false;
  for (int s = 0; s < 3 && !stop; ++s) {
    auto section = static_cast<Section>(s);
    const auto& records = message.section(section);
    size_t i = 0;
    while (i < records.size()) {
      // One RRset: consecutive records with the same owner, type and class.
      size_t end = i + 1;
      while (end < records.size() && same_rrset(records[i], records[end])) ++end;
      auto mark = writer.mark();
      for (size_t j = i; j < end; ++j) TRY(encode_record(records[j], writer));
      if (writer.overflowed() || counts[s] + (end - i) > 0xFFFF) {
        // RFC 2181 §9: drop the whole RRset; TC unless it was optional additional data.
        writer.rollback(mark);
        bool required = section != Section::kAdditional || i < options.required_additional;
        if (required) encoded.truncated = true;
        stop = true;
        break;
      }
      counts[s] = static_cast<uint16_t>(counts[s] + (end - i));
      i = end;
    }
  }

  writer.set_limit(limit);
  uint16_t additional = counts[2];
  if (message.edns) {
    encode_opt(*message.edns, message.rcode, writer);
    ++additional;
  }
  MORGANA_ASSERT(!writer.overflowed());
  Header header = message.header;
  header.tc = header.tc || encoded.truncated;
  writer.patch_u16(0, header.id);
  writer.patch_u16(2, flags_of(header, message.rcode));
  writer.patch_u16(4, static_cast<uint16_t>(message.questions.size()));
  writer.patch_u16(6, counts[0]);
  writer.patch_u16(8, counts[1]);
  writer.patch_u16(10, additional);
  encoded.bytes = writer.take();
  return encoded;
}

void WireWriter::name(const Name& name, Compress compress) {
  auto wire = name.wire();
  uint8_t offsets[128];
  size_t count = 0;
  for (size_t at = 0; wire[at] != 0; at += wire[at] + 1u)
    offsets[count++] = static_cast<uint8_t>(at);
  size_t start = out_.size();
  size_t matched_label = count;  // the first label covered by a pointer; count means none
  uint16_t pointer = 0;
  uint32_t hashes[128];
  for (size_t i = count; i-- > 0;) {  // hash every suffix, shortest first
    uint32_t h = i + 1 < count ? hashes[i + 1] : 2166136261u;
    size_t length = wire[offsets[i]];
    for (size_t k = 0; k <= length; ++k) h = (h ^ ascii_lower(wire[offsets[i] + k])) * 16777619u;
    hashes[i] = h;
  }
  if (compress == Compress::kYes) {
    for (size_t i = 0; i < count && matched_label == count; ++i) {
      Name suffix = name.suffix(count - i);
      for (const auto& entry : table_) {
        if (entry.hash != hashes[i]) continue;
        size_t at = entry.offset;
        auto candidate = Name::decode(out_, at);
        if (candidate.ok() && *candidate == suffix) {
          matched_label = i;
          pointer = entry.offset;
          break;
        }
      }
    }
  }
  size_t literal = matched_label == count ? wire.size() : offsets[matched_label];
  bytes(wire.first(literal));
  if (matched_label != count) u16(static_cast<uint16_t>(0xC000 | pointer));
  if (overflowed_) return;
  // Later names may point at any label written out here (offsets fit in 14 bits).
  for (size_t i = 0; i < matched_label; ++i) {
    size_t at = start + offsets[i];
    if (at < 0x4000) table_.push_back({hashes[i], static_cast<uint16_t>(at)});
  }
}

}  // namespace morgana::dns
