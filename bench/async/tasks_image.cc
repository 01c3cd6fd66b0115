// tasks_image: what tasks cost inside an image. Creates and completes tasks (awaited one
// by one, and spawned all at once), then parks tasks on an Event to see how many
// suspended tasks fit: prints ns per task and heap bytes per task (heap_stats()).
//
//   morgana-hvt --mem=2048 tasks_image.hvt [--tasks=N] [--suspended=N]
//   tasks_image.unix -- [--tasks=N] [--suspended=N]
// Defaults: 1,000,000 each. Results are recorded in bench/RESULTS.md.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "morgana/app.h"
#include "morgana/app_options.h"
#include "morgana/async/async.h"
#include "morgana/platform/platform.h"
#include "morgana/rt/heap.h"

namespace {

namespace async = morgana::async;
namespace platform = morgana::platform;
using async::Task;
using ull = unsigned long long;

Task<uint64_t> one() {
  co_return 1;
}

Task<void> nothing() {
  co_return;
}

Task<void> park(async::Event* event) {
  (void)co_await event->wait();
}

// Awaited one after another: create, run, complete, destroy.
Task<uint64_t> await_many(uint64_t count) {
  uint64_t sum = 0;
  for (uint64_t i = 0; i < count; ++i) sum += co_await one();
  co_return sum;
}

double ns_per(uint64_t ns, uint64_t count) {
  return count == 0 ? 0.0 : double(ns) / double(count);
}

}  // namespace

int app_main(int argc, char** argv) {
  uint64_t tasks = 1'000'000;
  uint64_t suspended = 1'000'000;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    if (!morgana::app::parse_uint_option(arg, "--tasks=", tasks) ||
        !morgana::app::parse_uint_option(arg, "--suspended=", suspended)) {
      std::printf("tasks_image: bad option '%s' (--tasks=N, --suspended=N)\n", argv[i]);
      return 2;
    }
  }

  async::Loop loop;
  const uint64_t base = morgana::rt::heap_stats().bytes_in_use;

  // 1. Awaited one by one.
  uint64_t start = platform::monotonic_ns();
  const uint64_t sum = loop.run(await_many(tasks));
  uint64_t elapsed = platform::monotonic_ns() - start;
  std::printf("awaited: %llu tasks created and completed in %.3f ms: %.1f ns per task\n", ull(sum),
              double(elapsed) / 1e6, ns_per(elapsed, tasks));

  // 2. Spawned all at once, then run by the loop: every frame is live at the peak. The
  // first round touches fresh heap pages (a page fault each, costly under KVM); the
  // second reuses them, which is the runtime's own cost.
  for (const char* round : {"cold", "warm"}) {
    start = platform::monotonic_ns();
    for (uint64_t i = 0; i < tasks; ++i) async::spawn(nothing());
    const uint64_t spawned_at = platform::monotonic_ns();
    const uint64_t heap_spawned = morgana::rt::heap_stats().bytes_in_use;
    loop.run_until_idle();
    elapsed = platform::monotonic_ns() - start;
    std::printf(
        "spawned (%s): %llu tasks in %.3f ms (spawn %.1f ns, start+complete %.1f ns): %.1f ns "
        "per task, %.1f heap bytes per task\n",
        round, ull(tasks), double(elapsed) / 1e6, ns_per(spawned_at - start, tasks),
        ns_per(elapsed - (spawned_at - start), tasks), ns_per(elapsed, tasks),
        ns_per(heap_spawned - base, tasks));
  }

  // 3. Spawned in batches of 1000, as a server spawns handlers: frames come back to the
  // frame pool and are reused straight away.
  start = platform::monotonic_ns();
  for (uint64_t done = 0; done < tasks; done += 1000) {
    for (int i = 0; i < 1000; ++i) async::spawn(nothing());
    loop.run_until_idle();
  }
  elapsed = platform::monotonic_ns() - start;
  std::printf("spawned (batches of 1000): %llu tasks in %.3f ms: %.1f ns per task\n",
              ull((tasks + 999) / 1000 * 1000), double(elapsed) / 1e6,
              ns_per(elapsed, (tasks + 999) / 1000 * 1000));

  // 4. Parked: each task waits on one Event; how much does a suspended task cost?
  async::Event event;
  const uint64_t before = morgana::rt::heap_stats().bytes_in_use;
  start = platform::monotonic_ns();
  for (uint64_t i = 0; i < suspended; ++i) async::spawn(park(&event));
  loop.run_until_idle();
  elapsed = platform::monotonic_ns() - start;
  const uint64_t parked = morgana::rt::heap_stats().bytes_in_use;
  std::printf("suspended: %llu tasks parked on an Event in %.3f ms (%.1f ns per task)\n",
              ull(suspended), double(elapsed) / 1e6, ns_per(elapsed, suspended));
  std::printf("suspended: %.1f heap bytes per suspended task; %.2f MiB for all\n",
              ns_per(parked - before, suspended), double(parked - before) / (1024.0 * 1024.0));
  start = platform::monotonic_ns();
  event.set();
  loop.run_until_idle();
  elapsed = platform::monotonic_ns() - start;
  std::printf("suspended: all woken and completed in %.3f ms (%.1f ns per task), %zu left\n",
              double(elapsed) / 1e6, ns_per(elapsed, suspended), loop.root().size());

  const morgana::rt::HeapStats heap = morgana::rt::heap_stats();
  std::printf("heap: peak %.2f MiB, in use now %.2f MiB, heap size %.2f MiB\n",
              double(heap.peak_bytes_in_use) / (1024.0 * 1024.0),
              double(heap.bytes_in_use) / (1024.0 * 1024.0),
              double(heap.heap_size) / (1024.0 * 1024.0));
  return 0;
}
