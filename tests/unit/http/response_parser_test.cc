// ResponseParser on responses captured from real servers (nginx 1.22.1 from Debian 12 on
// 127.0.0.1: a file, HEAD, chunked from SSI and gzip, 304, 404, a range, HTTP/1.0 and
// Connection: close; Python 3.11's http.server without Content-Length; Morgana's own
// server: chunked /_stats and 100 Continue before a POST's answer), cut at every point,
// and on RFC 9112 edge cases: framing (§6.3), chunked (§7.1), obs-fold (§5.2), status
// lines (§4), interim responses, truncation and every limit.
#include "morgana/proto/http/response_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace morgana::http {
namespace {

using namespace std::string_view_literals;

// nginx 1.22.1, GET /hello.txt (a 17-byte file).
constexpr std::string_view kNginxGet =
    "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 26 Nov 2026 23:05:04 GMT\r\n"
    "Content-Type: text/plain\r\nContent-Length: 17\r\nLast-Modified: Thu, 26 Nov 2026 "
    "23:04:56 GMT\r\nConnection: keep-alive\r\nETag: \"6b08bb18-11\"\r\nAccept-Ranges: "
    "bytes\r\n\r\nhello from nginx\n";
// The same as HEAD: Content-Length says what a GET would get, and no content follows.
constexpr std::string_view kNginxHead =
    "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 26 Nov 2026 23:05:07 GMT\r\n"
    "Content-Type: text/plain\r\nContent-Length: 17\r\nLast-Modified: Thu, 26 Nov 2026 "
    "23:04:56 GMT\r\nConnection: keep-alive\r\nETag: \"6b08bb18-11\"\r\nAccept-Ranges: "
    "bytes\r\n\r\n";
// `ssi on` makes the length unknown in advance: chunked.
constexpr std::string_view kNginxChunked =
    "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 26 Nov 2026 23:05:10 GMT\r\n"
    "Content-Type: text/html\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
    "24\r\n<p>server-side include</p>\nfallback\n\r\n0\r\n\r\n";
// `gzip on` for 3,001 bytes of 'x': chunked gzip content (kept as received: the client
// undoes transfer codings, not content codings).
constexpr std::string_view kNginxGzip =
    "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 26 Nov 2026 23:05:13 GMT\r\n"
    "Content-Type: text/plain\r\nLast-Modified: Thu, 26 Nov 2026 23:04:56 GMT\r\n"
    "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\nETag: W/\"6b08bb18-bb9\"\r\n"
    "Content-Encoding: gzip\r\n\r\n32\r\n"
    "\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\x03\xed\xd0\x21\x01\x00\x00"
    "\x00\x02\xa0\xee\x62\xe7\x7b\xc3\x00\x13\x68\x31\x60\xc0\x80\x01"
    "\x03\x06\x0c\x18\x30\x60\xe0\x7d\x20\x03\x5f\x9f\x21\x0c\xb9\x0b"
    "\x00\x00\r\n0\r\n\r\n"sv;
constexpr std::string_view kNginxNotModified =
    "HTTP/1.1 304 Not Modified\r\nServer: nginx/1.22.1\r\nDate: Thu, 26 Nov 2026 23:05:16 "
    "GMT\r\nLast-Modified: Thu, 26 Nov 2026 23:04:56 GMT\r\nConnection: keep-alive\r\nETag: "
    "\"6b08bb18-11\"\r\n\r\n";
constexpr std::string_view kNginx404 =
    "HTTP/1.1 404 Not Found\r\nServer: nginx/1.22.1\r\nDate: Thu, 26 Nov 2026 23:05:19 GMT\r\n"
    "Content-Type: text/html\r\nContent-Length: 153\r\nConnection: keep-alive\r\n\r\n"
    "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not "
    "Found</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
constexpr std::string_view kNginxRange =
    "HTTP/1.1 206 Partial Content\r\nServer: nginx/1.22.1\r\nDate: Thu, 26 Nov 2026 23:05:22 "
    "GMT\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nLast-Modified: Thu, 26 Nov 2026 "
    "23:04:56 GMT\r\nConnection: keep-alive\r\nETag: \"6b08bb18-11\"\r\nContent-Range: bytes "
    "0-4/17\r\n\r\nhello";
// The answer to an HTTP/1.0 request (or to Connection: close).
constexpr std::string_view kNginxClose =
    "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Thu, 26 Nov 2026 23:05:22 GMT\r\n"
    "Content-Type: text/plain\r\nContent-Length: 17\r\nLast-Modified: Thu, 26 Nov 2026 "
    "23:04:56 GMT\r\nConnection: close\r\nETag: \"6b08bb18-11\"\r\nAccept-Ranges: "
    "bytes\r\n\r\nhello from nginx\n";
// Python 3.11 http.server.BaseHTTPRequestHandler writing content without a length.
constexpr std::string_view kPythonUntilClose =
    "HTTP/1.0 200 OK\r\nServer: BaseHTTP/0.6 Python/3.11.7\r\nDate: Thu, 26 Nov 2026 23:05:28 "
    "GMT\r\nContent-Type: text/plain\r\n\r\nno length: read until close\n";
// Morgana's website, GET /_stats (chunked, one chunk per counter).
constexpr std::string_view kMorganaStats =
    "HTTP/1.1 200 OK\r\nDate: Thu, 26 Nov 2026 23:05:33 GMT\r\nServer: Morgana\r\n"
    "Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\nTransfer-Encoding: "
    "chunked\r\nConnection: close\r\n\r\ne\r\nconnections 1\n\r\nb\r\nrequests 0\n\r\nf\r\n"
    "bad_requests 0\n\r\n12\r\nheader_timeouts 0\n\r\ne\r\nidle_closed 0\n\r\na\r\nevicted 0\n"
    "\r\n7\r\nbusy 0\n\r\n7\r\nlive 1\n\r\n0\r\n\r\n";
// Morgana's website, POST /_echo with Expect: 100-continue.
constexpr std::string_view kMorganaContinue =
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nDate: Thu, 26 Nov 2026 23:05:34 GMT\r\n"
    "Server: Morgana\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\n"
    "Connection: close\r\n\r\nhello";

struct Parsed {
  ParseStatus status = ParseStatus::kIncomplete;
  size_t consumed = 0;
  ClientResponse response;
  Errc code = Errc::kMalformed;
  std::string reason;
};

// Feeds `input` in pieces of `piece` bytes (0: all at once); on kIncomplete after the
// last piece and with `close`, tells the parser the server closed.
Parsed parse_pieces(std::string_view input, size_t piece, Method method = Method::kGet,
                    bool close = false, ClientLimits limits = {}) {
  ResponseParser parser(limits);
  parser.reset(method);
  Parsed out;
  size_t offset = 0;
  if (piece == 0) piece = input.size() == 0 ? 1 : input.size();
  while (offset < input.size()) {
    std::string_view part = input.substr(offset, piece);
    ParseProgress p = parser.parse(part);
    EXPECT_LE(p.consumed, part.size());
    out.consumed += p.consumed;
    out.status = p.status;
    if (p.status != ParseStatus::kIncomplete) break;
    EXPECT_EQ(p.consumed, part.size());
    offset += part.size();
  }
  if (out.status == ParseStatus::kIncomplete && close) out.status = parser.finish().status;
  out.code = parser.error_code();
  out.reason = parser.error_reason();
  out.response = parser.take_response();
  return out;
}

Parsed parse(std::string_view input, Method method = Method::kGet, bool close = false,
             ClientLimits limits = {}) {
  return parse_pieces(input, 0, method, close, limits);
}

// The error a response gives, checking it is one.
Errc error_of(std::string_view input, Method method = Method::kGet, ClientLimits limits = {},
              bool close = false) {
  Parsed p = parse(input, method, close, limits);
  EXPECT_EQ(p.status, ParseStatus::kError) << input;
  return p.code;
}

// Every piece size gives the same response as one piece.
void expect_split_invariant(std::string_view input, Method method = Method::kGet,
                            bool close = false) {
  Parsed whole = parse(input, method, close);
  ASSERT_EQ(whole.status, ParseStatus::kComplete) << whole.reason;
  for (size_t piece = 1; piece < input.size(); ++piece) {
    Parsed cut = parse_pieces(input, piece, method, close);
    ASSERT_EQ(cut.status, ParseStatus::kComplete) << "piece " << piece << ": " << cut.reason;
    EXPECT_EQ(cut.consumed, whole.consumed) << "piece " << piece;
    EXPECT_EQ(cut.response.status, whole.response.status);
    EXPECT_EQ(cut.response.body, whole.response.body) << "piece " << piece;
    EXPECT_EQ(cut.response.headers.size(), whole.response.headers.size());
    EXPECT_EQ(cut.response.keep_alive, whole.response.keep_alive);
  }
}

TEST(ResponseParser, NginxGet) {
  Parsed p = parse(kNginxGet);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.consumed, kNginxGet.size());
  const ClientResponse& r = p.response;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.reason, "OK");
  EXPECT_EQ(r.version_minor, 1);
  EXPECT_EQ(r.headers.size(), 8u);
  EXPECT_EQ(r.header("server"), "nginx/1.22.1");
  EXPECT_EQ(r.header("ETAG"), "\"6b08bb18-11\"");
  EXPECT_FALSE(r.header("Transfer-Encoding").has_value());
  EXPECT_EQ(r.body, "hello from nginx\n");
  EXPECT_EQ(r.body_size, 17u);
  EXPECT_EQ(r.framing, BodyFraming::kLength);
  EXPECT_TRUE(r.keep_alive);
  expect_split_invariant(kNginxGet);
}

