// StaticFiles over a kv::TarStore (the website_tar image's store): content is not in
// memory, so every body goes through the response's reader; these tests write responses
// as the server does and check the bytes on the wire, including ranges that cross the
// store's cache blocks, the 404 page read from the archive and the .gz variant.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "morgana/async/async.h"
#include "morgana/async/virtual_backend.h"
#include "morgana/proto/http/parser.h"
#include "morgana/proto/http/server.h"
#include "morgana/proto/http/static_files.h"
#include "morgana/storage/kv_tar.h"

namespace morgana::http {
namespace {

// One ustar header with a valid checksum, then `content` padded to 512 bytes.
void add_entry(std::vector<uint8_t>& tar, const std::string& name, const std::string& content) {
  std::vector<uint8_t> h(512, 0);
  std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 100));
  std::snprintf(reinterpret_cast<char*>(&h[100]), 8, "%07o", 0644);
  std::snprintf(reinterpret_cast<char*>(&h[124]), 12, "%011llo",
                (unsigned long long)content.size());
  std::snprintf(reinterpret_cast<char*>(&h[136]), 12, "%011llo", 1764000000ull);
  h[156] = '0';
  std::memcpy(&h[257],
              "ustar\0"
              "00",
              8);
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (uint8_t b : h) sum += b;
  std::snprintf(reinterpret_cast<char*>(&h[148]), 8, "%06o", sum);
  tar.insert(tar.end(), h.begin(), h.end());
  tar.insert(tar.end(), content.begin(), content.end());
  tar.resize((tar.size() + 511) / 512 * 512, 0);
}

class MemoryDevice final : public kv::BlockReader {
 public:
  explicit MemoryDevice(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  uint64_t capacity() const override { return bytes_.size(); }
  uint32_t block_size() const override { return 512; }
  Result<void> read(uint64_t offset, std::span<uint8_t> out) override {
    std::memcpy(out.data(), bytes_.data() + offset, out.size());
    return ok();
  }

 private:
  std::vector<uint8_t> bytes_;
};

const std::string kIndex = "<!doctype html><title>from a disk</title>";
const std::string kGuide = "<h1>Guide</h1>";
const std::string kNotFound = "<h1>not on this disk</h1>";
const std::string kCss = "body { color: black; }\n";
const std::string kCssGz = "\x1f\x8b not really gzip";

std::string big_content() {
  std::string s(20000, '\0');
  for (size_t i = 0; i < s.size(); ++i) s[i] = char('a' + (i * 7 + i / 26) % 26);
  return s;
}

struct RecordingFlow {
  std::string written;
  async::Task<Result<void>> write(std::span<const uint8_t> data) {
    written.append(reinterpret_cast<const char*>(data.data()), data.size());
    co_return ok();
  }
};

class StaticTarTest : public ::testing::Test {
 protected:
  StaticTarTest() : device_(make_archive()) {
    std::string why;
    auto store = kv::TarStore::create(device_, {.cache_block_size = 4096, .cache_blocks = 2}, &why);
    EXPECT_TRUE(store.ok()) << why;
    store_.emplace(std::move(*store));
  }

  static std::vector<uint8_t> make_archive() {
    std::vector<uint8_t> tar;
    add_entry(tar, "./404.html", kNotFound);
    add_entry(tar, "./big.txt", big_content());
    add_entry(tar, "./guide/index.html", kGuide);
    add_entry(tar, "./index.html", kIndex);
    add_entry(tar, "./site.css", kCss);
    add_entry(tar, "./site.css.gz", kCssGz);
    tar.resize(tar.size() + 1024, 0);
    return tar;
  }

  // The request served and written as the server writes it; returns the head and the
  // body separately.
  std::pair<std::string, std::string> get(const std::string& request_text) {
    RequestParser parser;
    EXPECT_EQ(parser.parse(request_text).status, ParseStatus::kComplete) << request_text;
    async::VirtualBackend backend;
    async::Loop loop(backend);
    StaticFiles<kv::TarStore> files(*store_);
    Response response = loop.run(files.serve(parser.request()));
    RecordingFlow flow;
    std::vector<uint8_t> scratch;
    bool head_only = parser.request().method == Method::kHead;
    EXPECT_TRUE(loop.run(write_response(flow, response, HeadContext{}, head_only, scratch)));
    size_t end = flow.written.find("\r\n\r\n");
    EXPECT_NE(end, std::string::npos);
    return {flow.written.substr(0, end + 2), flow.written.substr(end + 4)};
  }

  MemoryDevice device_;
  std::optional<kv::TarStore> store_;
};

TEST_F(StaticTarTest, ServesFilesByteIdenticalWithValidators) {
  auto [head, body] = get("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
  EXPECT_EQ(body, kIndex);
  EXPECT_NE(head.find("Content-Type: text/html; charset=utf-8\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Last-Modified: Mon, 24 Nov 2025 16:00:00 GMT\r\n"), std::string::npos);
  // The tar store's ETag: mtime, size and offset in hex.
  auto etag = store_->stat("index.html")->etag;
  EXPECT_EQ(etag, "\"69248100-29-5c00\"");
  EXPECT_NE(head.find("ETag: " + std::string(etag) + "\r\n"), std::string::npos) << head;
  EXPECT_EQ(get("GET /big.txt HTTP/1.1\r\nHost: a\r\n\r\n").second, big_content());
  EXPECT_EQ(get("GET /guide/ HTTP/1.1\r\nHost: a\r\n\r\n").second, kGuide);
  EXPECT_EQ(get("HEAD /big.txt HTTP/1.1\r\nHost: a\r\n\r\n").second, "");
}

TEST_F(StaticTarTest, RangesCrossCacheBlocks) {
  std::string big = big_content();
  auto [head, body] = get("GET /big.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=4000-12999\r\n\r\n");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 206 ")) << head;
  EXPECT_NE(head.find("Content-Range: bytes 4000-12999/20000\r\n"), std::string::npos) << head;
  EXPECT_EQ(body, big.substr(4000, 9000));
  auto multi = get("GET /big.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=0-9, 19990-\r\n\r\n").second;
  EXPECT_NE(multi.find("Content-Range: bytes 0-9/20000\r\n\r\n" + big.substr(0, 10)),
            std::string::npos)
      << multi;
  EXPECT_NE(multi.find("Content-Range: bytes 19990-19999/20000\r\n\r\n" + big.substr(19990)),
            std::string::npos)
      << multi;
}

TEST_F(StaticTarTest, NotFoundPageRedirectAndConditional) {
  auto [head, body] = get("GET /missing.html HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 404 ")) << head;
  EXPECT_EQ(body, kNotFound);
  EXPECT_NE(get("GET /guide HTTP/1.1\r\nHost: a\r\n\r\n").first.find("Location: /guide/\r\n"),
            std::string::npos);
  std::string etag(store_->stat("index.html")->etag);
  EXPECT_TRUE(get("GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: " + etag + "\r\n\r\n")
                  .first.starts_with("HTTP/1.1 304 "));
}

TEST_F(StaticTarTest, GzipVariantFromTheArchive) {
  auto [head, body] = get("GET /site.css HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n");
  EXPECT_EQ(body, kCssGz);
  EXPECT_NE(head.find("Content-Encoding: gzip\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Vary: Accept-Encoding\r\n"), std::string::npos) << head;
  EXPECT_EQ(get("GET /site.css HTTP/1.1\r\nHost: a\r\n\r\n").second, kCss);
}

}  // namespace
}  // namespace morgana::http
