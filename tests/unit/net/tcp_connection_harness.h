// A tiny simulated network for the TCP connection tests: every segment an engine sends is
// encoded to real bytes with tcp_prepend, parsed back with parse_tcp (so the codec is in
// the loop), and delivered after a delay, perhaps dropped or reordered; time only moves
// when the test says so.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "morgana/net/tcp_connection.h"
#include "morgana/net/tcp_header.h"
#include "test_util.h"

namespace morgana::net::test {

constexpr uint64_t kMs = 1'000'000;

// One segment as the engine handed it to TcpOutput, and the bytes it became.
struct Sent {
  TcpSegmentHeader header;
  Bytes payload;
  Bytes wire;  // TCP header + options + payload, checksummed
  bool has(uint8_t flag) const { return (header.flags & flag) != 0; }
};

class Capture : public TcpOutput {
 public:
  void transmit(const TcpEndpoints& endpoints, const TcpSegmentHeader& header,
                std::span<const uint8_t> payload1, std::span<const uint8_t> payload2) override {
    auto packet = pool_->allocate();
    EXPECT_TRUE(packet.ok());
    Sent sent;
    sent.header = header;
    sent.payload.assign(payload1.begin(), payload1.end());
    sent.payload.insert(sent.payload.end(), payload2.begin(), payload2.end());
    EXPECT_TRUE(packet->append_bytes(sent.payload));
    EXPECT_TRUE(
        tcp_prepend(header, endpoints.local_address, endpoints.remote_address, *packet, counters_));
    sent.wire.assign(packet->data().begin(), packet->data().end());
    log.push_back(sent);
    pending.push_back(sent);
  }

  std::deque<Sent> log;       // everything ever sent (references stay valid)
  std::vector<Sent> pending;  // not yet taken by the network

 private:
  // Large enough for a TSO segment (TcpConfig::tso_max_payload) and its headers.
  std::unique_ptr<BufferPool> pool_ = make_pool(8, 128 + 65536);
  TcpCounters counters_;
};

inline const TcpEndpoints kEndA = {kIpA, 40000, kIpB, 80};
inline const TcpEndpoints kEndB = {kIpB, 80, kIpA, 40000};

// Parses what `from` sent: the segment a receiver gets.
inline TcpSegment parse_from(const Bytes& wire, const TcpEndpoints& from) {
  auto parsed = parse_tcp(wire, from.local_address, from.remote_address);
  EXPECT_TRUE(parsed);
  return parsed ? *parsed : TcpSegment{};
}

// Two engines, A (the active opener) and B, joined by a network with a one-way delay.
class Link {
 public:
  Link(const TcpConfig& a = {}, const TcpConfig& b = {}) : config_a(a), config_b(b) {}

  // A connects; B is created by accept() when A's first SYN arrives.
  void connect(uint32_t iss_a = 1000, uint32_t iss_b = 5000) {
    iss_b_ = iss_b;
    auto made = TcpConnection::connect(config_a, kEndA, iss_a, out_a, now);
    ASSERT_TRUE(made.ok());
    a = std::move(made).value();
  }
  bool established() const {
    return a && b && a->state() == TcpState::kEstablished && b->state() == TcpState::kEstablished;
  }

  // Moves what the engines sent into the network.
  void collect() {
    for (bool to_b : {true, false}) {
      Capture& out = to_b ? out_a : out_b;
      for (Sent& sent : out.pending) {
        if (drop && drop(to_b, sent)) {
          ++dropped;
          continue;
        }
        if (loss > 0 && uniform(rng) < loss && !(sent.header.flags & kTcpSyn)) {
          ++dropped;
          continue;
        }
        uint64_t at = now + delay;
        if (reorder > 0 && uniform(rng) < reorder) at += delay / 2 + kMs;
        flight.push_back({at, order++, to_b, std::move(sent.wire)});
      }
      out.pending.clear();
    }
  }

