// Pieces shared by the printf engine's two halves: format.cc (parsing, integers,
// strings) and format_float.cc (exact decimal conversion of floating point).
#pragma once

#include <cstddef>
#include <cstdint>

#include "morgana/rt/format.h"

namespace morgana::rt::detail {

// One parsed conversion specification (C99 7.19.6.1).
struct FormatSpec {
  bool left = false;   // '-'
  bool plus = false;   // '+'
  bool space = false;  // ' '
  bool alt = false;    // '#'
  bool zero = false;   // '0'
  size_t width = 0;
  int precision = -1;  // -1: not given
  char conversion = 0;
};

// Collects output in a small staging buffer so a sink sees few, larger pieces, and
// counts every character produced (the snprintf return value) even when the sink
// drops them.
class FormatWriter {
 public:
  FormatWriter(FormatSink sink, void* context) : sink_(sink), context_(context) {}

  void put(char c) {
    if (used_ == sizeof(stage_)) flush();
    stage_[used_++] = c;
    ++count_;
  }
  void put(const char* data, size_t size) {
    while (size > 0) {
      if (used_ == sizeof(stage_)) flush();
      size_t n = sizeof(stage_) - used_;
      if (n > size) n = size;
      for (size_t i = 0; i < n; ++i) stage_[used_ + i] = data[i];
      used_ += n;
      count_ += n;
      data += n;
      size -= n;
    }
  }
  void fill(char c, size_t n) {
    for (size_t i = 0; i < n; ++i) put(c);
  }
  void flush() {
    if (used_ > 0) sink_(context_, stage_, used_);
    used_ = 0;
  }
  size_t count() const { return count_; }

 private:
  FormatSink sink_;
  void* context_;
  size_t count_ = 0;
  size_t used_ = 0;
  char stage_[128];
};

// Writes the padding around a conversion of `length` characters whose first
// `prefix_length` characters are a sign or base prefix: spaces on the left (default),
// spaces on the right ('-'), or zeros between prefix and digits ('0', when allowed).
struct Padding {
  size_t left_spaces = 0;
  size_t zeros = 0;
  size_t right_spaces = 0;
};
inline Padding compute_padding(const FormatSpec& spec, size_t length, bool zero_pad_allowed) {
  Padding p;
  if (spec.width <= length) return p;
  size_t extra = spec.width - length;
  if (spec.left)
    p.right_spaces = extra;
  else if (spec.zero && zero_pad_allowed)
    p.zeros = extra;
  else
    p.left_spaces = extra;
  return p;
}

// Formats one of f F e E g G; `value` holds a double or long double exactly.
void format_float(FormatWriter& out, const FormatSpec& spec, long double value);

}  // namespace morgana::rt::detail
