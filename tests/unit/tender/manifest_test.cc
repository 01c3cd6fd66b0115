// Tests for validate_manifest(): the device list an image declares is checked before
// the monitor reads any name from it as a string.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "tender/manifest.h"

namespace morgana::tender {
namespace {

using ::testing::HasSubstr;

abi::Manifest manifest(std::initializer_list<std::pair<const char*, abi::DeviceType>> devices) {
  abi::Manifest m{};
  m.abi_version = abi::kAbiVersion;
  for (auto [name, type] : devices) {
    std::strncpy(m.entries[m.entry_count].name, name, sizeof m.entries[0].name);
    m.entries[m.entry_count].type = static_cast<uint32_t>(type);
    ++m.entry_count;
  }
  return m;
}

constexpr auto kNet = abi::DeviceType::kNet;
constexpr auto kBlock = abi::DeviceType::kBlock;

TEST(Manifest, AcceptsWellFormedManifests) {
  EXPECT_EQ(validate_manifest(manifest({})), "");
  EXPECT_EQ(validate_manifest(manifest({{"service", kNet}, {"storage", kBlock}})), "");
  EXPECT_EQ(validate_manifest(manifest({{"a_0", kNet}, {"net1", kNet}, {"net2", kNet}})), "");
  std::string longest(abi::kMaxDeviceName, 'x');  // 31 bytes and the NUL: just fits
  EXPECT_EQ(validate_manifest(manifest({{longest.c_str(), kBlock}})), "");
}

TEST(Manifest, AcceptsSixteenDevices) {
  abi::Manifest m{};
  m.abi_version = abi::kAbiVersion;
  m.entry_count = abi::kMaxDevices;
  for (uint32_t i = 0; i < abi::kMaxDevices; ++i) {
    std::snprintf(m.entries[i].name, sizeof m.entries[i].name, "dev%u", i);
    m.entries[i].type = static_cast<uint32_t>(i % 2 ? kNet : kBlock);
  }
  EXPECT_EQ(validate_manifest(m), "");
}

TEST(Manifest, RefusesAbiMismatch) {
  abi::Manifest m = manifest({{"service", kNet}});
  m.abi_version = abi::kAbiVersion + 1;
  EXPECT_EQ(validate_manifest(m), "image built for ABI " + std::to_string(abi::kAbiVersion + 1) +
                                      ", this monitor speaks " + std::to_string(abi::kAbiVersion));
  m.abi_version = 0;
  EXPECT_THAT(validate_manifest(m), HasSubstr("image built for ABI 0"));
}

TEST(Manifest, RefusesTooManyDevices) {
  abi::Manifest m = manifest({});
  m.entry_count = abi::kMaxDevices + 1;
  EXPECT_THAT(validate_manifest(m), HasSubstr("manifest lists 17 devices (at most 16)"));
  m.entry_count = 0xffffffff;
  EXPECT_THAT(validate_manifest(m), HasSubstr("manifest lists 4294967295 devices"));
}

TEST(Manifest, RefusesNameWithoutNul) {
  abi::Manifest m = manifest({{"service", kNet}, {"storage", kBlock}});
  std::memset(m.entries[1].name, 'a', sizeof m.entries[1].name);
  EXPECT_THAT(validate_manifest(m), HasSubstr("manifest device 1: device name too long"));
}

TEST(Manifest, RefusesEmptyName) {
  EXPECT_THAT(validate_manifest(manifest({{"", kNet}})),
              HasSubstr("manifest device 0: empty device name"));
}

TEST(Manifest, RefusesCharactersOutsideTheNameRule) {
  EXPECT_THAT(validate_manifest(manifest({{"Service", kNet}})), HasSubstr("bad character 'S'"));
  EXPECT_THAT(validate_manifest(manifest({{"my-disk", kBlock}})), HasSubstr("bad character '-'"));
  EXPECT_THAT(validate_manifest(manifest({{"a b", kBlock}})), HasSubstr("bad character '\\x20'"));
  // Terminal control bytes are escaped, never printed raw.
  EXPECT_THAT(validate_manifest(manifest({{"x\x1b[2J", kNet}})), HasSubstr("'\\x1b'"));
  EXPECT_THAT(validate_manifest(manifest({{"q'", kNet}})), HasSubstr("'\\x27'"));
}

TEST(Manifest, RefusesUnknownDeviceType) {
  abi::Manifest m = manifest({{"service", kNet}});
  m.entries[0].type = 7;
  EXPECT_THAT(validate_manifest(m),
              HasSubstr("manifest device 0 'service': unknown device type 7"));
  m.entries[0].type = 0;
  EXPECT_THAT(validate_manifest(m), HasSubstr("unknown device type 0"));
}

TEST(Manifest, RefusesDuplicateNames) {
  abi::Manifest m = manifest({{"service", kNet}, {"storage", kBlock}, {"service", kBlock}});
  EXPECT_THAT(validate_manifest(m),
              HasSubstr("manifest devices 0 and 2 are both named 'service' (duplicate device)"));
}

TEST(Manifest, IgnoresEntriesPastTheCount) {
  abi::Manifest m = manifest({{"service", kNet}});
  std::memset(m.entries[1].name, '!', sizeof m.entries[1].name);  // padding, unread
  m.entries[1].type = 99;
  EXPECT_EQ(validate_manifest(m), "");
}

}  // namespace
}  // namespace morgana::tender
