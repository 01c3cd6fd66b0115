// Bounds-checked reading and writing of DNS wire data, internal to src/proto/dns. The
// reader can only fail, never overrun; the writer stops at its limit and remembers that it
// overflowed, so a caller writes a whole record and then checks once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "morgana/proto/dns/name.h"
#include "morgana/proto/dns/rdata.h"
#include "morgana/proto/dns/types.h"
#include "morgana/rt/result.h"

namespace morgana::dns {

inline constexpr Error kShort{Errc::kMalformed, "message ends inside a field"};
inline constexpr size_t kMaxRdataSize = 65535;

class WireReader {
 public:
  // Reads message[offset, end); names may point anywhere before them in `message`.
  WireReader(std::span<const uint8_t> message, size_t offset, size_t end)
      : message_(message), at_(offset), end_(end) {}
  explicit WireReader(std::span<const uint8_t> message) : WireReader(message, 0, message.size()) {}

  Result<uint8_t> u8() {
    if (remaining() < 1) return kShort;
    return message_[at_++];
  }
  Result<uint16_t> u16() {
    if (remaining() < 2) return kShort;
    uint16_t value = static_cast<uint16_t>(message_[at_] << 8 | message_[at_ + 1]);
    at_ += 2;
    return value;
  }
  Result<uint32_t> u32() {
    if (remaining() < 4) return kShort;
    uint32_t value = uint32_t{message_[at_]} << 24 | uint32_t{message_[at_ + 1]} << 16 |
                     uint32_t{message_[at_ + 2]} << 8 | message_[at_ + 3];
    at_ += 4;
    return value;
  }
  Result<std::span<const uint8_t>> bytes(size_t n) {
    if (remaining() < n) return kShort;
    auto view = message_.subspan(at_, n);
    at_ += n;
    return view;
  }
  Result<Name> name() {
    size_t offset = at_;
    Name name = TRY(Name::decode(message_.first(end_), offset));
    at_ = offset;
    return name;
  }

  size_t position() const { return at_; }
  size_t remaining() const { return end_ - at_; }
  std::span<const uint8_t> message() const { return message_; }

 private:
  std::span<const uint8_t> message_;
  size_t at_;
  size_t end_;
};

enum class Compress : uint8_t { kNo, kYes };

class WireWriter {
 public:
  explicit WireWriter(size_t limit) : limit_(limit) {}

  void u8(uint8_t value) { bytes({&value, 1}); }
  void u16(uint16_t value) {
    uint8_t b[2] = {static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)};
    bytes(b);
  }
  void u32(uint32_t value) {
    uint8_t b[4] = {static_cast<uint8_t>(value >> 24), static_cast<uint8_t>(value >> 16),
                    static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)};
    bytes(b);
  }
  void bytes(std::span<const uint8_t> data) {
    if (overflowed_ || out_.size() + data.size() > limit_) {
      overflowed_ = true;
      return;
    }
    out_.insert(out_.end(), data.begin(), data.end());
  }
  // RFC 1035 §4.1.4: replaces the longest suffix already written with a pointer to it.
  void name(const Name& name, Compress compress);
  void patch_u16(size_t at, uint16_t value) {
    out_[at] = static_cast<uint8_t>(value >> 8);
    out_[at + 1] = static_cast<uint8_t>(value);
  }

  struct Mark {
    size_t size;
    size_t entries;
  };
  Mark mark() const { return {out_.size(), table_.size()}; }
  // Forgets everything written since `mark`, and any overflow.
  void rollback(Mark mark) {
    out_.resize(mark.size);
    table_.resize(mark.entries);
    overflowed_ = false;
  }

  bool overflowed() const { return overflowed_; }
  size_t size() const { return out_.size(); }
  size_t limit() const { return limit_; }
  void set_limit(size_t limit) { limit_ = limit; }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  struct Entry {
    uint32_t hash;    // of the suffix, ignoring case
    uint16_t offset;  // where it starts in out_
  };
  std::vector<uint8_t> out_;
  std::vector<Entry> table_;
  size_t limit_;
  bool overflowed_ = false;
};

// RDATA of `type` from `reader`, which ends where the RDLENGTH says (RFC 1035 §4.1.3).
Result<Rdata> decode_rdata(Type type, WireReader& reader);
// Appends RDATA (without RDLENGTH). Fails only for content that cannot be encoded.
Result<void> encode_rdata(Type type, const Rdata& rdata, WireWriter& writer);

}  // namespace morgana::dns
