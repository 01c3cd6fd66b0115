// Result<T>: the return type of every fallible call in Morgana (no exceptions in the
// image). An Error is a code plus a static description; TRY propagates a failure.
#pragma once

#include <new>
#include <type_traits>
#include <utility>

#include "morgana/rt/assert.h"

namespace morgana {

enum class Errc : unsigned short {
  kInvalidArgument = 1,
  kNotFound,
  kAgain,  // nothing available now; try after the next yield
  kIo,     // the device or host failed
  kNoMemory,
  kUnsupported,
  kOutOfRange,
  kReadOnly,
  kTimedOut,
  kCancelled,
  kExists,
  kMalformed,          // input did not parse
  kConnectionReset,    // the peer reset the connection (TCP RST)
  kConnectionRefused,  // the peer answered a connection attempt with RST
  kClosed,             // the connection, socket or channel was closed
  kAddressInUse,       // a port already bound or listened on
  kUnreachable,        // no route to the destination, or its address did not resolve
};

const char* errc_name(Errc code);

// `what` must point to a string with static storage duration (a literal).
struct Error {
  Errc code;
  const char* what = nullptr;

  friend bool operator==(const Error& a, const Error& b) { return a.code == b.code; }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(const T& value) : ok_(true) { new (&value_) T(value); }  // NOLINT: implicit by design
  Result(T&& value) : ok_(true) { new (&value_) T(std::move(value)); }  // NOLINT
  Result(Error error) : ok_(false) { new (&error_) Error(error); }      // NOLINT
  template <typename U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::remove_cvref_t<U>, Result> &&
           !std::is_same_v<std::remove_cvref_t<U>, Error> &&
           !std::is_same_v<std::remove_cvref_t<U>, T>) Result(U&& value)
      : ok_(true) {  // NOLINT
    new (&value_) T(std::forward<U>(value));
  }

  Result(const Result& other) : ok_(other.ok_) {
    if (ok_)
      new (&value_) T(other.value_);
    else
      new (&error_) Error(other.error_);
  }
  Result(Result&& other) noexcept : ok_(other.ok_) {
    if (ok_)
      new (&value_) T(std::move(other.value_));
    else
      new (&error_) Error(other.error_);
  }
  Result& operator=(Result other) noexcept {
    this->~Result();
    new (this) Result(std::move(other));
    return *this;
  }
  ~Result() {
    if (ok_) value_.~T();
  }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }

  T& value() & {
    MORGANA_ASSERT(ok_);
    return value_;
  }
  const T& value() const& {
    MORGANA_ASSERT(ok_);
    return value_;
  }
  T&& value() && {
    MORGANA_ASSERT(ok_);
    return std::move(value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  Error error() const {
    MORGANA_ASSERT(!ok_);
    return error_;
  }
  template <typename U>
  T value_or(U&& fallback) const& {
    return ok_ ? value_ : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  bool ok_;
  union {
    T value_;
    Error error_;
  };
};

template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;
  Result() = default;
  Result(Error error) : ok_(false), error_(error) {}  // NOLINT: implicit by design

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const { MORGANA_ASSERT(ok_); }
  Error error() const {
    MORGANA_ASSERT(!ok_);
    return error_;
  }

 private:
  bool ok_ = true;
  Error error_{Errc::kInvalidArgument};
};

// An empty success, for `return ok();` in Result<void> functions.
inline Result<void> ok() {
  return {};
}

}  // namespace morgana

// TRY(expr): evaluates a Result; on failure returns its Error from the enclosing
// function, otherwise yields the value (moved out). A GNU statement expression, as in
// SerenityOS AK/Try.h; g++ and clang both support it.
#define TRY(expr)                               \
  ({                                            \
    auto&& _morgana_try_result = (expr);        \
    if (!_morgana_try_result.ok()) [[unlikely]] \
      return _morgana_try_result.error();       \
    std::move(_morgana_try_result).value();     \
  })
