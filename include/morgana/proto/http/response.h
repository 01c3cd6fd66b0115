// HTTP/1.1 responses: what a handler returns (status, fields, body parts) and how the
// server frames it on the wire (RFC 9112 §4 status line, §6 Content-Length or chunked,
// §9.6 Connection: close). The body is a list of parts so that content held in memory
// (a compiled-in file) is written without copying, and content on a device is read
// piece by piece through the response's reader.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "morgana/async/task.h"
#include "morgana/proto/http/request.h"
#include "morgana/rt/result.h"

namespace morgana::http {

// Reads up to out.size() bytes of the response's content at `offset`; returns how many.
using BodyReader =
    std::function<async::Task<Result<size_t>>(uint64_t offset, std::span<uint8_t> out)>;

struct BodyPart {
  enum class Kind : uint8_t { kOwned, kBorrowed, kStream };
  Kind kind = Kind::kOwned;
  std::string owned;                  // kOwned
  std::span<const uint8_t> borrowed;  // kBorrowed: must outlive the write (static content)
  uint64_t offset = 0, length = 0;    // kStream: bytes read through Response::reader
  uint64_t size() const {
    return kind == Kind::kOwned ? owned.size() : kind == Kind::kBorrowed ? borrowed.size() : length;
  }
};

// How the body is delimited (RFC 9112 §6.3). Chunked needs HTTP/1.1; for a 1.0 client
// the server falls back to Content-Length, which it always knows.
enum class Framing : uint8_t { kSized, kChunked };

struct Response {
  uint16_t status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<BodyPart> body;
  BodyReader reader;  // for kStream parts
  Framing framing = Framing::kSized;
  bool close = false;  // end the connection after this response

  Response() = default;
  explicit Response(Status s) : status(uint16_t(s)) {}
  // A complete response with a short text or HTML body.
  static Response text(Status status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8");

  // Replaces every field named `name` (case-insensitive) with one.
  void set_header(std::string_view name, std::string value);
  void add_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
  const std::string* find_header(std::string_view name) const;

  void append(std::string text);
  void append_view(std::span<const uint8_t> bytes);
  void append_stream(uint64_t offset, uint64_t length);
  uint64_t body_size() const;
};

// RFC 9110 §6.4.1: 1xx, 204 and 304 responses never have content.
inline bool status_has_no_body(uint16_t status) {
  return status < 200 || status == 204 || status == 304;
}

struct HeadContext {
  uint8_t version_minor = 1;  // the request's: a 1.0 client gets no chunked framing
  bool keep_alive = true;     // false: "Connection: close" (RFC 9112 §9.6)
  std::string_view date;      // IMF-fixdate for Date (RFC 9110 §6.6.1); empty: none
  std::string_view server;    // for Server (RFC 9110 §10.2.4); empty: none
};

// The status line and fields, ending with the empty line. Adds Date, Server,
// Content-Length or Transfer-Encoding (the chosen framing is stored in `framing`) and
// Connection. Sizes are what a GET would send, so a HEAD response is the same head
// (RFC 9110 §9.3.2).
std::string format_head(const Response& response, const HeadContext& context, Framing& framing);

// "<hex size>\r\n", the line before a chunk's data (RFC 9112 §7.1).
std::string chunk_size_line(uint64_t size);

}  // namespace morgana::http
