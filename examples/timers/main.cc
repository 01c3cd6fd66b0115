// timers: several tasks running concurrently on the event loop, with output that is the
// same on every run: tickers, a timeout, a race, a channel with back-pressure, and a scope
// that waits for its workers on shutdown. Used by tests/integration/timers.sh.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "morgana/app.h"
#include "morgana/async/async.h"
#include "morgana/platform/platform.h"

namespace {

namespace async = morgana::async;
using async::Task;
using morgana::Errc;
using morgana::Error;
using morgana::Result;
using namespace std::chrono_literals;

constexpr uint64_t kMs = 1'000'000;

// Ticks `count` times, every `period` after `start`. Deadlines are absolute (start + k *
// period), so ticks do not drift, and two tickers due at the same instant fire in the
// order they were armed: the output is the same on every run.
Task<void> ticker(const char* name, uint64_t start, uint64_t period, int count) {
  for (int tick = 1; tick <= count; ++tick) {
    if (!(co_await async::sleep_until(start + uint64_t(tick) * period)).ok()) co_return;
    std::printf("%s: tick %d at %llu ms\n", name, tick,
                static_cast<unsigned long long>(uint64_t(tick) * period / kMs));
  }
}

Task<Result<int>> slow_job() {
  Result<void> slept = co_await async::sleep_for(100ms);
  if (!slept.ok()) {
    std::printf("slow job: interrupted (%s)\n", morgana::errc_name(slept.error().code));
    co_return slept.error();
  }
  co_return 42;
}

Task<const char*> runner(const char* name, async::Duration time) {
  Result<void> ran = co_await async::sleep_for(time);
  if (!ran.ok()) std::printf("%s: stopped (%s)\n", name, morgana::errc_name(ran.error().code));
  co_return name;
}

Task<void> producer(async::Channel<int>* channel, int count) {
  for (int i = 1; i <= count; ++i) {
    if (!(co_await channel->send(i)).ok()) co_return;
    std::printf("producer: sent %d\n", i);
  }
  channel->close();
}

Task<void> consumer(async::Channel<int>* channel) {
  for (;;) {
    Result<int> item = co_await channel->receive();
    if (!item.ok()) {
      std::printf("consumer: channel closed\n");
      co_return;
    }
    std::printf("consumer: got %d\n", *item);
    (void)co_await async::sleep_for(10ms);  // slower than the producer
  }
}

Task<Result<void>> worker(int id, async::Duration time) {
  Result<void> slept = co_await async::sleep_for(time);
  if (!slept.ok()) co_return slept.error();
  std::printf("worker %d: done\n", id);
  co_return morgana::ok();
}

Task<Result<void>> broken_worker() {
  co_return Error{Errc::kIo, "the demo's deliberately failing worker"};
}

Task<int> demo() {
  std::printf("timers: start\n");

  // 1. Three tickers side by side.
  const uint64_t start = async::now();
  co_await async::when_all(ticker("fast", start, 30 * kMs, 5), ticker("medium", start, 50 * kMs, 3),
                           ticker("slow", start, 70 * kMs, 2));

  // 2. A timeout that fires: the job is cancelled, with_timeout reports kTimedOut.
  const uint64_t before = async::now();
  Result<int> job = co_await async::with_timeout(slow_job(), 25ms);
  const bool waited = async::now() - before >= 25 * kMs;
  std::printf("timeout: %s after 25 ms (waited long enough: %s)\n",
              job.ok() ? "finished" : morgana::errc_name(job.error().code), waited ? "yes" : "no");

  // 3. A race: the first to finish wins, the loser is cancelled.
  async::AnyOf<const char*> winner =
      co_await async::when_any(runner("tortoise", 40ms), runner("hare", 20ms));
  std::printf("race: %s won (argument %zu)\n", winner.value, winner.index);

  // 4. Back-pressure: a channel of two between a fast producer and a slow consumer.
  async::Channel<int> channel(2);
  co_await async::when_all(producer(&channel, 5), consumer(&channel));

  // 5. Shutdown that waits for in-flight work; a failure is reported, not lost.
  async::Scope scope;
  for (int id = 1; id <= 3; ++id) {
    if (!scope.spawn(worker(id, async::Duration(id * 15 * kMs))).ok()) co_return 1;
  }
  if (!scope.spawn(broken_worker()).ok()) co_return 1;
  Result<void> closed = co_await scope.close();
  std::printf("scope: closed (%s), %llu failure(s) reported\n", closed.ok() ? "ok" : "cancelled",
              static_cast<unsigned long long>(scope.failures()));

  std::printf("timers: done\n");
  co_return 0;
}

}  // namespace

int app_main(int, char**) {
  async::Loop loop;
  return loop.run(demo());
}
