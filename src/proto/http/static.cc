// The non-template half of static file serving: URL path to key, content negotiation,
// preconditions and the 200/206/304/412/416 responses.
#include <cstdio>

#include "morgana/proto/http/date.h"
#include "morgana/proto/http/mime.h"
#include "morgana/proto/http/range.h"
#include "morgana/proto/http/static_files.h"
#include "syntax.h"

namespace morgana::http {

std::optional<std::string> path_to_key(std::string_view path, std::string_view index) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  std::string decoded;
  decoded.reserve(path.size());
  for (size_t i = 1; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size()) return std::nullopt;
      if (!is_hex_digit(path[i + 1]) || !is_hex_digit(path[i + 2])) return std::nullopt;
      c = char(hex_value(path[i + 1]) * 16 + hex_value(path[i + 2]));
      i += 2;
      // An encoded '/' would let one segment hide a separator; NUL ends C strings.
      if (c == '/' || c == '\0') return std::nullopt;
    }
    if (c == '\\') return std::nullopt;
    decoded += c;
  }
  // Refuse dot segments and empty segments rather than resolving them (RFC 3986 §5.2.4
  // would remove them; a static site never links to them, and refusing cannot escape).
  std::string_view rest(decoded);
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (segment == "." || segment == ".." || (segment.empty() && slash != std::string_view::npos))
      return std::nullopt;
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  if (decoded.empty() || decoded.back() == '/') decoded += index;
  return decoded;
}

namespace {

// True if a weight "q=..." in `params` is zero (RFC 9110 §12.4.2: qvalue).
bool zero_weight(std::string_view params) {
  while (!params.empty()) {
    size_t semi = params.find(';');
    std::string_view param = trim_ows(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
      std::string_view value = param.substr(2);
      if (value.empty() || value[0] != '0') return false;
      for (char c : value.substr(1))
        if (c != '.' && c != '0') return false;
      return true;
    }
  }
  return false;
}

// RFC 9110 §8.8.3.2: strong comparison needs both tags strong and equal; weak comparison
// ignores the W/ prefix.
bool etag_matches(std::string_view list, std::string_view etag, bool weak) {
  if (trim_ows(list) == "*") return true;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view tag = trim_ows(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    bool is_weak = tag.starts_with("W/");
    if (is_weak) {
      if (!weak) continue;
      tag.remove_prefix(2);
    }
    if (tag == etag) return true;
  }
  return false;
}

}  // namespace

bool accepts_gzip(const Request& request) {
  std::string list = request.header_list("accept-encoding");
  std::string_view rest(list);
  bool star = false, gzip_listed = false;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = trim_ows(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    size_t semi = item.find(';');
    std::string_view coding = trim_ows(item.substr(0, semi));
    bool zero = semi != std::string_view::npos && zero_weight(item.substr(semi + 1));
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) {
      if (zero) return false;
      gzip_listed = true;
    } else if (coding == "*") {
      star = !zero;
    }
  }
  return gzip_listed || star;
}

Precondition evaluate_preconditions(const Request& request, std::string_view etag, int64_t mtime) {
  bool get_or_head = request.method == Method::kGet || request.method == Method::kHead;
  std::string if_match = request.header_list("if-match");
  if (request.header("if-match")) {
    if (!etag_matches(if_match, etag, false)) return Precondition::kFailed;
  } else if (auto since = request.header("if-unmodified-since")) {
    if (auto date = parse_http_date(*since); date && mtime > *date) return Precondition::kFailed;
  }
  if (request.header("if-none-match")) {
    if (etag_matches(request.header_list("if-none-match"), etag, true))
      return get_or_head ? Precondition::kNotModified : Precondition::kFailed;
  } else if (get_or_head) {
    // RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is present, and
    // when the date is invalid.
    if (auto since = request.header("if-modified-since"))
      if (auto date = parse_http_date(*since); date && mtime <= *date)
        return Precondition::kNotModified;
  }
  return Precondition::kProceed;
}