TEST(ResponseParser, NginxHeadHasNoContent) {
  // RFC 9112 §6.3 rule 1: after HEAD the head is all, whatever Content-Length says.
  Parsed p = parse(kNginxHead, Method::kHead);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.consumed, kNginxHead.size());
  EXPECT_EQ(p.response.header("content-length"), "17");
  EXPECT_EQ(p.response.body, "");
  EXPECT_EQ(p.response.framing, BodyFraming::kNone);
  EXPECT_TRUE(p.response.keep_alive);
  // The same bytes after a GET would wait for 17 bytes of content.
  EXPECT_EQ(parse(kNginxHead).status, ParseStatus::kIncomplete);
  expect_split_invariant(kNginxHead, Method::kHead);
}

TEST(ResponseParser, NginxChunked) {
  Parsed p = parse(kNginxChunked);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.consumed, kNginxChunked.size());
  EXPECT_EQ(p.response.body, "<p>server-side include</p>\nfallback\n");
  EXPECT_EQ(p.response.framing, BodyFraming::kChunked);
  EXPECT_TRUE(p.response.keep_alive);
  EXPECT_TRUE(p.response.trailers.empty());
  expect_split_invariant(kNginxChunked);
}

TEST(ResponseParser, NginxGzipIsKeptAsContent) {
  Parsed p = parse(kNginxGzip);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.response.header("content-encoding"), "gzip");
  ASSERT_EQ(p.response.body.size(), 0x32u);
  EXPECT_EQ(p.response.body.substr(0, 3), "\x1f\x8b\x08"sv);
  expect_split_invariant(kNginxGzip);
}

