// Character classes and small helpers of HTTP's grammar (RFC 9110 §5.5, §5.6), shared by
// the parser and the header logic. Private to src/proto/http.
#pragma once

#include <cstdint>
#include <string_view>

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

}  // namespace morgana::http
