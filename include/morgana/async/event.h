// Event: a flag tasks can wait for. set() wakes every waiting task; until reset(), later
// waits complete at once (a manual-reset event, for one thread: no locks).
#pragma once

#include <coroutine>

#include "morgana/async/list.h"
#include "morgana/async/loop.h"
#include "morgana/async/task.h"
#include "morgana/rt/result.h"

namespace morgana::async {

class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  // Tasks still waiting are woken with kCancelled (a waiter never hangs on a dead event).
  ~Event();

  // Wakes every task waiting now, each exactly once, in the order they began to wait.
  void set();
  void reset() { set_ = false; }
  bool is_set() const { return set_; }

  // `co_await event.wait()`: Result<void>. Cancelled: the task leaves the waiters and
  // gets kCancelled; the event is unchanged. A wake that happened first wins.
  class [[nodiscard]] Awaiter : detail::Waiter {
   public:
    explicit Awaiter(Event& event) : event_(event) {}
    bool await_ready() const noexcept { return false; }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> caller) {
      StopSource* stop = detail::stop_source_of(caller);
      if (detail::cancelled_before_wait(*this, stop) || event_.set_) return false;
      park(&event_.waiters_, caller, stop);
      return true;
    }
    Result<void> await_resume() const { return result(); }

   private:
    Event& event_;
  };
  Awaiter wait() { return Awaiter(*this); }

 private:
  bool set_ = false;
  detail::List waiters_;
};

}  // namespace morgana::async
