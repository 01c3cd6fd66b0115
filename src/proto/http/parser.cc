// RequestParser: RFC 9112's message grammar, one state per part of the message, checking
// every limit as bytes arrive.
#include "morgana/proto/http/parser.h"

#include <algorithm>
#include <cstring>

#include "syntax.h"

namespace morgana::http {
namespace {

// RFC 9112 §2.2 asks servers to skip at least one empty line before a request line
// (clients may send CRLF after a POST body); more than a few is not a client but noise.
constexpr size_t kMaxLeadingEmptyLines = 8;

}  // namespace

void RequestParser::reset() {
  phase_ = Phase::kHead;
  started_ = false;
  head_done_ = false;
  head_.clear();
  scanned_ = 0;
  line_start_ = 0;
  lines_ = 0;
  remaining_ = 0;
  line_.clear();
  trailer_bytes_ = 0;
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

ParseProgress RequestParser::parse(std::span<const uint8_t> input) {
  const auto* data = reinterpret_cast<const char*>(input.data());
  const size_t n = input.size();
  size_t i = 0;
  if (phase_ == Phase::kError) return {ParseStatus::kError, 0};
  if (phase_ == Phase::kDone) return {ParseStatus::kComplete, 0};

  while (phase_ == Phase::kHead && i < n) {
    if (head_.empty() && (data[i] == '\r' || data[i] == '\n')) {
      started_ = true;
      if (data[i] == '\n' && ++lines_ > kMaxLeadingEmptyLines)
        return fail(Status::kBadRequest, "too many empty lines before the request", i);
      ++i;
      continue;
    }
    if (head_.empty()) lines_ = 0;
    started_ = true;
    const char* lf = static_cast<const char*>(std::memchr(data + i, '\n', n - i));
    size_t take = lf ? size_t(lf - (data + i)) + 1 : n - i;
    // Check the limits before buffering: the request line may hold its limit plus CRLF.
    if (lines_ == 0 && head_.size() + take > limits_.max_request_line + (lf ? 2 : 1))
      return fail(Status::kUriTooLong, "request line too long", i);
    if (head_.size() + take > limits_.max_header_bytes)
      return fail(Status::kRequestHeaderFieldsTooLarge, "header section too large", i);
    head_.append(data + i, take);
    i += take;
    if (!lf) break;
    std::string_view line = strip_cr({head_.data() + line_start_, head_.size() - line_start_ - 1});
    ++lines_;
    line_start_ = head_.size();
    if (line.empty()) {
      if (!parse_head()) return fail(error_, reason_, i);
    } else if (lines_ > limits_.max_headers + 1) {
      return fail(Status::kRequestHeaderFieldsTooLarge, "too many header fields", i);
    }
  }

  while (i < n && phase_ != Phase::kDone && phase_ != Phase::kHead) {
    switch (phase_) {
      case Phase::kBody: {
        size_t take = size_t(std::min<uint64_t>(remaining_, n - i));
        request_.body.append(data + i, take);
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) phase_ = Phase::kDone;
        break;
      }
      case Phase::kChunkData: {
        size_t take = size_t(std::min<uint64_t>(remaining_, n - i));
        request_.body.append(data + i, take);
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) phase_ = Phase::kChunkDataEnd;
        break;
      }
      case Phase::kChunkSize:
      case Phase::kChunkDataEnd:
      case Phase::kTrailer: {
        const char* lf = static_cast<const char*>(std::memchr(data + i, '\n', n - i));
        size_t take = lf ? size_t(lf - (data + i)) + 1 : n - i;
        size_t limit = phase_ == Phase::kTrailer ? limits_.max_header_bytes - trailer_bytes_
                                                 : limits_.max_chunk_line + 2;
        if (line_.size() + take > limit) {
          if (phase_ == Phase::kTrailer)
            return fail(Status::kRequestHeaderFieldsTooLarge, "trailer section too large", i);
          return fail(Status::kBadRequest, "chunk line too long", i);
        }
        line_.append(data + i, take);
        i += take;
        if (!lf) break;
        std::string_view line = strip_cr(std::string_view(line_).substr(0, line_.size() - 1));
        if (phase_ == Phase::kChunkDataEnd) {
          // RFC 9112 §7.1: chunk-data is followed by exactly CRLF.
          if (!line.empty()) return fail(Status::kBadRequest, "chunk data longer than its size", i);
          phase_ = Phase::kChunkSize;
        } else if (phase_ == Phase::kChunkSize) {
          // RFC 9112 §7.1: chunk-size = 1*HEXDIG, then optional extensions, which we ignore
          // (§7.1.1: a recipient MUST ignore unrecognised extensions).
          size_t digits = 0;
          uint64_t size = 0;
          while (digits < line.size() && is_hex_digit(line[digits])) {
            if (size > (uint64_t(1) << 56))
              return fail(Status::kContentTooLarge, "chunk size too large", i);
            size = size * 16 + hex_value(line[digits]);
            ++digits;
          }
          if (digits == 0) return fail(Status::kBadRequest, "bad chunk size", i);
          std::string_view rest = line.substr(digits);
          while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t'))
            rest.remove_prefix(1);
          if (!rest.empty() && rest.front() != ';')
            return fail(Status::kBadRequest, "bad chunk size", i);
          if (!valid_field_value(rest)) return fail(Status::kBadRequest, "bad chunk extension", i);
          if (size > limits_.max_body - request_.body.size())
            return fail(Status::kContentTooLarge, "chunked body too large", i);
          remaining_ = size;
          phase_ = size == 0 ? Phase::kTrailer : Phase::kChunkData;
        } else {
          // RFC 9112 §7.1.2: trailer fields are parsed as fields; we keep none of them.
          trailer_bytes_ += line_.size();
          if (line.empty()) {
            phase_ = Phase::kDone;
          } else {
            size_t colon = line.find(':');
            if (colon == 0 || colon == std::string_view::npos ||
                !valid_token(line.substr(0, colon)) || !valid_field_value(line.substr(colon + 1)))
              return fail(Status::kBadRequest, "bad trailer field", i);
          }
        }
        line_.clear();
        break;
      }
      default:
        break;
    }
  }
  if (phase_ == Phase::kDone) return {ParseStatus::kComplete, i};
  return {ParseStatus::kIncomplete, i};
}

