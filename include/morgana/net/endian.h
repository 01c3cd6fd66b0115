// Network byte order as a type (STYLE.md "Wire data"): Be16 and Be32 hold big-endian
// bytes and convert only through value()/set(), so a header field can't be used unswapped.
#pragma once

#include <cstdint>

namespace morgana::net {

// Stored as bytes, so alignment is 1: wire structs built from these have no padding and
// can be copied out of any offset in a packet.
class Be16 {
 public:
  constexpr Be16() = default;
  constexpr explicit Be16(uint16_t value) { set(value); }

  constexpr uint16_t value() const { return static_cast<uint16_t>(bytes_[0] << 8 | bytes_[1]); }
  constexpr void set(uint16_t value) {
    bytes_[0] = static_cast<uint8_t>(value >> 8);
    bytes_[1] = static_cast<uint8_t>(value);
  }
  friend constexpr bool operator==(Be16 a, Be16 b) { return a.value() == b.value(); }

 private:
  uint8_t bytes_[2] = {};
};

class Be32 {
 public:
  constexpr Be32() = default;
  constexpr explicit Be32(uint32_t value) { set(value); }

  constexpr uint32_t value() const {
    return uint32_t{bytes_[0]} << 24 | uint32_t{bytes_[1]} << 16 | uint32_t{bytes_[2]} << 8 |
           bytes_[3];
  }
  constexpr void set(uint32_t value) {
    bytes_[0] = static_cast<uint8_t>(value >> 24);
    bytes_[1] = static_cast<uint8_t>(value >> 16);
    bytes_[2] = static_cast<uint8_t>(value >> 8);
    bytes_[3] = static_cast<uint8_t>(value);
  }
  friend constexpr bool operator==(Be32 a, Be32 b) { return a.value() == b.value(); }

 private:
  uint8_t bytes_[4] = {};
};

static_assert(sizeof(Be16) == 2 && alignof(Be16) == 1);
static_assert(sizeof(Be32) == 4 && alignof(Be32) == 1);

}  // namespace morgana::net
