// kv::TarStore over archives written by GNU tar (tests/unit/storage/data/*.tar, made from
// data/site as below), read through an in-memory BlockReader that checks every device
// access is whole blocks; plus malformed archives and the cache bound.
//
// data/FORMAT.tar: tar --format=FORMAT --sort=name --mtime=@1764000000 --owner=0 --group=0
//   --numeric-owner -C site -cf FORMAT.tar .  (FORMAT: ustar, excluding ./cccc*; gnu; pax,
//   with --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "morgana/async/async.h"
#include "morgana/async/virtual_backend.h"
#include "morgana/storage/kv_tar.h"

namespace morgana::kv {
namespace {

const std::string kData =
    std::string(__FILE__).substr(0, std::string(__FILE__).rfind('/')) + "/data/";
const std::string kLongDir =
    "docs/this-directory-name-is-quite-long-so-that-the-path-passes-one-hundred-bytes/";
const std::string kLongPage = kLongDir + "page-with-a-long-name.html";
const std::string kLongComponent = std::string(120, 'c') + ".txt";

std::vector<uint8_t> load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string text(const std::string& path) {
  auto bytes = load(path);
  return {bytes.begin(), bytes.end()};
}

// A device in memory; every read must be whole blocks inside the capacity.
class MemoryDevice final : public BlockReader {
 public:
  explicit MemoryDevice(std::vector<uint8_t> bytes, uint32_t block_size = 512)
      : bytes_(std::move(bytes)), block_size_(block_size) {}
  uint64_t capacity() const override { return bytes_.size(); }
  uint32_t block_size() const override { return block_size_; }
  Result<void> read(uint64_t offset, std::span<uint8_t> out) override {
    EXPECT_EQ(offset % block_size_, 0u);
    EXPECT_EQ(out.size() % block_size_, 0u);
    EXPECT_LE(offset + out.size(), bytes_.size());
    ++reads;
    if (fail) return Error{Errc::kIo, "device failed"};
    std::memcpy(out.data(), bytes_.data() + offset, out.size());
    return ok();
  }
  std::vector<uint8_t>& bytes() { return bytes_; }
  size_t reads = 0;
  bool fail = false;

 private:
  std::vector<uint8_t> bytes_;
  uint32_t block_size_;
};

Result<size_t> read_sync(const TarStore& store, std::string_view key, uint64_t offset,
                         std::span<uint8_t> out) {
  async::VirtualBackend backend;
  async::Loop loop(backend);
  return loop.run(store.read(key, offset, out));
}

std::string read_all(const TarStore& store, std::string_view key) {
  auto st = store.stat(key);
  EXPECT_TRUE(st.ok()) << key;
  if (!st.ok()) return "";
  std::string out(st->size, '\0');
  auto n = read_sync(store, key, 0, {reinterpret_cast<uint8_t*>(out.data()), out.size()});
  EXPECT_TRUE(n.ok());
  EXPECT_EQ(n.value_or(0), st->size);
  return out;
}

// One ustar header (with a valid checksum) followed by `content`, padded to 512.
std::vector<uint8_t> entry(const std::string& name, const std::string& content, char type = '0',
                           uint64_t claimed_size = UINT64_MAX) {
  std::vector<uint8_t> h(512, 0);
  std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 100));
  std::snprintf(reinterpret_cast<char*>(&h[100]), 8, "%07o", 0644);
  std::snprintf(reinterpret_cast<char*>(&h[124]), 12, "%011llo",
                (unsigned long long)(claimed_size == UINT64_MAX ? content.size() : claimed_size));
  std::snprintf(reinterpret_cast<char*>(&h[136]), 12, "%011llo", 1764000000ull);
  h[156] = uint8_t(type);
  std::memcpy(&h[257],
              "ustar\0"
              "00",
              8);
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (uint8_t b : h) sum += b;
  std::snprintf(reinterpret_cast<char*>(&h[148]), 8, "%06o", sum);
  h.insert(h.end(), content.begin(), content.end());
  h.resize((h.size() + 511) / 512 * 512, 0);
  return h;
}

std::vector<uint8_t> archive(std::initializer_list<std::vector<uint8_t>> entries) {
  std::vector<uint8_t> out;
  for (const auto& e : entries) out.insert(out.end(), e.begin(), e.end());
  out.resize(out.size() + 1024, 0);
  return out;
}

