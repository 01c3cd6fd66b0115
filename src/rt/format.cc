// The printf engine: parses conversion specifications and formats integers, characters,
// strings and pointers. Floating point lives in format_float.cc.
#include "morgana/rt/format.h"

#include <climits>
#include <cstdint>

#include "rt/format_internal.h"

namespace morgana::rt {
namespace {

using detail::compute_padding;
using detail::FormatSpec;
using detail::FormatWriter;
using detail::Padding;

enum class Length { kNone, kChar, kShort, kLong, kLongLong, kIntMax, kSize, kPtrdiff, kLongDouble };

// Formats an integer conversion (d i u o x X p) of magnitude `value`.
void format_integer(FormatWriter& out, const FormatSpec& spec, uint64_t value, bool negative,
                    bool is_signed) {
  const char conv = spec.conversion;
  const unsigned base = (conv == 'o') ? 8 : (conv == 'x' || conv == 'X' || conv == 'p') ? 16 : 10;
  const char* digit_chars = (conv == 'X') ? "0123456789ABCDEF" : "0123456789abcdef";

  char digits[24];  // 2^64 in octal is 22 digits
  size_t count = 0;
  // C99: "The result of converting a zero value with a precision of zero is no characters."
  if (!(value == 0 && spec.precision == 0)) {
    uint64_t v = value;
    do {
      digits[sizeof(digits) - 1 - count++] = digit_chars[v % base];
      v /= base;
    } while (v != 0);
  }
  const char* first = digits + sizeof(digits) - count;

  size_t precision_zeros = 0;
  if (spec.precision > 0 && static_cast<size_t>(spec.precision) > count)
    precision_zeros = static_cast<size_t>(spec.precision) - count;
  // '#' with o: raise the precision just enough that the first digit is a zero.
  if (conv == 'o' && spec.alt && precision_zeros == 0 && (count == 0 || *first != '0'))
    precision_zeros = 1;

  char prefix[3];
  size_t prefix_length = 0;
  if (negative)
    prefix[prefix_length++] = '-';
  else if (is_signed && spec.plus)
    prefix[prefix_length++] = '+';
  else if (is_signed && spec.space)
    prefix[prefix_length++] = ' ';
  if (spec.alt && value != 0 && base == 16) {
    prefix[prefix_length++] = '0';
    prefix[prefix_length++] = (conv == 'X') ? 'X' : 'x';
  }

  // C99: with a precision the '0' flag is ignored for integer conversions.
  const size_t length = prefix_length + precision_zeros + count;
  const Padding pad = compute_padding(spec, length, spec.precision < 0);
  out.fill(' ', pad.left_spaces);
  out.put(prefix, prefix_length);
  out.fill('0', pad.zeros + precision_zeros);
  out.put(first, count);
  out.fill(' ', pad.right_spaces);
}

// Formats %s (and the text of %c and a null %p): at most `size` bytes of `text`.
void format_text(FormatWriter& out, const FormatSpec& spec, const char* text, size_t size) {
  const Padding pad = compute_padding(spec, size, /*zero_pad_allowed=*/false);
  out.fill(' ', pad.left_spaces);
  out.put(text, size);
  out.fill(' ', pad.right_spaces);
}

// strnlen without depending on the libc layer (this file also builds for the host).
size_t bounded_length(const char* s, size_t max) {
  size_t n = 0;
  while (n < max && s[n] != '\0') ++n;
  return n;
}

int64_t signed_argument(Length length, va_list& args) {
  switch (length) {
    case Length::kChar:
      return static_cast<signed char>(va_arg(args, int));
    case Length::kShort:
      return static_cast<short>(va_arg(args, int));
    case Length::kLong:
      return va_arg(args, long);
    case Length::kLongLong:
    case Length::kLongDouble:
      return va_arg(args, long long);  // glibc: %Ld is %lld
    case Length::kIntMax:
      return va_arg(args, intmax_t);
    case Length::kSize:
      return va_arg(args, long);  // the signed type matching size_t
    case Length::kPtrdiff:
      return va_arg(args, ptrdiff_t);
    case Length::kNone:
      break;
  }
  return va_arg(args, int);
}

uint64_t unsigned_argument(Length length, va_list& args) {
  switch (length) {
    case Length::kChar:
      return static_cast<unsigned char>(va_arg(args, unsigned));
    case Length::kShort:
      return static_cast<unsigned short>(va_arg(args, unsigned));
    case Length::kLong:
      return va_arg(args, unsigned long);
    case Length::kLongLong:
    case Length::kLongDouble:
      return va_arg(args, unsigned long long);
    case Length::kIntMax:
      return va_arg(args, uintmax_t);
    case Length::kSize:
      return va_arg(args, size_t);
    case Length::kPtrdiff:
      return static_cast<uint64_t>(va_arg(args, ptrdiff_t));
    case Length::kNone:
      break;
  }
  return va_arg(args, unsigned);
}

// Reads a decimal number (width or precision), saturating instead of overflowing.
int parse_number(const char*& p) {
  int64_t n = 0;
  while (*p >= '0' && *p <= '9') {
    n = n * 10 + (*p++ - '0');
    if (n > INT_MAX) n = INT_MAX;
  }
  return static_cast<int>(n);
}

// Parses one specification starting after '%' and formats it. Returns false when the
// conversion is unknown (the caller then copies the text literally).
bool format_one(FormatWriter& out, const char*& p, va_list& args) {
  FormatSpec spec;
  for (;; ++p) {
    if (*p == '-')
      spec.left = true;
    else if (*p == '+')
      spec.plus = true;
    else if (*p == ' ')
      spec.space = true;
    else if (*p == '#')
      spec.alt = true;
    else if (*p == '0')
      spec.zero = true;
    else
      break;
  }
  if (*p == '*') {
    ++p;
    int w = va_arg(args, int);
    // C99: a negative width argument is a '-' flag followed by a positive width.
    if (w < 0) {
      spec.left = true;
      spec.width = static_cast<size_t>(-static_cast<int64_t>(w));
    } else {
      spec.width = static_cast<size_t>(w);
    }
  } else {
    spec.width = static_cast<size_t>(parse_number(p));
  }
  if (*p == '.') {
    ++p;
    if (*p == '*') {
      ++p;
      int precision = va_arg(args, int);
      spec.precision = precision < 0 ? -1 : precision;  // negative: as if omitted
    } else {
      spec.precision = parse_number(p);
    }
  }

  Length length = Length::kNone;
  switch (*p) {
    case 'h':
      length = (p[1] == 'h') ? Length::kChar : Length::kShort;
      p += (p[1] == 'h') ? 2 : 1;
      break;
    case 'l':
      length = (p[1] == 'l') ? Length::kLongLong : Length::kLong;
      p += (p[1] == 'l') ? 2 : 1;
      break;
    case 'q':
      length = Length::kLongLong, ++p;
      break;
    case 'j':
      length = Length::kIntMax, ++p;
      break;
    case 'z':
      length = Length::kSize, ++p;
      break;
    case 't':
      length = Length::kPtrdiff, ++p;
      break;
    case 'L':
      length = Length::kLongDouble, ++p;
      break;
    default:
      break;
  }

  spec.conversion = *p;
  switch (spec.conversion) {
    case 'd':
    case 'i': {
      int64_t v = signed_argument(length, args);
      uint64_t magnitude = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
      format_integer(out, spec, magnitude, v < 0, /*is_signed=*/true);
      break;
    }
    case 'u':
    case 'o':
    case 'x':
    case 'X':
      format_integer(out, spec, unsigned_argument(length, args), false, /*is_signed=*/false);
      break;
    case 'p': {
      const void* ptr = va_arg(args, const void*);
      if (ptr == nullptr) {
        format_text(out, spec, "(nil)", 5);  // glibc's spelling; precision is ignored
      } else {
        // glibc prints a pointer as %#lx but keeps the '+' and ' ' flags.
        spec.alt = true;
        format_integer(out, spec, reinterpret_cast<uintptr_t>(ptr), false, /*is_signed=*/true);
      }
      break;
    }
    case 'c': {
      char c = static_cast<char>(va_arg(args, int));
      format_text(out, spec, &c, 1);
      break;
    }
    case 's': {
      const char* s = va_arg(args, const char*);
      size_t max = spec.precision < 0 ? SIZE_MAX : static_cast<size_t>(spec.precision);
      if (s == nullptr) {
        // glibc prints "(null)" unless the precision is too short to hold it.
        s = max >= 6 ? "(null)" : "";
      }
      format_text(out, spec, s, bounded_length(s, max));
      break;
    }
    case '%':
      out.put('%');
      break;
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': {
      long double v =
          (length == Length::kLongDouble) ? va_arg(args, long double) : va_arg(args, double);
      detail::format_float(out, spec, v);
      break;
    }
    default:
      return false;
  }
  ++p;
  return true;
}

struct BufferSink {
  char* buffer;
  size_t capacity;  // bytes available for characters, excluding the NUL
  size_t used;
};

void buffer_sink(void* context, const char* data, size_t size) {
  auto* sink = static_cast<BufferSink*>(context);
  size_t room = sink->capacity - sink->used;
  size_t n = size < room ? size : room;
  for (size_t i = 0; i < n; ++i) sink->buffer[sink->used + i] = data[i];
  sink->used += n;
}

}  // namespace

