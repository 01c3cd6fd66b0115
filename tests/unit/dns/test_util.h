// Helpers for the DNS unit tests: the packets capture.sh recorded from dig, kdig and NSD,
// the example zone, and building messages byte by byte.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "morgana/proto/dns/message.h"
#include "morgana/proto/dns/presentation.h"
#include "morgana/proto/dns/zone.h"

namespace dns_test {

inline std::filesystem::path source_dir() {
  return std::filesystem::path(__FILE__).parent_path();
}

inline std::vector<uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// tests/unit/dns/data/NAME.query.bin or NAME.response.bin.
inline std::vector<uint8_t> capture(const std::string& name, const std::string& which) {
  return read_file(source_dir() / "data" / (name + "." + which + ".bin"));
}

inline std::string example_zone_text() {
  auto bytes = read_file(source_dir() / "../../../examples/dns/zones/morgana.test.zone");
  return {bytes.begin(), bytes.end()};
}

inline morgana::dns::Name name(const char* text) {
  auto parsed = morgana::dns::Name::parse(text);
  EXPECT_TRUE(parsed.ok()) << text;
  return parsed.ok() ? *parsed : morgana::dns::Name();
}

inline morgana::dns::Zones example_zones() {
  morgana::dns::Diagnostic error;
  auto zone = morgana::dns::Zone::load(example_zone_text(), name("morgana.test."),
                                       "morgana.test.zone", error);
  EXPECT_TRUE(zone.ok()) << error.message();
  morgana::dns::Zones zones;
  if (zone.ok()) {
    EXPECT_TRUE(zones.add(std::move(*zone)).ok());
  }
  return zones;
}

// Each section as sorted presentation lines (names lower-cased by the comparison's
// purpose: NSD and Morgana may order records differently within a section).
inline std::vector<std::string> sorted_lines(const std::vector<morgana::dns::Record>& records) {
  std::vector<std::string> lines;
  for (const auto& record : records) lines.push_back(morgana::dns::to_string(record));
  std::sort(lines.begin(), lines.end());
  return lines;
}

// Message bytes from a list of byte values, for hand-built packets.
inline std::vector<uint8_t> bytes(std::initializer_list<int> values) {
  std::vector<uint8_t> out;
  for (int v : values) out.push_back(static_cast<uint8_t>(v));
  return out;
}

}  // namespace dns_test
