// ResponseParser: RFC 9112's response grammar and RFC 9112 §6.3's body framing for a user
// agent, one state per part of the message, checking every limit as bytes arrive.
#include "morgana/proto/http/response_parser.h"

#include <algorithm>

#include "morgana/proto/http/framing.h"
#include "morgana/proto/http/response.h"
#include "syntax.h"

namespace morgana::http {
namespace {

// Servers do not send empty lines before a status line, but a few send a stray CRLF after
// a body; more than a few is not a response but noise.
constexpr size_t kMaxLeadingEmptyLines = 8;

// RFC 9112 §7.1 violations in a chunked response body, and the error each gives.
constexpr ChunkedAnswers<Errc> kChunkedAnswers = {
    .line_too_long = {Errc::kOutOfRange, "chunk-size line longer than the limit"},
    .bad_size = {Errc::kMalformed, "bad chunk size"},
    .size_too_large = {Errc::kOutOfRange, "chunk larger than the body limit"},
    .bad_extension = {Errc::kMalformed, "bad chunk extension"},
    .body_too_large = {Errc::kOutOfRange, "chunked body larger than the body limit"},
    .data_too_long = {Errc::kMalformed, "chunk data longer than its size"},
    .trailer_too_large = {Errc::kOutOfRange, "trailer section larger than the limit"},
};

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
  head_.start_section();
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

bool ResponseParser::bad(Errc code, const char* reason) {
  error_code_ = code;
  reason_ = reason;
  return false;
}

void ResponseParser::deliver(std::string_view content) {
  if (content.empty()) return;
  response_.body_size += content.size();
  if (sink_)
    sink_({reinterpret_cast<const uint8_t*>(content.data()), content.size()});
  else
    response_.body.append(content);
}

ParseProgress ResponseParser::parse(std::span<const uint8_t> input) {
  const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
  size_t i = 0;
  if (phase_ == Phase::kError) return {ParseStatus::kError, 0};
  if (phase_ == Phase::kDone) return {ParseStatus::kComplete, 0};
  if (!text.empty()) started_ = true;

  while (phase_ == Phase::kHead && i < text.size()) {
    LineReader::Step step = head_.read(text, i, kNoLineLimit, limits_.max_header_bytes);
    if (step == LineReader::Step::kSectionTooLarge)
      return fail(Errc::kOutOfRange, "response header section larger than the limit", i);
    if (step == LineReader::Step::kPartial) break;
    if (!head_line(head_.line())) return fail(error_code_, reason_, i);
  }

  switch (phase_) {
    case Phase::kBody: {
      size_t take = size_t(std::min<uint64_t>(remaining_, text.size() - i));
      deliver(text.substr(i, take));
      i += take;
      remaining_ -= take;
      if (remaining_ == 0) phase_ = Phase::kDone;
      break;
    }
    case Phase::kChunked:
      return parse_chunked(text, i);
    case Phase::kUntilClose: {
      size_t take = text.size() - i;
      if (take > limits_.max_body - response_.body_size)
        return fail(Errc::kOutOfRange, "response body larger than the limit", i);
      deliver(text.substr(i));
      i += take;
      break;
    }
    case Phase::kHead:
    case Phase::kDone:
    case Phase::kError:
      break;
  }
  if (phase_ == Phase::kDone) return {ParseStatus::kComplete, i};
  return {ParseStatus::kIncomplete, i};
}

ParseProgress ResponseParser::parse_chunked(std::string_view input, size_t at) {
  auto outcome = chunked_.feed(
      input, at, [this](std::string_view content) { deliver(content); },
      [this](std::string_view line) {
        // RFC 9112 §7.1.2: trailer fields, kept as the head's are (with their own count).
        if (line.front() == ' ' || line.front() == '\t')
          return bad(Errc::kMalformed, "line folding in the trailer section");
        return field_line(line, response_.trailers, limits_.max_headers);
      });
  switch (outcome) {
    case ChunkedDecoder::Outcome::kNeedInput:
      return {ParseStatus::kIncomplete, at};
    case ChunkedDecoder::Outcome::kEnd:
      phase_ = Phase::kDone;
      return {ParseStatus::kComplete, at};
    case ChunkedDecoder::Outcome::kRefused:
      return fail(error_code_, reason_, at);
    case ChunkedDecoder::Outcome::kError:
      break;
  }
  const auto& answer = kChunkedAnswers[chunked_.error()];
  return fail(answer.code, answer.reason, at);
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
  if (!status_seen_) {
    if (line.empty()) {
      head_.start_section();  // not counted against the head's limit
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
  if (fields.size() >= max_fields)
    return bad(Errc::kOutOfRange, "more header fields than the limit");
  FieldLine field;
  switch (parse_field_line(line, field)) {
    case FieldError::kNone:
      break;
    case FieldError::kNoName:
      return bad(Errc::kMalformed, "bad header field");
    case FieldError::kBadName:
      return bad(Errc::kMalformed, "bad header field name");
    case FieldError::kBadValue:
      return bad(Errc::kMalformed, "bad header field value");
  }
  fields.push_back({std::string(field.name), std::string(field.value)});
  return true;
}

bool ResponseParser::end_of_head() {
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
    head_.start_section();
    return true;
  }
  if (!frame_body()) return false;
  head_done_ = true;
  head_.start_section();  // the fields are copied out; the trailer section has its own budget
  return true;
}

bool ResponseParser::frame_body() {
  ClientResponse& r = response_;
  r.keep_alive = keeps_alive(r.version_minor, r.header_list("connection"));

  // RFC 9112 §6.3 rule 1: HEAD, 1xx, 204 and 304 responses end with their head, whatever
  // Content-Length or Transfer-Encoding say (they describe what a GET would get).
  if (method_ == Method::kHead || status_has_no_body(r.status)) {
    r.framing = BodyFraming::kNone;
    phase_ = Phase::kDone;
    return true;
  }
  bool has_te = false;
  ContentLength length;
  for (const Field& field : r.headers) {
    if (iequals(field.name, "transfer-encoding")) {
      has_te = true;
    } else if (iequals(field.name, "content-length")) {
      // RFC 9112 §6.3 rule 5: a list of identical values may be taken as one value; any
      // other invalid value is an unrecoverable framing error.
      switch (add_content_length(field.value, limits_.max_body, length)) {
        case LengthError::kNone:
          break;
        case LengthError::kBad:
          return bad(Errc::kMalformed, "bad Content-Length");
        case LengthError::kTooLarge:
          return bad(Errc::kOutOfRange, "Content-Length larger than the body limit");
        case LengthError::kConflict:
          return bad(Errc::kMalformed, "conflicting Content-Length");
      }
    }
  }
  if (has_te) {
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
    if (r.version_minor == 0)
      return bad(Errc::kMalformed, "Transfer-Encoding in an HTTP/1.0 response");
    // RFC 9112 §6.3 rule 3: with both, Transfer-Encoding wins, but the message "ought to
    // be handled as an error" (response splitting, request smuggling): it is.
    if (length.present)
      return bad(Errc::kMalformed, "both Content-Length and Transfer-Encoding in a response");
    TransferCodings codings = read_transfer_codings(r.header_list("transfer-encoding"));
    // RFC 9112 §6.3 rule 4 would read a body whose final coding is not chunked until the
    // close, but its content would still be in a coding this client cannot undo.
    if (codings.other > 0) return bad(Errc::kUnsupported, "transfer coding other than chunked");
    // RFC 9112 §7: chunked MUST NOT be applied more than once.
    if (codings.chunked != 1 || !codings.last_chunked)
      return bad(Errc::kMalformed, "chunked applied twice");
    r.framing = BodyFraming::kChunked;
    chunked_.start({.max_line = limits_.max_chunk_line,
                    .max_trailer_bytes = limits_.max_header_bytes,
                    .max_body = limits_.max_body});
    phase_ = Phase::kChunked;
    return true;
  }
  if (length.present) {
    r.framing = BodyFraming::kLength;
    remaining_ = length.value;
    phase_ = length.value > 0 ? Phase::kBody : Phase::kDone;
    return true;
  }
  // RFC 9112 §6.3 rule 8: the content runs until the server closes the connection, which
  // therefore cannot carry another request.
  r.framing = BodyFraming::kClose;
  r.keep_alive = false;
  phase_ = Phase::kUntilClose;
  return true;
}

}  // namespace morgana::http
