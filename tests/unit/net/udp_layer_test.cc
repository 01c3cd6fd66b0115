// The UDP layer's send path over a fake IPv4 layer: on a device with checksum offload a
// datagram that fits one frame leaves with only its pseudo-header sum and an offload
// request (virtio's NEEDS_CSUM), which completed as a device completes it gives the very
// bytes the software path sends; a datagram IPv4 must fragment is checksummed in software.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "morgana/net/checksum.h"
#include "morgana/net/ethernet.h"
#include "morgana/net/ipv4.h"
#include "morgana/net/stack/ip_output.h"
#include "morgana/net/stack/udp_layer.h"
#include "test_util.h"

namespace morgana::net {
namespace {

using test::Bytes;

const Ipv4Address kOurs = test::kIpA;
const Ipv4Address kPeer = test::kIpB;
constexpr uint16_t kMtu = 1500;
// RFC 768 over IPv4: what fits one 1500-byte frame beside the IPv4 and UDP headers.
constexpr size_t kLargestUnfragmented = kMtu - 20 - 8;

// A frame as the stack's core hands it to the device: the packet with the IPv4 and
// Ethernet headers prepended, and the offload metadata that travels beside it.
struct Frame {
  Bytes bytes;
  platform::NetFrameMeta meta;
};

// The interface below UDP, building and recording frames as the stack's core would.
class FakeIp final : public IpOutput {
 public:
  explicit FakeIp(platform::NetOffloads offloads) : offloads_(offloads) {}
  Result<PacketBuffer> allocate() override { return pool_->allocate(); }
  Result<PacketBuffer> allocate_large() override {
    return Error{Errc::kNoMemory, "no TSO in this test"};
  }
  platform::NetOffloads offloads() const override { return offloads_; }
  bool send_ipv4(const Ipv4SendParams& params, PacketBuffer packet) override {
    EXPECT_TRUE(ipv4_prepend(params, packet, ip_counters_));
    EXPECT_TRUE(
        ethernet_prepend({test::kMacA, kNoVlan}, test::kMacB, EtherType::kIpv4, packet, link_));
    frames.push_back({test::bytes_of(packet.data()), packet.offload()});
    return true;
  }
  bool send_ipv4_copy(const Ipv4SendParams&, Ipv4Payload payload) override {
    Bytes datagram(payload.head.begin(), payload.head.end());
    datagram.insert(datagram.end(), payload.body.begin(), payload.body.end());
    copied.push_back(std::move(datagram));
    return true;
  }
  Ipv4Address address() const override { return kOurs; }
  uint16_t mtu() const override { return kMtu; }
  uint64_t now() const override { return 0; }
  void timer_armed(uint64_t) override {}
  void request_push() override {}

  std::vector<Frame> frames;  // from send_ipv4
  std::vector<Bytes> copied;  // UDP header and payload given to send_ipv4_copy

