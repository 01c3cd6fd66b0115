// Task<T>: laziness, values (plain, void, Result, move-only), CO_TRY, ownership, the
// frame pool, and symmetric transfer through a very deep await chain.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "fixture.h"

namespace morgana::async::testing {
namespace {

Task<int> forty_two() {
  co_return 42;
}

Task<int> add(int a, int b) {
  int x = co_await forty_two();
  co_return a + b + x - 42;
}

Task<void> set_flag(bool* flag) {
  *flag = true;
  co_return;
}

Task<std::unique_ptr<std::string>> make_unique_text(std::string text) {
  co_return std::make_unique<std::string>(std::move(text));
}

Task<Result<int>> parse(std::string text) {
  if (text.empty() || text[0] < '0' || text[0] > '9') {
    co_return Error{Errc::kMalformed, "not a digit"};
  }
  co_return text[0] - '0';
}

Task<Result<int>> parse_sum(std::string a, std::string b) {
  CO_TRY_ASSIGN(int x, co_await parse(a));
  CO_TRY_ASSIGN(int y, co_await parse(b));
  co_return x + y;
}

Task<Result<void>> check(std::string a) {
  CO_TRY(co_await parse(a));
  co_return ok();
}

TEST_F(AsyncTest, TaskYieldsItsValue) {
  EXPECT_EQ(loop.run(add(2, 3)), 5);
}

TEST_F(AsyncTest, TaskIsLazyUntilAwaited) {
  bool flag = false;
  Task<void> task = set_flag(&flag);
  EXPECT_FALSE(flag);  // created, not started
  EXPECT_FALSE(task.done());
  loop.run(std::move(task));
  EXPECT_TRUE(flag);
}

TEST_F(AsyncTest, UnstartedTaskIsDestroyedWithoutRunning) {
  bool flag = false;
  {
    Task<void> task = set_flag(&flag);
    Task<void> moved = std::move(task);
    EXPECT_FALSE(task.valid());
    EXPECT_TRUE(moved.valid());
  }
  EXPECT_FALSE(flag);
}

TEST_F(AsyncTest, MoveOnlyValues) {
  std::unique_ptr<std::string> text = loop.run(make_unique_text("owned"));
  ASSERT_NE(text, nullptr);
  EXPECT_EQ(*text, "owned");
}

TEST_F(AsyncTest, CoTryPropagatesTheFirstError) {
  Result<int> good = loop.run(parse_sum("4", "5"));
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 9);
  Result<int> bad = loop.run(parse_sum("4", "x"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kMalformed);
  EXPECT_TRUE(loop.run(check("7")).ok());
  EXPECT_EQ(loop.run(check("")).error().code, Errc::kMalformed);
}

Task<int> chain(int depth) {
  if (depth == 0) co_return 0;
  int below = co_await chain(depth - 1);
  co_return below + 1;
}

TEST_F(AsyncTest, ModeratelyDeepChainAnyBuild) {
  EXPECT_EQ(loop.run(chain(1000)), 1000);
}

// Symmetric transfer: each await and each completion is a tail call into the next frame,
// so a million nested awaits use constant stack. g++ 12 only turns those into real tail
// calls when optimising (-O2) and without AddressSanitizer (detail::kSymmetricTransfer);
// elsewhere the chain would overflow the stack.
TEST_F(AsyncTest, MillionDeepAwaitChainDoesNotGrowTheStack) {
  if (!detail::kSymmetricTransfer) {
    GTEST_SKIP() << "SKIPPED: g++ makes symmetric transfer a tail call only in optimised "
                    "builds without AddressSanitizer (this build has none)";
  }
  EXPECT_EQ(loop.run(chain(1'000'000)), 1'000'000);
}

Task<int> ping_pong(int rounds) {
  int total = 0;
  for (int i = 0; i < rounds; ++i) total += co_await forty_two();
  co_return total;
}

// A loop awaiting tasks that finish at once must run in constant stack in every build:
// with tail calls by symmetric transfer, without them by not suspending at all.
TEST_F(AsyncTest, MillionInlineAwaitsInALoopAnyBuild) {
  EXPECT_EQ(loop.run(ping_pong(1'000'000)), 42'000'000);
}

// Awaits with each strategy explicitly, so both run in every build (a program may mix
// code built with and without tail calls).
// (A class with a constructor, not an aggregate: g++ 12 destroys an aggregate temporary
// in a co_await operand twice.)
template <bool kSymmetric>
class AwaitWith {
 public:
  explicit AwaitWith(Task<int>&& task) : task_(std::move(task)) {}
  detail::TaskAwaiter<int, kSymmetric> operator co_await() && {
    return detail::TaskAwaiter<int, kSymmetric>(task_.handle(), true, nullptr);
  }

 private:
  Task<int> task_;
};

template <bool kSymmetric>
Task<int> await_both_kinds() {
  int inline_value = co_await AwaitWith<kSymmetric>(forty_two());
  int later_value = co_await AwaitWith<kSymmetric>(value_after(8, 5ms));
  co_return inline_value + later_value;
}

TEST_F(AsyncTest, BothAwaitStrategiesWork) {
  EXPECT_EQ(loop.run(await_both_kinds<false>()), 50);
  EXPECT_EQ(loop.run(await_both_kinds<true>()), 50);
  EXPECT_EQ(now(), 10 * kMs);
}

TEST_F(AsyncTest, FramesAreRecycledThroughThePool) {
  // After a warm-up, create/complete cycles reuse the same frames: the pool holds exactly
  // as much as before (nothing new was allocated, nothing leaked into it).
  EXPECT_EQ(loop.run(ping_pong(10)), 420);
  const size_t cached = detail::frame_pool.cached_bytes();
  EXPECT_EQ(loop.run(ping_pong(100'000)), 4'200'000);
  EXPECT_EQ(detail::frame_pool.cached_bytes(), cached);
  if (detail::kFramePoolEnabled) {
    EXPECT_GT(cached, 0u);
  }
  EXPECT_LE(cached, detail::FramePool::kMaxCachedBytes);
}

TEST(FramePool, BoundedAndTrimmable) {
  detail::FramePool pool;
  void* blocks[100];
  for (void*& block : blocks) block = pool.allocate(40);
  for (void* block : blocks) pool.free(block, 40);
  if (detail::kFramePoolEnabled) {
    EXPECT_EQ(pool.cached_bytes(), 100u * 48);
    void* again = pool.allocate(33);  // same 48-byte class: reused
    EXPECT_EQ(again, blocks[99]);
    pool.free(again, 33);
  }
  void* big = pool.allocate(4096);  // beyond the classes: straight to malloc
  pool.free(big, 4096);
  pool.trim();
  EXPECT_EQ(pool.cached_bytes(), 0u);
}

Task<StopToken> read_token() {
  co_return co_await current_stop_token();
}

TEST_F(AsyncTest, MainTaskObservesTheLoopsStopToken) {
  StopToken token = loop.run(read_token());
  EXPECT_TRUE(token.stop_possible());
  EXPECT_EQ(token, loop.stop_token());
}

Task<bool> shielded_token_is_empty() {
  StopToken inner = co_await shielded(read_token());
  co_return !inner.stop_possible();
}

TEST_F(AsyncTest, ShieldedTaskHasNoStopToken) {
  EXPECT_TRUE(loop.run(shielded_token_is_empty()));
}

}  // namespace
}  // namespace morgana::async::testing