TEST(ResponseParser, NotModifiedAndNoContentHaveNoBody) {
  Parsed p = parse(kNginxNotModified);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.response.status, 304);
  EXPECT_EQ(p.response.framing, BodyFraming::kNone);
  EXPECT_TRUE(p.response.keep_alive);
  // RFC 9110 §6.4.1: 204 has no content even with a Content-Length; the next response's
  // bytes are left alone.
  std::string two =
      "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n" + std::string(kNginxGet);
  p = parse(two);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.response.status, 204);
  EXPECT_EQ(p.consumed, two.size() - kNginxGet.size());
}

TEST(ResponseParser, Nginx404AndRange) {
  Parsed p = parse(kNginx404);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.response.status, 404);
  EXPECT_EQ(p.response.reason, "Not Found");
  EXPECT_EQ(p.response.body.size(), 153u);
  EXPECT_TRUE(p.response.body.ends_with("</html>\r\n"));
  p = parse(kNginxRange);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.response.status, 206);
  EXPECT_EQ(p.response.header("content-range"), "bytes 0-4/17");
  EXPECT_EQ(p.response.body, "hello");
}

TEST(ResponseParser, ConnectionCloseIsNotKeptAlive) {
  Parsed p = parse(kNginxClose);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.response.body, "hello from nginx\n");
  EXPECT_FALSE(p.response.keep_alive);
  // RFC 9112 §9.3: HTTP/1.0 is persistent only with keep-alive.
  p = parse("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.response.version_minor, 0);
  EXPECT_FALSE(p.response.keep_alive);
  p = parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_TRUE(p.response.keep_alive);
  p = parse("HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_FALSE(p.response.keep_alive);
}

TEST(ResponseParser, PythonContentUntilClose) {
  // RFC 9112 §6.3 rule 8: no Transfer-Encoding and no Content-Length.
  Parsed open = parse(kPythonUntilClose);
  EXPECT_EQ(open.status, ParseStatus::kIncomplete);
  Parsed p = parse(kPythonUntilClose, Method::kGet, true);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.response.version_minor, 0);
  EXPECT_EQ(p.response.body, "no length: read until close\n");
  EXPECT_EQ(p.response.framing, BodyFraming::kClose);
  EXPECT_FALSE(p.response.keep_alive);
  expect_split_invariant(kPythonUntilClose, Method::kGet, true);
  // Even an HTTP/1.1 response that says keep-alive cannot be kept without a length.
  p = parse("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nabc", Method::kGet, true);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_FALSE(p.response.keep_alive);
}

