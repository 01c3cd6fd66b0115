// Domain names: presentation parsing and printing, loop-safe decompression, comparison.
#include "morgana/proto/dns/name.h"

#include <cstring>

#include "proto/dns/text.h"

namespace morgana::dns {
namespace {

constexpr Error kTooLong{Errc::kMalformed, "name is longer than 255 bytes"};
constexpr Error kLabelTooLong{Errc::kMalformed, "label is longer than 63 bytes"};

// Offsets of each label's length byte, left to right; returns the label count.
size_t label_offsets(std::span<const uint8_t> wire, uint8_t (&offsets)[128]) {
  size_t count = 0;
  for (size_t at = 0; wire[at] != 0; at += wire[at] + 1u)
    offsets[count++] = static_cast<uint8_t>(at);
  return count;
}

// Characters printed with a backslash in presentation form (as BIND and dig do).
bool needs_escape(uint8_t c) {
  return c == '.' || c == ';' || c == '\\' || c == '"' || c == '(' || c == ')' || c == '@' ||
         c == '$';
}

}  // namespace

Result<Name> Name::parse(std::string_view text, const Name& origin) {
  if (text.empty()) return Error{Errc::kMalformed, "empty name"};
  if (text == ".") return Name();
  Name name;
  size_t size = 0;
  uint8_t label[kMaxLabelSize + 1];
  size_t label_size = 0;
  bool absolute = false;
  auto finish_label = [&]() -> Result<void> {
    if (label_size == 0) return Error{Errc::kMalformed, "empty label in name"};
    if (size + 1 + label_size + 1 > kMaxNameSize) return kTooLong;
    name.wire_[size] = static_cast<uint8_t>(label_size);
    std::memcpy(name.wire_ + size + 1, label, label_size);
    size += 1 + label_size;
    label_size = 0;
    return ok();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    uint8_t c = static_cast<uint8_t>(text[i]);
    if (c == '.') {
      TRY(finish_label());
      if (i + 1 == text.size()) absolute = true;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= text.size()) return Error{Errc::kMalformed, "name ends in a backslash"};
      char next = text[i + 1];
      if (next >= '0' && next <= '9') {  // \DDD: exactly three decimal digits, at most 255
        auto value = parse_decimal(text.substr(i + 1, 3), 255);
        if (i + 3 >= text.size() || !value)
          return Error{Errc::kMalformed, "bad \\DDD escape in name"};
        c = static_cast<uint8_t>(*value);
        i += 3;
      } else {
        c = static_cast<uint8_t>(next);
        i += 1;
      }
    }
    if (label_size == kMaxLabelSize) return kLabelTooLong;
    label[label_size++] = c;
  }
  if (!absolute) TRY(finish_label());
  if (!absolute) {
    if (size + origin.size_ > kMaxNameSize) return kTooLong;
    std::memcpy(name.wire_ + size, origin.wire_, origin.size_);
    size += origin.size_;
  } else {
    name.wire_[size++] = 0;
  }
  name.size_ = static_cast<uint8_t>(size);
  return name;
}

Result<Name> Name::parse(std::string_view text) {
  return parse(text, Name());
}

Result<Name> Name::from_wire(std::span<const uint8_t> bytes) {
  size_t offset = 0;
  // Pointers are rejected: decode() only accepts pointers to before the name's start.
  Name name = TRY(decode(bytes, offset));
  if (offset != bytes.size()) return Error{Errc::kMalformed, "bytes after the name"};
  return name;
}

Result<Name> Name::decode(std::span<const uint8_t> message, size_t& offset) {
  Name name;
  size_t size = 0;
  size_t at = offset;
  size_t run_start = offset;  // every pointer must point before this, so chains end
  size_t end = 0;             // where the name's own bytes end, once known
  size_t hops = 0;
  for (;;) {
    if (at >= message.size()) return Error{Errc::kMalformed, "name runs past the message"};
    uint8_t length = message[at];
    if ((length & 0xC0) == 0xC0) {  // RFC 1035 §4.1.4: a 14-bit offset from the message start
      if (at + 1 >= message.size()) return Error{Errc::kMalformed, "name runs past the message"};
      size_t target = (length & 0x3Fu) << 8 | message[at + 1];
      if (target >= run_start)
        return Error{Errc::kMalformed, "compression pointer does not point backwards"};
      if (++hops > kMaxPointerHops) return Error{Errc::kMalformed, "too many compression pointers"};
      if (end == 0) end = at + 2;
      at = run_start = target;
      continue;
    }
    // RFC 6891 §5: the 0x40 and 0x80 label types are not used; a length above 63 is bad.
    if ((length & 0xC0) != 0) return Error{Errc::kMalformed, "label longer than 63 bytes"};
    if (size + 1 + length > kMaxNameSize) return kTooLong;
    if (length == 0) {
      name.wire_[size++] = 0;
      if (end == 0) end = at + 1;
      break;
    }
    if (at + 1 + length > message.size())
      return Error{Errc::kMalformed, "name runs past the message"};
    std::memcpy(name.wire_ + size, message.data() + at, 1 + length);
    size += 1 + length;
    at += 1 + length;
  }
  name.size_ = static_cast<uint8_t>(size);
  offset = end;
  return name;
}

