// Guest RAM as the monitor sees it: one host mapping, and checked accessors that are the
// only way monitor code reads or writes guest memory. Every guest-supplied address and
// length passes through range(), which refuses overflow and anything outside RAM.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>

namespace morgana::tender {

class GuestMemory {
 public:
  GuestMemory() = default;
  GuestMemory(uint8_t* base, uint64_t size) : base_(base), size_(size) {}

  uint64_t size() const { return size_; }
  uint8_t* base() const { return base_; }

  // The bytes [gpa, gpa + len), or nothing when any part lies outside RAM.
  std::optional<std::span<uint8_t>> range(uint64_t gpa, uint64_t len) const {
    uint64_t end;
    if (__builtin_add_overflow(gpa, len, &end) || end > size_) return std::nullopt;
    return std::span<uint8_t>(base_ + gpa, len);
  }

  // Copies a struct out of guest memory (one read, so a guest cannot change a field
  // between the monitor's check and its use).
  template <typename T>
  std::optional<T> read(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    auto bytes = range(gpa, sizeof(T));
    if (!bytes) return std::nullopt;
    T value;
    std::memcpy(&value, bytes->data(), sizeof(T));
    return value;
  }

  template <typename T>
  bool write(uint64_t gpa, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    auto bytes = range(gpa, sizeof(T));
    if (!bytes) return false;
    std::memcpy(bytes->data(), &value, sizeof(T));
    return true;
  }

 private:
  uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace morgana::tender
