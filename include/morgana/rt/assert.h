// MORGANA_ASSERT and panic(): invariants that must hold. In an image a failure panics
// (message, registers, symbolised backtrace, exit status 250); on the host it aborts,
// which fails the test that triggered it.
#pragma once

namespace morgana {

// printf-style message; never returns.
[[noreturn]] void panic(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace morgana

#define MORGANA_ASSERT(cond)                                                       \
  do {                                                                             \
    if (!(cond)) [[unlikely]]                                                      \
      ::morgana::panic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__); \
  } while (0)
