// DNS code points (RFC 1035 §3.2, IANA "Domain Name System (DNS) Parameters"): record
// types, classes, opcodes and response codes, with their presentation mnemonics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace morgana::dns {

// Any 16-bit value is a valid Type; the names below are the ones Morgana knows. Types it
// does not know are carried as opaque RDATA (RFC 3597 §2).
enum class Type : uint16_t {
  kA = 1,
  kNs = 2,
  kCname = 5,
  kSoa = 6,
  kPtr = 12,
  kHinfo = 13,
  kMx = 15,
  kTxt = 16,
  kAaaa = 28,
  kSrv = 33,
  kOpt = 41,  // RFC 6891: the EDNS(0) pseudo-record
  kDs = 43,
  kRrsig = 46,
  kNsec = 47,
  kDnskey = 48,
  kIxfr = 251,
  kAxfr = 252,
  kAny = 255,  // RFC 8482 calls it "ANY"; RFC 1035 QTYPE "*"
  kCaa = 257,
};

enum class Class : uint16_t {
  kIn = 1,
  kCh = 3,
  kHs = 4,
  kNone = 254,
  kAny = 255,
};

enum class Opcode : uint8_t {
  kQuery = 0,
  kIquery = 1,
  kStatus = 2,
  kNotify = 4,
  kUpdate = 5,
};

// The full 12-bit RCODE: the header's four bits plus EDNS's eight (RFC 6891 §6.1.3).
enum class Rcode : uint16_t {
  kNoError = 0,
  kFormErr = 1,
  kServFail = 2,
  kNxDomain = 3,
  kNotImp = 4,
  kRefused = 5,
  kBadVers = 16,
};

// "A", "MX", ... or RFC 3597 §5's "TYPE65400" for types without a mnemonic.
std::string type_name(Type type);
// Accepts mnemonics in any case and TYPEnnn; empty for anything else.
std::optional<Type> parse_type(std::string_view text);

std::string class_name(Class rclass);  // "IN", or "CLASS42" (RFC 3597 §5)
std::optional<Class> parse_class(std::string_view text);

// RFC 8914: the Extended DNS Error EDNS option and the INFO-CODEs this server sends.
inline constexpr uint16_t kEdeOptionCode = 15;
enum class ExtendedError : uint16_t {
  kProhibited = 18,        // §4.19: e.g. a zone transfer to an address not allowed
  kNotAuthoritative = 20,  // §4.21: a query outside our zones
};

std::string rcode_name(Rcode rcode);     // "NOERROR", "NXDOMAIN", ... or "RCODE42"
std::string opcode_name(Opcode opcode);  // "QUERY", ... or "OPCODE9"

// RFC 6895 §3.1: 128-255 are meta-types and QTYPEs, never stored in a zone.
constexpr bool is_meta_type(Type type) {
  auto value = static_cast<uint16_t>(type);
  return value == static_cast<uint16_t>(Type::kOpt) || (value >= 128 && value <= 255);
}

}  // namespace morgana::dns
