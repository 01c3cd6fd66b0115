// `usernet [--port=N] [--timeout-ms=N]`: the guest side of the user-mode networking
// test. It announces 10.0.2.15 (libslirp's guest address) with a gratuitous ARP,
// answers ARP requests for it, and exits 0 once a TCP SYN for port N (default 80)
// arrives — proof that a host port forward reaches the guest. Raw frames only: the
// TCP/IP stack comes later.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "morgana/app.h"
#include "morgana/platform/platform.h"

namespace {

using namespace morgana;

constexpr uint8_t kGuestIp[4] = {10, 0, 2, 15};

uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

void send_arp(platform::NetDevice& net, uint16_t op, const uint8_t* target_mac,
              const uint8_t* target_ip) {
  uint8_t f[42] = {};
  auto mac = net.mac();
  std::memcpy(f, op == 1 ? (const uint8_t*)"\xff\xff\xff\xff\xff\xff" : target_mac, 6);
  std::memcpy(f + 6, mac.data(), 6);
  f[12] = 0x08, f[13] = 0x06;                                           // ARP
  f[14] = 0, f[15] = 1, f[16] = 0x08, f[17] = 0, f[18] = 6, f[19] = 4;  // Ethernet/IPv4
  f[20] = 0, f[21] = static_cast<uint8_t>(op);
  std::memcpy(f + 22, mac.data(), 6);
  std::memcpy(f + 28, kGuestIp, 4);
  std::memcpy(f + 32, op == 1 ? (const uint8_t*)"\0\0\0\0\0\0" : target_mac, 6);
  std::memcpy(f + 38, target_ip, 4);
  if (!net.write(f)) printf("usernet: ARP send failed\n");
}

// Returns true when `f` is a SYN for `port`.
bool handle(platform::NetDevice& net, const uint8_t* f, size_t n, unsigned port) {
  if (n < 14) return false;
  uint16_t type = be16(f + 12);
  if (type == 0x0806 && n >= 42 && be16(f + 20) == 1 && !std::memcmp(f + 38, kGuestIp, 4)) {
    send_arp(net, 2, f + 22, f + 28);  // reply to the asker
    return false;
  }
  if (type != 0x0800 || n < 14 + 20) return false;
  const uint8_t* ip = f + 14;
  size_t ihl = (ip[0] & 0xf) * 4u;
  if ((ip[0] >> 4) != 4 || ihl < 20 || n < 14 + ihl + 20 || ip[9] != 6) return false;
  if (std::memcmp(ip + 16, kGuestIp, 4)) return false;
  const uint8_t* tcp = ip + ihl;
  bool syn = (tcp[13] & 0x02) && !(tcp[13] & 0x10);
  if (!syn || be16(tcp + 2) != port) return false;
  printf("usernet: SYN from %u.%u.%u.%u:%u to 10.0.2.15:%u\n", ip[12], ip[13], ip[14], ip[15],
         be16(tcp), port);
  return true;
}

}  // namespace

int app_main(int argc, char** argv) {
  unsigned port = 80;
  uint64_t timeout_ms = 20000;
  for (int i = 1; i < argc; ++i) {
    if (!std::strncmp(argv[i], "--port=", 7))
      port = static_cast<unsigned>(std::strtoul(argv[i] + 7, nullptr, 10));
    else if (!std::strncmp(argv[i], "--timeout-ms=", 13))
      timeout_ms = std::strtoull(argv[i] + 13, nullptr, 10);
  }
  auto net = platform::NetDevice::open("service");
  if (!net) {
    printf("usernet: no network device 'service'\n");
    return 2;
  }
  send_arp(*net, 1, nullptr, kGuestIp);  // gratuitous: who-has 10.0.2.15 tell 10.0.2.15
  printf("usernet: waiting for a SYN to port %u\n", port);
  uint64_t deadline = platform::monotonic_ns() + timeout_ms * 1000000;
  static uint8_t frame[1514];
  while (platform::monotonic_ns() < deadline) {
    platform::yield(deadline);
    for (;;) {
      auto n = net->read(frame);
      if (!n) break;
      if (handle(*net, frame, *n, port)) return 0;
    }
  }
  printf("usernet: no SYN within %llu ms\n", static_cast<unsigned long long>(timeout_ms));
  return 1;
}
