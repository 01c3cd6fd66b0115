// UDP between two Morgana stacks on a simulated segment: ARP resolution on first use,
// echo both ways, and datagrams large enough to be fragmented and reassembled; and the
// same with checksum offload on one side.
#include <gtest/gtest.h>

#include <vector>

#include "sim_world.h"

namespace morgana::sim {
namespace {

const std::vector<size_t> kSizes = {1, 13, 100, 512, 1472, 1473, 4000, 8000, 65507, 1};

// Echoes `count` datagrams back to their senders.
async::Task<Result<void>> echo_server(net::UdpSocket* socket, size_t count) {
  std::vector<uint8_t> buffer(65536);
  for (size_t i = 0; i < count; ++i) {
    CO_TRY_ASSIGN(net::UdpReceived got, co_await socket->receive(buffer));
    CO_TRY(socket->send_to(got.from, {buffer.data(), got.size}));
  }
  co_return ok();
}

// Sends one datagram of each size to `to` and checks that the same bytes come back.
async::Task<Result<void>> echo_client(net::UdpSocket* socket, net::Endpoint to, uint64_t seed) {
  std::vector<uint8_t> sent, buffer(65536);
  for (size_t i = 0; i < kSizes.size(); ++i) {
    sent.resize(kSizes[i]);
    fill_content(seed + i, 0, sent);
    CO_TRY(socket->send_to(to, sent));
    CO_TRY_ASSIGN(net::UdpReceived got, co_await socket->receive(buffer));
    EXPECT_EQ(got.from, to);
    EXPECT_FALSE(got.truncated);
    EXPECT_EQ(got.size, sent.size()) << "datagram " << i;
    EXPECT_EQ(check_content(seed + i, 0, {buffer.data(), got.size}), got.size) << "datagram " << i;
  }
  co_return ok();
}

async::Task<Result<void>> both_ways(Stack* a, Stack* b, uint64_t seed) {
  CO_TRY_ASSIGN(net::UdpSocket server_a, a->udp().bind(7));
  CO_TRY_ASSIGN(net::UdpSocket server_b, b->udp().bind(7));
  CO_TRY_ASSIGN(net::UdpSocket client_a, a->udp().bind(0));
  CO_TRY_ASSIGN(net::UdpSocket client_b, b->udp().bind(0));
  auto [r1, r2, r3, r4] = co_await async::when_all(
      echo_server(&server_a, kSizes.size()), echo_server(&server_b, kSizes.size()),
      echo_client(&client_a, {b->ipv4_address(), 7}, seed),
      echo_client(&client_b, {a->ipv4_address(), 7}, seed + 100));
  CO_TRY(r1);
  CO_TRY(r2);
  CO_TRY(r3);
  CO_TRY(r4);
  co_return ok();
}

TEST(SimUdp, EchoBothWaysWithFragmentation) {
  for (uint64_t seed : sim_seeds(1, 5)) {
    MORGANA_SIM_TRACE(seed);
    SimWorld world(seed);
    Stack& a = world.add_host(host_options(0));
    Stack& b = world.add_host(host_options(1));
    Result<void> done = world.run(both_ways(&a, &b, seed), 10 * kSecond);
    ASSERT_TRUE(done.ok()) << errc_name(done.error().code) << ": " << done.error().what << "\n"
                           << world.describe();
    // 4000, 8000 and 65507 bytes went as 3, 6 and 45 fragments each way; all were
    // reassembled.
    EXPECT_EQ(world.network().counters().lost, 0u);
    for (Stack* s : {&a, &b}) {
      EXPECT_EQ(s->core().ipv4_counters().drops.total(), 0u) << world.describe();
      EXPECT_EQ(s->udp().counters().delivered, 2 * kSizes.size());
    }
    world.run_for(kSecond);
    EXPECT_EQ(a.core().pool().stats().in_use, 0u);
    EXPECT_EQ(b.core().pool().stats().in_use, 0u);
    if (HasFailure()) break;
  }
}

// Host A's "NIC" completes the UDP checksums A's stack leaves to it; host B's does no
// offload and checks every checksum itself, so a wrong pseudo-header sum from A is a
// datagram B drops. Datagrams IPv4 fragments A checksums in software.
TEST(SimUdp, DeviceCompletedChecksumsVerifyAtAPeerWithoutOffload) {
  for (uint64_t seed : sim_seeds(1, 3)) {
    MORGANA_SIM_TRACE(seed);
    SimWorld world(seed);
    PortConfig offloading;
    offloading.offloads = platform::kNetOffloadChecksum;
    Stack& a = world.add_host(host_options(0), offloading);
    Stack& b = world.add_host(host_options(1));
    Result<void> done = world.run(both_ways(&a, &b, seed), 10 * kSecond);
    ASSERT_TRUE(done.ok()) << errc_name(done.error().code) << ": " << done.error().what << "\n"
                           << world.describe();
    EXPECT_EQ(world.network().counters().bad_offload, 0u) << world.describe();
    for (Stack* s : {&a, &b}) {
      EXPECT_EQ(s->udp().counters().drops[net::UdpDrop::kBadChecksum], 0u) << world.describe();
      EXPECT_EQ(s->udp().counters().delivered, 2 * kSizes.size());
    }
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace morgana::sim
