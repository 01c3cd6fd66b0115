// Result<T>, Result<void> and TRY: values and errors, propagation through TRY (also for
// move-only values), and the panic on reading the wrong side.
#include "morgana/rt/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <string_view>

namespace {

using morgana::Errc;
using morgana::Error;
using morgana::Result;

Result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return Error{Errc::kMalformed, "not a digit"};
  return c - '0';
}

Result<int> parse_two_digits(std::string_view s) {
  if (s.size() != 2) return Error{Errc::kInvalidArgument, "need two characters"};
  int tens = TRY(parse_digit(s[0]));
  int ones = TRY(parse_digit(s[1]));
  return tens * 10 + ones;
}

TEST(Result, HoldsAValueOrAnError) {
  Result<int> good = parse_digit('7');
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(static_cast<bool>(good));
  EXPECT_EQ(good.value(), 7);
  EXPECT_EQ(*good, 7);
  EXPECT_EQ(good.value_or(-1), 7);

  Result<int> bad = parse_digit('x');
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kMalformed);
  EXPECT_STREQ(bad.error().what, "not a digit");
  EXPECT_EQ(bad.value_or(-1), -1);
}

TEST(Result, TryPropagatesTheFirstError) {
  EXPECT_EQ(parse_two_digits("42").value(), 42);
  EXPECT_EQ(parse_two_digits("4x").error().code, Errc::kMalformed);
  EXPECT_EQ(parse_two_digits("x2").error().code, Errc::kMalformed);
  EXPECT_EQ(parse_two_digits("123").error().code, Errc::kInvalidArgument);
}

Result<void> check_positive(int v) {
  if (v <= 0) return Error{Errc::kOutOfRange, "not positive"};
  return morgana::ok();
}

Result<int> sum_of_positives(int a, int b) {
  TRY(check_positive(a));
  TRY(check_positive(b));
  return a + b;
}

TEST(Result, VoidResultsAndTry) {
  EXPECT_TRUE(check_positive(1).ok());
  Result<void> bad = check_positive(0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kOutOfRange);
  EXPECT_EQ(sum_of_positives(2, 3).value(), 5);
  EXPECT_EQ(sum_of_positives(2, -3).error().code, Errc::kOutOfRange);
}

Result<std::unique_ptr<std::string>> make_name(bool succeed) {
  if (!succeed) return Error{Errc::kNoMemory, "no name"};
  return std::make_unique<std::string>("morgana");
}

Result<size_t> name_length(bool succeed) {
  std::unique_ptr<std::string> name = TRY(make_name(succeed));  // moved out of the Result
  return name->size();
}

TEST(Result, MoveOnlyValues) {
  Result<std::unique_ptr<std::string>> r = make_name(true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r.value(), "morgana");
  std::unique_ptr<std::string> taken = std::move(r).value();
  EXPECT_EQ(*taken, "morgana");

  EXPECT_EQ(name_length(true).value(), 7u);
  EXPECT_EQ(name_length(false).error().code, Errc::kNoMemory);

  // Moving and assigning Results of move-only types.
  Result<std::unique_ptr<std::string>> a = make_name(true);
  Result<std::unique_ptr<std::string>> b = std::move(a);
  EXPECT_EQ(**b, "morgana");
  b = make_name(false);
  EXPECT_FALSE(b.ok());
  b = make_name(true);
  EXPECT_EQ(*b.value(), "morgana");
}

TEST(Result, ErrorsCompareByCode) {
  EXPECT_EQ((Error{Errc::kIo, "disk"}), (Error{Errc::kIo, "network"}));
  EXPECT_FALSE((Error{Errc::kIo, nullptr}) == (Error{Errc::kAgain, nullptr}));
}

TEST(Result, EveryCodeHasADistinctName) {
  std::set<std::string> names;
  for (int code = static_cast<int>(Errc::kInvalidArgument);
       code <= static_cast<int>(Errc::kMalformed); ++code) {
    const char* name = morgana::errc_name(static_cast<Errc>(code));
    ASSERT_NE(name, nullptr);
    EXPECT_STRNE(name, "unknown error") << code;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(Errc::kMalformed));
  EXPECT_STREQ(morgana::errc_name(Errc::kTimedOut), "timed out");
  EXPECT_STREQ(morgana::errc_name(static_cast<Errc>(999)), "unknown error");
}

using ResultDeathTest = ::testing::Test;

TEST(ResultDeathTest, ReadingTheWrongSidePanics) {
  Result<int> bad = Error{Errc::kIo, "x"};
  EXPECT_DEATH((void)bad.value(), "assertion failed");
  Result<int> good = 1;
  EXPECT_DEATH((void)good.error(), "assertion failed");
  Result<void> bad_void = Error{Errc::kIo, "x"};
  EXPECT_DEATH(bad_void.value(), "assertion failed");
}

}  // namespace
