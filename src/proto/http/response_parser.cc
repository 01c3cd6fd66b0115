// ResponseParser: RFC 9112's response grammar and RFC 9112 §6.3's body framing for a user
// agent, one state per part of the message, checking every limit as bytes arrive.
#include "morgana/proto/http/response_parser.h"

#include <algorithm>
#include <cstring>

#include "morgana/proto/http/response.h"

#include "syntax.h"

namespace morgana::http {
namespace {

// Servers do not send empty lines before a status line, but a few send a stray CRLF after
// a body; more than a few is not a response but noise.
constexpr size_t kMaxLeadingEmptyLines = 8;

}  // namespace

std::optional<std::string_view> ClientResponse::header(std::string_view name) const {
  return first_field(headers, name);
}

std::string ClientResponse::header_list(std::string_view name) const {
  return joined_fields(headers, name);
}

void ResponseParser::reset(Method method, BodySink sink) {
  method_ = method;
  sink_ = std::move(sink);
  phase_ = Phase::kHead;
  started_ = false;
  head_done_ = false;
  status_seen_ = false;
  empty_lines_ = 0;
  head_bytes_ = 0;
  line_.clear();
  remaining_ = 0;
  response_ = ClientResponse{};
  error_code_ = Errc::kMalformed;
  reason_ = "";
}

ParseProgress ResponseParser::fail(Errc code, const char* reason, size_t consumed) {
  phase_ = Phase::kError;
  error_code_ = code;
  reason_ = reason;
  response_.keep_alive = false;
  return {ParseStatus::kError, consumed};
}

void ResponseParser::deliver(const char* data, size_t size) {
  if (size == 0) return;
  response_.body_size += size;
  if (sink_)
    sink_({reinterpret_cast<const uint8_t*>(data), size});
  else
    response_.body.append(data, size);
}

ParseProgress ResponseParser::parse(std::span<const uint8_t> input) {
  const auto* data = reinterpret_cast<const char*>(input.data());
  const size_t n = input.size();
  size_t i = 0;
  if (phase_ == Phase::kError) return {ParseStatus::kError, 0};
  if (phase_ == Phase::kDone) return {ParseStatus::kComplete, 0};
  if (n > 0) started_ = true;

  while (i < n && phase_ != Phase::kDone) {
    switch (phase_) {
      case Phase::kBody:
      case Phase::kChunkData: {
        size_t take = size_t(std::min<uint64_t>(remaining_, n - i));
        deliver(data + i, take);
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) phase_ = phase_ == Phase::kBody ? Phase::kDone : Phase::kChunkDataEnd;
        break;
      }
      case Phase::kUntilClose: {
        size_t take = n - i;
        if (take > limits_.max_body - response_.body_size)
          return fail(Errc::kOutOfRange, "response body larger than the limit", i);
        deliver(data + i, take);
        i += take;
        break;
      }
      case Phase::kHead:
      case Phase::kChunkSize:
      case Phase::kChunkDataEnd:
      case Phase::kTrailer: {
        const char* lf = static_cast<const char*>(std::memchr(data + i, '\n', n - i));
        size_t take = lf ? size_t(lf - (data + i)) + 1 : n - i;
        // Check the limit before buffering: a line never grows past what its section allows.
        if (phase_ == Phase::kHead || phase_ == Phase::kTrailer) {
          if (head_bytes_ + line_.size() + take > limits_.max_header_bytes)
            return fail(Errc::kOutOfRange,
                        phase_ == Phase::kHead ? "response header section larger than the limit"
                                               : "trailer section larger than the limit",
                        i);
        } else if (line_.size() + take > limits_.max_chunk_line + 2) {
          return fail(Errc::kOutOfRange, "chunk-size line longer than the limit", i);
        }
        line_.append(data + i, take);
        i += take;
        if (!lf) break;
        head_bytes_ += line_.size();
        // RFC 9112 §2.2: a lone LF may end a line, and a CR before it is dropped.
        std::string_view line = strip_cr(std::string_view(line_).substr(0, line_.size() - 1));
        bool good = phase_ == Phase::kHead ? head_line(line) : chunk_line(line);
        if (!good) return fail(error_code_, reason_, i);
        line_.clear();
        break;
      }
      case Phase::kDone:
      case Phase::kError:
        break;
    }
  }
  if (phase_ == Phase::kDone) return {ParseStatus::kComplete, i};
  return {ParseStatus::kIncomplete, i};
}

