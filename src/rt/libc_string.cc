// The memory and string functions of the image's C library. The compiler emits calls to
// memcpy/memset/memmove/memcmp for struct copies and large initialisers and, being
// freestanding, never inlines them, so those four are tuned: overlapping word moves for
// small sizes, `rep movsb`/`rep stosb` (fast on CPUs with ERMS) for large ones.
//
// Built with -fno-tree-loop-distribute-patterns (src/rt/CMakeLists.txt) so that GCC does
// not turn these loops back into calls to themselves.
#include <cstdint>

#include "rt/libc.h"

namespace {

using Byte = unsigned char;
// Word accesses that may alias any object, as the C library's must.
typedef uint64_t __attribute__((may_alias, aligned(1))) UnalignedWord;
typedef uint64_t __attribute__((may_alias)) AlignedWord;
typedef uint32_t __attribute__((may_alias, aligned(1))) UnalignedHalf;

inline uint64_t load64(const Byte* p) { return *reinterpret_cast<const UnalignedWord*>(p); }
inline void store64(Byte* p, uint64_t v) { *reinterpret_cast<UnalignedWord*>(p) = v; }
inline uint32_t load32(const Byte* p) { return *reinterpret_cast<const UnalignedHalf*>(p); }
inline void store32(Byte* p, uint32_t v) { *reinterpret_cast<UnalignedHalf*>(p) = v; }

constexpr size_t kRepThreshold = 256;  // below this, rep's start-up cost dominates

// Copies n <= 32 bytes; every load happens before any store, so overlap is harmless.
inline void copy_small(Byte* d, const Byte* s, size_t n) {
  if (n >= 16) {
    uint64_t a = load64(s), b = load64(s + 8), c = load64(s + n - 16), e = load64(s + n - 8);
    store64(d, a);
    store64(d + 8, b);
    store64(d + n - 16, c);
    store64(d + n - 8, e);
  } else if (n >= 8) {
    uint64_t a = load64(s), b = load64(s + n - 8);
    store64(d, a);
    store64(d + n - 8, b);
  } else if (n >= 4) {
    uint32_t a = load32(s), b = load32(s + n - 4);
    store32(d, a);
    store32(d + n - 4, b);
  } else if (n > 0) {
    Byte a = s[0], b = s[n / 2], c = s[n - 1];
    d[0] = a;
    d[n / 2] = b;
    d[n - 1] = c;
  }
}

inline void rep_movsb(Byte* d, const Byte* s, size_t n) {
#if defined(__x86_64__)
  asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
#else
  while (n-- > 0) *d++ = *s++;
#endif
}

inline void rep_stosb(Byte* d, Byte c, size_t n) {
#if defined(__x86_64__)
  asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
#else
  while (n-- > 0) *d++ = c;
#endif
}

// Word-at-a-time zero-byte test: non-zero iff some byte of v is zero.
inline uint64_t has_zero_byte(uint64_t v) {
  return (v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull;
}

}  // namespace

extern "C" {

void* MORGANA_LIBC(memcpy)(void* dst, const void* src, size_t n) {
  auto* d = static_cast<Byte*>(dst);
  const auto* s = static_cast<const Byte*>(src);
  if (n <= 32) {
    copy_small(d, s, n);
  } else if (n < kRepThreshold) {
    // 16 bytes at a time, then the last 16 (overlapping what was already copied).
    const Byte* last = s + n - 16;
    Byte* last_d = d + n - 16;
    while (s < last) {
      uint64_t a = load64(s), b = load64(s + 8);
      store64(d, a);
      store64(d + 8, b);
      s += 16;
      d += 16;
    }
    uint64_t a = load64(last), b = load64(last + 8);
    store64(last_d, a);
    store64(last_d + 8, b);
  } else {
    rep_movsb(d, s, n);
  }
  return dst;
}

void* MORGANA_LIBC(memmove)(void* dst, const void* src, size_t n) {
  auto* d = static_cast<Byte*>(dst);
  const auto* s = static_cast<const Byte*>(src);
  if (n <= 32) {
    copy_small(d, s, n);
  } else if (d <= s || d >= s + n) {
    // A forward byte-by-byte copy is correct when the destination starts below the source.
    rep_movsb(d, s, n);
  } else {
    // Destination overlaps the source from above: copy words from the end downwards;
    // each load is below everything stored so far.
    size_t i = n;
    while (i >= 8) {
      i -= 8;
      store64(d + i, load64(s + i));
    }
    while (i > 0) {
      --i;
      d[i] = s[i];
    }
  }
  return dst;
}

void* MORGANA_LIBC(memset)(void* dst, int c, size_t n) {
  auto* d = static_cast<Byte*>(dst);
  const uint64_t pattern = 0x0101010101010101ull * static_cast<Byte>(c);
  if (n >= kRepThreshold) {
    rep_stosb(d, static_cast<Byte>(c), n);
  } else if (n >= 16) {
    for (size_t i = 0; i + 16 <= n; i += 16) {
      store64(d + i, pattern);
      store64(d + i + 8, pattern);
    }
    store64(d + n - 16, pattern);
    store64(d + n - 8, pattern);
  } else if (n >= 8) {
    store64(d, pattern);
    store64(d + n - 8, pattern);
  } else if (n >= 4) {
    store32(d, static_cast<uint32_t>(pattern));
    store32(d + n - 4, static_cast<uint32_t>(pattern));
  } else if (n > 0) {
    d[0] = d[n / 2] = d[n - 1] = static_cast<Byte>(c);
  }
  return dst;
}

int MORGANA_LIBC(memcmp)(const void* a, const void* b, size_t n) {
  const auto* x = static_cast<const Byte*>(a);
  const auto* y = static_cast<const Byte*>(b);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t u = load64(x + i), v = load64(y + i);
    if (u != v) {
      // Big-endian order makes the first differing byte the most significant.
      return __builtin_bswap64(u) < __builtin_bswap64(v) ? -1 : 1;
    }
  }
  for (; i < n; ++i) {
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return 0;
}

void* MORGANA_LIBC(memchr)(const void* s, int c, size_t n) {
  const auto* p = static_cast<const Byte*>(s);
  const auto target = static_cast<Byte>(c);
  for (size_t i = 0; i < n; ++i) {
    if (p[i] == target) return const_cast<Byte*>(p + i);
  }
  return nullptr;
}

// Reads whole aligned words, possibly past the terminator but never past the word (and
// so never into another page); AddressSanitizer cannot know that, hence the exemption.
__attribute__((no_sanitize("address"))) size_t MORGANA_LIBC(strlen)(const char* s) {
  const char* p = s;
  while (reinterpret_cast<uintptr_t>(p) % 8 != 0) {
    if (*p == '\0') return static_cast<size_t>(p - s);
    ++p;
  }
  const auto* w = reinterpret_cast<const AlignedWord*>(p);
  while (!has_zero_byte(*w)) ++w;
  p = reinterpret_cast<const char*>(w);
  while (*p != '\0') ++p;
  return static_cast<size_t>(p - s);
}

size_t MORGANA_LIBC(strnlen)(const char* s, size_t max) {
  size_t n = 0;
  while (n < max && s[n] != '\0') ++n;
  return n;
}

int MORGANA_LIBC(strcmp)(const char* a, const char* b) {
  const auto* x = reinterpret_cast<const Byte*>(a);
  const auto* y = reinterpret_cast<const Byte*>(b);
  while (*x != 0 && *x == *y) ++x, ++y;
  return *x - *y;
}

int MORGANA_LIBC(strncmp)(const char* a, const char* b, size_t n) {
  const auto* x = reinterpret_cast<const Byte*>(a);
  const auto* y = reinterpret_cast<const Byte*>(b);
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i] || x[i] == 0) return x[i] - y[i];
  }
  return 0;
}

