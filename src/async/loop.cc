// The event loop (see loop.h): the run queue, the timer pass, device readiness and the
// decision when to sleep in Backend::wait, plus the awaits that park on the loop itself.
#include "morgana/async/loop.h"

#include <algorithm>

#include "morgana/async/scope.h"

namespace morgana::async {

Result<void> detail::Waiter::result() const {
  if (status == 0) return ok();
  const auto code = static_cast<Errc>(status);
  switch (code) {
    case Errc::kCancelled:
      return Error{code, "cancelled while waiting"};
    case Errc::kClosed:
      return Error{code, "channel closed"};
    default:
      return Error{code, "wait failed"};
  }
}

Loop::Loop(Backend& backend) : backend_(backend) {
  if (current_ != nullptr) panic("async: a second Loop while one exists (one loop per image)");
  current_ = this;
  root_.reset(new Scope(*this, Scope::RootTag{}));
  last_poll_ns_ = backend_.now_ns();
}

Loop::~Loop() {
  MORGANA_ASSERT(!running_);
  root_->destroy_children();
  if (scopes_ != 0) panic("async: %zu Scope(s) outlive their Loop", scopes_);
  // Every waiter lives in a task frame, and every frame belonged to a scope: all gone.
  MORGANA_ASSERT(run_queue_.empty());
  MORGANA_ASSERT(timers_.empty());
  for (detail::List& waiters : devices_) MORGANA_ASSERT(waiters.empty());
  root_.reset();
  current_ = nullptr;
}

StopSource* Loop::root_stop() {
  return &root_->stop_;
}

void Loop::request_stop() {
  root_->request_stop();
}

StopToken Loop::stop_token() {
  return root_->stop_token();
}

void Loop::run_until_idle() {
  run_loop(Mode::kIdle, {}, 0);
}

void Loop::run_until(uint64_t deadline_ns) {
  run_loop(Mode::kUntil, {}, deadline_ns);
}

void Loop::run_for(Duration duration) {
  run_until(deadline_after(duration));
}

void Loop::run_loop(Mode mode, std::coroutine_handle<> main, uint64_t until) {
  if (running_) panic("async: Loop::run called from inside the loop");
  running_ = true;
  for (;;) {
    run_batch();
    if (mode == Mode::kMain && main.done()) break;
    uint64_t now = backend_.now_ns();
    fire_timers(now);
    if (!run_queue_.empty()) {
      if (now - last_poll_ns_ >= kBusyPollIntervalNs && has_device_waiters()) {
        ++stats_.polls;
        last_poll_ns_ = now;
        dispatch(backend_.wait(0));
      }
      continue;
    }
    // Nothing to run: sleep until the earliest timer (or `until`), or a device.
    uint64_t deadline = timers_.empty() ? kNever : timers_.top()->deadline;
    if (mode == Mode::kUntil) {
      if (now >= until) break;
      deadline = std::min(deadline, until);
    }
    if (deadline == kNever) {
      const bool devices = has_device_waiters();
      if (mode == Mode::kIdle) break;  // device waits alone do not keep run_until_idle going
      if (!devices) {
        panic(
            "async: the main task can never finish: no task is runnable, no timer is "
            "armed and no task waits for a device");
      }
    }
    if (deadline <= now) {
      ++stats_.polls;
    } else {
      ++stats_.waits;
    }
    const platform::ReadySet ready = backend_.wait(deadline);
    now = backend_.now_ns();
    last_poll_ns_ = now;
    dispatch(ready);
    fire_timers(now);
  }
  running_ = false;
}

// Runs what is queued when the batch starts; what those tasks schedule waits for the next
// batch, so timers and devices get their turn between batches.
void Loop::run_batch() {
  run_queue_.push_back(&batch_end_);
  for (;;) {
    detail::ListNode* node = run_queue_.pop_front();
    if (node == &batch_end_) break;
    auto* runnable = static_cast<detail::Runnable*>(node);
    ++stats_.resumed;
    if (runnable->handle) {
      runnable->handle.resume();
    } else {
      static_cast<detail::ScopeStart*>(runnable)->scope->start_children();
    }
  }
}

void Loop::fire_timers(uint64_t now) {
  // Only timers armed before this pass: a callback that armed one in the past must not
  // keep the pass going forever (none of the runtime's do, but the bound is cheap).
  const uint64_t limit = timers_.next_seq();
  while (const detail::Timer* top = timers_.top()) {
    if (top->deadline > now || top->seq >= limit) break;
    detail::Timer* timer = timers_.pop();
    ++stats_.timers_fired;
    timer->fire(timer);
  }
}

void Loop::wait_for_device(platform::DeviceId device, detail::Waiter* waiter) {
  MORGANA_ASSERT(device < 64);
  devices_[device].push_back(waiter);
  device_mask_ |= uint64_t{1} << device;
}

// Clears the bits of devices whose waiters have all gone (cancelled or destroyed).
bool Loop::has_device_waiters() {
  uint64_t bits = device_mask_;
  while (bits != 0) {
    const int device = __builtin_ctzll(bits);
    bits &= bits - 1;
    if (devices_[device].empty()) device_mask_ &= ~(uint64_t{1} << device);
  }
  return device_mask_ != 0;
}

void Loop::dispatch(platform::ReadySet ready) {
  uint64_t bits = ready & device_mask_;
  device_mask_ &= ~bits;
  while (bits != 0) {
    const int device = __builtin_ctzll(bits);
    bits &= bits - 1;
    while (detail::ListNode* node = devices_[device].front()) detail::Waiter::from(node)->wake();
  }
}

// --- sleep_until, sleep_for, yield_now ------------------------------------------------

SleepAwaiter::~SleepAwaiter() {
  if (Timer::armed()) Loop::current().timers().remove(this);
}

bool SleepAwaiter::suspend(std::coroutine_handle<> caller, StopSource* stop) {
  if (detail::cancelled_before_wait(*this, stop)) return false;
  Loop& loop = Loop::current();
  if (deadline_ <= loop.now()) {
    // Past: go to the back of the run queue. Not cancellable any more, like any await
    // that has been woken.
    handle = caller;
    loop.schedule(this);
    return true;
  }
  park(nullptr, caller, stop, &SleepAwaiter::on_stop);
  Timer::fire = &SleepAwaiter::on_fire;
  loop.timers().insert(this, deadline_);
  return true;
}

void SleepAwaiter::on_fire(detail::Timer* timer) {
  static_cast<SleepAwaiter*>(timer)->wake();
}

void SleepAwaiter::on_stop(StopCallback* callback) {
  auto* self = static_cast<SleepAwaiter*>(static_cast<detail::Waiter*>(callback));
  Loop::current().timers().remove(self);
  self->wake(static_cast<uint16_t>(Errc::kCancelled));
}

}  // namespace morgana::async
