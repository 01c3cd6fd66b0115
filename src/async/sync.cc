// Event and Semaphore: waking their waiters (see event.h, semaphore.h).
#include "morgana/async/event.h"
#include "morgana/async/semaphore.h"

namespace morgana::async {

namespace {

void wake_all(detail::List& waiters, Errc status) {
  while (detail::ListNode* node = waiters.front()) {
    detail::Waiter::from(node)->wake(static_cast<uint16_t>(status));
  }
}

}  // namespace

Event::~Event() {
  wake_all(waiters_, Errc::kCancelled);
}

void Event::set() {
  set_ = true;
  while (detail::ListNode* node = waiters_.front()) detail::Waiter::from(node)->wake();
}

Semaphore::~Semaphore() {
  wake_all(waiters_, Errc::kCancelled);
}

void Semaphore::release(std::size_t n) {
  for (; n > 0; --n) {
    detail::ListNode* node = waiters_.front();
    if (node == nullptr) break;
    detail::Waiter::from(node)->wake();  // the permit passes straight to the waiter
  }
  permits_ += n;
}

}  // namespace morgana::async
