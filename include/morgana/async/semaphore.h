// Semaphore: a count of permits; acquire() waits while there are none. Permits are
// handed to waiters in the order they came (no barging), so none starves.
#pragma once

#include <coroutine>
#include <cstddef>

#include "morgana/async/list.h"
#include "morgana/async/loop.h"
#include "morgana/async/task.h"
#include "morgana/rt/result.h"

namespace morgana::async {

class Semaphore {
 public:
  explicit Semaphore(std::size_t permits) : permits_(permits) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  // Tasks still waiting are woken with kCancelled.
  ~Semaphore();

  // Takes a permit if one is free and nobody queues for one.
  bool try_acquire() {
    if (permits_ == 0 || !waiters_.empty()) return false;
    --permits_;
    return true;
  }
  // Returns `n` permits: each goes to the longest-waiting task first, the rest to the pool.
  void release(std::size_t n = 1);
  std::size_t available() const { return permits_; }

  // `co_await sem.acquire()`: Result<void>; on success the task holds one permit and must
  // release() it. Cancelled: no permit is taken. A permit handed over before the stop
  // request wins (the task holds it).
  class [[nodiscard]] Awaiter : detail::Waiter {
   public:
    explicit Awaiter(Semaphore& semaphore) : semaphore_(semaphore) {}
    bool await_ready() const noexcept { return false; }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> caller) {
      StopSource* stop = detail::stop_source_of(caller);
      if (detail::cancelled_before_wait(*this, stop) || semaphore_.try_acquire()) return false;
      park(&semaphore_.waiters_, caller, stop);
      return true;
    }
    Result<void> await_resume() const { return result(); }

   private:
    Semaphore& semaphore_;
  };
  Awaiter acquire() { return Awaiter(*this); }

 private:
  std::size_t permits_;
  detail::List waiters_;
};

}  // namespace morgana::async