bool RequestParser::parse_head() {
  std::string_view head(head_);
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
  auto bad = [this](Status status, const char* reason) {
    error_ = status;
    reason_ = reason;
    return false;
  };
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
  auto bad = [this](Status status, const char* reason) {
    error_ = status;
    reason_ = reason;
    return false;
  };
  // RFC 9112 §5.2: obsolete line folding in a request may be rejected with 400.
  if (line.front() == ' ' || line.front() == '\t')
    return bad(Status::kBadRequest, "obsolete line folding");
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return bad(Status::kBadRequest, "bad header field");
  std::string_view name = line.substr(0, colon);
  // RFC 9112 §5.1: no whitespace between name and colon; a server MUST answer it with 400.
  if (!valid_token(name)) return bad(Status::kBadRequest, "bad header field name");
  std::string_view value = trim_ows(line.substr(colon + 1));
  if (!valid_field_value(value)) return bad(Status::kBadRequest, "bad header field value");
  request_.headers.push_back({name, value});
  return true;
}

bool RequestParser::frame_body() {
  auto bad = [this](Status status, const char* reason) {
    error_ = status;
    reason_ = reason;
    return false;
  };
  Request& r = request_;
  size_t hosts = 0;
  bool has_length = false, has_te = false;
  uint64_t length = 0;
  for (const Header& h : r.headers) {
    if (iequals(h.name, "host")) {
      ++hosts;
    } else if (iequals(h.name, "content-length")) {
      // RFC 9112 §6.3 rule 5: a list of identical values may be taken as one value;
      // anything else is unrecoverable framing: 400.
      std::string_view list = h.value;
      do {
        size_t comma = list.find(',');
        std::string_view item = trim_ows(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        if (item.empty()) return bad(Status::kBadRequest, "bad Content-Length");
        uint64_t value = 0;
        for (char c : item) {
          if (!is_digit(c)) return bad(Status::kBadRequest, "bad Content-Length");
          if (value > limits_.max_body) return bad(Status::kContentTooLarge, "body too large");
          value = value * 10 + uint64_t(c - '0');
        }
        if (has_length && value != length)
          return bad(Status::kBadRequest, "conflicting Content-Length");
        has_length = true;
        length = value;
      } while (!list.empty());
    } else if (iequals(h.name, "transfer-encoding")) {
      has_te = true;
    } else if (iequals(h.name, "expect")) {
      if (iequals(h.value, "100-continue") && r.version_minor >= 1) r.expect_continue = true;
    }
  }
  // RFC 9112 §3.2: a 1.1 request without Host, or with more than one, gets 400.
  if (hosts > 1 || (hosts == 0 && r.version_minor >= 1))
    return bad(Status::kBadRequest, "missing or repeated Host");
  std::string connection = r.header_list("connection");
  if (r.version_minor == 0)
    r.keep_alive = list_contains(connection, "keep-alive") && !list_contains(connection, "close");
  else
    r.keep_alive = !list_contains(connection, "close");

  if (has_te) {
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
    if (r.version_minor == 0) return bad(Status::kBadRequest, "Transfer-Encoding in HTTP/1.0");
    // RFC 9112 §6.3 rule 3: both framings present smells of request smuggling; a server
    // may reject it, and we do.
    if (has_length) return bad(Status::kBadRequest, "both Content-Length and Transfer-Encoding");
    std::string codings = r.header_list("transfer-encoding");
    std::string_view list(codings), last;
    size_t count = 0;
    bool other = false;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view item = trim_ows(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      if (item.empty()) continue;
      if (!iequals(item, "chunked")) other = true;
      last = item;
      ++count;
    }
    // RFC 9112 §6.3: chunked must be the final coding, else the length is unknown: 400.
    if (!iequals(last, "chunked"))
      return bad(Status::kBadRequest, "chunked is not the final transfer coding");
    // RFC 9112 §6.1: a coding we do not implement gets 501 (we decode only chunked).
    if (other) return bad(Status::kNotImplemented, "transfer coding not implemented");
    if (count > 1) return bad(Status::kBadRequest, "chunked applied twice");
    phase_ = Phase::kChunkSize;
    return true;
  }
  if (has_length) {
    if (length > limits_.max_body) return bad(Status::kContentTooLarge, "body too large");
    remaining_ = length;
    phase_ = length > 0 ? Phase::kBody : Phase::kDone;
    return true;
  }
  if (limits_.require_length &&
      (r.method == Method::kPost || r.method == Method::kPut || r.method == Method::kPatch))
    return bad(Status::kLengthRequired, "length required");
  phase_ = Phase::kDone;  // RFC 9112 §6.3 rule 7: no body
  return true;
}

}  // namespace morgana::http
