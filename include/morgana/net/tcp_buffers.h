// The two data buffers of a TCP connection: the send ring (bytes written by the application
// and not yet acknowledged) and the receive ring (in-order bytes for the application plus
// out-of-order data held inside the advertised window, with the ranges SACK reports).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "morgana/net/tcp_header.h"

namespace morgana::net {

// What a ring's growth may take from the heap: it grows only while `floor` bytes of heap
// stay free after it. The TCP layer gives its connections one (half its reserve), so
// buffers growing under load can never take the memory the application needs to keep
// running; a ring refused growth behaves as when the heap is exhausted (below).
struct GrowthBudget {
  size_t (*heap_free_bytes)();  // SIZE_MAX: unbounded
  size_t floor;
  bool allows(size_t bytes) const {
    const size_t free = heap_free_bytes();
    return free >= floor && free - floor >= bytes;
  }
};

// A byte ring that grows with use up to a fixed capacity. Byte 0 is the oldest (at
// SND.UNA for the send side, at the application's read position for the receive side).
//
// Storage starts small (kInitialStorage) and doubles, unwrapping the ring, when bytes must
// be stored beyond it: a connection that carries little costs little, so memory goes to
// the connections (and the application) that use it. Growth is nothrow: when the heap has
// no room, the ring behaves as full at its current storage (the send side takes fewer
// bytes, the receive side drops what it cannot hold) and tries again later.
class ByteRing {
 public:
  static constexpr uint32_t kInitialStorage = 4096;

  // Allocates min(capacity, kInitialStorage) bytes; allocated() says whether that worked.
  // Growth beyond that also asks `budget` (nullptr: only the heap limits it), which must
  // outlive the ring.
  explicit ByteRing(uint32_t capacity, const GrowthBudget* budget = nullptr);

  // The most the ring may hold (the buffer size), raised only by raise_capacity().
  uint32_t capacity() const { return capacity_; }
  // Autotuning: the ring may hold up to `capacity` from now on (never lowers it; nothing
  // for a ring that could not allocate). Storage still grows only as bytes arrive.
  void raise_capacity(uint32_t capacity) {
    if (storage_) capacity_ = std::max(capacity_, capacity);
  }
  // Bytes of storage allocated now (<= capacity()).
  uint32_t storage() const { return storage_size_; }
  uint32_t size() const { return size_; }
  // Room up to capacity(), whether or not storage for it exists yet.
  uint32_t free() const { return capacity_ - size_; }
  // What append() can take now: free(), or only the room in the current storage after a
  // growth failed (until consume() frees bytes and growth may be tried again).
  uint32_t appendable() const { return growth_failed_ ? storage_size_ - size_ : free(); }

  // Ensures storage for logical offsets [0, end), growing if needed (end <= capacity()).
  // False when the memory for that could not be allocated; the ring is then unchanged.
  bool reserve(uint32_t end);
  // Appends as much of `bytes` as fits within capacity() and the storage it can get;
  // returns the count taken.
  size_t append(std::span<const uint8_t> bytes);
  // Copies `bytes` to offset `offset` from the oldest byte, without changing size(); the
  // caller guarantees offset + bytes.size() <= storage() (reserve() first): out-of-order
  // data above size().
  void write_at(uint32_t offset, std::span<const uint8_t> bytes);
  // Makes `count` more bytes (already placed by write_at) part of size().
  void grow(uint32_t count);
  // Discards the `count` oldest bytes.
  void consume(uint32_t count);
  // Copies out and consumes up to out.size() of the oldest bytes.
  size_t read(std::span<uint8_t> out);
  // The bytes [offset, offset + length) as up to two spans (the ring wraps); within
  // storage().
  struct Pieces {
    std::span<const uint8_t> first;
    std::span<const uint8_t> second;
  };
  Pieces peek(uint32_t offset, uint32_t length) const;
  // False when even the initial storage could not be allocated.
  bool allocated() const { return storage_ != nullptr; }

  // Tests only: makes every later growth fail, as if the heap were exhausted.
  void fail_growth_for_testing() { growth_blocked_ = true; }

 private:
  std::unique_ptr<uint8_t[]> storage_;
  const GrowthBudget* budget_;
  uint32_t capacity_;
  uint32_t storage_size_ = 0;
  uint32_t head_ = 0;  // index of the oldest byte in storage_
  uint32_t size_ = 0;
  bool growth_failed_ = false;
  bool growth_blocked_ = false;
};

// Out-of-order ranges held above RCV.NXT (RFC 9293 §3.10.7.4 "segment text": segments
// that are in the window but not at its left edge are kept for later), bounded in count.
// Remembers which range changed most recently so SACK blocks can be reported in the order
// RFC 2018 §4 asks for.
class OutOfOrderRanges {
 public:
  static constexpr size_t kMaxRanges = 16;

  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  // Adds [left, right), merging with overlapping or adjacent ranges. Returns false (and
  // changes nothing) when it would need a range beyond kMaxRanges.
  bool insert(uint32_t left, uint32_t right);
  // If the first range starts at or before `rcv_nxt`, removes it and returns its right
  // edge (may be below `rcv_nxt` when it was wholly covered); otherwise nothing.
  std::optional<uint32_t> take_contiguous(uint32_t rcv_nxt);
  // RFC 2018 §4: the block holding the most recently received segment first, then the
  // others by how recently they changed; at most out.size() blocks. Returns the count.
  size_t sack_blocks(std::span<SackBlock> out) const;
  // The end of the highest range (RCV.NXT when empty).
  uint32_t highest(uint32_t rcv_nxt) const;
  void clear() { count_ = 0; }

 private:
  struct Range {
    uint32_t left;
    uint32_t right;
    uint64_t stamp;  // insert() counter when it last grew
  };
  Range ranges_[kMaxRanges];  // disjoint, in sequence order
  size_t count_ = 0;
  uint64_t clock_ = 0;
};

}  // namespace morgana::net