struct Failure {
  Errc code;
  std::string diagnostic;
};

Failure create_fails(std::vector<uint8_t> bytes, TarOptions options = {},
                     uint32_t block_size = 512) {
  MemoryDevice device(std::move(bytes), block_size);
  std::string why;
  auto store = TarStore::create(device, options, &why);
  EXPECT_FALSE(store.ok());
  if (store.ok()) return {};
  return {store.error().code, why};
}

class GnuTarTest : public ::testing::TestWithParam<const char*> {};

TEST_P(GnuTarTest, IndexesEveryRegularFileByteIdentical) {
  MemoryDevice device(load(kData + GetParam() + ".tar"));
  std::string why;
  auto store = TarStore::create(device, {}, &why);
  ASSERT_TRUE(store.ok()) << why;
  std::vector<std::string> want = {"big.txt", "css/site.css", "deep/nested/dir/file.txt",
                                   kLongPage, "empty.txt",    "index.html"};
  if (std::string(GetParam()) != "ustar") want.push_back(kLongComponent);
  std::sort(want.begin(), want.end());
  auto keys = store->list();
  ASSERT_EQ(keys.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(keys[i], want[i]);
    EXPECT_EQ(read_all(*store, want[i]), text(kData + "site/" + want[i])) << want[i];
    auto st = store->stat(want[i]);
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->mtime, 1764000000);
    EXPECT_GE(st->etag.size(), 2u);
    EXPECT_EQ(st->etag.front(), '"');
    EXPECT_EQ(st->etag.back(), '"');
  }
  // Directories and "./" are not keys.
  EXPECT_EQ(store->stat("css").error().code, Errc::kNotFound);
  EXPECT_EQ(store->stat("./index.html").error().code, Errc::kNotFound);
  EXPECT_EQ(store->stat("").error().code, Errc::kNotFound);
  EXPECT_NE(store->stat("index.html")->etag, store->stat("big.txt")->etag);
}

INSTANTIATE_TEST_SUITE_P(Formats, GnuTarTest, ::testing::Values("ustar", "pax", "gnu"));

TEST(TarStoreTest, PartialReadsAtAnyOffsetAndLength) {
  MemoryDevice device(load(kData + "pax.tar"));
  auto store = TarStore::create(device, {.cache_block_size = 1024, .cache_blocks = 3});
  ASSERT_TRUE(store.ok());
  const std::string big = text(kData + "site/big.txt");
  ASSERT_EQ(big.size(), 20000u);
  for (uint64_t offset : {0, 1, 511, 512, 1023, 1024, 4095, 4097, 12345, 19999, 20000, 30000}) {
    for (size_t length : {0, 1, 7, 512, 1024, 1025, 3000, 8192, 25000}) {
      std::string out(length, '\0');
      auto n =
          read_sync(*store, "big.txt", offset, {reinterpret_cast<uint8_t*>(out.data()), length});
      ASSERT_TRUE(n.ok());
      size_t want = offset >= big.size() ? 0 : std::min<size_t>(length, big.size() - offset);
      ASSERT_EQ(*n, want) << offset << "+" << length;
      EXPECT_EQ(out.substr(0, want), big.substr(std::min<size_t>(offset, big.size()), want))
          << offset << "+" << length;
    }
  }
  uint8_t byte;
  EXPECT_EQ(read_sync(*store, "empty.txt", 0, {&byte, 1}).value_or(99), 0u);
  EXPECT_EQ(read_sync(*store, "missing", 0, {&byte, 1}).error().code, Errc::kNotFound);
}

