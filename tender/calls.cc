// Handlers for the hvt calls. The guest is hostile: every address and length is checked
// with GuestMemory::range (overflow-safe) before use, every struct is read once.
#include "tender/calls.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "tender/io_thread.h"

namespace morgana::tender {

volatile int g_stop_signal = 0;
int g_stop_fd = -1;

namespace {

const char* call_name(abi::Call call) {
  switch (call) {
    case abi::Call::kConsoleWrite:
      return "console_write";
    case abi::Call::kWallClock:
      return "wall_clock";
    case abi::Call::kYield:
      return "yield";
    case abi::Call::kNetWrite:
      return "net_write";
    case abi::Call::kNetRead:
      return "net_read";
    case abi::Call::kBlockRead:
      return "block_read";
    case abi::Call::kBlockWrite:
      return "block_write";
    case abi::Call::kBlockFlush:
      return "block_flush";
    case abi::Call::kHalt:
      return "halt";
    case abi::Call::kNetRingSetup:
      return "net_ring_setup";
    case abi::Call::kNetKick:
      return "net_kick";
    case abi::Call::kCount:
      break;
  }
  return "?";
}

// A return address points after its call instruction, which for a call to a noreturn
// function is already past the caller's last byte: look up the byte before it.
std::string describe_return(const SymbolTable& symbols, uint64_t address) {
  auto symbol = symbols.lookup(address - 1);
  if (!symbol) return "??";
  char offset[24];
  snprintf(offset, sizeof offset, "+0x%" PRIx64, symbol->offset + 1);
  return symbol->name + offset;
}

std::string hex(uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

}  // namespace

uint64_t host_monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t ExitStats::total() const {
  uint64_t sum = faults + other;
  for (uint64_t c : calls) sum += c;
  return sum;
}

CallHandler::CallHandler(const GuestMemory& memory, ConsoleDrain& console,
                         std::vector<AttachedDevice>& devices, const LazySymbolTable& symbols,
                         uint64_t monotonic_origin_ns)
    : memory_(memory),
      console_(console),
      devices_(devices),
      symbols_(symbols),
      monotonic_origin_ns_(monotonic_origin_ns) {}

bool CallHandler::hostile(const std::string& message) {
  (void)console_.drain();
  fprintf(stderr, "morgana-hvt: hostile guest: %s\n", message.c_str());
  exit_status_ = abi::kExitHostileCall;
  return false;
}

template <typename T>
std::optional<T> CallHandler::read_args(uint64_t gpa, const char* call) {
  std::optional<T> args = memory_.read<T>(gpa);
  if (!args)
    hostile(std::string(call) + ": argument struct at " + hex(gpa) + " is outside guest memory");
  return args;
}

std::optional<std::span<uint8_t>> CallHandler::guest_buffer(uint64_t gpa, uint64_t len,
                                                            const char* call) {
  auto bytes = memory_.range(gpa, len);
  if (!bytes)
    hostile(std::string(call) + ": buffer " + hex(gpa) + "+" + std::to_string(len) +
            " is outside guest memory");
  return bytes;
}

bool CallHandler::handle(uint16_t port, uint32_t arg_gpa) {
  uint16_t index = port - abi::kCallPortBase;
  if (port < abi::kCallPortBase || index >= static_cast<uint16_t>(abi::Call::kCount))
    return hostile("call on unknown port " + hex(port));
  auto call = static_cast<abi::Call>(index);
  stats_.calls[index]++;
  if (!drain_console()) return false;
  if (io_) {
    if (std::string e = io_->error(); !e.empty()) return hostile(e);
  }
  switch (call) {
    case abi::Call::kConsoleWrite:
      return console_write(arg_gpa);
    case abi::Call::kWallClock:
      return wall_clock(arg_gpa);
    case abi::Call::kYield:
      return yield(arg_gpa);
    case abi::Call::kNetWrite:
    case abi::Call::kNetRead:
      return net_io(call, arg_gpa);
    case abi::Call::kBlockRead:
    case abi::Call::kBlockWrite:
      return block_io(call, arg_gpa);
    case abi::Call::kBlockFlush:
      return block_flush(arg_gpa);
    case abi::Call::kHalt:
      return halt(arg_gpa);
    case abi::Call::kNetRingSetup:
      return net_ring_setup(arg_gpa);
    case abi::Call::kNetKick:  // only without an ioeventfd
      if (io_) io_->kick();
      return true;
    default:
      return hostile(std::string(call_name(call)) + ": not implemented by this monitor");
  }
}

bool CallHandler::drain_console() {
  std::string error = console_.drain();
  if (error.empty()) return true;
  return hostile(error);
}

bool CallHandler::console_write(uint64_t gpa) {
  auto args = read_args<abi::ConsoleWriteArgs>(gpa, "console_write");
  if (!args) return false;
  if (args->len == 0) return true;  // a request to drain the ring, done above
  // The plain path: bytes straight from guest memory.
  if (args->len > abi::kConsoleRingSize)
    return hostile("console_write: length " + std::to_string(args->len) + " exceeds " +
                   std::to_string(abi::kConsoleRingSize));
  auto bytes = guest_buffer(args->data, args->len, "console_write");
  if (!bytes) return false;
  write_all(STDOUT_FILENO, bytes->data(), bytes->size());
  return true;
}

bool CallHandler::wall_clock(uint64_t gpa) {
  auto args = read_args<abi::WallClockArgs>(gpa, "wall_clock");
  if (!args) return false;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  args->ns = static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
  memory_.write(gpa, *args);
  return true;
}

uint64_t CallHandler::ready_set(int timeout_ms) {
  // The stop fd, the notify fd, and per device a call-path fd or a ring's backend.
  pollfd fds[abi::kMaxDevices + 2];
  uint32_t owner[abi::kMaxDevices + 2];
  nfds_t n = 0;
  if (g_stop_fd >= 0) {
    fds[n] = pollfd{g_stop_fd, POLLIN, 0};
    owner[n++] = abi::kMaxDevices;
  }
  for (uint32_t i = 0; i < devices_.size(); ++i) {
    if (!devices_[i].net || (io_ && io_->has_ring(i))) continue;
    fds[n] = pollfd{devices_[i].net->wait_fd(), POLLIN, 0};
    owner[n++] = i;
  }
  // Ring devices: the I/O thread signals notify_fd when it delivered frames while we
  // wait; announce the wait first, then look at the rings, so none is missed. (yield()
  // served them just before, and serves them again after every wait.)
  if (io_) {
    io_->wait_begin();
    uint64_t ring_ready = io_->rx_ready();
    if (ring_ready || !io_->error().empty()) {
      io_->wait_end();
      return ring_ready;
    }
    fds[n] = pollfd{io_->notify_fd(), POLLIN, 0};
    owner[n++] = abi::kMaxDevices;
    if (io_->shared_cpu()) {
      const nfds_t first = n;
      io_->add_backend_fds(fds, n);
      for (nfds_t k = first; k < n; ++k) owner[k] = abi::kMaxDevices;  // served below
    }
  }
  timespec timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
  int rc = ppoll(fds, n, timeout_ms < 0 ? nullptr : &timeout, nullptr);
  uint64_t ready = 0;
  if (io_) {
    io_->wait_end();
    ready |= io_->serve_now();
  }
  if (rc <= 0) return ready;
  for (nfds_t k = 0; k < n; ++k)
    if ((fds[k].revents & POLLIN) && owner[k] < abi::kMaxDevices) ready |= uint64_t{1} << owner[k];
  return ready;
}

bool CallHandler::yield(uint64_t gpa) {
  auto args = read_args<abi::YieldArgs>(gpa, "yield");
  if (!args) return false;
  uint64_t deadline = monotonic_origin_ns_ + args->deadline_ns;
  if (deadline < monotonic_origin_ns_) deadline = UINT64_MAX;  // "forever"
  // The guest yields when it has nothing left to do: its rings need service now (frames it
  // queued leave, waiting host frames enter), which spares a wake-up of the I/O thread.
  uint64_t ready = io_ ? io_->serve_now() : 0;
  // On a shared CPU, right after traffic, keep serving the rings for a moment before
  // sleeping: the next frame of a busy peer (a client's next request) usually comes
  // sooner than a sleep and a wake-up of this thread take, and the CPU has nothing else
  // of ours to run meanwhile (the I/O thread only serves kicks there). The guest does
  // not spin on a shared CPU; this is the same wait, without its exit per poll.
  // How long: after requests and answers, 100 µs, since a client's next request on one
  // connection takes longer than 30 µs to come (website.hvt, wrk -c1, 612-byte page,
  // interleaved: 30 µs 6.8-8.4k requests/s, 100 µs 11.5-12.6k); within 2 ms of a bulk
  // frame, 30 µs, because a longer spin catches each TSO frame alone and the guest then
  // pays an exit per frame instead of per batch (discard, 1 GiB, 100 µs for all traffic:
  // median 1,390 MB/s against 1,522).
  constexpr uint64_t kSharedSpinNs = 100'000, kSharedBulkSpinNs = 30'000;
  constexpr uint64_t kSharedSpinWindowNs = 2'000'000;
  if (!ready && io_ && io_->shared_cpu()) {
    uint64_t now = host_monotonic_ns();
    if (now - io_->last_traffic_ns() < kSharedSpinWindowNs) {
      const bool bulk = now - io_->last_bulk_ns() < kSharedSpinWindowNs;
      const uint64_t spin = bulk ? kSharedBulkSpinNs : kSharedSpinNs;
      const uint64_t until = std::min(deadline, now + spin);
      while (!ready && host_monotonic_ns() < until) ready = io_->serve_now();
    }
  }
  while (!ready) {
    uint64_t now = host_monotonic_ns();
    uint64_t wait_ns = deadline > now ? deadline - now : 0;
    // Round up so a wait never ends before the deadline and spins.
    uint64_t wait_ms = (wait_ns + 999999) / 1000000;
    int timeout = wait_ms > 3600000 ? 3600000 : static_cast<int>(wait_ms);
    ready = ready_set(timeout);
    if (g_stop_signal) return false;
    if (io_) {
      if (std::string e = io_->error(); !e.empty()) return hostile(e);
    }
    if (host_monotonic_ns() >= deadline) break;
  }
  args->ready_set = ready;
  memory_.write(gpa, *args);
  return true;
}

AttachedDevice* CallHandler::device(uint32_t handle, abi::DeviceType type, const char* call) {
  if (handle >= devices_.size() || devices_[handle].type != type) {
    hostile(std::string(call) + ": handle " + std::to_string(handle) + " is not a " +
            (type == abi::DeviceType::kNet ? "network" : "block") + " device");
    return nullptr;
  }
  return &devices_[handle];
}

bool CallHandler::net_io(abi::Call call, uint64_t gpa) {
  const char* name = call_name(call);
  auto args = read_args<abi::NetIoArgs>(gpa, name);
  if (!args) return false;
  AttachedDevice* dev = device(args->handle, abi::DeviceType::kNet, name);
  if (!dev) return false;
  if (io_ && io_->has_ring(args->handle))
    return hostile(std::string(name) + ": device " + std::to_string(args->handle) +
                   " is served by a ring");
  auto buffer = guest_buffer(args->data, args->len, name);
  if (!buffer) return false;
  if (call == abi::Call::kNetWrite) {
    if (args->len > kNetMtu + 14u)
      return hostile("net_write: frame of " + std::to_string(args->len) + " bytes exceeds the MTU");
    dev->net->send(*buffer);
    args->status = static_cast<int32_t>(abi::CallStatus::kOk);
  } else {
    size_t n = dev->net->recv(*buffer);
    args->status = static_cast<int32_t>(n ? abi::CallStatus::kOk : abi::CallStatus::kAgain);
    args->len = n;
  }
  memory_.write(gpa, *args);
  return true;
}

bool CallHandler::block_io(abi::Call call, uint64_t gpa) {
  const char* name = call_name(call);
  auto args = read_args<abi::BlockIoArgs>(gpa, name);
  if (!args) return false;
  AttachedDevice* dev = device(args->handle, abi::DeviceType::kBlock, name);
  if (!dev) return false;
  uint64_t end;
  if (args->offset % kBlockSize || args->len % kBlockSize || args->len > abi::kMaxBlockIo ||
      __builtin_add_overflow(args->offset, args->len, &end) || end > dev->block_capacity)
    return hostile(std::string(name) + ": offset " + std::to_string(args->offset) + " length " +
                   std::to_string(args->len) + " is not a block-aligned range of the " +
                   std::to_string(dev->block_capacity) + "-byte device '" + dev->name + "'");
  auto buffer = guest_buffer(args->data, args->len, name);
  if (!buffer) return false;
  if (call == abi::Call::kBlockWrite && dev->block_read_only)
    return hostile("block_write: device '" + dev->name + "' is attached read-only");
  uint64_t done = 0;
  bool failed = false;
  while (done < args->len) {
    ssize_t n =
        call == abi::Call::kBlockRead
            ? pread(dev->block_fd, buffer->data() + done, args->len - done, args->offset + done)
            : pwrite(dev->block_fd, buffer->data() + done, args->len - done, args->offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      failed = true;
      break;
    }
    done += static_cast<uint64_t>(n);
  }
  args->status = static_cast<int32_t>(failed ? abi::CallStatus::kIoError : abi::CallStatus::kOk);
  memory_.write(gpa, *args);
  return true;
}

bool CallHandler::block_flush(uint64_t gpa) {
  auto args = read_args<abi::BlockFlushArgs>(gpa, "block_flush");
  if (!args) return false;
  AttachedDevice* dev = device(args->handle, abi::DeviceType::kBlock, "block_flush");
  if (!dev) return false;
  bool ok = dev->block_read_only || fdatasync(dev->block_fd) == 0;
  args->status = static_cast<int32_t>(ok ? abi::CallStatus::kOk : abi::CallStatus::kIoError);
  memory_.write(gpa, *args);
  return true;
}

bool CallHandler::net_ring_setup(uint64_t gpa) {
  auto args = read_args<abi::NetRingSetupArgs>(gpa, "net_ring_setup");
  if (!args) return false;
  if (!io_) {
    args->status = static_cast<int32_t>(abi::CallStatus::kUnsupported);
  } else {
    if (std::string e = io_->setup_ring(args->handle, args->ring, &args->offloads); !e.empty())
      return hostile(e);
    args->status = static_cast<int32_t>(abi::CallStatus::kOk);
  }
  memory_.write(gpa, *args);
  return true;
}

bool CallHandler::halt(uint64_t gpa) {
  auto args = read_args<abi::HaltArgs>(gpa, "halt");
  if (!args) return false;
  if (args->status == abi::kExitPanic && args->panic != 0) {
    auto info = memory_.read<abi::PanicInfo>(args->panic);
    if (!info)
      return hostile("halt: panic report at " + hex(args->panic) + " is outside guest memory");
    return panic(*info);
  }
  if (args->status < 0 || args->status > abi::kMaxGuestStatus)
    return hostile("halt: status " + std::to_string(args->status) + " is outside 0.." +
                   std::to_string(abi::kMaxGuestStatus));
  exit_status_ = args->status;
  return false;
}

bool CallHandler::panic(const abi::PanicInfo& info) {
  if (info.message_len > abi::kMaxPanicMessage || info.frame_count > abi::kMaxPanicFrames)
    return hostile("halt: panic report with a " + std::to_string(info.message_len) +
                   "-byte message and " + std::to_string(info.frame_count) +
                   " frames exceeds the limits");
  auto message = memory_.range(info.message, info.message_len);
  if (!message)
    return hostile("halt: panic message at " + hex(info.message) + " is outside guest memory");
  fflush(stdout);
  fprintf(stderr, "morgana-hvt: guest panic: %.*s\n", static_cast<int>(message->size()),
          reinterpret_cast<const char*>(message->data()));
  fprintf(stderr, "  rip %016" PRIx64 "  rsp %016" PRIx64 "  rbp %016" PRIx64 "\n", info.rip,
          info.rsp, info.rbp);
  const uint64_t regs[] = {info.rax, info.rbx, info.rcx, info.rdx, info.rsi, info.rdi, info.r8,
                           info.r9,  info.r10, info.r11, info.r12, info.r13, info.r14, info.r15};
  const char* names[] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8 ",
                         "r9 ", "r10", "r11", "r12", "r13", "r14", "r15"};
  for (int i = 0; i < 14; ++i) {
    fprintf(stderr, "  %s %016" PRIx64, names[i], regs[i]);
    if (i % 4 == 3 || i == 13) fputc('\n', stderr);
  }
  fprintf(stderr, "backtrace:\n");
  for (uint32_t i = 0; i < info.frame_count; ++i)
    fprintf(stderr, "  #%-2u 0x%08" PRIx64 " %s\n", i, info.frames[i],
            describe_return(symbols_.get(), info.frames[i]).c_str());
  exit_status_ = abi::kExitPanic;
  return false;
}

void CallHandler::print_backtrace(uint64_t rip, uint64_t rbp) const {
  fprintf(stderr, "backtrace:\n  #0  0x%08" PRIx64 " %s\n", rip,
          symbols_.get().describe(rip).c_str());
  for (uint32_t i = 1; i < abi::kMaxPanicFrames && rbp != 0; ++i) {
    // A frame is [saved rbp, return address]; frames grow towards higher addresses.
    auto frame = memory_.read<std::array<uint64_t, 2>>(rbp);
    if (!frame || (*frame)[1] == 0) break;
    fprintf(stderr, "  #%-2u 0x%08" PRIx64 " %s\n", i, (*frame)[1],
            describe_return(symbols_.get(), (*frame)[1]).c_str());
    if ((*frame)[0] <= rbp) break;
    rbp = (*frame)[0];
  }
}

}  // namespace morgana::tender
