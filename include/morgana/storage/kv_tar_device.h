// kv::BlockReader over a platform::BlockDevice, for images that serve a TarStore from a
// block device given to the monitor (`--block:storage=site.tar`). Only images include
// this header: unit tests give TarStore an in-memory BlockReader.
#pragma once

#include "morgana/platform/platform.h"
#include "morgana/storage/kv_tar.h"

namespace morgana::kv {

class BlockDeviceReader final : public BlockReader {
 public:
  explicit BlockDeviceReader(platform::BlockDevice& device) : device_(device) {}

  uint64_t capacity() const override { return device_.capacity(); }
  uint32_t block_size() const override { return device_.block_size(); }
  Result<void> read(uint64_t offset, std::span<uint8_t> out) override {
    return device_.read(offset, out);
  }

 private:
  platform::BlockDevice& device_;
};

}  // namespace morgana::kv
