// netecho: sends every Ethernet frame that arrives on `service` straight back with its
// source and destination MACs swapped. The smallest NET service; used by netecho.sh.
//
// Options: --count=N  exit 0 after echoing N frames (default: run forever)
//          --report=N print a progress line every N frames (default 1000)
//          --calls    on hvt, one monitor call per frame instead of the shared rings
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string_view>
#include <vector>

#include "morgana/app.h"
#include "morgana/platform/platform.h"

namespace {

namespace platform = morgana::platform;
using ull = unsigned long long;

// snprintf is all the image's runtime promises (no vsnprintf), hence a template.
template <typename... Args>
void print(const char* format, Args... args) {
  char line[256];
  int n = std::snprintf(line, sizeof(line), format, args...);
  if (n < 0) return;
  platform::console_write(std::string_view(line, std::min(size_t(n), sizeof(line) - 1)));
}

// Parses the decimal N of "--name=N"; false if `arg` is that option with a bad value.
bool parse_count(std::string_view arg, std::string_view name, uint64_t& value) {
  if (arg.substr(0, name.size()) != name) return true;
  std::string_view digits = arg.substr(name.size());
  if (digits.empty() || digits.size() > 18) return false;
  uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + uint64_t(c - '0');
  }
  value = n;
  return true;
}

// Sends `frame`, waiting while the transmit path is full (hvt's ring, a tap's queue);
// any other error is returned.
morgana::Result<void> send(platform::NetDevice& device, std::span<const uint8_t> frame) {
  for (;;) {
    auto sent = device.write(frame);
    if (sent || sent.error().code != morgana::Errc::kAgain) return sent;
    (void)platform::yield(platform::monotonic_ns() + 100'000);  // 0.1 ms for it to drain
  }
}

}  // namespace

int app_main(int argc, char** argv) {
  uint64_t count = 0;  // 0: forever
  uint64_t report = 1000;
  platform::NetPath path = platform::NetPath::kRings;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    if (arg == "--calls") {
      path = platform::NetPath::kCalls;
      continue;
    }
    if (!parse_count(arg, "--count=", count) || !parse_count(arg, "--report=", report) ||
        report == 0) {
      print("netecho: bad option '%s' (--count=N, --report=N with N > 0, --calls)\n", argv[i]);
      return 2;
    }
  }

  auto device = platform::NetDevice::open("service", path);
  if (!device) {
    print("netecho: no network device 'service': %s\n", morgana::errc_name(device.error().code));
    return 1;
  }
  const platform::MacAddress mac = device->mac();
  print("netecho: service %02x:%02x:%02x:%02x:%02x:%02x mtu %u\n", mac[0], mac[1], mac[2], mac[3],
        mac[4], mac[5], unsigned(device->mtu()));
  if (count) {
    print("netecho: echoing %llu frames\n", ull(count));
  } else {
    print("netecho: echoing until stopped\n");
  }

  std::vector<uint8_t> frame(size_t(device->mtu()) + 14);
  uint64_t echoed = 0;
  while (count == 0 || echoed < count) {
    // Sleep until a frame arrives: no deadline, so no busy polling.
    if (!(platform::yield(UINT64_MAX) & device->ready_bit())) continue;
    // Drain everything pending before sleeping again.
    while (count == 0 || echoed < count) {
      auto length = device->read(frame);
      if (!length) {
        if (length.error().code == morgana::Errc::kAgain) break;
        print("netecho: read failed: %s\n", morgana::errc_name(length.error().code));
        return 1;
      }
      if (*length < 14) continue;  // Not even an Ethernet header: nothing to echo.
      std::swap_ranges(frame.begin(), frame.begin() + 6, frame.begin() + 6);
      if (auto sent = send(*device, std::span<const uint8_t>(frame.data(), *length)); !sent) {
        print("netecho: write failed: %s\n", morgana::errc_name(sent.error().code));
        return 1;
      }
      ++echoed;
      if (echoed % report == 0) print("netecho: echoed %llu frames\n", ull(echoed));
    }
  }
  print("netecho: done, echoed %llu frames\n", ull(echoed));
  return 0;
}