size_t Name::label_count() const {
  size_t count = 0;
  for (size_t at = 0; wire_[at] != 0; at += wire_[at] + 1u) ++count;
  return count;
}

Name Name::parent() const {
  if (is_root()) return *this;
  Name out;
  size_t skip = wire_[0] + 1u;
  out.size_ = static_cast<uint8_t>(size_ - skip);
  std::memcpy(out.wire_, wire_ + skip, out.size_);
  return out;
}

Name Name::suffix(size_t labels) const {
  uint8_t offsets[128];
  size_t count = label_offsets(wire(), offsets);
  if (labels >= count) return *this;
  if (labels == 0) return Name();
  Name out;
  size_t from = offsets[count - labels];
  out.size_ = static_cast<uint8_t>(size_ - from);
  std::memcpy(out.wire_, wire_ + from, out.size_);
  return out;
}

Result<Name> Name::prepend(std::span<const uint8_t> label) const {
  if (label.empty()) return Error{Errc::kMalformed, "empty label in name"};
  if (label.size() > kMaxLabelSize) return kLabelTooLong;
  if (size_ + 1 + label.size() > kMaxNameSize) return kTooLong;
  Name out;
  out.wire_[0] = static_cast<uint8_t>(label.size());
  std::memcpy(out.wire_ + 1, label.data(), label.size());
  std::memcpy(out.wire_ + 1 + label.size(), wire_, size_);
  out.size_ = static_cast<uint8_t>(size_ + 1 + label.size());
  return out;
}

Result<Name> Name::wildcard_child() const {
  static constexpr uint8_t kStar[] = {'*'};
  return prepend(kStar);
}

bool Name::is_subdomain_of(const Name& ancestor) const {
  if (ancestor.size_ > size_) return false;
  size_t from = size_ - ancestor.size_;
  // The tail must start on a label boundary of this name.
  size_t at = 0;
  while (at < from) at += wire_[at] + 1u;
  if (at != from) return false;
  for (size_t i = 0; i < ancestor.size_; ++i)
    if (ascii_lower(wire_[from + i]) != ascii_lower(ancestor.wire_[i])) return false;
  return true;
}

std::string Name::to_string() const {
  if (is_root()) return ".";
  std::string out;
  for (size_t at = 0; wire_[at] != 0; at += wire_[at] + 1u) {
    for (size_t i = 1; i <= wire_[at]; ++i) {
      uint8_t c = wire_[at + i];
      if (needs_escape(c)) {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c < 0x21 || c > 0x7E) {
        out.push_back('\\');
        out.push_back(static_cast<char>('0' + c / 100));
        out.push_back(static_cast<char>('0' + c / 10 % 10));
        out.push_back(static_cast<char>('0' + c % 10));
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    out.push_back('.');
  }
  return out;
}

bool operator==(const Name& a, const Name& b) {
  if (a.size_ != b.size_) return false;
  // Length bytes are at most 63, below 'A', so folding the whole wire form is safe.
  for (size_t i = 0; i < a.size_; ++i)
    if (ascii_lower(a.wire_[i]) != ascii_lower(b.wire_[i])) return false;
  return true;
}

bool Name::identical(const Name& other) const {
  return size_ == other.size_ && std::memcmp(wire_, other.wire_, size_) == 0;
}

uint32_t Name::hash() const {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < size_; ++i) h = (h ^ ascii_lower(wire_[i])) * 16777619u;
  return h;
}

int compare_canonical(const Name& a, const Name& b) {
  uint8_t offsets_a[128], offsets_b[128];
  size_t count_a = label_offsets(a.wire(), offsets_a);
  size_t count_b = label_offsets(b.wire(), offsets_b);
  auto wa = a.wire(), wb = b.wire();
  for (size_t i = 1; i <= count_a && i <= count_b; ++i) {
    size_t la = offsets_a[count_a - i], lb = offsets_b[count_b - i];
    size_t na = wa[la], nb = wb[lb];
    for (size_t j = 1; j <= na && j <= nb; ++j) {
      int diff = ascii_lower(wa[la + j]) - ascii_lower(wb[lb + j]);
      if (diff != 0) return diff;
    }
    if (na != nb) return na < nb ? -1 : 1;
  }
  if (count_a != count_b) return count_a < count_b ? -1 : 1;
  return 0;
}

}  // namespace morgana::dns
