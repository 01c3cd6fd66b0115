// The unix target's block devices: a host file (or block device) per manifest entry,
// read and written with pread/pwrite in whole 512-byte blocks, flushed with fdatasync.
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "morgana/platform/platform.h"
#include "platform/unix/unix_platform.h"

namespace morgana::platform {
namespace unix_target {

std::string attach_file(const host::BlockAttachment& attachment, AttachedDevice& out) {
  const std::string option = "--block:" + attachment.name;
  const std::string quoted = "'" + attachment.path + "'";
  int fd = open(attachment.path.c_str(), (attachment.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) return option + ": cannot open " + quoted + ": " + std::strerror(errno);

  struct stat info {};
  uint64_t size = 0;
  std::string error;
  if (fstat(fd, &info) < 0) {
    error = option + ": cannot stat " + quoted + ": " + std::strerror(errno);
  } else if (S_ISREG(info.st_mode)) {
    size = uint64_t(info.st_size);
  } else if (S_ISBLK(info.st_mode)) {
    if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
      error = option + ": cannot read the size of " + quoted + ": " + std::strerror(errno);
    }
  } else {
    error = option + ": " + quoted + " is neither a regular file nor a block device";
  }
  // A partial last block is ignored, as a disk would not have one; an image without a
  // single whole block is a mistake worth refusing outright.
  if (error.empty() && size < kBlockSize) {
    error = option + ": " + quoted + " holds " + std::to_string(size) +
            " bytes, less than one block of " + std::to_string(kBlockSize) + " bytes";
  }
  if (!error.empty()) {
    close(fd);
    return error;
  }

  out.fd = fd;
  out.block_size = kBlockSize;
  out.capacity = size / kBlockSize * kBlockSize;
  out.read_only = attachment.read_only;
  return "";
}

}  // namespace unix_target

using namespace unix_target;

namespace {

// The checks every transfer passes before it reaches the file; the order matters to the
// caller only in which error it sees first.
Result<void> check_range(uint64_t offset, size_t length, uint32_t block_size, uint64_t capacity) {
  if (offset % block_size != 0 || length % block_size != 0) {
    return Error{Errc::kInvalidArgument, "offset and length must be multiples of the block size"};
  }
  // Written so that offset + length cannot overflow.
  if (offset > capacity || length > capacity - offset) {
    return Error{Errc::kOutOfRange, "transfer extends past the end of the device"};
  }
  return ok();
}

}  // namespace

Result<BlockDevice> BlockDevice::open(std::string_view name) {
  DeviceId id = 0;
  const AttachedDevice* device = find_device(name, abi::DeviceType::kBlock, &id);
  if (device == nullptr) return Error{Errc::kNotFound, "no block device of that name"};
  return BlockDevice(id, device->capacity, device->block_size, device->read_only);
}

Result<void> BlockDevice::read(uint64_t offset, std::span<uint8_t> buffer) {
  TRY(check_range(offset, buffer.size(), block_size_, capacity_));
  AttachedDevice& device = device_table()[id_];
  const int fd = device.fd;
  size_t done = 0;
  while (done < buffer.size()) {
    ssize_t n = pread(fd, buffer.data() + done, buffer.size() - done, off_t(offset + done));
    if (n < 0 && errno == EINTR) continue;
    // 0 means the file shrank under us since it was attached.
    if (n <= 0) return Error{Errc::kIo, "block read failed"};
    done += size_t(n);
  }
  device.counters.calls_in++;
  device.counters.bytes_in += buffer.size();
  return ok();
}

Result<void> BlockDevice::write(uint64_t offset, std::span<const uint8_t> data) {
  if (read_only_) return Error{Errc::kReadOnly, "device attached read-only"};
  TRY(check_range(offset, data.size(), block_size_, capacity_));
  AttachedDevice& device = device_table()[id_];
  const int fd = device.fd;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(fd, data.data() + done, data.size() - done, off_t(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error{Errc::kIo, "block write failed"};
    done += size_t(n);
  }
  device.counters.calls_out++;
  device.counters.bytes_out += data.size();
  return ok();
}

Result<void> BlockDevice::flush() {
  if (read_only_) return ok();  // Nothing of ours can be pending.
  AttachedDevice& device = device_table()[id_];
  while (fdatasync(device.fd) < 0) {
    if (errno != EINTR) return Error{Errc::kIo, "block flush failed"};
  }
  device.counters.flushes++;
  return ok();
}

}  // namespace morgana::platform
