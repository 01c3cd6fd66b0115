// Presentation (text) forms of DNS data (RFC 1035 §5.1, RFC 3597 §5): records and
// messages printed for logs and tests, and RDATA read from zone-file tokens.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "morgana/proto/dns/message.h"
#include "morgana/proto/dns/name.h"
#include "morgana/proto/dns/rdata.h"
#include "morgana/proto/dns/types.h"
#include "morgana/rt/result.h"

namespace morgana::dns {

// "www.morgana.test. 3600 IN A 10.78.0.80", fields separated by one space.
std::string to_string(const Record& record);
std::string to_string(const Question& question);  // "www.morgana.test. IN A"
// The RDATA part alone. DS, DNSKEY and RRSIG print in their own forms (RFC 4034 §2.2, §3.2,
// §5.3) when well formed; other opaque data prints as RFC 3597 §5 "\# 4 0A0B0C0D".
std::string rdata_to_string(Type type, const Rdata& rdata);
// A multi-line summary in dig's layout: header line, flags, then one line per record.
std::string to_string(const Message& message);

std::string ipv4_to_string(std::span<const uint8_t, 4> address);
std::string ipv6_to_string(std::span<const uint8_t, 16> address);  // RFC 5952 §4

// One zone-file field: the raw text between delimiters, escapes still in it; a quoted
// string's text is without its quotes.
struct Token {
  std::string_view text;
  bool quoted = false;
};

// RDATA of `type` from its presentation fields; relative names are completed with
// `origin`. Any type also accepts RFC 3597 §5's "\# length hex" form. Errors name the
// field that is wrong, e.g. "MX preference is not a number".
Result<Rdata> parse_rdata(Type type, std::span<const Token> fields, const Name& origin);

// A <character-string> field with its \X and \DDD escapes resolved (RFC 1035 §5.1).
Result<std::string> unescape(std::string_view raw);

}  // namespace morgana::dns
