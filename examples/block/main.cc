// block: a storage smoke test. Writes a per-run pattern over the whole device `storage`,
// flushes, reads it back and verifies it; read-only devices are read and checksummed.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string_view>
#include <vector>

#include "morgana/app.h"
#include "morgana/platform/platform.h"

namespace {

namespace platform = morgana::platform;

constexpr uint64_t kChunk = 64 * 1024;  // bytes per call: fewer calls, bounded memory

using ull = unsigned long long;

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The expected contents of one block: every 8-byte word depends on the run's seed, the
// block number and its position, so neither stale data from an earlier run nor a block
// written at the wrong offset can pass verification.
void fill_block(uint64_t seed, uint64_t block, std::span<uint8_t> out) {
  for (size_t word = 0; word * 8 < out.size(); ++word) {
    uint64_t value = splitmix64(seed ^ splitmix64(block * 64 + word));
    for (size_t i = 0; i < 8; ++i) out[word * 8 + i] = uint8_t(value >> (8 * i));
  }
}

void report_error(const char* what, uint64_t offset, morgana::Error error) {
  std::printf("block: %s at offset %llu failed: %s (%s)\n", what, ull(offset),
              morgana::errc_name(error.code), error.what ? error.what : "");
}

// Read-only: the only test possible is reading everything; FNV-1a 64 over the bytes
// lets the caller compare against the file it attached.
int checksum_device(platform::BlockDevice& device) {
  std::vector<uint8_t> buffer(kChunk);
  uint64_t hash = 0xcbf29ce484222325ull;
  for (uint64_t offset = 0; offset < device.capacity(); offset += kChunk) {
    std::span<uint8_t> chunk(buffer.data(), std::min(kChunk, device.capacity() - offset));
    auto result = device.read(offset, chunk);
    if (!result) {
      report_error("read", offset, result.error());
      return 1;
    }
    for (uint8_t byte : chunk) hash = (hash ^ byte) * 0x100000001b3ull;
  }
  std::printf("block: read-only, read %llu blocks of %u bytes, fnv1a64 %016llx\n",
              ull(device.capacity() / device.block_size()), device.block_size(), ull(hash));
  return 0;
}

int write_and_verify(platform::BlockDevice& device) {
  const uint32_t block_size = device.block_size();
  const uint64_t blocks = device.capacity() / block_size;
  uint64_t seed = 0;
  for (size_t i = 0; i < 8; ++i) seed |= uint64_t(platform::boot_seed()[i]) << (8 * i);

  std::vector<uint8_t> buffer(kChunk);
  for (uint64_t offset = 0; offset < device.capacity(); offset += kChunk) {
    std::span<uint8_t> chunk(buffer.data(), std::min(kChunk, device.capacity() - offset));
    for (size_t at = 0; at < chunk.size(); at += block_size) {
      fill_block(seed, (offset + at) / block_size, chunk.subspan(at, block_size));
    }
    auto result = device.write(offset, chunk);
    if (!result) {
      report_error("write", offset, result.error());
      return 1;
    }
  }
  if (auto result = device.flush(); !result) {
    report_error("flush", 0, result.error());
    return 1;
  }

  std::vector<uint8_t> expected(block_size);
  for (uint64_t offset = 0; offset < device.capacity(); offset += kChunk) {
    std::span<uint8_t> chunk(buffer.data(), std::min(kChunk, device.capacity() - offset));
    auto result = device.read(offset, chunk);
    if (!result) {
      report_error("read", offset, result.error());
      return 1;
    }
    for (size_t at = 0; at < chunk.size(); at += block_size) {
      const uint64_t block = (offset + at) / block_size;
      fill_block(seed, block, expected);
      if (!std::equal(expected.begin(), expected.end(), chunk.begin() + at)) {
        std::printf("block: block %llu (offset %llu) does not hold what was written\n", ull(block),
                    ull(block * block_size));
        return 1;
      }
    }
  }
  std::printf("block: verified %llu blocks of %u bytes\n", ull(blocks), block_size);
  return 0;
}

}  // namespace

int app_main(int, char**) {
  auto device = platform::BlockDevice::open("storage");
  if (!device) {
    std::printf("block: no block device 'storage': %s\n", morgana::errc_name(device.error().code));
    return 1;
  }
  std::printf("block: storage has %llu bytes (%llu blocks of %u)%s\n", ull(device->capacity()),
              ull(device->capacity() / device->block_size()), device->block_size(),
              device->read_only() ? ", read-only" : "");
  return device->read_only() ? checksum_device(*device) : write_and_verify(*device);
}
