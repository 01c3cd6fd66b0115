// A sender whose device cannot keep up: the port's queue refuses frames (kAgain, as the
// hvt ring does when the monitor's I/O thread falls behind) and several connections send
// at once. TCP must hold its data back while the device is busy (TcpOutput::link_busy)
// instead of building segments the stack cannot hand over: before it did, the packet
// pool ran dry, the segments built were dropped and every connection paid for them with
// retransmissions and timeouts (bench/http: 64 KiB responses at 100 connections on hvt).
#include <gtest/gtest.h>

#include "sim_world.h"

namespace morgana::sim {
namespace {

constexpr size_t kBytes = 1 << 20;

TEST(SimLinkBusy, ConnectionsWaitForTheDeviceInsteadOfDropping) {
  for (uint64_t seed : sim_seeds(1, 20)) {
    MORGANA_SIM_TRACE(seed);
    SimWorld world(seed);  // a clean link: any loss would be the stack's own
    Stack& server = world.add_host(host_options(0));
    // 100 Mbit/s behind a 16-frame queue that refuses when full, and a pool far smaller
    // than what four connections' windows can hold in flight.
    PortConfig slow;
    slow.bandwidth_bps = 100'000'000;
    slow.queue_frames = 16;
    slow.refuse_when_full = true;
    Stack& client = world.add_host(host_options(1), slow, net::BufferConfig{64});
    TransferResult results[4];
    auto transfer = [&](int i) {
      return tcp_transfer(
          &server, &client,
          {.seed = seed * 4 + uint64_t(i), .bytes = kBytes, .port = uint16_t(5001 + i)},
          &results[i]);
    };
    auto all = [](auto a, auto b, auto c, auto d) -> async::Task<Result<void>> {
      auto [ra, rb, rc, rd] =
          co_await async::when_all(std::move(a), std::move(b), std::move(c), std::move(d));
      CO_TRY(ra);
      CO_TRY(rb);
      CO_TRY(rc);
      CO_TRY(rd);
      co_return ok();
    };
    Result<void> done =
        world.run(all(transfer(0), transfer(1), transfer(2), transfer(3)), 60 * kSecond);
    ASSERT_TRUE(done.ok()) << done.error().what << "\n" << world.describe();
    // The device did push back, and nothing the stack built was lost for want of a buffer.
    EXPECT_GT(world.network().counters().queue_refused, 0u) << world.describe();
    EXPECT_EQ(client.core().pool().stats().exhausted, 0u) << world.describe();
    EXPECT_EQ(client.core().tcp().counters().drops[net::TcpDrop::kNoBuffer], 0u)
        << world.describe();
    for (const TransferResult& result : results) {
      EXPECT_EQ(result.received, kBytes);
      EXPECT_EQ(result.sender.timeouts, 0u) << world.describe();
    }
  }
}

}  // namespace
}  // namespace morgana::sim
