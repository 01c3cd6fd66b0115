// Scope and spawn: who owns a detached task, that its failure reaches the log, that
// close() waits for in-flight work, and that tearing down a loop or scope with suspended
// tasks frees everything without resuming anything (checked under ASan by run-tests).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fixture.h"

namespace morgana::async::testing {
namespace {

Task<Result<void>> fail_after(Duration delay, Errc code) {
  CO_TRY(co_await sleep_for(delay));
  co_return Error{code, "disk on fire"};
}

TEST_F(AsyncTest, SpawnedTaskStartsOnTheNextTurnNotInsideSpawn) {
  std::vector<std::string> log;
  spawn(note_after(&log, 0ms, "spawned"));
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(loop.root().size(), 1u);
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"spawned@0"}));
  EXPECT_EQ(loop.root().size(), 0u);
}

TEST_F(AsyncTest, FailureOfASpawnedTaskIsLogged) {
  spawn(fail_after(3ms, Errc::kIo));
  loop.run_until_idle();
  EXPECT_EQ(backend.log_text(), "async: a spawned task failed: I/O error: disk on fire\n");
  EXPECT_EQ(loop.root().failures(), 1u);
}

TEST_F(AsyncTest, UnrequestedCancellationIsLoggedRequestedIsNot) {
  spawn(fail_after(1ms, Errc::kCancelled));  // cancelled by nobody: suspicious, logged
  loop.run_until_idle();
  EXPECT_EQ(loop.root().failures(), 1u);
  EXPECT_NE(backend.log_text().find("cancelled"), std::string::npos);

  Scope scope;
  std::vector<std::string> log;
  ASSERT_TRUE(scope.spawn(note_after(&log, 1s, "x")).ok());
  loop.run_for(1ms);
  scope.request_stop();
  loop.run_until_idle();
  EXPECT_EQ(scope.failures(), 0u);
}

Task<Result<void>> close_scope(Scope* scope, std::vector<std::string>* log) {
  CO_TRY(co_await scope->close());
  log->push_back("closed@" + std::to_string(now() / kMs));
  co_return ok();
}

TEST_F(AsyncTest, CloseWaitsForInFlightWorkAndRefusesNewWork) {
  std::vector<std::string> log;
  Scope scope;
  ASSERT_TRUE(scope.spawn(note_after(&log, 30ms, "slow")).ok());
  ASSERT_TRUE(scope.spawn(note_after(&log, 10ms, "fast")).ok());
  EXPECT_TRUE(loop.run(close_scope(&scope, &log)).ok());
  EXPECT_EQ(log, (std::vector<std::string>{"fast@10", "slow@30", "closed@30"}));
  EXPECT_TRUE(scope.closed());
  Result<void> refused = scope.spawn(note_after(&log, 1ms, "late"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::kCancelled);
}

TEST_F(AsyncTest, JoinOfAnEmptyScopeIsImmediate) {
  std::vector<std::string> log;
  Scope scope;
  EXPECT_TRUE(loop.run(close_scope(&scope, &log)).ok());
  EXPECT_EQ(log, (std::vector<std::string>{"closed@0"}));
}

Task<Result<void>> join_scope(Scope* scope) {
  co_return co_await scope->join();
}

// A cancelled join still waits for the children: they are stopped, not abandoned.
TEST_F(AsyncTest, CancellingAJoinStopsTheChildrenAndStillWaits) {
  std::vector<std::string> log;
  Scope scope;
  ASSERT_TRUE(scope.spawn(note_after(&log, 1h, "never")).ok());
  Result<void> joined = loop.run(with_timeout(join_scope(&scope), 5ms));
  ASSERT_FALSE(joined.ok());
  EXPECT_EQ(joined.error().code, Errc::kTimedOut);
  EXPECT_EQ(scope.size(), 0u);
  EXPECT_EQ(now(), 5 * kMs);
  EXPECT_TRUE(log.empty());
}

Task<void> spawn_children(Scope* scope, int count, int* finished) {
  for (int i = 0; i < count; ++i) {
    Result<void> spawned = scope->spawn([](int* done) -> Task<void> {
      (void)co_await yield_now();
      ++*done;
    }(finished));
    MORGANA_ASSERT(spawned.ok());
  }
  co_return;
}

TEST_F(AsyncTest, ScopeOfAScopeChildStopsWithItsParent) {
  Scope outer;
  Scope inner(loop, outer.stop_token());
  std::vector<std::string> log;
  ASSERT_TRUE(inner.spawn(note_after(&log, 1s, "inner")).ok());
  loop.run_for(1ms);
  outer.request_stop();
  loop.run_until_idle();
  EXPECT_EQ(inner.size(), 0u);
  EXPECT_TRUE(log.empty());
}

TEST_F(AsyncTest, HundredThousandConcurrentTasks) {
  constexpr int kTasks = 100'000;
  Event go;
  Scope scope;
  std::vector<int> codes(kTasks, -1);
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_TRUE(scope
                    .spawn([](Event* event, int* code) -> Task<void> {
                      *code = co_await wait_code(event);
                    }(&go, &codes[i]))
                    .ok());
  }
  loop.run_until_idle();
  EXPECT_EQ(scope.size(), size_t(kTasks));  // all suspended on the event
  go.set();
  loop.run_until_idle();
  EXPECT_EQ(scope.size(), 0u);
  for (int code : codes) ASSERT_EQ(code, 0);
}

