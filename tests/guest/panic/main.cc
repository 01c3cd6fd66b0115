// `panic [assert|smash|oom|fault] [LINES]`: fails on purpose through named functions so
// tests/integration/panic.sh can check the message and the backtrace's names; LINES
// numbered lines printed first let a test check that output before a failure is complete
// and in order (virtio_hello.sh).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "morgana/app.h"
#include "morgana/rt/assert.h"

__attribute__((noinline)) void panic_inner(int value) {
  morgana::panic("test panic with value %d", value);
}

__attribute__((noinline)) void panic_outer(int value) {
  panic_inner(value + 1);
  asm volatile("");  // keeps this frame (no tail call)
}

__attribute__((noinline)) void assert_fails(int value) {
  MORGANA_ASSERT(value == 0);
  asm volatile("");
}

__attribute__((noinline)) void smash_stack(const char* input) {
  char buffer[16];
  // Copies past the buffer's end on purpose: the stack protector must catch it.
  volatile size_t n = strlen(input);
  memcpy(buffer, input, n);
  asm volatile("" : : "r"(buffer) : "memory");
}

// An unmapped address (page 0), read from a variable so the compiler cannot see the
// fault coming: an unhandled page fault, not a panic.
volatile uintptr_t bad_address = 16;
__attribute__((noinline)) void touch_unmapped() {
  *reinterpret_cast<volatile int*>(bad_address) = 1;
  asm volatile("");
}

__attribute__((noinline)) void exhaust_memory() {
  std::vector<void*> blocks;
  for (;;) blocks.push_back(malloc(64 << 10));
}

int app_main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "panic";
  printf("panic test: %s\n", mode);
  const long lines = argc > 2 ? strtol(argv[2], nullptr, 10) : 0;
  for (long i = 0; i < lines; ++i) printf("line %ld of %ld before the failure\n", i + 1, lines);
  if (!strcmp(mode, "assert"))
    assert_fails(3);
  else if (!strcmp(mode, "smash"))
    smash_stack("this string is far longer than sixteen bytes");
  else if (!strcmp(mode, "oom"))
    exhaust_memory();
  else if (!strcmp(mode, "fault"))
    touch_unmapped();
  else
    panic_outer(41);
  return 0;
}
