// ARP resolution: the cache's entry life cycle is free -> incomplete (requests sent,
// packets waiting) -> resolved (fresh, then stale: still used while a refresh request is
// out) -> free again when a refresh goes unanswered.
#include "morgana/net/arp_cache.h"

#include <algorithm>
#include <limits>

namespace morgana::net {

namespace {
// RFC 1112 §6.4: an IPv4 multicast group maps to 01:00:5e plus its low 23 bits.
MacAddress multicast_mac(Ipv4Address group) {
  return {{0x01, 0x00, 0x5e, static_cast<uint8_t>(group.bytes[1] & 0x7f), group.bytes[2],
           group.bytes[3]}};
}
}  // namespace

Result<ArpCache> ArpCache::create(const ArpConfig& config, BufferPool& pool,
                                  EthernetCounters& link_counters) {
  if (config.max_entries == 0 || config.max_pending_per_address == 0 || config.max_requests == 0 ||
      config.address.address.is_unspecified() || config.link.mac.is_multicast()) {
    return Error{Errc::kInvalidArgument, "arp: bad configuration"};
  }
  return ArpCache(config, pool, link_counters);
}

ArpCache::ArpCache(const ArpConfig& config, BufferPool& pool, EthernetCounters& link_counters)
    : config_(config),
      pool_(&pool),
      link_counters_(&link_counters),
      entries_(new Entry[config.max_entries]) {}

void ArpCache::start() {
  const Ipv4Address self = config_.address.address;
  send_frame(MacAddress::broadcast(),
             {ArpOperation::kRequest, config_.link.mac, self, MacAddress{}, self});
}

void ArpCache::receive(std::span<const uint8_t> bytes, uint64_t now) {
  ++counters_.received;
  auto packet = counters_.accept(parse_arp(bytes));
  if (!packet) return;
  const Ipv4Address self = config_.address.address;
  if (packet->sender_mac == config_.link.mac) {
    counters_.drop(ArpDrop::kBadSender);  // our own frame looped back
    return;
  }
  if (packet->sender_ip == self) {
    // RFC 5227 §2.4(b): defend our address with one announcement per interval, and
    // never learn the impostor.
    counters_.drop(ArpDrop::kAddressConflict);
    if (!last_defence_ || now - *last_defence_ >= config_.defend_interval_ns) {
      last_defence_ = now;
      start();  // the same announcement
    }
    return;
  }
  const bool for_us = packet->target_ip == self;
  bool merged = false;
  if (!packet->is_probe()) {
    // RFC 826: "If the pair <protocol type, sender protocol address> is already in my
    // translation table, update the sender hardware address field ..."
    if (Entry* entry = find(packet->sender_ip)) {
      learn(*entry, packet->sender_mac, now);
      merged = true;
    } else if (for_us) {
      // "... If Merge_flag is false, add the triplet" (only when we are the target, so
      // broadcasts about others cannot fill the cache).
      Entry& entry = allocate_entry();
      entry.ip = packet->sender_ip;
      learn(entry, packet->sender_mac, now);
      merged = true;
    }
  }
  if (for_us && packet->operation == ArpOperation::kRequest) {
    // RFC 826: swap the fields, put in our address, make it a reply. A probe's sender
    // address is 0.0.0.0, so the reply tells the prober, unicast, that the address is
    // taken (RFC 5227 §2.1.1).
    send_frame(packet->sender_mac, {ArpOperation::kReply, config_.link.mac, self,
                                    packet->sender_mac, packet->sender_ip});
  }
  if (!for_us && !merged) {
    counters_.drop(ArpDrop::kNotForUs);
    return;
  }
  ++counters_.delivered;
}

void ArpCache::send_ipv4(Ipv4Address next_hop, PacketBuffer packet, uint64_t now) {
  if (next_hop.is_broadcast() || next_hop == config_.address.subnet_broadcast()) {
    transmit_ipv4(MacAddress::broadcast(), std::move(packet));
    return;
  }
  if (next_hop.is_multicast()) {
    transmit_ipv4(multicast_mac(next_hop), std::move(packet));
    return;
  }
  Entry* entry = find(next_hop);
  if (entry != nullptr && entry->state == State::kResolved) {
    if (now >= entry->fresh_until && now >= entry->retry_at &&
        entry->requests < config_.max_requests) {
      // Stale (RFC 1122 §2.3.2.1 "unicast poll"): keep using the MAC while asking it
      // directly whether it is still there.
      send_request(next_hop, entry->mac);
      ++entry->requests;
      entry->retry_at = now + config_.retry_interval_ns;
    }
    transmit_ipv4(entry->mac, std::move(packet));
    return;
  }
  if (entry == nullptr) {
    entry = &allocate_entry();
    entry->state = State::kIncomplete;
    entry->ip = next_hop;
    entry->requests = 1;
    entry->retry_at = now + config_.retry_interval_ns;
    deadline_moved(std::numeric_limits<uint64_t>::max(), entry->retry_at);
    send_request(next_hop, MacAddress::broadcast());
  }
  if (entry->pending.size() >= config_.max_pending_per_address) {
    (void)entry->pending.pop_front();
    counters_.drop(ArpDrop::kPendingOverflow);
  }
  entry->pending.push_back(std::move(packet));
}

void ArpCache::tick(uint64_t now) {
  // Every entry's work is due at its deadline_of(), so before the earliest nothing is;
  // the stack's driver ticks for other layers' timers too, and this spares it the scan.
  if (now < next_deadline()) return;
  uint64_t earliest = std::numeric_limits<uint64_t>::max();
  for (size_t i = 0; i < config_.max_entries; ++i) {
    Entry& entry = entries_[i];
    if (entry.state == State::kIncomplete && now >= entry.retry_at) {
      if (entry.requests >= config_.max_requests) {
        free_entry(entry, ArpDrop::kUnresolved);  // RFC 1122 §2.3.2.2: give up, discard
      } else {
        send_request(entry.ip, MacAddress::broadcast());
        ++entry.requests;
        entry.retry_at = now + config_.retry_interval_ns;
      }
    } else if (entry.state == State::kResolved && now >= forget_at(entry)) {
      free_entry(entry, ArpDrop::kEvicted);
    }
    // Only this entry changed in this step, so its deadline now is final for the tick.
    earliest = std::min(earliest, deadline_of(entry));
  }
  // The scan just made saw every entry: the minimum is exact, whatever the updates
  // above marked.
  earliest_ = earliest;
  earliest_stale_ = false;
}

uint64_t ArpCache::next_deadline() const {
  if (earliest_stale_) {
    earliest_ = scan_next_deadline();
    earliest_stale_ = false;
  }
  return earliest_;
}

uint64_t ArpCache::scan_next_deadline() const {
  uint64_t deadline = std::numeric_limits<uint64_t>::max();
  for (size_t i = 0; i < config_.max_entries; ++i) {
    deadline = std::min(deadline, deadline_of(entries_[i]));
  }
  return deadline;
}

std::optional<MacAddress> ArpCache::lookup(Ipv4Address address) const {
  const Entry* entry = find(address);
  if (entry == nullptr || entry->state != State::kResolved) return std::nullopt;
  return entry->mac;
}

size_t ArpCache::entries() const {
  size_t n = 0;
  for (size_t i = 0; i < config_.max_entries; ++i) n += entries_[i].state != State::kFree;
  return n;
}

size_t ArpCache::pending(Ipv4Address address) const {
  const Entry* entry = find(address);
  return entry == nullptr ? 0 : entry->pending.size();
}

ArpCache::Entry* ArpCache::find(Ipv4Address ip) {
  for (size_t i = 0; i < config_.max_entries; ++i) {
    if (entries_[i].state != State::kFree && entries_[i].ip == ip) return &entries_[i];
  }
  return nullptr;
}

const ArpCache::Entry* ArpCache::find(Ipv4Address ip) const {
  return const_cast<ArpCache*>(this)->find(ip);
}

// A free entry if there is one; otherwise the resolved entry closest to being forgotten,
// or failing that the incomplete one that has waited longest (its packets are dropped).
ArpCache::Entry& ArpCache::allocate_entry() {
  Entry* victim = nullptr;
  for (size_t i = 0; i < config_.max_entries; ++i) {
    Entry& entry = entries_[i];
    if (entry.state == State::kFree) return entry;
    if (victim == nullptr) {
      victim = &entry;
    } else if (entry.state == State::kResolved) {
      if (victim->state != State::kResolved || forget_at(entry) < forget_at(*victim)) {
        victim = &entry;
      }
    } else if (victim->state == State::kIncomplete && entry.retry_at < victim->retry_at) {
      victim = &entry;
    }
  }
  free_entry(*victim, ArpDrop::kEvicted);
  return *victim;
}

void ArpCache::free_entry(Entry& entry, ArpDrop pending_reason) {
  while (!entry.pending.empty()) {
    (void)entry.pending.pop_front();
    counters_.drop(pending_reason);
  }
  const uint64_t before = deadline_of(entry);
  entry = Entry{};
  deadline_moved(before, std::numeric_limits<uint64_t>::max());
}

void ArpCache::learn(Entry& entry, MacAddress mac, uint64_t now) {
  const uint64_t before = deadline_of(entry);
  entry.state = State::kResolved;
  entry.mac = mac;
  entry.requests = 0;
  entry.fresh_until = now + config_.reachable_ns;
  entry.retry_at = entry.fresh_until;
  deadline_moved(before, deadline_of(entry));
  while (!entry.pending.empty()) transmit_ipv4(mac, entry.pending.pop_front());
}

// A stale entry is forgotten once its refresh requests have all gone unanswered.
uint64_t ArpCache::forget_at(const Entry& entry) const {
  return entry.fresh_until + config_.max_requests * config_.retry_interval_ns;
}

// When tick() has work for `entry`: its next request or giving up while incomplete, the
// time it is forgotten while resolved (a resolved entry's retry_at only paces unicast
// polls, sent from send_ipv4, not from tick()).
uint64_t ArpCache::deadline_of(const Entry& entry) const {
  switch (entry.state) {
    case State::kIncomplete:
      return entry.retry_at;
    case State::kResolved:
      return forget_at(entry);
    case State::kFree:
      break;
  }
  return std::numeric_limits<uint64_t>::max();
}

// Keeps earliest_ the minimum over the entries after one entry's deadline went from
// `before` to `after`. Moving earlier, or moving an entry that did not hold the minimum,
// keeps it exact at no cost; only moving the holder later (a refresh, an expiry, an
// eviction) leaves the new minimum unknown, to be found by a scan when it is asked for.
void ArpCache::deadline_moved(uint64_t before, uint64_t after) {
  if (earliest_stale_) return;
  if (after <= earliest_) {
    earliest_ = after;
  } else if (before == earliest_) {
    earliest_stale_ = true;
  }
}

void ArpCache::send_frame(MacAddress destination, const ArpPacket& packet) {
  auto frame = pool_->allocate();
  if (!frame) {
    counters_.drop(ArpDrop::kNoBuffer);
    return;
  }
  auto body = frame->append(sizeof(ArpHeader));
  if (!body) {
    counters_.drop(ArpDrop::kNoBuffer);
    return;
  }
  encode_arp(packet, body->first<sizeof(ArpHeader)>());
  if (!ethernet_prepend(config_.link, destination, EtherType::kArp, *frame, *link_counters_)) {
    return;
  }
  ++counters_.sent;
  outbox_.push_back(std::move(*frame));
}

void ArpCache::send_request(Ipv4Address target, MacAddress destination) {
  // RFC 826: the target hardware address of a request is unknown, sent as zero.
  send_frame(destination, {ArpOperation::kRequest, config_.link.mac, config_.address.address,
                           MacAddress{}, target});
}

void ArpCache::transmit_ipv4(MacAddress destination, PacketBuffer packet) {
  if (ethernet_prepend(config_.link, destination, EtherType::kIpv4, packet, *link_counters_)) {
    outbox_.push_back(std::move(packet));
  }
}

}  // namespace morgana::net
