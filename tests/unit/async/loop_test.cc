// The loop: how it sleeps (deadline = earliest timer, no polling while idle), device
// readiness waking the right waiters, fairness between ready tasks and devices, and the
// rules around it (one loop at a time, a main task that can never finish).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fixture.h"

namespace morgana::async::testing {
namespace {

TEST_F(AsyncTest, IdleLoopSleepsOnceUntilTheEarliestTimer) {
  std::vector<std::string> log;
  spawn(note_after(&log, 250ms, "late"));
  spawn(note_after(&log, 40ms, "early"));
  loop.run_until_idle();
  // Two sleeps, one per deadline, each straight to the timer: no polling in between.
  EXPECT_EQ(backend.wait_calls(), 2u);
  EXPECT_EQ(loop.stats().waits, 2u);
  EXPECT_EQ(loop.stats().polls, 0u);
  EXPECT_EQ(log, (std::vector<std::string>{"early@40", "late@250"}));
}

TEST_F(AsyncTest, RunForAdvancesTheClockEvenWithNothingToDo) {
  loop.run_for(5s);
  EXPECT_EQ(now(), 5000 * kMs);
  EXPECT_EQ(backend.wait_calls(), 1u);
  EXPECT_EQ(backend.last_deadline(), 5000 * kMs);
}

Task<Result<void>> wait_device(platform::DeviceId device, std::vector<std::string>* log,
                               std::string name) {
  CO_TRY(co_await wait_readable(device));
  log->push_back(name + "@" + std::to_string(now() / kMs));
  co_return ok();
}

TEST_F(AsyncTest, DeviceReadinessWakesOnlyThatDevicesWaiters) {
  std::vector<std::string> log;
  Scope scope;
  ASSERT_TRUE(scope.spawn(wait_device(3, &log, "net3-a")).ok());
  ASSERT_TRUE(scope.spawn(wait_device(5, &log, "net5")).ok());
  ASSERT_TRUE(scope.spawn(wait_device(3, &log, "net3-b")).ok());
  backend.ready_at(20 * kMs, platform::ReadySet{1} << 3);
  loop.run_for(50ms);
  EXPECT_EQ(log, (std::vector<std::string>{"net3-a@20", "net3-b@20"}));
  // With only a device waiter left, the loop sleeps without a deadline.
  backend.ready_at(70 * kMs, platform::ReadySet{1} << 5);
  loop.run_for(100ms);
  EXPECT_EQ(log.back(), "net5@70");
  EXPECT_EQ(scope.size(), 0u);
}

TEST_F(AsyncTest, MainTaskWaitingOnADeviceSleepsWithoutDeadline) {
  std::vector<std::string> log;
  backend.ready_at(9 * kMs, platform::ReadySet{1} << 0);
  EXPECT_TRUE(loop.run(wait_device(0, &log, "dev0")).ok());
  EXPECT_EQ(backend.last_deadline(), kNever);
  EXPECT_EQ(log, (std::vector<std::string>{"dev0@9"}));
}

TEST_F(AsyncTest, CancelledDeviceWaitReturnsAtOnce) {
  std::vector<std::string> log;
  Scope scope;
  ASSERT_TRUE(scope.spawn(wait_device(2, &log, "never")).ok());
  loop.run_until_idle();  // device waits alone do not keep it running
  EXPECT_EQ(scope.size(), 1u);
  scope.request_stop();
  loop.run_until_idle();
  EXPECT_EQ(scope.size(), 0u);
  EXPECT_TRUE(log.empty());
  // The device's readiness is still there for a later waiter.
  backend.set_ready(platform::ReadySet{1} << 2);
  EXPECT_TRUE(loop.run(wait_device(2, &log, "later")).ok());
  EXPECT_EQ(log, (std::vector<std::string>{"later@0"}));
}

// A task that never sleeps: it yields, and each round costs 100 us of (virtual) time.
Task<void> spin(VirtualBackend* backend, int* rounds, const bool* stop) {
  while (!*stop) {
    ++*rounds;
    backend->advance(100'000);
    (void)co_await yield_now();
  }
}

Task<Result<void>> wait_then_set(platform::DeviceId device, bool* flag) {
  CO_TRY(co_await wait_readable(device));
  *flag = true;
  co_return ok();
}

TEST_F(AsyncTest, BusyLoopStillPollsDevices) {
  int rounds = 0;
  bool stop = false;
  backend.set_ready(platform::ReadySet{1} << 1);
  spawn(wait_then_set(1, &stop));
  spawn(spin(&backend, &rounds, &stop));
  loop.run_until_idle();
  EXPECT_TRUE(stop);
  // Polled once about every kBusyPollIntervalNs (1 ms = 10 rounds), not every round.
  EXPECT_GE(loop.stats().polls, 1u);
  EXPECT_LE(rounds, 12);
  EXPECT_GE(rounds, 9);
}

Task<int> never_finishes(Event* event) {
  (void)co_await event->wait();
  co_return 1;
}

TEST_F(AsyncTest, MainTaskThatCanNeverFinishPanics) {
  Event event;
  EXPECT_DEATH(loop.run(never_finishes(&event)), "main task can never finish");
}

TEST(LoopDeathTest, OnlyOneLoopAtATime) {
  VirtualBackend backend;
  Loop loop(backend);
  EXPECT_DEATH(Loop second(backend), "second Loop");
}

TEST(LoopDeathTest, ScopeMustNotOutliveItsLoop) {
  EXPECT_DEATH(
      {
        VirtualBackend backend;
        auto loop = std::make_unique<Loop>(backend);
        Scope scope(*loop);
        loop.reset();
      },
      "outlive their Loop");
}

TEST(LoopLifetime, LoopsCanFollowEachOther) {
  for (int i = 0; i < 3; ++i) {
    VirtualBackend backend;
    Loop loop(backend);
    EXPECT_EQ(&Loop::current(), &loop);
    std::vector<std::string> log;
    EXPECT_TRUE(loop.run(note_after(&log, 1ms, "x")).ok());
  }
  EXPECT_FALSE(Loop::exists());
}

}  // namespace
}  // namespace morgana::async::testing
