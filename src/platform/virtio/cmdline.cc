// Command-line splitting for virtio images (see cmdline.h for the grammar).
#include "platform/virtio/cmdline.h"

#include <cstring>

namespace morgana::platform::virtio {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

struct Word {
  char* text;
  bool bare_separator;  // an unquoted `--`
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
    words[count++] = Word{text, !quoted && p - start == 2 && start[0] == '-' && start[1] == '-'};
  }

  int first_arg = 0;
  for (int i = 0; i < count; ++i) {
    if (!words[i].bare_separator) continue;
    for (int j = 0; j < i; ++j) {
      if (strcmp(words[j].text, "--stats") == 0) {
        options->stats = true;
      } else {
        *error = "unknown platform option before -- (known: --stats)";
        return -1;
      }
    }
    first_arg = i + 1;
    break;
  }
  int argc = 0;
  argv[argc++] = const_cast<char*>(argv0);
  for (int i = first_arg; i < count; ++i) argv[argc++] = words[i].text;
  argv[argc] = nullptr;
  return argc;
}

}  // namespace morgana::platform::virtio
