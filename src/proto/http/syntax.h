// Character classes and small helpers of HTTP's grammar (RFC 9110 §5.5, §5.6), shared by
// the parser and the header logic. Private to src/proto/http.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "morgana/proto/http/request.h"  // iequals

namespace morgana::http {

inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
inline bool is_hex_digit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
inline unsigned hex_value(char c) {
  if (is_digit(c)) return unsigned(c - '0');
  return unsigned((c | 0x20) - 'a' + 10);
}

// RFC 9110 §5.6.2: tchar.
inline bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

inline bool valid_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(c)) return false;
  return true;
}

// RFC 9110 §5.5: field-value characters are VCHAR, obs-text, SP and HTAB; CR, LF and NUL
// MUST be rejected (or replaced), and we reject every other control too.
inline bool valid_field_value(std::string_view s) {
  for (char c : s) {
    auto u = uint8_t(c);
    if (u < 0x20 ? u != '\t' : u == 0x7f) return false;
  }
  return true;
}

// RFC 9110 §5.6.3: optional whitespace around values.
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A line without the CR of its CRLF (RFC 9112 §2.2 lets a recipient take a bare LF too).
inline std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// RFC 9110 §5.3: the value of the first field named NAME (field names compare without
// case), in a request's or a response's field list.
template <typename Fields>
std::optional<std::string_view> first_field(const Fields& fields, std::string_view name) {
  for (const auto& field : fields)
    if (iequals(field.name, name)) return std::string_view(field.value);
  return std::nullopt;
}

// RFC 9110 §5.3: every field named NAME combined into one comma-separated list, in order.
template <typename Fields>
std::string joined_fields(const Fields& fields, std::string_view name) {
  std::string joined;
  for (const auto& field : fields) {
    if (!iequals(field.name, name)) continue;
    if (!joined.empty()) joined += ", ";
    joined += field.value;
  }
  return joined;
}

}  // namespace morgana::http
