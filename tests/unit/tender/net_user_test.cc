// Tests of the libslirp user-mode backend: forwards reach the guest, the guest reaches
// nothing else (restricted, DESIGN.md §4), DHCP works, and it all runs under the
// monitor's seccomp filter. Only loopback sockets are used (DESIGN.md §8).
#include "tender/net_user.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "tender/seccomp.h"

namespace morgana::tender {
namespace {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr Mac kGuestMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
constexpr Mac kBroadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr uint32_t kGuestIp = 0x0a00020f;    // 10.0.2.15
constexpr uint32_t kGatewayIp = 0x0a000202;  // 10.0.2.2
constexpr uint16_t kEtherIpv4 = 0x0800, kEtherArp = 0x0806;
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

// --- Wire helpers: frames are built and parsed byte by byte, independently of the
// code under test (STYLE.md: real packets, not round trips through our own encoder).

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

// RFC 1071 Internet checksum over `len` bytes of `b` from `at`, plus a partial sum.
uint16_t checksum(const Bytes& b, size_t at, size_t len, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += get16(b, at + i);
  if (len % 2) sum += b[at + len - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

Bytes ethernet(const Mac& dst, const Mac& src, uint16_t type, size_t payload) {
  Bytes f(14 + payload);
  std::copy(dst.begin(), dst.end(), f.begin());
  std::copy(src.begin(), src.end(), f.begin() + 6);
  put16(f, 12, type);
  return f;
}

// An IPv4 header at offset 14 with a correct checksum; `payload` bytes follow it.
Bytes ipv4(const Mac& dst_mac, uint32_t src, uint32_t dst, uint8_t proto, size_t payload) {
  Bytes f = ethernet(dst_mac, kGuestMac, kEtherIpv4, 20 + payload);
  f[14] = 0x45;
  put16(f, 16, uint16_t(20 + payload));
  put16(f, 20, 0x4000);  // DF
  f[22] = 64;
  f[23] = proto;
  put32(f, 26, src);
  put32(f, 30, dst);
  put16(f, 24, checksum(f, 14, 20));
  return f;
}

struct Tcp {
  uint32_t src_ip = kGuestIp, dst_ip = 0;
  uint16_t sport = 0, dport = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  Bytes payload;
};

Bytes tcp_frame(const Mac& dst_mac, const Tcp& t) {
  Bytes f = ipv4(dst_mac, t.src_ip, t.dst_ip, 6, 20 + t.payload.size());
  size_t at = 34;
  put16(f, at, t.sport);
  put16(f, at + 2, t.dport);
  put32(f, at + 4, t.seq);
  put32(f, at + 8, t.ack);
  f[at + 12] = 5 << 4;
  f[at + 13] = t.flags;
  put16(f, at + 14, 65535);
  std::copy(t.payload.begin(), t.payload.end(), f.begin() + at + 20);
  size_t len = 20 + t.payload.size();
  // RFC 9293 §3.1: the checksum covers a pseudo-header of addresses, protocol, length.
  uint32_t pseudo = (t.src_ip >> 16) + (t.src_ip & 0xffff) + (t.dst_ip >> 16) +
                    (t.dst_ip & 0xffff) + 6 + uint32_t(len);
  put16(f, at + 16, checksum(f, at, len, pseudo));
  return f;
}

// Parses an Ethernet/IPv4/TCP frame; nullopt for anything else or a bad IP checksum.
std::optional<Tcp> parse_tcp(const Bytes& f) {
  if (f.size() < 34 || get16(f, 12) != kEtherIpv4 || (f[14] >> 4) != 4) return std::nullopt;
  size_t ihl = (f[14] & 0xf) * 4, total = get16(f, 16);
  if (ihl < 20 || total < ihl + 20 || f.size() < 14 + total || f[23] != 6) return std::nullopt;
  if (checksum(f, 14, ihl) != 0) return std::nullopt;
  size_t at = 14 + ihl, doff = (f[at + 12] >> 4) * 4;
  if (doff < 20 || ihl + doff > total) return std::nullopt;
  Tcp t;
  t.src_ip = get32(f, 26);
  t.dst_ip = get32(f, 30);
  t.sport = get16(f, at);
  t.dport = get16(f, at + 2);
  t.seq = get32(f, at + 4);
  t.ack = get32(f, at + 8);
  t.flags = f[at + 13];
  t.payload.assign(f.begin() + at + doff, f.begin() + 14 + total);
  return t;
}

// --- A scripted guest: answers slirp's ARP requests for 10.0.2.15 on the way, and
// hands every other frame to the test.
class MiniGuest {
 public:
  explicit MiniGuest(NetBackend& nic) : nic_(nic) {}

  std::optional<Bytes> next_frame(milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      Bytes buf(kNetMaxFrame);
      size_t n = nic_.recv(buf);
      if (n > 0) {
        buf.resize(n);
        if (!answer_arp(buf)) return buf;
        continue;
      }
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{nic_.wait_fd(), POLLIN, 0};
      poll(&p, 1, int(left.count()));
    }
  }

  std::optional<Tcp> next_tcp(milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto f = next_frame(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
      if (!f) return std::nullopt;
      if (auto t = parse_tcp(*f)) return t;
    }
    return std::nullopt;
  }

  void send_tcp(const Tcp& t) { nic_.send(tcp_frame(gateway_mac_, t)); }
  const Mac& gateway_mac() const { return gateway_mac_; }

 private:
  // RFC 826: replies to "who has 10.0.2.15?"; returns whether the frame was ARP.
  bool answer_arp(const Bytes& f) {
    if (f.size() < 42 || get16(f, 12) != kEtherArp) return false;
    std::copy(f.begin() + 6, f.begin() + 12, gateway_mac_.begin());
    if (get16(f, 20) != 1 || get32(f, 38) != kGuestIp) return true;
    Bytes r = ethernet(gateway_mac_, kGuestMac, kEtherArp, 28);
    put16(r, 14, 1);       // hardware: Ethernet
    put16(r, 16, 0x0800);  // protocol: IPv4
    r[18] = 6;
    r[19] = 4;
    put16(r, 20, 2);  // reply
    std::copy(kGuestMac.begin(), kGuestMac.end(), r.begin() + 22);
    put32(r, 28, kGuestIp);
    std::copy(f.begin() + 22, f.begin() + 32, r.begin() + 32);  // their MAC and IP
    nic_.send(r);
    return true;
  }

  NetBackend& nic_;
  Mac gateway_mac_ = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};  // slirp's, until seen
};

// --- Loopback helpers.

uint16_t free_port(int type) {
  int s = socket(AF_INET, type, 0);
  sockaddr_in a{AF_INET, 0, {htonl(INADDR_LOOPBACK)}, {}};
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

// A bound (and for TCP, listening) socket on 127.0.0.1; returns {fd, port}.
std::pair<int, uint16_t> loopback_socket(int type) {
  int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in a{AF_INET, 0, {htonl(INADDR_LOOPBACK)}, {}};
  EXPECT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  if (type == SOCK_STREAM) {
    EXPECT_EQ(listen(s, 4), 0);
  }
  socklen_t len = sizeof(a);
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  return {s, ntohs(a.sin_port)};
}

int connect_loopback(uint16_t port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{AF_INET, htons(port), {htonl(INADDR_LOOPBACK)}, {}};
  EXPECT_EQ(connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << std::strerror(errno);
  return s;
}

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

host::NetAttachment user_attachment(uint16_t host_port, uint16_t guest_port) {
  host::NetAttachment a;
  a.name = "service";
  a.kind = host::NetAttachment::Kind::kUser;
  if (host_port != 0) a.forwards.push_back({"127.0.0.1", host_port, guest_port});
  return a;
}

// A backend forwarding 127.0.0.1:<free port> to guest port 80. Retries a few times in
// case another process takes the port between the probe and slirp's bind.
std::pair<std::unique_ptr<NetBackend>, uint16_t> backend_with_forward() {
  for (int attempt = 0; attempt < 5; ++attempt) {
    uint16_t port = free_port(SOCK_STREAM);
    NetBackendResult r = UserBackend::create(user_attachment(port, 80));
    if (r) return {std::move(r.backend), port};
  }
  ADD_FAILURE() << "no free port for the forward";
  return {nullptr, 0};
}

// The guest's side of one forwarded connection to port 80.
struct GuestConnection {
  uint32_t peer_ip = 0;
  uint16_t peer_port = 0;
  uint32_t snd_nxt = 1000;  // our ISS, then the next sequence number we send
  uint32_t rcv_nxt = 0;     // the next sequence number we expect

  Tcp segment(uint8_t flags, const std::string& data = "") const {
    return {kGuestIp, peer_ip, 80,    peer_port,
            snd_nxt,  rcv_nxt, flags, Bytes(data.begin(), data.end())};
  }
};

// Waits for slirp's SYN to port 80, completes the handshake, reads what the host peer
// sent and answers `reply`. Returns "" or what went wrong (no gtest macros: it also
// runs in a forked child).
std::string serve_one_connection(MiniGuest& guest, GuestConnection& c, const std::string& expect,
                                 const std::string& reply) {
  auto syn = guest.next_tcp(milliseconds(5000));
  if (!syn) return "no SYN reached the guest";
  if (syn->flags != kSyn || syn->dst_ip != kGuestIp || syn->dport != 80) return "not a SYN to :80";
  c.peer_ip = syn->src_ip;
  c.peer_port = syn->sport;
  c.rcv_nxt = syn->seq + 1;
  guest.send_tcp(c.segment(kSyn | kAck));
  ++c.snd_nxt;
  std::string got;
  auto deadline = Clock::now() + milliseconds(5000);
  while (got.size() < expect.size() && Clock::now() < deadline) {
    auto seg = guest.next_tcp(milliseconds(500));
    if (!seg) continue;
    if (seg->flags & kRst) return "connection reset";
    if (seg->seq != c.rcv_nxt) continue;  // a retransmission or out of order: ignore
    got.append(seg->payload.begin(), seg->payload.end());
    c.rcv_nxt += seg->payload.size();
  }
  if (got != expect) return "guest read '" + got + "', expected '" + expect + "'";
  guest.send_tcp(c.segment(kPsh | kAck, reply));
  c.snd_nxt += reply.size();
  return "";
}

// After the host peer closed: waits for slirp's FIN and closes our side too (RFC 9293
// §3.6), so slirp frees the socket on its I/O thread.
std::string close_connection(MiniGuest& guest, GuestConnection& c) {
  auto deadline = Clock::now() + milliseconds(5000);
  while (Clock::now() < deadline) {
    auto seg = guest.next_tcp(milliseconds(500));
    if (!seg || !(seg->flags & kFin)) continue;
    c.rcv_nxt = seg->seq + seg->payload.size() + 1;
    guest.send_tcp(c.segment(kFin | kAck));
    ++c.snd_nxt;
    // slirp's last ACK, which also shows it took our FIN.
    auto last = guest.next_tcp(milliseconds(2000));
    if (!last || !(last->flags & kAck) || last->ack != c.snd_nxt) return "our FIN was not acked";
    return "";
  }
  return "no FIN reached the guest";
}

TEST(UserBackend, ForwardSendsSynToGuest) {
  auto [nic, port] = backend_with_forward();
  ASSERT_TRUE(nic);
  EXPECT_EQ(nic->mtu(), 1500u);
  int client = connect_loopback(port);
  MiniGuest guest(*nic);
  auto syn = guest.next_tcp(milliseconds(5000));
  ASSERT_TRUE(syn) << "no TCP frame reached the guest";
  EXPECT_EQ(syn->flags & (kSyn | kAck), kSyn);
  EXPECT_EQ(syn->dst_ip, kGuestIp);
  EXPECT_EQ(syn->dport, 80);
  EXPECT_EQ(syn->src_ip, kGatewayIp);  // forwarded peers appear as the gateway
  EXPECT_GT(nic->counters().frames_in, 0u);
  close(client);
}

TEST(UserBackend, ForwardCarriesBytesBothWays) {
  auto [nic, port] = backend_with_forward();
  ASSERT_TRUE(nic);
  int client = connect_loopback(port);
  ASSERT_EQ(write(client, "hello", 5), 5);
  MiniGuest guest(*nic);
  GuestConnection c;
  ASSERT_EQ(serve_one_connection(guest, c, "hello", "world"), "");
  char buf[16] = {};
  ASSERT_TRUE(readable(client, 5000)) << "the guest's reply did not reach the host peer";
  EXPECT_EQ(read(client, buf, sizeof(buf)), 5);
  EXPECT_STREQ(buf, "world");
  close(client);
  EXPECT_EQ(close_connection(guest, c), "");
}

TEST(UserBackend, GuestCannotConnectToHostLoopback) {
  // In unrestricted slirp, 10.0.2.2:port is the host's 127.0.0.1:port. Here it must
  // be refused, and the listener must see nothing.
  auto [listener, port] = loopback_socket(SOCK_STREAM);
  NetBackendResult r = UserBackend::create(user_attachment(0, 0));
  ASSERT_TRUE(r) << r.error;
  MiniGuest guest(*r.backend);
  guest.send_tcp({kGuestIp, kGatewayIp, 40000, port, 5000, 0, kSyn, {}});
  // Restricted slirp resets a connection attempt it will not carry (tcp_input's
  // dropwithreset), so the guest learns at once instead of timing out.
  auto answer = guest.next_tcp(milliseconds(2000));
  ASSERT_TRUE(answer) << "slirp did not answer the SYN";
  EXPECT_EQ(answer->flags & (kRst | kSyn), kRst) << "flags " << int(answer->flags);
  EXPECT_EQ(answer->dport, 40000);
  EXPECT_FALSE(readable(listener, 300)) << "the guest reached the host's loopback";
  close(listener);
}

TEST(UserBackend, GuestUdpToHostLoopbackIsDropped) {
  auto [receiver, port] = loopback_socket(SOCK_DGRAM);
  NetBackendResult r = UserBackend::create(user_attachment(0, 0));
  ASSERT_TRUE(r) << r.error;
  MiniGuest guest(*r.backend);
  Bytes f = ipv4(guest.gateway_mac(), kGuestIp, kGatewayIp, 17, 8 + 4);
  put16(f, 34, 40000);
  put16(f, 36, port);
  put16(f, 38, 12);  // UDP length; checksum 0 = none (RFC 768)
  std::memcpy(f.data() + 42, "ping", 4);
  r.backend->send(f);
  EXPECT_FALSE(readable(receiver, 300)) << "a guest datagram reached the host's loopback";
  close(receiver);
}

TEST(UserBackend, DhcpOffersGuestAddress) {
  NetBackendResult r = UserBackend::create(user_attachment(0, 0));
  ASSERT_TRUE(r) << r.error;
  // RFC 2131 DHCPDISCOVER: BOOTP request from 0.0.0.0:68 to 255.255.255.255:67.
  const size_t bootp = 240 + 3 + 1;  // fixed part, magic cookie, option 53, end
  Bytes f = ipv4(kBroadcast, 0, 0xffffffff, 17, 8 + bootp);
  put16(f, 34, 68);
  put16(f, 36, 67);
  put16(f, 38, uint16_t(8 + bootp));
  size_t at = 42;
  f[at] = 1;      // BOOTREQUEST
  f[at + 1] = 1;  // Ethernet
  f[at + 2] = 6;
  put32(f, at + 4, 0x12345678);  // xid
  std::copy(kGuestMac.begin(), kGuestMac.end(), f.begin() + at + 28);
  put32(f, at + 236, 0x63825363);  // magic cookie
  f[at + 240] = 53;                // DHCP message type
  f[at + 241] = 1;
  f[at + 242] = 1;  // DISCOVER
  f[at + 243] = 255;
  r.backend->send(f);
  MiniGuest guest(*r.backend);
  std::optional<Bytes> offer;
  while ((offer = guest.next_frame(milliseconds(2000)))) {
    if (offer->size() >= 42 + 240 && get16(*offer, 12) == kEtherIpv4 && (*offer)[23] == 17 &&
        get16(*offer, 36) == 68)
      break;
  }
  ASSERT_TRUE(offer) << "no DHCP answer";
  EXPECT_EQ((*offer)[42], 2);                     // BOOTREPLY
  EXPECT_EQ(get32(*offer, 42 + 4), 0x12345678u);  // our xid
  EXPECT_EQ(get32(*offer, 42 + 16), kGuestIp);    // yiaddr 10.0.2.15
}

TEST(UserBackend, ForwardOnBusyPortFailsNamingIt) {
  auto [busy, port] = loopback_socket(SOCK_STREAM);
  NetBackendResult r = UserBackend::create(user_attachment(port, 80));
  EXPECT_FALSE(r);
  std::string forward = "--net:service=user,forward=tcp:127.0.0.1:" + std::to_string(port) + "-:80";
  EXPECT_EQ(r.error, forward + ": cannot listen on 127.0.0.1:" + std::to_string(port) +
                         ": Address already in use");
  close(busy);
}

TEST(UserBackend, ForwardWithBadAddressFails) {
  host::NetAttachment a = user_attachment(0, 0);
  a.forwards.push_back({"localhost", 8080, 80});
  NetBackendResult r = UserBackend::create(a);
  EXPECT_FALSE(r);
  EXPECT_EQ(
      r.error,
      "--net:service=user,forward=tcp:localhost:8080-:80: 'localhost' is not an IPv4 address");
}

TEST(UserBackend, DropsAreCountedByReason) {
  NetBackendResult r = UserBackend::create(user_attachment(0, 0));
  ASSERT_TRUE(r) << r.error;
  NetBackend& nic = *r.backend;
  nic.send(Bytes(10));                // shorter than an Ethernet header
  nic.send(Bytes(kNetMaxFrame + 1));  // longer than any frame
  EXPECT_EQ(nic.counters().dropped(NetDrop::kSendTooShort), 1u);
  EXPECT_EQ(nic.counters().dropped(NetDrop::kSendTooLarge), 1u);
  // A frame longer than the caller's buffer is dropped, not truncated: ask slirp who
  // 10.0.2.2 is and read its reply into 8 bytes.
  Bytes who = ethernet(kBroadcast, kGuestMac, kEtherArp, 28);
  put16(who, 14, 1);
  put16(who, 16, 0x0800);
  who[18] = 6;
  who[19] = 4;
  put16(who, 20, 1);
  std::copy(kGuestMac.begin(), kGuestMac.end(), who.begin() + 22);
  put32(who, 28, kGuestIp);
  put32(who, 38, kGatewayIp);
  nic.send(who);
  ASSERT_TRUE(readable(nic.wait_fd(), 2000)) << "slirp did not answer ARP";
  uint8_t small[8];
  EXPECT_EQ(nic.recv(small), 0u);
  EXPECT_EQ(nic.counters().dropped(NetDrop::kRecvTooLarge), 1u);
  EXPECT_EQ(nic.counters().frames_out, 1u);
  EXPECT_FALSE(readable(nic.wait_fd(), 0)) << "wait_fd stays readable with nothing queued";
}

// The whole forward path under the monitor's filter: a forked child plays the
// monitor (backend, seccomp, guest), the test process is the host peer.
TEST(UserBackend, ForwardWorksUnderSeccomp) {
  uint16_t port = free_port(SOCK_STREAM);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    NetBackendResult r = UserBackend::create(user_attachment(port, 80));
    if (!r) _exit(10);
    SeccompPolicy policy;
    policy.user_net = UserNetCalls::kAllow;
    if (!install_seccomp(policy).empty()) _exit(11);
    if (write(ready[1], "r", 1) != 1) _exit(12);
    MiniGuest guest(*r.backend);
    GuestConnection c;
    std::string error = serve_one_connection(guest, c, "hello", "world");
    if (error.empty()) error = close_connection(guest, c);
    if (!error.empty()) {
      (void)!write(2, error.data(), error.size());
      _exit(13);
    }
    // Tear down under the filter too: joins the I/O thread, frees slirp.
    r.backend.reset();
    _exit(0);
  }
  close(ready[1]);
  char c;
  ASSERT_TRUE(readable(ready[0], 5000));
  ASSERT_EQ(read(ready[0], &c, 1), 1) << "the child failed before it was ready";
  int client = connect_loopback(port);
  ASSERT_EQ(write(client, "hello", 5), 5);
  char buf[16] = {};
  EXPECT_TRUE(readable(client, 5000));
  EXPECT_EQ(read(client, buf, sizeof(buf)), 5);
  EXPECT_STREQ(buf, "world");
  close(client);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_FALSE(WIFSIGNALED(status)) << "child killed by signal " << WTERMSIG(status)
                                    << (WTERMSIG(status) == SIGSYS ? " (seccomp)" : "");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  close(ready[0]);
}

}  // namespace
}  // namespace morgana::tender
