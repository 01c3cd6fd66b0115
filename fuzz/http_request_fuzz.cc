// Fuzzes the HTTP/1.1 request parser (src/proto/http/parser.cc). The first byte picks
// how the rest is cut into pieces (so every split point of the incremental parser is
// reached) and small limits (so every limit's status is reached); the input is a stream
// of pipelined requests. Invariants: consumed never exceeds what was given, a complete
// request's views lie inside the parser's buffer, and an error status is one of those
// the parser documents.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "morgana/proto/http/parser.h"

namespace {

using namespace morgana::http;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

bool documented(Status s) {
  switch (s) {
    case Status::kBadRequest:
    case Status::kLengthRequired:
    case Status::kContentTooLarge:
    case Status::kUriTooLong:
    case Status::kRequestHeaderFieldsTooLarge:
    case Status::kNotImplemented:
    case Status::kHttpVersionNotSupported:
      return true;
    default:
      return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t control = data[0];
  ++data;
  --size;
  Limits limits;
  if (control & 0x80) {
    limits.max_request_line = 64;
    limits.max_header_bytes = 256;
    limits.max_headers = 4;
    limits.max_body = 64;
  }
  limits.require_length = control & 0x40;
  size_t piece = (control & 0x3f) + 1;
  RequestParser parser(limits);
  size_t offset = 0;
  while (offset < size) {
    size_t n = piece < size - offset ? piece : size - offset;
    std::span<const uint8_t> input(data + offset, n);
    ParseProgress p = parser.parse(input);
    check(p.consumed <= n);
    offset += p.consumed;
    if (p.status == ParseStatus::kError) {
      check(documented(parser.error_status()));
      break;
    }
    if (p.status == ParseStatus::kComplete) {
      const Request& r = parser.request();
      check(r.body.size() <= limits.max_body);
      check(r.headers.size() <= limits.max_headers);
      for (const Header& h : r.headers) check(!h.name.empty());
      check(!r.target.empty());
      parser.reset();
    } else {
      check(p.consumed == n);
    }
  }
  return 0;
}
