// RequestParser on requests captured from real clients (curl 7.88.1 against a Python
// listener on 127.0.0.1; wrk's fixed request; a Chromium navigation's header set) and on
// RFC 9112 edge cases: each violation must give the status RFC 9110 names for it.
#include "morgana/proto/http/parser.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace morgana::http {
namespace {

constexpr std::string_view kCurlGet =
    "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:18799\r\nUser-Agent: curl/7.88.1\r\nAccept: "
    "*/*\r\n\r\n";
constexpr std::string_view kCurlPost =
    "POST /api HTTP/1.1\r\nHost: 127.0.0.1:18799\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n"
    "Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
constexpr std::string_view kCurlRange =
    "GET /x HTTP/1.1\r\nHost: 127.0.0.1:18799\r\nRange: bytes=0-99\r\nUser-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\nAccept-Encoding: deflate, gzip, br, zstd\r\n\r\n";
constexpr std::string_view kCurlChunked =
    "POST /upload HTTP/1.1\r\nHost: 127.0.0.1:18799\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n"
    "Transfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
    "b\r\nhello world\r\n0\r\n\r\n";
// wrk 4.1 sends exactly this for `wrk http://127.0.0.1:8080/`.
constexpr std::string_view kWrk = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
// The fields Chromium 120 sends for a top-level navigation (as DevTools shows them).
constexpr std::string_view kChromium =
    "GET /guide.html HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "Connection: keep-alive\r\n"
    "sec-ch-ua: \"Not_A Brand\";v=\"8\", \"Chromium\";v=\"120\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n"
    "Sec-Fetch-Site: none\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-User: ?1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "If-None-Match: \"5d41402abc4b2a76\"\r\n"
    "If-Modified-Since: Tue, 01 Dec 2026 10:00:00 GMT\r\n\r\n";

struct Outcome {
  ParseStatus status;
  size_t consumed;
  Status error;
};

Outcome parse_all(RequestParser& parser, std::string_view input) {
  auto p = parser.parse(input);
  return {p.status, p.consumed, parser.error_status()};
}

Status error_of(std::string_view input, Limits limits = {}) {
  RequestParser parser(limits);
  auto p = parser.parse(input);
  EXPECT_EQ(p.status, ParseStatus::kError) << input;
  return parser.error_status();
}

TEST(Parser, CurlGet) {
  RequestParser parser;
  auto r = parse_all(parser, kCurlGet);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.consumed, kCurlGet.size());
  const Request& req = parser.request();
  EXPECT_EQ(req.method, Method::kGet);
  EXPECT_EQ(req.path, "/index.html");
  EXPECT_EQ(req.version_minor, 1);
  EXPECT_TRUE(req.keep_alive);
  EXPECT_EQ(req.headers.size(), 3u);
  EXPECT_EQ(req.header("host"), "127.0.0.1:18799");
  EXPECT_EQ(req.header("USER-AGENT"), "curl/7.88.1");
}

TEST(Parser, CurlPostWithBody) {
  RequestParser parser;
  auto r = parse_all(parser, kCurlPost);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(parser.request().body, "{\"a\":1}");
  EXPECT_EQ(parser.request().method, Method::kPost);
}

TEST(Parser, CurlRangeAndWrkAndChromium) {
  for (auto input : {kCurlRange, kWrk, kChromium}) {
    RequestParser parser;
    auto r = parse_all(parser, input);
    ASSERT_EQ(r.status, ParseStatus::kComplete) << input;
    EXPECT_EQ(r.consumed, input.size());
  }
  RequestParser parser;
  ASSERT_EQ(parser.parse(kChromium).status, ParseStatus::kComplete);
  EXPECT_EQ(parser.request().headers.size(), 16u);
  EXPECT_EQ(parser.request().header("sec-ch-ua"),
            "\"Not_A Brand\";v=\"8\", \"Chromium\";v=\"120\"");
}

TEST(Parser, ChunkedBodyByteByByte) {
  RequestParser parser;
  ParseProgress p{};
  size_t i = 0;
  for (; i < kCurlChunked.size(); ++i) {
    p = parser.parse(kCurlChunked.substr(i, 1));
    if (p.status != ParseStatus::kIncomplete) break;
    EXPECT_EQ(p.consumed, 1u);
  }
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(i, kCurlChunked.size() - 1);
  EXPECT_EQ(parser.request().body, "hello world");
}

TEST(Parser, EverySplitGivesTheSameRequest) {
  for (auto input : {kCurlPost, kCurlChunked, kChromium}) {
    for (size_t cut = 0; cut <= input.size(); ++cut) {
      RequestParser parser;
      auto a = parser.parse(input.substr(0, cut));
      size_t used = a.consumed;
      if (a.status == ParseStatus::kIncomplete) {
        ASSERT_EQ(used, cut);
        auto b = parser.parse(input.substr(cut));
        ASSERT_EQ(b.status, ParseStatus::kComplete) << cut;
        used += b.consumed;
      }
      EXPECT_EQ(used, input.size());
    }
  }
}

