// Range requests (RFC 9110 §14): parsing a Range header against a representation's size.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace morgana::http {

struct ByteRange {
  uint64_t first;
  uint64_t last;  // inclusive
  uint64_t length() const { return last - first + 1; }
};

enum class RangeVerdict : uint8_t {
  kIgnore,         // not a byte range we honour: answer with the whole representation
  kSatisfiable,    // `ranges` holds at least one range: 206
  kUnsatisfiable,  // no range overlaps the content: 416 with Content-Range: bytes */size
};

// RFC 9110 §14.1.2 byte-range-set. Syntax errors and more than `max_ranges` ranges are
// ignored (§14.2 allows it; many small ranges are a known denial-of-service vector), and
// ranges are clipped to the content. Ranges are kept in the order requested.
RangeVerdict parse_range(std::string_view header, uint64_t size, std::vector<ByteRange>& ranges,
                         size_t max_ranges = 16);

}  // namespace morgana::http
