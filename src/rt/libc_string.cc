// The memory and string functions of the image's C library. The compiler emits calls to
// memcpy/memset/memmove/memcmp for struct copies and large initialisers and, being
// freestanding, never inlines them, so those four are tuned: overlapping 16-byte moves
// for small sizes, `rep movsb`/`rep stosb` (fast on CPUs with ERMS/FSRM) for large ones.
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

inline uint64_t load64(const Byte* p) {
  return *reinterpret_cast<const UnalignedWord*>(p);
}
inline void store64(Byte* p, uint64_t v) {
  *reinterpret_cast<UnalignedWord*>(p) = v;
}
inline uint32_t load32(const Byte* p) {
  return *reinterpret_cast<const UnalignedHalf*>(p);
}
inline void store32(Byte* p, uint32_t v) {
  *reinterpret_cast<UnalignedHalf*>(p) = v;
}

constexpr size_t kRepThreshold = 256;  // below this, rep's start-up cost dominates

// 16-byte unaligned vector accesses (SSE2, part of x86_64's baseline).
typedef unsigned char __attribute__((vector_size(16), aligned(1), may_alias)) Vector;
inline Vector load128(const Byte* p) {
  return *reinterpret_cast<const Vector*>(p);
}
inline void store128(Byte* p, Vector v) {
  *reinterpret_cast<Vector*>(p) = v;
}

// Copies n <= 32 bytes; every load happens before any store, so overlap is harmless.
inline void copy_small(Byte* d, const Byte* s, size_t n) {
  if (n >= 16) {
    Vector a = load128(s), b = load128(s + n - 16);
    store128(d, a);
    store128(d + n - 16, b);
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

// Copies front to back in 64-byte chunks, each loaded whole before it is stored, so it
// is also a correct memmove when the destination starts below the source.
inline void copy_forward(Byte* d, const Byte* s, size_t n) {
  for (; n >= 64; n -= 64, d += 64, s += 64) {
    Vector a = load128(s), b = load128(s + 16), c = load128(s + 32), e = load128(s + 48);
    store128(d, a);
    store128(d + 16, b);
    store128(d + 32, c);
    store128(d + 48, e);
  }
  if (n > 32) {
    Vector a = load128(s), b = load128(s + 16);
    store128(d, a);
    store128(d + 16, b);
    d += 32, s += 32, n -= 32;
  }
  copy_small(d, s, n);
}

// AMD Zen's `rep movsb` runs about 20 times slower when the destination lies just above
// the source modulo 4 KiB (measured here: (dst - src) % 4096 in 1..31; glibc avoids
// rep below 64 for the same reason).
inline bool rep_is_slow(const Byte* d, const Byte* s) {
  return ((reinterpret_cast<uintptr_t>(d) - reinterpret_cast<uintptr_t>(s)) & 4095) < 64;
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
  if (n <= 32)
    copy_small(d, s, n);
  else if (n < kRepThreshold || rep_is_slow(d, s))
    copy_forward(d, s, n);
  else
    rep_movsb(d, s, n);
  return dst;
}

void* MORGANA_LIBC(memmove)(void* dst, const void* src, size_t n) {
  auto* d = static_cast<Byte*>(dst);
  const auto* s = static_cast<const Byte*>(src);
  if (n <= 32) {
    copy_small(d, s, n);
  } else if (d <= s || d >= s + n) {
    // Front-to-back copying is correct when the destination starts below the source.
    if (n < kRepThreshold || rep_is_slow(d, s))
      copy_forward(d, s, n);
    else
      rep_movsb(d, s, n);
  } else {
    // Destination overlaps the source from above: copy back to front in 16-byte pieces;
    // each load is below everything stored so far.
    size_t i = n;
    for (; i >= 16; i -= 16) store128(d + i - 16, load128(s + i - 16));
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
