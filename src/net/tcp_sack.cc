// The sender's SACK scoreboard (RFC 2018) and the RFC 6675 §4 routines over it: IsLost,
// SetPipe and the holes NextSeg rules 1, 3 and 4 pick. Every comparison is modulo 2^32 (tcp_seq.h).
#include "morgana/net/tcp_sack.h"

#include "morgana/net/tcp_seq.h"

namespace morgana::net {

void SackScoreboard::clear() {
  count_ = 0;
  sacked_bytes_ = 0;
}

void SackScoreboard::trim(uint32_t snd_una, uint32_t snd_nxt) {
  // The cumulative ACK covers what lies below snd_una; nothing above snd_nxt can be held
  // (snd_nxt may move back after a timeout). Ranges keep their order when clipped.
  size_t kept = clipped(snd_una, snd_nxt, ranges_);
  count_ = kept;
  sacked_bytes_ = 0;
  for (size_t i = 0; i < count_; ++i) sacked_bytes_ += ranges_[i].right - ranges_[i].left;
}

size_t SackScoreboard::clipped(uint32_t snd_una, uint32_t snd_nxt, SackBlock* out) const {
  size_t n = 0;
  for (size_t i = 0; i < count_; ++i) {
    uint32_t left = seq_max(ranges_[i].left, snd_una);
    uint32_t right = seq_min(ranges_[i].right, snd_nxt);
    if (seq_lt(left, right)) out[n++] = {left, right};
  }
  return n;
}

bool SackScoreboard::insert(uint32_t left, uint32_t right) {
  // Skip the ranges that end before the block (a range ending exactly at `left` is
  // adjacent and merges).
  size_t first = 0;
  while (first < count_ && seq_lt(ranges_[first].right, left)) ++first;
  // Absorb every range that overlaps or touches the block.
  size_t end = first;
  uint32_t merged_left = left;
  uint32_t merged_right = right;
  uint32_t absorbed = 0;
  while (end < count_ && seq_leq(ranges_[end].left, right)) {
    merged_left = seq_min(merged_left, ranges_[end].left);
    merged_right = seq_max(merged_right, ranges_[end].right);
    absorbed += ranges_[end].right - ranges_[end].left;
    ++end;
  }
  // The absorbed ranges lie inside the union and are disjoint, so what the union has
  // beyond them is what this block newly SACKs.
  uint32_t added = (merged_right - merged_left) - absorbed;

  if (end > first) {
    ranges_[first] = {merged_left, merged_right};
    size_t removed = end - first - 1;
    for (size_t i = first + 1; i + removed < count_; ++i) ranges_[i] = ranges_[i + removed];
    count_ -= removed;
  } else {
    if (count_ == kMaxRanges) {
      // Bounded memory: forget the highest range (possibly this block). Forgetting is
      // conservative: those bytes only look outstanding, so at worst they are resent or
      // counted in pipe. The highest is the least useful: holes are repaired from
      // snd_una upwards, and receivers report their latest (usually highest) blocks
      // again in the next ACKs (RFC 2018 §4).
      if (first == count_) return added > 0;
      --count_;
      sacked_bytes_ -= ranges_[count_].right - ranges_[count_].left;
    }
    for (size_t i = count_; i > first; --i) ranges_[i] = ranges_[i - 1];
    ranges_[first] = {left, right};
    ++count_;
  }
  sacked_bytes_ += added;
  return added > 0;
}

bool SackScoreboard::update(uint32_t snd_una, uint32_t snd_nxt, std::span<const SackBlock> blocks,
                            uint32_t mss) {
  if (mss != 0) mss_ = mss;
  trim(snd_una, snd_nxt);
  bool new_information = false;
  for (const SackBlock& block : blocks) {
    uint32_t left = block.left;
    uint32_t right = block.right;
    // Empty, inverted, or longer than half the sequence space: not a block.
    if (!seq_lt(left, right)) continue;
    // Beyond anything sent: bogus (RFC 2018 §4 only reports received data).
    if (seq_gt(right, snd_nxt)) continue;
    // Entirely acknowledged: a D-SACK (RFC 2883 §4) or a stale block; nothing to learn.
    if (seq_leq(right, snd_una)) continue;
    // A block reaching below snd_una only tells us about the part above it.
    left = seq_max(left, snd_una);
    if (insert(left, right)) new_information = true;
  }
  return new_information;
}

bool SackScoreboard::lost_below(size_t ranges_above, uint64_t bytes_above) const {
  // RFC 6675 §4 IsLost: DupThresh discontiguous SACKed ranges above, or more than
  // (DupThresh - 1) * SMSS SACKed bytes above.
  return ranges_above >= kDupThresh || bytes_above > uint64_t{kDupThresh - 1} * mss_;
}

bool SackScoreboard::is_lost(uint32_t seq) const {
  size_t ranges_above = 0;
  uint64_t bytes_above = 0;
  for (size_t i = 0; i < count_; ++i) {
    // Only the bytes with sequence numbers greater than `seq` count.
    uint32_t start = seq_max(ranges_[i].left, seq + 1);
    if (seq_lt(start, ranges_[i].right)) {
      ++ranges_above;
      bytes_above += ranges_[i].right - start;
    }
  }
  return lost_below(ranges_above, bytes_above);
}

bool SackScoreboard::is_sacked(uint32_t seq) const {
  for (size_t i = 0; i < count_; ++i) {
    if (seq_in(seq, ranges_[i].left, ranges_[i].right)) return true;
  }
  return false;
}

// SetPipe and NextSeg both walk the holes (unSACKed runs) between snd_una and snd_nxt.
// Inside one hole IsLost is the same for every byte: the SACKed bytes above any of them
// are exactly the ranges above the hole. So each hole is judged once, from the counts
// of the ranges above it, which only shrink going up: once a hole is not lost, no
// higher hole is.

uint32_t SackScoreboard::pipe(uint32_t snd_una, uint32_t snd_nxt, uint32_t high_rxt) const {
  SackBlock ranges[kMaxRanges];
  size_t n = clipped(snd_una, snd_nxt, ranges);
  uint64_t bytes_above = 0;
  for (size_t i = 0; i < n; ++i) bytes_above += ranges[i].right - ranges[i].left;
  // [snd_una, retransmitted_end) has been retransmitted in this recovery.
  uint32_t retransmitted_end = seq_min(seq_max(high_rxt, snd_una), snd_nxt);

  uint64_t pipe = 0;
  uint32_t cursor = snd_una;
  for (size_t i = 0; i <= n; ++i) {
    uint32_t hole_end = i < n ? ranges[i].left : snd_nxt;
    if (seq_lt(cursor, hole_end)) {
      // RFC 6675 §4 SetPipe (a): an unSACKed byte not deemed lost is in the network.
      if (!lost_below(n - i, bytes_above)) pipe += hole_end - cursor;
      // (b): and so is a retransmission of it.
      if (seq_lt(cursor, retransmitted_end)) pipe += seq_min(hole_end, retransmitted_end) - cursor;
    }
    if (i < n) {
      bytes_above -= ranges[i].right - ranges[i].left;
      cursor = ranges[i].right;
    }
  }
  return pipe > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(pipe);
}

std::optional<SackScoreboard::Hole> SackScoreboard::next_lost(uint32_t snd_una, uint32_t snd_nxt,
                                                              uint32_t high_rxt,
                                                              uint32_t mss) const {
  if (mss == 0) mss = mss_;
  SackBlock ranges[kMaxRanges];
  size_t n = clipped(snd_una, snd_nxt, ranges);
  uint64_t bytes_above = 0;
  for (size_t i = 0; i < n; ++i) bytes_above += ranges[i].right - ranges[i].left;
  // RFC 6675 §4 NextSeg (1.a): only bytes not yet retransmitted in this recovery.
  uint32_t start = seq_max(snd_una, high_rxt);

  uint32_t cursor = snd_una;
  // (1.b): a lost hole lies below the highest SACKed byte, so the hole above the last
  // range (i == n) is never a candidate.
  for (size_t i = 0; i < n; ++i) {
    uint32_t hole_end = ranges[i].left;
    if (seq_lt(cursor, hole_end)) {
      // (1.c): IsLost; holes above a non-lost one are not lost either.
      if (!lost_below(n - i, bytes_above)) return std::nullopt;
      uint32_t seq = seq_max(cursor, start);
      if (seq_lt(seq, hole_end)) {
        uint32_t length = hole_end - seq;
        return Hole{seq, length < mss ? length : mss};
      }
    }
    bytes_above -= ranges[i].right - ranges[i].left;
    cursor = ranges[i].right;
  }
  return std::nullopt;
}

std::optional<SackScoreboard::Hole> SackScoreboard::next_unsacked(uint32_t snd_una,
                                                                  uint32_t snd_nxt,
                                                                  uint32_t high_rxt,
                                                                  uint32_t mss) const {
  if (mss == 0) mss = mss_;
  SackBlock ranges[kMaxRanges];
  size_t n = clipped(snd_una, snd_nxt, ranges);
  uint32_t start = seq_max(snd_una, high_rxt);
  uint32_t cursor = snd_una;
  // (1.a) and (1.b) only: a hole below some SACKed range, not yet retransmitted.
  for (size_t i = 0; i < n; ++i) {
    uint32_t seq = seq_max(cursor, start);
    if (seq_lt(seq, ranges[i].left)) {
      uint32_t length = ranges[i].left - seq;
      return Hole{seq, length < mss ? length : mss};
    }
    cursor = ranges[i].right;
  }
  return std::nullopt;
}

std::optional<SackScoreboard::Hole> SackScoreboard::last_unsacked(uint32_t snd_una,
                                                                  uint32_t snd_nxt,
                                                                  uint32_t mss) const {
  if (mss == 0) mss = mss_;
  SackBlock ranges[kMaxRanges];
  size_t n = clipped(snd_una, snd_nxt, ranges);
  // Walk down from snd_nxt: the highest hole is above the last range, or below it.
  uint32_t top = snd_nxt;
  for (size_t i = n; i-- > 0;) {
    if (seq_lt(ranges[i].right, top)) break;  // [right, top) is unSACKed
    top = ranges[i].left;
  }
  if (!seq_lt(snd_una, top)) return std::nullopt;
  // The hole's bottom: the end of the range below `top`, or snd_una.
  uint32_t bottom = snd_una;
  for (size_t i = 0; i < n; ++i)
    if (seq_leq(ranges[i].right, top)) bottom = seq_max(bottom, ranges[i].right);
  uint32_t length = top - bottom < mss ? top - bottom : mss;
  return Hole{top - length, length};
}

uint32_t SackScoreboard::sacked_run_end(uint32_t seq) const {
  for (size_t i = 0; i < count_; ++i)
    if (seq_in(seq, ranges_[i].left, ranges_[i].right)) return ranges_[i].right;
  return seq;
}

uint32_t SackScoreboard::next_sacked(uint32_t seq, uint32_t limit) const {
  for (size_t i = 0; i < count_; ++i)
    if (seq_gt(ranges_[i].left, seq)) return seq_min(ranges_[i].left, limit);
  return limit;
}

uint32_t SackScoreboard::sacked_between(uint32_t from, uint32_t to) const {
  uint32_t total = 0;
  for (size_t i = 0; i < count_; ++i) {
    uint32_t left = seq_max(ranges_[i].left, from);
    uint32_t right = seq_min(ranges_[i].right, to);
    if (seq_lt(left, right)) total += right - left;
  }
  return total;
}

uint32_t SackScoreboard::highest_sacked(uint32_t snd_una) const {
  if (count_ == 0) return snd_una;
  return seq_max(ranges_[count_ - 1].right, snd_una);
}

}  // namespace morgana::net
