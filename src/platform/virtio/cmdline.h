// The virtio image's command line (QEMU -append, the PVH start info's cmdline) split
// into argv: `[platform options --] app args`, quotes respected. See docs/virtio.md.
#pragma once

#include <cstddef>

namespace morgana::platform::virtio {

inline constexpr size_t kMaxCmdline = 4096;
inline constexpr int kMaxArgs = 256;

struct PlatformOptions {
  bool stats = false;  // --stats: boot and run figures on the console at exit
};

// Splits `cmdline` into argv[0] = `argv0`, then the application's arguments; the strings
// go to `strings` (capacity `capacity`), argv ends with nullptr (so argv needs kMaxArgs + 1
// entries). Words are separated by blanks; "double quotes" group words and take \" and
// \\ escapes, 'single quotes' group words literally, a backslash outside quotes escapes
// the next character. An unquoted `--` word ends the platform options: the words before
// it are options for the platform, the words after it are the application's. Without
// one, every word is the application's. Unquoted `virtio_mmio.device=SIZE@BASE:IRQ[:ID]`
// words, which QEMU's microvm appends without ACPI, are no one's: dropped where QEMU puts
// them (ending the command line) and ignored among the platform options. Returns argc,
// or -1 with `*error` set.
int split_cmdline(const char* cmdline, const char* argv0, char** argv, char* strings,
                  size_t capacity, PlatformOptions* options, const char** error);

}  // namespace morgana::platform::virtio
