// kv::ReadOnly implementation (b): a tar archive on a block device, so content is updated
// by swapping the disk file without rebuilding the image (issues 5 and 7).
//
// TarStore::create() scans the archive once (POSIX ustar and pax, GNU tar's 'L' long
// names; regular files only, directories and links skipped; "./" prefixes removed, ".."
// refused; every header's checksum verified and every entry bounded by the device) and
// keeps a sorted index (key -> offset, size, mtime). Values are read through a small LRU
// cache of device blocks. The store reads the device through the BlockReader interface:
// tests give it memory, images a platform::BlockDevice (kv_tar_device.h, whose TarDisk
// opens the device and scans it in one call).
//
//   auto device = TRY(platform::BlockDevice::open("storage"));
//   kv::BlockDeviceReader reader(device);
//   std::string why;
//   auto store = kv::TarStore::create(reader, {}, &why);  // why: "tar: entry 'x': ..."
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "morgana/storage/kv.h"

namespace morgana::kv {

// A device read in whole blocks: offset and size multiples of block_size(), inside
// capacity() (bytes).
class BlockReader {
 public:
  virtual ~BlockReader() = default;
  virtual uint64_t capacity() const = 0;
  virtual uint32_t block_size() const = 0;
  virtual Result<void> read(uint64_t offset, std::span<uint8_t> out) = 0;
};

struct TarOptions {
  uint32_t cache_block_size = 4096;  // bytes; a multiple of the device's block size
  size_t cache_blocks = 64;          // at least 1
  size_t max_entries = 65536;        // regular files in the archive
  size_t max_name = 1024;            // bytes of a normalised key
};

struct TarCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;        // cache blocks read from the device into the cache
  uint64_t direct_reads = 0;  // device reads that bypassed the cache (whole blocks)
  size_t resident = 0;        // cache blocks holding data (<= TarOptions::cache_blocks)
};

class TarStore {
 public:
  // Scans the archive on `device`, which must outlive the store. On failure, `diagnostic`
  // (if given) receives a sentence naming the entry and the reason.
  static Result<TarStore> create(BlockReader& device, const TarOptions& options = {},
                                 std::string* diagnostic = nullptr);

  TarStore(TarStore&&) noexcept = default;
  TarStore& operator=(TarStore&&) noexcept = default;

  // The ETag is '"<mtime>-<size>-<offset>"' in hex: it changes when an entry is replaced
  // by a tar tool (which rewrites mtime and, usually, the layout), as nginx's does.
  Result<Stat> stat(std::string_view key) const;
  async::Task<Result<size_t>> read(std::string_view key, uint64_t offset,
                                   std::span<uint8_t> out) const;
  std::vector<std::string_view> list() const;

  size_t size() const { return entries_.size(); }
  TarCacheStats cache_stats() const;

  struct Entry {
    uint32_t key_offset, key_size;  // in names_
    uint32_t etag_offset, etag_size;
    uint64_t data_offset;  // bytes from the start of the device
    uint64_t size;
    int64_t mtime;
  };

  // Cached reads of the device; exposed for the scanner and tests.
  class Cache {
   public:
    Cache(BlockReader& device, uint32_t block_size, size_t blocks);
    // Copies device bytes [offset, offset + out.size()); the range must be inside the
    // device.
    Result<void> read(uint64_t offset, std::span<uint8_t> out);
    TarCacheStats stats() const;
    uint64_t limit() const { return limit_; }  // capacity, in whole device blocks

   private:
    struct Slot {
      uint64_t block = 0;
      uint64_t used = 0;  // LRU clock; 0 = empty
    };
    int find(uint64_t block) const;  // slot index, or -1
    Result<const uint8_t*> load(uint64_t block);
    BlockReader* device_;
    uint32_t block_size_;
    uint64_t limit_;
    std::vector<Slot> slots_;
    std::unique_ptr<uint8_t[]> data_;
    uint64_t clock_ = 0;
    TarCacheStats stats_;
  };

 private:
  TarStore(BlockReader& device, const TarOptions& options);
  const Entry* find(std::string_view key) const;
  std::string_view key_of(const Entry& e) const {
    return {names_.data() + e.key_offset, e.key_size};
  }

  std::string names_;             // keys and ETags, back to back; never changes after create()
  std::vector<Entry> entries_;    // sorted by key, unique
  std::unique_ptr<Cache> cache_;  // reads do not change the store's contents
};

static_assert(ReadOnly<TarStore>);

}  // namespace morgana::kv
