// IPv4 fragment reassembly (RFC 791 §3.2, RFC 815) with bounded memory: at most
// max_datagrams in progress and max_bytes of buffered data, each with a timeout. Time is
// passed in; nothing here blocks or schedules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "morgana/net/ipv4.h"
#include "morgana/rt/result.h"

namespace morgana::net {

struct ReassemblyConfig {
  size_t max_datagrams = 8;
  size_t max_bytes = 256 * 1024;         // summed over datagrams in progress
  size_t max_fragments = 64;             // per datagram, duplicates included
  uint64_t timeout_ns = 30'000'000'000;  // from the first fragment; Linux uses 30 s too
};

// Fragments are matched on (source, destination, protocol, id) (RFC 791 §3.2). Data is
// copied into a per-datagram buffer as it arrives and the received ranges are kept
// sorted and merged (the hole list of RFC 815 turned inside out). Overlapping fragments
// are accepted only when the overlap repeats the same bytes (a retransmitted fragment);
// any overlap that would change data already received, or any fragment that contradicts
// the datagram's known end, drops the whole datagram: there is no safe way to pick a
// winner (RFC 5722 reaches the same conclusion for IPv6).
class Ipv4Reassembler {
 public:
  // kInvalidArgument for a zero bound.
  static Result<Ipv4Reassembler> create(const ReassemblyConfig& config);

  // Adds one fragment (a parse_ipv4 result with is_fragment()). Returns the reassembled
  // datagram when this fragment completes it: its header is the first fragment's, with
  // total length and fragment fields rewritten and the checksum recomputed. The spans
  // stay valid until the next add() or expire(). Drops are counted in `counters`.
  std::optional<Ipv4Datagram> add(const Ipv4Datagram& fragment, uint64_t now,
                                  Ipv4Counters& counters);
  // Drops every datagram whose timer has run out (kReassemblyTimeout).
  void expire(uint64_t now, Ipv4Counters& counters);
  // When the earliest datagram times out; UINT64_MAX when none is in progress.
  uint64_t next_deadline() const;

  size_t datagrams_in_progress() const;
  size_t bytes_in_use() const { return bytes_; }
  const ReassemblyConfig& config() const { return config_; }

 private:
  struct Range {
    uint32_t begin;
    uint32_t end;
  };
  struct Slot {
    bool used = false;
    Ipv4Address source;
    Ipv4Address destination;
    uint8_t protocol = 0;
    uint16_t id = 0;
    uint64_t started = 0;
    uint64_t deadline = 0;
    size_t fragments = 0;
    std::optional<uint32_t> end;  // known once the last fragment (MF clear) arrives
    size_t header_size = 0;       // 0 until the first fragment (offset 0) arrives
    uint8_t header[kIpv4MaxHeaderSize] = {};
    std::vector<Range> ranges;  // sorted, disjoint, non-adjacent; capacity preset
    std::vector<uint8_t> data;
  };

  explicit Ipv4Reassembler(const ReassemblyConfig& config);
  Slot* find(const Ipv4Datagram& fragment);
  Slot& claim(const Ipv4Datagram& fragment, uint64_t now, Ipv4Counters& counters);
  void release(Slot& slot);
  void drop(Slot& slot, Ipv4Drop reason, Ipv4Counters& counters);
  bool reserve(Slot& slot, size_t size, Ipv4Counters& counters);
  static bool overlap_consistent(const Slot& slot, size_t offset, std::span<const uint8_t> data);
  static void insert_range(Slot& slot, uint32_t begin, uint32_t end);
  Ipv4Datagram finish(Slot& slot);

  ReassemblyConfig config_;
  std::vector<Slot> slots_;
  size_t bytes_ = 0;           // sum of the slots' data capacities
  Slot* delivered_ = nullptr;  // freed at the start of the next call
};

}  // namespace morgana::net
