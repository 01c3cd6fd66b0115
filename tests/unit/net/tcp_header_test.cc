// TCP header codec: Linux's handshake parses to the values tcpdump printed (MSS, SACK
// permitted, timestamps, window scale); every captured segment re-encodes to Linux's
// exact frame; SACK blocks (built byte by byte) round-trip; malformed option lists and
// headers are dropped with their reasons and never read out of bounds.
#include <gtest/gtest.h>

#include <string>

#include "data/tcp.h"
#include "morgana/net/checksum.h"
#include "morgana/net/ethernet.h"
#include "morgana/net/ipv4.h"
#include "morgana/net/tcp_header.h"
#include "test_util.h"

namespace morgana::net {
namespace {

using test::Bytes;
using test::bytes_of;

const std::span<const uint8_t> kSegments[] = {testdata::kTcp0, testdata::kTcp1,  testdata::kTcp2,
                                              testdata::kTcp3, testdata::kTcp4,  testdata::kTcp5,
                                              testdata::kTcp6, testdata::kTcp7,  testdata::kTcp8,
                                              testdata::kTcp9, testdata::kTcp10, testdata::kTcp11};

bool from_b(std::span<const uint8_t> frame) {
  return frame[29] == 2;  // source address 10.77.0.2
}

Parsed<TcpSegment, TcpDrop> parse(std::span<const uint8_t> frame) {
  return from_b(frame) ? parse_tcp(test::l4(frame), test::kIpB, test::kIpA)
                       : parse_tcp(test::l4(frame), test::kIpA, test::kIpB);
}

TcpDrop options_reason(const Bytes& options) {
  auto parsed = parse_tcp_options(options);
  EXPECT_FALSE(parsed);
  return parsed ? TcpDrop::kCount : parsed.reason();
}

TEST(TcpHeader, ParsesLinuxHandshake) {
  auto syn = parse(testdata::kTcp0);
  ASSERT_TRUE(syn);
  EXPECT_EQ(syn->source_port, 35652);
  EXPECT_EQ(syn->destination_port, 8000);
  EXPECT_EQ(syn->sequence, 3608451833u);
  EXPECT_EQ(syn->flags, kTcpSyn);
  EXPECT_EQ(syn->window, 64240);
  EXPECT_EQ(syn->header_size, 40u);
  EXPECT_EQ(syn->options.mss, 1460);
  EXPECT_TRUE(syn->options.sack_permitted);
  ASSERT_TRUE(syn->options.timestamps);
  EXPECT_EQ(syn->options.timestamps->value, 3894708478u);
  EXPECT_EQ(syn->options.timestamps->echo_reply, 0u);
  EXPECT_EQ(syn->options.window_scale, 10);
  EXPECT_EQ(syn->options.sack_count, 0);
  EXPECT_TRUE(syn->payload.empty());

  auto syn_ack = parse(testdata::kTcp1);
  ASSERT_TRUE(syn_ack);
  EXPECT_EQ(syn_ack->flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(syn_ack->sequence, 1536195182u);
  EXPECT_EQ(syn_ack->acknowledgment, 3608451834u);
  EXPECT_EQ(syn_ack->window, 65160);
  EXPECT_EQ(syn_ack->options.timestamps->value, 2915857726u);
  EXPECT_EQ(syn_ack->options.timestamps->echo_reply, 3894708478u);

  auto request = parse(testdata::kTcp3);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->flags, kTcpPsh | kTcpAck);
  EXPECT_EQ(request->header_size, 32u);  // NOP NOP timestamps
  EXPECT_FALSE(request->options.mss);
  EXPECT_EQ(request->window, 63);
  EXPECT_EQ(request->payload.size(), 78u);
  EXPECT_EQ(std::string(request->payload.begin(), request->payload.begin() + 14), "GET / HTTP/1.1");

  auto fin = parse(testdata::kTcp9);
  ASSERT_TRUE(fin);
  EXPECT_TRUE(fin->has(kTcpFin));
  EXPECT_TRUE(fin->has(kTcpAck));
  EXPECT_FALSE(fin->has(kTcpSyn));
}

TEST(TcpHeader, EveryLinuxSegmentReencodesToLinuxFrame) {
  auto pool = test::make_pool(1);
  for (size_t i = 0; i < std::size(kSegments); ++i) {
    const auto frame = kSegments[i];
    auto segment = parse(frame);
    ASSERT_TRUE(segment) << i;
    const bool b = from_b(frame);
    const Ipv4Address source = b ? test::kIpB : test::kIpA;
    const Ipv4Address destination = b ? test::kIpA : test::kIpB;
    TcpSegmentHeader header{segment->source_port,    segment->destination_port,
                            segment->sequence,       segment->acknowledgment,
                            segment->flags,          segment->window,
                            segment->urgent_pointer, segment->options};
    auto packet = pool->allocate_copy(segment->payload);
    ASSERT_TRUE(packet.ok());
    TcpCounters tcp;
    Ipv4Counters ip;
    EthernetCounters link;
    ASSERT_TRUE(tcp_prepend(header, source, destination, *packet, tcp));
    Ipv4SendParams params{source, destination, IpProtocol::kTcp,
                          uint16_t(frame[18] << 8 | frame[19])};
    params.fragmentation = Fragmentation::kDontFragment;
    ASSERT_TRUE(ipv4_prepend(params, *packet, ip));
    ASSERT_TRUE(ethernet_prepend({b ? test::kMacB : test::kMacA, kNoVlan},
                                 b ? test::kMacA : test::kMacB, EtherType::kIpv4, *packet, link));
    EXPECT_EQ(bytes_of(packet->data()), bytes_of(frame)) << "segment " << i;
  }
}

TEST(TcpHeader, SackBlocksRoundTrip) {
  // NOP NOP SACK(2 blocks) NOP NOP TS, laid out as Linux would after a loss.
  const Bytes options = {1, 1, 5,    18, 0, 0, 0x10, 0, 0, 0, 0x20, 0,  // 4096-8192
                         0, 0, 0x30, 0,  0, 0, 0x40, 0,                 // 12288-16384
                         1, 1, 8,    10, 0, 0, 0,    7, 0, 0, 0,    9};
  auto parsed = parse_tcp_options(options);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->sack_count, 2);
  EXPECT_EQ(parsed->sack_blocks()[0], (SackBlock{4096, 8192}));
  EXPECT_EQ(parsed->sack_blocks()[1], (SackBlock{12288, 16384}));
  EXPECT_EQ(parsed->timestamps, (TcpTimestamps{7, 9}));
  // Our layout puts timestamps first (as Linux does); it parses back the same.
  std::array<uint8_t, kTcpMaxOptions> out;
  const size_t n = encode_tcp_options(*parsed, out);
  EXPECT_EQ(n, 32u);
  const Bytes expected = {1, 1, 8, 10, 0, 0, 0,    7, 0, 0, 0,    9,  //
                          1, 1, 5, 18, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0, 0, 0x30, 0, 0, 0, 0x40, 0};
  EXPECT_EQ(Bytes(out.begin(), out.begin() + static_cast<long>(n)), expected);
  EXPECT_EQ(parse_tcp_options(std::span(out).first(n)).value(), *parsed);
}

TEST(TcpHeader, SackBlocksAreCutToFit) {
  TcpOptions options;
  options.sack_count = 4;
  for (uint32_t i = 0; i < 4; ++i) options.sack[i] = {i * 100, i * 100 + 50};
  std::array<uint8_t, kTcpMaxOptions> out;
  EXPECT_EQ(encode_tcp_options(options, out), 4u + 32u);  // all 4 without timestamps
  options.timestamps = TcpTimestamps{1, 2};
  const size_t n = encode_tcp_options(options, out);
  EXPECT_EQ(n, 12u + 4u + 24u);  // RFC 2018: 3 beside timestamps
  auto parsed = parse_tcp_options(std::span(out).first(n));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->sack_count, 3);
  // Option layouts without timestamps, as Linux writes them.
  TcpOptions syn;
  syn.mss = 536;
  syn.sack_permitted = true;
  syn.window_scale = 7;
  EXPECT_EQ(encode_tcp_options(syn, out), 12u);
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 12), Bytes({2, 4, 2, 24, 1, 1, 4, 2, 1, 3, 3, 7}));
  EXPECT_EQ(encode_tcp_options(TcpOptions{}, out), 0u);
}

