// Tests of the tap backend. They need root and /dev/net/tun, and keep every frame
// inside a network namespace they create and delete (DESIGN.md §8); without root they
// print SKIPPED with the reason.
#include "tender/net_tap.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace morgana::tender {
namespace {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;

constexpr Mac kGuestMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr uint32_t kHostIp = 0x0ac70001;   // 10.199.0.1, the tap's side in the netns
constexpr uint32_t kGuestIp = 0x0ac70002;  // 10.199.0.2, the "guest"

void put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = v >> 8;
  b[at + 1] = v & 0xff;
}
void put32(Bytes& b, size_t at, uint32_t v) {
  put16(b, at, v >> 16);
  put16(b, at + 2, v & 0xffff);
}
uint16_t get16(const Bytes& b, size_t at) {
  return uint16_t(b[at] << 8 | b[at + 1]);
}
uint32_t get32(const Bytes& b, size_t at) {
  return uint32_t(get16(b, at)) << 16 | get16(b, at + 2);
}

uint16_t ip_checksum(const Bytes& b, size_t at, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i < len; i += 2) sum += get16(b, at + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

// Ethernet + IPv4 + UDP (checksum 0: none, RFC 768) from the guest.
Bytes udp_frame(const Mac& dst_mac, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                const std::string& data) {
  Bytes f(42 + data.size());
  std::copy(dst_mac.begin(), dst_mac.end(), f.begin());
  std::copy(kGuestMac.begin(), kGuestMac.end(), f.begin() + 6);
  put16(f, 12, 0x0800);
  f[14] = 0x45;
  put16(f, 16, uint16_t(28 + data.size()));
  f[22] = 64;
  f[23] = 17;
  put32(f, 26, src);
  put32(f, 30, dst);
  put16(f, 24, ip_checksum(f, 14, 20));
  put16(f, 34, sport);
  put16(f, 36, dport);
  put16(f, 38, uint16_t(8 + data.size()));
  std::memcpy(f.data() + 42, data.data(), data.size());
  return f;
}

// RFC 826 reply to the request `who` (which asked for kGuestIp).
Bytes arp_reply(const Bytes& who) {
  Bytes r(42);
  std::copy(who.begin() + 6, who.begin() + 12, r.begin());
  std::copy(kGuestMac.begin(), kGuestMac.end(), r.begin() + 6);
  put16(r, 12, 0x0806);
  put16(r, 14, 1);
  put16(r, 16, 0x0800);
  r[18] = 6;
  r[19] = 4;
  put16(r, 20, 2);
  std::copy(kGuestMac.begin(), kGuestMac.end(), r.begin() + 22);
  put32(r, 28, kGuestIp);
  std::copy(who.begin() + 22, who.begin() + 32, r.begin() + 32);
  return r;
}

int run(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str());
}

// Creates network namespace morgana-test-PID for the test and deletes it afterwards;
// the test body runs on a thread that has entered it, so the tap is created there.
class TapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
      GTEST_SKIP() << "SKIPPED: needs root and /dev/net/tun";
    }
    netns_ = "morgana-test-" + std::to_string(getpid());
    if (run("ip netns add " + netns_) != 0) {
      netns_.clear();
      GTEST_SKIP() << "SKIPPED: cannot create a network namespace (ip netns add)";
    }
    ifname_ = "mgt" + std::to_string(getpid() % 100000);
  }
  void TearDown() override {
    if (!netns_.empty()) run("ip netns del " + netns_);
  }

  // Runs `body` on a thread inside the namespace (setns changes only that thread).
  void in_netns(const std::function<void()>& body) {
    std::thread t([&] {
      int fd = open(("/run/netns/" + netns_).c_str(), O_RDONLY | O_CLOEXEC);
      ASSERT_GE(fd, 0) << std::strerror(errno);
      ASSERT_EQ(setns(fd, CLONE_NEWNET), 0) << std::strerror(errno);
      close(fd);
      body();
    });
    t.join();
  }

  host::NetAttachment attachment(const std::string& ifname) const {
    host::NetAttachment a;
    a.name = "service";
    a.kind = host::NetAttachment::Kind::kTap;
    a.ifname = ifname;
    return a;
  }

  std::string netns_, ifname_;
};

// Waits up to `ms` for a frame on `nic` that `want` accepts; skips the rest (IPv6
// router solicitations and the like that a new interface sends).
std::optional<Bytes> wait_frame(NetBackend& nic, int ms,
                                const std::function<bool(const Bytes&)>& want) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    Bytes buf(kNetMaxFrame);
    if (size_t n = nic.recv(buf); n > 0) {
      buf.resize(n);
      if (want(buf)) return buf;
      continue;
    }
    pollfd p{nic.wait_fd(), POLLIN, 0};
    poll(&p, 1, 50);
  }
  return std::nullopt;
}