TEST(Parser, PipelinedRequestsLeaveTheRestUnconsumed) {
  std::string stream = std::string(kCurlPost) + std::string(kCurlGet) + std::string(kWrk);
  std::string_view rest(stream);
  RequestParser parser;
  std::vector<std::string> paths;
  while (!rest.empty()) {
    auto p = parser.parse(rest);
    ASSERT_EQ(p.status, ParseStatus::kComplete);
    paths.emplace_back(parser.request().path);
    rest.remove_prefix(p.consumed);
    parser.reset();
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"/api", "/index.html", "/"}));
}

TEST(Parser, ChunkExtensionsAndTrailers) {
  RequestParser parser;
  auto p = parser.parse(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;name=value\r\nWiki\r\n5 ; x\r\npedia\r\n0\r\nChecksum: abc\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::kComplete);
  EXPECT_EQ(parser.request().body, "Wikipedia");
}

TEST(Parser, KeepAliveRules) {
  // RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive".
  struct Case {
    std::string_view input;
    bool keep_alive;
  } cases[] = {
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
  };
  for (const auto& c : cases) {
    RequestParser parser;
    ASSERT_EQ(parser.parse(c.input).status, ParseStatus::kComplete) << c.input;
    EXPECT_EQ(parser.request().keep_alive, c.keep_alive) << c.input;
  }
}

TEST(Parser, TargetForms) {
  RequestParser parser;
  ASSERT_EQ(parser.parse("GET http://example.com/a/b?x=1 HTTP/1.1\r\nHost: x\r\n\r\n").status,
            ParseStatus::kComplete);
  EXPECT_EQ(parser.request().path, "/a/b");
  EXPECT_EQ(parser.request().query, "x=1");
  parser.reset();
  ASSERT_EQ(parser.parse("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").status, ParseStatus::kComplete);
  EXPECT_EQ(parser.request().path, "*");
  parser.reset();
  ASSERT_EQ(parser.parse("GET /s?q=a%20b HTTP/1.1\r\nHost: x\r\n\r\n").status,
            ParseStatus::kComplete);
  EXPECT_EQ(parser.request().path, "/s");
  EXPECT_EQ(parser.request().query, "q=a%20b");
}

TEST(Parser, LeadingEmptyLinesAndBareLf) {
  // RFC 9112 §2.2: ignore empty lines before the request line; a bare LF may end a line.
  RequestParser parser;
  ASSERT_EQ(parser.parse("\r\n\r\nGET / HTTP/1.1\nHost: a\n\n").status, ParseStatus::kComplete);
  EXPECT_EQ(parser.request().header("host"), "a");
}

TEST(ParserErrors, BareCrBeforeTheRequestLineIsRefused) {
  // RFC 9112 §2.2: a bare CR (one not followed by LF) makes the element it is in invalid,
  // and only empty lines (CRLF or LF) may come before a request line. The parser once
  // skipped any CR there, so "\rGET ..." was served as "GET ...", a reading another
  // server in front of it would not share.
  for (std::string_view input :
       {"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", "\r\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "\r\n\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"}) {
    RequestParser parser;
    EXPECT_EQ(parser.parse(input).status, ParseStatus::kError) << input;
    EXPECT_EQ(parser.error_status(), Status::kBadRequest) << input;
  }
  // Empty lines are skipped in pieces of any size, and do not count against the request
  // line's limit.
  Limits tight;
  tight.max_request_line = 14;  // "GET / HTTP/1.1"
  RequestParser parser(tight);
  std::string_view input = "\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  for (size_t i = 0; i + 1 < input.size(); ++i)
    ASSERT_EQ(parser.parse(input.substr(i, 1)).status, ParseStatus::kIncomplete) << i;
  EXPECT_EQ(parser.parse(input.substr(input.size() - 1)).status, ParseStatus::kComplete);
}

TEST(ParserErrors, ContentLengthNeverOverflows) {
  // With a body limit near 2^64 a Content-Length of more digits than fit must still be
  // refused, not wrapped around into a small length that frames the body differently.
  Limits huge;
  huge.max_body = SIZE_MAX;
  EXPECT_EQ(
      error_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551626\r\n\r\n", huge),
      Status::kContentTooLarge);
  EXPECT_EQ(
      error_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 36893488147419103242\r\n\r\n", huge),
      Status::kContentTooLarge);
}

TEST(Parser, ExpectContinue) {
  RequestParser parser;
  auto p = parser.parse(
      "PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(p.status, ParseStatus::kIncomplete);
  EXPECT_TRUE(parser.head_complete());
  EXPECT_TRUE(parser.request().expect_continue);
  EXPECT_EQ(parser.parse("abc").status, ParseStatus::kComplete);
}

TEST(ParserErrors, BadRequest400) {
  const char* cases[] = {
      "GET / HTTP/1.1\r\n\r\n",                                 // no Host (§3.2)
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",           // two Hosts
      "GET / HTTP/1.1\r\nHost : a\r\n\r\n",                     // space before colon (§5.1)
      "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  folded\r\n\r\n",  // obs-fold (§5.2)
      "GET /  HTTP/1.1\r\nHost: a\r\n\r\n",                     // two spaces
      "GET /\r\nHost: a\r\n\r\n",                               // HTTP/0.9 style
      "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",                     // trailing space
      "GET / http/1.1\r\nHost: a\r\n\r\n",                      // version is case-sensitive
      "GET / HTTP/1.10\r\nHost: a\r\n\r\n",                     // two minor digits
      "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",                   // space in target
      "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",                  // control in target
      "GET /#frag HTTP/1.1\r\nHost: a\r\n\r\n",                 // fragment
      "GET x HTTP/1.1\r\nHost: a\r\n\r\n",                      // not a target form
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",         // control in value
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",           // bare CR (§2.2)
      "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
      "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",  // not a token
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n",
      // §6.3 rule 3: both framings (request smuggling); we reject.
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      // §6.3: chunked must be final.
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
      "chunked\r\n\r\n",
      // §6.1: Transfer-Encoding in HTTP/1.0.
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
      // bad chunk framing
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3x\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
  };
  for (const char* c : cases) {
    EXPECT_EQ(error_of(c), Status::kBadRequest) << c;
  }
}

TEST(ParserErrors, NulInFieldValue) {
  using namespace std::string_literals;
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s), Status::kBadRequest);
}

