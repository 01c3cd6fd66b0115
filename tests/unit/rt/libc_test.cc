// The image's string and stdlib functions (built for the host with a `morgana_` prefix)
// against glibc's: every size and alignment for the mem* functions, overlapping moves,
// and strto* results, end pointers and errno on a table of tricky inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "rt/libc.h"

namespace {

int sign(int v) {
  return (v > 0) - (v < 0);
}

std::vector<unsigned char> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<unsigned char> v(n);
  for (auto& b : v) b = static_cast<unsigned char>(rng());
  return v;
}

TEST(LibcString, MemcpyEverySizeAndAlignment) {
  const auto source = random_bytes(1200, 1);
  for (size_t size = 0; size <= 600; size += (size < 80 ? 1 : 37)) {
    for (size_t src_off = 0; src_off < 16; src_off += 3) {
      for (size_t dst_off = 0; dst_off < 16; dst_off += 5) {
        std::vector<unsigned char> expected(700, 0xee), actual(700, 0xee);
        std::memcpy(expected.data() + dst_off, source.data() + src_off, size);
        void* r = morgana_memcpy(actual.data() + dst_off, source.data() + src_off, size);
        EXPECT_EQ(r, actual.data() + dst_off);
        ASSERT_EQ(actual, expected) << "size " << size << " offsets " << src_off << "/" << dst_off;
      }
    }
  }
}

TEST(LibcString, MemmoveOverlappingBothWays) {
  for (size_t size = 0; size <= 700; size += (size < 70 ? 1 : 29)) {
    for (int shift : {-40, -17, -8, -1, 0, 1, 3, 8, 16, 33, 300}) {
      auto expected = random_bytes(1600, static_cast<uint32_t>(size));
      auto actual = expected;
      const size_t src = 500, dst = static_cast<size_t>(500 + shift);
      std::memmove(expected.data() + dst, expected.data() + src, size);
      morgana_memmove(actual.data() + dst, actual.data() + src, size);
      ASSERT_EQ(actual, expected) << "size " << size << " shift " << shift;
    }
  }
}

TEST(LibcString, MemsetEverySize) {
  for (size_t size = 0; size <= 600; size += (size < 80 ? 1 : 41)) {
    for (size_t off = 0; off < 8; ++off) {
      std::vector<unsigned char> expected(700, 1), actual(700, 1);
      std::memset(expected.data() + off, 0x1ab, size);  // only the low byte counts
      EXPECT_EQ(morgana_memset(actual.data() + off, 0x1ab, size), actual.data() + off);
      ASSERT_EQ(actual, expected) << size;
    }
  }
}

TEST(LibcString, MemcmpOrdersLikeGlibc) {
  auto a = random_bytes(300, 5);
  for (size_t size = 0; size <= 100; ++size) {
    for (size_t diff = 0; diff <= size; ++diff) {
      auto b = a;
      if (diff < size) {
        b[diff] = static_cast<unsigned char>(b[diff] ^ (diff % 2 ? 0x80 : 0x01));
      }
      ASSERT_EQ(sign(morgana_memcmp(a.data(), b.data(), size)),
                sign(std::memcmp(a.data(), b.data(), size)));
      ASSERT_EQ(sign(morgana_memcmp(b.data(), a.data(), size)),
                sign(std::memcmp(b.data(), a.data(), size)));
    }
  }
}

TEST(LibcString, StringFunctions) {
  // strlen at every alignment and length.
  std::vector<char> buffer(200, 'x');
  for (size_t start = 0; start < 16; ++start) {
    for (size_t length = 0; length < 100; ++length) {
      buffer[start + length] = '\0';
      ASSERT_EQ(morgana_strlen(buffer.data() + start), length);
      buffer[start + length] = 'x';
    }
  }
  EXPECT_EQ(morgana_strnlen("hello", 3), 3u);
  EXPECT_EQ(morgana_strnlen("hello", 10), 5u);

  const char* words[] = {"", "a", "ab", "abc", "abd", "b", "\xff", "abc\xff"};
  for (const char* x : words) {
    for (const char* y : words) {
      EXPECT_EQ(sign(morgana_strcmp(x, y)), sign(std::strcmp(x, y))) << x << " " << y;
      for (size_t n = 0; n < 5; ++n) {
        EXPECT_EQ(sign(morgana_strncmp(x, y, n)), sign(std::strncmp(x, y, n))) << x << " " << y;
      }
    }
  }

  const char* s = "hello, world";
  EXPECT_EQ(morgana_strchr(s, 'o'), s + 4);
  EXPECT_EQ(morgana_strrchr(s, 'o'), s + 8);
  EXPECT_EQ(morgana_strchr(s, '\0'), s + 12);
  EXPECT_EQ(morgana_strrchr(s, '\0'), s + 12);
  EXPECT_EQ(morgana_strchr(s, 'z'), nullptr);
  EXPECT_EQ(morgana_memchr(s, 'w', 12), s + 7);
  EXPECT_EQ(morgana_memchr(s, 'w', 7), nullptr);
  EXPECT_EQ(morgana_strstr(s, "world"), s + 7);
  EXPECT_EQ(morgana_strstr(s, ""), s);
  EXPECT_EQ(morgana_strstr(s, "worlds"), nullptr);
  EXPECT_EQ(morgana_strstr("aaab", "aab"), std::strstr("aaab", "aab"));

  char copy[16];
  EXPECT_EQ(morgana_strcpy(copy, "abc"), copy);
  EXPECT_STREQ(copy, "abc");
  char padded[8];
  std::memset(padded, 'x', sizeof(padded));
  morgana_strncpy(padded, "ab", sizeof(padded));
  EXPECT_EQ(std::string(padded, 8), std::string("ab\0\0\0\0\0\0", 8));
  morgana_strncpy(padded, "abcdefghij", 4);  // no terminator when the source is longer
  EXPECT_EQ(std::string(padded, 5), std::string("abcd\0", 5));
}

