// tapfwd: the forwarder behind bench/net's "Linux → Linux (tap + forwarder)" column. It joins
// two taps, each in its own network namespace, the way morgana-hvt's I/O thread joins a tap.
//
//   tapfwd NETNS_A:TAP_A NETNS_B:TAP_B
//
// Each tap is opened after setns() into /var/run/netns/NETNS (TUNSETIFF creates the tap or
// attaches to the existing one) with a virtio_net_hdr in front of every frame and checksum
// and TSO offloads on, so 64 KiB GSO frames with partial checksums cross unchanged, as they
// do between the host and a Morgana guest (tender/net_tap.cc). Every frame costs one read
// and one write: the one copy per direction morgana-hvt makes, with Linux's stack on both
// ends instead of Morgana's on one. SIGTERM or SIGINT stops it; it then prints, per
// direction, the frames and bytes it carried and how many were GSO frames.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

namespace {

// The header morgana-hvt puts on its tap (abi::VirtioNetHeader, tender/net_tap.cc): the
// 10-byte virtio_net_hdr, without the 2-byte num_buffers of virtio_net_hdr_mrg_rxbuf, which
// only merged receive buffers use.
struct VnetHeader {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
static_assert(sizeof(VnetHeader) == 10);
constexpr uint8_t kGsoNone = 0;  // VIRTIO_NET_HDR_GSO_NONE

// The tap's GSO frames are capped at 64 KiB (its gso_max_size) plus the Ethernet header.
constexpr size_t kMaxFrame = 65536 + 14;
constexpr size_t kBufferBytes = sizeof(VnetHeader) + kMaxFrame;
// Frames one direction moves before the other gets its turn, so that a bulk flow's ACKs
// are not held behind a long run of its data.
constexpr int kBatch = 64;

std::atomic<bool> stop{false};

void on_signal(int) {
  stop.store(true, std::memory_order_relaxed);
}

struct Endpoint {
  std::string spec;  // "NETNS:TAP" as given
  std::string netns;
  std::string tap;
  int fd = -1;
};

// Splits "NETNS:TAP" at the last colon: a namespace is a file name and may hold one, an
// interface name may not. Returns an empty string when the argument is fine, else the problem.
std::string parse_endpoint(const char* arg, Endpoint& e) {
  e.spec = arg;
  const size_t colon = e.spec.rfind(':');
  if (colon == std::string::npos) return "expected NETNS:TAP (no ':' in it)";
  e.netns = e.spec.substr(0, colon);
  e.tap = e.spec.substr(colon + 1);
  if (e.netns.empty()) return "the namespace name is empty";
  if (e.netns == "." || e.netns == ".." || e.netns.find('/') != std::string::npos)
    return "the namespace must be a name in /var/run/netns, not a path";
  if (e.netns.size() > 255) return "the namespace name is longer than 255 bytes";
  if (e.tap.empty()) return "the tap name is empty";
  if (e.tap.size() >= IFNAMSIZ)
    return "the tap name is longer than " + std::to_string(IFNAMSIZ - 1) + " bytes";
  // The kernel's dev_valid_name() refuses these too; saying so here names the argument.
  for (char c : e.tap) {
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f)
      return "the tap name holds a '/', ':', space or control character";
  }
  return "";
}

// Opens the tap inside its namespace. The tun file takes the namespace of the process
// that opens it, so /dev/net/tun is opened after setns(); the process returns to its own
// namespace afterwards. Returns an empty string on success, else what failed.
std::string open_tap(Endpoint& e, int home_netns) {
  const std::string path = "/var/run/netns/" + e.netns;
  const int ns = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) return "cannot open " + path + ": " + std::strerror(errno);
  if (setns(ns, CLONE_NEWNET) != 0) {
    const int err = errno;
    close(ns);
    return "cannot enter namespace " + e.netns + ": " + std::strerror(err);
  }
  close(ns);
  std::string problem;
  // Non-blocking: the poll loop drains a tap until it is empty.
  e.fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (e.fd < 0) {
    problem = std::string("cannot open /dev/net/tun: ") + std::strerror(errno);
  } else {
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    std::memcpy(ifr.ifr_name, e.tap.data(), e.tap.size());
    int header_size = sizeof(VnetHeader);
    // morgana-hvt's TUN_F_CSUM | TUN_F_TSO4, and TUN_F_TSO6 so that IPv6 bulk through the
    // forwarder is not cut into segments in software either. bench/net turns IPv6 off in
    // its namespaces, so its figures are the same with or without it.
    const unsigned offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    if (ioctl(e.fd, TUNSETIFF, &ifr) < 0) {
      problem = "cannot create or attach tap " + e.tap + ": " + std::strerror(errno);
    } else if (ioctl(e.fd, TUNSETVNETHDRSZ, &header_size) < 0 ||
               ioctl(e.fd, TUNSETOFFLOAD, offloads) < 0) {
      problem = "cannot set the vnet header or offloads on " + e.tap + ": " + std::strerror(errno);
    }
  }
  if (setns(home_netns, CLONE_NEWNET) != 0 && problem.empty())
    problem = std::string("cannot return to the original namespace: ") + std::strerror(errno);
  return problem;
}