TEST(ResponseParser, MorganaChunkedStats) {
  Parsed p = parse(kMorganaStats);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.consumed, kMorganaStats.size());
  EXPECT_EQ(p.response.body,
            "connections 1\nrequests 0\nbad_requests 0\nheader_timeouts 0\nidle_closed 0\n"
            "evicted 0\nbusy 0\nlive 1\n");
  EXPECT_FALSE(p.response.keep_alive);
  expect_split_invariant(kMorganaStats);
}

TEST(ResponseParser, InterimResponsesAreSkipped) {
  // RFC 9110 §15.2: a client MUST be able to parse and ignore 1xx responses.
  Parsed p = parse(kMorganaContinue, Method::kPost);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.response.status, 200);
  EXPECT_EQ(p.response.interim, 1u);
  EXPECT_EQ(p.response.body, "hello");
  EXPECT_EQ(p.response.header("content-type"), "application/octet-stream");
  expect_split_invariant(kMorganaContinue, Method::kPost);
  // 103 Early Hints carries fields of its own, which do not leak into the final response.
  p = parse(
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
      "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.response.interim, 2u);
  EXPECT_FALSE(p.response.header("link").has_value());
  // A bounded number of them, and never 101 (we do not ask to upgrade).
  std::string many;
  for (int i = 0; i < 9; ++i) many += "HTTP/1.1 100 Continue\r\n\r\n";
  EXPECT_EQ(error_of(many), Errc::kOutOfRange);
  EXPECT_EQ(error_of("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"),
            Errc::kUnsupported);
}

TEST(ResponseParser, BackToBackResponsesLeaveTheSecond) {
  std::string two = std::string(kNginxChunked) + std::string(kNginxGet);
  Parsed p = parse(two);
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.consumed, kNginxChunked.size());
  // reset() readies the parser for the next response on the same connection.
  ResponseParser parser;
  parser.reset();
  ASSERT_EQ(parser.parse(two).status, ParseStatus::kComplete);
  EXPECT_EQ(parser.parse("more").status, ParseStatus::kComplete);  // done until reset
  parser.reset();
  ParseProgress second = parser.parse(std::string_view(two).substr(kNginxChunked.size()));
  ASSERT_EQ(second.status, ParseStatus::kComplete);
  EXPECT_EQ(parser.response().body, "hello from nginx\n");
}

TEST(ResponseParser, BodySinkGetsTheContent) {
  std::string seen;
  size_t calls = 0;
  ResponseParser parser;
  parser.reset(Method::kGet, [&](std::span<const uint8_t> bytes) {
    seen.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    ++calls;
  });
  for (char c : kMorganaStats)
    ASSERT_NE(parser.parse(std::string_view(&c, 1)).status, ParseStatus::kError);
  EXPECT_EQ(parser.response().body, "");
  EXPECT_EQ(parser.response().body_size, seen.size());
  EXPECT_TRUE(seen.starts_with("connections 1\n"));
  EXPECT_TRUE(seen.ends_with("live 1\n"));
  EXPECT_EQ(calls, seen.size());  // one byte at a time
}

