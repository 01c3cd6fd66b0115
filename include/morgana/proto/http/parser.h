// The incremental HTTP/1.1 request parser (RFC 9112): bytes go in as they arrive from a
// connection, in pieces of any size; a request comes out once its head and body are
// complete, and the bytes after it (a pipelined request) are left for the next one.
// Every limit is checked as bytes arrive, so a peer can never make it buffer more than
// the limits allow, and each violation maps to the status RFC 9110 §15 names for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "morgana/proto/http/framing.h"
#include "morgana/proto/http/request.h"

namespace morgana::http {

struct Limits {
  size_t max_request_line = 8192;   // longer: 414 (RFC 9112 §3: at least 8000 octets advised)
  size_t max_header_bytes = 16384;  // request line + fields; larger: 431 (RFC 6585 §5)
  size_t max_headers = 100;         // more fields: 431
  size_t max_body = 1 << 20;        // larger Content-Length or chunked total: 413
  size_t max_chunk_line = 1024;     // chunk-size line with extensions; longer: 400
  // RFC 9110 §15.5.12: a server may insist on a declared length. POST, PUT and PATCH
  // without Content-Length or chunked get 411 when this is set.
  bool require_length = true;
};

enum class ParseStatus : uint8_t {
  kIncomplete,  // every byte given was consumed; give more
  kComplete,    // request() is ready; `consumed` may be less than what was given
  kError,       // error_status() says what to answer; the connection must close after it
};

struct ParseProgress {
  ParseStatus status;
  size_t consumed;  // bytes of the input that belong to this request
};

class RequestParser {
 public:
  explicit RequestParser(const Limits& limits = {}) : limits_(limits) {}

  // Takes the next bytes of the stream. After kComplete or kError, call reset() before
  // parsing again (the input after `consumed` belongs to the next request).
  ParseProgress parse(std::span<const uint8_t> input);
  ParseProgress parse(std::string_view input) {
    return parse({reinterpret_cast<const uint8_t*>(input.data()), input.size()});
  }

  // Forgets the request, keeping the buffers' capacity.
  void reset();

  // True once any byte of a request arrived (leading empty lines included): a timeout
  // after that is a 408, before it an idle keep-alive connection closing quietly.
  bool started() const { return started_; }
  // True once the head is parsed: request() has everything but the body.
  bool head_complete() const { return head_done_; }
  const Request& request() const { return request_; }
  Status error_status() const { return error_; }
  const char* error_reason() const { return reason_; }

 private:
  enum class Phase : uint8_t { kHead, kBody, kChunked, kDone, kError };

  ParseProgress fail(Status status, const char* reason, size_t consumed);
  // Records why the request is refused; returns false for the caller to pass on.
  bool bad(Status status, const char* reason);
  // One complete line of the head; false after bad().
  bool head_line(std::string_view line);
  // Splits the buffered head into the request line and fields; sets phase_ to the body's.
  bool parse_head();
  bool parse_request_line(std::string_view line);
  bool parse_field(std::string_view line);
  bool frame_body();
  ParseProgress parse_chunked(std::string_view input, size_t at);

  Limits limits_;
  Phase phase_ = Phase::kHead;
  bool started_ = false;
  bool head_done_ = false;  // the head parsed without error
  LineReader head_;         // the head's bytes as received (the request's views point here)
  size_t empty_lines_ = 0;  // before the request line
  size_t lines_ = 0;        // lines of the head seen (request line included)
  uint64_t remaining_ = 0;  // of a Content-Length body
  ChunkedDecoder chunked_;
  Request request_;
  Status error_ = Status::kBadRequest;
  const char* reason_ = "";
};

}  // namespace morgana::http
