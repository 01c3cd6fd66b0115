// The TCP connection's send and receive rings and the out-of-order range list.
#include "morgana/net/tcp_buffers.h"

#include <new>

#include <algorithm>
#include <cstring>

#include "morgana/net/tcp_seq.h"
#include "morgana/rt/assert.h"

namespace morgana::net {

ByteRing::ByteRing(uint32_t capacity)
    // nothrow: running out of memory refuses the connection (the caller checks
    // allocated()) instead of panicking the image.
    : storage_(new (std::nothrow) uint8_t[capacity == 0 ? 1 : capacity]),
      capacity_(storage_ ? capacity : 0) {}

size_t ByteRing::append(std::span<const uint8_t> bytes) {
  uint32_t count = static_cast<uint32_t>(std::min<size_t>(bytes.size(), free()));
  write_at(size_, bytes.first(count));
  size_ += count;
  return count;
}

void ByteRing::write_at(uint32_t offset, std::span<const uint8_t> bytes) {
  MORGANA_ASSERT(offset <= capacity_ && bytes.size() <= capacity_ - offset);
  if (bytes.empty()) return;
  uint32_t at = (head_ + offset) % capacity_;
  size_t first = std::min<size_t>(bytes.size(), capacity_ - at);
  std::memcpy(&storage_[at], bytes.data(), first);
  if (first < bytes.size()) std::memcpy(&storage_[0], bytes.data() + first, bytes.size() - first);
}

void ByteRing::grow(uint32_t count) {
  MORGANA_ASSERT(count <= free());
  size_ += count;
}

void ByteRing::consume(uint32_t count) {
  MORGANA_ASSERT(count <= size_);
  size_ -= count;
  // The head moves even when the ring empties: out-of-order bytes may lie beyond it.
  head_ = (head_ + count) % capacity_;
}

size_t ByteRing::read(std::span<uint8_t> out) {
  uint32_t count = static_cast<uint32_t>(std::min<size_t>(out.size(), size_));
  if (count == 0) return 0;
  Pieces pieces = peek(0, count);
  std::memcpy(out.data(), pieces.first.data(), pieces.first.size());
  if (!pieces.second.empty())
    std::memcpy(out.data() + pieces.first.size(), pieces.second.data(), pieces.second.size());
  consume(count);
  return count;
}

ByteRing::Pieces ByteRing::peek(uint32_t offset, uint32_t length) const {
  MORGANA_ASSERT(offset <= capacity_ && length <= capacity_ - offset);
  if (length == 0) return {};
  uint32_t at = (head_ + offset) % capacity_;
  uint32_t first = std::min(length, capacity_ - at);
  return {{&storage_[at], first}, {&storage_[0], length - first}};
}

bool OutOfOrderRanges::insert(uint32_t left, uint32_t right) {
  MORGANA_ASSERT(seq_lt(left, right));
  // The ranges that touch [left, right) form one run [first, last).
  size_t first = 0;
  while (first < count_ && seq_lt(ranges_[first].right, left)) ++first;
  size_t last = first;
  while (last < count_ && seq_leq(ranges_[last].left, right)) ++last;
  ++clock_;
  if (first == last) {  // touches nothing: a new range at `first`
    if (count_ == kMaxRanges) return false;
    std::move_backward(ranges_ + first, ranges_ + count_, ranges_ + count_ + 1);
    ranges_[first] = {left, right, clock_};
    ++count_;
    return true;
  }
  Range merged = {seq_min(left, ranges_[first].left), seq_max(right, ranges_[last - 1].right),
                  clock_};
  ranges_[first] = merged;
  std::move(ranges_ + last, ranges_ + count_, ranges_ + first + 1);
  count_ -= last - first - 1;
  return true;
}

std::optional<uint32_t> OutOfOrderRanges::take_contiguous(uint32_t rcv_nxt) {
  if (count_ == 0 || seq_gt(ranges_[0].left, rcv_nxt)) return std::nullopt;
  uint32_t right = ranges_[0].right;
  std::move(ranges_ + 1, ranges_ + count_, ranges_);
  --count_;
  return right;
}

size_t OutOfOrderRanges::sack_blocks(std::span<SackBlock> out) const {
  // Selection by descending stamp: at most 16 ranges, so a few passes are cheap.
  size_t produced = 0;
  uint64_t below = UINT64_MAX;
  while (produced < out.size()) {
    const Range* best = nullptr;
    for (size_t i = 0; i < count_; ++i)
      if (ranges_[i].stamp < below && (best == nullptr || ranges_[i].stamp > best->stamp))
        best = &ranges_[i];
    if (best == nullptr) break;
    out[produced++] = {best->left, best->right};
    below = best->stamp;
  }
  return produced;
}

uint32_t OutOfOrderRanges::highest(uint32_t rcv_nxt) const {
  return count_ == 0 ? rcv_nxt : ranges_[count_ - 1].right;
}

}  // namespace morgana::net
