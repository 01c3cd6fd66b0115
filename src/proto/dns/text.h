// Small text helpers shared by the DNS presentation formatter and the zone-file parser:
// numbers, case folding, hex and base64 (RFC 4648). Internal to src/proto/dns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace morgana::dns {

constexpr uint8_t ascii_lower(uint8_t c) {
  return c >= 'A' && c <= 'Z' ? static_cast<uint8_t>(c + ('a' - 'A')) : c;
}
bool equal_ignoring_case(std::string_view a, std::string_view b);

std::string decimal(uint64_t value);
// A whole token of decimal digits that fits in `max`; empty otherwise.
std::optional<uint64_t> parse_decimal(std::string_view text, uint64_t max);

// RFC 1035 §5.1 TTLs, also with BIND's units ("1h30m", "2w"); at most 2^31-1 (RFC 2181 §8).
std::optional<uint32_t> parse_ttl(std::string_view text);

std::string hex(std::span<const uint8_t> bytes);  // upper case, no separators
// Hex digits in any case; whitespace is not allowed (tokens are joined by the caller).
std::optional<std::vector<uint8_t>> parse_hex(std::string_view text);

std::string base64(std::span<const uint8_t> bytes);
std::optional<std::vector<uint8_t>> parse_base64(std::string_view text);

// RFC 4034 §3.2: YYYYMMDDHHmmSS (UTC) <-> seconds since 1970, modulo 2^32.
std::string timestamp(uint32_t seconds);
std::optional<uint32_t> parse_timestamp(std::string_view text);

}  // namespace morgana::dns
