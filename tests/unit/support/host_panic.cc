// Host stand-in for morgana::panic in unit tests: print the message and abort, which
// fails the running test (and shows up under sanitizers with a stack trace).
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "morgana/rt/assert.h"

namespace morgana {

void panic(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::fputs("panic: ", stderr);
  std::vfprintf(stderr, format, args);
  std::fputc('\n', stderr);
  va_end(args);
  std::abort();
}

}  // namespace morgana