TEST(ResponseParser, ChunkExtensionsAndTrailers) {
  // RFC 9112 §7.1.1: unknown extensions are ignored; §7.1.2: trailer fields are kept apart.
  Parsed p = parse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
      "5;name=value;flag\r\nhello\r\n6 ; quoted=\"a b\"\r\n world\r\n0\r\nX-Sum: 42\r\n"
      "X-Other:  padded  \r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kComplete) << p.reason;
  EXPECT_EQ(p.response.body, "hello world");
  ASSERT_EQ(p.response.trailers.size(), 2u);
  EXPECT_EQ(p.response.trailers[0].name, "X-Sum");
  EXPECT_EQ(p.response.trailers[0].value, "42");
  EXPECT_EQ(p.response.trailers[1].value, "padded");
  EXPECT_FALSE(p.response.header("x-sum").has_value());
  // Upper-case hex and leading zeros.
  p = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n00A\r\n0123456789\r\n0\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.response.body, "0123456789");
}

TEST(ResponseParser, ChunkedErrors) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(error_of(head + "zz\r\n"), Errc::kMalformed);
  EXPECT_EQ(error_of(head + "\r\n"), Errc::kMalformed);
  EXPECT_EQ(error_of(head + "5 x\r\n"), Errc::kMalformed);
  EXPECT_EQ(error_of(head + "3\r\nabcd\r\n"), Errc::kMalformed);  // data longer than its size
  EXPECT_EQ(error_of(head + "ffffffffffffffffffff\r\n"), Errc::kOutOfRange);
  EXPECT_EQ(error_of(head + "1;ext=\x01\r\n"), Errc::kMalformed);
  EXPECT_EQ(error_of(head + "0\r\nbad trailer\r\n\r\n"), Errc::kMalformed);
  EXPECT_EQ(error_of(head + "0\r\n folded\r\n\r\n"), Errc::kMalformed);
  EXPECT_EQ(error_of(head + "1" + std::string(1100, '0') + "\r\n"), Errc::kOutOfRange);
  // Cut off: the close before the last chunk is no end.
  EXPECT_EQ(error_of(head + "5\r\nhel", Method::kGet, {}, true), Errc::kClosed);
  EXPECT_EQ(error_of(head + "5\r\nhello\r\n", Method::kGet, {}, true), Errc::kClosed);
}

TEST(ResponseParser, FramingErrors) {
  // RFC 9112 §6.3 rule 3: both framings "ought to be handled as an error".
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Errc::kMalformed);
  // Rule 5: Content-Length lists must agree; any other invalid value is unrecoverable.
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"), Errc::kMalformed);
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            Errc::kMalformed);
  for (const char* bad : {"+5", "-1", "0x10", "5 5", "", ","})
    EXPECT_EQ(error_of(std::string("HTTP/1.1 200 OK\r\nContent-Length: ") + bad + "\r\n\r\n"),
              Errc::kMalformed)
        << bad;
  Parsed p = parse("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello");
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.response.body, "hello");
  // Codings this client cannot undo, chunked twice, chunked in HTTP/1.0.
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Errc::kUnsupported);
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), Errc::kUnsupported);
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
            Errc::kMalformed);
  EXPECT_EQ(error_of("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), Errc::kMalformed);
  // A content-length body cut short by the close.
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", Method::kGet, {}, true),
            Errc::kClosed);
}

