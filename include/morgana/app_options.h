// Helpers for an application's own command-line options (the arguments after `--`).
#pragma once

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <span>
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

// One "--name=N" option of an application: where the value goes and its bounds.
struct UintOption {
  std::string_view name;  // with the "=", e.g. "--port="
  uint64_t* value;
  uint64_t min = 0;
  uint64_t max = UINT64_MAX;
};

// Parses every argument as one of `options`. On an unknown argument, a malformed number
// or one outside its bounds, prints "<program>: bad option '<arg>' (--a=N, --b=N)" and
// returns false.
inline bool parse_uint_options(std::span<char* const> args,
                               std::initializer_list<UintOption> options, const char* program) {
  for (char* arg : args) {
    std::string_view text(arg);
    bool ok = false;
    for (const UintOption& option : options) {
      if (!text.starts_with(option.name)) continue;
      uint64_t value = 0;
      ok =
          parse_uint_option(text, option.name, value) && value >= option.min && value <= option.max;
      if (ok) *option.value = value;
      break;
    }
    if (!ok) {
      std::printf("%s: bad option '%s' (", program, arg);
      const char* separator = "";
      for (const UintOption& option : options) {
        std::printf("%s%.*sN", separator, int(option.name.size()), option.name.data());
        separator = ", ";
      }
      std::printf(")\n");
      return false;
    }
  }
  return true;
}

}  // namespace morgana::app
