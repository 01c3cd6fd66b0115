// The TCP layer over a fake IPv4 layer: its heap reserve (a SYN or connect() finding less
// free heap than TcpLayerConfig::memory_reserve is refused and counted) and autocorking (a
// flow's writes leave at push(), together, with Nagle unchanged); and an engine whose
// receive buffer cannot grow (what does not fit is dropped unacknowledged, counted in
// no_memory_drops, and the peer's retransmissions still complete the stream).
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "morgana/async/loop.h"
#include "morgana/async/task.h"
#include "morgana/async/virtual_backend.h"
#include "morgana/net/stack/ip_output.h"
#include "morgana/net/stack/tcp_layer.h"
#include "tcp_connection_harness.h"
#include "test_util.h"

namespace morgana::net {
namespace {

using test::Bytes;

const Ipv4Address kOurs = test::ip("10.0.0.2");
const Ipv4Address kPeer = test::ip("10.0.0.1");
constexpr uint16_t kPort = 80;
constexpr size_t kReserve = 1 << 20;  // the default's floor: max(1 MiB, heap / 16)

// What the heap reports as free, set by each test.
size_t g_free_bytes = 0;
size_t fake_heap_free_bytes() {
  return g_free_bytes;
}

// The interface below TCP, recording every segment the layer sends.
class FakeIp final : public IpOutput {
 public:
  Result<PacketBuffer> allocate() override { return pool_->allocate(); }
  Result<PacketBuffer> allocate_large() override {
    return Error{Errc::kNoMemory, "no TSO in this test"};
  }
  platform::NetOffloads offloads() const override { return 0; }
  bool send_ipv4(const Ipv4SendParams& params, PacketBuffer packet) override {
    auto segment = parse_tcp(packet.data(), params.source, params.destination);
    EXPECT_TRUE(segment) << "the layer sent a segment that does not parse";
    if (segment) {
      sent.push_back(*segment);
      payload_sizes.push_back(segment->payload.size());
    }
    return true;
  }
  bool send_ipv4_copy(const Ipv4SendParams&, Ipv4Payload) override { return false; }
  Ipv4Address address() const override { return kOurs; }
  uint16_t mtu() const override { return 1500; }
  uint64_t now() const override { return 1'000'000'000; }
  void timer_armed(uint64_t) override {}
  void request_push() override { ++push_requests; }

  std::vector<TcpSegment> sent;  // payload spans are not kept valid: headers only
  std::vector<size_t> payload_sizes;
  unsigned push_requests = 0;

 private:
  std::unique_ptr<BufferPool> pool_ = test::make_pool(16);
};

// A segment from the peer's `port` as it arrives from the IPv4 layer: real bytes,
// checksummed.
class Incoming {
 public:
  explicit Incoming(const TcpSegmentHeader& header) : pool_(test::make_pool(1)) {
    auto packet = pool_->allocate();
    EXPECT_TRUE(packet.ok());
    TcpCounters counters;
    EXPECT_TRUE(tcp_prepend(header, kPeer, kOurs, *packet, counters));
    bytes_ = test::bytes_of(packet->data());
  }
  Ipv4Datagram datagram() const {
    Ipv4Datagram ip;
    ip.source = kPeer;
    ip.destination = kOurs;
    ip.protocol = uint8_t(IpProtocol::kTcp);
    ip.ttl = 64;
    ip.payload = bytes_;
    return ip;
  }

 private:
  std::unique_ptr<BufferPool> pool_;
  Bytes bytes_;
};

constexpr uint32_t kPeerIss = 777;

class Syn : public Incoming {
 public:
  explicit Syn(uint16_t port) : Incoming(header(port)) {}

 private:
  static TcpSegmentHeader header(uint16_t port) {
    TcpSegmentHeader header;
    header.source_port = port;
    header.destination_port = kPort;
    header.sequence = kPeerIss;
    header.flags = kTcpSyn;
    header.window = 65535;
    header.options.mss = 1460;
    return header;
  }
};

TcpLayerConfig config_with_reserve(size_t reserve) {
  TcpLayerConfig config;
  config.memory_reserve = reserve;
  config.heap_free_bytes = fake_heap_free_bytes;
  return config;
}

bool is_syn_ack(const TcpSegment& segment) {
  return segment.has(kTcpSyn) && segment.has(kTcpAck) && !segment.has(kTcpRst);
}

// A TCP layer over FakeIp, on a loop in virtual time (listen and connect are coroutines;
// segments are fed to the layer directly).
struct Fixture {
  explicit Fixture(size_t reserve) : tcp(ip, config_with_reserve(reserve)) {}
  Result<TcpListener> listen() { return loop.run(tcp.listen(kPort)); }