TEST(ResponseParser, StatusLines) {
  // RFC 9112 §4: the reason phrase may be empty, and its SP may even be missing.
  Parsed p = parse("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.response.reason, "");
  p = parse("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.response.status, 404);
  // A reason with obs-text; a higher minor version is read as 1.1 (RFC 9110 §6.2).
  p = parse("HTTP/1.2 599 Caf\xc3\xa9 ok\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(p.response.status, 599);
  EXPECT_EQ(p.response.version_minor, 1);
  EXPECT_EQ(error_of("HTTP/2.0 200 OK\r\n\r\n"), Errc::kUnsupported);
  for (const char* bad :
       {"http/1.1 200 OK", "HTTP/1.1  200 OK", "HTTP/1.1 20 OK", "HTTP/1.1 2000 OK",
        "HTTP/1.1 099 Low", "HTTP/1.1 600 High", "HTTP/11 200 OK", "ICY 200 OK",
        "HTTP/1.1 200 O\x01K", "HTTP/1.1 2x0 OK", "HTTP/1.1 200\tOK"})
    EXPECT_EQ(error_of(std::string(bad) + "\r\n\r\n"), Errc::kMalformed) << bad;
}

TEST(ResponseParser, FieldSyntax) {
  // RFC 9112 §2.2: a bare LF ends a line too.
  Parsed p = parse("HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\nok");
  ASSERT_EQ(p.status, ParseStatus::kComplete) << p.reason;
  EXPECT_EQ(p.response.header("x-a"), "b");
  EXPECT_EQ(p.response.body, "ok");
  // RFC 9112 §5.2: obs-fold becomes one SP.
  p = parse(
      "HTTP/1.1 200 OK\r\nX-Folded: first\r\n   second\r\n\tthird\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kComplete) << p.reason;
  EXPECT_EQ(p.response.header("x-folded"), "first second third");
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\n folded first\r\n\r\n"), Errc::kMalformed);
  // RFC 9112 §5.1: no whitespace before the colon.
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello"), Errc::kMalformed);
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nno colon\r\n\r\n"), Errc::kMalformed);
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n"), Errc::kMalformed);
  // RFC 9110 §5.5: CR and NUL inside a value.
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n"), Errc::kMalformed);
  EXPECT_EQ(error_of(std::string("HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n", 29)), Errc::kMalformed);
  // Repeated fields are all kept, and joined as a list.
  p = parse("HTTP/1.1 200 OK\r\nVary: a\r\nvary: b\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(p.response.header_list("Vary"), "a, b");
  // A few empty lines before a status line are tolerated, not many.
  p = parse("\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(error_of(std::string(20, '\n')), Errc::kMalformed);
}

TEST(ResponseParser, Limits) {
  ClientLimits small;
  small.max_header_bytes = 100;
  small.max_headers = 3;
  small.max_body = 10;
  small.max_chunk_line = 16;
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nX-Long: " + std::string(100, 'a') + "\r\n\r\n",
                     Method::kGet, small),
            Errc::kOutOfRange);
  EXPECT_EQ(
      error_of("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", Method::kGet, small),
      Errc::kOutOfRange);
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", Method::kGet, small),
            Errc::kOutOfRange);
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            Errc::kOutOfRange);
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n",
                     Method::kGet, small),
            Errc::kOutOfRange);
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\n\r\n" + std::string(11, 'x'), Method::kGet, small),
            Errc::kOutOfRange);
  EXPECT_EQ(error_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
                         std::string(20, 'e') + "\r\n",
                     Method::kGet, small),
            Errc::kOutOfRange);
  // Exactly at each limit is fine.
  Parsed p = parse("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 10\r\n\r\n0123456789",
                   Method::kGet, false, small);
  ASSERT_EQ(p.status, ParseStatus::kComplete) << p.reason;
  // The limit is checked before buffering: a head that never ends is refused once it
  // passes the limit, not when it ends.
  ResponseParser parser(small);
  parser.reset();
  ParseProgress progress = parser.parse("HTTP/1.1 200 OK\r\nX: " + std::string(200, 'a'));
  EXPECT_EQ(progress.status, ParseStatus::kError);
  EXPECT_EQ(parser.error_code(), Errc::kOutOfRange);
  EXPECT_STREQ(parser.error_reason(), "response header section larger than the limit");
}

TEST(ResponseParser, ClosedBeforeResponding) {
  // The server closed a kept-alive connection without a byte: started() tells the
  // client it may send an idempotent request again.
  ResponseParser parser;
  parser.reset();
  EXPECT_FALSE(parser.started());
  EXPECT_EQ(parser.finish().status, ParseStatus::kError);
  EXPECT_EQ(parser.error_code(), Errc::kClosed);
  EXPECT_FALSE(parser.started());
  parser.reset();
  EXPECT_EQ(parser.parse("HTTP/1.1 2").status, ParseStatus::kIncomplete);
  EXPECT_TRUE(parser.started());
  EXPECT_EQ(parser.finish().status, ParseStatus::kError);
  EXPECT_EQ(parser.error_code(), Errc::kClosed);
  // After an error, nothing more is parsed.
  EXPECT_EQ(parser.parse(kNginxGet).status, ParseStatus::kError);
}

}  // namespace
}  // namespace morgana::http
