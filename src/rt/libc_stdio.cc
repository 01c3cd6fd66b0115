// The <stdio.h> subset of the image's C library: the snprintf family over the format
// engine, and printf/puts/putchar writing to the platform console. There are no FILE
// streams: an image has one console and no files.
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "morgana/rt/format.h"
#include "morgana/rt/port.h"

namespace {

void console_sink(void*, const char* data, size_t size) {
  morgana::rt::port::console_write(std::string_view(data, size));
}

}  // namespace

extern "C" {

int vsnprintf(char* buffer, size_t size, const char* format, va_list args) {
  return morgana::rt::vformat(buffer, size, format, args);
}

int snprintf(char* buffer, size_t size, const char* format, ...) {
  va_list args;
  va_start(args, format);
  int n = morgana::rt::vformat(buffer, size, format, args);
  va_end(args);
  return n;
}

// Unbounded, as C defines them; the caller vouches for the buffer's size.
int vsprintf(char* buffer, const char* format, va_list args) {
  return morgana::rt::vformat(buffer, SIZE_MAX, format, args);
}

int sprintf(char* buffer, const char* format, ...) {
  va_list args;
  va_start(args, format);
  int n = morgana::rt::vformat(buffer, SIZE_MAX, format, args);
  va_end(args);
  return n;
}

// The console is buffered by the platform, so writing in the engine's pieces costs no
// extra exits to the monitor.
int vprintf(const char* format, va_list args) {
  return morgana::rt::vformat_to(console_sink, nullptr, format, args);
}

int printf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  int n = morgana::rt::vformat_to(console_sink, nullptr, format, args);
  va_end(args);
  return n;
}

int puts(const char* text) {
  std::string_view s(text);
  morgana::rt::port::console_write(s);
  morgana::rt::port::console_write("\n");
  return static_cast<int>(s.size() + 1);
}

int putchar(int c) {
  const char ch = static_cast<char>(c);
  morgana::rt::port::console_write(std::string_view(&ch, 1));
  return static_cast<unsigned char>(ch);
}

}  // extern "C"
