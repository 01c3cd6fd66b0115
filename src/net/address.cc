// Text forms of MAC and IPv4 addresses: strict parsers (command-line and configuration
// input) and allocation-free formatting.
#include "morgana/net/address.h"

#include <charconv>

namespace morgana::net {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A decimal number 0..max without sign or leading zeros, consuming it from `text`.
std::optional<unsigned> take_decimal(std::string_view& text, unsigned max) {
  size_t n = 0;
  while (n < text.size() && n < 4 && text[n] >= '0' && text[n] <= '9') ++n;
  if (n == 0 || n > 3 || (n > 1 && text[0] == '0')) return std::nullopt;
  unsigned value = 0;
  for (size_t i = 0; i < n; ++i) value = value * 10 + unsigned(text[i] - '0');
  if (value > max) return std::nullopt;
  text.remove_prefix(n);
  return value;
}

// Appends to a fixed text buffer; AddressText is large enough for every form here.
struct TextBuilder {
  AddressText text;
  size_t length = 0;
  void put(char c) {
    if (length + 1 < sizeof(text.data)) text.data[length++] = c;
  }
  void put_decimal(unsigned value) {
    char digits[8];
    auto end = std::to_chars(digits, digits + sizeof(digits), value).ptr;
    for (char* p = digits; p < end; ++p) put(*p);
  }
};

void put_ipv4(TextBuilder& out, const Ipv4Address& address) {
  for (size_t i = 0; i < 4; ++i) {
    if (i > 0) out.put('.');
    out.put_decimal(address.bytes[i]);
  }
}

}  // namespace

std::optional<MacAddress> MacAddress::parse(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  const char separator = text[2];
  if (separator != ':' && separator != '-') return std::nullopt;
  MacAddress mac;
  for (size_t i = 0; i < 6; ++i) {
    int high = hex_digit(text[i * 3]), low = hex_digit(text[i * 3 + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    if (i < 5 && text[i * 3 + 2] != separator) return std::nullopt;
    mac.bytes[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return mac;
}

AddressText MacAddress::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  TextBuilder out;
  for (size_t i = 0; i < 6; ++i) {
    if (i > 0) out.put(':');
    out.put(kHex[bytes[i] >> 4]);
    out.put(kHex[bytes[i] & 15]);
  }
  return out.text;
}

std::optional<Ipv4Address> Ipv4Address::parse(std::string_view text) {
  Ipv4Address address;
  for (size_t i = 0; i < 4; ++i) {
    if (i > 0) {
      if (text.empty() || text[0] != '.') return std::nullopt;
      text.remove_prefix(1);
    }
    auto octet = take_decimal(text, 255);
    if (!octet) return std::nullopt;
    address.bytes[i] = static_cast<uint8_t>(*octet);
  }
  if (!text.empty()) return std::nullopt;
  return address;
}

AddressText Ipv4Address::to_string() const {
  TextBuilder out;
  put_ipv4(out, *this);
  return out.text;
}

std::optional<Ipv4Prefix> Ipv4Prefix::parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto address = Ipv4Address::parse(text.substr(0, slash));
  std::string_view rest = text.substr(slash + 1);
  auto length = take_decimal(rest, 32);
  if (!address || !length || !rest.empty()) return std::nullopt;
  return Ipv4Prefix{*address, static_cast<uint8_t>(*length)};
}

AddressText Ipv4Prefix::to_string() const {
  TextBuilder out;
  put_ipv4(out, address);
  out.put('/');
  out.put_decimal(length);
  return out.text;
}

}  // namespace morgana::net