char* MORGANA_LIBC(strchr)(const char* s, int c) {
  const auto target = static_cast<char>(c);
  for (;; ++s) {
    if (*s == target) return const_cast<char*>(s);
    if (*s == '\0') return nullptr;
  }
}

char* MORGANA_LIBC(strrchr)(const char* s, int c) {
  const auto target = static_cast<char>(c);
  const char* found = nullptr;
  for (;; ++s) {
    if (*s == target) found = s;
    if (*s == '\0') return const_cast<char*>(found);
  }
}

char* MORGANA_LIBC(strcpy)(char* dst, const char* src) {
  MORGANA_LIBC(memcpy)(dst, src, MORGANA_LIBC(strlen)(src) + 1);
  return dst;
}

char* MORGANA_LIBC(strncpy)(char* dst, const char* src, size_t n) {
  // C: copies at most n bytes and pads the rest with NULs (no terminator if src is long).
  const size_t length = MORGANA_LIBC(strnlen)(src, n);
  MORGANA_LIBC(memcpy)(dst, src, length);
  MORGANA_LIBC(memset)(dst + length, 0, n - length);
  return dst;
}

char* MORGANA_LIBC(strstr)(const char* haystack, const char* needle) {
  if (*needle == '\0') return const_cast<char*>(haystack);
  const size_t rest = MORGANA_LIBC(strlen)(needle + 1);
  // Quadratic in the worst case; callers here search short protocol strings.
  for (const char* p = MORGANA_LIBC(strchr)(haystack, *needle); p != nullptr;
       p = MORGANA_LIBC(strchr)(p + 1, *needle)) {
    if (MORGANA_LIBC(strncmp)(p + 1, needle + 1, rest) == 0) return const_cast<char*>(p);
  }
  return nullptr;
}

}  // extern "C"
