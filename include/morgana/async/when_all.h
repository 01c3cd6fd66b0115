// when_all: runs tasks concurrently and finishes when every one has finished.
#pragma once

#include <array>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "morgana/async/join.h"
#include "morgana/async/task.h"

namespace morgana::async {

// What a Task<void> contributes to a when_all tuple.
struct Unit {
  friend bool operator==(Unit, Unit) { return true; }
};

namespace detail {
template <typename T>
using NonVoid = std::conditional_t<std::is_void_v<T>, Unit, T>;

template <typename T>
NonVoid<T> take_value(Task<T>& task) {
  if constexpr (std::is_void_v<T>) {
    return Unit{};
  } else {
    return task.take_result();
  }
}
}  // namespace detail

// `auto [a, b] = co_await when_all(f(), g());`: starts each task in order (each runs until
// it first suspends), waits for all, and yields their values in order (Unit for void).
// Exactly once. The tasks observe the awaiter's stop token, so cancelling the awaiter
// cancels them all; when_all still waits for every one to end. A failing Result does not
// stop the others: inspect each.
template <typename... Ts>
Task<std::tuple<detail::NonVoid<Ts>...>> when_all(Task<Ts>... tasks) {
  std::array<detail::PromiseBase*, sizeof...(Ts)> children{detail::joinable(tasks)...};
  std::array<detail::JoinState::Slot, sizeof...(Ts)> slots;
  detail::JoinState state;
  co_await detail::JoinAwaiter(state, children, slots, true, nullptr);
  co_return std::tuple<detail::NonVoid<Ts>...>(detail::take_value(tasks)...);
}

// The same over a run-time number of tasks of one type: their values in order.
template <typename T>
requires(!std::is_void_v<T>) Task<std::vector<T>> when_all(std::vector<Task<T>> tasks) {
  std::vector<detail::PromiseBase*> children;
  children.reserve(tasks.size());
  for (Task<T>& task : tasks) children.push_back(detail::joinable(task));
  std::vector<detail::JoinState::Slot> slots(tasks.size());
  detail::JoinState state;
  co_await detail::JoinAwaiter(state, children, slots, true, nullptr);
  std::vector<T> values;
  values.reserve(tasks.size());
  for (Task<T>& task : tasks) values.push_back(task.take_result());
  co_return values;
}

inline Task<void> when_all(std::vector<Task<void>> tasks) {
  std::vector<detail::PromiseBase*> children;
  children.reserve(tasks.size());
  for (Task<void>& task : tasks) children.push_back(detail::joinable(task));
  std::vector<detail::JoinState::Slot> slots(tasks.size());
  detail::JoinState state;
  co_await detail::JoinAwaiter(state, children, slots, true, nullptr);
}

}  // namespace morgana::async
