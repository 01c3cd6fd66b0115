// Helpers shared by the net unit tests: byte vectors from captured arrays and hex, and a
// default buffer pool.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "morgana/net/address.h"
#include "morgana/net/buffer.h"

namespace morgana::net::test {

using Bytes = std::vector<uint8_t>;

template <size_t N>
Bytes bytes_of(const uint8_t (&array)[N]) {
  return Bytes(array, array + N);
}
inline Bytes bytes_of(std::span<const uint8_t> span) {
  return Bytes(span.begin(), span.end());
}

inline std::string hex(std::span<const uint8_t> bytes) {
  std::string out;
  char digits[4];
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::snprintf(digits, sizeof(digits), "%02x", bytes[i]);
    out += digits;
    if (i % 16 == 15) out += '\n';
  }
  return out;
}

inline std::unique_ptr<BufferPool> make_pool(size_t count = 64, size_t size = 2048) {
  auto pool = BufferPool::create({count, size, 128});
  EXPECT_TRUE(pool.ok());
  return std::move(pool).value();
}

inline Ipv4Address ip(const char* text) {
  auto address = Ipv4Address::parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(Ipv4Address{});
}

inline MacAddress mac(const char* text) {
  auto address = MacAddress::parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(MacAddress{});
}

// The addresses of the two namespaces in the captures (tests/unit/net/data/README.md).
inline const MacAddress kMacA = {{0x02, 0x00, 0x00, 0x77, 0x00, 0x01}};
inline const MacAddress kMacB = {{0x02, 0x00, 0x00, 0x77, 0x00, 0x02}};
inline const Ipv4Address kIpA = {{10, 77, 0, 1}};
inline const Ipv4Address kIpB = {{10, 77, 0, 2}};

// Ethernet payload of an untagged captured frame.
inline std::span<const uint8_t> l3(std::span<const uint8_t> frame) {
  return frame.subspan(14);
}
// The IPv4 payload of an untagged captured frame with a 20-byte IPv4 header.
inline std::span<const uint8_t> l4(std::span<const uint8_t> frame) {
  return frame.subspan(34);
}

}  // namespace morgana::net::test
