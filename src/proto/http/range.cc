// Range header parsing (RFC 9110 §14.1.1-§14.2).
#include "morgana/proto/http/range.h"

#include "morgana/proto/http/request.h"
#include "syntax.h"

namespace morgana::http {
namespace {

bool read_number(std::string_view& s, uint64_t& out) {
  size_t i = 0;
  out = 0;
  while (i < s.size() && is_digit(s[i])) {
    if (out > (UINT64_MAX - 9) / 10) return false;
    out = out * 10 + uint64_t(s[i] - '0');
    ++i;
  }
  if (i == 0) return false;
  s.remove_prefix(i);
  return true;
}

}  // namespace

RangeVerdict parse_range(std::string_view header, uint64_t size, std::vector<ByteRange>& ranges,
                         size_t max_ranges) {
  ranges.clear();
  size_t equals = header.find('=');
  // §14.1: the only range unit we know is "bytes" (case-insensitive).
  if (equals == std::string_view::npos || !iequals(trim_ows(header.substr(0, equals)), "bytes"))
    return RangeVerdict::kIgnore;
  std::string_view set = header.substr(equals + 1);
  size_t count = 0;
  bool any = false;
  while (!set.empty()) {
    size_t comma = set.find(',');
    std::string_view spec = trim_ows(set.substr(0, comma));
    set = comma == std::string_view::npos ? std::string_view() : set.substr(comma + 1);
    if (spec.empty()) continue;  // §5.6.1: empty list elements are ignored
    if (++count > max_ranges) return RangeVerdict::kIgnore;
    any = true;
    uint64_t first = 0, last = 0;
    if (spec.front() == '-') {
      // suffix-range: the last N bytes; N = 0 is unsatisfiable (§14.1.2).
      spec.remove_prefix(1);
      if (!read_number(spec, last) || !spec.empty()) return RangeVerdict::kIgnore;
      if (last == 0 || size == 0) continue;
      first = last >= size ? 0 : size - last;
      ranges.push_back({first, size - 1});
      continue;
    }
    if (!read_number(spec, first) || spec.empty() || spec.front() != '-')
      return RangeVerdict::kIgnore;
    spec.remove_prefix(1);
    if (spec.empty()) {
      last = UINT64_MAX;
    } else if (!read_number(spec, last) || !spec.empty() || last < first) {
      // §14.1.1: first > last makes the range-spec invalid.
      return RangeVerdict::kIgnore;
    }
    if (first >= size) continue;  // unsatisfiable on its own
    ranges.push_back({first, last >= size ? size - 1 : last});
  }
  if (!any) return RangeVerdict::kIgnore;
  return ranges.empty() ? RangeVerdict::kUnsatisfiable : RangeVerdict::kSatisfiable;
}

}  // namespace morgana::http
