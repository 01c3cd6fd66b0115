// The event loop: one per image (DESIGN.md §1.3). It runs ready coroutines, fires timers
// and sleeps in the platform's yield(deadline) until the earliest timer or a device is
// ready. Also the awaits that belong to it: sleep_for, sleep_until, yield_now and
// wait_readable.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "morgana/async/list.h"
#include "morgana/async/stop.h"
#include "morgana/async/task.h"
#include "morgana/async/timer.h"
#include "morgana/platform/platform.h"
#include "morgana/rt/assert.h"
#include "morgana/rt/result.h"

namespace morgana::async {

using Duration = std::chrono::nanoseconds;
inline constexpr uint64_t kNever = UINT64_MAX;  // a deadline that never comes

// What the loop needs from below: a clock, a way to sleep, a place for its log lines.
// A small interface rather than a template parameter so that the runtime compiles once
// and tests choose virtual time at run time; one indirect call per sleep is nothing next
// to the sleep itself.
class Backend {
 public:
  // Nanoseconds on a monotonic clock.
  virtual uint64_t now_ns() = 0;
  // Sleeps until now_ns() >= deadline_ns or a device is ready; returns the ready set
  // (platform::yield's contract; a past deadline polls).
  virtual platform::ReadySet wait(uint64_t deadline_ns) = 0;
  // One line for the image's log (the console on a real platform).
  virtual void log(std::string_view line) = 0;

 protected:
  ~Backend() = default;
};

// The real platform: platform::monotonic_ns, platform::yield, platform::console_write.
Backend& system_backend();

class Loop;
class Scope;

namespace detail {

// An entry in the loop's run queue: a coroutine to resume.
struct Runnable : ListNode {
  std::coroutine_handle<> handle;
};

// A Scope's request to start the tasks spawned into it (a Runnable without a handle).
struct ScopeStart : Runnable {
  Scope* scope = nullptr;
};

// A suspended await that the runtime wakes: lives in the awaiter, so in the frame of the
// coroutine that waits. Its list link holds it in whatever it waits on (an Event's
// waiters, a device) and then in the run queue; its StopCallback is registered in the
// task's stop source while it waits. Destroying it unlinks both.
struct Waiter : Runnable, StopCallback {
  // 0 (woken normally) or the Errc the await ends with.
  uint16_t status = 0;

  // Waits in `list` (may be null: the caller keeps it elsewhere, e.g. a timer),
  // observing `stop`. Call only after checking stop_requested().
  void park(List* list, std::coroutine_handle<> caller, StopSource* stop,
            void (*on_stop)(StopCallback*) = &Waiter::cancel_on_stop) {
    handle = caller;
    if (list != nullptr) list->push_back(this);
    if (stop != nullptr) {
      StopCallback::on_stop = on_stop;
      stop->add(this);
    }
  }
  // Leaves whatever it waits on and joins the run queue, exactly once per park.
  void wake(uint16_t with_status = 0);
  static void cancel_on_stop(StopCallback* callback) {
    static_cast<Waiter*>(callback)->wake(static_cast<uint16_t>(Errc::kCancelled));
  }
  static Waiter* from(ListNode* node) { return static_cast<Waiter*>(static_cast<Runnable*>(node)); }

  Result<void> result() const;
};

// True (and `status` set to kCancelled) when `stop` has been requested: every await in
// the runtime is a cancellation point, even one that could complete at once.
inline bool cancelled_before_wait(Waiter& waiter, StopSource* stop) {
  if (stop == nullptr || !stop->stop_requested()) return false;
  waiter.status = static_cast<uint16_t>(Errc::kCancelled);
  return true;
}

}  // namespace detail

class Loop {
 public:
  // While the loop runs with nothing ready, it still polls devices this often when
  // tasks wait for them, so a stream of ready tasks cannot starve device input.
  static constexpr uint64_t kBusyPollIntervalNs = 1'000'000;

  struct Stats {
    uint64_t resumed = 0;       // run-queue entries resumed
    uint64_t timers_fired = 0;  // timers that expired
    uint64_t waits = 0;         // calls to Backend::wait that could sleep
    uint64_t polls = 0;         // calls to Backend::wait with a past deadline
  };

  // One loop exists at a time (one per image); it is what Loop::current() returns.
  explicit Loop(Backend& backend);
  Loop();  // on system_backend()
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  // Destroys every task still spawned on it without resuming them (their awaits
  // unregister themselves). Every other Scope must be gone by then.
  ~Loop();

  static Loop& current() {
    MORGANA_ASSERT(current_ != nullptr);
    return *current_;
  }
  static bool exists() { return current_ != nullptr; }

  // Runs until `main` finishes and returns its value. Tasks spawned on the loop keep
  // running meanwhile; those still alive afterwards stay suspended (a later run picks
  // them up, the destructor destroys them). `main` observes the loop's stop token.
  // Panics if `main` can never finish (nothing runnable, no timer, no device wait).
  template <typename T>
  T run(Task<T> main);
  // Runs until nothing is runnable and no timer is armed (device waits do not count).
  void run_until_idle();
  // Runs until the clock reaches `deadline_ns` (sleeping when there is nothing to do).
  void run_until(uint64_t deadline_ns);
  void run_for(Duration duration);

