// The <stdlib.h> subset of the image's C library: integer parsing (strto*, ato*), abs,
// qsort/bsearch, and in an image also errno and abort. Parsing follows C11 7.22.1.4,
// including ERANGE saturation and the "0x" prefix rules.
#include <cerrno>
#include <climits>
#include <cstdint>

#include "rt/libc.h"

#if defined(MORGANA_GUEST)
#include "morgana/rt/assert.h"
#endif

namespace {

bool is_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

struct Parsed {
  uint64_t magnitude;
  bool negative;
  bool overflow;  // the magnitude does not fit in 64 bits
};

// Parses [space][sign][prefix]digits, storing the end of the number in *end (or `s`
// itself when there are no digits, as C requires).
Parsed parse(const char* s, char** end, int base) {
  Parsed result{0, false, false};
  if (base < 0 || base == 1 || base > 36) {
    errno = EINVAL;  // and *end is left alone, as glibc does
    return result;
  }
  const char* p = s;
  while (is_space(*p)) ++p;
  if (*p == '+' || *p == '-') result.negative = *p++ == '-';
  // "0x" counts as a prefix only if a hex digit follows; otherwise the number is "0".
  if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
      digit_value(p[2]) < 16) {
    p += 2;
    base = 16;
  } else if (base == 0) {
    base = p[0] == '0' ? 8 : 10;
  }
  const char* digits = p;
  for (int d; (d = digit_value(*p)) < base; ++p) {
    if (result.magnitude > (UINT64_MAX - d) / base)
      result.overflow = true;
    else
      result.magnitude = result.magnitude * base + d;
  }
  if (end != nullptr) *end = const_cast<char*>(p == digits ? s : p);
  if (p == digits) result.negative = false;
  return result;
}

int64_t to_signed(const Parsed& v) {
  constexpr uint64_t kLimit = uint64_t{1} << 63;  // |INT64_MIN|
  if (v.negative) {
    if (v.overflow || v.magnitude > kLimit) {
      errno = ERANGE;
      return INT64_MIN;
    }
    return v.magnitude == kLimit ? INT64_MIN : -static_cast<int64_t>(v.magnitude);
  }
  if (v.overflow || v.magnitude >= kLimit) {
    errno = ERANGE;
    return INT64_MAX;
  }
  return static_cast<int64_t>(v.magnitude);
}

uint64_t to_unsigned(const Parsed& v) {
  if (v.overflow) {
    errno = ERANGE;
    return UINT64_MAX;
  }
  // C: a minus sign negates the converted value in the unsigned type.
  return v.negative ? 0 - v.magnitude : v.magnitude;
}

void swap_bytes(unsigned char* a, unsigned char* b, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    unsigned char t = a[i];
    a[i] = b[i];
    b[i] = t;
  }
}

}  // namespace

static_assert(sizeof(long) == 8 && sizeof(long long) == 8, "LP64 assumed");

extern "C" {

long MORGANA_LIBC(strtol)(const char* s, char** end, int base) {
  return to_signed(parse(s, end, base));
}
long long MORGANA_LIBC(strtoll)(const char* s, char** end, int base) {
  return to_signed(parse(s, end, base));
}
unsigned long MORGANA_LIBC(strtoul)(const char* s, char** end, int base) {
  return to_unsigned(parse(s, end, base));
}
unsigned long long MORGANA_LIBC(strtoull)(const char* s, char** end, int base) {
  return to_unsigned(parse(s, end, base));
}

int MORGANA_LIBC(atoi)(const char* s) {
  return static_cast<int>(to_signed(parse(s, nullptr, 10)));
}
long MORGANA_LIBC(atol)(const char* s) {
  return to_signed(parse(s, nullptr, 10));
}
long long MORGANA_LIBC(atoll)(const char* s) {
  return to_signed(parse(s, nullptr, 10));
}

int MORGANA_LIBC(abs)(int v) {
  return v < 0 ? -v : v;
}
long MORGANA_LIBC(labs)(long v) {
  return v < 0 ? -v : v;
}
long long MORGANA_LIBC(llabs)(long long v) {
  return v < 0 ? -v : v;
}

// Heapsort: O(n log n) in the worst case, no recursion and no allocation.
void MORGANA_LIBC(qsort)(void* base, size_t count, size_t size,
                         int (*compare)(const void*, const void*)) {
  auto* a = static_cast<unsigned char*>(base);
  auto at = [&](size_t i) { return a + i * size; };
  auto sift_down = [&](size_t root, size_t limit) {
    for (size_t child; (child = 2 * root + 1) < limit; root = child) {
      if (child + 1 < limit && compare(at(child), at(child + 1)) < 0) ++child;
      if (compare(at(root), at(child)) >= 0) return;
      swap_bytes(at(root), at(child), size);
    }
  };
  if (count < 2 || size == 0) return;
  for (size_t i = count / 2; i-- > 0;) sift_down(i, count);
  for (size_t last = count - 1; last > 0; --last) {
    swap_bytes(at(0), at(last), size);
    sift_down(0, last);
  }
}

void* MORGANA_LIBC(bsearch)(const void* key, const void* base, size_t count, size_t size,
                            int (*compare)(const void*, const void*)) {
  const auto* a = static_cast<const unsigned char*>(base);
  size_t low = 0, high = count;
  while (low < high) {
    const size_t mid = low + (high - low) / 2;
    const int order = compare(key, a + mid * size);
    if (order == 0) return const_cast<unsigned char*>(a + mid * size);
    if (order < 0)
      high = mid;
    else
      low = mid + 1;
  }
  return nullptr;
}

#if defined(MORGANA_GUEST)
// One thread, so errno is a plain global; <errno.h> reaches it through this function.
static int errno_value;
int* __errno_location() noexcept {
  return &errno_value;
}

[[noreturn]] void abort() {
  morgana::panic("abort() called");
}
#endif

}  // extern "C"