ParseProgress ResponseParser::finish() {
  switch (phase_) {
    case Phase::kUntilClose:
      // RFC 9112 §6.3 rule 8: the close is the end of the content.
      phase_ = Phase::kDone;
      return {ParseStatus::kComplete, 0};
    case Phase::kDone:
      return {ParseStatus::kComplete, 0};
    case Phase::kError:
      return {ParseStatus::kError, 0};
    default:
      // RFC 9112 §8: a message cut short by a close is incomplete, never a response.
      return fail(Errc::kClosed,
                  started_ ? "the server closed the connection before the response was complete"
                           : "the server closed the connection without responding",
                  0);
  }
}

bool ResponseParser::head_line(std::string_view line) {
  auto bad = [this](Errc code, const char* reason) {
    error_code_ = code;
    reason_ = reason;
    return false;
  };
  if (!status_seen_) {
    if (line.empty()) {
      head_bytes_ = 0;
      if (++empty_lines_ > kMaxLeadingEmptyLines)
        return bad(Errc::kMalformed, "too many empty lines before the status line");
      return true;
    }
    return status_line(line);
  }
  if (line.empty()) return end_of_head();
  if (line.front() == ' ' || line.front() == '\t') {
    // RFC 9112 §5.2: a user agent that receives obs-fold in a response MUST replace each
    // one with SP before interpreting the field.
    if (response_.headers.empty()) return bad(Errc::kMalformed, "line folding before any field");
    std::string_view more = trim_ows(line);
    if (!valid_field_value(more)) return bad(Errc::kMalformed, "bad header field value");
    std::string& value = response_.headers.back().value;
    if (!more.empty()) {
      if (!value.empty()) value += ' ';
      value += more;
    }
    return true;
  }
  return field_line(line, response_.headers, limits_.max_headers);
}

bool ResponseParser::status_line(std::string_view line) {
  auto bad = [this](Errc code, const char* reason) {
    error_code_ = code;
    reason_ = reason;
    return false;
  };
  // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ], and
  // §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive.
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || !is_digit(line[5]) || line[6] != '.' ||
      !is_digit(line[7]) || line[8] != ' ')
    return bad(Errc::kMalformed, "bad status line");
  if (line[5] != '1') return bad(Errc::kUnsupported, "response HTTP version is not 1.x");
  if (!is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]))
    return bad(Errc::kMalformed, "bad status code");
  unsigned code =
      unsigned(line[9] - '0') * 100 + unsigned(line[10] - '0') * 10 + unsigned(line[11] - '0');
  // RFC 9110 §15: status codes are 100-599; anything else is invalid.
  if (code < 100 || code > 599) return bad(Errc::kMalformed, "status code out of range");
  // RFC 9112 §4: the SP before an empty reason-phrase is required, but a client SHOULD
  // be lenient about its absence, as many parsers are.
  std::string_view reason;
  if (line.size() > 12) {
    if (line[12] != ' ') return bad(Errc::kMalformed, "bad status line");
    reason = line.substr(13);
  }
  if (!valid_field_value(reason)) return bad(Errc::kMalformed, "bad reason phrase");
  response_.status = uint16_t(code);
  response_.version_minor = line[7] == '0' ? 0 : 1;
  response_.reason.assign(reason);
  status_seen_ = true;
  return true;
}

