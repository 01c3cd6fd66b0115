// libstdc++ reports contract violations (vector::at out of range, a bad std::function
// call, ...) through std::__throw_* helpers. Images have no exceptions, so each one
// panics, naming the exception it would have thrown and its message.
//
// All of them are defined here, so libstdc++.a's functexcept.o (which would drag in the
// exception classes and the unwinder) is never pulled into an image.
#include <bits/functexcept.h>

#include <cstdarg>

#include "morgana/rt/assert.h"
#include "morgana/rt/format.h"

namespace {

[[noreturn]] void thrown(const char* exception, const char* what) {
  morgana::panic("uncaught %s (exceptions are disabled in images): %s", exception,
                 what != nullptr ? what : "");
}

}  // namespace

namespace std {

void __throw_bad_exception() {
  thrown("std::bad_exception", "bad exception");
}
void __throw_bad_alloc() {
  thrown("std::bad_alloc", "allocation failed");
}
void __throw_bad_array_new_length() {
  thrown("std::bad_array_new_length", "array length overflows size_t");
}
void __throw_bad_cast() {
  thrown("std::bad_cast", "bad cast");
}
void __throw_bad_typeid() {
  thrown("std::bad_typeid", "typeid of a null pointer");
}
void __throw_logic_error(const char* what) {
  thrown("std::logic_error", what);
}
void __throw_domain_error(const char* what) {
  thrown("std::domain_error", what);
}
void __throw_invalid_argument(const char* what) {
  thrown("std::invalid_argument", what);
}
void __throw_length_error(const char* what) {
  thrown("std::length_error", what);
}
void __throw_out_of_range(const char* what) {
  thrown("std::out_of_range", what);
}
void __throw_runtime_error(const char* what) {
  thrown("std::runtime_error", what);
}
void __throw_range_error(const char* what) {
  thrown("std::range_error", what);
}
void __throw_overflow_error(const char* what) {
  thrown("std::overflow_error", what);
}
void __throw_underflow_error(const char* what) {
  thrown("std::underflow_error", what);
}
void __throw_ios_failure(const char* what) {
  thrown("std::ios_base::failure", what);
}
void __throw_bad_function_call() {
  thrown("std::bad_function_call", "empty std::function called");
}

void __throw_ios_failure(const char* what, int error) {
  morgana::panic(
      "uncaught std::ios_base::failure (exceptions are disabled in images): %s "
      "(error %d)",
      what != nullptr ? what : "", error);
}
void __throw_system_error(int error) {
  morgana::panic("uncaught std::system_error (exceptions are disabled in images): error %d", error);
}
void __throw_future_error(int error) {
  morgana::panic("uncaught std::future_error (exceptions are disabled in images): error %d", error);
}

// libstdc++ formats these messages itself (e.g. "vector::_M_range_check: __n (which is
// %zu) >= this->size() (which is %zu)"); our printf engine understands its formats.
void __throw_out_of_range_fmt(const char* format, ...) {
  static char message[256];
  va_list args;
  va_start(args, format);
  morgana::rt::vformat(message, sizeof(message), format, args);
  va_end(args);
  thrown("std::out_of_range", message);
}

}  // namespace std
