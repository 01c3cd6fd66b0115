// Drop accounting shared by every layer (STYLE.md: every dropped packet goes through one
// `drop(reason)` that counts reasons), and Parsed<T, Reason>, what a parser returns: the
// parsed view, or the reason the packet must be dropped.
#pragma once

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "morgana/rt/assert.h"

namespace morgana::net {

// A parser's answer: the value, or why the input is dropped. T is a small view type.
template <typename T, typename Reason>
class [[nodiscard]] Parsed {
 public:
  Parsed(const T& value) : value_(value), ok_(true) {}  // NOLINT: implicit by design
  Parsed(Reason reason) : reason_(reason) {}            // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const T& value() const {
    MORGANA_ASSERT(ok_);
    return value_;
  }
  const T& operator*() const { return value(); }
  const T* operator->() const { return &value(); }
  Reason reason() const {
    MORGANA_ASSERT(!ok_);
    return reason_;
  }

 private:
  T value_{};
  Reason reason_{};
  bool ok_ = false;
};

// Reason is a layer's enum of drop reasons: its last enumerator is kCount, and a
// `const char* drop_reason_name(Reason)` is found by argument-dependent lookup.
template <typename Reason>
class DropCounters {
 public:
  static constexpr size_t kReasons = static_cast<size_t>(Reason::kCount);

  void drop(Reason reason) {
    auto index = static_cast<size_t>(reason);
    MORGANA_ASSERT(index < kReasons);
    ++counts_[index];
  }
  uint64_t operator[](Reason reason) const { return counts_[static_cast<size_t>(reason)]; }
  uint64_t total() const {
    uint64_t sum = 0;
    for (uint64_t c : counts_) sum += c;
    return sum;
  }
  // Calls f(name, count) for every reason with a non-zero count, in enum order.
  template <typename F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < kReasons; ++i) {
      if (counts_[i] != 0) f(drop_reason_name(static_cast<Reason>(i)), counts_[i]);
    }
  }
  // One line, "<layer> drops: truncated=2 bad_checksum=1" ("... drops: none" when all
  // are zero), NUL-terminated and cut to fit `out`. Returns the length written.
  size_t format(std::span<char> out, const char* layer) const {
    size_t n = 0;
    auto put = [&](const char* text, size_t length) {
      for (size_t i = 0; i < length && n + 1 < out.size(); ++i) out[n++] = text[i];
    };
    auto put_str = [&](const char* text) { put(text, __builtin_strlen(text)); };
    put_str(layer);
    put_str(" drops:");
    bool any = false;
    for_each([&](const char* name, uint64_t count) {
      char digits[24];
      auto end = std::to_chars(digits, digits + sizeof(digits), count).ptr;
      put_str(" ");
      put_str(name);
      put_str("=");
      put(digits, static_cast<size_t>(end - digits));
      any = true;
    });
    if (!any) put_str(" none");
    if (!out.empty()) out[n] = '\0';
    return n;
  }

 private:
  std::array<uint64_t, kReasons> counts_{};
};

// Per-layer counters: packets in and out plus drops by reason. A layer calls drop() for
// every packet it discards and nothing else does.
template <typename Reason>
struct LayerCounters {
  uint64_t received = 0;   // packets handed to the layer
  uint64_t delivered = 0;  // packets passed up (or consumed) after validation
  uint64_t sent = 0;       // packets the layer produced for the layer below
  DropCounters<Reason> drops;

  void drop(Reason reason) { drops.drop(reason); }
  // Passes a parse result through, counting its reason when it failed.
  template <typename T>
  std::optional<T> accept(const Parsed<T, Reason>& parsed) {
    if (parsed.ok()) return parsed.value();
    drop(parsed.reason());
    return std::nullopt;
  }
};

}  // namespace morgana::net
