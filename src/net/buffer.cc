// Pool, handles and queues of packet buffers. All storage is allocated in
// BufferPool::create; everything after that is pointer moves.
#include "morgana/net/buffer.h"

#include <cstring>

namespace morgana::net {

size_t PacketBuffer::tailroom() const {
  return slot_->pool->config().size - slot_->end;
}

std::optional<std::span<uint8_t>> PacketBuffer::prepend(size_t n) {
  if (n > slot_->begin) return std::nullopt;
  slot_->begin -= static_cast<uint32_t>(n);
  return std::span<uint8_t>(slot_->storage + slot_->begin, n);
}

std::optional<std::span<uint8_t>> PacketBuffer::append(size_t n) {
  if (n > tailroom()) return std::nullopt;
  std::span<uint8_t> added(slot_->storage + slot_->end, n);
  slot_->end += static_cast<uint32_t>(n);
  return added;
}

bool PacketBuffer::append_bytes(std::span<const uint8_t> bytes) {
  auto space = append(bytes.size());
  if (!space) return false;
  if (!bytes.empty()) std::memcpy(space->data(), bytes.data(), bytes.size());
  return true;
}

bool PacketBuffer::trim_front(size_t n) {
  if (n > size()) return false;
  slot_->begin += static_cast<uint32_t>(n);
  return true;
}

bool PacketBuffer::truncate(size_t size) {
  if (size > this->size()) return false;
  slot_->end = slot_->begin + static_cast<uint32_t>(size);
  return true;
}

void PacketBuffer::reset(size_t headroom) {
  size_t capacity = slot_->pool->config().size;
  slot_->begin = slot_->end = static_cast<uint32_t>(headroom < capacity ? headroom : capacity);
  slot_->transport_at = detail::BufferSlot::kNoOffload;
  slot_->segment_size = 0;
}

void PacketBuffer::request_offload(uint16_t checksum_field, uint16_t segment_size) {
  slot_->transport_at = slot_->begin;
  slot_->checksum_field = checksum_field;
  slot_->segment_size = segment_size;
}

platform::NetFrameMeta PacketBuffer::offload() const {
  return detail::offload_of(*slot_);
}

platform::NetFrameMeta detail::offload_of(const BufferSlot& slot) {
  platform::NetFrameMeta meta;
  // A header trimmed off the front (a receive path's buffer) takes its request along.
  if (slot.transport_at == BufferSlot::kNoOffload || slot.transport_at < slot.begin ||
      slot.transport_at >= slot.end)
    return meta;
  meta.checksum = platform::NetChecksum::kPartial;
  meta.csum_start = static_cast<uint16_t>(slot.transport_at - slot.begin);
  meta.csum_offset = slot.checksum_field;
  // The TCP header's length is in its data offset field (byte 12, upper 4 bits); the
  // request is only made after the header was written (tcp_prepend).
  constexpr uint32_t kDataOffsetByte = 12;
  if (slot.segment_size != 0 && slot.end - slot.transport_at > kDataOffsetByte) {
    meta.gso_size = slot.segment_size;
    const uint8_t data_offset = slot.storage[slot.transport_at + kDataOffsetByte];
    meta.header_length = static_cast<uint16_t>(meta.csum_start + (data_offset >> 4) * 4);
  }
  return meta;
}

void PacketBuffer::release() {
  if (slot_ != nullptr) slot_->pool->release(std::exchange(slot_, nullptr));
}

PacketQueue& PacketQueue::operator=(PacketQueue&& other) noexcept {
  if (this != &other) {
    clear();
    head_ = std::exchange(other.head_, nullptr);
    tail_ = std::exchange(other.tail_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void PacketQueue::push_back(PacketBuffer packet) {
  detail::BufferSlot* slot = std::exchange(packet.slot_, nullptr);
  if (slot == nullptr) return;
  slot->next = nullptr;
  slot->prev = tail_;
  if (tail_ != nullptr)
    tail_->next = slot;
  else
    head_ = slot;
  tail_ = slot;
  ++size_;
}

PacketBuffer PacketQueue::pop_front() {
  detail::BufferSlot* slot = head_;
  if (slot == nullptr) return PacketBuffer();
  head_ = slot->next;
  if (head_ != nullptr)
    head_->prev = nullptr;
  else
    tail_ = nullptr;
  slot->next = slot->prev = nullptr;
  --size_;
  return PacketBuffer(slot);
}

void PacketQueue::splice_back(PacketQueue& other) {
  if (&other == this || other.head_ == nullptr) return;
  if (tail_ != nullptr) {
    tail_->next = other.head_;
    other.head_->prev = tail_;
  } else {
    head_ = other.head_;
  }
  tail_ = other.tail_;
  size_ += other.size_;
  other.head_ = other.tail_ = nullptr;
  other.size_ = 0;
}

void PacketQueue::clear() {
  while (!empty()) (void)pop_front();
}

std::span<const uint8_t> PacketQueue::front() const {
  if (head_ == nullptr) return {};
  return {head_->storage + head_->begin, size_t{head_->end - head_->begin}};
}

platform::NetFrameMeta PacketQueue::front_offload() const {
  if (head_ == nullptr) return {};
  return detail::offload_of(*head_);
}

BufferPool::BufferPool(const BufferConfig& config) : config_(config) {}

Result<std::unique_ptr<BufferPool>> BufferPool::create(const BufferConfig& config) {
  if (config.count == 0 || config.size < 64 || config.size > kMaxSize ||
      config.headroom >= config.size || config.count > (size_t{1} << 32) / config.size) {
    return Error{Errc::kInvalidArgument, "buffer pool: bad count, size or headroom"};
  }
  std::unique_ptr<BufferPool> pool(new BufferPool(config));
  pool->storage_.reset(new uint8_t[config.count * config.size]);
  pool->slots_.reset(new detail::BufferSlot[config.count]);
  // Lowest addresses first: the free list is LIFO, so recently used (cache-warm)
  // buffers are handed out again first.
  for (size_t i = config.count; i-- > 0;) {
    detail::BufferSlot& slot = pool->slots_[i];
    slot.pool = pool.get();
    slot.storage = pool->storage_.get() + i * config.size;
    slot.next = pool->free_;
    pool->free_ = &slot;
  }
  return pool;
}

BufferPool::~BufferPool() {
  MORGANA_ASSERT(stats_.in_use == 0);
}

Result<PacketBuffer> BufferPool::allocate() {
  detail::BufferSlot* slot = free_;
  if (slot == nullptr) {
    ++stats_.exhausted;
    return Error{Errc::kNoMemory, "packet buffer pool exhausted"};
  }
  free_ = slot->next;
  slot->next = slot->prev = nullptr;
  slot->begin = slot->end = static_cast<uint32_t>(config_.headroom);
  slot->transport_at = detail::BufferSlot::kNoOffload;
  slot->segment_size = 0;
  ++stats_.allocations;
  if (++stats_.in_use > stats_.peak_in_use) stats_.peak_in_use = stats_.in_use;
  return PacketBuffer(slot);
}

Result<PacketBuffer> BufferPool::allocate_copy(std::span<const uint8_t> bytes) {
  if (bytes.size() > config_.size - config_.headroom) {
    return Error{Errc::kOutOfRange, "packet larger than a buffer"};
  }
  PacketBuffer packet = TRY(allocate());
  if (!packet.append_bytes(bytes)) return Error{Errc::kOutOfRange, "packet larger than a buffer"};
  return packet;
}

void BufferPool::release(detail::BufferSlot* slot) {
  MORGANA_ASSERT(slot->pool == this && stats_.in_use > 0);
  slot->prev = nullptr;
  slot->next = free_;
  free_ = slot;
  --stats_.in_use;
}

}  // namespace morgana::net
