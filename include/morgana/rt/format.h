// printf-style formatting for the guest runtime: the engine behind snprintf, printf and
// panic(). Freestanding (no allocation, no locale, no errno), with C99 snprintf semantics.
#pragma once

#include <cstdarg>
#include <cstddef>

namespace morgana::rt {

// Receives formatted output in pieces, in order; `context` is passed through unchanged.
using FormatSink = void (*)(void* context, const char* data, size_t size);

// Formats `format` with `args` into `sink`. Returns the number of characters produced,
// or -1 if that number does not fit in an int (C99 7.19.6.1) or the format ends inside a
// conversion specification (as glibc does); the output is sent either way.
//
// Supported: flags `-+ #0`, width and precision (also `*`), lengths hh h l ll j z t L q,
// conversions d i u o x X c s p % and f F e E g G (exactly rounded, round-half-even on
// the exact binary value, as glibc does). %n is deliberately unsupported: like any
// unknown conversion it is copied to the output literally and consumes no argument.
// Wide characters (%lc, %ls) are not supported; %lc prints the low byte.
int vformat_to(FormatSink sink, void* context, const char* format, va_list args);

// C99 vsnprintf: writes at most `size` bytes including the terminating NUL (always
// terminated when size > 0) and returns the length the full output would have had.
int vformat(char* buffer, size_t size, const char* format, va_list args);
int format(char* buffer, size_t size, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

}  // namespace morgana::rt
