// Packet buffers (DESIGN.md §6): move-only handles to fixed-size buffers from a bounded
// pool, with headroom so each layer prepends its header in place on send, and an
// intrusive FIFO so queues of packets never allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "morgana/platform/platform.h"
#include "morgana/rt/result.h"

namespace morgana::net {

struct BufferConfig {
  size_t count = 256;     // buffers in the pool; never more
  size_t size = 2048;     // bytes per buffer: an MTU-sized frame plus headroom
  size_t headroom = 128;  // reserved in front on allocate, for Ethernet+VLAN+IPv4+TCP headers
};

class BufferPool;
class PacketQueue;

namespace detail {
// Per-buffer bookkeeping, owned by the pool. The links are the intrusive hook: a buffer
// sits either on the pool's free list or in at most one PacketQueue (or in neither, while
// a PacketBuffer handle holds it).
struct BufferSlot {
  BufferSlot* prev = nullptr;
  BufferSlot* next = nullptr;
  BufferPool* pool = nullptr;
  uint8_t* storage = nullptr;
  uint32_t begin = 0;  // [begin, end) is the packet within storage
  uint32_t end = 0;
  // Offloads asked of the device (PacketBuffer::request_offload): the transport header's
  // position in storage (kNoOffload: none), so headers prepended later do not move it.
  static constexpr uint32_t kNoOffload = UINT32_MAX;
  uint32_t transport_at = kNoOffload;
  uint16_t checksum_field = 0;  // the checksum's offset in the transport header
  uint16_t segment_size = 0;    // TSO: payload bytes per wire segment; 0: none
};
// The device metadata for the packet in `slot` as it is now (PacketBuffer::offload).
platform::NetFrameMeta offload_of(const BufferSlot& slot);
}  // namespace detail

// Owns one pool buffer until destroyed or moved; an empty handle owns nothing. The pool
// must outlive every buffer taken from it.
class PacketBuffer {
 public:
  PacketBuffer() = default;
  PacketBuffer(PacketBuffer&& other) noexcept : slot_(std::exchange(other.slot_, nullptr)) {}
  PacketBuffer& operator=(PacketBuffer&& other) noexcept {
    if (this != &other) {
      release();
      slot_ = std::exchange(other.slot_, nullptr);
    }
    return *this;
  }
  PacketBuffer(const PacketBuffer&) = delete;
  PacketBuffer& operator=(const PacketBuffer&) = delete;
  ~PacketBuffer() { release(); }

  explicit operator bool() const { return slot_ != nullptr; }

  std::span<uint8_t> data() {
    return {slot_->storage + slot_->begin, size_t{slot_->end - slot_->begin}};
  }
  std::span<const uint8_t> data() const {
    return {slot_->storage + slot_->begin, size_t{slot_->end - slot_->begin}};
  }
  size_t size() const { return slot_->end - slot_->begin; }
  size_t headroom() const { return slot_->begin; }
  size_t tailroom() const;

  // Grows the packet at the front by n bytes and returns them for the caller's header;
  // empty (nothing changed) if the headroom is smaller than n.
  [[nodiscard]] std::optional<std::span<uint8_t>> prepend(size_t n);
  // Grows the packet at the back by n bytes; empty if the tailroom is smaller.
  [[nodiscard]] std::optional<std::span<uint8_t>> append(size_t n);
  [[nodiscard]] bool append_bytes(std::span<const uint8_t> bytes);
  // Removes n bytes from the front: a parsed header, on receive. False if n > size().
  [[nodiscard]] bool trim_front(size_t n);
  // Shortens the packet to `size` bytes (e.g. drops Ethernet padding). False if larger.
  [[nodiscard]] bool truncate(size_t size);
  // Empties the packet, leaving `headroom` bytes free in front (clamped to the buffer).
  void reset(size_t headroom);

  // Asks the device (platform::NetOffload) to finish the transport checksum of the
  // header that starts at the packet's front, whose checksum field is `checksum_field`
  // bytes into it and holds the pseudo-header sum; with `segment_size`, also to cut the
  // payload into TCP segments of that many bytes (TSO). Headers prepended afterwards
  // keep it; reset() forgets it.
  void request_offload(uint16_t checksum_field, uint16_t segment_size);
  // What the device must be told with this packet as a frame (offsets from its front).
  platform::NetFrameMeta offload() const;

 private:
  friend class BufferPool;
  friend class PacketQueue;
  explicit PacketBuffer(detail::BufferSlot* slot) : slot_(slot) {}
  void release();

  detail::BufferSlot* slot_ = nullptr;
};

// A FIFO of packets linked through their buffers' hooks: push and pop never allocate.
// Owns what it holds; destroying the queue returns the buffers to their pools.
class PacketQueue {
 public:
  PacketQueue() = default;
  PacketQueue(PacketQueue&& other) noexcept
      : head_(std::exchange(other.head_, nullptr)),
        tail_(std::exchange(other.tail_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  PacketQueue& operator=(PacketQueue&& other) noexcept;
  PacketQueue(const PacketQueue&) = delete;
  PacketQueue& operator=(const PacketQueue&) = delete;
  ~PacketQueue() { clear(); }

  void push_back(PacketBuffer packet);  // an empty handle is ignored
  PacketBuffer pop_front();             // an empty handle when the queue is empty
  // Moves every packet of `other` to the back of this queue, in order.
  void splice_back(PacketQueue& other);
  void clear();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The first packet's bytes (empty span when the queue is empty).
  std::span<const uint8_t> front() const;
  // The first packet's offload request (PacketBuffer::offload); none when empty.
  platform::NetFrameMeta front_offload() const;

 private:
  detail::BufferSlot* head_ = nullptr;
  detail::BufferSlot* tail_ = nullptr;
  size_t size_ = 0;
};

// A fixed set of equal buffers allocated once at creation. When all are in use,
// allocate() fails and counts it: callers drop the packet (a counted drop in their layer),
// nothing grows.
class BufferPool {
 public:
  struct Stats {
    uint64_t allocations = 0;
    uint64_t exhausted = 0;  // allocate() calls that found no free buffer
    size_t in_use = 0;
    size_t peak_in_use = 0;
  };

  // Fails with kInvalidArgument when count is 0, size is under 64 or over kMaxSize, or
  // headroom leaves no room for data.
  static constexpr size_t kMaxSize = 128 * 1024;
  static Result<std::unique_ptr<BufferPool>> create(const BufferConfig& config);
  // Every buffer must have been returned (asserted): a live PacketBuffer would dangle.
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // An empty packet with config().headroom bytes of headroom, or kNoMemory (counted in
  // stats().exhausted) when every buffer is in use.
  Result<PacketBuffer> allocate();
  // A packet holding a copy of `bytes` (after the usual headroom); kNoMemory when the
  // pool is exhausted, kOutOfRange when the bytes don't fit.
  Result<PacketBuffer> allocate_copy(std::span<const uint8_t> bytes);

  const BufferConfig& config() const { return config_; }
  const Stats& stats() const { return stats_; }
  size_t available() const { return config_.count - stats_.in_use; }

 private:
  friend class PacketBuffer;
  explicit BufferPool(const BufferConfig& config);
  void release(detail::BufferSlot* slot);

  BufferConfig config_;
  std::unique_ptr<uint8_t[]> storage_;
  std::unique_ptr<detail::BufferSlot[]> slots_;
  detail::BufferSlot* free_ = nullptr;  // singly linked through `next`
  Stats stats_;
};

}  // namespace morgana::net