TEST(ParserErrors, StatusPerViolation) {
  // RFC 9110 §9.1: unknown method, 501; §15.6.6: HTTP/2.0 in a 1.x request line, 505.
  EXPECT_EQ(error_of("BREW / HTTP/1.1\r\nHost: a\r\n\r\n"), Status::kNotImplemented);
  EXPECT_EQ(error_of("get / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Status::kNotImplemented);  // case-sensitive
  EXPECT_EQ(error_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), Status::kHttpVersionNotSupported);
  EXPECT_EQ(error_of("GET / HTTP/0.9\r\nHost: a\r\n\r\n"), Status::kHttpVersionNotSupported);
  // RFC 9112 §6.1: a transfer coding we do not implement.
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Status::kNotImplemented);
  // RFC 9110 §15.5.12: POST without a length.
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nHost: a\r\n\r\n"), Status::kLengthRequired);
  // RFC 9110 §15.5.15: a URI longer than we accept, detected before the line ends.
  Limits small;
  small.max_request_line = 64;
  EXPECT_EQ(error_of("GET /" + std::string(100, 'a'), small), Status::kUriTooLong);
  EXPECT_EQ(error_of("GET /" + std::string(100, 'a') + " HTTP/1.1\r\n", small),
            Status::kUriTooLong);
  // RFC 6585 §5: header section too large, or too many fields.
  small.max_header_bytes = 128;
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(200, 'b'), small),
            Status::kRequestHeaderFieldsTooLarge);
  Limits few;
  few.max_headers = 3;
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", few),
            Status::kRequestHeaderFieldsTooLarge);
  // Exactly the limit is fine.
  RequestParser ok_parser(few);
  EXPECT_EQ(ok_parser.parse("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n").status,
            ParseStatus::kComplete);
  // RFC 9110 §15.5.14: body too large, declared or chunked.
  Limits body;
  body.max_body = 10;
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", body),
            Status::kContentTooLarge);
  EXPECT_EQ(
      error_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
               body),
      Status::kContentTooLarge);
  EXPECT_EQ(
      error_of(
          "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n",
          body),
      Status::kContentTooLarge);
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                     "chunked\r\n\r\nffffffffffffffffffff\r\n",
                     body),
            Status::kContentTooLarge);
}

TEST(Parser, HigherMinorVersionIsOneOne) {
  RequestParser parser;
  ASSERT_EQ(parser.parse("GET / HTTP/1.2\r\nHost: a\r\n\r\n").status, ParseStatus::kComplete);
  EXPECT_EQ(parser.request().version_minor, 1);
}

TEST(Parser, IdenticalContentLengthsAreOne) {
  // RFC 9112 §6.3 rule 5.
  RequestParser parser;
  ASSERT_EQ(parser.parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\nab").status,
            ParseStatus::kComplete);
  EXPECT_EQ(parser.request().body, "ab");
}

TEST(Parser, StartedAndResetReuse) {
  RequestParser parser;
  EXPECT_FALSE(parser.started());
  EXPECT_EQ(parser.parse("GE").status, ParseStatus::kIncomplete);
  EXPECT_TRUE(parser.started());
  EXPECT_FALSE(parser.head_complete());
  parser.reset();
  EXPECT_FALSE(parser.started());
  EXPECT_EQ(parser.parse(kWrk).status, ParseStatus::kComplete);
}

}  // namespace
}  // namespace morgana::http