TEST(LibcStdlib, StrtolFamilyMatchesGlibc) {
  const char* inputs[] = {"0",
                          "42",
                          "-42",
                          "+7",
                          "   \t\n 123abc",
                          "0x1F",
                          "0X1f",
                          "0x",
                          "0xg",
                          "017",
                          "08",
                          "-0",
                          "",
                          "   ",
                          "-",
                          "+",
                          "z",
                          "zz",
                          "1z",
                          "9223372036854775807",
                          "9223372036854775808",
                          "-9223372036854775808",
                          "-9223372036854775809",
                          "18446744073709551615",
                          "18446744073709551616",
                          "-18446744073709551615",
                          "-1",
                          "99999999999999999999999999",
                          "1010",
                          "777",
                          "ffff",
                          "ZZ",
                          "  -0x10"};
  for (const char* input : inputs) {
    for (int base : {0, 2, 8, 10, 16, 36, 1, 37, -1}) {
      char* expected_end = nullptr;
      char* actual_end = nullptr;
      errno = 0;
      const long el = std::strtol(input, &expected_end, base);
      const int expected_errno = errno;
      errno = 0;
      const long al = morgana_strtol(input, &actual_end, base);
      EXPECT_EQ(al, el) << "strtol(\"" << input << "\", " << base << ")";
      // With an invalid base C leaves the end pointer unspecified (and ASan's interceptor
      // sets it where glibc does not); compare it only for valid bases.
      const bool valid_base = base == 0 || (base >= 2 && base <= 36);
      if (valid_base) {
        EXPECT_EQ(actual_end, expected_end) << "strtol(\"" << input << "\", " << base << ")";
      }
      EXPECT_EQ(errno, expected_errno) << "strtol(\"" << input << "\", " << base << ")";

      errno = 0;
      const unsigned long long eu = std::strtoull(input, &expected_end, base);
      const int expected_errno_u = errno;
      errno = 0;
      const unsigned long long au = morgana_strtoull(input, &actual_end, base);
      EXPECT_EQ(au, eu) << "strtoull(\"" << input << "\", " << base << ")";
      if (valid_base) {
        EXPECT_EQ(actual_end, expected_end) << "strtoull(\"" << input << "\", " << base << ")";
      }
      EXPECT_EQ(errno, expected_errno_u) << "strtoull(\"" << input << "\", " << base << ")";

      EXPECT_EQ(morgana_strtoll(input, nullptr, base), std::strtoll(input, nullptr, base));
      EXPECT_EQ(morgana_strtoul(input, nullptr, base), std::strtoul(input, nullptr, base));
    }
    EXPECT_EQ(morgana_atol(input), std::atol(input)) << input;
  }
  EXPECT_EQ(morgana_atoi("  -123xyz"), -123);
  EXPECT_EQ(morgana_abs(-5), 5);
  EXPECT_EQ(morgana_labs(-5L), 5L);
  EXPECT_EQ(morgana_llabs(LLONG_MIN + 1), LLONG_MAX);
}

TEST(LibcStdlib, QsortAndBsearch) {
  auto compare = [](const void* a, const void* b) {
    const int x = *static_cast<const int*>(a), y = *static_cast<const int*>(b);
    return (x > y) - (x < y);
  };
  std::mt19937 rng(9);
  for (size_t n : {0u, 1u, 2u, 3u, 10u, 100u, 1001u}) {
    std::vector<int> v(n);
    for (auto& x : v) x = static_cast<int>(rng() % 50);  // many duplicates
    auto expected = v;
    std::sort(expected.begin(), expected.end());
    morgana_qsort(v.data(), v.size(), sizeof(int), compare);
    ASSERT_EQ(v, expected) << n;
    for (int key = -1; key <= 50; ++key) {
      const void* found = morgana_bsearch(&key, v.data(), v.size(), sizeof(int), compare);
      const bool present = std::binary_search(v.begin(), v.end(), key);
      ASSERT_EQ(found != nullptr, present) << key;
      if (found != nullptr) {
        EXPECT_EQ(*static_cast<const int*>(found), key);
      }
    }
  }
  // Records larger than a word are swapped whole.
  struct Record {
    int key;
    char payload[13];
  };
  std::vector<Record> records(50);
  for (int i = 0; i < 50; ++i) {
    records[i].key = (i * 37) % 50;
    std::snprintf(records[i].payload, sizeof(records[i].payload), "r%d", records[i].key);
  }
  morgana_qsort(records.data(), records.size(), sizeof(Record), compare);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(records[i].key, i);
    EXPECT_EQ(std::string(records[i].payload), "r" + std::to_string(i));
  }
}

}  // namespace
