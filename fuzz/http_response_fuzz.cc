// Fuzzes the HTTP/1.1 response parser of the client (src/proto/http/response_parser.cc).
// The first byte picks how the rest is cut into pieces, small limits, HEAD, a body sink
// and whether the server closes at the end; the rest is a stream of responses on one
// connection. Invariants: consumed never exceeds what was given, limits hold, a response
// without content has none, content delimited by the close is never kept alive, errors
// are the documented codes, and cutting the stream into pieces changes nothing: every
// response and error matches parsing the whole stream in one piece.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "morgana/proto/http/response_parser.h"

namespace {

using namespace morgana;
using namespace morgana::http;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

struct Outcome {
  ParseStatus status;
  Errc code;
  std::string reason;
  uint16_t http_status;
  std::string body;
  uint64_t body_size;
  size_t headers, trailers;
  bool keep_alive;
  bool operator==(const Outcome&) const = default;
};

std::vector<Outcome> run(std::string_view stream, size_t piece, uint8_t control) {
  ClientLimits limits;
  if (control & 0x80) {
    limits.max_header_bytes = 128;
    limits.max_headers = 4;
    limits.max_body = 64;
    limits.max_chunk_line = 8;
    limits.max_interim = 2;
  }
  const Method method = control & 0x40 ? Method::kHead : Method::kGet;
  const bool use_sink = control & 0x20;
  const bool close_at_end = control & 0x10;
  std::vector<Outcome> outcomes;
  ResponseParser parser(limits);
  uint64_t sunk = 0;
  auto reset = [&] {
    sunk = 0;
    if (use_sink)
      parser.reset(method, [&sunk](std::span<const uint8_t> bytes) { sunk += bytes.size(); });
    else
      parser.reset(method);
  };
  auto record = [&](ParseStatus status) {
    const ClientResponse& r = parser.response();
    if (status == ParseStatus::kError) {
      // Content delivered before an error depends on where the pieces were cut.
      outcomes.push_back(
          {status, parser.error_code(), parser.error_reason(), 0, {}, 0, 0, 0, false});
      Errc code = parser.error_code();
      check(code == Errc::kMalformed || code == Errc::kOutOfRange || code == Errc::kUnsupported ||
            code == Errc::kClosed);
      check(parser.error_reason() != nullptr && parser.error_reason()[0] != '\0');
      return;
    }
    outcomes.push_back({status, Errc::kMalformed, "", r.status, r.body, r.body_size,
                        r.headers.size(), r.trailers.size(), r.keep_alive});
    check(r.status >= 200 && r.status <= 599);
    check(r.body_size <= limits.max_body);
    check(r.headers.size() <= limits.max_headers && r.trailers.size() <= limits.max_headers);
    check(r.interim <= limits.max_interim);
    check(use_sink ? r.body.empty() && sunk == r.body_size : r.body.size() == r.body_size);
    if (r.framing == BodyFraming::kNone) check(r.body_size == 0);
    if (r.framing == BodyFraming::kClose) check(!r.keep_alive);
    if (method == Method::kHead || r.status == 204 || r.status == 304)
      check(r.framing == BodyFraming::kNone);
    for (const Field& f : r.headers) check(!f.name.empty());
  };

  reset();
  size_t offset = 0;
  while (offset < stream.size()) {
    size_t n = piece < stream.size() - offset ? piece : stream.size() - offset;
    ParseProgress p = parser.parse(stream.substr(offset, n));
    check(p.consumed <= n);
    offset += p.consumed;
    if (p.status == ParseStatus::kError) {
      record(p.status);
      return outcomes;
    }
    if (p.status == ParseStatus::kComplete) {
      record(p.status);
      reset();
    } else {
      check(p.consumed == n);
    }
  }
  if (close_at_end) {
    ParseProgress p = parser.finish();
    // A close with no byte of a next response is how a connection ends, not a response.
    if (p.status != ParseStatus::kError || parser.started()) record(p.status);
  }
  return outcomes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t control = data[0];
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t piece = (control & 0x0f) + 1;
  std::vector<Outcome> whole = run(stream, stream.size() + 1, control);
  std::vector<Outcome> cut = run(stream, piece, control);
  check(whole == cut);
  return 0;
}
