// kv::ReadOnly implementation (a): content compiled into the image. The CMake function
// morgana_kv_compiled(NAME DIR OUTPUT_VAR) (cmake/MorganaKv.cmake) turns a directory into
// a generated .cc that defines `const morgana::kv::CompiledTable morgana_kv_<NAME>`:
// every file's bytes (.incbin), size, mtime and a strong ETag computed at build time, plus
// gzip -9n variants ("x.css.gz") of text files where they are smaller.
//
//   extern const morgana::kv::CompiledTable morgana_kv_site;
//   morgana::kv::CompiledStore store(morgana_kv_site);
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "morgana/storage/kv.h"

namespace morgana::kv {

struct CompiledEntry {
  std::string_view key;
  const uint8_t* data;
  uint64_t size;
  int64_t mtime;
  std::string_view etag;
};

struct CompiledTable {
  const CompiledEntry* entries;  // sorted by key
  size_t count;
};

class CompiledStore {
 public:
  explicit CompiledStore(const CompiledTable& table) : table_(table) {}

  Result<Stat> stat(std::string_view key) const;
  async::Task<Result<size_t>> read(std::string_view key, uint64_t offset,
                                   std::span<uint8_t> out) const;
  std::vector<std::string_view> list() const;
  Result<std::span<const uint8_t>> view(std::string_view key) const;

 private:
  const CompiledEntry* find(std::string_view key) const;
  const CompiledTable& table_;
};

static_assert(Contiguous<CompiledStore>);

}  // namespace morgana::kv
