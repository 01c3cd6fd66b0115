// The incremental HTTP/1.1 response parser of the client (RFC 9112): bytes go in as they
// arrive from a connection, in pieces of any size; the response comes out once its head
// and body are complete. It frames the body the way RFC 9112 §6.3 says a user agent must
// (no body after HEAD, 1xx, 204 and 304; chunked; Content-Length; else until the server
// closes), skips interim 1xx responses, and checks every limit as bytes arrive, so a
// server can never make the client buffer more than ClientLimits allows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "morgana/proto/http/framing.h"
#include "morgana/proto/http/parser.h"
#include "morgana/proto/http/request.h"
#include "morgana/rt/result.h"

namespace morgana::http {

struct ClientLimits {
  size_t max_header_bytes = 16384;  // status line + fields; trailers have as much again
  size_t max_headers = 100;         // fields in the head; as many trailer fields
  uint64_t max_body = 8 << 20;      // content bytes, stored or given to a body sink
  size_t max_chunk_line = 1024;     // chunk-size line with its extensions
  size_t max_interim = 8;           // 1xx responses before the final one
};

// A field as received: the name's case is kept (compare with iequals), the value has no
// leading or trailing whitespace, and obsolete line folding became single spaces.
struct Field {
  std::string name;
  std::string value;
};

// How the body was delimited (RFC 9112 §6.3).
enum class BodyFraming : uint8_t {
  kNone,     // HEAD, 204, 304 (and 1xx): no content whatever the fields say
  kLength,   // Content-Length
  kChunked,  // Transfer-Encoding: chunked
  kClose,    // neither: the content ends when the server closes the connection
};

struct ClientResponse {
  uint16_t status = 0;
  uint8_t version_minor = 1;  // HTTP/1.0 or 1.1 (a higher 1.x minor counts as 1.1)
  std::string reason;         // the reason phrase, which RFC 9112 §4 says to ignore
  std::vector<Field> headers;
  std::vector<Field> trailers;  // after a chunked body (RFC 9112 §7.1.2)
  std::string body;             // the content; empty when a body sink took it
  uint64_t body_size = 0;       // content bytes received, stored or given to the sink
  BodyFraming framing = BodyFraming::kNone;
  // RFC 9112 §9.3: the connection may carry another request after this response.
  bool keep_alive = false;
  size_t interim = 0;  // 1xx responses skipped before this one

  // The first field with this name (case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const;
  // Every value of a list-valued field, joined as if by commas (RFC 9110 §5.3).
  std::string header_list(std::string_view name) const;
};

// Receives the content piece by piece instead of ClientResponse::body (for content too
// large to hold, or to checksum it as it arrives). Called synchronously from parse().
using BodySink = std::function<void(std::span<const uint8_t>)>;

class ResponseParser {
 public:
  explicit ResponseParser(const ClientLimits& limits = {}) : limits_(limits) {}

  // Starts over for the response to a request made with `method` (a HEAD response has no
  // content); with a sink, content goes to it rather than into response().body.
  void reset(Method method = Method::kGet, BodySink sink = nullptr);

  // Takes the next bytes of the stream. After kComplete, `consumed` may be less than what
  // was given: bytes the server sent after its response. After kError, error_code() and
  // error_reason() say why; the connection must not be used again (RFC 9112 §6.3).
  ParseProgress parse(std::span<const uint8_t> input);
  ParseProgress parse(std::string_view input) {
    return parse({reinterpret_cast<const uint8_t*>(input.data()), input.size()});
  }
  // The server closed the connection: completes content delimited by the close, and is
  // an error (kClosed) anywhere else.
  ParseProgress finish();

  // True once any byte of the response arrived. A reused connection that the server
  // closed before answering (it had timed out while idle) has started() false: the
  // request may be retried on a new connection.
  bool started() const { return started_; }
  // True once the final response's head is parsed: only the content is left.
  bool head_complete() const { return head_done_; }
  const ClientResponse& response() const { return response_; }
  ClientResponse take_response() { return std::move(response_); }
  Errc error_code() const { return error_code_; }
  const char* error_reason() const { return reason_; }

 private:
  enum class Phase : uint8_t { kHead, kBody, kChunked, kUntilClose, kDone, kError };

  ParseProgress fail(Errc code, const char* reason, size_t consumed);
  // Records why the response is refused; returns false for the caller to pass on.
  bool bad(Errc code, const char* reason);
  // One complete line of the head (without its line ending); false after bad().
  bool head_line(std::string_view line);
  bool status_line(std::string_view line);
  bool field_line(std::string_view line, std::vector<Field>& fields, size_t max_fields);
  bool end_of_head();
  bool frame_body();
  ParseProgress parse_chunked(std::string_view input, size_t at);
  void deliver(std::string_view content);

  ClientLimits limits_;
  Method method_ = Method::kGet;
  BodySink sink_;
  Phase phase_ = Phase::kHead;
  bool started_ = false;
  bool head_done_ = false;
  bool status_seen_ = false;  // the current head's status line was parsed
  size_t empty_lines_ = 0;    // before a status line
  LineReader head_;           // the current head's lines (its fields are copied out)
  uint64_t remaining_ = 0;    // of a Content-Length body
  ChunkedDecoder chunked_;
  ClientResponse response_;
  Errc error_code_ = Errc::kMalformed;
  const char* reason_ = "";
};

}  // namespace morgana::http
