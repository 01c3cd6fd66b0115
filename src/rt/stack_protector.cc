// The stack protector's failure hook. The canary itself lives at %fs:0x28, which the
// monitor sets up (DESIGN.md §4a); -fstack-protector-strong code compares against it.
// Built with -fno-stack-protector: this runs on a stack already known to be damaged.
#include "morgana/rt/assert.h"

extern "C" [[noreturn]] void __stack_chk_fail() {
  morgana::panic("stack smashing detected");
}
