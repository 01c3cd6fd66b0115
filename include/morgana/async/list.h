// The intrusive doubly-linked list the async runtime keeps its waiters, timers' owners
// and tasks in (STYLE.md: queues are intrusive, no allocation on the hot path).
#pragma once

namespace morgana::async::detail {

// A link embedded in the object it lists. A node removes itself from whatever list holds
// it when it is destroyed, so a coroutine frame destroyed while suspended never leaves a
// dangling entry behind (the property the runtime's teardown rests on).
struct ListNode {
  ListNode* prev = nullptr;
  ListNode* next = nullptr;

  ListNode() = default;
  ListNode(const ListNode&) = delete;
  ListNode& operator=(const ListNode&) = delete;
  ~ListNode() { unlink(); }

  bool linked() const { return next != nullptr; }
  void unlink() {
    if (next == nullptr) return;
    prev->next = next;
    next->prev = prev;
    prev = next = nullptr;
  }
};

// A circular list around a sentinel: O(1) push, pop and removal of any node. Neither
// copyable nor movable, since the nodes point at the sentinel inside it.
class List {
 public:
  List() { head_.prev = head_.next = &head_; }
  List(const List&) = delete;
  List& operator=(const List&) = delete;
  // Forgets its nodes (they become unlinked); owners wake or destroy them before this.
  ~List() { detach_all(); }

  bool empty() const { return head_.next == &head_; }
  ListNode* front() const { return empty() ? nullptr : head_.next; }

  void push_back(ListNode* node) {
    node->prev = head_.prev;
    node->next = &head_;
    head_.prev->next = node;
    head_.prev = node;
  }
  ListNode* pop_front() {
    ListNode* node = front();
    if (node != nullptr) node->unlink();
    return node;
  }
  void detach_all() {
    while (pop_front() != nullptr) {
    }
  }

 private:
  ListNode head_;
};

}  // namespace morgana::async::detail
