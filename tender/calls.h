// The guest's calls into morgana-hvt (DESIGN.md §4): each handler reads the argument
// struct once from guest memory, validates every field, performs the call and writes
// results back. Anything a correct guest platform would never send ends the guest
// (abi::kExitHostileCall) with a message naming the call and the field.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "platform/abi/hvt_abi.h"
#include "tender/console.h"
#include "tender/guest_memory.h"
#include "tender/net_backend.h"
#include "tender/symbols.h"

namespace morgana::tender {

// Block devices use 512-byte blocks; a file attached as one must be at least one block.
inline constexpr uint64_t kBlockSize = 512;

// A device attached to the guest, in manifest order (the index is the guest's handle).
struct AttachedDevice {
  std::string name;
  abi::DeviceType type = abi::DeviceType::kNet;
  std::unique_ptr<NetBackend> net;  // kNet
  int block_fd = -1;                // kBlock
  uint64_t block_capacity = 0;
  bool block_read_only = false;
};

// Counts of exits by cause, for --stats.
struct ExitStats {
  std::array<uint64_t, static_cast<size_t>(abi::Call::kCount)> calls{};
  uint64_t faults = 0;
  uint64_t other = 0;
  uint64_t total() const;
};

class IoThread;

class CallHandler {
 public:
  CallHandler(const GuestMemory& memory, ConsoleDrain& console,
              std::vector<AttachedDevice>& devices, const LazySymbolTable& symbols,
              uint64_t monotonic_origin_ns);

  // Handles one call exit. Returns true to resume the guest, false when the guest is
  // finished; then exit_status() holds the monitor's exit status.
  bool handle(uint16_t port, uint32_t arg_gpa);

  // Copies what the guest put into the console ring to stdout. Returns false (and sets
  // the exit status) when the ring's indices are impossible.
  bool drain_console();

  // The I/O thread serving NetRings (the fast path); without one, only plain calls.
  void set_io_thread(IoThread* io) { io_ = io; }

  int exit_status() const { return exit_status_; }
  ExitStats& stats() { return stats_; }

  // Ends the guest as hostile with `message`; always returns false.
  bool hostile(const std::string& message);

  // Prints a backtrace by walking the guest's frame pointers from rbp (bounded, every
  // read checked).
  void print_backtrace(uint64_t rip, uint64_t rbp) const;

 private:
  bool console_write(uint64_t gpa);
  bool wall_clock(uint64_t gpa);
  bool yield(uint64_t gpa);
  bool net_io(abi::Call call, uint64_t gpa);
  bool block_io(abi::Call call, uint64_t gpa);
  bool block_flush(uint64_t gpa);
  bool halt(uint64_t gpa);
  bool net_ring_setup(uint64_t gpa);
  bool panic(const abi::PanicInfo& info);
  AttachedDevice* device(uint32_t handle, abi::DeviceType type, const char* call);
  // The call's argument struct, read once; on failure the guest is ended as hostile.
  template <typename T>
  std::optional<T> read_args(uint64_t gpa, const char* call);
  // [gpa, gpa + len) in guest memory; on failure the guest is ended as hostile.
  std::optional<std::span<uint8_t>> guest_buffer(uint64_t gpa, uint64_t len, const char* call);
  uint64_t ready_set(int timeout_ms);

  const GuestMemory& memory_;
  ConsoleDrain& console_;
  std::vector<AttachedDevice>& devices_;
  const LazySymbolTable& symbols_;
  IoThread* io_ = nullptr;
  uint64_t monotonic_origin_ns_;  // host CLOCK_MONOTONIC when guest time was 0
  int exit_status_ = 0;
  ExitStats stats_;
};

// Set from the SIGINT/SIGTERM handler (the signal number, and a write to g_stop_fd, an
// eventfd every wait polls); checked after every interrupted wait.
extern volatile int g_stop_signal;
extern int g_stop_fd;

uint64_t host_monotonic_ns();

}  // namespace morgana::tender