TEST(TarStoreTest, CacheIsBoundedAndServesRepeats) {
  MemoryDevice device(load(kData + "gnu.tar"));
  auto store = TarStore::create(device, {.cache_block_size = 1024, .cache_blocks = 4});
  ASSERT_TRUE(store.ok());
  EXPECT_LE(store->cache_stats().resident, 4u);
  // Small reads all over the big file: never more than 4 blocks resident.
  char buf[100];
  for (int round = 0; round < 3; ++round)
    for (uint64_t offset = 0; offset < 20000; offset += 700) {
      ASSERT_TRUE(
          read_sync(*store, "big.txt", offset, {reinterpret_cast<uint8_t*>(buf), 100}).ok());
      EXPECT_LE(store->cache_stats().resident, 4u);
    }
  // A repeated small read is a cache hit, not a device read.
  ASSERT_TRUE(read_sync(*store, "index.html", 0, {reinterpret_cast<uint8_t*>(buf), 10}).ok());
  size_t reads = device.reads;
  auto before = store->cache_stats();
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(read_sync(*store, "index.html", 0, {reinterpret_cast<uint8_t*>(buf), 10}).ok());
  EXPECT_EQ(device.reads, reads);
  EXPECT_EQ(store->cache_stats().hits, before.hits + 10);
  // A large read of whole blocks goes straight to the caller, leaving the cache alone.
  std::string out(20000, '\0');
  before = store->cache_stats();
  ASSERT_TRUE(
      read_sync(*store, "big.txt", 0, {reinterpret_cast<uint8_t*>(out.data()), 20000}).ok());
  EXPECT_EQ(out, text(kData + "site/big.txt"));
  EXPECT_GT(store->cache_stats().direct_reads, before.direct_reads);
  EXPECT_LE(store->cache_stats().resident, 4u);
}

TEST(TarStoreTest, DeviceErrorsPropagate) {
  MemoryDevice device(load(kData + "ustar.tar"));
  auto store = TarStore::create(device, {.cache_block_size = 512, .cache_blocks = 1});
  ASSERT_TRUE(store.ok());
  device.fail = true;
  char buf[600];
  EXPECT_EQ(read_sync(*store, "big.txt", 3, {reinterpret_cast<uint8_t*>(buf), 600}).error().code,
            Errc::kIo);
  device.fail = false;
  EXPECT_EQ(read_sync(*store, "big.txt", 3, {reinterpret_cast<uint8_t*>(buf), 600}).value_or(0),
            600u);
}

TEST(TarStoreTest, LastCopyOfADuplicateWinsAndNamesAreNormalised) {
  MemoryDevice device(
      archive({entry("./a//b/./c.txt", "old"), entry("dir/", "", '5'), entry("link", "", '2'),
               entry("a/b/c.txt", "new!"), entry("/abs.txt", "x")}));
  auto store = TarStore::create(device);
  ASSERT_TRUE(store.ok());
  auto keys = store->list();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0], "a/b/c.txt");
  EXPECT_EQ(keys[1], "abs.txt");
  EXPECT_EQ(read_all(*store, "a/b/c.txt"), "new!");
}

TEST(TarStoreTest, ArchiveWithoutEndBlocksEndingAtTheDeviceEndIsAccepted) {
  auto bytes = entry("a.txt", "hello");
  MemoryDevice device(bytes);
  auto store = TarStore::create(device);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(read_all(*store, "a.txt"), "hello");
  // The last entry's padding cut off (found by fuzz/tar_fuzz.cc): its bytes are all there.
  bytes.resize(512 + 256);
  MemoryDevice short_device(bytes, 256);
  auto short_store = TarStore::create(short_device);
  ASSERT_TRUE(short_store.ok());
  EXPECT_EQ(read_all(*short_store, "a.txt"), "hello");
}

TEST(TarStoreTest, BadChecksumIsRefused) {
  auto bytes = load(kData + "ustar.tar");
  bytes[512 + 10] ^= 1;  // second header (./big.txt): its name
  auto f = create_fails(bytes);
  EXPECT_EQ(f.code, Errc::kMalformed);
  EXPECT_NE(f.diagnostic.find("checksum"), std::string::npos) << f.diagnostic;
  EXPECT_NE(f.diagnostic.find("offset 512"), std::string::npos) << f.diagnostic;
}

TEST(TarStoreTest, NotATarIsRefused) {
  auto f = create_fails(std::vector<uint8_t>(4096, 'A'));
  EXPECT_EQ(f.code, Errc::kMalformed);
  // A disk of random bytes: the diagnostic says why and shows the "name" it found with
  // its control and high bytes escaped, since it is printed on a console.
  std::vector<uint8_t> noise(4096);
  uint32_t x = 12345;
  for (uint8_t& b : noise) b = uint8_t((x = x * 1103515245 + 12345) >> 16);
  noise[0] = 0x1b;  // ESC
  noise[1] = 0xc3;
  f = create_fails(noise);
  EXPECT_EQ(f.code, Errc::kMalformed);
  EXPECT_NE(f.diagnostic.find("not a tar archive"), std::string::npos) << f.diagnostic;
  EXPECT_EQ(f.diagnostic.find("entry '\\x1b\\xc3"), 5u) << f.diagnostic;
  for (char c : f.diagnostic) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << f.diagnostic;
}

