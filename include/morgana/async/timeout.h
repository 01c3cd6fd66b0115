// with_timeout and with_deadline: run a task, and cancel it if it has not finished in time.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

#include "morgana/async/loop.h"
#include "morgana/async/stop.h"
#include "morgana/async/task.h"
#include "morgana/async/timer.h"
#include "morgana/rt/result.h"

namespace morgana::async {

namespace detail {

// A timer that requests a stop when it expires; disarmed when destroyed.
class StopTimer : Timer {
 public:
  StopTimer(StopSource& source, uint64_t deadline_ns) : source_(source) {
    Timer::fire = &StopTimer::on_fire;
    Loop::current().timers().insert(this, deadline_ns);
  }
  ~StopTimer() { Loop::current().timers().remove(this); }
  bool fired() const { return fired_; }

 private:
  static void on_fire(Timer* timer) {
    auto* self = static_cast<StopTimer*>(timer);
    self->fired_ = true;
    self->source_.request_stop();
  }
  StopSource& source_;
  bool fired_ = false;
};

template <typename T>
struct TimeoutResultOf {
  using type = Result<T>;
};
template <typename U>
struct TimeoutResultOf<Result<U>> {
  using type = Result<U>;
};

inline Error timed_out() {
  return Error{Errc::kTimedOut, "timed out"};
}

}  // namespace detail

// Task<T> -> Result<T>, Task<void> -> Result<void>, Task<Result<U>> -> Result<U>.
template <typename T>
using TimeoutResult = typename detail::TimeoutResultOf<T>::type;

// Runs `task` observing a stop source that the deadline (or the awaiter's own stop)
// triggers, and always waits for it to end; exactly once. What it yields:
// - Task<Result<U>>: the task's result if it succeeded, even when the deadline passed
//   while it was finishing (a value already received is never thrown away); kTimedOut if
//   it failed after the deadline passed (typically the kCancelled of its interrupted
//   wait); otherwise its error.
// - Task<T> and Task<void>: kTimedOut if the deadline passed before the task ended,
//   else its value; such a task cannot say whether it finished its work, so use a Result
//   when the value must not be lost.
// The deadline's timer is armed before the task starts, so a timer of the task's own
// with the same deadline fires after it: the race resolves as a timeout, in every run.
namespace detail {
// One coroutine for both: the deadline of a timeout is taken when the task starts (tasks
// are lazy), not when with_timeout is called.
template <typename T>
Task<TimeoutResult<T>> run_with_deadline(Task<T> task, bool relative, int64_t ns) {
  const uint64_t deadline = relative ? deadline_after(Duration(ns)) : uint64_t(ns);
  StopSource stop(co_await current_stop_token());
  StopTimer timer(stop, deadline);
  if constexpr (std::is_void_v<T>) {
    co_await with_stop_token(std::move(task), stop.token());
    if (timer.fired()) co_return timed_out();
    co_return ok();
  } else if constexpr (kIsResult<T>) {
    T result = co_await with_stop_token(std::move(task), stop.token());
    if (!result.ok() && timer.fired()) co_return timed_out();
    co_return std::move(result);
  } else {
    T value = co_await with_stop_token(std::move(task), stop.token());
    if (timer.fired()) co_return timed_out();
    co_return std::move(value);
  }
}
}  // namespace detail

template <typename T>
Task<TimeoutResult<T>> with_deadline(Task<T> task, uint64_t deadline_ns) {
  const uint64_t clamped = deadline_ns >= kNever ? kNever - 1 : deadline_ns;
  return detail::run_with_deadline(std::move(task), false, int64_t(clamped));
}

// As with_deadline, `timeout` from when the returned task starts.
template <typename T>
Task<TimeoutResult<T>> with_timeout(Task<T> task, Duration timeout) {
  return detail::run_with_deadline(std::move(task), true, timeout.count());
}

}  // namespace morgana::async
