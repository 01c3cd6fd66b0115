// The zone files compiled into the dns image (generated from examples/dns/zones/*.zone by
// embed_zones.cmake), each with the origin its file name gives.
#pragma once

#include <cstddef>
#include <string_view>

namespace dns_example {

struct EmbeddedZone {
  const char* file;    // "zones/morgana.test.zone", for error messages
  const char* origin;  // "morgana.test."
  std::string_view text;
};

extern const EmbeddedZone kEmbeddedZones[];
extern const size_t kEmbeddedZoneCount;

}  // namespace dns_example