TEST(TcpHeader, MalformedOptionsAreDropped) {
  EXPECT_EQ(options_reason({2}), TcpDrop::kBadOption);            // no length byte
  EXPECT_EQ(options_reason({30, 0}), TcpDrop::kBadOption);        // length 0
  EXPECT_EQ(options_reason({30, 1}), TcpDrop::kBadOption);        // length 1
  EXPECT_EQ(options_reason({30, 5, 0, 0}), TcpDrop::kBadOption);  // past the end
  EXPECT_EQ(options_reason({2, 3, 5}), TcpDrop::kBadOption);      // MSS length 3
  EXPECT_EQ(options_reason({3, 4, 7, 0}), TcpDrop::kBadOption);   // window scale length 4
  EXPECT_EQ(options_reason({4, 3, 0, 1}), TcpDrop::kBadOption);   // SACK-permitted length 3
  EXPECT_EQ(options_reason({8, 9, 0, 0, 0, 0, 0, 0, 0}), TcpDrop::kBadOption);  // TS length 9
  EXPECT_EQ(options_reason({5, 2}), TcpDrop::kBadOption);  // SACK without blocks
  EXPECT_EQ(options_reason({5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0}), TcpDrop::kBadOption);  // not 8n+2
  Bytes five_blocks = {5, 42};
  five_blocks.resize(42);
  EXPECT_EQ(options_reason(five_blocks), TcpDrop::kBadOption);
  // Fine: unknown options skipped by length, anything after EOL ignored, window scale
  // over 14 used as 14 (RFC 7323 §2.3), an empty list.
  auto parsed = parse_tcp_options(Bytes{30, 4, 0xaa, 0xbb, 3, 3, 15, 0, 0xff, 0xff});
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->window_scale, 14);
  EXPECT_TRUE(parse_tcp_options(Bytes{}));
  EXPECT_TRUE(parse_tcp_options(Bytes{1, 1, 1, 0}));
}

