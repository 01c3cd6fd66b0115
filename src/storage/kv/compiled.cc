// CompiledStore: binary search over the generated, sorted table.
#include "morgana/storage/kv_compiled.h"

#include <algorithm>
#include <cstring>

namespace morgana::kv {

const CompiledEntry* CompiledStore::find(std::string_view key) const {
  const CompiledEntry* begin = table_.entries;
  const CompiledEntry* end = begin + table_.count;
  auto it = std::lower_bound(begin, end, key,
                             [](const CompiledEntry& e, std::string_view k) { return e.key < k; });
  return it != end && it->key == key ? it : nullptr;
}

Result<Stat> CompiledStore::stat(std::string_view key) const {
  const CompiledEntry* e = find(key);
  if (!e) return Error{Errc::kNotFound, "no such key"};
  return Stat{e->size, e->mtime, e->etag};
}

async::Task<Result<size_t>> CompiledStore::read(std::string_view key, uint64_t offset,
                                                std::span<uint8_t> out) const {
  const CompiledEntry* e = find(key);
  if (!e) co_return Error{Errc::kNotFound, "no such key"};
  if (offset >= e->size) co_return size_t(0);
  size_t n = size_t(std::min<uint64_t>(out.size(), e->size - offset));
  std::memcpy(out.data(), e->data + offset, n);
  co_return n;
}

std::vector<std::string_view> CompiledStore::list() const {
  std::vector<std::string_view> keys;
  keys.reserve(table_.count);
  for (size_t i = 0; i < table_.count; ++i) keys.push_back(table_.entries[i].key);
  return keys;
}

Result<std::span<const uint8_t>> CompiledStore::view(std::string_view key) const {
  const CompiledEntry* e = find(key);
  if (!e) return Error{Errc::kNotFound, "no such key"};
  return std::span<const uint8_t>(e->data, size_t(e->size));
}

}  // namespace morgana::kv
