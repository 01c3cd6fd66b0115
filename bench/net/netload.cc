// netload: the one load generator and peer bench/net uses for every row, so Morgana and
// Linux are measured by the same client. Linux sockets, epoll, one thread.
//
//   netload send HOST PORT BYTES        TCP: send BYTES, half-close, wait for the peer's
//                                       close; prints MB/s (the sink has everything)
//   netload recv HOST PORT              TCP: read until EOF; prints bytes and MB/s
//   netload rr HOST PORT CONNS SECONDS SIZE
//                                       TCP request/response: CONNS connections each
//                                       send SIZE bytes and wait for SIZE back; prints
//                                       requests/s and latency percentiles
//   netload udp HOST PORT SECONDS SIZE WINDOW
//                                       UDP echo with WINDOW datagrams in flight;
//                                       prints datagrams/s (losses are re-armed after 50 ms)
//   netload sink PORT | source PORT BYTES | echo PORT
//                                       the Linux peers: discard, chargen-like source
//                                       (zeros), TCP+UDP echo (one connection at a time is
//                                       not enough for rr: echo serves many with epoll)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "netload: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

sockaddr_in address(const char* host, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    std::fprintf(stderr, "netload: bad IPv4 address '%s'\n", host);
    std::exit(2);
  }
  return a;
}

