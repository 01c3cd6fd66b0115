// Domain names (RFC 1035 §3.1): a Name holds the uncompressed wire bytes of an absolute
// name in a fixed 255-byte buffer, so decoding a message allocates nothing per label.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "morgana/rt/result.h"

namespace morgana::dns {

inline constexpr size_t kMaxNameSize = 255;  // RFC 1035 §3.1: wire bytes, root label included
inline constexpr size_t kMaxLabelSize = 63;  // RFC 1035 §2.3.4
// A pointer chain may be at most this long; real encoders need a handful of hops.
inline constexpr size_t kMaxPointerHops = 64;

class Name {
 public:
  Name() = default;  // the root, "."

  // Presentation form (RFC 1035 §5.1): labels separated by dots, with \X and \DDD escapes.
  // A name ending in "." is absolute; any other is relative and has `origin` appended.
  static Result<Name> parse(std::string_view text, const Name& origin);
  static Result<Name> parse(std::string_view text);  // relative to the root
  // Exactly one uncompressed name that fills `bytes`.
  static Result<Name> from_wire(std::span<const uint8_t> bytes);
  // Decodes a possibly compressed name (RFC 1035 §4.1.4) at `offset` in `message` and moves
  // `offset` past the bytes the name occupies there. Loop-safe: each pointer must point
  // before the run of labels that contains it, and at most kMaxPointerHops are followed.
  static Result<Name> decode(std::span<const uint8_t> message, size_t& offset);

  std::span<const uint8_t> wire() const { return {wire_, size_}; }
  size_t wire_size() const { return size_; }
  size_t label_count() const;
  bool is_root() const { return size_ == 1; }
  // RFC 4592 §2.1.1: the first label is exactly "*".
  bool is_wildcard() const { return size_ >= 3 && wire_[0] == 1 && wire_[1] == '*'; }
  // The leftmost label's bytes (empty for the root).
  std::span<const uint8_t> first_label() const { return {wire_ + 1, wire_[0]}; }

  // The name without its leftmost label; the root's parent is the root.
  Name parent() const;
  // The rightmost `labels` labels (label_count() or more gives the name itself).
  Name suffix(size_t labels) const;
  // `label` followed by this name; fails if the label or the result is too long.
  Result<Name> prepend(std::span<const uint8_t> label) const;
  // "*." followed by this name (RFC 4592 §2.1.1), if it fits.
  Result<Name> wildcard_child() const;
  // True when this name equals `ancestor` or lies below it (case-insensitively).
  bool is_subdomain_of(const Name& ancestor) const;

  // Presentation form, absolute (trailing dot), escaping as dig does.
  std::string to_string() const;

  // RFC 4343 §3: comparison ignores ASCII case; the case stored is preserved.
  friend bool operator==(const Name& a, const Name& b);
  // Byte for byte, case included.
  bool identical(const Name& other) const;
  // Case-insensitive FNV-1a of the wire form.
  uint32_t hash() const;

 private:
  uint8_t size_ = 1;
  uint8_t wire_[kMaxNameSize] = {};
};

// RFC 4034 §6.1 canonical order: by labels from the right, each compared as lower-cased
// bytes. Negative, zero or positive as a sorts before, with or after b.
int compare_canonical(const Name& a, const Name& b);

struct CanonicalLess {
  bool operator()(const Name& a, const Name& b) const { return compare_canonical(a, b) < 0; }
};

}  // namespace morgana::dns
