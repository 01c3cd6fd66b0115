// Static initialisation in an image: there is no libc start-up code, so the platform's
// boot code calls run_constructors() once, before it calls into the application.
#pragma once

namespace morgana::rt {

// Runs every function in .init_array (__init_array_start..__init_array_end from
// cmake/guest.ld) in order: constructors of globals and __attribute__((constructor)).
// A second call does nothing.
void run_constructors();

}  // namespace morgana::rt