TEST(TarStoreTest, EntryPastTheEndNamesTheEntry) {
  // A truncated disk file: big.txt's 20000 bytes no longer fit.
  auto bytes = load(kData + "ustar.tar");
  bytes.resize(512 * 10);
  auto f = create_fails(bytes);
  EXPECT_EQ(f.code, Errc::kOutOfRange);
  EXPECT_NE(f.diagnostic.find("'./big.txt'"), std::string::npos) << f.diagnostic;
  EXPECT_NE(f.diagnostic.find("past the end"), std::string::npos) << f.diagnostic;
  // A header claiming an enormous size, checksum intact.
  auto g = create_fails(archive({entry("huge.bin", "", '0', 077777777777ull)}));
  EXPECT_EQ(g.code, Errc::kOutOfRange);
  EXPECT_NE(g.diagnostic.find("'huge.bin'"), std::string::npos) << g.diagnostic;
}

TEST(TarStoreTest, TruncatedHeaderIsRefused) {
  auto bytes = entry("a.txt", "hello");
  bytes.resize(bytes.size() + 256, 'x');  // half a header, on a 256-byte-block device
  auto f = create_fails(bytes, {}, 256);
  EXPECT_EQ(f.code, Errc::kMalformed);
  EXPECT_NE(f.diagnostic.find("truncated"), std::string::npos) << f.diagnostic;
}

TEST(TarStoreTest, DotDotIsRefused) {
  auto f = create_fails(archive({entry("a/../../etc/passwd", "x")}));
  EXPECT_EQ(f.code, Errc::kMalformed);
  EXPECT_NE(f.diagnostic.find(".."), std::string::npos);
}

TEST(TarStoreTest, LimitsAreEnforced) {
  auto three = archive({entry("a", "1"), entry("b", "2"), entry("c", "3")});
  auto f = create_fails(three, {.max_entries = 2});
  EXPECT_EQ(f.code, Errc::kOutOfRange);
  EXPECT_NE(f.diagnostic.find("'c'"), std::string::npos) << f.diagnostic;
  // The pax and GNU archives hold a 124-byte name.
  f = create_fails(load(kData + "pax.tar"), {.max_name = 110});
  EXPECT_EQ(f.code, Errc::kOutOfRange);
  f = create_fails(load(kData + "gnu.tar"), {.max_name = 110});
  EXPECT_EQ(f.code, Errc::kOutOfRange);
  MemoryDevice device(load(kData + "ustar.tar"));
  EXPECT_TRUE(TarStore::create(device, {.max_name = 110}).ok());  // its longest is 107
}

TEST(TarStoreTest, MalformedPaxIsRefused) {
  auto f = create_fails(archive({entry("PaxHeaders/a", "99 path=a\n", 'x'), entry("a", "1")}));
  EXPECT_EQ(f.code, Errc::kMalformed);
  auto g = create_fails(
      archive({entry("PaxHeaders/a", "12 path=abc\n", 'x'), entry("short", "1", '0', 5000)}));
  EXPECT_EQ(g.code, Errc::kOutOfRange);  // pax size absent: header's 5000 > device
}

TEST(TarStoreTest, PaxSizeAndPathOverrideTheHeader) {
  MemoryDevice device(archive({entry("PaxHeaders/x", "18 path=real/name\n10 size=3\n", 'x'),
                               entry("ignored", "abc", '0', 0)}));
  std::string why;
  auto store = TarStore::create(device, {}, &why);
  ASSERT_TRUE(store.ok()) << why;
  EXPECT_EQ(read_all(*store, "real/name"), "abc");  // the header claims 0 bytes
}

TEST(TarStoreTest, BadCacheGeometryIsRefused) {
  auto bytes = archive({entry("a", "1")});
  EXPECT_EQ(create_fails(bytes, {.cache_block_size = 1000}).code, Errc::kInvalidArgument);
  EXPECT_EQ(create_fails(bytes, {.cache_blocks = 0}).code, Errc::kInvalidArgument);
  EXPECT_EQ(create_fails(bytes, {}, 0).code, Errc::kInvalidArgument);
}

}  // namespace
}  // namespace morgana::kv
