// Link and network addresses: MacAddress (IEEE 802 EUI-48) and Ipv4Address, both stored in
// wire order so they sit directly in header structs, plus Ipv4Prefix (address/length).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace morgana::net {

// Text forms are returned in a small fixed buffer (no allocation in the image).
struct AddressText {
  char data[24] = {};
  const char* c_str() const { return data; }
  std::string_view view() const { return data; }
};

struct MacAddress {
  std::array<uint8_t, 6> bytes{};

  static constexpr MacAddress broadcast() { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  // "02:00:00:77:00:01" (also '-' separated); empty on any other form.
  static std::optional<MacAddress> parse(std::string_view text);

  // IEEE 802: the I/G bit, the least significant bit of the first octet.
  constexpr bool is_multicast() const { return (bytes[0] & 1) != 0; }
  constexpr bool is_broadcast() const { return *this == broadcast(); }
  constexpr bool is_zero() const { return *this == MacAddress{}; }
  AddressText to_string() const;

  friend constexpr bool operator==(const MacAddress&, const MacAddress&) = default;
};
static_assert(sizeof(MacAddress) == 6 && alignof(MacAddress) == 1);

struct Ipv4Address {
  std::array<uint8_t, 4> bytes{};

  static constexpr Ipv4Address from_u32(uint32_t host_order) {
    return {{static_cast<uint8_t>(host_order >> 24), static_cast<uint8_t>(host_order >> 16),
             static_cast<uint8_t>(host_order >> 8), static_cast<uint8_t>(host_order)}};
  }
  static constexpr Ipv4Address broadcast() { return from_u32(0xffffffff); }
  // Dotted quad, exactly four decimal octets 0-255 without leading zeros ("010.1.1.1" is
  // refused: some parsers read it as octal, so it is ambiguous).
  static std::optional<Ipv4Address> parse(std::string_view text);

  constexpr uint32_t to_u32() const {
    return uint32_t{bytes[0]} << 24 | uint32_t{bytes[1]} << 16 | uint32_t{bytes[2]} << 8 | bytes[3];
  }
  constexpr bool is_unspecified() const { return to_u32() == 0; }
  constexpr bool is_broadcast() const { return to_u32() == 0xffffffff; }
  // RFC 5771: 224.0.0.0/4.
  constexpr bool is_multicast() const { return (bytes[0] & 0xf0) == 0xe0; }
  // RFC 1122 §3.2.1.3(g): 127.0.0.0/8 never appears on a wire.
  constexpr bool is_loopback() const { return bytes[0] == 127; }
  AddressText to_string() const;

  friend constexpr bool operator==(const Ipv4Address&, const Ipv4Address&) = default;
};
static_assert(sizeof(Ipv4Address) == 4 && alignof(Ipv4Address) == 1);

// The netmask for a prefix length 0-32 (larger lengths are clamped to 32).
constexpr uint32_t ipv4_netmask(unsigned length) {
  return length == 0 ? 0 : length >= 32 ? 0xffffffff : ~uint32_t{0} << (32 - length);
}

// An interface address with its on-link prefix, e.g. 10.77.0.1/24.
struct Ipv4Prefix {
  Ipv4Address address;
  uint8_t length = 0;  // 0-32

  // "a.b.c.d/n"; empty on any other form or n > 32.
  static std::optional<Ipv4Prefix> parse(std::string_view text);

  constexpr Ipv4Address netmask() const { return Ipv4Address::from_u32(ipv4_netmask(length)); }
  constexpr Ipv4Address network() const {
    return Ipv4Address::from_u32(address.to_u32() & ipv4_netmask(length));
  }
  // RFC 919/922: the directed broadcast of the subnet (all host bits set).
  constexpr Ipv4Address subnet_broadcast() const {
    return Ipv4Address::from_u32(address.to_u32() | ~ipv4_netmask(length));
  }
  constexpr bool contains(Ipv4Address other) const {
    return ((address.to_u32() ^ other.to_u32()) & ipv4_netmask(length)) == 0;
  }
  AddressText to_string() const;

  friend constexpr bool operator==(const Ipv4Prefix&, const Ipv4Prefix&) = default;
};

}  // namespace morgana::net