int connect_tcp(const char* host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  sockaddr_in a = address(host, port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int listen_tcp(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind");
  if (listen(fd, 1024) != 0) die("listen");
  return fd;
}

void print_rate(const char* what, uint64_t bytes, uint64_t ns) {
  std::printf("%s %llu bytes in %.3f s: %.1f MB/s\n", what, (unsigned long long)bytes, ns / 1e9,
              ns ? bytes * 1e3 / ns : 0.0);
}

int send_mode(const char* host, int port, uint64_t total) {
  int fd = connect_tcp(host, port);
  std::vector<char> buffer(256 * 1024, 0);
  uint64_t start = now_ns(), sent = 0;
  while (sent < total) {
    ssize_t n = write(fd, buffer.data(), std::min<uint64_t>(buffer.size(), total - sent));
    if (n < 0) {
      if (errno == EINTR) continue;
      die("write");
    }
    sent += uint64_t(n);
  }
  shutdown(fd, SHUT_WR);
  char byte;
  while (read(fd, &byte, 1) > 0) {
  }  // the sink closes once it has read everything
  print_rate("send", sent, now_ns() - start);
  close(fd);
  return 0;
}

int recv_mode(const char* host, int port) {
  int fd = connect_tcp(host, port);
  std::vector<char> buffer(256 * 1024);
  uint64_t start = now_ns(), received = 0;
  for (;;) {
    ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("read");
    if (n == 0) break;
    received += uint64_t(n);
  }
  print_rate("recv", received, now_ns() - start);
  close(fd);
  return 0;
}

void print_latency(std::vector<uint32_t>& samples_us) {
  if (samples_us.empty()) return;
  std::sort(samples_us.begin(), samples_us.end());
  auto at = [&](double q) { return samples_us[size_t(q * double(samples_us.size() - 1))]; };
  std::printf("latency us: p50 %u p90 %u p99 %u max %u\n", at(0.5), at(0.9), at(0.99),
              samples_us.back());
}

int rr_mode(const char* host, int port, int conns, double seconds, size_t size) {
  int ep = epoll_create1(0);
  struct Conn {
    int fd;
    size_t got;
    uint64_t sent_at;
  };
  std::vector<Conn> c;
  c.resize(size_t(conns));
  std::vector<char> request(size, 'q'), buffer(65536);
  std::vector<uint32_t> latency;
  for (int i = 0; i < conns; ++i) {
    c[size_t(i)] = {connect_tcp(host, port), 0, 0};
    epoll_event e{EPOLLIN, {.u64 = uint64_t(i)}};
    epoll_ctl(ep, EPOLL_CTL_ADD, c[size_t(i)].fd, &e);
  }
  uint64_t start = now_ns(), end = start + uint64_t(seconds * 1e9), done = 0;
  for (auto& k : c) {
    k.sent_at = now_ns();
    if (write(k.fd, request.data(), size) != ssize_t(size)) die("write");
  }
  std::vector<epoll_event> events(256);
  while (now_ns() < end) {
    int n = epoll_wait(ep, events.data(), int(events.size()), 100);
    for (int i = 0; i < n; ++i) {
      Conn& k = c[events[size_t(i)].data.u64];
      ssize_t r = read(k.fd, buffer.data(), buffer.size());
      if (r <= 0) die("read (server closed?)");
      k.got += size_t(r);
      if (k.got >= size) {
        uint64_t t = now_ns();
        latency.push_back(uint32_t((t - k.sent_at) / 1000));
        ++done;
        k.got -= size;
        k.sent_at = t;
        if (write(k.fd, request.data(), size) != ssize_t(size)) die("write");
      }
    }
  }
  double elapsed = (now_ns() - start) / 1e9;
  std::printf("rr %d connections, %zu bytes: %.0f requests/s\n", conns, size,
              double(done) / elapsed);
  print_latency(latency);
  return 0;
}

int udp_mode(const char* host, int port, double seconds, size_t size, int window) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a = address(host, port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
  timeval tv{0, 50'000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::vector<char> datagram(size, 'u'), buffer(65536);
  uint64_t start = now_ns(), end = start + uint64_t(seconds * 1e9), received = 0, lost = 0;
  for (int i = 0; i < window; ++i) (void)send(fd, datagram.data(), size, 0);
  while (now_ns() < end) {
    ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      // Timed out: assume the window was lost and re-arm it.
      lost += uint64_t(window);
      for (int i = 0; i < window; ++i) (void)send(fd, datagram.data(), size, 0);
      continue;
    }
    ++received;
    (void)send(fd, datagram.data(), size, 0);
  }
  double elapsed = (now_ns() - start) / 1e9;
  std::printf("udp %zu bytes, window %d: %.0f datagrams/s (re-armed %llu)\n", size, window,
              double(received) / elapsed, (unsigned long long)lost);
  return 0;
}

int sink_mode(int port) {
  int l = listen_tcp(port);
  std::vector<char> buffer(256 * 1024);
  for (;;) {
    int fd = accept(l, nullptr, nullptr);
    if (fd < 0) die("accept");
    while (read(fd, buffer.data(), buffer.size()) > 0) {
    }
    close(fd);
  }
}

int source_mode(int port, uint64_t total) {
  int l = listen_tcp(port);
  std::vector<char> buffer(256 * 1024, 0);
  for (;;) {
    int fd = accept(l, nullptr, nullptr);
    if (fd < 0) die("accept");
    uint64_t sent = 0;
    while (sent < total) {
      ssize_t n = write(fd, buffer.data(), std::min<uint64_t>(buffer.size(), total - sent));
      if (n <= 0) break;
      sent += uint64_t(n);
    }
    close(fd);
  }
}

int echo_mode(int port) {
  int l = listen_tcp(port);
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  if (bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind udp");
  int ep = epoll_create1(0);
  epoll_event e{EPOLLIN, {.fd = l}};
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &e);
  e = {EPOLLIN, {.fd = u}};
  epoll_ctl(ep, EPOLL_CTL_ADD, u, &e);
  std::vector<char> buffer(65536);
  std::vector<epoll_event> events(256);
  for (;;) {
    int n = epoll_wait(ep, events.data(), int(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[size_t(i)].data.fd;
      if (fd == l) {
        int c = accept(l, nullptr, nullptr);
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        epoll_event ce{EPOLLIN, {.fd = c}};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
      } else if (fd == u) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        ssize_t r =
            recvfrom(u, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (r > 0) sendto(u, buffer.data(), size_t(r), 0, reinterpret_cast<sockaddr*>(&from), len);
      } else {
        ssize_t r = read(fd, buffer.data(), buffer.size());
        if (r <= 0) {
          close(fd);
          continue;
        }
        if (write(fd, buffer.data(), size_t(r)) != r) close(fd);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "send" && argc == 5)
    return send_mode(argv[2], atoi(argv[3]), strtoull(argv[4], nullptr, 10));
  if (mode == "recv" && argc == 4) return recv_mode(argv[2], atoi(argv[3]));
  if (mode == "rr" && argc == 7)
    return rr_mode(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]), size_t(atoi(argv[6])));
  if (mode == "udp" && argc == 7)
    return udp_mode(argv[2], atoi(argv[3]), atof(argv[4]), size_t(atoi(argv[5])), atoi(argv[6]));
  if (mode == "sink" && argc == 3) return sink_mode(atoi(argv[2]));
  if (mode == "source" && argc == 4)
    return source_mode(atoi(argv[2]), strtoull(argv[3], nullptr, 10));
  if (mode == "echo" && argc == 3) return echo_mode(atoi(argv[2]));
  std::fprintf(
      stderr,
      "usage: netload send HOST PORT BYTES | recv HOST PORT | rr HOST PORT CONNS SECONDS "
      "SIZE | udp HOST PORT SECONDS SIZE WINDOW | sink PORT | source PORT BYTES | echo PORT\n");
  return 2;
}