  uint64_t now() { return backend_.now_ns(); }
  Backend& backend() { return backend_; }
  // The root scope: what async::spawn() spawns into.
  Scope& root() { return *root_; }
  // Asks every task spawned on the loop, and the main task, to stop.
  void request_stop();
  StopToken stop_token();
  const Stats& stats() const { return stats_; }

  // For the runtime's awaiters.
  void schedule(detail::Runnable* runnable) { run_queue_.push_back(runnable); }
  detail::TimerHeap& timers() { return timers_; }
  void wait_for_device(platform::DeviceId device, detail::Waiter* waiter);

 private:
  friend class Scope;
  enum class Mode { kMain, kIdle, kUntil };

  void run_loop(Mode mode, std::coroutine_handle<> main, uint64_t until);
  void run_batch();
  void fire_timers(uint64_t now);
  bool has_device_waiters();
  void dispatch(platform::ReadySet ready);
  StopSource* root_stop();

  static inline Loop* current_ = nullptr;

  Backend& backend_;
  detail::List run_queue_;
  detail::Runnable batch_end_;  // marks the end of the batch being run
  detail::TimerHeap timers_;
  detail::List devices_[64];  // waiters per DeviceId (one bit each in the ReadySet)
  uint64_t device_mask_ = 0;  // devices whose list may be non-empty
  uint64_t last_poll_ns_ = 0;
  bool running_ = false;
  std::size_t scopes_ = 0;  // live scopes other than the root
  Stats stats_;
  std::unique_ptr<Scope> root_;
};

template <typename T>
T Loop::run(Task<T> main) {
  MORGANA_ASSERT(main.valid() && !main.done());
  main.handle().promise().stop = root_stop();
  detail::Runnable start;
  start.handle = main.handle();
  schedule(&start);
  run_loop(Mode::kMain, main.handle(), 0);
  return main.take_result();
}

inline void detail::Waiter::wake(uint16_t with_status) {
  Runnable::unlink();
  StopCallback::unregister();
  status = with_status;
  Loop::current().schedule(this);
}

// --- Awaits of the loop ------------------------------------------------------------------
//
// Each returns Result<void>: success, or kCancelled when the task's stop token fires
// before or while it waits (docs/async.md lists what each cancellation leaves behind).

// The loop's clock: virtual time in tests, monotonic_ns() on a platform.
inline uint64_t now() {
  return Loop::current().now();
}

// A deadline `duration` from now (a negative one is now; saturates instead of wrapping).
inline uint64_t deadline_after(Duration duration) {
  const uint64_t start = now();
  const int64_t ns = duration.count();
  if (ns <= 0) return start;
  return uint64_t(ns) >= kNever - start ? kNever - 1 : start + uint64_t(ns);
}

class [[nodiscard]] SleepAwaiter : detail::Waiter, detail::Timer {
 public:
  explicit SleepAwaiter(uint64_t deadline_ns) : deadline_(deadline_ns) {}
  ~SleepAwaiter();
  bool await_ready() const noexcept { return false; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    return suspend(caller, detail::stop_source_of(caller));
  }
  Result<void> await_resume() const { return result(); }

 private:
  bool suspend(std::coroutine_handle<> caller, StopSource* stop);
  static void on_fire(detail::Timer* timer);
  static void on_stop(StopCallback* callback);
  uint64_t deadline_;
};

// Resumes once the loop's clock reaches `deadline_ns`. A deadline already past yields
// (the task goes to the back of the run queue) instead of returning at once.
inline SleepAwaiter sleep_until(uint64_t deadline_ns) {
  return SleepAwaiter(deadline_ns);
}
inline SleepAwaiter sleep_for(Duration duration) {
  return SleepAwaiter(deadline_after(duration));
}

// Lets every other ready task run once, then continues.
inline SleepAwaiter yield_now() {
  return SleepAwaiter(0);
}

// Resumes when the platform reports device `device` ready (input pending): the next
// yield whose ready set has its bit. It reads nothing: read until kAgain, then wait.
class [[nodiscard]] DeviceAwaiter : detail::Waiter {
 public:
  explicit DeviceAwaiter(platform::DeviceId device) : device_(device) {}
  bool await_ready() const noexcept { return false; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    StopSource* stop = detail::stop_source_of(caller);
    if (detail::cancelled_before_wait(*this, stop)) return false;
    park(nullptr, caller, stop);
    Loop::current().wait_for_device(device_, this);
    return true;
  }
  Result<void> await_resume() const { return result(); }

 private:
  platform::DeviceId device_;
};

inline DeviceAwaiter wait_readable(platform::DeviceId device) {
  return DeviceAwaiter(device);
}

}  // namespace morgana::async
