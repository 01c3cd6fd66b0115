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
#include "morgana/app_options.h"
#include "morgana/platform/platform.h"

namespace {

namespace platform = morgana::platform;
using ull = unsigned long long;

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
    if (!morgana::app::parse_uint_option(arg, "--count=", count) ||
        !morgana::app::parse_uint_option(arg, "--report=", report) || report == 0) {
      std::printf("netecho: bad option '%s' (--count=N, --report=N with N > 0, --calls)\n",
                  argv[i]);
      return 2;
    }
  }

  auto device = platform::NetDevice::open("service", path);
  if (!device) {
    std::printf("netecho: no network device 'service': %s\n",
                morgana::errc_name(device.error().code));
    return 1;
  }
  const platform::MacAddress mac = device->mac();
  std::printf("netecho: service %02x:%02x:%02x:%02x:%02x:%02x mtu %u\n", mac[0], mac[1], mac[2],
              mac[3], mac[4], mac[5], unsigned(device->mtu()));
  if (count) {
    std::printf("netecho: echoing %llu frames\n", ull(count));
  } else {
    std::printf("netecho: echoing until stopped\n");
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
        std::printf("netecho: read failed: %s\n", morgana::errc_name(length.error().code));
        return 1;
      }
      if (*length < 14) continue;  // Not even an Ethernet header: nothing to echo.
      std::swap_ranges(frame.begin(), frame.begin() + 6, frame.begin() + 6);
      if (auto sent = send(*device, std::span<const uint8_t>(frame.data(), *length)); !sent) {
        std::printf("netecho: write failed: %s\n", morgana::errc_name(sent.error().code));
        return 1;
      }
      ++echoed;
      if (echoed % report == 0) std::printf("netecho: echoed %llu frames\n", ull(echoed));
    }
  }
  std::printf("netecho: done, echoed %llu frames\n", ull(echoed));
  return 0;
}
