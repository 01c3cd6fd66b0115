// DNS messages (RFC 1035 §4.1): header, questions and three sections of resource records,
// with EDNS(0) (RFC 6891) lifted out of the additional section. decode() accepts only
// well-formed input; encode() compresses names and truncates at RRset boundaries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "morgana/proto/dns/name.h"
#include "morgana/proto/dns/rdata.h"
#include "morgana/proto/dns/types.h"
#include "morgana/rt/result.h"

namespace morgana::dns {

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxMessageSize = 65535;
inline constexpr size_t kClassicUdpSize = 512;  // RFC 1035 §4.2.1, and RFC 6891 §6.2.5's floor

// RFC 1035 §4.1.1 and RFC 2535 §6.1 (AD, CD). The RCODE lives in Message, since EDNS
// extends it past the header's four bits.
struct Header {
  uint16_t id = 0;
  bool qr = false;  // a response
  Opcode opcode = Opcode::kQuery;
  bool aa = false;  // authoritative answer
  bool tc = false;  // truncated
  bool rd = false;  // recursion desired
  bool ra = false;  // recursion available
  bool z = false;   // reserved; must be zero in queries
  bool ad = false;  // authentic data
  bool cd = false;  // checking disabled
  friend bool operator==(const Header&, const Header&) = default;
};

struct Question {
  Name name;
  Type type = Type::kA;
  Class qclass = Class::kIn;
  friend bool operator==(const Question&, const Question&) = default;
};

struct Record {
  Name name;
  Type type = Type::kA;
  Class rclass = Class::kIn;
  uint32_t ttl = 0;
  Rdata rdata;
  friend bool operator==(const Record&, const Record&) = default;
};

struct EdnsOption {  // RFC 6891 §6.1.2
  uint16_t code = 0;
  std::vector<uint8_t> data;
  friend bool operator==(const EdnsOption&, const EdnsOption&) = default;
};

// RFC 8914 §2: an Extended DNS Error option with no EXTRA-TEXT.
inline EdnsOption extended_error(ExtendedError code) {
  auto value = static_cast<uint16_t>(code);
  return {kEdeOptionCode, {static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)}};
}

// The OPT pseudo-RR (RFC 6891 §6.1.2, §6.1.3): CLASS is the sender's UDP payload size, TTL
// holds the extended RCODE (kept in Message::rcode), version and flags.
struct Edns {
  uint16_t udp_payload_size = 1232;
  uint8_t version = 0;
  bool dnssec_ok = false;  // DO, RFC 3225
  uint16_t z = 0;          // the other 15 flag bits, must be zero
  std::vector<EdnsOption> options;
  friend bool operator==(const Edns&, const Edns&) = default;
};

enum class Section : uint8_t { kAnswer, kAuthority, kAdditional };

struct Message {
  Header header;
  Rcode rcode = Rcode::kNoError;
  std::vector<Question> questions;
  std::vector<Record> answers;
  std::vector<Record> authority;
  std::vector<Record> additional;  // without the OPT record, which is `edns`
  std::optional<Edns> edns;

  std::vector<Record>& section(Section which);
  const std::vector<Record>& section(Section which) const;
  friend bool operator==(const Message&, const Message&) = default;
};

// Decodes a whole message. Fails on anything malformed: a count larger than the records
// present, a bad name, RDATA that does not match its RDLENGTH or type, more than one OPT
// or an OPT outside the additional section or not owned by the root, or trailing bytes.
Result<Message> decode(std::span<const uint8_t> bytes);

// Decodes only the 12-byte header (and the header RCODE), e.g. to answer FORMERR.
Result<Header> decode_header(std::span<const uint8_t> bytes);

struct EncodeOptions {
  size_t limit = kMaxMessageSize;  // e.g. the UDP payload size
  // The first this many additional records are necessary (glue, RFC 9471 §3): when they do
  // not fit, the message is marked truncated; other additional records are just left out.
  size_t required_additional = 0;
};

struct Encoded {
  std::vector<uint8_t> bytes;
  bool truncated = false;  // TC was set because answer, authority or required glue did not fit
};

// Encodes with name compression (RFC 1035 §4.1.4) in the names RFC 3597 §4 allows. Records
// that do not fit in `options.limit` are dropped a whole RRset at a time (RFC 2181 §9), and
// the OPT record is always kept (RFC 6891 §7). Fails if the records are inconsistent
// (RDATA of the wrong form for its type, a string over 255 bytes, an RCODE above 15 with
// no EDNS) or if the header and question alone do not fit.
Result<Encoded> encode(const Message& message, const EncodeOptions& options = {});

}  // namespace morgana::dns
