// The client's part that is not a template: the request head, checked so that no caller
// input (a path, a field) can end the head early and smuggle a second request or field.
#include "morgana/proto/http/client.h"

#include <cstdio>

#include "syntax.h"

namespace morgana::http {

Result<std::string> format_request(const ClientRequest& request, net::Endpoint server,
                                   std::string_view user_agent, bool& close) {
  close = false;
  const std::string_view path = request.path;
  // RFC 9112 §3.2: origin-form, or the asterisk-form for a server-wide OPTIONS.
  if (path.empty()) return Error{Errc::kInvalidArgument, "empty request path"};
  if (path == "*") {
    if (request.method != Method::kOptions)
      return Error{Errc::kInvalidArgument, "the path '*' is only for OPTIONS"};
  } else if (path.front() != '/') {
    return Error{Errc::kInvalidArgument, "the request path must start with '/'"};
  }
  for (char c : path)
    // RFC 3986 characters only: spaces, controls and other bytes must be percent-encoded,
    // and a fragment is never sent (RFC 9110 §7.1).
    if (uint8_t(c) <= 0x20 || uint8_t(c) >= 0x7f || c == '#')
      return Error{Errc::kInvalidArgument, "bad character in the request path (percent-encode it)"};
  // CONNECT's authority-form and tunnel are not what this client does.
  if (request.method == Method::kConnect)
    return Error{Errc::kUnsupported, "the client does not make CONNECT requests"};
  if (!valid_field_value(user_agent)) return Error{Errc::kInvalidArgument, "bad User-Agent value"};

  size_t hosts = 0;
  bool has_agent = false;
  size_t size = 64 + path.size() + user_agent.size();
  for (const Header& h : request.headers) {
    if (!valid_token(h.name)) return Error{Errc::kInvalidArgument, "bad request header field name"};
    // RFC 9110 §5.5: CR, LF and NUL are never allowed in a value (and we refuse every
    // other control): they would end the field or the head where the caller did not.
    if (!valid_field_value(h.value))
      return Error{Errc::kInvalidArgument, "bad request header field value"};
    if (iequals(h.name, "content-length") || iequals(h.name, "transfer-encoding"))
      return Error{Errc::kInvalidArgument,
                   "Content-Length and Transfer-Encoding are the client's to set"};
    if (iequals(h.name, "host")) ++hosts;
    if (iequals(h.name, "user-agent")) has_agent = true;
    if (iequals(h.name, "connection") && list_contains(h.value, "close")) close = true;
    size += h.name.size() + h.value.size() + 4;
  }
  // RFC 9112 §3.2: exactly one Host field; a server answers two with 400.
  if (hosts > 1) return Error{Errc::kInvalidArgument, "more than one Host field"};

  std::string head;
  head.reserve(size);
  head += method_name(request.method);
  head += ' ';
  head += path;
  head += " HTTP/1.1\r\n";
  if (hosts == 0) {
    // RFC 9112 §3.2: Host = uri-host [ ":" port ], the port left out when it is the
    // scheme's default (RFC 9110 §4.2.1: 80 for http).
    char host[32];
    const uint32_t a = server.address.to_u32();
    int n = std::snprintf(host, sizeof host, "%u.%u.%u.%u", unsigned(a >> 24),
                          unsigned(a >> 16 & 0xff), unsigned(a >> 8 & 0xff), unsigned(a & 0xff));
    if (server.port != 80)
      n += std::snprintf(host + n, sizeof host - size_t(n), ":%u", unsigned(server.port));
    head += "Host: ";
    head.append(host, size_t(n));
    head += "\r\n";
  }
  if (!has_agent && !user_agent.empty()) {
    head += "User-Agent: ";
    head += user_agent;
    head += "\r\n";
  }
  for (const Header& h : request.headers) {
    head += h.name;
    head += ": ";
    head += h.value;
    head += "\r\n";
  }
  // RFC 9110 §8.6: a user agent SHOULD send Content-Length when the method defines a
  // meaning for content (POST, PUT, PATCH, even empty), and whenever it sends content.
  const bool content_method = request.method == Method::kPost || request.method == Method::kPut ||
                              request.method == Method::kPatch;
  if (content_method || !request.body.empty()) {
    char length[32];
    int n = std::snprintf(length, sizeof length, "Content-Length: %zu\r\n", request.body.size());
    head.append(length, size_t(n));
  }
  head += "\r\n";
  return head;
}

}  // namespace morgana::http
