// A simulated Ethernet segment for deterministic tests of whole stacks: SimDevice ports
// joined by a switch with seeded loss, reordering, duplication, corruption, delay,
// per-port bandwidth and bounded queues, delivering frames in the loop's virtual time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "morgana/async/virtual_backend.h"
#include "morgana/platform/platform.h"
#include "morgana/random/random.h"
#include "morgana/rt/result.h"

namespace morgana::sim {

// What happens to frames going one way between two ports. Every probability is drawn
// per frame (per copy, for broadcasts) from the network's seeded generator.
struct LinkConditions {
  double loss = 0;                // the frame vanishes
  double reorder = 0;             // the frame is held back by an extra random delay...
  uint64_t reorder_delay_ns = 0;  // ...uniform in [1, reorder_delay_ns]
  double duplicate = 0;           // a second copy arrives, with its own delay
  double corrupt = 0;             // one bit of the IPv4 packet is flipped
  uint64_t delay_ns = 100'000;    // propagation delay
  bool up = true;                 // false: the cable is cut, every frame is lost
};

// A port's transmitter: frames are serialised one after another at `bandwidth_bps`, and
// at most `queue_frames` wait their turn (a full queue drops the newest: tail drop).
struct PortConfig {
  uint64_t bandwidth_bps = 1'000'000'000;  // 0: infinitely fast (no queue forms)
  size_t queue_frames = 512;
  // A full queue refuses the frame with kAgain, as a device ring does (the stack keeps it
  // and retries), instead of dropping it.
  bool refuse_when_full = false;
  uint16_t mtu = 1500;
  // What the port's "NIC" does for the stack (platform::NetOffload): it completes
  // checksums and cuts TSO segments into MTU-sized frames as hardware would, before the
  // link's loss and reordering apply to each frame. Received frames carry no metadata.
  platform::NetOffloads offloads = 0;
  // The port lends received frames where they lie (net::LendingDevice, as the hvt rings
  // do) instead of copying them out; release() overwrites the frame with 0xA5 before it
  // is freed, so a stack that kept a view past release() corrupts what it delivers.
  bool lend_frames = false;
};

// What the network did to the frames handed to it.
struct SimCounters {
  uint64_t frames_sent = 0;       // written by a port
  uint64_t frames_delivered = 0;  // read by a port (duplicates included)
  uint64_t bytes_delivered = 0;
  uint64_t lost = 0;
  uint64_t cut = 0;  // lost to a link that is down
  uint64_t reordered = 0;
  uint64_t duplicated = 0;
  uint64_t corrupted = 0;
  uint64_t queue_dropped = 0;        // tail drop at a full transmit queue
  uint64_t queue_refused = 0;        // kAgain at a full queue (PortConfig::refuse_when_full)
  uint64_t unknown_destination = 0;  // unicast to a MAC no port has
  uint64_t oversize = 0;             // longer than the port's MTU allows
  uint64_t tso_segments = 0;         // TSO frames a port's NIC cut up
  uint64_t bad_offload = 0;          // offload metadata the port cannot honour

  std::string format() const;
};

class SimNetwork;

// One port of the network, as a DeviceStack sees its device (morgana/net/device_stack.h).
// A cheap handle: the network owns the port's state and must outlive it.
class SimDevice {
 public:
  SimDevice(SimNetwork* network, size_t port) : network_(network), port_(port) {}

  platform::DeviceId id() const;
  std::array<uint8_t, 6> mac() const;
  uint16_t mtu() const;
  // The next frame whose delivery time has come; kAgain when there is none yet.
  Result<size_t> read(std::span<uint8_t> out);
  // Accepts every frame (what the network then does with it is counted there).
  Result<void> write(std::span<const uint8_t> frame);
  // The offload interface (net::OffloadDevice), per PortConfig::offloads.
  platform::NetOffloads offloads() const;
  Result<size_t> read(std::span<uint8_t> out, platform::NetFrameMeta& meta);
  Result<void> write(std::span<const uint8_t> frame, const platform::NetFrameMeta& meta);
  // The lending interface (net::LendingDevice): kUnsupported unless PortConfig::lend_frames.
  Result<std::span<const uint8_t>> peek(platform::NetFrameMeta& meta);
  void release();
  size_t port() const { return port_; }

 private:
  SimNetwork* network_;
  size_t port_;
};

class SimNetwork {
 public:
  // `backend` is the loop's virtual clock: deliveries are scheduled on it (ready_at).
  SimNetwork(async::VirtualBackend& backend, uint64_t seed);
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // Adds a port with device id `id` (a bit in the loop's ready set, so < 64 and unique on
  // the loop) and a MAC derived from it: 02:00:00:00:00:<id+1>.
  SimDevice add_port(platform::DeviceId id, const PortConfig& config = {});

  // Conditions from `from` to `to`; set_link sets one direction, set_links both ways
  // between every pair (also for ports added later).
  void set_link(size_t from, size_t to, const LinkConditions& conditions);
  void set_links(const LinkConditions& conditions);
  LinkConditions& link(size_t from, size_t to);
  // Cuts (or restores) the cable between two ports, both ways.
  void set_up(size_t a, size_t b, bool up);

  // Prints one line per frame and what the link did to it on stderr (tcpdump-like for
  // TCP), for replaying a failing seed; also switched on by $MORGANA_SIM_TRACE=1.
  void set_trace(bool on) { trace_ = on; }

  const SimCounters& counters() const { return counters_; }
  size_t ports() const { return ports_.size(); }
  // Frames waiting for delivery to `port` (including ones not yet due).
  size_t pending(size_t port) const { return ports_[port].inbox.size(); }

 private:
  friend class SimDevice;
  struct Port {
    platform::DeviceId id;
    std::array<uint8_t, 6> mac;
    PortConfig config;
    uint64_t transmitter_free_at = 0;  // when the last queued frame finishes serialising
    std::deque<uint64_t> in_queue;     // serialisation end times of queued frames, FIFO
    // Frames on their way here, by (delivery time, arrival order): ties keep order.
    std::map<std::pair<uint64_t, uint64_t>, std::vector<uint8_t>> inbox;
    std::vector<uint8_t> lent;  // the frame peek() handed out
  };

  Result<size_t> read(size_t port, std::span<uint8_t> out);
  // The next due frame, moved to the port's `lent` slot until release().
  Result<std::span<const uint8_t>> peek(size_t port);
  void release(size_t port);
  Result<void> write(size_t port, std::span<const uint8_t> frame);
  Result<void> write_offloaded(size_t port, std::span<const uint8_t> frame,
                               const platform::NetFrameMeta& meta);
  // Applies the conditions from `from` to `to` to one frame leaving the wire at `sent`.
  void deliver(size_t from, size_t to, std::span<const uint8_t> frame, uint64_t sent);
  void enqueue(size_t to, std::vector<uint8_t> frame, uint64_t at);
  bool chance(double probability);
  void trace(size_t from, size_t to, std::span<const uint8_t> frame, const char* fate, uint64_t at);
  uint64_t now() const { return backend_.now_ns(); }

  async::VirtualBackend& backend_;
  random::ChaCha20Rng rng_;
  // Moves the port's next due frame to its `lent` slot; kAgain when none is due.
  Result<std::span<const uint8_t>> take_due(Port& port);
  std::vector<Port> ports_;
  LinkConditions default_link_;
  std::map<std::pair<size_t, size_t>, LinkConditions> links_;
  uint64_t next_order_ = 0;
  SimCounters counters_;
  bool trace_ = false;
};

}  // namespace morgana::sim