Response representation_response(const Request& request, std::string_view type_key,
                                 const kv::Stat& stat,
                                 std::optional<std::span<const uint8_t>> content, bool gzip,
                                 bool vary, const StaticOptions& options) {
  std::string_view type = content_type_for(type_key);
  std::string last_modified = format_http_date(stat.mtime);
  auto validators = [&](Response& response) {
    if (!stat.etag.empty()) response.add_header("ETag", std::string(stat.etag));
    response.add_header("Last-Modified", last_modified);
    if (vary) response.add_header("Vary", "Accept-Encoding");
    if (!options.cache_control.empty())
      response.add_header("Cache-Control", std::string(options.cache_control));
  };
  auto add_body = [&](Response& response, uint64_t offset, uint64_t length) {
    if (content)
      response.append_view(content->subspan(size_t(offset), size_t(length)));
    else
      response.append_stream(offset, length);
  };

  switch (evaluate_preconditions(request, stat.etag, stat.mtime)) {
    case Precondition::kNotModified: {
      Response response(Status::kNotModified);
      validators(response);
      return response;
    }
    case Precondition::kFailed:
      return Response::text(Status::kPreconditionFailed, "Precondition Failed\n");
    case Precondition::kProceed:
      break;
  }

  std::vector<ByteRange> ranges;
  RangeVerdict verdict = RangeVerdict::kIgnore;
  auto range = request.header("range");
  // RFC 9110 §14.2: Range is for GET only. §13.1.5: If-Range must match the current
  // representation exactly (strong ETag, or the exact Last-Modified date), else the
  // whole representation is sent.
  if (range && request.method == Method::kGet) {
    bool current = true;
    if (auto if_range = request.header("if-range")) {
      if (if_range->starts_with("\"") || if_range->starts_with("W/"))
        current = *if_range == stat.etag;
      else
        current = parse_http_date(*if_range) == std::optional<int64_t>(stat.mtime);
    }
    if (current) verdict = parse_range(*range, stat.size, ranges);
  }

  char line[96];
  if (verdict == RangeVerdict::kUnsatisfiable) {
    Response response = Response::text(Status::kRangeNotSatisfiable, "Range Not Satisfiable\n");
    std::snprintf(line, sizeof(line), "bytes */%llu", (unsigned long long)stat.size);
    response.add_header("Content-Range", line);
    return response;
  }
  Response response(verdict == RangeVerdict::kSatisfiable ? Status::kPartialContent : Status::kOk);
  validators(response);
  response.add_header("Accept-Ranges", "bytes");
  if (gzip) response.add_header("Content-Encoding", "gzip");
  if (verdict == RangeVerdict::kIgnore) {
    response.add_header("Content-Type", std::string(type));
    add_body(response, 0, stat.size);
  } else if (ranges.size() == 1) {
    response.add_header("Content-Type", std::string(type));
    std::snprintf(line, sizeof(line), "bytes %llu-%llu/%llu", (unsigned long long)ranges[0].first,
                  (unsigned long long)ranges[0].last, (unsigned long long)stat.size);
    response.add_header("Content-Range", line);
    add_body(response, ranges[0].first, ranges[0].length());
  } else {
    // RFC 9110 §14.6: multipart/byteranges, each part with its Content-Type and
    // Content-Range. The boundary comes from the ETag so it differs per file.
    std::string boundary = "morgana-byteranges-";
    for (char c : stat.etag)
      if (is_hex_digit(c) || c == '-') boundary += c;
    response.add_header("Content-Type", "multipart/byteranges; boundary=" + boundary);
    for (const ByteRange& r : ranges) {
      std::snprintf(line, sizeof(line), "bytes %llu-%llu/%llu", (unsigned long long)r.first,
                    (unsigned long long)r.last, (unsigned long long)stat.size);
      response.append("\r\n--" + boundary + "\r\nContent-Type: " + std::string(type) +
                      "\r\nContent-Range: " + line + "\r\n\r\n");
      add_body(response, r.first, r.length());
    }
    response.append("\r\n--" + boundary + "--\r\n");
  }
  return response;
}

}  // namespace morgana::http
