// The virtio-blk driver over either transport (transport.h): attaching a device found by
// the scan (devices.cc) and polled requests. The platform's BlockDevice (devices.cc) maps
// manifest entries onto these disks.
#pragma once

#include <cstddef>
#include <cstdint>

#include <memory>

#include "morgana/rt/result.h"
#include "platform/virtio/transport.h"

namespace morgana::platform::virtio {

struct BlockInfo {
  uint64_t capacity;  // bytes, a multiple of 512
  bool read_only;
};

// Initialises the virtio-blk device behind `transport` and appends it to the disks;
// disks are numbered in the order they are attached.
Result<void> virtio_blk_attach(std::unique_ptr<Transport> transport);
size_t virtio_blk_count();
BlockInfo virtio_blk_info(size_t disk);
// Offsets and lengths in bytes, multiples of 512 (checked by the caller).
Result<void> virtio_blk_io(size_t disk, bool write, uint64_t offset, uint8_t* data, size_t len);
Result<void> virtio_blk_flush(size_t disk);

}  // namespace morgana::platform::virtio
