// RequestParser: RFC 9112's message grammar, one state per part of the message, checking
// every limit as bytes arrive.
#include "morgana/proto/http/parser.h"

#include <algorithm>

#include "morgana/proto/http/framing.h"
#include "syntax.h"

namespace morgana::http {
namespace {

// RFC 9112 §2.2 asks servers to skip at least one empty line before a request line
// (clients may send CRLF after a POST body); more than a few is not a client but noise.
constexpr size_t kMaxLeadingEmptyLines = 8;

// RFC 9112 §7.1 violations in a chunked request body, and the status each is answered with.
constexpr ChunkedAnswers<Status> kChunkedAnswers = {
    .line_too_long = {Status::kBadRequest, "chunk line too long"},
    .bad_size = {Status::kBadRequest, "bad chunk size"},
    .size_too_large = {Status::kContentTooLarge, "chunk size too large"},
    .bad_extension = {Status::kBadRequest, "bad chunk extension"},
    .body_too_large = {Status::kContentTooLarge, "chunked body too large"},
    .data_too_long = {Status::kBadRequest, "chunk data longer than its size"},
    .trailer_too_large = {Status::kRequestHeaderFieldsTooLarge, "trailer section too large"},
};

}  // namespace

void RequestParser::reset() {
  phase_ = Phase::kHead;
  started_ = false;
  head_done_ = false;
  head_.start_section();
  empty_lines_ = 0;
  lines_ = 0;
  remaining_ = 0;
  request_.headers.clear();
  request_.body.clear();
  request_.target = request_.path = request_.query = {};
  request_.method = Method::kGet;
  request_.version_minor = 1;
  request_.keep_alive = true;
  request_.expect_continue = false;
  error_ = Status::kBadRequest;
  reason_ = "";
}

ParseProgress RequestParser::fail(Status status, const char* reason, size_t consumed) {
  phase_ = Phase::kError;
  error_ = status;
  reason_ = reason;
  // An error ends the connection (RFC 9112 §9.6 after a framing error), so the request's
  // keep-alive no longer applies.
  request_.keep_alive = false;
  return {ParseStatus::kError, consumed};
}

bool RequestParser::bad(Status status, const char* reason) {
  error_ = status;
  reason_ = reason;
  return false;
}

ParseProgress RequestParser::parse(std::span<const uint8_t> input) {
  const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
  size_t i = 0;
  if (phase_ == Phase::kError) return {ParseStatus::kError, 0};
  if (phase_ == Phase::kDone) return {ParseStatus::kComplete, 0};

  while (phase_ == Phase::kHead && i < text.size()) {
    started_ = true;
    // The request line has a limit of its own; the whole head, the header section's.
    LineReader::Step step = head_.read(
        text, i, lines_ == 0 ? limits_.max_request_line : kNoLineLimit, limits_.max_header_bytes);
    if (step == LineReader::Step::kLineTooLong)
      return fail(Status::kUriTooLong, "request line too long", i);
    if (step == LineReader::Step::kSectionTooLarge)
      return fail(Status::kRequestHeaderFieldsTooLarge, "header section too large", i);
    if (step == LineReader::Step::kPartial) break;
    if (!head_line(head_.line())) return fail(error_, reason_, i);
  }

  if (phase_ == Phase::kBody && i < text.size()) {
    size_t take = size_t(std::min<uint64_t>(remaining_, text.size() - i));
    request_.body.append(text.substr(i, take));
    i += take;
    remaining_ -= take;
    if (remaining_ == 0) phase_ = Phase::kDone;
  }
  if (phase_ == Phase::kChunked) return parse_chunked(text, i);
  if (phase_ == Phase::kDone) return {ParseStatus::kComplete, i};
  return {ParseStatus::kIncomplete, i};
}

bool RequestParser::head_line(std::string_view line) {
  if (lines_ == 0 && line.empty()) {
    // RFC 9112 §2.2: an empty line before the request line is skipped, and not counted
    // against the head's limits.
    head_.start_section();
    if (++empty_lines_ > kMaxLeadingEmptyLines)
      return bad(Status::kBadRequest, "too many empty lines before the request");
    return true;
  }
  ++lines_;
  if (line.empty()) return parse_head();
  if (lines_ > limits_.max_headers + 1)
    return bad(Status::kRequestHeaderFieldsTooLarge, "too many header fields");
  return true;
}

ParseProgress RequestParser::parse_chunked(std::string_view input, size_t at) {
  auto outcome = chunked_.feed(
      input, at, [this](std::string_view content) { request_.body.append(content); },
      [this](std::string_view line) {
        // RFC 9112 §7.1.2: trailer fields are parsed as fields; we keep none of them.
        FieldLine field;
        return parse_field_line(line, field) == FieldError::kNone ||
               bad(Status::kBadRequest, "bad trailer field");
      });
  switch (outcome) {
    case ChunkedDecoder::Outcome::kNeedInput:
      return {ParseStatus::kIncomplete, at};
    case ChunkedDecoder::Outcome::kEnd:
      phase_ = Phase::kDone;
      return {ParseStatus::kComplete, at};
    case ChunkedDecoder::Outcome::kRefused:
      return fail(error_, reason_, at);
    case ChunkedDecoder::Outcome::kError:
      break;
  }
  const auto& answer = kChunkedAnswers[chunked_.error()];
  return fail(answer.code, answer.reason, at);
}

bool RequestParser::parse_head() {
  std::string_view head(head_.text());
  size_t end = head.find('\n');
  if (!parse_request_line(strip_cr(head.substr(0, end)))) return false;
  size_t start = end + 1;
  for (;;) {
    end = head.find('\n', start);
    std::string_view line = strip_cr(head.substr(start, end - start));
    if (line.empty()) break;
    if (!parse_field(line)) return false;
    start = end + 1;
  }
  if (!frame_body()) return false;
  head_done_ = true;
  return true;
}

bool RequestParser::parse_request_line(std::string_view line) {
  if (line.size() > limits_.max_request_line)
    return bad(Status::kUriTooLong, "request line too long");
  // RFC 9112 §3: request-line = method SP request-target SP HTTP-version, single spaces.
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return bad(Status::kBadRequest, "bad request line");
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return bad(Status::kBadRequest, "bad request line");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!valid_token(method)) return bad(Status::kBadRequest, "bad method");
  // RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive.
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !is_digit(version[5]) ||
      version[6] != '.' || !is_digit(version[7]))
    return bad(Status::kBadRequest, "bad HTTP version");
  // RFC 9110 §15.6.6: a major version we do not support.
  if (version[5] != '1') return bad(Status::kHttpVersionNotSupported, "HTTP version not supported");
  // RFC 9110 §6.2: a higher minor version is answered as the highest we conform to.
  request_.version_minor = version[7] == '0' ? 0 : 1;
  auto known = parse_method(method);
  if (!known) return bad(Status::kNotImplemented, "method not implemented");
  request_.method = *known;
  if (target.empty()) return bad(Status::kBadRequest, "empty request target");
  for (char c : target)
    // RFC 3986 characters only: no whitespace, controls, non-ASCII bytes or fragments.
    if (uint8_t(c) <= 0x20 || uint8_t(c) >= 0x7f || c == '#')
      return bad(Status::kBadRequest, "bad character in request target");
  request_.target = target;
  std::string_view path = target;
  if (target.front() == '/') {
    // origin-form (RFC 9112 §3.2.1).
  } else if (target == "*") {
    // asterisk-form only for OPTIONS (RFC 9112 §3.2.4).
    if (request_.method != Method::kOptions) return bad(Status::kBadRequest, "'*' target");
  } else if (target.size() > 7 &&
             (iequals(target.substr(0, 7), "http://") ||
              (target.size() > 8 && iequals(target.substr(0, 8), "https://")))) {
    // absolute-form (RFC 9112 §3.2.2): servers MUST accept it; the path starts after the
    // authority.
    size_t authority = target.find("//") + 2;
    size_t slash = target.find('/', authority);
    size_t question = target.find('?', authority);
    if (slash == std::string_view::npos || (question != std::string_view::npos && question < slash))
      path = "/";
    else
      path = target.substr(slash);
    if (question != std::string_view::npos && path == "/") {
      request_.path = "/";
      request_.query = target.substr(question + 1);
      return true;
    }
  } else if (request_.method == Method::kConnect) {
    // authority-form (RFC 9112 §3.2.3): parsed, and refused later by the router.
  } else {
    return bad(Status::kBadRequest, "bad request target");
  }
  size_t question = path.find('?');
  request_.path = path.substr(0, question);
  request_.query =
      question == std::string_view::npos ? std::string_view() : path.substr(question + 1);
  return true;
}

