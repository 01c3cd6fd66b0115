// Mnemonics for DNS code points, and their RFC 3597 §5 generic forms (TYPEnnn, CLASSnnn).
#include "morgana/proto/dns/types.h"

#include <charconv>

#include "proto/dns/text.h"

namespace morgana::dns {
namespace {

struct Mnemonic {
  uint16_t value;
  const char* name;
};

constexpr Mnemonic kTypes[] = {
    {1, "A"},      {2, "NS"},     {5, "CNAME"},  {6, "SOA"},   {12, "PTR"},
    {13, "HINFO"}, {15, "MX"},    {16, "TXT"},   {28, "AAAA"}, {33, "SRV"},
    {41, "OPT"},   {43, "DS"},    {46, "RRSIG"}, {47, "NSEC"}, {48, "DNSKEY"},
    {251, "IXFR"}, {252, "AXFR"}, {255, "ANY"},  {257, "CAA"},
};
constexpr Mnemonic kClasses[] = {{1, "IN"}, {3, "CH"}, {4, "HS"}, {254, "NONE"}, {255, "ANY"}};
constexpr Mnemonic kRcodes[] = {{0, "NOERROR"}, {1, "FORMERR"}, {2, "SERVFAIL"}, {3, "NXDOMAIN"},
                                {4, "NOTIMP"},  {5, "REFUSED"}, {16, "BADVERS"}};
constexpr Mnemonic kOpcodes[] = {
    {0, "QUERY"}, {1, "IQUERY"}, {2, "STATUS"}, {4, "NOTIFY"}, {5, "UPDATE"}};

template <size_t N>
std::string name_of(const Mnemonic (&table)[N], uint16_t value, const char* generic) {
  for (const auto& entry : table)
    if (entry.value == value) return entry.name;
  return std::string(generic) + decimal(value);
}

// A mnemonic from `table`, or `generic` followed by a decimal number that fits 16 bits.
template <size_t N>
std::optional<uint16_t> value_of(const Mnemonic (&table)[N], std::string_view text,
                                 std::string_view generic) {
  for (const auto& entry : table)
    if (equal_ignoring_case(text, entry.name)) return entry.value;
  if (text.size() <= generic.size() ||
      !equal_ignoring_case(text.substr(0, generic.size()), generic))
    return std::nullopt;
  auto digits = text.substr(generic.size());
  uint16_t value = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string type_name(Type type) {
  return name_of(kTypes, static_cast<uint16_t>(type), "TYPE");
}

std::optional<Type> parse_type(std::string_view text) {
  auto value = value_of(kTypes, text, "TYPE");
  if (!value) return std::nullopt;
  return static_cast<Type>(*value);
}

std::string class_name(Class rclass) {
  return name_of(kClasses, static_cast<uint16_t>(rclass), "CLASS");
}

std::optional<Class> parse_class(std::string_view text) {
  auto value = value_of(kClasses, text, "CLASS");
  if (!value) return std::nullopt;
  return static_cast<Class>(*value);
}

std::string rcode_name(Rcode rcode) {
  return name_of(kRcodes, static_cast<uint16_t>(rcode), "RCODE");
}

std::string opcode_name(Opcode opcode) {
  return name_of(kOpcodes, static_cast<uint8_t>(opcode), "OPCODE");
}

}  // namespace morgana::dns
