// TcpConnection's buffer autotuning (TcpConfig::receive_buffer_max, send_buffer_max): a
// buffer doubles only while it is what limits the transfer, never past its maximum nor
// past what the window field can say, and not at all for an application that does not
// read or a peer whose window is the limit.
#include <gtest/gtest.h>

#include <algorithm>

#include "tcp_connection_harness.h"

namespace morgana::net {
namespace {

using test::Bytes;
using test::kMs;
using test::Link;
using test::Sent;

constexpr uint32_t kKiB = 1024;

// The largest window B advertised, in bytes (scaled as negotiated).
uint64_t largest_window(const Link& link, uint8_t shift) {
  uint64_t largest = 0;
  for (const Sent& sent : link.out_b.log)
    if (!sent.has(kTcpSyn))
      largest = std::max<uint64_t>(largest, uint64_t{sent.header.window} << shift);
  return largest;
}

TEST(TcpAutotune, ReceiveBufferDoublesWhileTheWindowLimitsAndTheApplicationKeepsUp) {
  TcpConfig sender, receiver;
  sender.send_buffer = 4096 * kKiB;  // the sender never limits
  receiver.receive_buffer = 64 * kKiB;
  receiver.receive_buffer_max = 1024 * kKiB;
  Link link(sender, receiver);
  link.handshake();
  Bytes data = test::pattern(16 << 20);
  Bytes got;
  link.transfer(data, got);
  EXPECT_TRUE(got == data);
  // Grown from 64 KiB to 1 MiB (to twice what each RTT carried, so in several steps), and
  // no further.
  EXPECT_GE(link.b->stats().receive_buffer_raises, 4u);
  // The window scale was chosen for the maximum (65,535 << 5 covers 1 MiB), and the
  // window grew to it, less what was unread when an ACK left.
  EXPECT_EQ(link.out_b.log.front().header.options.window_scale, 5);
  EXPECT_GT(largest_window(link, 5), 1000u * kKiB);
  EXPECT_LE(largest_window(link, 5), 1024u * kKiB);
  EXPECT_EQ(link.a->stats().retransmits, 0u);
  EXPECT_EQ(link.b->stats().send_buffer_raises, 0u);
}

TEST(TcpAutotune, ReceiveBufferStaysWhileTheApplicationDoesNotRead) {
  TcpConfig receiver;
  receiver.receive_buffer = 64 * kKiB;
  receiver.receive_buffer_max = 1024 * kKiB;
  Link link({}, receiver);
  link.handshake();
  Bytes data = test::pattern(200 * kKiB);
  EXPECT_EQ(link.a->write(data, link.now), data.size());
  link.run_for(5'000 * kMs);
  // The peer filled the window, but nothing was read: the application, not the window,
  // is the limit, and a grown window would only let the peer fill more memory.
  EXPECT_GT(link.b->readable(), 64u * kKiB - 1460);  // the window, less the sender's SWS
  EXPECT_LE(link.b->readable(), 64u * kKiB);
  EXPECT_EQ(link.b->stats().receive_buffer_raises, 0u);
  EXPECT_LE(largest_window(link, 5), 64u * kKiB);
  // Reading it all shows the application keeps up after all: the buffer grows, and the
  // rest flows.
  Bytes got;
  link.step_app = [&] { Link::drain(*link.b, got, link.now); };
  ASSERT_TRUE(link.run_until([&] { return got.size() == data.size(); }));
  EXPECT_TRUE(got == data);
  EXPECT_GE(link.b->stats().receive_buffer_raises, 1u);
}

TEST(TcpAutotune, ReceiveBufferNeverOutgrowsAnUnscaledWindow) {
  TcpConfig sender, receiver;
  sender.window_scaling = false;  // so the window field can say 65,535 bytes at most
  sender.send_buffer = 1024 * kKiB;
  receiver.receive_buffer = 32 * kKiB;
  receiver.receive_buffer_max = 1024 * kKiB;
  Link link(sender, receiver);
  link.handshake();
  Bytes data = test::pattern(4 << 20);
  Bytes got;
  link.transfer(data, got);
  EXPECT_TRUE(got == data);
  // 32 KiB -> 64 KiB - 1, the most an unscaled window says; never more.
  EXPECT_EQ(link.b->stats().receive_buffer_raises, 1u);
  EXPECT_LE(largest_window(link, 0), 65535u);
  EXPECT_GT(largest_window(link, 0), 65535u - 1460);
}

TEST(TcpAutotune, SendBufferDoublesWhileItLimitsTheFlight) {
  TcpConfig sender, receiver;
  sender.send_buffer = 16 * kKiB;
  sender.send_buffer_max = 1024 * kKiB;
  receiver.receive_buffer = 4096 * kKiB;  // the receiver never limits
  Link link(sender, receiver);
  link.handshake();
  Bytes data = test::pattern(32 << 20);
  Bytes got;
  const uint32_t flight = link.transfer(data, got);
  EXPECT_TRUE(got == data);
  link.run_for(100 * kMs);  // the last ACKs reach A
  // 16 KiB doubles six times to 1 MiB, and no further.
  EXPECT_EQ(link.a->stats().send_buffer_raises, 6u);
  EXPECT_EQ(link.a->writable(), 1024u * kKiB);
  EXPECT_GT(flight, 512u * kKiB);
  EXPECT_EQ(link.a->stats().retransmits, 0u);
}

TEST(TcpAutotune, SendBufferStaysWhenThePeersWindowLimits) {
  TcpConfig sender, receiver;
  sender.send_buffer = 16 * kKiB;
  sender.send_buffer_max = 1024 * kKiB;
  receiver.receive_buffer = 16 * kKiB;  // fixed: the peer's window is the limit
  Link link(sender, receiver);
  link.handshake();
  Bytes data = test::pattern(2 << 20);
  Bytes got;
  link.transfer(data, got);
  EXPECT_TRUE(got == data);
  link.run_for(100 * kMs);
  EXPECT_EQ(link.a->stats().send_buffer_raises, 0u);
  EXPECT_EQ(link.a->writable(), 16u * kKiB);  // all acknowledged, at its first size
}

TEST(TcpAutotune, OffWithoutAMaximum) {
  TcpConfig sender, receiver;
  sender.send_buffer = 16 * kKiB;
  receiver.receive_buffer = 16 * kKiB;
  Link link(sender, receiver);
  link.handshake();
  Bytes data = test::pattern(2 << 20);
  Bytes got;
  link.transfer(data, got);
  EXPECT_TRUE(got == data);
  EXPECT_EQ(link.a->stats().send_buffer_raises, 0u);
  EXPECT_EQ(link.b->stats().receive_buffer_raises, 0u);
  EXPECT_LE(largest_window(link, 0), 16u * kKiB);
}

}  // namespace
}  // namespace morgana::net
