// Scope (see scope.h): starting, finishing and destroying spawned tasks, reporting their
// failures, and waking the tasks that join the scope.
#include "morgana/async/scope.h"

#include <cstdio>

namespace morgana::async {

Scope::Scope(Loop& loop) : loop_(loop) {
  completion_.on_done = &Scope::on_done;
  completion_.scope = this;
  start_.scope = this;
  ++loop_.scopes_;
}

Scope::Scope(Loop& loop, StopToken parent) : loop_(loop), stop_(parent) {
  completion_.on_done = &Scope::on_done;
  completion_.scope = this;
  start_.scope = this;
  ++loop_.scopes_;
}

Scope::Scope(Loop& loop, RootTag) : loop_(loop), root_(true) {
  completion_.on_done = &Scope::on_done;
  completion_.scope = this;
  start_.scope = this;
}

Scope::~Scope() {
  destroy_children();
  // A task still joining a scope that is going away learns it was cancelled.
  while (detail::ListNode* node = joiners_.front()) {
    detail::Waiter::from(node)->wake(static_cast<uint16_t>(Errc::kCancelled));
  }
  if (!root_) --loop_.scopes_;
}

detail::PromiseBase* Scope::promise_of(detail::ListNode* link) {
  // `link` is PromiseBase's first member, and PromiseBase is standard layout.
  static_assert(std::is_standard_layout_v<detail::PromiseBase>);
  return reinterpret_cast<detail::PromiseBase*>(link);
}

void Scope::adopt(detail::PromiseBase& promise, std::coroutine_handle<> handle) {
  promise.handle = handle;
  promise.completion = &completion_;
  promise.stop = &stop_;
  unstarted_.push_back(&promise.link);
  ++unstarted_count_;
  ++count_;
  if (!start_.linked()) loop_.schedule(&start_);
}

void Scope::start_children() {
  // Only those spawned before this turn: a task that spawns in a loop does not keep the
  // others from running.
  std::size_t n = unstarted_count_;
  while (n-- > 0) {
    detail::ListNode* link = unstarted_.pop_front();
    if (link == nullptr) break;
    --unstarted_count_;
    running_.push_back(link);
    promise_of(link)->handle.resume();
  }
  if (unstarted_count_ > 0 && !start_.linked()) loop_.schedule(&start_);
}

void Scope::destroy_children() {
  // Destroying a frame unlinks its promise from our lists (ListNode's destructor).
  while (detail::ListNode* link = unstarted_.front()) promise_of(link)->handle.destroy();
  while (detail::ListNode* link = running_.front()) promise_of(link)->handle.destroy();
  start_.unlink();
  unstarted_count_ = 0;
  count_ = 0;
}

void Scope::report(const Error& failure) {
  if (failure.code == Errc::kCancelled && stop_.stop_requested()) return;  // we asked for it
  ++failures_;
  char line[192];
  int n = std::snprintf(line, sizeof(line), "async: a spawned task failed: %s%s%s\n",
                        errc_name(failure.code), failure.what != nullptr ? ": " : "",
                        failure.what != nullptr ? failure.what : "");
  if (n < 0) return;
  if (size_t(n) >= sizeof(line)) n = sizeof(line) - 1;
  loop_.backend().log(std::string_view(line, size_t(n)));
}

std::coroutine_handle<> Scope::on_done(detail::Completion* self, detail::PromiseBase& task,
                                       const Error* failure) {
  Scope& scope = *static_cast<Completion*>(self)->scope;
  if (failure != nullptr) scope.report(*failure);
  task.handle.destroy();
  if (--scope.count_ == 0) {
    while (detail::ListNode* node = scope.joiners_.front()) {
      detail::Waiter* joiner = detail::Waiter::from(node);
      joiner->wake(joiner->status);  // keeps kCancelled if the joiner was cancelled
    }
  }
  return std::noop_coroutine();
}

bool Scope::JoinAwaiter::suspend(std::coroutine_handle<> caller, StopSource* stop) {
  if (close_) scope_.closed_ = true;
  if (stop != nullptr && stop->stop_requested()) {
    status = static_cast<uint16_t>(Errc::kCancelled);
    scope_.request_stop();
    stop = nullptr;  // nothing more to observe: keep waiting for the children
  }
  if (scope_.count_ == 0) return false;
  park(&scope_.joiners_, caller, stop, &JoinAwaiter::on_stop);
  return true;
}

void Scope::JoinAwaiter::on_stop(StopCallback* callback) {
  auto* self = static_cast<JoinAwaiter*>(static_cast<detail::Waiter*>(callback));
  self->status = static_cast<uint16_t>(Errc::kCancelled);
  self->scope_.request_stop();  // and go on waiting: the children end promptly
}

}  // namespace morgana::async
