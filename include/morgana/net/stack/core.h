// The core of Morgana's stack for one interface: Ethernet in and out, ARP, IPv4 input
// (validation, reassembly) and output (routing, fragmentation), ICMP (echo, errors,
// rate limit), the DHCP client, and the UDP and TCP layers above. No device and no
// coroutine of its own: frames come in through receive_frame(), frames go out through a
// LinkOutput, and time through tick(); DeviceStack<Device> (morgana/net/device_stack.h)
// drives it from the event loop, and the simulation tests drive it over a virtual link.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "morgana/async/event.h"
#include "morgana/net/address.h"
#include "morgana/net/arp_cache.h"
#include "morgana/net/buffer.h"
#include "morgana/net/dhcp.h"
#include "morgana/net/ethernet.h"
#include "morgana/net/icmp.h"
#include "morgana/net/ipv4_input.h"
#include "morgana/net/route.h"
#include "morgana/net/stack/ip_output.h"
#include "morgana/net/stack/tcp_layer.h"
#include "morgana/net/stack/udp_layer.h"
#include "morgana/net/stack_options.h"
#include "morgana/rt/result.h"

namespace morgana::net {

// Where the core's frames go: the device, or a simulated link.
class LinkOutput {
 public:
  // Sends one complete Ethernet frame; kAgain when the device cannot take it now (the
  // core keeps it and retries), any other error drops it.
  virtual Result<void> transmit_frame(std::span<const uint8_t> frame) = 0;
  // The same for a frame that asks the device for offloads (CoreConfig::offloads only):
  // a checksum to complete, or a TCP segment to cut (TSO).
  virtual Result<void> transmit_offloaded(std::span<const uint8_t> /*frame*/,
                                          const platform::NetFrameMeta& /*meta*/) {
    return Error{Errc::kUnsupported, "the link does no offloads"};
  }

 protected:
  ~LinkOutput() = default;
};

struct CoreConfig {
  MacAddress mac;
  uint16_t mtu = 1500;
  StackOptions options;
  // In an image, each pool gets no more buffers than a sixteenth of the heap holds.
  BufferConfig buffers;
  // What the device does for us (platform::NetOffload): checksums both ways, and TCP
  // segments over the MTU both ways (TSO out, GRO in). With kNetOffloadTso4 the core
  // also keeps `large_buffers`, each holding one such segment as a frame.
  platform::NetOffloads offloads = 0;
  BufferConfig large_buffers{8, 128 + 14 + 65535 + 1, 128};
  // Keys the stack's secrets (TCP initial sequence numbers) and seeds the DHCP client.
  std::array<uint8_t, 32> seed{};
  const char* hostname = "morgana";  // DHCP option 12
};

struct IcmpStats {
  uint64_t echo_replies = 0;
  uint64_t unreachable_sent = 0;
};

class StackCore final : private IpOutput {
 public:
  // kInvalidArgument for an MTU under 576 or over what the buffers hold, or a bad
  // static address/gateway combination.
  static Result<std::unique_ptr<StackCore>> create(const CoreConfig& config, LinkOutput& link);
  ~StackCore();
  StackCore(const StackCore&) = delete;
  StackCore& operator=(const StackCore&) = delete;

  // Starts the interface: announces a static address (gratuitous ARP) or starts DHCP.
  void start();
  // One received Ethernet frame (without FCS), with what the device says of it (only
  // heeded for the offloads in CoreConfig::offloads): a frame over the MTU is taken only
  // as a TCP segment the device merged (gso_size), and TCP/UDP skip checking a checksum
  // the device vouched for.
  void receive_frame(std::span<const uint8_t> frame, const platform::NetFrameMeta& meta = {});
  // Runs every timer that is due: ARP, reassembly, DHCP, TCP.
  void tick();
  // The earliest time tick() has work (UINT64_MAX when none).
  uint64_t next_deadline() const;
  // Sends what the transport layers held back during this turn (what flows wrote: TCP
  // autocorking). The driver calls it before it sleeps, and tick() does.
  void push();
  // Retries frames the link refused with kAgain, then lets TCP connections that held
  // data back for them send (TcpLayer::resume); true when output is still waiting.
  bool flush();
  bool output_blocked() const { return !blocked_.empty() || tcp_->link_waiters(); }
  // Set whenever a timer was armed earlier than the deadline the driver last took from
  // next_deadline(), or output is waiting: the driver waits on it besides the device.
  async::Event& wake() { return wake_; }
  // The driver calls this with the deadline it is about to sleep until.
  void armed(uint64_t deadline) { armed_deadline_ = deadline; }

