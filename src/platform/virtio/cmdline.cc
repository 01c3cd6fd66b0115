// Command-line splitting for virtio images (see cmdline.h for the grammar).
#include "platform/virtio/cmdline.h"

#include <cstring>

namespace morgana::platform::virtio {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_hex_digit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Skips a number as Linux's memparse() reads it (decimal, or hex after 0x) with an
// optional K/M/G suffix when `suffix` allows one; false if there is no number at `p`.
bool skip_number(const char*& p, bool suffix) {
  const char* start = p;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && is_hex_digit(p[2])) {
    p += 2;
    while (is_hex_digit(*p)) ++p;
  } else {
    while (is_digit(*p)) ++p;
  }
  if (p == start) return false;
  if (suffix && (*p == 'K' || *p == 'k' || *p == 'M' || *p == 'm' || *p == 'G' || *p == 'g')) ++p;
  return true;
}

// `virtio_mmio.device=SIZE@BASE:IRQ[:ID]`, the grammar of Linux's virtio_mmio module
// parameter, which QEMU's microvm appends for every virtio-mmio transport with a device
// when it boots without ACPI (hw/i386/microvm.c: microvm_fix_kernel_cmdline).
bool is_qemu_mmio_word(const char* text, size_t length) {
  constexpr char kPrefix[] = "virtio_mmio.device=";
  constexpr size_t kPrefixLength = sizeof kPrefix - 1;
  if (length <= kPrefixLength || std::strncmp(text, kPrefix, kPrefixLength) != 0) return false;
  const char* p = text + kPrefixLength;
  if (!skip_number(p, true) || *p++ != '@' || !skip_number(p, true) || *p++ != ':' ||
      !skip_number(p, false))
    return false;
  if (*p == ':' && !skip_number(++p, false)) return false;
  return p == text + length;
}

struct Word {
  char* text;
  bool bare_separator;  // an unquoted `--`
  bool qemu_mmio;       // an unquoted virtio_mmio.device= word (is_qemu_mmio_word)
};

}  // namespace

int split_cmdline(const char* cmdline, const char* argv0, char** argv, char* strings,
                  size_t capacity, PlatformOptions* options, const char** error) {
  static Word words[kMaxArgs];
  int count = 0;
  size_t used = 0;
  auto put = [&](char c) {
    if (used == capacity) return false;
    strings[used++] = c;
    return true;
  };
  const char* p = cmdline;
  for (;;) {
    while (is_blank(*p)) ++p;
    if (!*p) break;
    if (count == kMaxArgs) {
      *error = "more than 256 words";
      return -1;
    }
    const char* start = p;
    char* text = strings + used;
    bool quoted = false;
    while (*p && !is_blank(*p)) {
      if (*p == '\'' || *p == '"') {
        const char quote = *p++;
        quoted = true;
        while (*p && *p != quote) {
          if (quote == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\')) ++p;
          if (!put(*p++)) break;
        }
        if (*p != quote) {
          *error = "unterminated quote";
          return -1;
        }
        ++p;
      } else {
        if (*p == '\\' && p[1]) ++p;
        if (!put(*p++)) break;
      }
    }
    if (!put('\0')) {
      *error = "the command line does not fit";
      return -1;
    }
    const size_t length = static_cast<size_t>(p - start);
    words[count++] = Word{text, !quoted && length == 2 && start[0] == '-' && start[1] == '-',
                          !quoted && is_qemu_mmio_word(start, length)};
  }

  int first_arg = 0;
  for (int i = 0; i < count; ++i) {
    if (!words[i].bare_separator) continue;
    for (int j = 0; j < i; ++j) {
      if (strcmp(words[j].text, "--stats") == 0) {
        options->stats = true;
      } else if (!words[j].qemu_mmio) {  // the monitor's, not ours: ignored
        *error = "unknown platform option before -- (known: --stats)";
        return -1;
      }
    }
    first_arg = i + 1;
    break;
  }
  // QEMU appends its virtio_mmio.device= words to the end of what -append gave, after the
  // application's arguments: the unquoted ones that end the command line are dropped (an
  // application that wants such a word as its last argument quotes it).
  int last_arg = count;
  while (last_arg > first_arg && words[last_arg - 1].qemu_mmio) --last_arg;
  int argc = 0;
  argv[argc++] = const_cast<char*>(argv0);
  for (int i = first_arg; i < last_arg; ++i) argv[argc++] = words[i].text;
  argv[argc] = nullptr;
  return argc;
}

}  // namespace morgana::platform::virtio
