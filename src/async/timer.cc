// The pairing heap behind the loop's timers (see timer.h). Both passes of the pairing
// are iterative: a heap of a million timers must not recurse a million deep.
#include "morgana/async/timer.h"

namespace morgana::async::detail {

// Makes the later root the first child of the earlier one. Both are detached roots.
Timer* TimerHeap::meld(Timer* a, Timer* b) {
  if (before(b, a)) {
    Timer* t = a;
    a = b;
    b = t;
  }
  b->prev = a;
  b->sibling = a->child;
  if (a->child != nullptr) a->child->prev = b;
  a->child = b;
  a->sibling = nullptr;
  a->prev = nullptr;
  return a;
}

// The standard two passes over a list of sibling subtrees: meld pairs left to right,
// then meld the results right to left into one tree.
Timer* TimerHeap::merge_pairs(Timer* first) {
  Timer* pairs = nullptr;  // melded pairs, a stack linked through `sibling`
  while (first != nullptr) {
    Timer* a = first;
    Timer* b = a->sibling;
    if (b == nullptr) {
      a->prev = nullptr;
      a->sibling = pairs;
      pairs = a;
      break;
    }
    first = b->sibling;
    a->sibling = b->sibling = nullptr;
    Timer* pair = meld(a, b);
    pair->sibling = pairs;
    pairs = pair;
  }
  Timer* result = nullptr;
  while (pairs != nullptr) {
    Timer* next = pairs->sibling;
    pairs->sibling = nullptr;
    result = result == nullptr ? pairs : meld(result, pairs);
    pairs = next;
  }
  if (result != nullptr) result->prev = nullptr;
  return result;
}

void TimerHeap::insert(Timer* timer, uint64_t deadline) {
  if (timer->armed()) remove(timer);
  timer->deadline = deadline;
  timer->seq = next_seq_++;
  timer->child = timer->sibling = timer->prev = nullptr;
  root_ = root_ == nullptr ? timer : meld(root_, timer);
  ++size_;
}

Timer* TimerHeap::pop() {
  Timer* top = root_;
  if (top == nullptr) return nullptr;
  root_ = merge_pairs(top->child);
  --size_;
  top->child = top->sibling = top->prev = nullptr;
  top->seq = 0;
  return top;
}

void TimerHeap::remove(Timer* timer) {
  if (!timer->armed()) return;
  if (timer == root_) {
    pop();
    return;
  }
  // Cut the subtree out of its sibling list, then put its children back into the heap.
  if (timer->prev->child == timer) {
    timer->prev->child = timer->sibling;
  } else {
    timer->prev->sibling = timer->sibling;
  }
  if (timer->sibling != nullptr) timer->sibling->prev = timer->prev;
  Timer* children = merge_pairs(timer->child);
  if (children != nullptr) root_ = meld(root_, children);
  --size_;
  timer->child = timer->sibling = timer->prev = nullptr;
  timer->seq = 0;
}

}  // namespace morgana::async::detail
