// Exact decimal conversion for printf's f F e E g G. A binary floating-point value is
// mantissa * 2^exponent, which has a finite decimal expansion; we compute the digits we
// need exactly in base 10^9 and round half-to-even on the exact value, as glibc does.
//
// The method is the classic one (also used by musl's fmt_fp): multiply an integer by 2^k
// in steps of 2^29, or divide by 2^k in steps of 2^9 (10^9 is divisible by 2^9, so each
// step appends one exact base-10^9 limb). Limbs below the last digit the conversion
// needs are dropped, remembering only whether they were non-zero ("sticky"), which
// keeps the rounding decision exact while bounding the work by the requested precision.
#include <cfloat>
#include <cstdint>

#include "rt/format_internal.h"

namespace morgana::rt::detail {
namespace {

static_assert(LDBL_MANT_DIG == 64, "format_float assumes the x87 80-bit long double");

constexpr uint32_t kBase = 1'000'000'000;
constexpr uint32_t kPow10[10] = {1,      10,      100,      1000,      10000,
                                 100000, 1000000, 10000000, 100000000, 1000000000};

// Enough limbs for any long double: an integer below 2^16384 has at most 4933 digits
// (549 limbs); a fraction mantissa * 2^-16445 has at most 16445 fractional digits
// (1828 limbs) plus at most 3 integer limbs.
constexpr int kCapacity = 1840;

int64_t floor_div9(int64_t x) {
  return x >= 0 ? x / 9 : -((-x + 8) / 9);
}

int decimal_digits(uint32_t x) {
  int n = 1;
  while (n < 10 && x >= kPow10[n]) ++n;
  return n;
}

// Digits of a non-negative value as base-10^9 limbs, most significant first. The limb at
// array index i holds the digits of 10^(9 * power(i)) .. 10^(9 * power(i) + 8).
class Decimal {
 public:
  // Sets the value to mantissa * 2^exponent2 (mantissa != 0). Digits below decimal
  // position `lowest_position` may be dropped into the sticky flag.
  void init(uint64_t mantissa, int exponent2, int64_t lowest_position) {
    sticky_ = false;
    // Place the (up to 3) limbs of the mantissa where the array has room to grow:
    // to the left when multiplying, to the right when dividing.
    int start = exponent2 > 0 ? kCapacity - 3 : 1;
    head_ = start;
    tail_ = start + 3;
    base_power_ = start + 2;  // d_[start + 2] holds the units
    d_[start] = static_cast<uint32_t>(mantissa / kBase / kBase);
    d_[start + 1] = static_cast<uint32_t>(mantissa / kBase % kBase);
    d_[start + 2] = static_cast<uint32_t>(mantissa % kBase);
    trim();
    if (exponent2 > 0) multiply_pow2(exponent2);
    if (exponent2 < 0) divide_pow2(-exponent2, floor_div9(lowest_position));
  }

  void clear() {
    head_ = tail_ = 1;
    base_power_ = 3;
    sticky_ = false;
  }

  bool is_zero() const { return head_ == tail_; }

  // Decimal position (0 = units) of the most significant non-zero digit.
  int64_t leading_position() const {
    return is_zero() ? 0 : 9 * power(head_) + decimal_digits(d_[head_]) - 1;
  }

  // Decimal position of the least significant non-zero digit kept.
  int64_t lowest_nonzero_position() const {
    if (is_zero()) return 0;
    uint32_t last = d_[tail_ - 1];
    int zeros = 0;
    while (last % 10 == 0) last /= 10, ++zeros;
    return 9 * power(tail_ - 1) + zeros;
  }

  int digit_at(int64_t position) const {
    int64_t p = floor_div9(position);
    int64_t i = index(p);
    if (i < head_ || i >= tail_) return 0;
    return static_cast<int>(d_[i] / kPow10[position - 9 * p] % 10);
  }

  // Rounds half-to-even so that no non-zero digit remains below `position`.
  void round_at(int64_t position) {
    const int below = digit_at(position - 1);
    const bool round_up =
        below > 5 || (below == 5 && (nonzero_below(position - 1) || digit_at(position) % 2 == 1));
    const int64_t p = floor_div9(position);
    int64_t i = index(p);
    if (i >= tail_) return;  // every digit below `position` is already zero
    if (i < head_) {
      // The whole value lies below `position` (%.0f of 0.6): it becomes 0 or 10^position.
      // Callers round at non-positive positions or below the leading digit, so i >= 1.
      if (i < 1) return clear();
      while (head_ > i) d_[--head_] = 0;
    }
    const uint32_t unit = kPow10[position - 9 * p];
    d_[i] -= d_[i] % unit;
    tail_ = static_cast<int>(i) + 1;
    sticky_ = false;
    if (round_up) {
      d_[i] += unit;
      while (d_[i] >= kBase) {
        d_[i] -= kBase;
        --i;
        if (i < head_) {
          // head_ >= 1 always holds (see init), so there is room for a carry limb.
          head_ = static_cast<int>(i);
          d_[i] = 0;
        }
        d_[i] += 1;
      }
    }
    trim();
  }

