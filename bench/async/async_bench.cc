// Google Benchmark drivers for the async runtime: task create+complete (awaited and
// spawned), awaiting something already ready, a timer insert+cancel among many armed
// timers, channel send/receive with and without suspension, and a switch between tasks.
// Run: build/bench/async/async_bench (docs in bench/RESULTS.md).
#include <benchmark/benchmark.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "morgana/async/async.h"
#include "morgana/async/virtual_backend.h"

namespace morgana {
// The runtime panics through this; a benchmark has nothing better to do than stop.
void panic(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::abort();
}
}  // namespace morgana

namespace {

using namespace morgana;
using namespace morgana::async;

Task<int> answer() {
  co_return 42;
}

Task<void> nothing() {
  co_return;
}

// Create a task, run it to its end, destroy it: one co_await of a task that finishes
// without suspending.
Task<void> await_tasks(benchmark::State* state) {
  for (auto _ : *state) {
    int value = co_await answer();
    benchmark::DoNotOptimize(value);
  }
}

void BM_TaskCreateAwaitComplete(benchmark::State& state) {
  VirtualBackend backend;
  Loop loop(backend);
  loop.run(await_tasks(&state));
}
BENCHMARK(BM_TaskCreateAwaitComplete);

// Spawned (detached) tasks: spawn a batch, let the loop start and finish them all.
void BM_TaskSpawnComplete(benchmark::State& state) {
  VirtualBackend backend;
  Loop loop(backend);
  const int batch = int(state.range(0));
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) spawn(nothing());
    loop.run_until_idle();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_TaskSpawnComplete)->Arg(1)->Arg(1000)->Arg(100'000);

// An await that is ready at once (a set Event): the cost of a co_await that does not
// suspend, cancellation check included.
Task<void> await_ready_event(benchmark::State* state, Event* event) {
  for (auto _ : *state) {
    Result<void> r = co_await event->wait();
    benchmark::DoNotOptimize(r);
  }
}

void BM_AwaitReadyEvent(benchmark::State& state) {
  VirtualBackend backend;
  Loop loop(backend);
  Event event;
  event.set();
  loop.run(await_ready_event(&state, &event));
}
BENCHMARK(BM_AwaitReadyEvent);

// Arm one timer and cancel it while `range(0)` others are armed (random deadlines).
void BM_TimerInsertCancel(benchmark::State& state) {
  const int background = int(state.range(0));
  std::vector<detail::Timer> timers(size_t(background) + 1);
  detail::TimerHeap heap;
  std::mt19937_64 random(1);
  for (int i = 0; i < background; ++i) heap.insert(&timers[size_t(i)], random() % 1'000'000'000);
  detail::Timer& probe = timers.back();
  uint64_t deadline = 0;
  for (auto _ : state) {
    heap.insert(&probe, 500'000'000 + (deadline++ & 1023));
    heap.remove(&probe);
  }
  benchmark::DoNotOptimize(heap.size());
}
BENCHMARK(BM_TimerInsertCancel)->Arg(0)->Arg(1000)->Arg(100'000);

// The same through the public API: with_timeout around a task that finishes at once
// (stop source, timer armed and disarmed, two frames).
Task<void> timeouts(benchmark::State* state) {
  for (auto _ : *state) {
    Result<int> r = co_await with_timeout(answer(), std::chrono::seconds(1));
    benchmark::DoNotOptimize(r);
  }
}

void BM_WithTimeoutNotFiring(benchmark::State& state) {
  VirtualBackend backend;
  Loop loop(backend);
  loop.run(timeouts(&state));
}
BENCHMARK(BM_WithTimeoutNotFiring);

// Send then receive in one task through a buffered channel: neither suspends.
Task<void> send_receive(benchmark::State* state, Channel<int>* channel) {
  int i = 0;
  for (auto _ : *state) {
    Result<void> sent = co_await channel->send(i++);
    Result<int> got = co_await channel->receive();
    benchmark::DoNotOptimize(sent);
    benchmark::DoNotOptimize(got);
  }
}

void BM_ChannelSendReceiveBuffered(benchmark::State& state) {
  VirtualBackend backend;
  Loop loop(backend);
  Channel<int> channel(64);
  loop.run(send_receive(&state, &channel));
}
BENCHMARK(BM_ChannelSendReceiveBuffered);

// A producer and a consumer through a channel of capacity `range(0)`: with capacity 1
// every item suspends one side and resumes the other through the run queue.
Task<void> consume_all(Channel<int>* channel) {
  for (;;) {
    Result<int> got = co_await channel->receive();
    if (!got.ok()) co_return;
    benchmark::DoNotOptimize(got);
  }
}

Task<void> produce_all(benchmark::State* state, Channel<int>* channel) {
  int i = 0;
  for (auto _ : *state) (void)co_await channel->send(i++);
  channel->close();
}

void BM_ChannelProducerConsumer(benchmark::State& state) {
  VirtualBackend backend;
  Loop loop(backend);
  Channel<int> channel(size_t(state.range(0)));
  spawn(consume_all(&channel));
  loop.run(produce_all(&state, &channel));
  loop.run_until_idle();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ChannelProducerConsumer)->Arg(1)->Arg(64);

// Two tasks taking turns with yield_now: one switch per iteration.
Task<void> yielder(const bool* stop) {
  while (!*stop) (void)co_await yield_now();
}

Task<void> yield_loop(benchmark::State* state, bool* stop) {
  for (auto _ : *state) (void)co_await yield_now();
  *stop = true;
}

void BM_SwitchByYield(benchmark::State& state) {
  VirtualBackend backend;
  Loop loop(backend);
  bool stop = false;
  spawn(yielder(&stop));
  loop.run(yield_loop(&state, &stop));
  loop.run_until_idle();
}
BENCHMARK(BM_SwitchByYield);

}  // namespace

BENCHMARK_MAIN();
