// kv::BlockReader over a platform::BlockDevice, for images that serve a TarStore from a
// block device given to the monitor (`--block:storage=site.tar`). Only images include
// this header: unit tests give TarStore an in-memory BlockReader.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

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

// A tar archive on a block device, opened and scanned in one call, with the console
// sentence an image prints when it cannot be served. It owns the device and the reader
// the store reads through, so the three live and move together.
//
//   std::string why;
//   auto disk = kv::TarDisk::open("storage", &why);
//   if (!disk) { std::printf("app: %s\n", why.c_str()); return 1; }
//   http::StaticFiles<kv::TarStore> files(disk->store());
class TarDisk {
 public:
  // Opens block device `name` and scans the archive on it. On failure `diagnostic` (if
  // given) receives one sentence naming the device: "no disk: block device 'NAME' is not
  // attached (kNotFound); attach CONTENTS with --block:NAME=FILE", or "block device
  // 'NAME' refused: " and what is wrong with the archive or the failed read.
  static Result<TarDisk> open(std::string_view name, std::string* diagnostic,
                              std::string_view contents = "a tar archive",
                              const TarOptions& options = {}) {
    std::string device_name(name);
    // The manifest names the device, so hvt and unix refuse to start without it; on
    // virtio an unattached disk shows up here as kNotFound.
    auto device = platform::BlockDevice::open(name);
    if (!device) {
      if (diagnostic)
        *diagnostic = "no disk: block device '" + device_name + "' is not attached (" +
                      errc_name(device.error().code) + "); attach " + std::string(contents) +
                      " with --block:" + device_name + "=FILE";
      return device.error();
    }
    auto source = std::make_unique<Source>(*device);
    std::string why;
    auto store = TarStore::create(source->reader, options, &why);
    if (!store) {
      // The scanner explains what is wrong with the archive; a failing device read has
      // only its error.
      if (why.empty())
        why = std::string("reading it failed: ") + errc_name(store.error().code) + " (" +
              (store.error().what ? store.error().what : "") + ")";
      if (diagnostic) *diagnostic = "block device '" + device_name + "' refused: " + why;
      return store.error();
    }
    return TarDisk(std::move(source), std::move(*store));
  }

  TarStore& store() { return store_; }
  const TarStore& store() const { return store_; }
  uint64_t capacity() const { return source_->device.capacity(); }  // bytes

 private:
  // The device and its reader, on the heap so that the store's reference to the reader
  // survives moving the TarDisk.
  struct Source {
    explicit Source(const platform::BlockDevice& d) : device(d), reader(device) {}
    Source(const Source&) = delete;
    Source& operator=(const Source&) = delete;
    platform::BlockDevice device;
    BlockDeviceReader reader;
  };

  TarDisk(std::unique_ptr<Source> source, TarStore store)
      : source_(std::move(source)), store_(std::move(store)) {}

  std::unique_ptr<Source> source_;
  TarStore store_;  // after source_, so it is destroyed first
};

}  // namespace morgana::kv
