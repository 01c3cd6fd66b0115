// Task<T>: the coroutine type of Morgana. Lazy (runs when awaited or spawned), move-only,
// finishes exactly once with a T (a fallible task returns Task<Result<T>>), and hands
// control to whoever awaited it by symmetric transfer, so await chains of any depth run
// in constant stack (in optimised builds; see docs/async.md).
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "morgana/async/frame_pool.h"
#include "morgana/async/list.h"
#include "morgana/async/stop.h"
#include "morgana/rt/assert.h"
#include "morgana/rt/result.h"

namespace morgana::async {

template <typename T = void>
class Task;

namespace detail {

template <typename T>
struct IsResult : std::false_type {};
template <typename U>
struct IsResult<Result<U>> : std::true_type {};
template <typename T>
inline constexpr bool kIsResult = IsResult<T>::value;

class PromiseBase;

// Told when a task that nobody awaits ends (a spawned task, a when_all child): returns
// the coroutine to continue with (std::noop_coroutine() to go back to the loop).
// `failure` is the error of a task whose Result failed, else null. May destroy the task.
struct Completion {
  std::coroutine_handle<> (*on_done)(Completion* self, PromiseBase& task, const Error* failure);
};

// Whether symmetric transfer compiles to a tail call here (see TaskAwaiter).
#if defined(__clang__) || (defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__))
inline constexpr bool kSymmetricTransfer = true;
#else
inline constexpr bool kSymmetricTransfer = false;
#endif

// Markers in PromiseBase::completion while an awaiter resumes its task with a plain call
// (builds without tail calls): the task is starting inline, or has finished inline.
inline Completion* starting_inline() {
  return reinterpret_cast<Completion*>(uintptr_t{1});
}
inline Completion* finished_inline() {
  return reinterpret_cast<Completion*>(uintptr_t{2});
}

// What every task's promise holds besides its value: 40 bytes.
class PromiseBase {
 public:
  static void* operator new(std::size_t size) { return frame_allocate(size); }
  static void operator delete(void* frame, std::size_t size) { frame_free(frame, size); }

  std::suspend_always initial_suspend() noexcept { return {}; }
  // Images have no exceptions; on the host one escaping a task is a bug all the same.
  void unhandled_exception() noexcept { panic("async: an exception escaped a task"); }

  // A spawned task's place in its Scope.
  ListNode link;
  // Awaited: the awaiting coroutine, resumed when this task ends. Not awaited
  // (completion set): this task's own frame, so its owner can start and destroy it.
  std::coroutine_handle<> handle;
  Completion* completion = nullptr;
  // The stop source this task observes (none when null); inherited from the awaiter.
  StopSource* stop = nullptr;
};

// The stop source an awaiting coroutine observes: its promise's when it is a Task.
template <typename P>
StopSource* stop_source_of(std::coroutine_handle<P> caller) {
  if constexpr (std::is_base_of_v<PromiseBase, P>) {
    return caller.promise().stop;
  } else {
    return nullptr;
  }
}

template <typename Promise>
struct FinalAwaiter {
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
    Promise& promise = self.promise();
    if (promise.completion == nullptr) {
      return promise.handle ? promise.handle : std::noop_coroutine();
    }
    if (promise.completion == starting_inline()) {
      // The awaiter is still inside resume(): let it continue without suspending.
      promise.completion = finished_inline();
      return std::noop_coroutine();
    }
    // `failure` lives on this stack, not in the frame the completion may destroy.
    if constexpr (kIsResult<typename Promise::value_type>) {
      if (!promise.value().ok()) {
        const Error failure = promise.value().error();
        return promise.completion->on_done(promise.completion, promise, &failure);
      }
    }
    return promise.completion->on_done(promise.completion, promise, nullptr);
  }
  void await_resume() const noexcept {}
};

template <typename T>
class Promise : public PromiseBase {
 public:
  using value_type = T;

