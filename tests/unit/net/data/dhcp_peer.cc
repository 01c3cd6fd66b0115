// A host driver for dhcp_capture.sh: runs DhcpClient over a real UDP socket (port 68, bound
// to one interface) against a real DHCP server until it is BOUND, so the capture holds our
// own DISCOVER and REQUEST and the server's answers to them. Not part of the build:
// dhcp_capture.sh compiles it with g++.
// Usage: dhcp_peer INTERFACE MAC
#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "morgana/net/dhcp.h"

using namespace morgana::net;

static uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  auto mac = MacAddress::parse(argv[2]);
  if (!mac) return 2;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, argv[1], socklen_t(strlen(argv[1])));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_port = htons(kDhcpClientPort);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) return perror("bind"), 1;

  DhcpConfig config;
  config.mac = *mac;
  config.hostname = "morgana";
  auto client = std::move(DhcpClient::create(config, now_ns())).value();
  client.start(now_ns());
  const uint64_t give_up = now_ns() + 20'000'000'000;
  while (now_ns() < give_up) {
    while (auto out = client.pop_outgoing()) {
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(kDhcpServerPort);
      std::memcpy(&to.sin_addr, out->destination.bytes.data(), 4);
      sendto(fd, out->bytes.data(), out->size, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    }
    if (client.state() == DhcpState::kBound) {
      const DhcpLease& lease = *client.lease();
      std::printf("bound %s via %s\n", lease.address.to_string().c_str(),
                  lease.server.to_string().c_str());
      return 0;
    }
    const uint64_t deadline = client.next_deadline(), now = now_ns();
    pollfd p{fd, POLLIN, 0};
    const int wait_ms =
        deadline <= now ? 0 : int(std::min<uint64_t>((deadline - now) / 1'000'000 + 1, 1000));
    if (poll(&p, 1, wait_ms) > 0) {
      uint8_t buffer[1500];
      ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n > 0) client.receive({buffer, size_t(n)}, now_ns());
    }
    client.tick(now_ns());
  }
  std::printf("not bound: state %s\n", dhcp_state_name(client.state()));
  return 1;
}