 private:
  int64_t power(int64_t i) const { return base_power_ - i; }
  int64_t index(int64_t power) const { return base_power_ - power; }

  // True when any digit below `position` is non-zero, including dropped ones.
  bool nonzero_below(int64_t position) const {
    if (sticky_) return true;
    int64_t p = floor_div9(position);
    int64_t i = index(p);
    if (i >= tail_) return false;
    if (i >= head_ && d_[i] % kPow10[position - 9 * p] != 0) return true;
    for (int64_t k = (i + 1 > head_ ? i + 1 : head_); k < tail_; ++k) {
      if (d_[k] != 0) return true;
    }
    return false;
  }

  void trim() {
    while (tail_ > head_ && d_[tail_ - 1] == 0) --tail_;
    while (head_ < tail_ && d_[head_] == 0) ++head_;
  }

  void multiply_pow2(int k) {
    while (k > 0) {
      const int shift = k < 29 ? k : 29;  // (10^9 - 1) * 2^29 + carry fits in 64 bits
      uint64_t carry = 0;
      for (int i = tail_ - 1; i >= head_; --i) {
        uint64_t x = (static_cast<uint64_t>(d_[i]) << shift) + carry;
        d_[i] = static_cast<uint32_t>(x % kBase);
        carry = x / kBase;
      }
      while (carry != 0) {
        d_[--head_] = static_cast<uint32_t>(carry % kBase);
        carry /= kBase;
      }
      while (d_[tail_ - 1] == 0) --tail_;
      k -= shift;
    }
  }

  // Divides by 2^k, keeping limbs of power >= lowest_power exact and folding the rest
  // into sticky_. Because the cut-off power is fixed, every kept limb stays exact: a
  // step's new last limb is computed from exact limbs or dropped whole.
  void divide_pow2(int k, int64_t lowest_power) {
    const int64_t end_limit = index(lowest_power) + 1;
    const int limit = static_cast<int>(end_limit < kCapacity ? end_limit : kCapacity);
    while (k > 0) {
      const int shift = k < 9 ? k : 9;
      const uint32_t mask = (1u << shift) - 1;
      uint32_t carry = 0;
      for (int i = head_; i < tail_; ++i) {
        uint32_t remainder = d_[i] & mask;
        d_[i] = (d_[i] >> shift) + carry;
        carry = (kBase >> shift) * remainder;
      }
      if (carry != 0) {
        if (tail_ < limit)
          d_[tail_++] = carry;
        else
          sticky_ = true;
      }
      while (head_ < tail_ && d_[head_] == 0) ++head_;
      k -= shift;
    }
  }