  async::VirtualBackend backend;
  async::Loop loop{backend};
  FakeIp ip;
  TcpLayer tcp;
};

TEST(TcpMemory, SynBelowTheReserveIsDroppedNotReset) {
  Fixture f(0);  // 0: the default, 1 MiB on the host
  auto listener = f.listen();
  ASSERT_TRUE(listener.ok());
  FakeIp& ip = f.ip;
  TcpLayer& tcp = f.tcp;
  Syn syn(50000);

  g_free_bytes = kReserve - 1;
  tcp.input(syn.datagram());
  // Dropped silently: no SYN-ACK, and no RST either (the peer retries the SYN later).
  EXPECT_TRUE(ip.sent.empty());
  EXPECT_EQ(tcp.connections(), 0u);
  EXPECT_EQ(tcp.stats().syn_dropped, 1u);
  EXPECT_EQ(tcp.stats().syn_dropped_low_memory, 1u);
  EXPECT_EQ(tcp.stats().passive_opens, 0u);

  // The retried SYN once memory was freed: a connection.
  g_free_bytes = kReserve;
  tcp.input(syn.datagram());
  ASSERT_EQ(ip.sent.size(), 1u);
  EXPECT_TRUE(is_syn_ack(ip.sent[0]));
  EXPECT_EQ(ip.sent[0].acknowledgment, kPeerIss + 1);
  EXPECT_EQ(tcp.connections(), 1u);
  EXPECT_EQ(tcp.stats().passive_opens, 1u);
  EXPECT_EQ(tcp.stats().syn_dropped, 1u);
  EXPECT_EQ(tcp.stats().syn_dropped_low_memory, 1u);
}

TEST(TcpMemory, ReserveIsConfigurable) {
  Fixture f(8 << 20);
  auto listener = f.listen();
  ASSERT_TRUE(listener.ok());
  FakeIp& ip = f.ip;
  TcpLayer& tcp = f.tcp;
  g_free_bytes = 4 << 20;  // above the default but below this layer's reserve
  for (uint16_t port = 50000; port < 50003; ++port) tcp.input(Syn(port).datagram());
  EXPECT_TRUE(ip.sent.empty());
  EXPECT_EQ(tcp.stats().syn_dropped_low_memory, 3u);
  g_free_bytes = 8 << 20;
  tcp.input(Syn(50003).datagram());
  ASSERT_EQ(ip.sent.size(), 1u);
  EXPECT_TRUE(is_syn_ack(ip.sent[0]));
}

TEST(TcpMemory, ConnectBelowTheReserveFailsWithNoMemory) {
  Fixture f(0);
  FakeIp& ip = f.ip;
  TcpLayer& tcp = f.tcp;
  g_free_bytes = kReserve / 2;
  auto flow = f.loop.run(tcp.connect(kPeer, 9));
  ASSERT_FALSE(flow.ok());
  EXPECT_EQ(flow.error().code, Errc::kNoMemory);
  EXPECT_TRUE(ip.sent.empty());  // no SYN left
  EXPECT_EQ(tcp.connections(), 0u);
  EXPECT_EQ(tcp.stats().active_opens, 0u);
}

TEST(TcpLayer, WritesOfOneTurnLeaveTogetherAtPush) {
  Fixture f(0);
  g_free_bytes = SIZE_MAX;
  auto listener = f.listen();
  ASSERT_TRUE(listener.ok());
  f.tcp.input(Syn(50000).datagram());
  ASSERT_EQ(f.ip.sent.size(), 1u);
  const uint32_t our_iss = f.ip.sent[0].sequence;
  TcpSegmentHeader ack;
  ack.source_port = 50000;
  ack.destination_port = kPort;
  ack.sequence = kPeerIss + 1;
  ack.acknowledgment = our_iss + 1;
  ack.flags = kTcpAck;
  ack.window = 65535;
  f.tcp.input(Incoming(ack).datagram());
  auto flow = f.loop.run(listener->accept());
  ASSERT_TRUE(flow.ok());
  const uint64_t now = f.ip.now();

  // Three small writes in one turn: nothing leaves until the driver's push(), then one
  // segment carries all of them.
  const Bytes bytes(100, 0x61);
  const unsigned requests = f.ip.push_requests;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f.loop.run(flow->write(bytes)).ok());
  EXPECT_EQ(f.ip.sent.size(), 1u);
  EXPECT_EQ(f.ip.push_requests, requests + 1);  // asked once, not per write
  f.tcp.push(now);
  ASSERT_EQ(f.ip.sent.size(), 2u);
  EXPECT_EQ(f.ip.payload_sizes[1], 300u);
  EXPECT_EQ(f.ip.sent[1].sequence, our_iss + 1);

  // Nagle as before: a small segment waits while another is unacknowledged...
  ASSERT_TRUE(f.loop.run(flow->write(bytes)).ok());
  f.tcp.push(now);
  EXPECT_EQ(f.ip.sent.size(), 2u);
  // ...and with set_nodelay the bytes leave at this turn's push, with what was held.
  flow->set_nodelay(true);
  ASSERT_TRUE(f.loop.run(flow->write(bytes)).ok());
  EXPECT_EQ(f.ip.sent.size(), 2u);
  f.tcp.push(now);
  ASSERT_EQ(f.ip.sent.size(), 3u);
  EXPECT_EQ(f.ip.payload_sizes[2], 200u);
  EXPECT_EQ(f.ip.sent[2].sequence, our_iss + 301);
  // A push with nothing written sends nothing.
  f.tcp.push(now);
  EXPECT_EQ(f.ip.sent.size(), 3u);
  flow->abort();
}

TEST(TcpMemory, ReceiveBufferThatCannotGrowDropsAndRecovers) {
  // B's receive buffer keeps its initial 4 KiB storage: A's initial window (10 segments)
  // does not fit, so B stores what it can, drops the rest unacknowledged, and A resends
  // it; every byte still arrives once, in order.
  test::Link link;
  link.handshake();
  link.b->fail_buffer_growth_for_testing();
  const Bytes data = test::pattern(64 * 1024, 7);
  Bytes got;
  size_t written = 0;
  link.step_app = [&] {
    if (written < data.size()) written += link.a->write(std::span(data).subspan(written), link.now);
    test::Link::drain(*link.b, got, link.now);
  };
  ASSERT_TRUE(link.run_until([&] { return got.size() == data.size(); }));
  EXPECT_TRUE(got == data);
  EXPECT_GT(link.b->stats().no_memory_drops, 0u);
  EXPECT_GT(link.a->stats().retransmits, 0u);
  EXPECT_EQ(link.b->stats().bytes_in, data.size());
  EXPECT_FALSE(link.a->error());
  EXPECT_FALSE(link.b->error());
}

}  // namespace
}  // namespace morgana::net