// What one direction carried; printed at exit.
struct Counters {
  uint64_t frames = 0;
  uint64_t bytes = 0;  // Ethernet frames, without the vnet header
  uint64_t gso_frames = 0;
  uint64_t largest = 0;
  uint64_t too_large = 0;  // longer than kMaxFrame: dropped
  uint64_t read_errors = 0;
  uint64_t write_errors = 0;  // the receiving tap refused the frame
};

struct Direction {
  const Endpoint* from;
  const Endpoint* to;
  std::unique_ptr<uint8_t[]> buffer{new uint8_t[kBufferBytes]};
  Counters count;
};

// Moves one frame. Returns false when `from` has nothing waiting (or failed).
bool forward_one(Direction& d) {
  ssize_t n;
  do {
    n = read(d.from->fd, d.buffer.get(), kBufferBytes);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN) ++d.count.read_errors;
    return false;
  }
  if (static_cast<size_t>(n) <= sizeof(VnetHeader)) {  // the tap always writes the header
    ++d.count.read_errors;
    return true;
  }
  // tun reports a frame's whole length even when the buffer held only part of it.
  if (static_cast<size_t>(n) > kBufferBytes) {
    ++d.count.too_large;
    return true;
  }
  VnetHeader vnet;
  std::memcpy(&vnet, d.buffer.get(), sizeof vnet);
  ssize_t written;
  do {
    written = write(d.to->fd, d.buffer.get(), static_cast<size_t>(n));
  } while (written < 0 && errno == EINTR);
  if (written != n) {
    ++d.count.write_errors;
    return true;
  }
  const uint64_t len = static_cast<uint64_t>(n) - sizeof vnet;
  ++d.count.frames;
  d.count.bytes += len;
  if (vnet.gso_type != kGsoNone) ++d.count.gso_frames;
  if (len > d.count.largest) d.count.largest = len;
  return true;
}

// One thread polling both taps, as morgana-hvt's I/O thread polls its devices. Measured
// against one thread per direction (each in poll() on its own tap), all on one core as
// bench/net pins them (256 MiB, 10 rounds each, 2026-11-27, medians, noisy machine):
// TCP bulk A to B 592 vs 547 MB/s, B to A 653 vs 762 MB/s, 64-byte request/response
// 30,400 vs 27,100 requests/s. Poll won two of three and has the monitor's shape: it stays.
// SIGTERM and SIGINT are blocked except inside ppoll(), so a signal that arrives while
// frames are moving still ends the next wait instead of being missed before it.
void run(Direction (&dirs)[2], const sigset_t& wait_mask) {
  pollfd fds[2] = {{dirs[0].from->fd, POLLIN, 0}, {dirs[1].from->fd, POLLIN, 0}};
  while (!stop.load(std::memory_order_relaxed)) {
    const int rc = ppoll(fds, 2, nullptr, &wait_mask);
    if (rc < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "tapfwd: ppoll: %s\n", std::strerror(errno));
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      for (int k = 0; k < kBatch && forward_one(dirs[i]); ++k) {
      }
    }
  }
}

void print(const Direction& d) {
  const Counters& c = d.count;
  std::fprintf(stderr,
               "tapfwd: %s -> %s: %llu frames, %llu bytes (average %llu, largest %llu), "
               "%llu GSO frames; dropped: %llu too large, %llu read errors, %llu write errors\n",
               d.from->spec.c_str(), d.to->spec.c_str(), (unsigned long long)c.frames,
               (unsigned long long)c.bytes, (unsigned long long)(c.frames ? c.bytes / c.frames : 0),
               (unsigned long long)c.largest, (unsigned long long)c.gso_frames,
               (unsigned long long)c.too_large, (unsigned long long)c.read_errors,
               (unsigned long long)c.write_errors);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: tapfwd NETNS_A:TAP_A NETNS_B:TAP_B\n");
    return 2;
  }
  Endpoint ends[2];
  for (int i = 0; i < 2; ++i) {
    const std::string problem = parse_endpoint(argv[i + 1], ends[i]);
    if (!problem.empty()) {
      std::fprintf(stderr, "tapfwd: '%s': %s\n", argv[i + 1], problem.c_str());
      return 2;
    }
  }
  if (ends[0].netns == ends[1].netns && ends[0].tap == ends[1].tap) {
    std::fprintf(stderr, "tapfwd: '%s' is given twice: the two taps must differ\n", argv[1]);
    return 2;
  }
  // Blocked from here on and delivered only inside ppoll() (see run()).
  sigset_t stop_signals, wait_mask;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigprocmask(SIG_BLOCK, &stop_signals, &wait_mask);
  sigdelset(&wait_mask, SIGTERM);
  sigdelset(&wait_mask, SIGINT);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  const int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) {
    std::fprintf(stderr, "tapfwd: cannot open /proc/self/ns/net: %s\n", std::strerror(errno));
    return 1;
  }
  for (Endpoint& e : ends) {
    const std::string problem = open_tap(e, home);
    if (!problem.empty()) {
      std::fprintf(stderr, "tapfwd: %s: %s\n", e.spec.c_str(), problem.c_str());
      return 1;
    }
  }
  close(home);

  Direction dirs[2] = {{&ends[0], &ends[1]}, {&ends[1], &ends[0]}};
  run(dirs, wait_mask);
  for (const Direction& d : dirs) print(d);
  // A persistent tap keeps its offloads: its next user may read it without a vnet header.
  for (const Endpoint& e : ends) {
    (void)ioctl(e.fd, TUNSETOFFLOAD, 0u);
    close(e.fd);
  }
  return 0;
}
