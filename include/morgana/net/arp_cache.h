// The ARP cache and resolver (RFC 826, RFC 1122 §2.3.2, RFC 5227): bounded entries with
// expiry, a bounded queue per address of packets awaiting resolution, replies to
// requests and probes for our address, and a gratuitous announcement on start. Pure
// logic: time is passed in, and frames to transmit collect in outbox().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "morgana/net/address.h"
#include "morgana/net/arp.h"
#include "morgana/net/buffer.h"
#include "morgana/net/ethernet.h"
#include "morgana/rt/result.h"

namespace morgana::net {

struct ArpConfig {
  EthernetConfig link;  // our MAC (and VLAN) for the frames we send
  Ipv4Prefix address;   // our address; the prefix gives the subnet broadcast address
  size_t max_entries = 64;
  size_t max_pending_per_address = 8;            // RFC 1122 §2.3.2.2: SHOULD queue at least one
  uint64_t reachable_ns = 60'000'000'000;        // a reply keeps an entry fresh this long
  uint64_t retry_interval_ns = 1'000'000'000;    // RFC 1122 §2.3.2.1: at most one request/s
  unsigned max_requests = 3;                     // then give up (and drop what waited)
  uint64_t defend_interval_ns = 10'000'000'000;  // RFC 5227 §2.4 DEFEND_INTERVAL
};

class ArpCache {
 public:
  // The pool supplies buffers for ARP frames; link_counters counts Ethernet headers we
  // prepend. Both must outlive the cache. kInvalidArgument for a zero bound or an
  // unspecified address.
  static Result<ArpCache> create(const ArpConfig& config, BufferPool& pool,
                                 EthernetCounters& link_counters);

  // Queues a gratuitous ARP announcement of our address (RFC 5227 §2.3), so neighbours
  // with a stale entry for it update at once.
  void start();

  // Handles one ARP packet (the Ethernet payload), per RFC 826 "Packet Reception":
  // updates an existing entry for the sender; if we are the target, adds the sender and
  // answers a request (including RFC 5227 probes).
  void receive(std::span<const uint8_t> arp, uint64_t now);

  // Sends an IPv4 packet (starting with its IPv4 header) to `next_hop` on the link. With
  // a known MAC (or a broadcast/multicast next hop) the frame goes straight to the
  // outbox; otherwise the packet waits for resolution, dropping the oldest waiting packet
  // for that address when its queue is full.
  void send_ipv4(Ipv4Address next_hop, PacketBuffer packet, uint64_t now);

  // Retransmits requests, gives up on silent addresses and forgets stale entries. Call
  // by next_deadline(); earlier calls return at once (nothing is due).
  void tick(uint64_t now);
  // The earliest time tick() has work; UINT64_MAX when none. O(1) unless the entry that
  // held the earliest deadline was refreshed or removed since the last call (then one
  // scan of the entries): the stack's driver asks for it on every packet.
  uint64_t next_deadline() const;
  // The same by scanning every entry, as next_deadline() did before it was cached: the
  // reference the tests compare it with.
  uint64_t scan_next_deadline() const;

  // The MAC for `address` if the cache holds one (fresh or stale).
  std::optional<MacAddress> lookup(Ipv4Address address) const;
  size_t entries() const;
  size_t pending(Ipv4Address address) const;

  // Complete Ethernet frames to transmit, in order.
  PacketQueue& outbox() { return outbox_; }
  const ArpCounters& counters() const { return counters_; }
  const ArpConfig& config() const { return config_; }

 private:
  enum class State : uint8_t { kFree, kIncomplete, kResolved };
  struct Entry {
    State state = State::kFree;
    Ipv4Address ip;
    MacAddress mac;
    uint8_t requests = 0;      // sent since the last reply
    uint64_t fresh_until = 0;  // kResolved: reachable until then, stale after
    uint64_t retry_at = 0;     // next request (kIncomplete, or refreshing a stale entry)
    PacketQueue pending;
  };

  ArpCache(const ArpConfig& config, BufferPool& pool, EthernetCounters& link_counters);
  Entry* find(Ipv4Address ip);
  const Entry* find(Ipv4Address ip) const;
  Entry& allocate_entry();
  void free_entry(Entry& entry, ArpDrop pending_reason);
  void learn(Entry& entry, MacAddress mac, uint64_t now);
  void send_frame(MacAddress destination, const ArpPacket& packet);
  void send_request(Ipv4Address target, MacAddress destination);
  void transmit_ipv4(MacAddress destination, PacketBuffer packet);
  uint64_t forget_at(const Entry& entry) const;
  uint64_t deadline_of(const Entry& entry) const;
  void deadline_moved(uint64_t before, uint64_t after);

  ArpConfig config_;
  BufferPool* pool_;
  EthernetCounters* link_counters_;
  std::unique_ptr<Entry[]> entries_;
  PacketQueue outbox_;
  ArpCounters counters_;
  std::optional<uint64_t> last_defence_;
  // The minimum of deadline_of() over all entries, kept up to date by deadline_moved()
  // whenever an entry changes. When the entry holding the minimum moves later or goes,
  // the new minimum is unknown without a scan: earliest_stale_ defers that scan to the
  // next next_deadline() (or to a tick() that has work, which scans anyway).
  mutable uint64_t earliest_ = UINT64_MAX;
  mutable bool earliest_stale_ = false;
};

}  // namespace morgana::net
