// HTTP/1.1 requests as the parser delivers them (RFC 9112 §2-§3, RFC 9110 §9), and the
// status codes and reason phrases a server answers with (RFC 9110 §15).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace morgana::http {

// RFC 9110 §9.3 and RFC 5789 (PATCH). Anything else parses as a valid token but is not
// implemented: the parser answers it with 501 (RFC 9110 §9.1).
enum class Method : uint8_t {
  kGet,
  kHead,
  kPost,
  kPut,
  kDelete,
  kConnect,
  kOptions,
  kTrace,
  kPatch
};

const char* method_name(Method method);
std::optional<Method> parse_method(std::string_view token);

// The status codes this library produces. Values are the wire numbers.
enum class Status : uint16_t {
  kContinue = 100,
  kOk = 200,
  kNoContent = 204,
  kPartialContent = 206,
  kMovedPermanently = 301,
  kNotModified = 304,
  kBadRequest = 400,
  kNotFound = 404,
  kMethodNotAllowed = 405,
  kRequestTimeout = 408,
  kLengthRequired = 411,
  kPreconditionFailed = 412,
  kContentTooLarge = 413,
  kUriTooLong = 414,
  kRangeNotSatisfiable = 416,
  kRequestHeaderFieldsTooLarge = 431,
  kInternalServerError = 500,
  kNotImplemented = 501,
  kServiceUnavailable = 503,
  kHttpVersionNotSupported = 505,
};

// The RFC 9110 §15 reason phrase ("Not Found"), or "Unknown".
const char* reason_phrase(uint16_t status);
inline const char* reason_phrase(Status status) {
  return reason_phrase(uint16_t(status));
}

struct Header {
  std::string_view name;   // as received; compare with iequals()
  std::string_view value;  // without leading and trailing whitespace (RFC 9110 §5.5)
};

// ASCII case-insensitive equality: field names, tokens and codings are case-insensitive
// (RFC 9110 §5.1, §7.6.1, §8.4.1).
bool iequals(std::string_view a, std::string_view b);

// One parsed request. The views point into the parser's buffer and stay valid until the
// parser is reset for the next request.
struct Request {
  Method method = Method::kGet;
  std::string_view target;    // the request-target as received (RFC 9112 §3.2)
  std::string_view path;      // its path, still percent-encoded; "*" for OPTIONS *
  std::string_view query;     // after '?', without it; empty if none
  uint8_t version_minor = 1;  // HTTP/1.0 or 1.1 (a higher 1.x minor is treated as 1.1)
  std::vector<Header> headers;
  std::string body;  // decoded (chunked framing removed)
  bool keep_alive =
      true;  // RFC 9112 §9.3: persistent unless "close", or HTTP/1.0 without keep-alive
  bool expect_continue = false;  // "Expect: 100-continue" (RFC 9110 §10.1.1)

  // The first field with this name (case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const;
  // Every value of a list-valued field, joined as if by commas (RFC 9110 §5.3).
  std::string header_list(std::string_view name) const;
};

// True if the comma-separated list `list` (RFC 9110 §5.6.1) contains `token`
// (case-insensitive, parameters after ';' ignored).
bool list_contains(std::string_view list, std::string_view token);

}  // namespace morgana::http