  // Uses `prefix` (and `gateway`) from now on: static configuration or a DHCP lease.
  Result<void> configure(Ipv4Prefix prefix, std::optional<Ipv4Address> gateway);
  bool configured() const { return arp_ != nullptr; }
  async::Event& configured_event() { return configured_event_; }
  Ipv4Prefix prefix() const { return prefix_; }
  std::optional<Ipv4Address> gateway() const { return routes_ ? routes_->gateway() : std::nullopt; }
  const std::optional<DhcpLease>* dhcp_lease() const;

  TcpLayer& tcp() { return *tcp_; }
  UdpLayer& udp() { return *udp_; }

  // Every layer's counters, one line each, on the console.
  void print_stats();

  // For tests and statistics.
  EthernetCounters& link_counters() { return link_counters_; }
  Ipv4Counters& ipv4_counters() { return ipv4_.counters(); }
  IcmpCounters& icmp_counters() { return icmp_counters_; }
  const IcmpStats& icmp_stats() const { return icmp_stats_; }
  const ArpCache* arp() const { return arp_.get(); }
  const BufferPool& pool() const { return *pool_; }
  const CoreConfig& config() const { return config_; }

 private:
  StackCore(const CoreConfig& config, LinkOutput& link, std::unique_ptr<BufferPool> pool,
            Ipv4Input ipv4);

  // IpOutput, for the UDP and TCP layers.
  Result<PacketBuffer> allocate() override;
  Result<PacketBuffer> allocate_large() override;
  platform::NetOffloads offloads() const override { return config_.offloads; }
  bool send_ipv4(const Ipv4SendParams& params, PacketBuffer packet) override;
  bool send_ipv4_copy(const Ipv4SendParams& params, Ipv4Payload payload) override;
  Ipv4Address address() const override { return prefix_.address; }
  uint16_t mtu() const override { return config_.mtu; }
  uint64_t now() const override;
  void timer_armed(uint64_t deadline_ns) override;
  void request_push() override;
  bool link_busy() const override;
  // Sends frames the link refused earlier, oldest first, until it refuses again.
  void transmit_blocked();

  void receive_ipv4(std::span<const uint8_t> packet, size_t link_header,
                    const platform::NetFrameMeta& meta);
  // Did the device vouch for this datagram's transport checksum?
  ReceivedChecksum vouched(const Ipv4Datagram& ip, size_t link_header,
                           const platform::NetFrameMeta& meta) const;
  void receive_icmp(const Ipv4Datagram& ip);
  void receive_udp(const Ipv4Datagram& ip);
  void send_unreachable(const Ipv4Datagram& ip, UnreachableCode code);
  // Hands a complete IPv4 packet to ARP (or, before we have an address, broadcasts it).
  void route_packet(Ipv4Address destination, PacketBuffer packet);
  void drain_outbox();
  void run_dhcp();
  void unconfigure();

  CoreConfig config_;
  LinkOutput& link_;
  std::unique_ptr<BufferPool> pool_;
  std::unique_ptr<BufferPool> large_pool_;  // with kNetOffloadTso4 only
  EthernetConfig ethernet_;
  EthernetCounters link_counters_;
  Ipv4Input ipv4_;
  Ipv4Prefix prefix_;  // address 0.0.0.0 until configured
  std::unique_ptr<ArpCache> arp_;
  std::optional<Ipv4Routes> routes_;
  IcmpCounters icmp_counters_;
  IcmpStats icmp_stats_;
  TokenBucket icmp_limit_;
  std::optional<DhcpClient> dhcp_;
  std::unique_ptr<UdpLayer> udp_;
  std::unique_ptr<TcpLayer> tcp_;
  PacketQueue blocked_;  // frames the link refused with kAgain, oldest first
  uint16_t next_ip_id_ = 1;
  bool push_requested_ = false;  // a layer waits for push()
  bool link_broadcast_ = false;  // the frame being handled was sent to the link broadcast
  uint64_t armed_deadline_ = UINT64_MAX;
  async::Event wake_;
  async::Event configured_event_;
};

}  // namespace morgana::net