TEST_F(TapTest, FramesFlowBothWays) {
  in_netns([&] {
    NetBackendResult r = TapBackend::create(attachment(ifname_));
    ASSERT_TRUE(r) << r.error;
    NetBackend& nic = *r.backend;
    ASSERT_EQ(run("ip -n " + netns_ + " addr add 10.199.0.1/24 dev " + ifname_), 0);
    ASSERT_EQ(run("ip -n " + netns_ + " link set dev " + ifname_ + " up"), 0);

    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in local{AF_INET, htons(9999), {htonl(kHostIp)}, {}};
    ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0)
        << std::strerror(errno);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, ifname_.c_str(), IFNAMSIZ - 1);
    ASSERT_EQ(ioctl(s, SIOCGIFHWADDR, &ifr), 0);
    Mac tap_mac;
    std::memcpy(tap_mac.data(), ifr.ifr_hwaddr.sa_data, 6);

    // Guest → host: a datagram sent through the backend reaches a socket in the netns.
    nic.send(udp_frame(tap_mac, kGuestIp, kHostIp, 40000, 9999, "from-guest"));
    pollfd p{s, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 2000), 1) << "the guest's datagram did not arrive";
    char buf[64] = {};
    EXPECT_EQ(recv(s, buf, sizeof(buf), 0), 10);
    EXPECT_STREQ(buf, "from-guest");
    EXPECT_EQ(nic.counters().frames_out, 1u);

    // Host → guest: the kernel asks for the guest's MAC first, then sends the datagram.
    sockaddr_in guest{AF_INET, htons(7777), {htonl(kGuestIp)}, {}};
    ASSERT_EQ(sendto(s, "from-host", 9, 0, reinterpret_cast<sockaddr*>(&guest), sizeof(guest)), 9);
    auto who = wait_frame(nic, 3000, [](const Bytes& f) {
      return f.size() >= 42 && get16(f, 12) == 0x0806 && get16(f, 20) == 1 &&
             get32(f, 38) == kGuestIp;
    });
    ASSERT_TRUE(who) << "no ARP request for the guest";
    nic.send(arp_reply(*who));
    auto datagram = wait_frame(nic, 3000, [](const Bytes& f) {
      return f.size() >= 42 && get16(f, 12) == 0x0800 && f[23] == 17 && get16(f, 36) == 7777;
    });
    ASSERT_TRUE(datagram) << "the host's datagram did not reach the guest";
    EXPECT_TRUE(std::equal(kGuestMac.begin(), kGuestMac.end(), datagram->begin()));
    EXPECT_EQ(std::string(datagram->begin() + 42, datagram->begin() + 51), "from-host");
    EXPECT_GE(nic.counters().frames_in, 2u);
    EXPECT_EQ(nic.counters().total_drops(), 0u);

    // A frame longer than the caller's buffer is dropped and counted, not truncated.
    ASSERT_EQ(sendto(s, "again", 5, 0, reinterpret_cast<sockaddr*>(&guest), sizeof(guest)), 5);
    pollfd tap{nic.wait_fd(), POLLIN, 0};
    ASSERT_EQ(poll(&tap, 1, 2000), 1);
    uint8_t small[20];
    EXPECT_EQ(nic.recv(small), 0u);
    EXPECT_GE(nic.counters().dropped(NetDrop::kRecvTooLarge), 1u);
    close(s);
  });
}

TEST_F(TapTest, AttachingToAnotherKindOfInterfaceFails) {
  in_netns([&] {
    NetBackendResult r = TapBackend::create(attachment("lo"));
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error, "--net:service=tap:lo: cannot attach: Invalid argument");
  });
}

TEST_F(TapTest, BadFramesAreCountedNotSent) {
  in_netns([&] {
    NetBackendResult r = TapBackend::create(attachment(ifname_));
    ASSERT_TRUE(r) << r.error;
    r.backend->send(Bytes(6));
    r.backend->send(Bytes(kNetMaxFrame + 1));
    EXPECT_EQ(r.backend->counters().dropped(NetDrop::kSendTooShort), 1u);
    EXPECT_EQ(r.backend->counters().dropped(NetDrop::kSendTooLarge), 1u);
    Bytes buf(kNetMaxFrame);
    EXPECT_EQ(r.backend->recv(buf), 0u);  // the interface is down: nothing, at once
  });
}

TEST(TapBackend, OverlongInterfaceNameIsRefused) {
  host::NetAttachment a;
  a.name = "service";
  a.ifname = "a-very-long-interface-name";
  NetBackendResult r = TapBackend::create(a);
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error,
            "--net:service=tap:a-very-long-interface-name: interface name must be 1 to 15 bytes");
}

}  // namespace
}  // namespace morgana::tender