  Promise() {}  // NOLINT: the union member is constructed by return_value
  ~Promise() {
    if (has_value_) value_.~T();
  }

  Task<T> get_return_object() noexcept;
  FinalAwaiter<Promise> final_suspend() noexcept { return {}; }

  // U defaults to T so that `co_return {a, b};` works.
  template <typename U = T>
  requires std::is_constructible_v<T, U&&>
  void return_value(U&& value) {
    new (&value_) T(std::forward<U>(value));
    has_value_ = true;
  }

  T& value() {
    MORGANA_ASSERT(has_value_);
    return value_;
  }

 private:
  union {
    T value_;
  };
  bool has_value_ = false;
};

template <>
class Promise<void> : public PromiseBase {
 public:
  using value_type = void;
  Task<void> get_return_object() noexcept;
  FinalAwaiter<Promise> final_suspend() noexcept { return {}; }
  void return_void() {}
};

// Starts the awaited task with the awaiting coroutine as its continuation, and either
// the awaiter's stop source (inherit) or a given one (with_stop_token).
//
// Two ways to do it. Where the compiler turns symmetric transfer into a tail call (g++
// at -O2 without AddressSanitizer; clang always), await_suspend returns the task's handle
// and the task's end returns ours: chains of any depth and loops of any length run in
// constant stack. Elsewhere each transfer would be a nested call, and a loop awaiting a
// million tasks that finish at once would overflow the stack; so there the awaiter calls
// resume() and, when the task finished inline, simply does not suspend. Deep chains still
// grow the stack in such builds (nothing avoids that without tail calls). The final
// awaiter understands both, so code built both ways links together safely.
template <typename T, bool kSymmetric = kSymmetricTransfer>
class TaskAwaiter;

template <typename T>
class TaskAwaiter<T, true> {
 public:
  TaskAwaiter(std::coroutine_handle<Promise<T>> task, bool inherit, StopSource* stop)
      : task_(task), inherit_(inherit), stop_(stop) {}

  bool await_ready() const noexcept { return false; }
  template <typename P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> caller) noexcept {
    Promise<T>& promise = task_.promise();
    promise.handle = caller;
    promise.stop = inherit_ ? stop_source_of(caller) : stop_;
    return task_;
  }
  T await_resume() {
    if constexpr (!std::is_void_v<T>) return std::move(task_.promise().value());
  }

 private:
  std::coroutine_handle<Promise<T>> task_;
  bool inherit_;
  StopSource* stop_;
};

template <typename T>
class TaskAwaiter<T, false> {
 public:
  TaskAwaiter(std::coroutine_handle<Promise<T>> task, bool inherit, StopSource* stop)
      : task_(task), inherit_(inherit), stop_(stop) {}

  bool await_ready() const noexcept { return false; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    Promise<T>& promise = task_.promise();
    promise.handle = caller;
    promise.stop = inherit_ ? stop_source_of(caller) : stop_;
    promise.completion = starting_inline();
    task_.resume();
    const bool finished = promise.completion == finished_inline();
    promise.completion = nullptr;  // from now on its end resumes us through `handle`
    return !finished;
  }
  T await_resume() {
    if constexpr (!std::is_void_v<T>) return std::move(task_.promise().value());
  }

 private:
  std::coroutine_handle<Promise<T>> task_;
  bool inherit_;
  StopSource* stop_;
};

}  // namespace detail

