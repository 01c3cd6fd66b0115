// IPv4 reassembly: per-datagram slots with sorted received ranges, bounded in count,
// fragments and bytes. See ipv4_reassembly.h for the overlap policy.
#include "morgana/net/ipv4_reassembly.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "morgana/net/checksum.h"

namespace morgana::net {

Result<Ipv4Reassembler> Ipv4Reassembler::create(const ReassemblyConfig& config) {
  if (config.max_datagrams == 0 || config.max_bytes == 0 || config.max_fragments == 0) {
    return Error{Errc::kInvalidArgument, "ipv4 reassembly: zero bound"};
  }
  return Ipv4Reassembler(config);
}

Ipv4Reassembler::Ipv4Reassembler(const ReassemblyConfig& config)
    : config_(config), slots_(config.max_datagrams) {
  // Each fragment adds at most one range, so this capacity is never exceeded and
  // recording a fragment never allocates.
  for (Slot& slot : slots_) slot.ranges.reserve(config.max_fragments);
}

std::optional<Ipv4Datagram> Ipv4Reassembler::add(const Ipv4Datagram& fragment, uint64_t now,
                                                 Ipv4Counters& counters) {
  if (delivered_ != nullptr) release(*std::exchange(delivered_, nullptr));
  ++counters.fragments_received;
  const size_t offset = fragment.fragment_offset();
  const size_t length = fragment.payload.size();
  const size_t end = offset + length;
  const bool last = !fragment.more_fragments();

  Slot* slot = find(fragment);
  if (slot != nullptr && now >= slot->deadline) {
    drop(*slot, Ipv4Drop::kReassemblyTimeout, counters);
    slot = nullptr;
  }
  // RFC 791 §3.2: all but the last fragment carry a multiple of 8 bytes.
  if (!last && (length == 0 || length % 8 != 0)) {
    if (slot != nullptr) release(*slot);
    counters.drop(Ipv4Drop::kFragmentBadLength);
    return std::nullopt;
  }
  // The reassembled total length (header included) must fit 16 bits.
  if (end + fragment.header.size() > kIpv4MaxDatagram) {
    if (slot != nullptr) release(*slot);
    counters.drop(Ipv4Drop::kFragmentTooLarge);
    return std::nullopt;
  }
  if (slot == nullptr) slot = &claim(fragment, now, counters);

  if (++slot->fragments > config_.max_fragments) {
    drop(*slot, Ipv4Drop::kTooManyFragments, counters);
    return std::nullopt;
  }
  // The last fragment fixes the end; everything must agree with it.
  const bool beyond_end = slot->end && end > *slot->end;
  const bool end_moves = last && ((slot->end && *slot->end != end) ||
                                  (!slot->ranges.empty() && slot->ranges.back().end > end));
  if (beyond_end || end_moves) {
    drop(*slot, Ipv4Drop::kFragmentInconsistent, counters);
    return std::nullopt;
  }
  if (!reserve(*slot, end, counters)) return std::nullopt;
  if (!overlap_consistent(*slot, offset, fragment.payload)) {
    drop(*slot, Ipv4Drop::kFragmentOverlap, counters);
    return std::nullopt;
  }
  if (last) slot->end = static_cast<uint32_t>(end);
  if (length > 0) {
    std::memcpy(slot->data.data() + offset, fragment.payload.data(), length);
    insert_range(*slot, static_cast<uint32_t>(offset), static_cast<uint32_t>(end));
  }
  if (offset == 0) {
    // RFC 791 §3.2: the first fragment's header (options included) becomes the header.
    slot->header_size = fragment.header.size();
    std::memcpy(slot->header, fragment.header.data(), fragment.header.size());
  }
  const bool complete = slot->end && slot->header_size != 0 && slot->ranges.size() == 1 &&
                        slot->ranges[0].begin == 0 && slot->ranges[0].end == *slot->end;
  if (!complete) return std::nullopt;
  ++counters.reassembled;
  delivered_ = slot;
  return finish(*slot);
}

void Ipv4Reassembler::expire(uint64_t now, Ipv4Counters& counters) {
  if (delivered_ != nullptr) release(*std::exchange(delivered_, nullptr));
  for (Slot& slot : slots_) {
    if (slot.used && now >= slot.deadline) drop(slot, Ipv4Drop::kReassemblyTimeout, counters);
  }
}

uint64_t Ipv4Reassembler::next_deadline() const {
  uint64_t deadline = std::numeric_limits<uint64_t>::max();
  for (const Slot& slot : slots_) {
    if (slot.used && &slot != delivered_) deadline = std::min(deadline, slot.deadline);
  }
  return deadline;
}

size_t Ipv4Reassembler::datagrams_in_progress() const {
  size_t n = 0;
  for (const Slot& slot : slots_) n += slot.used && &slot != delivered_;
  return n;
}

Ipv4Reassembler::Slot* Ipv4Reassembler::find(const Ipv4Datagram& fragment) {
  for (Slot& slot : slots_) {
    if (slot.used && slot.id == fragment.id && slot.protocol == fragment.protocol &&
        slot.source == fragment.source && slot.destination == fragment.destination) {
      return &slot;
    }
  }
  return nullptr;
}

// A free slot, or the oldest one evicted (an attacker who keeps slots busy costs us the
// oldest incomplete datagram, never unbounded memory).
Ipv4Reassembler::Slot& Ipv4Reassembler::claim(const Ipv4Datagram& fragment, uint64_t now,
                                              Ipv4Counters& counters) {
  Slot* chosen = nullptr;
  for (Slot& slot : slots_) {
    if (!slot.used) {
      chosen = &slot;
      break;
    }
    if (chosen == nullptr || slot.started < chosen->started) chosen = &slot;
  }
  if (chosen->used) drop(*chosen, Ipv4Drop::kReassemblyEvicted, counters);
  chosen->used = true;
  chosen->source = fragment.source;
  chosen->destination = fragment.destination;
  chosen->protocol = fragment.protocol;
  chosen->id = fragment.id;
  chosen->started = now;
  chosen->deadline = now + config_.timeout_ns;
  return *chosen;
}

void Ipv4Reassembler::release(Slot& slot) {
  bytes_ -= slot.data.capacity();
  std::vector<uint8_t>().swap(slot.data);  // give the memory back, not just the size
  slot.used = false;
  slot.fragments = 0;
  slot.end.reset();
  slot.header_size = 0;
  slot.ranges.clear();  // keeps its preset capacity
}

void Ipv4Reassembler::drop(Slot& slot, Ipv4Drop reason, Ipv4Counters& counters) {
  release(slot);
  counters.drop(reason);
}

// Makes slot.data at least `size` bytes within the memory bound, evicting the oldest
// other datagrams if needed. Drops the datagram (kReassemblyNoMemory) if even that fails.
bool Ipv4Reassembler::reserve(Slot& slot, size_t size, Ipv4Counters& counters) {
  if (size <= slot.data.size()) return true;
  if (size > config_.max_bytes) {  // could never fit: evicting others would not help
    drop(slot, Ipv4Drop::kReassemblyNoMemory, counters);
    return false;
  }
  const size_t old_capacity = slot.data.capacity();
  // Doubling keeps in-order arrival from copying the datagram once per fragment.
  size_t capacity = std::max(size, std::min(old_capacity * 2, kIpv4MaxDatagram));
  if (capacity > config_.max_bytes) capacity = size;
  while (bytes_ - old_capacity + capacity > config_.max_bytes) {
    Slot* oldest = nullptr;
    for (Slot& other : slots_) {
      if (other.used && &other != &slot && (oldest == nullptr || other.started < oldest->started))
        oldest = &other;
    }
    if (oldest == nullptr) {
      drop(slot, Ipv4Drop::kReassemblyNoMemory, counters);
      return false;
    }
    drop(*oldest, Ipv4Drop::kReassemblyEvicted, counters);
  }
  if (capacity > old_capacity) slot.data.reserve(capacity);
  bytes_ += slot.data.capacity() - old_capacity;
  slot.data.resize(size);
  return true;
}

bool Ipv4Reassembler::overlap_consistent(const Slot& slot, size_t offset,
                                         std::span<const uint8_t> data) {
  const size_t end = offset + data.size();
  for (const Range& range : slot.ranges) {
    const size_t from = std::max<size_t>(offset, range.begin);
    const size_t to = std::min<size_t>(end, range.end);
    if (from < to &&
        std::memcmp(slot.data.data() + from, data.data() + (from - offset), to - from) != 0) {
      return false;
    }
  }
  return true;
}

void Ipv4Reassembler::insert_range(Slot& slot, uint32_t begin, uint32_t end) {
  auto& ranges = slot.ranges;
  // First range that ends at or after `begin` (touching ranges merge too).
  auto first = std::lower_bound(ranges.begin(), ranges.end(), begin,
                                [](const Range& r, uint32_t value) { return r.end < value; });
  auto last = first;
  while (last != ranges.end() && last->begin <= end) {
    begin = std::min(begin, last->begin);
    end = std::max(end, last->end);
    ++last;
  }
  if (first == last) {
    MORGANA_ASSERT(ranges.size() < ranges.capacity());  // at most one range per fragment
    ranges.insert(first, Range{begin, end});
  } else {
    *first = Range{begin, end};
    ranges.erase(first + 1, last);
  }
}

Ipv4Datagram Ipv4Reassembler::finish(Slot& slot) {
  const size_t payload = *slot.end;
  // Present the header as one unfragmented datagram's: new total length, MF and offset
  // cleared (DF kept), checksum recomputed.
  Ipv4Header header;
  std::memcpy(&header, slot.header, sizeof(header));
  header.total_length.set(static_cast<uint16_t>(slot.header_size + payload));
  header.flags_fragment.set(header.flags_fragment.value() & kIpv4FlagDontFragment);
  header.checksum.set(0);
  std::memcpy(slot.header, &header, sizeof(header));
  header.checksum.set(internet_checksum(std::span<const uint8_t>(slot.header, slot.header_size)));
  std::memcpy(slot.header, &header, sizeof(header));

  Ipv4Datagram datagram;
  datagram.source = header.source;
  datagram.destination = header.destination;
  datagram.protocol = header.protocol;
  datagram.ttl = header.ttl;
  datagram.tos = header.tos;
  datagram.id = header.id.value();
  datagram.flags_fragment = header.flags_fragment.value();
  datagram.reassembled = true;
  datagram.header = std::span<const uint8_t>(slot.header, slot.header_size);
  datagram.payload = std::span<const uint8_t>(slot.data.data(), payload);
  return datagram;
}

}  // namespace morgana::net
