// The unix target's clocks, yield, halt, boot seed, device table and heap statistics:
// the parts of morgana/platform/platform.h that are not a device or the console.
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "morgana/platform/platform.h"
#include "morgana/rt/assert.h"
#include "morgana/rt/heap.h"
#include "platform/unix/unix_platform.h"

namespace morgana::platform {
namespace unix_target {
namespace {

uint64_t raw_clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

// Function-local statics so that a static constructor calling monotonic_ns() or
// boot_seed() before main() still sees a consistent origin and seed.
uint64_t clock_origin_ns() {
  static const uint64_t origin = raw_clock_ns(CLOCK_MONOTONIC);
  return origin;
}

struct Seed {
  uint8_t bytes[32];
  Seed() { fill_random(bytes, sizeof(bytes)); }
};
const Seed& seed() {
  static const Seed value;
  return value;
}

AttachedDevice g_devices[abi::kMaxDevices];
uint32_t g_device_count = 0;

// watch_fd(): descriptor per id above the manifest's devices, -1 when free.
int g_watched[kWatchIdLimit - kFirstWatchId] = {};
bool g_watched_init = false;

bool g_stats = false;
std::string g_program;

// --stats, printed on stderr at halt(), one line per device and one for the heap, in the
// spirit of morgana-hvt's exit statistics.
void print_stats() {
  char line[256];
  auto emit = [&line](int n) {
    if (n > 0)
      write_all(STDERR_FILENO, std::string_view(line, std::min(size_t(n), sizeof(line) - 1)));
  };
  const char* program = g_program.c_str();
  using ull = unsigned long long;
  emit(std::snprintf(line, sizeof(line), "%s: stats: ran %.3f ms\n", program,
                     double(monotonic_ns()) / 1e6));
  for (uint32_t i = 0; i < g_device_count; ++i) {
    const AttachedDevice& d = g_devices[i];
    const AttachedDevice::Counters& c = d.counters;
    if (d.type == abi::DeviceType::kNet) {
      emit(std::snprintf(line, sizeof(line),
                         "%s: stats: net %s: rx %llu frames %llu bytes, tx %llu frames %llu "
                         "bytes, %llu frames dropped; offloads %s, %llu GRO in, %llu TSO out\n",
                         program, d.name.c_str(), ull(c.calls_in), ull(c.bytes_in),
                         ull(c.calls_out), ull(c.bytes_out), ull(c.dropped),
                         d.offloads == 0                  ? "off"
                         : (d.offloads & kNetOffloadTso4) ? "csum+tso4"
                                                          : "csum",
                         ull(c.gso_in), ull(c.gso_out)));
    } else {
      emit(std::snprintf(line, sizeof(line),
                         "%s: stats: block %s: %llu reads %llu bytes, %llu writes %llu bytes, "
                         "%llu flushes\n",
                         program, d.name.c_str(), ull(c.calls_in), ull(c.bytes_in),
                         ull(c.calls_out), ull(c.bytes_out), ull(c.flushes)));
    }
  }
  rt::HeapStats heap = rt::heap_stats();
  emit(std::snprintf(line, sizeof(line), "%s: stats: heap %llu bytes in use (malloc's count)\n",
                     program, ull(heap.bytes_in_use)));
}

}  // namespace

void enable_stats(const std::string& program) {
  g_stats = true;
  g_program = program;
}

void start_clock() {
  (void)clock_origin_ns();
}
void init_boot_seed() {
  (void)seed();
}

void fill_random(uint8_t* bytes, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = getrandom(bytes + done, size - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "morgana: getrandom failed: %s\n", std::strerror(errno));
      _exit(abi::kExitRefused);
    }
    done += size_t(n);
  }
}

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        // Someone made our stdout non-blocking (a shared terminal or pipe): wait for room
        // rather than lose output.
        pollfd pfd{fd, POLLOUT, 0};
        poll(&pfd, 1, -1);
        continue;
      }
      return;  // EPIPE or a closed descriptor: the reader is gone, drop the output.
    }
    text.remove_prefix(size_t(n));
  }
}

AttachedDevice* device_table() {
  return g_devices;
}
uint32_t device_count() {
  return g_device_count;
}
void set_device_count(uint32_t count) {
  MORGANA_ASSERT(count <= abi::kMaxDevices);
  g_device_count = count;
}

Result<DeviceId> watch_fd(int fd) {
  if (fd < 0) return Error{Errc::kInvalidArgument, "watch_fd: negative descriptor"};
  if (!g_watched_init) {
    std::fill(std::begin(g_watched), std::end(g_watched), -1);
    g_watched_init = true;
  }
  for (DeviceId i = 0; i < kWatchIdLimit - kFirstWatchId; ++i) {
    if (g_watched[i] < 0) {
      g_watched[i] = fd;
      return kFirstWatchId + i;
    }
  }
  return Error{Errc::kOutOfRange, "watch_fd: every device id is taken"};
}

