// Timers: the pairing heap against a reference model, and sleep_for / sleep_until on the
// virtual clock (ordering, equal deadlines, cancellation while asleep, many timers).
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "fixture.h"

namespace morgana::async::testing {
namespace {

using detail::Timer;
using detail::TimerHeap;

TEST(TimerHeap, PopsInDeadlineThenArmingOrder) {
  TimerHeap heap;
  Timer timers[6];
  const uint64_t deadlines[6] = {50, 10, 30, 10, 50, 20};
  for (int i = 0; i < 6; ++i) heap.insert(&timers[i], deadlines[i]);
  EXPECT_EQ(heap.size(), 6u);
  std::vector<int> order;
  while (Timer* t = heap.pop()) order.push_back(int(t - timers));
  EXPECT_EQ(order, (std::vector<int>{1, 3, 5, 2, 0, 4}));
  EXPECT_TRUE(heap.empty());
  for (Timer& t : timers) EXPECT_FALSE(t.armed());
}

TEST(TimerHeap, RemoveAnyTimer) {
  TimerHeap heap;
  Timer timers[5];
  for (int i = 0; i < 5; ++i) heap.insert(&timers[i], uint64_t(100 - i));
  heap.remove(&timers[4]);  // the root
  heap.remove(&timers[0]);  // a leaf
  heap.remove(&timers[0]);  // not armed any more: no-op
  EXPECT_EQ(heap.size(), 3u);
  EXPECT_EQ(heap.pop(), &timers[3]);
  EXPECT_EQ(heap.pop(), &timers[2]);
  EXPECT_EQ(heap.pop(), &timers[1]);
  EXPECT_EQ(heap.pop(), nullptr);
}

// Random inserts, re-arms, removals and pops, checked against a std::multimap.
TEST(TimerHeap, MatchesAReferenceModel) {
  std::mt19937_64 random(12345);
  constexpr int kTimers = 2000;
  std::vector<Timer> timers(kTimers);
  TimerHeap heap;
  std::map<std::pair<uint64_t, uint64_t>, int> model;  // (deadline, seq) -> index
  auto key = [](const Timer& t) { return std::make_pair(t.deadline, t.seq); };
  for (int step = 0; step < 200'000; ++step) {
    const int i = int(random() % kTimers);
    switch (random() % 4) {
      case 0:
      case 1:  // arm or re-arm
        if (timers[i].armed()) model.erase(key(timers[i]));
        heap.insert(&timers[i], random() % 1000);
        model[key(timers[i])] = i;
        break;
      case 2:
        if (timers[i].armed()) model.erase(key(timers[i]));
        heap.remove(&timers[i]);
        break;
      case 3: {
        Timer* top = heap.pop();
        if (model.empty()) {
          ASSERT_EQ(top, nullptr);
        } else {
          ASSERT_NE(top, nullptr);
          ASSERT_EQ(int(top - timers.data()), model.begin()->second);
          model.erase(model.begin());
        }
        break;
      }
    }
    ASSERT_EQ(heap.size(), model.size());
  }
}

TEST_F(AsyncTest, SleepersWakeInDeadlineOrderOnVirtualTime) {
  std::vector<std::string> log;
  spawn(note_after(&log, 30ms, "c"));
  spawn(note_after(&log, 10ms, "a"));
  spawn(note_after(&log, 20ms, "b"));
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"a@10", "b@20", "c@30"}));
  EXPECT_EQ(now(), 30 * kMs);
  EXPECT_EQ(loop.stats().timers_fired, 3u);
}

TEST_F(AsyncTest, EqualDeadlinesFireInArmingOrder) {
  std::vector<std::string> log;
  for (const char* name : {"first", "second", "third"}) spawn(note_after(&log, 5ms, name));
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"first@5", "second@5", "third@5"}));
}

Task<Result<void>> sleep_until_abs(uint64_t deadline, uint64_t* woke) {
  CO_TRY(co_await sleep_until(deadline));
  *woke = now();
  co_return ok();
}

TEST_F(AsyncTest, SleepUntilAnAbsoluteDeadline) {
  uint64_t woke = 0;
  EXPECT_TRUE(loop.run(sleep_until_abs(7 * kMs, &woke)).ok());
  EXPECT_EQ(woke, 7 * kMs);
}

TEST_F(AsyncTest, PastDeadlineYieldsInsteadOfSleeping) {
  backend.advance(100 * kMs);
  uint64_t woke = 0;
  EXPECT_TRUE(loop.run(sleep_until_abs(5 * kMs, &woke)).ok());
  EXPECT_EQ(woke, 100 * kMs);
  EXPECT_EQ(loop.stats().timers_fired, 0u);
}

Task<void> take_turns(std::string* trace, char name, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    *trace += name;
    (void)co_await yield_now();
  }
}

TEST_F(AsyncTest, YieldNowInterleavesReadyTasks) {
  std::string trace;
  spawn(take_turns(&trace, 'a', 3));
  spawn(take_turns(&trace, 'b', 3));
  loop.run_until_idle();
  EXPECT_EQ(trace, "ababab");
  EXPECT_EQ(now(), 0u);  // no time passed
}

// A one-hour timeout test runs instantly on virtual time.
TEST_F(AsyncTest, LongSleepsCostNoRealTime) {
  uint64_t woke = 0;
  EXPECT_TRUE(loop.run(sleep_until_abs(3600'000 * kMs, &woke)).ok());
  EXPECT_EQ(woke, 3600'000 * kMs);
  EXPECT_EQ(backend.wait_calls(), 1u);
}

TEST_F(AsyncTest, CancelledSleepEndsAtOnceAndDisarmsItsTimer) {
  Scope scope;
  std::vector<std::string> log;
  ASSERT_TRUE(scope.spawn(note_after(&log, 1000ms, "never")).ok());
  loop.run_for(10ms);
  EXPECT_EQ(loop.timers().size(), 1u);
  scope.request_stop();
  loop.run_until_idle();
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(now(), 10 * kMs);  // did not wait for the timer
  EXPECT_TRUE(loop.timers().empty());
  EXPECT_EQ(scope.size(), 0u);
  EXPECT_EQ(scope.failures(), 0u);  // a stop the scope asked for is not a failure
}

TEST_F(AsyncTest, SleepAfterStopFailsWithoutWaiting) {
  loop.request_stop();
  std::vector<std::string> log;
  Result<void> r = loop.run(note_after(&log, 5ms, "x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kCancelled);
  EXPECT_EQ(now(), 0u);
  EXPECT_EQ(loop.timers().size(), 0u);
}

TEST_F(AsyncTest, ManyThousandTimers) {
  constexpr int kCount = 50'000;
  std::vector<std::string> log;
  log.reserve(kCount);
  std::mt19937 random(7);
  for (int i = 0; i < kCount; ++i) spawn(note_after(&log, Duration(random() % 1'000'000), "t"));
  loop.run_until_idle();
  EXPECT_EQ(log.size(), size_t(kCount));
  EXPECT_EQ(loop.stats().timers_fired, uint64_t(kCount));
  EXPECT_TRUE(loop.timers().empty());
}

}  // namespace
}  // namespace morgana::async::testing
