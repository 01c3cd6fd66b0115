// Channel<T>: a bounded FIFO queue between tasks with back-pressure: a full channel
// suspends the sender until a receiver makes room, an empty one suspends the receiver.
// Capacity 0 makes a rendezvous (every send waits for its receiver).
#pragma once

#include <coroutine>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <utility>

#include "morgana/async/list.h"
#include "morgana/async/loop.h"
#include "morgana/async/task.h"
#include "morgana/rt/assert.h"
#include "morgana/rt/result.h"

namespace morgana::async {

// Errors: kCancelled when the task's stop token fires; kClosed ("channel closed")
// for a send after close(), and for a receive once the channel is closed and drained.
//
// Cancellation: a blocked send that is cancelled has not enqueued its value (it is
// destroyed with the await); a cancelled receive has taken nothing. Once a value has been
// handed over (to a waiting receiver, or from a waiting sender into the buffer), the await
// completes successfully even if the stop request comes before the task runs again:
// values are never lost in a cancellation race.
template <typename T>
class Channel {
 public:
  explicit Channel(std::size_t capacity)
      : capacity_(capacity), buffer_(capacity > 0 ? allocator().allocate(capacity) : nullptr) {}
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  // Blocked senders and receivers are woken with kCancelled; buffered values destroyed.
  ~Channel() {
    wake_all(senders_, Errc::kCancelled);
    wake_all(receivers_, Errc::kCancelled);
    while (size_ > 0) (void)pop();
    if (buffer_ != nullptr) allocator().deallocate(buffer_, capacity_);
  }

  class SendAwaiter;
  class ReceiveAwaiter;

  // `co_await ch.send(value)`: Result<void>, suspending while the channel is full.
  SendAwaiter send(T value) { return SendAwaiter(*this, std::move(value)); }
  // `co_await ch.receive()`: Result<T>, suspending while the channel is empty.
  ReceiveAwaiter receive() { return ReceiveAwaiter(*this); }

  // Without waiting: takes `value` (moving from it) only when it can be sent now.
  bool try_send(T&& value) {
    if (closed_) return false;
    if (ReceiveAwaiter* receiver = first<ReceiveAwaiter>(receivers_)) {
      receiver->deliver(std::move(value));
      return true;
    }
    if (size_ == capacity_) return false;
    push(std::move(value));
    return true;
  }
  // kAgain when nothing is ready; kClosed when closed and drained.
  Result<T> try_receive() {
    std::optional<T> value = take();
    if (value) return std::move(*value);
    if (closed_) return Error{Errc::kClosed, "channel closed"};
    return Error{Errc::kAgain, "channel empty"};
  }

  // No more sends: blocked senders fail with kClosed (their values are dropped);
  // receivers drain what is buffered, then fail with kClosed.
  void close() {
    closed_ = true;
    wake_all(senders_, Errc::kClosed);
    if (size_ == 0) wake_all(receivers_, Errc::kClosed);
  }

  bool closed() const { return closed_; }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }

  class [[nodiscard]] SendAwaiter : detail::Waiter {
   public:
    bool await_ready() const noexcept { return false; }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> caller) {
      StopSource* stop = detail::stop_source_of(caller);
      if (detail::cancelled_before_wait(*this, stop)) return false;
      if (channel_.closed_) {
        status = static_cast<uint16_t>(Errc::kClosed);
        return false;
      }
      if (channel_.try_send(std::move(value_))) return false;
      park(&channel_.senders_, caller, stop);
      return true;
    }
    Result<void> await_resume() const { return result(); }

   private:
    friend class Channel;
    SendAwaiter(Channel& channel, T&& value) : channel_(channel), value_(std::move(value)) {}
    Channel& channel_;
    T value_;
  };

  class [[nodiscard]] ReceiveAwaiter : detail::Waiter {
   public:
    bool await_ready() const noexcept { return false; }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> caller) {
      StopSource* stop = detail::stop_source_of(caller);
      if (detail::cancelled_before_wait(*this, stop)) return false;
      value_ = channel_.take();
      if (value_) return false;
      if (channel_.closed_) {
        status = static_cast<uint16_t>(Errc::kClosed);
        return false;
      }
      park(&channel_.receivers_, caller, stop);
      return true;
    }
    Result<T> await_resume() {
      if (status != 0) return result().error();
      return std::move(*value_);
    }

   private:
    friend class Channel;
    explicit ReceiveAwaiter(Channel& channel) : channel_(channel) {}
    void deliver(T&& value) {
      value_.emplace(std::move(value));
      wake();
    }
    Channel& channel_;
    std::optional<T> value_;
  };

 private:
  static std::allocator<T> allocator() { return {}; }

  template <typename Awaiter>
  static Awaiter* first(detail::List& list) {
    detail::ListNode* node = list.front();
    return node == nullptr ? nullptr : static_cast<Awaiter*>(detail::Waiter::from(node));
  }
  static void wake_all(detail::List& list, Errc status) {
    while (detail::ListNode* node = list.front()) {
      detail::Waiter::from(node)->wake(static_cast<uint16_t>(status));
    }
  }

  void push(T&& value) {
    std::size_t tail = head_ + size_;
    if (tail >= capacity_) tail -= capacity_;
    new (&buffer_[tail]) T(std::move(value));
    ++size_;
  }
  T pop() {
    T value = std::move(buffer_[head_]);
    buffer_[head_].~T();
    if (++head_ == capacity_) head_ = 0;
    --size_;
    return value;
  }

  // The next value for a receiver: the buffer's oldest (refilled from the first blocked
  // sender), or straight from a blocked sender when there is no buffer.
  std::optional<T> take() {
    std::optional<T> value;
    if (size_ > 0) {
      value.emplace(pop());
      if (SendAwaiter* sender = first<SendAwaiter>(senders_)) {
        push(std::move(sender->value_));
        sender->wake();
      }
    } else if (SendAwaiter* sender = first<SendAwaiter>(senders_)) {
      value.emplace(std::move(sender->value_));
      sender->wake();
    }
    return value;
  }

  std::size_t capacity_;
  T* buffer_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  bool closed_ = false;
  detail::List senders_;
  detail::List receivers_;
};

}  // namespace morgana::async