TEST_F(AsyncTest, TaskSpawningInALoopDoesNotStarveOthers) {
  int finished = 0;
  std::vector<std::string> log;
  spawn(note_after(&log, 0ms, "other"));
  spawn(spawn_children(&loop.root(), 1000, &finished));
  loop.run_until_idle();
  EXPECT_EQ(finished, 1000);
  EXPECT_EQ(log.size(), 1u);
}

// --- Destruction order: nothing leaks, nothing is resumed, nothing is used after free ----

struct Tracker {
  int* alive;
  explicit Tracker(int* counter) : alive(counter) { ++*alive; }
  ~Tracker() { --*alive; }
};

Task<void> hold_and_sleep(int* alive, Duration d) {
  Tracker tracker(alive);
  (void)co_await sleep_for(d);
}

Task<void> hold_and_wait(int* alive, Event* event) {
  Tracker tracker(alive);
  (void)co_await event->wait();
}

Task<void> hold_and_receive(int* alive, Channel<std::string>* channel) {
  Tracker tracker(alive);
  (void)co_await channel->receive();
}

Task<void> hold_nested(int* alive, Event* event) {
  Tracker tracker(alive);
  co_await hold_and_wait(alive, event);
}

TEST(Destruction, LoopDestroyedWithSuspendedTasksFreesThemAll) {
  int alive = 0;
  Event event;  // outlives the loop
  {
    VirtualBackend backend;
    Loop loop(backend);
    auto channel = std::make_unique<Channel<std::string>>(1);
    spawn(hold_and_sleep(&alive, 1h));
    spawn(hold_and_wait(&alive, &event));
    spawn(hold_nested(&alive, &event));
    spawn(hold_and_receive(&alive, channel.get()));
    spawn(hold_and_sleep(&alive, 2h));  // never started: destroyed unstarted
    loop.run_for(1ms);
    spawn(hold_and_sleep(&alive, 3h));
    EXPECT_EQ(alive, 6);
    channel.reset();  // wakes its receiver with kCancelled (scheduled, never run)
  }
  EXPECT_EQ(alive, 0);
  // The event forgot the waiters whose frames went away.
  event.set();
}

Task<void> own_event_and_wait(int* alive, Event** out) {
  Tracker tracker(alive);
  Event mine;
  *out = &mine;
  (void)co_await mine.wait();
}

// Frames reference each other's objects: whichever is destroyed first must not leave the
// other pointing at freed memory.
TEST(Destruction, WaitersOnAnObjectInAnotherFrame) {
  int alive = 0;
  {
    VirtualBackend backend;
    Loop loop(backend);
    Event* inner = nullptr;
    spawn(own_event_and_wait(&alive, &inner));
    loop.run_until_idle();
    ASSERT_NE(inner, nullptr);
    spawn(hold_and_wait(&alive, inner));
    spawn(hold_and_wait(&alive, inner));
    loop.run_until_idle();
    EXPECT_EQ(alive, 3);
  }
  EXPECT_EQ(alive, 0);
}

TEST(Destruction, ScopeDestroyedBeforeItsChildrenEnd) {
  int alive = 0;
  VirtualBackend backend;
  Loop loop(backend);
  {
    Scope scope;
    Event event;
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(scope.spawn(hold_and_wait(&alive, &event)).ok());
    ASSERT_TRUE(scope.spawn(hold_and_sleep(&alive, 1h)).ok());
    loop.run_for(1ms);
    EXPECT_EQ(alive, 11);
  }
  EXPECT_EQ(alive, 0);
  EXPECT_TRUE(loop.timers().empty());
  loop.run_until_idle();
}

}  // namespace
}  // namespace morgana::async::testing
