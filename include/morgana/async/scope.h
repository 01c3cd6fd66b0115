// Scope: the owner of spawned (detached) tasks, and the gate that waits for them on
// shutdown (after Seastar's gate). spawn(task) puts a task into the loop's root scope.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "morgana/async/list.h"
#include "morgana/async/loop.h"
#include "morgana/async/stop.h"
#include "morgana/async/task.h"
#include "morgana/rt/result.h"

namespace morgana::async {

// Ownership rule: a spawned task belongs to its scope. It starts on the loop's next turn
// (never inside spawn()), runs to its end, and its frame is freed when it ends. A task
// whose value is a failed Result is reported on the loop's log (the console), never
// dropped silently; kCancelled is not reported when the scope itself asked for the stop.
// Destroying a scope destroys the tasks still in it without resuming them.
//
// Children observe the scope's stop token: request_stop() cancels them all. close()
// waits for them (and refuses new ones): the way to shut down without losing work.
class Scope {
 public:
  explicit Scope(Loop& loop = Loop::current());
  // A scope whose children also stop when `parent` stops (e.g. the spawning task's token).
  Scope(Loop& loop, StopToken parent);
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
  ~Scope();

  // Takes `task` and starts it on the loop's next turn. Fails with kCancelled (and
  // destroys the unstarted task) once close() has been called.
  template <typename T>
  [[nodiscard]] Result<void> spawn(Task<T> task) {
    MORGANA_ASSERT(task.valid() && !task.done());
    if (closed_) return Error{Errc::kCancelled, "spawn on a closed scope"};
    auto handle = task.release();
    adopt(handle.promise(), handle);
    return ok();
  }

  void request_stop() { stop_.request_stop(); }
  StopToken stop_token() { return stop_.token(); }

  // `co_await scope.join()`: resumes when the scope has no task left (at once if empty).
  // Exactly once. If the waiting task is cancelled, the scope's tasks are asked to stop
  // and the join still waits for them, then returns kCancelled: no task outlives a join.
  class [[nodiscard]] JoinAwaiter : detail::Waiter {
   public:
    bool await_ready() const noexcept { return false; }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> caller) {
      return suspend(caller, detail::stop_source_of(caller));
    }
    Result<void> await_resume() const { return result(); }

   private:
    friend class Scope;
    JoinAwaiter(Scope& scope, bool close) : scope_(scope), close_(close) {}
    bool suspend(std::coroutine_handle<> caller, StopSource* stop);
    static void on_stop(StopCallback* callback);
    Scope& scope_;
    bool close_;
  };
  JoinAwaiter join() { return JoinAwaiter(*this, false); }
  // As join(), after refusing further spawns.
  JoinAwaiter close() { return JoinAwaiter(*this, true); }

  bool closed() const { return closed_; }
  std::size_t size() const { return count_; }      // tasks spawned and not yet ended
  uint64_t failures() const { return failures_; }  // tasks that ended with a reported error

 private:
  friend class Loop;
  struct RootTag {};
  struct Completion : detail::Completion {
    Scope* scope;
  };

  Scope(Loop& loop, RootTag);
  void adopt(detail::PromiseBase& promise, std::coroutine_handle<> handle);
  void start_children();
  void destroy_children();
  void report(const Error& failure);
  static std::coroutine_handle<> on_done(detail::Completion* self, detail::PromiseBase& task,
                                         const Error* failure);
  static detail::PromiseBase* promise_of(detail::ListNode* link);

  Loop& loop_;
  bool root_ = false;
  bool closed_ = false;
  StopSource stop_;
  Completion completion_;
  detail::ScopeStart start_;
  detail::List unstarted_;  // spawned, waiting for the loop's next turn
  detail::List running_;
  std::size_t unstarted_count_ = 0;
  std::size_t count_ = 0;
  uint64_t failures_ = 0;
  detail::List joiners_;
};

// Spawns `task` on the current loop's root scope (see Scope for the ownership rule).
template <typename T>
void spawn(Task<T> task) {
  // The root scope is never closed, so this cannot fail.
  Result<void> spawned = Loop::current().root().spawn(std::move(task));
  MORGANA_ASSERT(spawned.ok());
}

}  // namespace morgana::async
