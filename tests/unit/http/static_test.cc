// Static file serving over a hand-built CompiledStore: content types, validators,
// conditional requests (RFC 9110 §13), ranges (§14), gzip variants (§12.5.3), index files,
// redirects and 404; plus HTTP dates and the response framing on the wire.
#include <gtest/gtest.h>

#include <string>

#include "morgana/async/async.h"
#include "morgana/async/virtual_backend.h"
#include "morgana/proto/http/date.h"
#include "morgana/proto/http/mime.h"
#include "morgana/proto/http/parser.h"
#include "morgana/proto/http/range.h"
#include "morgana/proto/http/server.h"
#include "morgana/proto/http/static_files.h"
#include "morgana/storage/kv_compiled.h"

namespace morgana::http {
namespace {

const std::string kIndex = "<!doctype html><title>Morgana</title>";
const std::string kCss = "body { color: black; }\n";
const std::string kCssGz = "\x1f\x8b gzip bytes";  // content is opaque to the server
const std::string kGuide = "<h1>Guide</h1>";
const std::string kNotFound = "<h1>nothing here</h1>";
const std::string kDigits = "0123456789";

auto bytes(const std::string& s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

// Sorted by key, as the generator writes them.
const kv::CompiledEntry kEntries[] = {
    {"404.html", bytes(kNotFound), kNotFound.size(), 1764000000, "\"nf\""},
    {"digits.txt", bytes(kDigits), kDigits.size(), 1764000000, "\"d1\""},
    {"guide/index.html", bytes(kGuide), kGuide.size(), 1764000000, "\"g1\""},
    {"index.html", bytes(kIndex), kIndex.size(), 1764000000, "\"i1\""},
    {"site.css", bytes(kCss), kCss.size(), 1764000000, "\"c1\""},
    {"site.css.gz", bytes(kCssGz), kCssGz.size(), 1764000000, "\"c1gz\""},
};
const kv::CompiledTable kTable = {kEntries, 6};

std::string body_of(const Response& r) {
  std::string out;
  for (const auto& part : r.body) {
    if (part.kind == BodyPart::Kind::kOwned)
      out += part.owned;
    else if (part.kind == BodyPart::Kind::kBorrowed)
      out.append(reinterpret_cast<const char*>(part.borrowed.data()), part.borrowed.size());
  }
  return out;
}

std::string header(const Response& r, std::string_view name) {
  const std::string* v = r.find_header(name);
  return v ? *v : "";
}

class StaticTest : public ::testing::Test {
 protected:
  Response get(std::string request_text) {
    RequestParser parser;
    EXPECT_EQ(parser.parse(request_text).status, ParseStatus::kComplete) << request_text;
    async::VirtualBackend backend;
    async::Loop loop(backend);
    StaticFiles<kv::CompiledStore> files(store_);
    return loop.run(files.serve(parser.request()));
  }
  kv::CompiledStore store_{kTable};
};

TEST_F(StaticTest, ServesIndexWithValidators) {
  Response r = get("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body_of(r), kIndex);
  EXPECT_EQ(header(r, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(header(r, "ETag"), "\"i1\"");
  EXPECT_EQ(header(r, "Last-Modified"), "Mon, 24 Nov 2025 16:00:00 GMT");
  EXPECT_EQ(header(r, "Accept-Ranges"), "bytes");
  EXPECT_EQ(header(r, "Vary"), "");
  EXPECT_EQ(get("GET /guide/ HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
}

TEST_F(StaticTest, DirectoryWithoutSlashRedirects) {
  Response r = get("GET /guide?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(header(r, "Location"), "/guide/?x=1");
}

TEST_F(StaticTest, NotFoundPage) {
  Response r = get("GET /nope.html HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(body_of(r), kNotFound);
  EXPECT_EQ(get("GET /../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);
  EXPECT_EQ(get("GET /%2e%2e/x HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);
}

TEST_F(StaticTest, GzipVariantWhenAccepted) {
  Response r =
      get("GET /site.css HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n");
  EXPECT_EQ(body_of(r), kCssGz);
  EXPECT_EQ(header(r, "Content-Encoding"), "gzip");
  EXPECT_EQ(header(r, "Content-Type"), "text/css; charset=utf-8");
  EXPECT_EQ(header(r, "Vary"), "Accept-Encoding");
  EXPECT_EQ(header(r, "ETag"), "\"c1gz\"");
  Response plain =
      get("GET /site.css HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip;q=0, br\r\n\r\n");
  EXPECT_EQ(body_of(plain), kCss);
  EXPECT_EQ(header(plain, "Content-Encoding"), "");
  EXPECT_EQ(header(plain, "Vary"), "Accept-Encoding");
  EXPECT_EQ(body_of(get("GET /site.css HTTP/1.1\r\nHost: a\r\n\r\n")), kCss);
  EXPECT_EQ(body_of(get("GET /site.css HTTP/1.1\r\nHost: a\r\nAccept-Encoding: *\r\n\r\n")),
            kCssGz);
}

TEST_F(StaticTest, ConditionalRequests) {
  EXPECT_EQ(get("GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"i1\"\r\n\r\n").status, 304);
  EXPECT_EQ(get("GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"x\", W/\"i1\"\r\n\r\n").status, 304);
  EXPECT_EQ(get("GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"x\"\r\n\r\n").status, 200);
  EXPECT_EQ(get("GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: *\r\n\r\n").status, 304);
  EXPECT_EQ(
      get("GET / HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: Mon, 24 Nov 2025 16:00:00 GMT\r\n\r\n")
          .status,
      304);
  EXPECT_EQ(
      get("GET / HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: Mon, 24 Nov 2025 15:59:59 GMT\r\n\r\n")
          .status,
      200);
  // §13.1.3: If-None-Match wins over If-Modified-Since.
  EXPECT_EQ(get("GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"x\"\r\n"
                "If-Modified-Since: Mon, 24 Nov 2025 16:00:00 GMT\r\n\r\n")
                .status,
            200);
  EXPECT_EQ(get("GET / HTTP/1.1\r\nHost: a\r\nIf-Match: \"x\"\r\n\r\n").status, 412);
  EXPECT_EQ(get("GET / HTTP/1.1\r\nHost: a\r\nIf-Match: \"i1\"\r\n\r\n").status, 200);
  EXPECT_EQ(
      get("GET / HTTP/1.1\r\nHost: a\r\nIf-Unmodified-Since: Sun, 23 Nov 2025 00:00:00 GMT\r\n\r\n")
          .status,
      412);
  Response r = get("GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"i1\"\r\n\r\n");
  EXPECT_EQ(header(r, "ETag"), "\"i1\"");
  EXPECT_TRUE(r.body.empty());
}

TEST_F(StaticTest, Ranges) {
  Response one = get("GET /digits.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=2-4\r\n\r\n");
  EXPECT_EQ(one.status, 206);
  EXPECT_EQ(body_of(one), "234");
  EXPECT_EQ(header(one, "Content-Range"), "bytes 2-4/10");
  EXPECT_EQ(body_of(get("GET /digits.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=-3\r\n\r\n")), "789");
  EXPECT_EQ(body_of(get("GET /digits.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=7-\r\n\r\n")), "789");
  EXPECT_EQ(body_of(get("GET /digits.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=8-100\r\n\r\n")),
            "89");
  Response bad = get("GET /digits.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=10-\r\n\r\n");
  EXPECT_EQ(bad.status, 416);
  EXPECT_EQ(header(bad, "Content-Range"), "bytes */10");
  // Invalid syntax or another unit: the whole representation.
  EXPECT_EQ(get("GET /digits.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=5-2\r\n\r\n").status, 200);
  EXPECT_EQ(get("GET /digits.txt HTTP/1.1\r\nHost: a\r\nRange: lines=1-2\r\n\r\n").status, 200);
  // HEAD ignores Range (§14.2); If-Range with another ETag sends everything (§13.1.5).
  EXPECT_EQ(get("HEAD /digits.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=1-2\r\n\r\n").status, 200);
  EXPECT_EQ(
      get("GET /digits.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=1-2\r\nIf-Range: \"old\"\r\n\r\n")
          .status,
      200);
  EXPECT_EQ(
      get("GET /digits.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=1-2\r\nIf-Range: \"d1\"\r\n\r\n")
          .status,
      206);

  Response multi = get("GET /digits.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1, 5-6\r\n\r\n");
  EXPECT_EQ(multi.status, 206);
  EXPECT_EQ(header(multi, "Content-Type"), "multipart/byteranges; boundary=morgana-byteranges-d1");
  EXPECT_EQ(body_of(multi),
            "\r\n--morgana-byteranges-d1\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Range: bytes 0-1/10\r\n\r\n01"
            "\r\n--morgana-byteranges-d1\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Range: bytes 5-6/10\r\n\r\n56"
            "\r\n--morgana-byteranges-d1--\r\n");
}

TEST(Range, Parse) {
  std::vector<ByteRange> r;
  EXPECT_EQ(parse_range("bytes=0-0,-1", 5, r), RangeVerdict::kSatisfiable);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].first, 4u);
  EXPECT_EQ(parse_range("bytes=-0", 5, r), RangeVerdict::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=", 5, r), RangeVerdict::kIgnore);
  EXPECT_EQ(parse_range("bytes=1-2,3-4,5-6", 100, r, 2), RangeVerdict::kIgnore);
  EXPECT_EQ(parse_range("bytes=99999999999999999999999-", 100, r), RangeVerdict::kIgnore);
}

TEST(Date, FormatsAndParsesAllThreeForms) {
  // RFC 9110 §5.6.7's example.
  EXPECT_EQ(format_http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), 784111777);
  EXPECT_EQ(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), std::nullopt);
  EXPECT_EQ(parse_http_date("garbage"), std::nullopt);
}

TEST(Mime, ByExtension) {
  EXPECT_EQ(content_type_for("a/b/c.CSS"), "text/css; charset=utf-8");
  EXPECT_EQ(content_type_for("logo.svg"), "image/svg+xml");
  EXPECT_EQ(content_type_for("README"), "application/octet-stream");
  EXPECT_TRUE(compressible_type("image/svg+xml"));
  EXPECT_FALSE(compressible_type("image/png"));
}

// A flow that records what is written.
struct RecordingFlow {
  std::string written;
  async::Task<Result<void>> write(std::span<const uint8_t> data) {
    written.append(reinterpret_cast<const char*>(data.data()), data.size());
    co_return ok();
  }
};

std::string wire(const Response& response, HeadContext context, bool head_only) {
  async::VirtualBackend backend;
  async::Loop loop(backend);
  RecordingFlow flow;
  std::vector<uint8_t> scratch;
  EXPECT_TRUE(loop.run(write_response(flow, response, context, head_only, scratch)));
  return flow.written;
}

TEST(Wire, SizedChunkedHeadAndStream) {
  Response r = Response::text(Status::kOk, "hello");
  EXPECT_EQ(wire(r, {1, true, "Sun, 06 Nov 1994 08:49:37 GMT", "Morgana"}, false),
            "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: Morgana\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(wire(r, {1, false, "", ""}, true),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n"
            "Connection: close\r\n\r\n");
  r.framing = Framing::kChunked;
  r.append(" world");
  EXPECT_EQ(wire(r, {1, true, "", ""}, false),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nTransfer-Encoding: "
            "chunked\r\n\r\n"
            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  // An HTTP/1.0 client cannot take chunked: sized instead, keep-alive said explicitly.
  EXPECT_EQ(wire(r, {0, true, "", ""}, false),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 11\r\n"
            "Connection: keep-alive\r\n\r\nhello world");
  // Stream parts come through the reader.
  Response s(Status::kOk);
  s.append_stream(3, 4);
  s.reader = [](uint64_t offset, std::span<uint8_t> out) -> async::Task<Result<size_t>> {
    size_t n = std::min<size_t>(out.size(), 1);  // one byte at a time
    out[0] = uint8_t('0' + offset);
    co_return n;
  };
  EXPECT_EQ(wire(s, {1, true, "", ""}, false), "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n3456");
  EXPECT_EQ(wire(Response(Status::kNotModified), {1, true, "", ""}, false),
            "HTTP/1.1 304 Not Modified\r\n\r\n");
}

TEST(PathToKey, DecodesAndRefuses) {
  EXPECT_EQ(path_to_key("/", "index.html"), "index.html");
  EXPECT_EQ(path_to_key("/a%20b.txt", "index.html"), "a b.txt");
  EXPECT_EQ(path_to_key("/docs/", "index.html"), "docs/index.html");
  EXPECT_EQ(path_to_key("/a/../b", "index.html"), std::nullopt);
  EXPECT_EQ(path_to_key("/a//b", "index.html"), std::nullopt);
  EXPECT_EQ(path_to_key("/a%2fb", "index.html"), std::nullopt);
  EXPECT_EQ(path_to_key("/a%00", "index.html"), std::nullopt);
  EXPECT_EQ(path_to_key("/a%4", "index.html"), std::nullopt);
  EXPECT_EQ(path_to_key("*", "index.html"), std::nullopt);
}

TEST(Router, MethodsAndPrefixes) {
  Router router;
  router.add(Method::kGet, "/a", [](const Request&) -> async::Task<Response> {
    co_return Response::text(Status::kOk, "a");
  });
  router.add(Method::kPost, "/a", [](const Request&) -> async::Task<Response> {
    co_return Response::text(Status::kOk, "posted");
  });
  router.add_prefix(Method::kGet, "/", [](const Request&) -> async::Task<Response> {
    co_return Response::text(Status::kOk, "any");
  });
  auto run = [&](std::string text) {
    RequestParser parser;
    EXPECT_EQ(parser.parse(text).status, ParseStatus::kComplete);
    async::VirtualBackend backend;
    async::Loop loop(backend);
    return loop.run(router.dispatch(parser.request()));
  };
  EXPECT_EQ(body_of(run("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")), "a");
  EXPECT_EQ(body_of(run("HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n")), "a");
  EXPECT_EQ(body_of(run("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")), "posted");
  EXPECT_EQ(body_of(run("GET /b HTTP/1.1\r\nHost: x\r\n\r\n")), "any");
  Response r = run("DELETE /a HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "Allow"), "GET, HEAD, POST");
}

}  // namespace
}  // namespace morgana::http
