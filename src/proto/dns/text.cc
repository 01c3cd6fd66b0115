// Text helpers for DNS presentation formats: decimal, hex, base64 and RRSIG timestamps.
// Freestanding (images have no locale or strtol use here), so each is written out.
#include "proto/dns/text.h"

namespace morgana::dns {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(static_cast<uint8_t>(a[i])) != ascii_lower(static_cast<uint8_t>(b[i])))
      return false;
  return true;
}

std::string decimal(uint64_t value) {
  char digits[20];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  std::string out;
  while (n > 0) out.push_back(digits[--n]);
  return out;
}

std::optional<uint64_t> parse_decimal(std::string_view text, uint64_t max) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<uint32_t> parse_ttl(std::string_view text) {
  constexpr uint64_t kMax = 0x7FFFFFFF;
  if (text.empty()) return std::nullopt;
  if (auto plain = parse_decimal(text, kMax)) return static_cast<uint32_t>(*plain);
  uint64_t total = 0;
  size_t at = 0;
  while (at < text.size()) {
    size_t digits = at;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == at || digits == text.size()) return std::nullopt;
    auto number = parse_decimal(text.substr(at, digits - at), kMax);
    uint64_t unit = 0;
    switch (ascii_lower(static_cast<uint8_t>(text[digits]))) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      case 'w':
        unit = 604800;
        break;
      default:
        return std::nullopt;
    }
    if (!number || *number > kMax / unit) return std::nullopt;
    total += *number * unit;
    if (total > kMax) return std::nullopt;
    at = digits + 1;
  }
  return static_cast<uint32_t>(total);
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = static_cast<unsigned>(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

void append_padded(std::string& out, uint64_t value, size_t width) {
  std::string digits = decimal(value);
  out.append(width > digits.size() ? width - digits.size() : 0, '0');
  out += digits;
}

}  // namespace

std::string hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

std::optional<std::vector<uint8_t>> parse_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<uint8_t> out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

std::string base64(std::span<const uint8_t> bytes) {
  std::string out;
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = uint32_t{bytes[i]} << 16 | uint32_t{bytes[i + 1]} << 8 | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kBase64[(v >> shift) & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{bytes[i]} << 16 | (rest == 2 ? uint32_t{bytes[i + 1]} << 8 : 0);
    out.push_back(kBase64[(v >> 18) & 63]);
    out.push_back(kBase64[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::vector<uint8_t>> parse_base64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::vector<uint8_t> out;
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t v = 0;
    int padding = 0;
    for (size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        ++padding;
        v <<= 6;
        continue;
      }
      int digit = base64_digit(c);
      if (digit < 0 || padding > 0) return std::nullopt;
      v = v << 6 | static_cast<uint32_t>(digit);
    }
    out.push_back(static_cast<uint8_t>(v >> 16));
    if (padding < 2) out.push_back(static_cast<uint8_t>(v >> 8));
    if (padding < 1) out.push_back(static_cast<uint8_t>(v));
  }
  return out;
}

std::string timestamp(uint32_t seconds) {
  int64_t year;
  unsigned month, day;
  civil_from_days(seconds / 86400, year, month, day);
  uint32_t in_day = seconds % 86400;
  std::string out;
  append_padded(out, static_cast<uint64_t>(year), 4);
  append_padded(out, month, 2);
  append_padded(out, day, 2);
  append_padded(out, in_day / 3600, 2);
  append_padded(out, in_day / 60 % 60, 2);
  append_padded(out, in_day % 60, 2);
  return out;
}

std::optional<uint32_t> parse_timestamp(std::string_view text) {
  // RFC 4034 §3.2: a plain decimal number of seconds is also allowed.
  if (text.size() != 14) {
    auto plain = parse_decimal(text, UINT32_MAX);
    return plain ? std::optional<uint32_t>(static_cast<uint32_t>(*plain)) : std::nullopt;
  }
  auto field = [&](size_t at, size_t width) { return parse_decimal(text.substr(at, width), 9999); };
  auto year = field(0, 4), month = field(4, 2), day = field(6, 2);
  auto hour = field(8, 2), minute = field(10, 2), second = field(12, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  if (*month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 ||
      *second > 60)
    return std::nullopt;
  int64_t days = days_from_civil(static_cast<int64_t>(*year), static_cast<unsigned>(*month),
                                 static_cast<unsigned>(*day));
  int64_t total = days * 86400 + static_cast<int64_t>(*hour * 3600 + *minute * 60 + *second);
  return static_cast<uint32_t>(static_cast<uint64_t>(total));  // serial arithmetic, mod 2^32
}

}  // namespace morgana::dns
