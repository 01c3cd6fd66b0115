// validate_manifest(): the manifest arrives inside a hostile image file, so every name
// is checked for a terminating NUL before it is read as a string.
#include "tender/manifest.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace morgana::tender {
namespace {

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buffer[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buffer, sizeof buffer, fmt, args);
  va_end(args);
  return buffer;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

// A name byte as it can be shown on a terminal: hostile bytes must not print raw.
std::string show_char(char c) {
  if (c >= 0x21 && c <= 0x7e && c != '\'') return std::string(1, c);
  return format("\\x%02x", static_cast<unsigned char>(c));
}

std::string check_entry(uint32_t index, const abi::ManifestEntry& entry) {
  size_t length = strnlen(entry.name, sizeof entry.name);
  if (length == sizeof entry.name) {
    return format("manifest device %u: device name too long (no NUL within %zu bytes)", index,
                  sizeof entry.name);
  }
  if (length == 0) return format("manifest device %u: empty device name", index);
  for (size_t i = 0; i < length; ++i) {
    if (!is_name_char(entry.name[i])) {
      return format("manifest device %u: bad character '%s' in device name (allowed: a-z 0-9 _)",
                    index, show_char(entry.name[i]).c_str());
    }
  }
  auto type = static_cast<abi::DeviceType>(entry.type);
  if (type != abi::DeviceType::kNet && type != abi::DeviceType::kBlock) {
    return format("manifest device %u '%s': unknown device type %u (1 net, 2 block)", index,
                  entry.name, entry.type);
  }
  return "";
}

}  // namespace

std::string validate_manifest(const abi::Manifest& manifest) {
  if (manifest.abi_version != abi::kAbiVersion) {
    return format("image built for ABI %u, this monitor speaks %u", manifest.abi_version,
                  abi::kAbiVersion);
  }
  if (manifest.entry_count > abi::kMaxDevices) {
    return format("manifest lists %u devices (at most %u)", manifest.entry_count, abi::kMaxDevices);
  }
  for (uint32_t i = 0; i < manifest.entry_count; ++i) {
    if (std::string problem = check_entry(i, manifest.entries[i]); !problem.empty()) {
      return problem;
    }
    // Names are NUL-terminated now, so strcmp is safe; 16 entries make O(n^2) fine.
    for (uint32_t j = 0; j < i; ++j) {
      if (std::strcmp(manifest.entries[i].name, manifest.entries[j].name) == 0) {
        return format("manifest devices %u and %u are both named '%s' (duplicate device)", j, i,
                      manifest.entries[i].name);
      }
    }
  }
  return "";
}

}  // namespace morgana::tender
