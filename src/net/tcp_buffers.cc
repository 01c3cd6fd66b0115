// The TCP connection's send and receive rings and the out-of-order range list.
#include "morgana/net/tcp_buffers.h"

#include <new>

#include <algorithm>
#include <cstring>

#include "morgana/net/tcp_seq.h"
#include "morgana/rt/assert.h"

namespace morgana::net {

ByteRing::ByteRing(uint32_t capacity, const GrowthBudget* budget)
    // nothrow: running out of memory refuses the connection (the caller checks
    // allocated()) instead of panicking the image. The initial storage is never zero, so
    // a ring whose growth fails can still move data (and the writer is woken by ACKs).
    : storage_(new (std::nothrow) uint8_t[std::clamp<uint32_t>(capacity, 1, kInitialStorage)]),
      budget_(budget),
      capacity_(storage_ ? capacity : 0),
      storage_size_(storage_ ? std::clamp<uint32_t>(capacity, 1, kInitialStorage) : 0) {}

bool ByteRing::reserve(uint32_t end) {
  MORGANA_ASSERT(end <= capacity_);
  if (end <= storage_size_) return true;
  if (growth_blocked_) {
    growth_failed_ = true;
    return false;
  }
  // Doubling keeps the copying amortised O(1) per byte stored.
  uint64_t target = std::max<uint64_t>(storage_size_, 1);
  while (target < end) target *= 2;
  uint32_t new_size = static_cast<uint32_t>(std::min<uint64_t>(target, capacity_));
  if (budget_ != nullptr && !budget_->allows(new_size)) {
    growth_failed_ = true;
    return false;
  }
  std::unique_ptr<uint8_t[]> bigger(new (std::nothrow) uint8_t[new_size]);
  if (!bigger) {
    growth_failed_ = true;
    return false;
  }
  // Every stored byte, in-order or out-of-order, lies at a logical offset below
  // storage_size_, so unwrapping the whole old storage keeps them all at their offsets.
  uint32_t first = storage_size_ - head_;
  std::memcpy(&bigger[0], &storage_[head_], first);
  std::memcpy(&bigger[first], &storage_[0], head_);
  storage_ = std::move(bigger);
  storage_size_ = new_size;
  head_ = 0;
  growth_failed_ = false;
  return true;
}

size_t ByteRing::append(std::span<const uint8_t> bytes) {
  uint32_t count = static_cast<uint32_t>(std::min<size_t>(bytes.size(), free()));
  if (!reserve(size_ + count)) count = storage_size_ - size_;  // as full as storage allows
  write_at(size_, bytes.first(count));
  size_ += count;
  return count;
}

void ByteRing::write_at(uint32_t offset, std::span<const uint8_t> bytes) {
  MORGANA_ASSERT(offset <= storage_size_ && bytes.size() <= storage_size_ - offset);
  if (bytes.empty()) return;
  uint32_t at = (head_ + offset) % storage_size_;
  size_t first = std::min<size_t>(bytes.size(), storage_size_ - at);
  std::memcpy(&storage_[at], bytes.data(), first);
  if (first < bytes.size()) std::memcpy(&storage_[0], bytes.data() + first, bytes.size() - first);
}

void ByteRing::grow(uint32_t count) {
  // Only bytes already placed by write_at(), hence within storage.
  MORGANA_ASSERT(count <= storage_size_ - size_);
  size_ += count;
}

void ByteRing::consume(uint32_t count) {
  MORGANA_ASSERT(count <= size_);
  if (count == 0) return;
  size_ -= count;
  // The head moves even when the ring empties: out-of-order bytes may lie beyond it.
  head_ = (head_ + count) % storage_size_;
  // Room was freed: the next append() may try to grow again.
  growth_failed_ = false;
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
  MORGANA_ASSERT(offset <= storage_size_ && length <= storage_size_ - offset);
  if (length == 0) return {};
  uint32_t at = (head_ + offset) % storage_size_;
  uint32_t first = std::min(length, storage_size_ - at);
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
