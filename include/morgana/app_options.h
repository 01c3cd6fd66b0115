// Helpers for an application's own command-line options (the arguments after `--`).
#pragma once

#include <cstdint>
#include <string_view>

namespace morgana::app {

// For an option "--name=N" with N a decimal number: returns true and leaves `value` alone
// when `arg` is some other argument, returns true and sets `value` when it is this option
// with a valid N, and returns false when it is this option with a bad or overflowing N.
// `name` includes the "=", e.g. parse_uint_option(arg, "--count=", count).
inline bool parse_uint_option(std::string_view arg, std::string_view name, uint64_t& value) {
  if (arg.substr(0, name.size()) != name) return true;
  std::string_view digits = arg.substr(name.size());
  if (digits.empty()) return false;
  uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    if (__builtin_mul_overflow(n, 10u, &n) || __builtin_add_overflow(n, uint64_t(c - '0'), &n))
      return false;
  }
  value = n;
  return true;
}

}  // namespace morgana::app
