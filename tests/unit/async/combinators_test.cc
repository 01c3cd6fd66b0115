// when_all, when_any and with_timeout: values, ordering, cancellation of losers, and the
// races where a task finishes in the same tick as its timeout.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "fixture.h"

namespace morgana::async::testing {
namespace {

Task<void> noop() {
  co_return;
}

Task<std::tuple<int, int, Unit>> all_three() {
  co_return co_await when_all(value_after(1, 30ms), value_after(2, 10ms), noop());
}

TEST_F(AsyncTest, WhenAllWaitsForEveryTaskAndKeepsOrder) {
  auto [a, b, unit] = loop.run(all_three());
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 2);
  EXPECT_EQ(unit, Unit{});
  EXPECT_EQ(now(), 30 * kMs);  // concurrently: the longest, not the sum
}

Task<std::vector<int>> all_of(int count) {
  std::vector<Task<int>> tasks;
  for (int i = 0; i < count; ++i) tasks.push_back(value_after(i, Duration((count - i) * kMs)));
  co_return co_await when_all(std::move(tasks));
}

TEST_F(AsyncTest, WhenAllOverAVector) {
  std::vector<int> values = loop.run(all_of(1000));
  ASSERT_EQ(values.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(values[i], i);
  EXPECT_EQ(loop.run(all_of(0)).size(), 0u);
}

Task<int> ready_values() {
  auto [x, y] = co_await when_all(value_after(5, 0ms), []() -> Task<int> { co_return 6; }());
  co_return x* y;
}

TEST_F(AsyncTest, WhenAllOfTasksThatNeedNoWait) {
  EXPECT_EQ(loop.run(ready_values()), 30);
}

// Cancelling the awaiter of when_all cancels every task in it.
TEST_F(AsyncTest, WhenAllChildrenInheritCancellation) {
  Result<std::tuple<int, int>> r = loop.run(with_timeout(
      []() -> Task<std::tuple<int, int>> {
        co_return co_await when_all(value_after(1, 1h), value_after(2, 2h));
      }(),
      5ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTimedOut);
  EXPECT_EQ(now(), 5 * kMs);
  EXPECT_TRUE(loop.timers().empty());
}

Task<AnyOf<int>> race_three() {
  co_return co_await when_any(value_after(1, 30ms), value_after(2, 10ms), value_after(3, 20ms));
}

TEST_F(AsyncTest, WhenAnyTheFirstWinsAndLosersAreCancelled) {
  AnyOf<int> first = loop.run(race_three());
  EXPECT_EQ(first.index, 1u);
  EXPECT_EQ(first.value, 2);
  EXPECT_EQ(now(), 10 * kMs);  // losers did not run to their deadlines
  EXPECT_TRUE(loop.timers().empty());
}

Task<Result<void>> note_cancel(std::vector<std::string>* log, Duration d, std::string name) {
  Result<void> r = co_await sleep_for(d);
  log->push_back(name + (r.ok() ? ":ok" : std::string(":") + errc_name(r.error().code)));
  co_return r;
}

TEST_F(AsyncTest, WhenAnyWaitsForLosersToEnd) {
  std::vector<std::string> log;
  AnyOf<Result<void>> first = loop.run(when_any(
      note_cancel(&log, 5ms, "a"), note_cancel(&log, 1s, "b"), note_cancel(&log, 2s, "c")));
  EXPECT_EQ(first.index, 0u);
  EXPECT_TRUE(first.value.ok());
  // Each loser observed the stop and ended before when_any returned.
  EXPECT_EQ(log, (std::vector<std::string>{"a:ok", "b:cancelled", "c:cancelled"}));
}

TEST_F(AsyncTest, WhenAnyOfVoidTasksYieldsTheIndex) {
  std::vector<Task<void>> tasks;
  for (int i = 0; i < 5; ++i) {
    tasks.push_back(
        [](int ms) -> Task<void> { (void)co_await sleep_for(Duration(ms * kMs)); }(10 - i));
  }
  EXPECT_EQ(loop.run(when_any(std::move(tasks))), 4u);
}

TEST_F(AsyncTest, WhenAnyTaskFinishingWithoutSuspendingWinsAtOnce) {
  std::vector<std::string> log;
  AnyOf<Result<void>> first = loop.run(when_any(
      note_cancel(&log, 1s, "slow"), []() -> Task<Result<void>> { co_return ok(); }(),
      note_cancel(&log, 1s, "never started")));
  EXPECT_EQ(first.index, 1u);
  EXPECT_EQ(log, (std::vector<std::string>{"never started:cancelled", "slow:cancelled"}));
  EXPECT_EQ(now(), 0u);
}

TEST_F(AsyncTest, WithTimeoutFires) {
  Result<int> r = loop.run(with_timeout(value_after(7, 100ms), 25ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTimedOut);
  EXPECT_EQ(now(), 25 * kMs);
  EXPECT_TRUE(loop.timers().empty());
}

TEST_F(AsyncTest, WithTimeoutPassesTheValueThrough) {
  Result<int> r = loop.run(with_timeout(value_after(7, 10ms), 25ms));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 7);
  EXPECT_EQ(now(), 10 * kMs);
  EXPECT_TRUE(loop.timers().empty());  // the timeout's timer is disarmed
}

TEST_F(AsyncTest, WithTimeoutKeepsTheTasksOwnError) {
  Result<void> r = loop.run(with_timeout(
      []() -> Task<Result<void>> {
        co_return Error{Errc::kIo, "broken"};
      }(),
      25ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kIo);
}

// The race: the task's own timer and the timeout share a deadline. The timeout's timer
// is armed first, so it fires first and the task's sleep is cancelled: a timeout, in
// every run.
TEST_F(AsyncTest, TimeoutRaceWithEqualDeadlinesResolvesAsTimeout) {
  for (int i = 0; i < 3; ++i) {
    Result<int> r = loop.run(with_timeout(value_after(7, 25ms), 25ms));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::kTimedOut);
  }
}

Task<Result<int>> receive_one(Channel<int>* channel) {
  CO_TRY_ASSIGN(int v, co_await channel->receive());
  co_return v;
}

// Wakes at 24 ms and works for 1 ms of (virtual) time before it sends: the value reaches
// the waiting receiver at 25 ms, after the timer pass of 24 ms and before that of 25 ms.
Task<void> slow_send(VirtualBackend* backend, Channel<int>* channel, int value) {
  (void)co_await sleep_until(24 * kMs);
  backend->advance(1 * kMs);
  (void)co_await channel->send(value);
}

// The other race: the receive is woken with its value, and before the receiver runs
// again the timeout fires (same tick). A Result-returning task keeps its value:
// with_timeout never throws away an item already taken off a channel.
TEST_F(AsyncTest, TimeoutRaceValueDeliveredInTheSameTickWins) {
  Channel<int> channel(1);
  spawn(slow_send(&backend, &channel, 99));
  Result<int> r = loop.run(with_timeout(receive_one(&channel), 25ms));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 99);
  EXPECT_EQ(now(), 25 * kMs);
  EXPECT_EQ(channel.size(), 0u);
  EXPECT_EQ(loop.stats().timers_fired, 2u);  // the timeout did fire
}

Task<void> slow_set(VirtualBackend* backend, Event* event) {
  (void)co_await sleep_until(24 * kMs);
  backend->advance(1 * kMs);
  event->set();
}

// A plain-valued task cannot tell a finished job from an interrupted one, so there the
// deadline decides: woken in the same tick, but the timeout fired before it ended.
TEST_F(AsyncTest, TimeoutRacePlainValueLosesToTheDeadline) {
  Event event;
  spawn(slow_set(&backend, &event));
  Result<int> r = loop.run(with_timeout(wait_code(&event), 25ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTimedOut);
  EXPECT_EQ(now(), 25 * kMs);
}

// Woken well before the deadline: the value, and the timer disarmed.
TEST_F(AsyncTest, TimeoutNotReachedPlainValuePasses) {
  Event event;
  event.set();
  Result<int> r = loop.run(with_timeout(wait_code(&event), 25ms));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0);
}

// Results nest flat: the outer with_timeout passes the inner's kTimedOut through.
TEST_F(AsyncTest, NestedTimeoutsTheInnerFiresFirst) {
  Result<int> r = loop.run(with_timeout(with_timeout(value_after(1, 1h), 10ms), 20ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTimedOut);
  EXPECT_EQ(now(), 10 * kMs);
  EXPECT_TRUE(loop.timers().empty());
}

Task<Result<int>> receive_never() {
  Channel<int> channel(1);
  CO_TRY_ASSIGN(int v, co_await channel.receive());
  co_return v;
}

TEST_F(AsyncTest, OuterCancellationIsNotReportedAsTimeout) {
  Scope scope;
  Result<int> seen = Error{Errc::kIo, "unset"};
  ASSERT_TRUE(scope
                  .spawn([](Result<int>* out) -> Task<void> {
                    *out = co_await with_timeout(receive_never(), 1h);
                  }(&seen))
                  .ok());
  loop.run_for(1ms);
  scope.request_stop();
  loop.run_until_idle();
  ASSERT_FALSE(seen.ok());
  EXPECT_EQ(seen.error().code, Errc::kCancelled);
}

}  // namespace
}  // namespace morgana::async::testing
