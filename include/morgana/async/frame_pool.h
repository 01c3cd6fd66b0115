// Where coroutine frames come from: the image's malloc, behind a small per-size free list
// so that creating and finishing a task (the commonest thing the runtime does) costs a
// pointer pop and push instead of a trip through the allocator.
#pragma once

#include <cstddef>
#include <new>

namespace morgana::async::detail {

// Under AddressSanitizer every frame goes straight to malloc and back, so a use of a
// destroyed frame is reported instead of landing in a recycled one.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kFramePoolEnabled = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kFramePoolEnabled = false;
#else
inline constexpr bool kFramePoolEnabled = true;
#endif
#else
inline constexpr bool kFramePoolEnabled = true;
#endif

// Free frames by size class (16-byte steps up to 512 bytes; a coroutine's frame always
// has the same size, so one class serves one coroutine). Bounded: at most
// kMaxCachedBytes are kept, the rest goes back to malloc. One thread, no locks.
class FramePool {
 public:
  static constexpr std::size_t kGranule = 16;
  static constexpr std::size_t kClasses = 32;
  static constexpr std::size_t kMaxCachedBytes = std::size_t{1} << 20;

  void* allocate(std::size_t size) {
    const std::size_t index = (size - 1) / kGranule;  // a frame is never empty
    if (!kFramePoolEnabled || index >= kClasses) return ::operator new(size);
    if (FreeFrame* frame = free_[index]) {
      free_[index] = frame->next;
      cached_bytes_ -= (index + 1) * kGranule;
      return frame;
    }
    // Rounded up, so the block can serve any frame of its class when it comes back.
    return ::operator new((index + 1) * kGranule);
  }

  void free(void* block, std::size_t size) {
    const std::size_t index = (size - 1) / kGranule;
    if (!kFramePoolEnabled || index >= kClasses ||
        cached_bytes_ + (index + 1) * kGranule > kMaxCachedBytes) {
      ::operator delete(block);
      return;
    }
    auto* frame = static_cast<FreeFrame*>(block);
    frame->next = free_[index];
    free_[index] = frame;
    cached_bytes_ += (index + 1) * kGranule;
  }

  // Bytes held for reuse (counted as in use by malloc's statistics).
  std::size_t cached_bytes() const { return cached_bytes_; }

  // Gives every cached frame back to malloc.
  void trim() {
    for (FreeFrame*& head : free_) {
      while (FreeFrame* frame = head) {
        head = frame->next;
        ::operator delete(frame);
      }
    }
    cached_bytes_ = 0;
  }

 private:
  struct FreeFrame {
    FreeFrame* next;
  };
  FreeFrame* free_[kClasses] = {};
  std::size_t cached_bytes_ = 0;
};

// The one pool of the image (constant-initialised, usable before static constructors).
inline constinit FramePool frame_pool;

inline void* frame_allocate(std::size_t size) {
  return frame_pool.allocate(size);
}
inline void frame_free(void* frame, std::size_t size) {
  frame_pool.free(frame, size);
}

}  // namespace morgana::async::detail
