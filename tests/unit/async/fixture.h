// Shared by the async unit tests: a loop on virtual time, and small tasks to await.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "morgana/async/async.h"
#include "morgana/async/virtual_backend.h"

namespace morgana::async::testing {

using namespace std::chrono_literals;

constexpr uint64_t kMs = 1'000'000;

// Every test gets a fresh loop on a virtual clock that starts at 0.
class AsyncTest : public ::testing::Test {
 protected:
  VirtualBackend backend;
  Loop loop{backend};
};

// Appends `text` to `log` after `delay` of virtual time; fails with the sleep's error.
inline Task<Result<void>> note_after(std::vector<std::string>* log, Duration delay,
                                     std::string text) {
  CO_TRY(co_await sleep_for(delay));
  log->push_back(text + "@" + std::to_string(now() / kMs));
  co_return ok();
}

// Waits for `event` and reports the outcome's code (0 for success).
inline Task<int> wait_code(Event* event) {
  Result<void> r = co_await event->wait();
  co_return r.ok() ? 0 : int(r.error().code);
}

inline Task<int> value_after(int value, Duration delay) {
  Result<void> r = co_await sleep_for(delay);
  co_return r.ok() ? value : -int(r.error().code);
}

}  // namespace morgana::async::testing