int vformat_to(FormatSink sink, void* context, const char* format, va_list args) {
  FormatWriter out(sink, context);
  va_list ap;
  va_copy(ap, args);
  const char* p = format;
  bool malformed = false;
  while (*p != '\0') {
    if (*p != '%') {
      const char* start = p;
      while (*p != '\0' && *p != '%') ++p;
      out.put(start, static_cast<size_t>(p - start));
      continue;
    }
    const char* spec_start = p++;
    if (!format_one(out, p, ap)) {
      // Unknown conversion (or %n): copy it as glibc does, through its letter. A
      // specification cut off by the end of the format is an error, as in glibc; its
      // text is still written, which helps whoever reads a panic message.
      if (*p == '\0')
        malformed = true;
      else
        ++p;
      out.put(spec_start, static_cast<size_t>(p - spec_start));
    }
  }
  va_end(ap);
  out.flush();
  if (malformed || out.count() > static_cast<size_t>(INT_MAX)) return -1;
  return static_cast<int>(out.count());
}

int vformat(char* buffer, size_t size, const char* format, va_list args) {
  BufferSink sink{buffer, size > 0 ? size - 1 : 0, 0};
  int n = vformat_to(buffer_sink, &sink, format, args);
  if (size > 0) buffer[sink.used] = '\0';
  return n;
}

int format(char* buffer, size_t size, const char* format, ...) {
  va_list args;
  va_start(args, format);
  int n = vformat(buffer, size, format, args);
  va_end(args);
  return n;
}

}  // namespace morgana::rt