TEST(TcpHeader, TruncatedAtEveryByteIsDropped) {
  const Bytes segment = bytes_of(test::l4(testdata::kTcp0));
  for (size_t n = 0; n < segment.size(); ++n) {
    Bytes prefix(segment.begin(), segment.begin() + static_cast<long>(n));
    auto parsed = parse_tcp(prefix, test::kIpB, test::kIpA);
    ASSERT_FALSE(parsed) << n;
    EXPECT_EQ(parsed.reason(), n < 20 ? TcpDrop::kTruncated : TcpDrop::kBadDataOffset) << n;
  }
}

TEST(TcpHeader, MalformedHeadersAreDropped) {
  const Bytes good = bytes_of(test::l4(testdata::kTcp0));
  auto reason = [](Bytes segment, bool fix) {
    if (fix) {
      segment[16] = segment[17] = 0;
      const uint16_t sum = ipv4_transport_checksum(test::kIpB, test::kIpA, 6, segment);
      segment[16] = uint8_t(sum >> 8), segment[17] = uint8_t(sum);
    }
    auto parsed = parse_tcp(segment, test::kIpB, test::kIpA);
    EXPECT_FALSE(parsed);
    return parsed ? TcpDrop::kCount : parsed.reason();
  };
  Bytes s = good;
  s[12] = 0x40;  // data offset 4
  EXPECT_EQ(reason(s, true), TcpDrop::kBadDataOffset);
  s = good;
  s[12] = 0xf0;  // 60 bytes of header in a 40-byte segment
  EXPECT_EQ(reason(s, true), TcpDrop::kBadDataOffset);
  s = good;
  s[4] ^= 0x80;  // sequence number changed
  EXPECT_EQ(reason(s, false), TcpDrop::kBadChecksum);
  s = good;
  s[2] = s[3] = 0;
  EXPECT_EQ(reason(s, true), TcpDrop::kBadPort);
  s = good;
  s[21] = 0;  // the MSS option's length
  EXPECT_EQ(reason(s, true), TcpDrop::kBadOption);
}

TEST(TcpHeader, PrependCountsMissingHeadroom) {
  auto pool = test::make_pool(1);
  PacketBuffer packet = std::move(pool->allocate()).value();
  packet.reset(30);
  TcpSegmentHeader header;
  header.options.mss = 1460;
  header.options.timestamps = TcpTimestamps{};  // 20 + 16 > 30
  TcpCounters counters;
  EXPECT_FALSE(tcp_prepend(header, test::kIpA, test::kIpB, packet, counters));
  EXPECT_EQ(counters.drops[TcpDrop::kNoBuffer], 1u);
  EXPECT_EQ(packet.size(), 0u);
}

}  // namespace
}  // namespace morgana::net
