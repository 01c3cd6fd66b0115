// libFuzzer target for the zone-file parser (src/proto/dns/zone_file.cc). Input is zone
// text with the origin "fuzz.test."; every record parsed must print and re-parse to
// itself, and a zone that validates is queried for each of its names.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "morgana/proto/dns/answer.h"
#include "morgana/proto/dns/presentation.h"
#include "morgana/proto/dns/zone.h"
#include "morgana/proto/dns/zone_file.h"

namespace {

using namespace morgana::dns;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Name origin = *Name::parse("fuzz.test.");
  Diagnostic error;
  auto records = parse_zone_file(text, origin, "fuzz.zone", error);
  if (!records.ok()) {
    check(error.line >= 1 && error.reason != nullptr && !error.message().empty());
    return 0;
  }
  for (const auto& record : *records) {
    check(record.name.is_subdomain_of(origin));
    std::string line = to_string(record) + "\n";
    Diagnostic again_error;
    auto again = parse_zone_file(line, origin, "again", again_error);
    check(again.ok() && again->size() == 1 && again->front() == record);
  }
  auto zone = Zone::create(origin, std::move(*records), error);
  if (!zone.ok()) return 0;
  Zones zones;
  check(zones.add(std::move(*zone)).ok());
  const Zone& z = *zones.find(origin);
  for (const auto& [name, node] : z.nodes()) {
    for (Type type : {Type::kA, Type::kAny, Type::kMx, Type::kDs}) {
      Message query;
      query.questions.push_back({name, type, Class::kIn});
      auto response = answer(zones, query, Transport::kUdp, 512);
      check(!response.empty() && response.size() <= 512 && decode(response).ok());
    }
  }
  return 0;
}
