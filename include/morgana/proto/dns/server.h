// The authoritative server's logic without I/O: query bytes in, response messages out,
// with per-source response rate limiting (RRL), memoised responses, AXFR (RFC 5936) to
// allowed addresses and DNS-over-TCP framing (RFC 1035 §4.2.2, RFC 7766). The example
// in examples/dns moves the bytes between this and the network stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "morgana/net/address.h"
#include "morgana/proto/dns/answer.h"
#include "morgana/proto/dns/zone.h"

namespace morgana::dns {

struct ServerOptions {
  // The largest UDP response, also advertised in our OPT record (answer.h).
  size_t udp_limit = kDefaultUdpLimit;
  // Response rate limiting over UDP: at most this many responses per second to each /24
  // (with a burst of one second's worth); 0 turns it off. TCP is never limited: its
  // source cannot be forged.
  uint32_t rrl_per_second = 0;
  // Every this many limited responses one is sent truncated (TC, no records) instead of
  // dropped, so a real client behind a forged flood retries over TCP (BIND's and NSD's
  // "slip", default 2). 0: drop all.
  uint32_t rrl_slip = 2;
  // Buckets in the RRL table (rounded up to a power of two); a /24 that hashes to a slot
  // held by another takes it over (counted as an eviction).
  size_t rrl_buckets = 4096;
  // Who may transfer a zone (AXFR over TCP, RFC 5936 §6); everyone else gets REFUSED.
  std::vector<net::Ipv4Prefix> axfr_allow;
  // Memoised responses: entries (rounded up to a power of two, in sets of two; 0 turns it
  // off) and the largest response kept.
  size_t memo_entries = 512;
  size_t memo_max_response = kDefaultUdpLimit;
};

// What happened to one query (for tests and the counters).
enum class Disposition : uint8_t {
  kAnswered,         // answered by answer(), perhaps memoised for next time
  kMemoHit,          // a memoised response, with the query's ID
  kFormErr,          // undecodable, answered FORMERR
  kDropped,          // undecodable and not worth answering (no header, or a response)
  kRateLimited,      // RRL: dropped
  kSlipped,          // RRL: answered with an empty truncated response
  kTransfer,         // a zone transfer: several messages
  kTransferRefused,  // AXFR from an address not allowed, or over UDP
};

struct ServerStats {
  uint64_t queries = 0;
  uint64_t answered = 0;
  uint64_t memo_hits = 0;
  uint64_t memo_misses = 0;  // memoisable queries answered the long way (and then kept)
  uint64_t memo_evictions = 0;
  uint64_t formerr = 0;
  uint64_t dropped = 0;
  uint64_t rrl_dropped = 0;
  uint64_t rrl_slipped = 0;
  uint64_t rrl_evictions = 0;
  uint64_t transfers = 0;
  uint64_t transfers_refused = 0;
  // "dns: queries=... answered=... memo_hits=..." for the console.
  std::string format() const;
};

// A reusable set of response buffers: each handle() clears it and adds 0..n messages,
// keeping the buffers' capacity, so steady-state answering does not allocate.
class Responses {
 public:
  size_t size() const { return count_; }
  std::span<const uint8_t> operator[](size_t i) const { return buffers_[i]; }
  void clear() { count_ = 0; }
  // A new, empty message buffer.
  std::vector<uint8_t>& add();

 private:
  std::vector<std::vector<uint8_t>> buffers_;
  size_t count_ = 0;
};

class Server {
 public:
  Server(Zones zones, ServerOptions options);

  struct Query {
    std::span<const uint8_t> bytes;
    Transport transport = Transport::kUdp;
    net::Ipv4Address source;
    uint64_t now_ns = 0;  // monotonic, for RRL
  };

  // Answers one query into `out` (cleared first): one message, none (dropped), or the
  // messages of a zone transfer, each to be sent in its own TCP frame.
  Disposition handle(const Query& query, Responses& out);

  const Zones& zones() const { return zones_; }
  const ServerOptions& options() const { return options_; }
  const ServerStats& stats() const { return stats_; }

 private:
  struct MemoSlot {
    uint64_t hash = 0;
    uint64_t used = 0;           // stats_.queries when last stored or hit
    uint16_t key_size = 0;       // 0: empty
    std::vector<uint8_t> bytes;  // the key, then the response
  };
  struct RrlBucket {
    uint32_t key = 0;  // the /24's network with the low bit set; 0: empty
    uint32_t limited = 0;
    uint64_t tat_ns = 0;  // GCRA's theoretical arrival time
  };

  RrlBucket* rate_limited(net::Ipv4Address source, uint64_t now_ns);
  Disposition transfer(const Message& query, const Zone& zone, Responses& out);

  Zones zones_;
  ServerOptions options_;
  ServerStats stats_;
  std::vector<MemoSlot> memo_;
  std::vector<RrlBucket> rrl_;
};

// The key a query is memoised under (exactly what answer() reads: the question with its
// case, RD, CD, whether EDNS is there with its version and DO bit, and the size limit the
// response is cut to), or 0 bytes when the query is not in the simple form memoisation
// handles: a QUERY with one uncompressed question, no answer or authority records and at
// most an OPT record, with nothing after it. Written to `key`, which holds
// kMaxMemoKeySize bytes; returns the size used.
inline constexpr size_t kMaxMemoKeySize = 4 + kMaxNameSize + 4;
size_t memo_key(std::span<const uint8_t> query, Transport transport, size_t udp_limit,
                std::span<uint8_t, kMaxMemoKeySize> key);

// RFC 5936 §2.2: the messages of a transfer of `zone` answering `query` (which asked AXFR
// for its apex): the SOA, every other record, and the SOA again, each message at most
// `message_limit` bytes.
std::vector<std::vector<uint8_t>> zone_transfer(const Zone& zone, const Message& query,
                                                size_t message_limit = 16384);

// RFC 1035 §4.2.2, RFC 7766 §8: DNS messages over TCP, each after a two-byte length.
// Bytes are offered as they arrive; each complete message is then read with message()
// and released with consume(). A message announced as longer than `max_message` is not
// buffered: the framer reports oversized() and takes nothing more (the stream cannot be
// trusted; close it). So a connection holds at most max_message + 2 bytes here.
class TcpFramer {
 public:
  explicit TcpFramer(size_t max_message = kMaxMessageSize) : max_message_(max_message) {}

  // Takes bytes from the stream: returns how many were consumed (fewer than offered once
  // a message is complete: read it, consume() it, and offer the rest again).
  size_t feed(std::span<const uint8_t> bytes);
  // The message completed by feed(), if any; valid until the next feed().
  bool has_message() const;
  std::span<const uint8_t> message() const;
  // Forgets the message returned by message(), to read the next one.
  void consume();
  // True when some bytes of an unfinished message are buffered.
  bool partial() const { return size_ > 0 && !has_message(); }
  // True once a length over max_message arrived.
  bool oversized() const { return oversized_; }

 private:
  size_t max_message_;
  std::vector<uint8_t> buffer_;  // grows to the largest message seen
  size_t size_ = 0;
  bool oversized_ = false;
};

// Appends the two-byte length prefix and `message` to `out` (RFC 1035 §4.2.2).
void append_tcp_frame(std::span<const uint8_t> message, std::vector<uint8_t>& out);

}  // namespace morgana::dns
