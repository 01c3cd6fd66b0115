// when_any: runs tasks concurrently; the first to finish wins and the others (the losers)
// are cancelled through their stop token.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "morgana/async/join.h"
#include "morgana/async/stop.h"
#include "morgana/async/task.h"

namespace morgana::async {

// The winner of a when_any: its position among the arguments and its value.
template <typename T>
struct AnyOf {
  std::size_t index;
  T value;
};

namespace detail {
template <typename T>
using AnyResult = std::conditional_t<std::is_void_v<T>, std::size_t, AnyOf<T>>;

template <typename T>
Task<AnyResult<T>> race(std::span<Task<T>> tasks) {
  MORGANA_ASSERT(!tasks.empty());
  std::vector<PromiseBase*> children;
  children.reserve(tasks.size());
  for (Task<T>& task : tasks) children.push_back(joinable(task));
  std::vector<JoinState::Slot> slots(tasks.size());
  // The losers' source: stops when the first task ends, or when our awaiter is cancelled.
  StopSource losers(co_await current_stop_token());
  JoinState state(&losers);
  co_await JoinAwaiter(state, children, slots, false, &losers);
  const std::size_t winner = state.winner();
  if constexpr (std::is_void_v<T>) {
    co_return winner;
  } else {
    co_return AnyOf<T>{winner, tasks[winner].take_result()};
  }
}
}  // namespace detail

// `auto first = co_await when_any(f(), g());`: starts each task in order, and when the
// first one finishes asks the others to stop, waits until they have all ended (they stop
// promptly, since every blocked await observes the stop), and yields the winner's index
// and value (only the index for Task<void>). Exactly once; the losers' values are
// dropped, so race operations that consume something (a channel receive) only when
// losing one is harmless. A task that finishes without suspending wins at once.
// Cancelling the awaiter cancels every task; the first to end is then the winner.
template <typename T, typename... Rest>
requires(std::is_same_v<T, Rest>&&...) Task<detail::AnyResult<T>> when_any(Task<T> first,
                                                                           Task<Rest>... rest) {
  std::array<Task<T>, 1 + sizeof...(Rest)> tasks{std::move(first), std::move(rest)...};
  co_return co_await detail::race<T>(tasks);
}

template <typename T>
Task<detail::AnyResult<T>> when_any(std::vector<Task<T>> tasks) {
  co_return co_await detail::race<T>(tasks);
}

}  // namespace morgana::async
