// The loop's timers: an intrusive pairing heap ordered by (deadline, arming order), so
// timers with equal deadlines fire in the order they were armed (deterministic runs).
#pragma once

#include <cstddef>
#include <cstdint>

namespace morgana::async::detail {

// A timer lives inside whoever waits on it (an awaiter in a coroutine frame); arming it
// allocates nothing. `fire` runs inside the loop's timer pass and must not resume a
// coroutine directly: it schedules (see Loop::schedule) or requests a stop.
struct Timer {
  Timer() = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  bool armed() const { return seq != 0; }

  void (*fire)(Timer*) = nullptr;
  uint64_t deadline = 0;
  uint64_t seq = 0;  // arming order; 0 while not armed
  Timer* child = nullptr;
  Timer* sibling = nullptr;
  Timer* prev = nullptr;  // the parent for a first child, else the left sibling
};

// Pairing heap (Fredman, Sedgewick, Sleator, Tarjan 1986): insert O(1), remove any timer
// and pop the earliest in O(log n) amortised. Chosen over a binary heap in an array
// because it is fully intrusive (no array to grow while thousands of timers are armed)
// and because most timers are cancelled young, which costs O(1) here.
class TimerHeap {
 public:
  TimerHeap() = default;
  TimerHeap(const TimerHeap&) = delete;
  TimerHeap& operator=(const TimerHeap&) = delete;

  bool empty() const { return root_ == nullptr; }
  std::size_t size() const { return size_; }
  const Timer* top() const { return root_; }
  // The seq the next armed timer gets: the loop fires only timers armed before a pass.
  uint64_t next_seq() const { return next_seq_; }

  void insert(Timer* timer, uint64_t deadline);
  void remove(Timer* timer);  // no-op when not armed
  Timer* pop();               // the earliest; null when empty

 private:
  static bool before(const Timer* a, const Timer* b) {
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
  }
  static Timer* meld(Timer* a, Timer* b);
  static Timer* merge_pairs(Timer* first);

  Timer* root_ = nullptr;
  std::size_t size_ = 0;
  uint64_t next_seq_ = 1;
};

}  // namespace morgana::async::detail
