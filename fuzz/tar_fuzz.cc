// Fuzzes the tar archive scanner and cached reads of kv::TarStore (src/storage/kv/tar.cc).
// The input is the device's bytes (so GNU tar archives are seeds as they are); its length
// picks the device block size and the cache geometry. Invariants: the device is only read
// in whole blocks inside its capacity, keys are sorted and unique, every key stats and
// reads exactly its size, and partial reads return what the size allows.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "morgana/async/async.h"
#include "morgana/async/virtual_backend.h"
#include "morgana/storage/kv_tar.h"

namespace {

using namespace morgana;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

class FuzzDevice final : public kv::BlockReader {
 public:
  FuzzDevice(const uint8_t* data, size_t size, uint32_t block_size)
      : data_(data), size_(size), block_size_(block_size) {}
  uint64_t capacity() const override { return size_; }
  uint32_t block_size() const override { return block_size_; }
  Result<void> read(uint64_t offset, std::span<uint8_t> out) override {
    check(offset % block_size_ == 0 && out.size() % block_size_ == 0);
    check(offset <= size_ && out.size() <= size_ - offset);
    std::memcpy(out.data(), data_ + offset, out.size());
    return ok();
  }

 private:
  const uint8_t* data_;
  size_t size_;
  uint32_t block_size_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr uint32_t kUnits[] = {512, 256, 512, 1024};
  static constexpr uint32_t kCacheBlocks[] = {1, 2, 4, 8};
  uint32_t unit = kUnits[size & 3];
  FuzzDevice device(data, size, unit);
  kv::TarOptions options;
  options.cache_block_size = unit * (1 + ((size >> 2) & 3));
  options.cache_blocks = kCacheBlocks[(size >> 4) & 3];
  options.max_entries = 64;
  options.max_name = 256;
  std::string why;
  auto store = kv::TarStore::create(device, options, &why);
  if (!store.ok()) {
    check(!why.empty());
    return 0;
  }
  async::VirtualBackend backend;
  async::Loop loop(backend);
  auto keys = store->list();
  check(keys.size() <= options.max_entries);
  std::vector<uint8_t> buffer;
  for (size_t i = 0; i < keys.size(); ++i) {
    check(!keys[i].empty() && keys[i].size() <= options.max_name);
    if (i) check(keys[i - 1] < keys[i]);
    auto st = store->stat(keys[i]);
    check(st.ok() && st->size <= size);
    buffer.assign(size_t(st->size) + 3, 0);
    auto n = loop.run(store->read(keys[i], 0, buffer));
    check(n.ok() && *n == st->size);
    uint64_t offset = st->size / 3;
    auto m = loop.run(store->read(keys[i], offset, std::span<uint8_t>(buffer).first(7)));
    check(m.ok() && *m == std::min<uint64_t>(7, st->size - offset));
    check(store->cache_stats().resident <= options.cache_blocks);
  }
  return 0;
}
