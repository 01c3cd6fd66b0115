// The C++ ABI pieces an image needs without libsupc++'s exception machinery: every form
// of operator new/delete over the global Heap, exit-time destructor registration,
// pure/deleted virtual call traps and (single-threaded) guards for local statics.
#include <cstddef>
#include <cstdint>
#include <new>

#include "morgana/rt/assert.h"
#include "rt/global_heap.h"

using morgana::rt::global_heap;

// ---- operator new / delete ------------------------------------------------------------
// Throwing forms panic when memory runs out (there are no exceptions to throw); nothrow
// forms return nullptr as the standard asks.

void* operator new(std::size_t size) {
  return global_heap().allocate(size);
}
void* operator new[](std::size_t size) {
  return global_heap().allocate(size);
}
void* operator new(std::size_t size, std::align_val_t align) {
  return global_heap().allocate(size, static_cast<std::size_t>(align));
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return global_heap().allocate(size, static_cast<std::size_t>(align));
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return global_heap().try_allocate(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return global_heap().try_allocate(size);
}
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return global_heap().try_allocate(size, static_cast<std::size_t>(align));
}
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return global_heap().try_allocate(size, static_cast<std::size_t>(align));
}

// The heap finds size and alignment from the pointer, so every delete is the same free.
namespace {
inline void release(void* ptr) {
  if (ptr != nullptr) global_heap().deallocate(ptr);
}
}  // namespace

void operator delete(void* ptr) noexcept {
  release(ptr);
}
void operator delete[](void* ptr) noexcept {
  release(ptr);
}
void operator delete(void* ptr, std::size_t) noexcept {
  release(ptr);
}
void operator delete[](void* ptr, std::size_t) noexcept {
  release(ptr);
}
void operator delete(void* ptr, const std::nothrow_t&) noexcept {
  release(ptr);
}
void operator delete[](void* ptr, const std::nothrow_t&) noexcept {
  release(ptr);
}
void operator delete(void* ptr, std::align_val_t) noexcept {
  release(ptr);
}
void operator delete[](void* ptr, std::align_val_t) noexcept {
  release(ptr);
}
void operator delete(void* ptr, std::size_t, std::align_val_t) noexcept {
  release(ptr);
}
void operator delete[](void* ptr, std::size_t, std::align_val_t) noexcept {
  release(ptr);
}
void operator delete(void* ptr, std::align_val_t, const std::nothrow_t&) noexcept {
  release(ptr);
}
void operator delete[](void* ptr, std::align_val_t, const std::nothrow_t&) noexcept {
  release(ptr);
}

extern "C" {

// ---- Exit-time destructors ----------------------------------------------------------
// An image never returns to a C library that would run these: it ends with halt().
// Registrations are recorded (bounded, for a debugger to inspect) and never run.

namespace {
struct ExitEntry {
  void (*function)(void*);
  void* argument;
};
constexpr int kMaxExitEntries = 64;
ExitEntry exit_entries[kMaxExitEntries];
int exit_entry_count = 0;  // may exceed kMaxExitEntries: counts every registration
}  // namespace

// Identifies this "shared object" to __cxa_atexit; a static image is just one.
__attribute__((visibility("hidden"))) void* __dso_handle = &__dso_handle;

int __cxa_atexit(void (*function)(void*), void* argument, void* /*dso*/) {
  if (exit_entry_count < kMaxExitEntries) exit_entries[exit_entry_count] = {function, argument};
  ++exit_entry_count;
  return 0;
}

int atexit(void (*function)()) {
  return __cxa_atexit(reinterpret_cast<void (*)(void*)>(function), nullptr, nullptr);
}

// ---- Virtual call traps ------------------------------------------------------------

[[noreturn]] void __cxa_pure_virtual() {
  morgana::panic(
      "pure virtual function called (object used during construction or after destruction?)");
}

[[noreturn]] void __cxa_deleted_virtual() {
  morgana::panic("deleted virtual function called");
}

// ---- Guards for function-local statics ------------------------------------------------
// Images are built with -fno-threadsafe-statics, but code from libstdc++.a was not. One
// thread means no waiting: byte 0 (read by the compiler's inline fast path) says "done",
// byte 1 says "running", which can only be seen again through recursion.

int __cxa_guard_acquire(uint64_t* guard) {
  auto* bytes = reinterpret_cast<uint8_t*>(guard);
  if (bytes[0] != 0) return 0;
  if (bytes[1] != 0) morgana::panic("recursive initialisation of a function-local static");
  bytes[1] = 1;
  return 1;
}

void __cxa_guard_release(uint64_t* guard) {
  auto* bytes = reinterpret_cast<uint8_t*>(guard);
  bytes[1] = 0;
  bytes[0] = 1;
}

void __cxa_guard_abort(uint64_t* guard) {
  reinterpret_cast<uint8_t*>(guard)[1] = 0;
}

}  // extern "C"