  uint32_t d_[kCapacity];
  int head_ = 0;
  int tail_ = 0;
  int64_t base_power_ = 0;
  bool sticky_ = false;
};

struct Parts {
  bool negative;
  bool infinite;
  bool nan;
  uint64_t mantissa;  // with the explicit integer bit; 0 for zero
  int exponent2;      // value = mantissa * 2^exponent2
};

Parts decompose(long double value) {
  // x87 extended: 64-bit mantissa with explicit integer bit, 15-bit exponent, sign.
  uint64_t mantissa;
  uint16_t sign_exponent;
  __builtin_memcpy(&mantissa, &value, 8);
  __builtin_memcpy(&sign_exponent, reinterpret_cast<const char*>(&value) + 8, 2);
  Parts parts{};
  parts.negative = (sign_exponent >> 15) != 0;
  const int biased = sign_exponent & 0x7fff;
  if (biased == 0x7fff) {
    parts.infinite = (mantissa << 1) == 0;
    parts.nan = !parts.infinite;
    return parts;
  }
  parts.mantissa = mantissa;
  parts.exponent2 = (biased == 0 ? 1 : biased) - 16383 - 63;
  return parts;
}

// A lower bound (within 2) on the decimal position of the leading digit of
// mantissa * 2^exponent2, from floor(log10(2^(bits - 1 + exponent2))).
int64_t leading_position_lower_bound(uint64_t mantissa, int exponent2) {
  const int bits = 64 - __builtin_clzll(mantissa);
  const int64_t log2 = bits - 1 + exponent2;
  // 78913 / 2^18 is log10(2) to 7 digits; >> floors for negative values in C++20.
  return ((log2 * 78913) >> 18) - 2;
}

char digit_char(const Decimal& d, int64_t position) {
  return static_cast<char>('0' + d.digit_at(position));
}

// Writes sign + body with the width padding of `spec`; `body` emits the digits.
template <typename Body>
void emit(FormatWriter& out, const FormatSpec& spec, char sign, size_t body_length,
          bool zero_pad_allowed, Body body) {
  const size_t length = (sign != 0 ? 1 : 0) + body_length;
  const Padding pad = compute_padding(spec, length, zero_pad_allowed);
  out.fill(' ', pad.left_spaces);
  if (sign != 0) out.put(sign);
  out.fill('0', pad.zeros);
  body();
  out.fill(' ', pad.right_spaces);
}

// [integer digits][.fraction] with `fraction_digits` digits after the point.
void emit_fixed(FormatWriter& out, const FormatSpec& spec, char sign, const Decimal& d,
                int64_t fraction_digits, bool point) {
  const int64_t lead = d.leading_position();
  const int64_t integer_digits = lead >= 0 ? lead + 1 : 1;
  const size_t length =
      static_cast<size_t>(integer_digits) + (point ? 1 : 0) + static_cast<size_t>(fraction_digits);
  emit(out, spec, sign, length, true, [&] {
    for (int64_t pos = integer_digits - 1; pos >= 0; --pos) out.put(digit_char(d, pos));
    if (point) out.put('.');
    for (int64_t pos = -1; pos >= -fraction_digits; --pos) out.put(digit_char(d, pos));
  });
}

// d[.ddd]e±XX with `fraction_digits` digits after the point.
void emit_scientific(FormatWriter& out, const FormatSpec& spec, char sign, const Decimal& d,
                     int64_t fraction_digits, bool point, bool upper) {
  const int64_t lead = d.leading_position();
  char exponent[8];
  int64_t magnitude = lead < 0 ? -lead : lead;
  int n = 0;
  do {
    exponent[sizeof(exponent) - 1 - n++] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0 || n < 2);  // C99: at least two exponent digits
  exponent[sizeof(exponent) - 1 - n++] = lead < 0 ? '-' : '+';
  exponent[sizeof(exponent) - 1 - n++] = upper ? 'E' : 'e';
  const size_t length =
      1 + (point ? 1 : 0) + static_cast<size_t>(fraction_digits) + static_cast<size_t>(n);
  emit(out, spec, sign, length, true, [&] {
    out.put(digit_char(d, lead));
    if (point) out.put('.');
    for (int64_t i = 1; i <= fraction_digits; ++i) out.put(digit_char(d, lead - i));
    out.put(exponent + sizeof(exponent) - n, static_cast<size_t>(n));
  });
}

}  // namespace

void format_float(FormatWriter& out, const FormatSpec& spec, long double value) {
  const char conv = spec.conversion;
  const bool upper = conv == 'F' || conv == 'E' || conv == 'G';
  const Parts parts = decompose(value);
  const char sign = parts.negative ? '-' : spec.plus ? '+' : spec.space ? ' ' : 0;

  if (parts.infinite || parts.nan) {
    const char* text = parts.nan ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf");
    emit(out, spec, sign, 3, false, [&] { out.put(text, 3); });
    return;
  }

  const int64_t precision = spec.precision < 0 ? 6 : spec.precision;
  const char kind = (conv == 'f' || conv == 'F') ? 'f' : (conv == 'e' || conv == 'E') ? 'e' : 'g';
  // %g counts significant digits, and precision 0 means 1 (C99 7.19.6.1).
  const int64_t significant = kind == 'e'   ? precision + 1
                              : kind == 'g' ? (precision == 0 ? 1 : precision)
                                            : 0;

  // The Decimal is large (7 KiB): one per call, on the stack, and no recursion.
  Decimal d;
  if (parts.mantissa != 0) {
    // Keep every digit down to one below the last one printed; the rest is sticky.
    const int64_t lowest =
        kind == 'f' ? -precision - 1
                    : leading_position_lower_bound(parts.mantissa, parts.exponent2) - significant;
    d.init(parts.mantissa, parts.exponent2, lowest - 1);
  } else {
    d.clear();
  }

  if (kind == 'f') {
    d.round_at(-precision);
    emit_fixed(out, spec, sign, d, precision, precision > 0 || spec.alt);
    return;
  }
  d.round_at(d.leading_position() - (significant - 1));
  if (kind == 'e') {
    emit_scientific(out, spec, sign, d, precision, precision > 0 || spec.alt, upper);
    return;
  }
  // %g: style e if the exponent X < -4 or X >= P, else style f with precision P - 1 - X;
  // without '#' trailing zeros of the fraction are removed, and then a bare point.
  const int64_t x = d.leading_position();
  const bool fixed = x >= -4 && x < significant;
  int64_t fraction = fixed ? significant - 1 - x : significant - 1;
  if (!spec.alt) {
    const int64_t lowest_digit =
        fixed ? -d.lowest_nonzero_position() : x - d.lowest_nonzero_position();
    if (d.is_zero())
      fraction = 0;
    else if (lowest_digit < fraction)
      fraction = lowest_digit > 0 ? lowest_digit : 0;
  }
  const bool point = fraction > 0 || spec.alt;
  if (fixed)
    emit_fixed(out, spec, sign, d, fraction, point);
  else
    emit_scientific(out, spec, sign, d, fraction, point, upper);
}

}  // namespace morgana::rt::detail
