// TCP sequence-number arithmetic (RFC 9293 §3.4): 32-bit numbers compared modulo 2^32, so
// "a before b" means b - a, read as signed, is positive.
#pragma once

#include <cstdint>

namespace morgana::net {

constexpr bool seq_lt(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) < 0;
}
constexpr bool seq_leq(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) <= 0;
}
constexpr bool seq_gt(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) > 0;
}
constexpr bool seq_geq(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) >= 0;
}
constexpr uint32_t seq_max(uint32_t a, uint32_t b) {
  return seq_lt(a, b) ? b : a;
}
constexpr uint32_t seq_min(uint32_t a, uint32_t b) {
  return seq_lt(a, b) ? a : b;
}
// Is `s` inside [begin, end) (modulo 2^32)?
constexpr bool seq_in(uint32_t s, uint32_t begin, uint32_t end) {
  return s - begin < end - begin;
}

}  // namespace morgana::net