void unwatch_fd(DeviceId id) {
  if (!g_watched_init || id < kFirstWatchId || id >= kWatchIdLimit) return;
  g_watched[id - kFirstWatchId] = -1;
}

const AttachedDevice* find_device(std::string_view name, abi::DeviceType type, DeviceId* id) {
  for (uint32_t i = 0; i < g_device_count; ++i) {
    if (g_devices[i].type == type && g_devices[i].name == name) {
      *id = i;
      return &g_devices[i];
    }
  }
  return nullptr;
}

}  // namespace unix_target

using namespace unix_target;

uint64_t monotonic_ns() {
  return raw_clock_ns(CLOCK_MONOTONIC) - clock_origin_ns();
}

uint64_t wall_clock_ns() {
  return raw_clock_ns(CLOCK_REALTIME);
}

std::span<const uint8_t, 32> boot_seed() {
  return std::span<const uint8_t, 32>(seed().bytes);
}

ReadySet yield(uint64_t deadline_ns) {
  console_flush();

  // Only network devices can become ready: a block device's calls complete synchronously.
  pollfd fds[kWatchIdLimit];
  DeviceId ids[kWatchIdLimit];
  nfds_t count = 0;
  for (uint32_t i = 0; i < g_device_count; ++i) {
    if (g_devices[i].type != abi::DeviceType::kNet || g_devices[i].fd < 0) continue;
    fds[count] = pollfd{g_devices[i].fd, POLLIN, 0};
    ids[count] = i;
    ++count;
  }
  // Descriptors from watch_fd(), reported under their own ids.
  for (DeviceId i = 0; g_watched_init && i < kWatchIdLimit - kFirstWatchId; ++i) {
    if (g_watched[i] < 0) continue;
    fds[count] = pollfd{g_watched[i], POLLIN, 0};
    ids[count] = kFirstWatchId + i;
    ++count;
  }

  for (;;) {
    uint64_t now = monotonic_ns();
    timespec timeout{};
    timespec* timeout_ptr = &timeout;
    if (deadline_ns == UINT64_MAX) {
      timeout_ptr = nullptr;  // No deadline: sleep until a device has input.
    } else if (deadline_ns > now) {
      uint64_t wait = deadline_ns - now;
      // Clamp so a far-future deadline cannot overflow time_t arithmetic in the kernel.
      wait = std::min<uint64_t>(wait, uint64_t(365) * 24 * 3600 * 1'000'000'000u);
      timeout.tv_sec = time_t(wait / 1'000'000'000u);
      timeout.tv_nsec = long(wait % 1'000'000'000u);
    }
    int n = ppoll(fds, count, timeout_ptr, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;  // A signal is not a deadline: sleep on.
      panic("yield: ppoll failed: %s", std::strerror(errno));
    }
    ReadySet ready = 0;
    for (nfds_t i = 0; i < count; ++i) {
      // Errors and hang-ups count as ready too, so the application's next read reports
      // them (kIo) instead of the loop spinning on a silent descriptor.
      if (fds[i].revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) ready |= ReadySet{1} << ids[i];
    }
    if (ready != 0 || n == 0 || timeout_ptr == nullptr || monotonic_ns() >= deadline_ns) {
      return ready;
    }
  }
}

void halt(int status) {
  reset_tap_offloads();
  console_flush();
  std::fflush(nullptr);
  if (g_stats) print_stats();
  if (status < 0 || status > abi::kMaxGuestStatus) {
    // The statuses above 125 belong to the monitor (§4). morgana-hvt ends a guest that
    // asks for one as a hostile call; do the same so both targets fail alike.
    char message[96];
    int n = std::snprintf(message, sizeof(message), "morgana: halt: status %d is outside 0..%d\n",
                          status, abi::kMaxGuestStatus);
    write_all(STDERR_FILENO, std::string_view(message, std::min(size_t(n), sizeof(message) - 1)));
    _exit(abi::kExitHostileCall);
  }
  _exit(status);
}

}  // namespace morgana::platform

namespace morgana::rt {

// glibc keeps no allocation counts or peak, so on unix those read 0 and the peak is the
// largest value seen by any heap_stats() call. heap_size is 0: the heap is unbounded.
HeapStats heap_stats() {
  static size_t peak = 0;
  struct mallinfo2 info = mallinfo2();
  size_t in_use = info.uordblks + info.hblkhd;
  peak = std::max(peak, in_use);
  return HeapStats{0, in_use, peak, 0, 0};
}

}  // namespace morgana::rt