  // Runs the network and timers until `done` holds or time passes `until`.
  bool run(const std::function<bool()>& done, uint64_t until) {
    for (;;) {
      if (step_app) step_app();
      collect();
      if (done && done()) return true;
      uint64_t next = UINT64_MAX;
      for (const Packet& packet : flight) next = std::min(next, packet.at);
      if (a) next = std::min(next, a->next_deadline());
      if (b) next = std::min(next, b->next_deadline());
      if (next == UINT64_MAX || next > until) {
        if (until != UINT64_MAX) now = std::max(now, until);
        return done ? done() : true;
      }
      now = std::max(now, next);
      deliver_due();
      if (a && a->next_deadline() <= now) a->on_timer(now);
      if (b && b->next_deadline() <= now) b->on_timer(now);
    }
  }
  bool run_for(uint64_t duration) { return run(nullptr, now + duration); }
  bool run_until(const std::function<bool()>& done, uint64_t limit = 600'000 * kMs) {
    return run(done, now + limit);
  }

  void deliver_due() {
    std::stable_sort(flight.begin(), flight.end(), [](const Packet& x, const Packet& y) {
      return x.at != y.at ? x.at < y.at : x.order < y.order;
    });
    while (!flight.empty() && flight.front().at <= now) {
      Packet packet = std::move(flight.front());
      flight.erase(flight.begin());
      deliver(packet.to_b, packet.wire);
    }
  }

  void deliver(bool to_b, const Bytes& wire) {
    TcpSegment segment = parse_from(wire, to_b ? kEndA : kEndB);
    if (to_b) {
      if (!b) {
        if (segment.has(kTcpSyn) && !segment.has(kTcpAck)) {
          auto made = TcpConnection::accept(config_b, kEndB, segment, iss_b_, out_b, now);
          ASSERT_TRUE(made.ok());
          b = std::move(made).value();
        }
        return;
      }
      b->on_segment(segment, now);
    } else if (a) {
      a->on_segment(segment, now);
    }
  }

  void handshake() {
    connect();
    ASSERT_TRUE(run_until([&] { return established(); }));
    a->take_events();
    b->take_events();
  }

  // Sends `data` from A to B, B's application reading all it can at every step, until all
  // of it arrived (a test failure if not within `limit`). Returns the most bytes A had in
  // flight at once, at least: the highest sequence A sent less the highest B acknowledged
  // (ACKs still on their way make the true flight larger).
  uint32_t transfer(const Bytes& data, Bytes& got, uint64_t limit = 600'000 * kMs) {
    size_t written = 0, seen_a = 0, seen_b = 0;
    uint32_t highest_sent = 0, highest_acked = 0, largest_flight = 0;
    step_app = [&] {
      if (written < data.size()) written += a->write(std::span(data).subspan(written), now);
      drain(*b, got, now);
      for (; seen_a < out_a.log.size(); ++seen_a) {
        const Sent& sent = out_a.log[seen_a];
        highest_sent = std::max(highest_sent, sent.header.sequence + uint32_t(sent.payload.size()));
      }
      for (; seen_b < out_b.log.size(); ++seen_b)
        highest_acked = std::max(highest_acked, out_b.log[seen_b].header.acknowledgment);
      if (highest_acked != 0)
        largest_flight = std::max(largest_flight, highest_sent - highest_acked);
    };
    EXPECT_TRUE(run_until([&] { return got.size() == data.size(); }, limit));
    step_app = nullptr;
    return largest_flight;
  }

  // Reads everything `c` has into `sink`.
  static void drain(TcpConnection& c, Bytes& sink, uint64_t now) {
    uint8_t chunk[4096];
    while (size_t n = c.read(chunk, now)) sink.insert(sink.end(), chunk, chunk + n);
  }

  struct Packet {
    uint64_t at;
    uint64_t order;
    bool to_b;
    Bytes wire;
  };

  TcpConfig config_a, config_b;
  Capture out_a, out_b;
  std::unique_ptr<TcpConnection> a, b;
  uint64_t now = 1000 * kMs;
  uint64_t delay = 5 * kMs;
  std::vector<Packet> flight;
  std::function<bool(bool to_b, const Sent&)> drop;
  std::function<void()> step_app;
  double loss = 0;
  double reorder = 0;
  unsigned dropped = 0;
  std::mt19937 rng{12345};
  std::uniform_real_distribution<double> uniform{0.0, 1.0};

 private:
  uint64_t order = 0;
  uint32_t iss_b_ = 5000;
};

inline Bytes pattern(size_t size, uint32_t seed = 1) {
  Bytes bytes(size);
  std::mt19937 rng(seed);
  for (auto& byte : bytes) byte = static_cast<uint8_t>(rng());
  return bytes;
}

}  // namespace morgana::net::test
