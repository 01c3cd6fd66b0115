// Response building and the head's framing fields.
#include "morgana/proto/http/response.h"

#include <cstdio>

namespace morgana::http {

Response Response::text(Status status, std::string body, std::string content_type) {
  Response response(status);
  response.add_header("Content-Type", std::move(content_type));
  response.append(std::move(body));
  return response;
}

void Response::set_header(std::string_view name, std::string value) {
  for (size_t i = 0; i < headers.size();) {
    if (iequals(headers[i].first, name))
      headers.erase(headers.begin() + long(i));
    else
      ++i;
  }
  headers.emplace_back(std::string(name), std::move(value));
}

const std::string* Response::find_header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return &v;
  return nullptr;
}

void Response::append(std::string text) {
  BodyPart part;
  part.owned = std::move(text);
  body.push_back(std::move(part));
}

void Response::append_view(std::span<const uint8_t> bytes) {
  BodyPart part;
  part.kind = BodyPart::Kind::kBorrowed;
  part.borrowed = bytes;
  body.push_back(std::move(part));
}

void Response::append_stream(uint64_t offset, uint64_t length) {
  BodyPart part;
  part.kind = BodyPart::Kind::kStream;
  part.offset = offset;
  part.length = length;
  body.push_back(std::move(part));
}

uint64_t Response::body_size() const {
  uint64_t total = 0;
  for (const auto& part : body) total += part.size();
  return total;
}

std::string format_head(const Response& response, const HeadContext& context, Framing& framing) {
  std::string head;
  head.reserve(256);
  char line[64];
  // RFC 9110 §6.2: we answer with the highest 1.x version we conform to.
  std::snprintf(line, sizeof(line), "HTTP/1.1 %u ", unsigned(response.status));
  head += line;
  head += reason_phrase(response.status);
  head += "\r\n";
  if (!context.date.empty()) {
    head += "Date: ";
    head += context.date;
    head += "\r\n";
  }
  if (!context.server.empty()) {
    head += "Server: ";
    head += context.server;
    head += "\r\n";
  }
  for (const auto& [name, value] : response.headers) {
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  framing = Framing::kSized;
  if (!status_has_no_body(response.status)) {
    if (response.framing == Framing::kChunked && context.version_minor >= 1) {
      framing = Framing::kChunked;
      head += "Transfer-Encoding: chunked\r\n";
    } else {
      std::snprintf(line, sizeof(line), "Content-Length: %llu\r\n",
                    (unsigned long long)response.body_size());
      head += line;
    }
  }
  // RFC 9112 §9.3: 1.1 connections persist by default, 1.0 ones only when both sides say
  // keep-alive; §9.6: a server that will close says so.
  if (!context.keep_alive)
    head += "Connection: close\r\n";
  else if (context.version_minor == 0)
    head += "Connection: keep-alive\r\n";
  head += "\r\n";
  return head;
}

std::string chunk_size_line(uint64_t size) {
  char line[24];
  std::snprintf(line, sizeof(line), "%llx\r\n", (unsigned long long)size);
  return line;
}

}  // namespace morgana::http
