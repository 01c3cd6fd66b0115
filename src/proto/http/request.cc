// Methods, status reason phrases and header lookups of parsed requests.
#include "morgana/proto/http/request.h"

#include "syntax.h"

namespace morgana::http {

namespace {
constexpr const char* kMethodNames[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                        "CONNECT", "OPTIONS", "TRACE", "PATCH"};
}

const char* method_name(Method method) {
  return kMethodNames[size_t(method)];
}

std::optional<Method> parse_method(std::string_view token) {
  // RFC 9110 §9.1: method names are case-sensitive.
  for (size_t i = 0; i < sizeof(kMethodNames) / sizeof(kMethodNames[0]); ++i)
    if (token == kMethodNames[i]) return Method(i);
  return std::nullopt;
}

const char* reason_phrase(uint16_t status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x | 0x20);
    if (y >= 'A' && y <= 'Z') y = char(y | 0x20);
    if (x != y) return false;
  }
  return true;
}

std::optional<std::string_view> Request::header(std::string_view name) const {
  return first_field(headers, name);
}

std::string Request::header_list(std::string_view name) const {
  return joined_fields(headers, name);
}

bool list_contains(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    item = trim_ows(item.substr(0, item.find(';')));
    if (iequals(item, token)) return true;
  }
  return false;
}

}  // namespace morgana::http