bool ResponseParser::field_line(std::string_view line, std::vector<Field>& fields,
                                size_t max_fields) {
  auto bad = [this](Errc code, const char* reason) {
    error_code_ = code;
    reason_ = reason;
    return false;
  };
  if (fields.size() >= max_fields)
    return bad(Errc::kOutOfRange, "more header fields than the limit");
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return bad(Errc::kMalformed, "bad header field");
  std::string_view name = line.substr(0, colon);
  // RFC 9112 §5.1: no whitespace between the field name and the colon; such a field is a
  // known way to smuggle a second reading of the message, so it is refused.
  if (!valid_token(name)) return bad(Errc::kMalformed, "bad header field name");
  std::string_view value = trim_ows(line.substr(colon + 1));
  if (!valid_field_value(value)) return bad(Errc::kMalformed, "bad header field value");
  fields.push_back({std::string(name), std::string(value)});
  return true;
}

bool ResponseParser::end_of_head() {
  auto bad = [this](Errc code, const char* reason) {
    error_code_ = code;
    reason_ = reason;
    return false;
  };
  uint16_t status = response_.status;
  if (status < 200) {
    // RFC 9110 §15.2.2: we never ask to switch protocols, so a 101 is a broken server.
    if (status == 101) return bad(Errc::kUnsupported, "101 Switching Protocols was not asked for");
    // RFC 9110 §15.2: a client MUST be able to parse and ignore interim responses.
    if (++response_.interim > limits_.max_interim)
      return bad(Errc::kOutOfRange, "more interim (1xx) responses than the limit");
    size_t interim = response_.interim;
    response_ = ClientResponse{};
    response_.interim = interim;
    status_seen_ = false;
    empty_lines_ = 0;
    head_bytes_ = 0;
    return true;
  }
  if (!frame_body()) return false;
  head_done_ = true;
  head_bytes_ = 0;  // the trailer section has a budget of its own
  return true;
}

