// The sender's SACK scoreboard and RFC 6675 loss recovery: which outstanding bytes the
// receiver holds (from SACK blocks, RFC 2018), IsLost, the pipe estimate and NextSeg.
// Pure logic over sequence numbers; the connection owns the data and the timers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "morgana/net/tcp_header.h"

namespace morgana::net {

class SackScoreboard {
 public:
  // At most this many disjoint SACKed ranges are remembered (the oldest are merged or
  // dropped beyond it: bounded memory, conservative).
  static constexpr size_t kMaxRanges = 32;
  static constexpr unsigned kDupThresh = 3;  // RFC 6675 DupThresh

  // Forgets everything (connection start, or when the receiver reneged: RFC 2018 §8).
  // An RTO keeps the scoreboard (RFC 6675 §5.1, as Linux) as long as no reneging is seen.
  void clear();
  // Processes one ACK: cumulative `snd_una` (already advanced by the caller) and the
  // segment's SACK blocks, bounded to [snd_una, snd_nxt) (blocks outside are ignored:
  // D-SACK or bogus). Returns true if the ACK SACKed bytes not SACKed before (RFC 6675
  // "new SACK information": such an ACK counts as a duplicate ACK for DupThresh).
  bool update(uint32_t snd_una, uint32_t snd_nxt, std::span<const SackBlock> blocks, uint32_t mss);

  // RFC 6675 §4 IsLost(seq): DupThresh discontiguous SACKed ranges above seq, or more
  // than (DupThresh - 1) * MSS bytes SACKed above it.
  bool is_lost(uint32_t seq) const;
  bool is_sacked(uint32_t seq) const;
  // RFC 6675 §4 SetPipe: the bytes believed in the network, given snd_una, snd_nxt and
  // HighRxt. Here `high_rxt` is one past the last byte retransmitted in this recovery
  // (snd_una when nothing was), so [snd_una, high_rxt) counts as retransmitted.
  uint32_t pipe(uint32_t snd_una, uint32_t snd_nxt, uint32_t high_rxt) const;
  // RFC 6675 §4 NextSeg rule 1: the first sequence >= max(snd_una, high_rxt) that is
  // unSACKed and IsLost, with the length of the unSACKed run from there (capped at
  // `mss` and at the next SACKed byte). Rules 2-4 (new data, rescue) are the
  // connection's: it knows what data it has.
  struct Hole {
    uint32_t seq;
    uint32_t length;
  };
  std::optional<Hole> next_lost(uint32_t snd_una, uint32_t snd_nxt, uint32_t high_rxt,
                                uint32_t mss) const;
  // RFC 6675 §4 NextSeg rule 3: as next_lost() without the IsLost test (1.c): the first
  // unSACKed sequence >= max(snd_una, high_rxt) below the highest SACKed byte.
  std::optional<Hole> next_unsacked(uint32_t snd_una, uint32_t snd_nxt, uint32_t high_rxt,
                                    uint32_t mss) const;
  // RFC 6675 §4 NextSeg rule 4: the (up to mss long) segment ending at the highest
  // unSACKed sequence number in [snd_una, snd_nxt), if any.
  std::optional<Hole> last_unsacked(uint32_t snd_una, uint32_t snd_nxt, uint32_t mss) const;
  // The end of the SACKed range holding `seq`, or `seq` when it is not SACKed: where a
  // go-back-N resend after an RTO continues.
  uint32_t sacked_run_end(uint32_t seq) const;
  // The left edge of the first SACKed range above `seq`, or `limit` when none is below it.
  uint32_t next_sacked(uint32_t seq, uint32_t limit) const;
  // The SACKed bytes in [from, to).
  uint32_t sacked_between(uint32_t from, uint32_t to) const;
  // Highest SACKed sequence + 1 (HighACK's counterpart for data above snd_una), or
  // snd_una when nothing is SACKed.
  uint32_t highest_sacked(uint32_t snd_una) const;
  uint32_t sacked_bytes() const { return sacked_bytes_; }
  size_t ranges() const { return count_; }

 private:
  bool insert(uint32_t left, uint32_t right);
  void trim(uint32_t snd_una, uint32_t snd_nxt);
  size_t clipped(uint32_t snd_una, uint32_t snd_nxt, SackBlock* out) const;
  bool lost_below(size_t ranges_above, uint64_t bytes_above) const;

  // Disjoint, not adjacent, sorted in sequence order; all inside [snd_una, snd_nxt) of
  // the last update.
  SackBlock ranges_[kMaxRanges];
  size_t count_ = 0;
  uint32_t sacked_bytes_ = 0;
  uint32_t mss_ = 536;  // from the last update: IsLost's (DupThresh - 1) * SMSS
};

}  // namespace morgana::net
