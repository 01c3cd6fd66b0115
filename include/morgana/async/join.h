// The machinery under when_all and when_any: start a set of child tasks and resume the
// awaiting coroutine when the last one ends.
#pragma once

#include <coroutine>
#include <cstddef>
#include <span>

#include "morgana/async/stop.h"
#include "morgana/async/task.h"

namespace morgana::async::detail {

class JoinState {
 public:
  static constexpr std::size_t kNone = ~std::size_t{0};

  // One per child: tells the state which child ended.
  struct Slot : Completion {
    JoinState* state;
    std::size_t index;
  };

  // `stop_on_first`: requested when the first child ends (when_any's losers).
  explicit JoinState(StopSource* stop_on_first = nullptr) : stop_on_first_(stop_on_first) {}

  std::size_t winner() const { return winner_; }

  // Starts `children` (their frames, via their promises) with stop source `stop`; each
  // runs until it first suspends. Returns true when the awaiter must suspend (some child
  // is still running), false when all of them finished already.
  bool start(std::coroutine_handle<> parent, std::span<PromiseBase* const> children,
             std::span<Slot> slots, StopSource* stop) {
    parent_ = parent;
    remaining_ = children.size() + 1;  // +1 until all are started: none resumes us early
    for (std::size_t i = 0; i < children.size(); ++i) {
      slots[i].on_done = &JoinState::on_done;
      slots[i].state = this;
      slots[i].index = i;
      PromiseBase& child = *children[i];
      child.completion = &slots[i];
      child.stop = stop;
      child.handle.resume();
    }
    return --remaining_ != 0;
  }

 private:
  static std::coroutine_handle<> on_done(Completion* self, PromiseBase&, const Error*) {
    Slot& slot = *static_cast<Slot*>(self);
    JoinState& state = *slot.state;
    if (state.winner_ == kNone) {
      state.winner_ = slot.index;
      if (state.stop_on_first_ != nullptr) state.stop_on_first_->request_stop();
    }
    return --state.remaining_ == 0 ? state.parent_ : std::noop_coroutine();
  }

  StopSource* stop_on_first_;
  std::coroutine_handle<> parent_;
  std::size_t remaining_ = 0;
  std::size_t winner_ = kNone;
};

// `co_await JoinAwaiter(...)`: runs the children to their ends. The children's stop
// source is `stop`, or the awaiter's own when `inherit`.
class JoinAwaiter {
 public:
  JoinAwaiter(JoinState& state, std::span<PromiseBase* const> children,
              std::span<JoinState::Slot> slots, bool inherit, StopSource* stop)
      : state_(state), children_(children), slots_(slots), inherit_(inherit), stop_(stop) {}
  bool await_ready() const noexcept { return children_.empty(); }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> caller) {
    return state_.start(caller, children_, slots_, inherit_ ? stop_source_of(caller) : stop_);
  }
  void await_resume() const noexcept {}

 private:
  JoinState& state_;
  std::span<PromiseBase* const> children_;
  std::span<JoinState::Slot> slots_;
  bool inherit_;
  StopSource* stop_;
};

// The promise of a task about to be joined, with its own frame recorded so that the
// join can start it.
template <typename T>
PromiseBase* joinable(Task<T>& task) {
  MORGANA_ASSERT(task.valid() && !task.done());
  PromiseBase& promise = task.handle().promise();
  promise.handle = task.handle();
  return &promise;
}

}  // namespace morgana::async::detail
