// Validates a morgana-hvt image (a static x86-64 ELF linked at abi::kImageBase, see
// cmake/guest.ld) and turns it into a load plan for the monitor (DESIGN.md §4).
//
// The image file is hostile: every offset, size and count it contains is checked with
// overflow-safe arithmetic before use, and a refusal is a one-line message naming the
// problem. The caller prefixes the file name ("image.hvt: ...").
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "platform/abi/hvt_abi.h"

namespace morgana::tender {

// Room kept free between the end of the image and the end of guest RAM, so a guard page
// and a minimal stack always fit above the image.
inline constexpr uint64_t kMinStackRoom = 64 * 1024;

// Real images have four or five program headers; a bound keeps the checks cheap.
inline constexpr uint32_t kMaxProgramHeaders = 64;

// One PT_LOAD: copy file_size bytes from file_offset to gpa, zero-fill up to mem_size,
// map the pages with exactly these rights.
struct Segment {
  uint64_t file_offset = 0;
  uint64_t gpa = 0;
  uint64_t file_size = 0;
  uint64_t mem_size = 0;  // > 0 and >= file_size
  bool readable = false;  // always true: x86 pages cannot be write- or execute-only
  bool writable = false;
  bool executable = false;  // never together with writable (W^X)
};

struct LoadPlan {
  uint64_t entry = 0;  // inside the file-backed part of an executable segment
  // In program header order. Each lies in [abi::kImageBase, mem_size - kMinStackRoom],
  // and no two touch the same page, so each page gets exactly one set of rights.
  std::vector<Segment> segments;
  uint64_t image_end = 0;    // end of the highest segment, rounded up to a page
  abi::Manifest manifest{};  // copied out of the note; passed validate_manifest()
};

// Either a plan, or a one-line message saying why the image was refused.
using LoadResult = std::variant<LoadPlan, std::string>;

// Checks `image` (the whole file) against a guest with `mem_size` bytes of RAM.
LoadResult plan_load(std::span<const uint8_t> image, uint64_t mem_size);

// Helpers for reading untrusted bytes, shared with the symboliser.

// True when [offset, offset + size) lies inside a buffer of `total` bytes.
inline bool fits(uint64_t offset, uint64_t size, uint64_t total) {
  return offset <= total && size <= total - offset;
}

// Copies a T out of `bytes` at `offset` (no alignment needed), or nothing when the bytes
// are short.
template <typename T>
std::optional<T> read_at(std::span<const uint8_t> bytes, uint64_t offset) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (!fits(offset, sizeof(T), bytes.size())) return std::nullopt;
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

}  // namespace morgana::tender