 private:
  platform::NetOffloads offloads_;
  std::unique_ptr<BufferPool> pool_ = test::make_pool(8);
  Ipv4Counters ip_counters_;
  EthernetCounters link_;
};

// Random payload bytes, different per seed.
Bytes pattern(size_t size, uint32_t seed) {
  Bytes bytes(size);
  std::mt19937 rng(seed);
  for (auto& byte : bytes) byte = static_cast<uint8_t>(rng());
  return bytes;
}

uint16_t load16(const Bytes& bytes, size_t at) {
  return uint16_t(bytes[at] << 8 | bytes[at + 1]);
}

// What a device does with NEEDS_CSUM (Linux's skb_checksum_help): sums from csum_start
// to the end, the field included (it holds the pseudo-header sum), and stores the
// inverted result there; a UDP sum of 0 goes out as 0xffff.
Bytes complete(const Frame& frame) {
  Bytes bytes = frame.bytes;
  Checksum sum;
  sum.add(std::span(bytes).subspan(frame.meta.csum_start));
  uint16_t value = sum.finish();
  if (value == 0) value = 0xffff;
  const size_t field = size_t{frame.meta.csum_start} + frame.meta.csum_offset;
  bytes[field] = uint8_t(value >> 8);
  bytes[field + 1] = uint8_t(value);
  return bytes;
}

// Sends `payload` from port 5353 to the peer's port 53 through a layer over `ip`.
void send(FakeIp& ip, const Bytes& payload) {
  UdpLayer layer(ip);
  auto socket = layer.bind(5353);
  ASSERT_TRUE(socket.ok());
  ASSERT_TRUE(socket->send_to({kPeer, 53}, payload).ok());
}

TEST(UdpLayerSend, OffloadDeviceGetsThePseudoHeaderSumAndTheRequest) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{13}, size_t{512}, kLargestUnfragmented}) {
    SCOPED_TRACE(size);
    const Bytes payload = pattern(size, uint32_t(size));
    FakeIp offloading(platform::kNetOffloadChecksum), plain(0);
    send(offloading, payload);
    send(plain, payload);
    ASSERT_EQ(offloading.frames.size(), 1u);
    ASSERT_EQ(plain.frames.size(), 1u);
    EXPECT_TRUE(offloading.copied.empty());
    const Frame& frame = offloading.frames[0];

    // virtio_net_hdr: NEEDS_CSUM at the UDP header, behind Ethernet and IPv4.
    EXPECT_EQ(frame.meta.checksum, platform::NetChecksum::kPartial);
    EXPECT_EQ(frame.meta.csum_start, 14 + 20);
    EXPECT_EQ(frame.meta.csum_offset, kUdpChecksumField);
    EXPECT_EQ(frame.meta.gso_size, 0u);
    // The field holds the folded pseudo-header sum over the UDP length, not inverted.
    Checksum pseudo;
    add_ipv4_pseudo_header(pseudo, kOurs, kPeer, 17, uint16_t(8 + size));
    EXPECT_EQ(load16(frame.bytes, 34 + 6), pseudo.sum());

    // Completed by the device, the frame is the software path's, byte for byte.
    EXPECT_EQ(plain.frames[0].meta.checksum, platform::NetChecksum::kNone);
    const Bytes wire = complete(frame);
    EXPECT_EQ(wire, plain.frames[0].bytes) << test::hex(wire);
    auto parsed = parse_udp(std::span(wire).subspan(34), kOurs, kPeer);
    ASSERT_TRUE(parsed);
    EXPECT_TRUE(parsed->checksummed);
    EXPECT_TRUE(
        std::equal(parsed->payload.begin(), parsed->payload.end(), payload.begin(), payload.end()));
  }
}

// A payload whose UDP checksum comes out as 0: the software path sends 0xffff (RFC 768),
// and so does a device completing the offloaded sum, so the two still agree.
TEST(UdpLayerSend, ComputedZeroChecksumAgreesBetweenDeviceAndSoftware) {
  FakeIp probe(0);
  send(probe, Bytes{0, 0});
  ASSERT_EQ(probe.frames.size(), 1u);
  const uint16_t c = load16(probe.frames[0].bytes, 34 + 6);
  const Bytes payload{uint8_t(c >> 8), uint8_t(c)};  // adds the sum's complement
  FakeIp offloading(platform::kNetOffloadChecksum), plain(0);
  send(offloading, payload);
  send(plain, payload);
  ASSERT_EQ(plain.frames.size(), 1u);
  ASSERT_EQ(offloading.frames.size(), 1u);
  EXPECT_EQ(load16(plain.frames[0].bytes, 34 + 6), 0xffff);
  EXPECT_EQ(complete(offloading.frames[0]), plain.frames[0].bytes);
}

// IPv4 fragments an oversize datagram into frames the device sees one at a time, so the
// checksum, which covers all of them, is the stack's own even on an offload device.
TEST(UdpLayerSend, FragmentedDatagramKeepsTheSoftwareChecksum) {
  for (size_t size : {kLargestUnfragmented + 1, size_t{4000}, size_t{65507}}) {
    SCOPED_TRACE(size);
    const Bytes payload = pattern(size, 7);
    FakeIp offloading(platform::kNetOffloadChecksum);
    send(offloading, payload);
    EXPECT_TRUE(offloading.frames.empty());
    ASSERT_EQ(offloading.copied.size(), 1u);
    const Bytes& datagram = offloading.copied[0];
    ASSERT_EQ(datagram.size(), 8 + size);
    // Complete: it verifies with nothing left for a device to do.
    auto parsed = parse_udp(datagram, kOurs, kPeer);
    ASSERT_TRUE(parsed);
    EXPECT_TRUE(parsed->checksummed);
    EXPECT_EQ(parsed->payload.size(), size);
  }
}

}  // namespace
}  // namespace morgana::net