bool RequestParser::parse_field(std::string_view line) {
  // RFC 9112 §5.2: obsolete line folding in a request may be rejected with 400.
  if (line.front() == ' ' || line.front() == '\t')
    return bad(Status::kBadRequest, "obsolete line folding");
  FieldLine field;
  switch (parse_field_line(line, field)) {
    case FieldError::kNone:
      break;
    case FieldError::kNoName:
      return bad(Status::kBadRequest, "bad header field");
    case FieldError::kBadName:
      // RFC 9112 §5.1: a server MUST answer whitespace before the colon with 400.
      return bad(Status::kBadRequest, "bad header field name");
    case FieldError::kBadValue:
      return bad(Status::kBadRequest, "bad header field value");
  }
  request_.headers.push_back({field.name, field.value});
  return true;
}

bool RequestParser::frame_body() {
  Request& r = request_;
  size_t hosts = 0;
  bool has_te = false;
  ContentLength length;
  for (const Header& h : r.headers) {
    if (iequals(h.name, "host")) {
      ++hosts;
    } else if (iequals(h.name, "content-length")) {
      // RFC 9112 §6.3 rule 5: a list of identical values may be taken as one value;
      // anything else is unrecoverable framing: 400.
      switch (add_content_length(h.value, limits_.max_body, length)) {
        case LengthError::kNone:
          break;
        case LengthError::kBad:
          return bad(Status::kBadRequest, "bad Content-Length");
        case LengthError::kTooLarge:
          return bad(Status::kContentTooLarge, "body too large");
        case LengthError::kConflict:
          return bad(Status::kBadRequest, "conflicting Content-Length");
      }
    } else if (iequals(h.name, "transfer-encoding")) {
      has_te = true;
    } else if (iequals(h.name, "expect")) {
      if (iequals(h.value, "100-continue") && r.version_minor >= 1) r.expect_continue = true;
    }
  }
  // RFC 9112 §3.2: a 1.1 request without Host, or with more than one, gets 400.
  if (hosts > 1 || (hosts == 0 && r.version_minor >= 1))
    return bad(Status::kBadRequest, "missing or repeated Host");
  r.keep_alive = keeps_alive(r.version_minor, r.header_list("connection"));

  if (has_te) {
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
    if (r.version_minor == 0) return bad(Status::kBadRequest, "Transfer-Encoding in HTTP/1.0");
    // RFC 9112 §6.3 rule 3: both framings present smells of request smuggling; a server
    // may reject it, and we do.
    if (length.present)
      return bad(Status::kBadRequest, "both Content-Length and Transfer-Encoding");
    TransferCodings codings = read_transfer_codings(r.header_list("transfer-encoding"));
    // RFC 9112 §6.3: chunked must be the final coding, else the length is unknown: 400.
    if (!codings.last_chunked)
      return bad(Status::kBadRequest, "chunked is not the final transfer coding");
    // RFC 9112 §6.1: a coding we do not implement gets 501 (we decode only chunked).
    if (codings.other > 0) return bad(Status::kNotImplemented, "transfer coding not implemented");
    if (codings.chunked > 1) return bad(Status::kBadRequest, "chunked applied twice");
    chunked_.start({.max_line = limits_.max_chunk_line,
                    .max_trailer_bytes = limits_.max_header_bytes,
                    .max_body = limits_.max_body});
    phase_ = Phase::kChunked;
    return true;
  }
  if (length.present) {
    remaining_ = length.value;
    phase_ = length.value > 0 ? Phase::kBody : Phase::kDone;
    return true;
  }
  if (limits_.require_length &&
      (r.method == Method::kPost || r.method == Method::kPut || r.method == Method::kPatch))
    return bad(Status::kLengthRequired, "length required");
  phase_ = Phase::kDone;  // RFC 9112 §6.3 rule 7: no body
  return true;
}

}  // namespace morgana::http