template <typename T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::Promise<T>;
  using value_type = T;

  Task() = default;  // empty: owns nothing
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  // Destroys the frame: an unstarted task never runs; a suspended one is torn down with
  // its locals (its awaits unregister themselves) and never resumes.
  ~Task() { reset(); }

  bool valid() const { return static_cast<bool>(handle_); }
  bool done() const { return handle_ && handle_.done(); }

  // `co_await task()` / `co_await std::move(task)`: runs it to completion, then yields
  // its value. Awaiting consumes the task, hence rvalues only.
  detail::TaskAwaiter<T> operator co_await() && noexcept {
    MORGANA_ASSERT(handle_ && !handle_.done());
    return detail::TaskAwaiter<T>(handle_, true, nullptr);
  }
  void operator co_await() & = delete;

  // For the runtime (spawn, when_all, Loop::run): the frame, and the value once done.
  std::coroutine_handle<promise_type> handle() const { return handle_; }
  std::coroutine_handle<promise_type> release() { return std::exchange(handle_, {}); }
  T take_result() {
    MORGANA_ASSERT(done());
    if constexpr (!std::is_void_v<T>) return std::move(handle_.promise().value());
  }

 private:
  friend class detail::Promise<T>;
  explicit Task(std::coroutine_handle<promise_type> handle) : handle_(handle) {}
  void reset() {
    if (handle_) std::exchange(handle_, {}).destroy();
  }

  std::coroutine_handle<promise_type> handle_;
};

namespace detail {
template <typename T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise>::from_promise(*this));
}
}  // namespace detail

// `co_await with_stop_token(std::move(task), token)`: runs `task` observing `token`
// instead of the awaiter's own (an empty token shields it from cancellation, e.g. for
// clean-up that must finish). The source behind `token` must outlive the task.
template <typename T>
class [[nodiscard]] BoundTask {
 public:
  BoundTask(Task<T>&& task, StopToken token) : task_(std::move(task)), token_(token) {}
  detail::TaskAwaiter<T> operator co_await() && noexcept {
    MORGANA_ASSERT(task_.valid() && !task_.done());
    return detail::TaskAwaiter<T>(task_.handle(), false, token_.source());
  }

 private:
  Task<T> task_;
  StopToken token_;
};

template <typename T>
BoundTask<T> with_stop_token(Task<T>&& task, StopToken token) {
  return BoundTask<T>(std::move(task), token);
}
template <typename T>
BoundTask<T> shielded(Task<T>&& task) {
  return BoundTask<T>(std::move(task), StopToken());
}

// `StopToken token = co_await current_stop_token();`: the token the current task
// observes (it never suspends).
class CurrentStopToken {
 public:
  bool await_ready() const noexcept { return false; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> caller) noexcept {
    token_ = StopToken(detail::stop_source_of(caller));
    return false;
  }
  StopToken await_resume() const noexcept { return token_; }

 private:
  StopToken token_;
};
inline CurrentStopToken current_stop_token() {
  return {};
}

}  // namespace morgana::async

// CO_TRY(expr): in a Task<Result<...>>, evaluates a Result (typically `co_await op()`)
// and co_returns its Error on failure. A statement rather than an expression like TRY:
// g++ 12 crashes on co_return inside a statement expression. To keep a value use
// CO_TRY_ASSIGN(declaration, expr), e.g. `CO_TRY_ASSIGN(auto item, co_await ch.receive());`.
#define CO_TRY(expr)                               \
  do {                                             \
    auto&& _morgana_co_try_result = (expr);        \
    if (!_morgana_co_try_result.ok()) [[unlikely]] \
      co_return _morgana_co_try_result.error();    \
  } while (0)

#define MORGANA_CO_TRY_CONCAT2(a, b) a##b
#define MORGANA_CO_TRY_CONCAT(a, b) MORGANA_CO_TRY_CONCAT2(a, b)
#define MORGANA_CO_TRY_NAME MORGANA_CO_TRY_CONCAT(_morgana_co_try_, __LINE__)
#define CO_TRY_ASSIGN(lhs, expr)              \
  auto&& MORGANA_CO_TRY_NAME = (expr);        \
  if (!MORGANA_CO_TRY_NAME.ok()) [[unlikely]] \
    co_return MORGANA_CO_TRY_NAME.error();    \
  lhs = std::move(MORGANA_CO_TRY_NAME).value()
