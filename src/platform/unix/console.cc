// The unix target's console: stdout behind a small user-space buffer that collects the
// pieces of a line, flushed at the end of each line, at yield(), halt(), panic and when full.
#include <unistd.h>

#include <cstring>

#include "morgana/platform/platform.h"
#include "platform/unix/unix_platform.h"

namespace morgana::platform {
namespace {

constexpr size_t kBufferSize = 16 * 1024;
char g_buffer[kBufferSize];
size_t g_used = 0;

}  // namespace

void console_flush() {
  if (g_used == 0) return;
  // Reset first: a fault handler that flushes while we are inside write_all() then sees
  // an empty buffer instead of printing the same bytes twice.
  size_t used = g_used;
  g_used = 0;
  unix_target::write_all(STDOUT_FILENO, std::string_view(g_buffer, used));
}

void console_write(std::string_view text) {
  if (text.size() >= kBufferSize) {
    // Larger than the whole buffer: keep the order and send it straight through.
    console_flush();
    unix_target::write_all(STDOUT_FILENO, text);
    return;
  }
  if (g_used + text.size() > kBufferSize) console_flush();
  std::memcpy(g_buffer + g_used, text.data(), text.size());
  g_used += text.size();
  // Whole lines go out at once, even into a pipe or a file, so whatever else writes to
  // stderr (libstdc++'s terminate message, glibc's heap-corruption report) appears after
  // the lines printed before it. This costs a write per line, which the development
  // target can afford; hvt batches in its ring instead.
  if (std::memchr(text.data(), '\n', text.size()) != nullptr) console_flush();
}

}  // namespace morgana::platform
