// Shared by the simulation tests: a world of Morgana stacks on one simulated segment in
// virtual time, the seeds a test runs (and how to replay one), and seeded test content.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "morgana/async/async.h"
#include "morgana/async/virtual_backend.h"
#include "morgana/net/device_stack.h"
#include "morgana/net/stack_options.h"
#include "sim_network.h"

namespace morgana::sim {

using Stack = net::DeviceStack<SimDevice>;
constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSecond = 1'000'000'000;

// Host i has 10.0.0.(i+1).
net::Ipv4Address host_address(size_t index);
// Static options for host i on 10.0.0.0/24.
net::StackOptions host_options(size_t index);

// One simulation: a virtual clock, its loop, the segment and the stacks on it. Build it,
// add hosts, then run a scenario task. Members are destroyed in reverse order: the stacks
// (and their drivers) before the network and the loop.
class SimWorld {
 public:
  explicit SimWorld(uint64_t seed, const LinkConditions& link = {});
  ~SimWorld();

  // A host on a new port (device id = its index) with its own stack; the stack's seed
  // comes from the world's, so the whole run follows from one number.
  Stack& add_host(const net::StackOptions& options, const PortConfig& port = {},
                  net::BufferConfig buffers = {});
  Stack& host(size_t index) { return *stacks_[index]; }

  // Runs `scenario` to its end, failing it with kTimedOut after `limit_ns` of virtual time.
  Result<void> run(async::Task<Result<void>> scenario, uint64_t limit_ns);
  // Lets the stacks run (timers, retransmissions) for `ns` of virtual time.
  void run_for(uint64_t ns) { loop_.run_for(std::chrono::nanoseconds(ns)); }

  uint64_t now() { return backend_.now_ns(); }
  uint64_t seed() const { return seed_; }
  SimNetwork& network() { return network_; }
  async::VirtualBackend& backend() { return backend_; }
  // The network's and every stack's counters, for a failure message.
  std::string describe();

 private:
  uint64_t seed_;
  async::VirtualBackend backend_;
  async::Loop loop_{backend_};
  SimNetwork network_;
  std::vector<std::unique_ptr<Stack>> stacks_;
};

// The seeds a test runs: `count` seeds from `first` ($MORGANA_SIM_SEEDS overrides the
// count, for a soak), or only $MORGANA_SIM_SEED when set.
std::vector<uint64_t> sim_seeds(uint64_t first, size_t count);
// The command that replays one seed of the current test, for failure messages:
// "MORGANA_SIM_SEED=7 /path/sim_tcp_test --gtest_filter=SimTcp.Echo".
std::string replay_command(uint64_t seed);
// Wraps SCOPED_TRACE so every failure in a seed's run names the seed and its replay.
#define MORGANA_SIM_TRACE(seed) \
  SCOPED_TRACE("seed " + std::to_string(seed) + "; replay: " + ::morgana::sim::replay_command(seed))

// Test content: byte `offset` of stream `seed` (a keyed function of the offset, so a
// reader can check any range without keeping what was sent).
void fill_content(uint64_t seed, uint64_t offset, std::span<uint8_t> out);
// The index of the first byte of `bytes` that differs from the stream at `offset`, or
// bytes.size() when all match.
size_t check_content(uint64_t seed, uint64_t offset, std::span<const uint8_t> bytes);

// A one-way TCP transfer from `client` to a listener on `server`, checked byte by byte:
// the client connects, writes `bytes` of stream `seed`, shuts down its side and waits for
// the server's EOF; the server reads and verifies everything, then closes.
struct TransferSpec {
  uint64_t seed = 0;
  size_t bytes = 0;
  uint16_t port = 5001;
  // The reader stops reading for `pause_ns` once it has `pause_after` bytes (a receiver
  // that falls behind: the sender sees a zero window).
  size_t pause_after = SIZE_MAX;
  uint64_t pause_ns = 0;
};
struct TransferResult {
  size_t received = 0;             // verified bytes the server read
  uint64_t finished_at = 0;        // virtual time the server saw EOF
  net::TcpConnectionStats sender;  // the client's engine counters at its end
};
async::Task<Result<void>> tcp_transfer(Stack* server, Stack* client, TransferSpec spec,
                                       TransferResult* result);

}  // namespace morgana::sim
