// Event, Semaphore and StopSource: waking, ordering, and cancellation of each wait.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fixture.h"

namespace morgana::async::testing {
namespace {

Task<void> record_wait(Event* event, std::vector<std::string>* log, std::string name) {
  Result<void> r = co_await event->wait();
  log->push_back(name + (r.ok() ? ":ok" : std::string(":") + errc_name(r.error().code)));
}

TEST_F(AsyncTest, EventWakesEveryWaiterOnceInOrder) {
  Event event;
  std::vector<std::string> log;
  for (const char* name : {"a", "b", "c"}) spawn(record_wait(&event, &log, name));
  loop.run_until_idle();
  EXPECT_TRUE(log.empty());
  event.set();
  event.set();  // already set: wakes nobody twice
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"a:ok", "b:ok", "c:ok"}));
}

TEST_F(AsyncTest, SetEventCompletesWaitsAtOnceUntilReset) {
  Event event;
  event.set();
  EXPECT_EQ(loop.run(wait_code(&event)), 0);
  event.reset();
  EXPECT_FALSE(event.is_set());
  std::vector<std::string> log;
  spawn(record_wait(&event, &log, "x"));
  loop.run_until_idle();
  EXPECT_TRUE(log.empty());
  event.set();
  loop.run_until_idle();
  EXPECT_EQ(log.size(), 1u);
}

TEST_F(AsyncTest, CancelledEventWaitLeavesTheEventAlone) {
  Event event;
  std::vector<std::string> log;
  Scope scope;
  ASSERT_TRUE(scope.spawn(record_wait(&event, &log, "cancelled")).ok());
  spawn(record_wait(&event, &log, "kept"));
  loop.run_until_idle();
  scope.request_stop();
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"cancelled:cancelled"}));
  EXPECT_FALSE(event.is_set());
  event.set();
  loop.run_until_idle();
  EXPECT_EQ(log.back(), "kept:ok");
}

// Woken and then cancelled before it runs again: the wake wins.
TEST_F(AsyncTest, EventWakeBeforeStopWins) {
  Event event;
  std::vector<std::string> log;
  Scope scope;
  ASSERT_TRUE(scope.spawn(record_wait(&event, &log, "w")).ok());
  loop.run_until_idle();
  event.set();
  scope.request_stop();
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"w:ok"}));
}

TEST_F(AsyncTest, DestroyedEventWakesItsWaitersWithCancelled) {
  std::vector<std::string> log;
  {
    Event event;
    spawn(record_wait(&event, &log, "orphan"));
    loop.run_until_idle();
  }
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"orphan:cancelled"}));
}

Task<void> use_permit(Semaphore* semaphore, std::vector<std::string>* log, std::string name,
                      Duration hold) {
  Result<void> r = co_await semaphore->acquire();
  if (!r.ok()) {
    log->push_back(name + ":" + errc_name(r.error().code));
    co_return;
  }
  log->push_back(name + "+" + std::to_string(now() / kMs));
  (void)co_await sleep_for(hold);
  semaphore->release();
}

TEST_F(AsyncTest, SemaphoreBoundsConcurrencyAndServesInOrder) {
  Semaphore semaphore(2);
  std::vector<std::string> log;
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    spawn(use_permit(&semaphore, &log, name, 10ms));
  }
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"a+0", "b+0", "c+10", "d+10", "e+20"}));
  EXPECT_EQ(semaphore.available(), 2u);
}

TEST_F(AsyncTest, SemaphoreNoBargingPastWaiters) {
  Semaphore semaphore(0);
  std::vector<std::string> log;
  spawn(use_permit(&semaphore, &log, "waiter", 1ms));
  loop.run_until_idle();
  semaphore.release();  // handed to the waiter, not left in the pool
  EXPECT_FALSE(semaphore.try_acquire());
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"waiter+0"}));
  EXPECT_TRUE(semaphore.try_acquire());
}

TEST_F(AsyncTest, CancelledAcquireTakesNoPermit) {
  Semaphore semaphore(0);
  std::vector<std::string> log;
  Scope scope;
  ASSERT_TRUE(scope.spawn(use_permit(&semaphore, &log, "x", 1ms)).ok());
  loop.run_until_idle();
  scope.request_stop();
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"x:cancelled"}));
  semaphore.release();
  EXPECT_EQ(semaphore.available(), 1u);
}

TEST(StopSource, CallbacksRunOnceInRegistrationOrder) {
  StopSource source;
  std::vector<int> order;
  struct Probe : StopCallback {
    std::vector<int>* order;
    int id;
  };
  Probe a, b, c;
  for (auto [probe, id] : {std::pair{&a, 1}, std::pair{&b, 2}, std::pair{&c, 3}}) {
    probe->order = &order;
    probe->id = id;
    probe->on_stop = [](StopCallback* cb) {
      auto* p = static_cast<Probe*>(cb);
      p->order->push_back(p->id);
    };
    EXPECT_TRUE(source.add(probe));
  }
  b.unregister();
  EXPECT_TRUE(source.request_stop());
  EXPECT_FALSE(source.request_stop());
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
  EXPECT_FALSE(source.add(&a));  // too late: the caller handles the stop itself
  EXPECT_TRUE(source.token().stop_requested());
}

TEST(StopSource, ChainedSourceStopsWithItsParent) {
  StopSource parent;
  StopSource child(parent.token());
  StopSource grandchild(child.token());
  EXPECT_FALSE(grandchild.stop_requested());
  child.request_stop();
  EXPECT_FALSE(parent.stop_requested());
  EXPECT_TRUE(grandchild.stop_requested());
  StopSource late(child.token());  // made after the stop: stopped from the start
  EXPECT_TRUE(late.stop_requested());
  StopSource other(parent.token());
  parent.request_stop();
  EXPECT_TRUE(other.stop_requested());
  EXPECT_FALSE(StopToken().stop_requested());
  EXPECT_FALSE(StopToken().stop_possible());
}

}  // namespace
}  // namespace morgana::async::testing
