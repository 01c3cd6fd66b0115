// Cancellation: a StopSource requests a stop, a StopToken observes it, and each blocked
// await registers a StopCallback so that a request wakes it at once (DESIGN.md §1.3).
#pragma once

#include "morgana/async/list.h"

namespace morgana::async {

class StopSource;

// A registration in a StopSource, run once when a stop is requested. Standard layout
// with the link first, so the list's node converts back to the callback.
struct StopCallback {
  detail::ListNode node;
  void (*on_stop)(StopCallback*) = nullptr;

  bool registered() const { return node.linked(); }
  void unregister() { node.unlink(); }
};

// A non-owning view of a StopSource; empty (never stops) by default. Every task carries
// one, inherited from whoever awaits or spawns it; awaits in the runtime observe it.
class StopToken {
 public:
  StopToken() = default;
  explicit StopToken(StopSource* source) : source_(source) {}

  bool stop_requested() const;
  bool stop_possible() const { return source_ != nullptr; }
  StopSource* source() const { return source_; }

  friend bool operator==(const StopToken&, const StopToken&) = default;

 private:
  StopSource* source_ = nullptr;
};

// The owner of a stop request. Neither copyable nor movable: tokens point at it, so it
// must outlive every task bound to its token (the runtime's own sources, in Scope,
// when_any and with_timeout, outlive their children by construction).
//
// Exactly once: the first request_stop() runs every registered callback, in the order
// they registered, and later registrations learn at once that the stop happened.
class StopSource {
 public:
  StopSource() = default;
  // A source that also stops when `parent` stops (a child's work ends with its parent's).
  explicit StopSource(StopToken parent);
  StopSource(const StopSource&) = delete;
  StopSource& operator=(const StopSource&) = delete;
  // Drops its registrations without running them: the callbacks belong to awaiters whose
  // frames are being destroyed too (a source in one frame, a waiter in another).
  ~StopSource();

  StopToken token() { return StopToken(this); }
  bool stop_requested() const { return stopped_; }
  // True if this call made the request (false if a stop had been requested already).
  bool request_stop();

  // Registers `callback`; false (and nothing registered) when the stop already happened.
  bool add(StopCallback* callback);

 private:
  static void on_parent_stop(StopCallback* callback);

  bool stopped_ = false;
  detail::List callbacks_;
  StopCallback parent_link_;  // our registration in the parent, when chained
};

inline bool StopToken::stop_requested() const {
  return source_ != nullptr && source_->stop_requested();
}

}  // namespace morgana::async
