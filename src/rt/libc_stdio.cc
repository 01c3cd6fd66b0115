// The <stdio.h> subset of the image's C library: the snprintf family over the format
// engine, and printf/puts/putchar writing to the platform console. An image has one
// console and no files, so stdout and stderr are both the console and stdin is empty;
// the stream functions exist because glibc's headers inline putchar and vprintf into
// putc(c, stdout) and vfprintf(stdout, ...), and C libraries print to stderr.
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

// Stands in for glibc's FILE, which callers only ever hold by pointer.
struct Stream {
  bool writable;
};
Stream streams[3] = {{false}, {true}, {true}};

constexpr int kEof = -1;

bool writable(void* stream) {
  return stream == &streams[1] || stream == &streams[2];
}

}  // namespace

extern "C" {

void* stdin = &streams[0];
void* stdout = &streams[1];
void* stderr = &streams[2];

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

// ---- Streams: stdout and stderr write to the console ---------------------------------

int vfprintf(void* stream, const char* format, va_list args) {
  if (!writable(stream)) return kEof;
  return morgana::rt::vformat_to(console_sink, nullptr, format, args);
}

int fprintf(void* stream, const char* format, ...) {
  va_list args;
  va_start(args, format);
  int n = vfprintf(stream, format, args);
  va_end(args);
  return n;
}

int fputc(int c, void* stream) {
  if (!writable(stream)) return kEof;
  return putchar(c);
}

int putc(int c, void* stream) {
  return fputc(c, stream);
}

int fputs(const char* text, void* stream) {
  if (!writable(stream)) return kEof;
  morgana::rt::port::console_write(text);
  return 0;
}

size_t fwrite(const void* data, size_t size, size_t count, void* stream) {
  if (!writable(stream) || size == 0) return 0;
  morgana::rt::port::console_write(std::string_view(static_cast<const char*>(data), size * count));
  return count;
}

// The platform flushes the console at yield() and halt(); nothing is held here.
int fflush(void*) {
  return 0;
}

}  // extern "C"
