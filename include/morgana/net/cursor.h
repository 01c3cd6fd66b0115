// Bounds-checked views for reading and writing wire data (DESIGN.md §1.4: a Cursor can
// only fail, never overrun). Every read copies out a trivially copyable wire struct, so
// packet bytes are never accessed through a misaligned or aliasing pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>

namespace morgana::net {

// Wire structs are byte arrays and Be16/Be32 fields: no padding, alignment 1.
template <typename T>
concept WireStruct = std::is_trivially_copyable_v<T> && alignof(T) == 1;

class Cursor {
 public:
  constexpr Cursor() = default;
  constexpr explicit Cursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  // The next sizeof(T) bytes as a T, or empty (and nothing consumed) if fewer remain.
  template <WireStruct T>
  std::optional<T> read() {
    if (remaining() < sizeof(T)) return std::nullopt;
    T value;
    std::memcpy(&value, bytes_.data() + position_, sizeof(T));
    position_ += sizeof(T);
    return value;
  }
  // The same without consuming.
  template <WireStruct T>
  std::optional<T> peek() const {
    if (remaining() < sizeof(T)) return std::nullopt;
    T value;
    std::memcpy(&value, bytes_.data() + position_, sizeof(T));
    return value;
  }
  std::optional<uint8_t> read_u8() {
    if (remaining() < 1) return std::nullopt;
    return bytes_[position_++];
  }
  // A view of the next n bytes (no copy), or empty if fewer remain.
  std::optional<std::span<const uint8_t>> read_bytes(size_t n) {
    if (remaining() < n) return std::nullopt;
    auto view = bytes_.subspan(position_, n);
    position_ += n;
    return view;
  }
  [[nodiscard]] bool skip(size_t n) {
    if (remaining() < n) return false;
    position_ += n;
    return true;
  }

  size_t remaining() const { return bytes_.size() - position_; }
  size_t position() const { return position_; }
  std::span<const uint8_t> rest() const { return bytes_.subspan(position_); }

 private:
  std::span<const uint8_t> bytes_;
  size_t position_ = 0;
};

// The writing counterpart: each write either fits entirely or writes nothing and fails.
class Writer {
 public:
  constexpr explicit Writer(std::span<uint8_t> bytes) : bytes_(bytes) {}

  template <WireStruct T>
  [[nodiscard]] bool write(const T& value) {
    if (remaining() < sizeof(T)) return false;
    std::memcpy(bytes_.data() + position_, &value, sizeof(T));
    position_ += sizeof(T);
    return true;
  }
  [[nodiscard]] bool write_u8(uint8_t value) {
    if (remaining() < 1) return false;
    bytes_[position_++] = value;
    return true;
  }
  [[nodiscard]] bool write_bytes(std::span<const uint8_t> data) {
    if (remaining() < data.size()) return false;
    if (!data.empty()) std::memcpy(bytes_.data() + position_, data.data(), data.size());
    position_ += data.size();
    return true;
  }

  size_t remaining() const { return bytes_.size() - position_; }
  size_t written() const { return position_; }
  std::span<uint8_t> written_bytes() const { return bytes_.first(position_); }

 private:
  std::span<uint8_t> bytes_;
  size_t position_ = 0;
};

}  // namespace morgana::net