bool ResponseParser::frame_body() {
  auto bad = [this](Errc code, const char* reason) {
    error_code_ = code;
    reason_ = reason;
    return false;
  };
  ClientResponse& r = response_;
  std::string connection = r.header_list("connection");
  if (r.version_minor == 0)
    r.keep_alive = list_contains(connection, "keep-alive") && !list_contains(connection, "close");
  else
    r.keep_alive = !list_contains(connection, "close");

  // RFC 9112 §6.3 rule 1: HEAD, 1xx, 204 and 304 responses end with their head, whatever
  // Content-Length or Transfer-Encoding say (they describe what a GET would get).
  if (method_ == Method::kHead || status_has_no_body(r.status)) {
    r.framing = BodyFraming::kNone;
    phase_ = Phase::kDone;
    return true;
  }
  bool has_length = false, has_te = false;
  uint64_t length = 0;
  for (const Field& field : r.headers) {
    if (iequals(field.name, "transfer-encoding")) {
      has_te = true;
    } else if (iequals(field.name, "content-length")) {
      // RFC 9112 §6.3 rule 5: a list of identical values may be taken as one value; any
      // other invalid value is an unrecoverable framing error.
      std::string_view list = field.value;
      do {
        size_t comma = list.find(',');
        std::string_view item = trim_ows(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        if (item.empty()) return bad(Errc::kMalformed, "bad Content-Length");
        uint64_t value = 0;
        for (char c : item) {
          if (!is_digit(c)) return bad(Errc::kMalformed, "bad Content-Length");
          if (__builtin_mul_overflow(value, 10u, &value) ||
              __builtin_add_overflow(value, uint64_t(c - '0'), &value) || value > limits_.max_body)
            return bad(Errc::kOutOfRange, "Content-Length larger than the body limit");
        }
        if (has_length && value != length)
          return bad(Errc::kMalformed, "conflicting Content-Length");
        has_length = true;
        length = value;
      } while (!list.empty());
    }
  }
  if (has_te) {
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
    if (r.version_minor == 0)
      return bad(Errc::kMalformed, "Transfer-Encoding in an HTTP/1.0 response");
    // RFC 9112 §6.3 rule 3: with both, Transfer-Encoding wins, but the message "ought to
    // be handled as an error" (response splitting, request smuggling): it is.
    if (has_length)
      return bad(Errc::kMalformed, "both Content-Length and Transfer-Encoding in a response");
    std::string codings = r.header_list("transfer-encoding");
    std::string_view list(codings);
    size_t chunked = 0, other = 0;
    bool last_chunked = false;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view item = trim_ows(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      if (item.empty()) continue;
      last_chunked = iequals(item, "chunked");
      if (last_chunked)
        ++chunked;
      else
        ++other;
    }
    // RFC 9112 §6.3 rule 4 would read a body whose final coding is not chunked until the
    // close, but its content would still be in a coding this client cannot undo.
    if (other > 0) return bad(Errc::kUnsupported, "transfer coding other than chunked");
    // RFC 9112 §7: chunked MUST NOT be applied more than once.
    if (chunked != 1 || !last_chunked) return bad(Errc::kMalformed, "chunked applied twice");
    r.framing = BodyFraming::kChunked;
    phase_ = Phase::kChunkSize;
    return true;
  }
  if (has_length) {
    r.framing = BodyFraming::kLength;
    remaining_ = length;
    phase_ = length > 0 ? Phase::kBody : Phase::kDone;
    return true;
  }
  // RFC 9112 §6.3 rule 8: the content runs until the server closes the connection, which
  // therefore cannot carry another request.
  r.framing = BodyFraming::kClose;
  r.keep_alive = false;
  phase_ = Phase::kUntilClose;
  return true;
}

bool ResponseParser::chunk_line(std::string_view line) {
  auto bad = [this](Errc code, const char* reason) {
    error_code_ = code;
    reason_ = reason;
    return false;
  };
  if (phase_ == Phase::kChunkDataEnd) {
    // RFC 9112 §7.1: chunk-data is followed by exactly CRLF.
    if (!line.empty()) return bad(Errc::kMalformed, "chunk data longer than its size");
    head_bytes_ = 0;
    phase_ = Phase::kChunkSize;
    return true;
  }
  if (phase_ == Phase::kChunkSize) {
    head_bytes_ = 0;  // chunk lines have their own limit; only trailers count as a head
    // RFC 9112 §7.1: chunk-size = 1*HEXDIG, then optional extensions, which we ignore
    // (§7.1.1: a recipient MUST ignore unrecognised extensions).
    size_t digits = 0;
    uint64_t size = 0;
    while (digits < line.size() && is_hex_digit(line[digits])) {
      if (size > (uint64_t(1) << 56))
        return bad(Errc::kOutOfRange, "chunk larger than the body limit");
      size = size * 16 + hex_value(line[digits]);
      ++digits;
    }
    if (digits == 0) return bad(Errc::kMalformed, "bad chunk size");
    std::string_view rest = line.substr(digits);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    if (!rest.empty() && rest.front() != ';') return bad(Errc::kMalformed, "bad chunk size");
    if (!valid_field_value(rest)) return bad(Errc::kMalformed, "bad chunk extension");
    if (size > limits_.max_body - response_.body_size)
      return bad(Errc::kOutOfRange, "chunked body larger than the body limit");
    remaining_ = size;
    phase_ = size == 0 ? Phase::kTrailer : Phase::kChunkData;
    return true;
  }
  // Phase::kTrailer. RFC 9112 §7.1.2: trailer fields, then an empty line.
  if (line.empty()) {
    phase_ = Phase::kDone;
    return true;
  }
  if (line.front() == ' ' || line.front() == '\t')
    return bad(Errc::kMalformed, "line folding in the trailer section");
  return field_line(line, response_.trailers, limits_.max_headers);
}

}  // namespace morgana::http
