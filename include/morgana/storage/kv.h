// Read-only key-value stores (DESIGN.md §1.2: kv::ReadOnly), the content behind a static
// website: keys are slash-separated paths ("css/site.css"), values immutable bytes with
// a size, a modification time and a strong entity tag (RFC 9110 §8.8.3). Two stores
// satisfy it: content compiled into the image (kv_compiled.h) and a tar archive on a
// block device (kv_tar.h), which examples/website and examples/dns choose between per image.
#pragma once

#include <concepts>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "morgana/async/task.h"
#include "morgana/rt/result.h"

namespace morgana::kv {

struct Stat {
  uint64_t size = 0;
  int64_t mtime = 0;      // seconds since the Unix epoch
  std::string_view etag;  // a quoted strong entity tag, '"…"'; lives as long as the store
};

// stat: kNotFound for a missing key. read: copies up to out.size() bytes at `offset`
// (0 at or past the end), exactly once; cancellation leaves nothing half-done (reads do
// not change the store). list: every key, sorted.
template <typename S>
concept ReadOnly = requires(const S& store, std::string_view key, uint64_t offset,
                            std::span<uint8_t> out) {
  { store.stat(key) } -> std::same_as<Result<Stat>>;
  { store.read(key, offset, out) } -> std::same_as<async::Task<Result<size_t>>>;
  { store.list() } -> std::same_as<std::vector<std::string_view>>;
};

// A store whose values are in memory for the image's lifetime, so a server can send them
// without copying.
template <typename S>
concept Contiguous = ReadOnly<S> && requires(const S& store, std::string_view key) {
  { store.view(key) } -> std::same_as<Result<std::span<const uint8_t>>>;
};

}  // namespace morgana::kv
