// Channel<T>: FIFO delivery, back-pressure (a full channel suspends the sender),
// rendezvous, close, and cancellation of a blocked send or receive without losing values.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fixture.h"

namespace morgana::async::testing {
namespace {

Task<void> produce(Channel<int>* channel, int count, std::vector<std::string>* log) {
  for (int i = 1; i <= count; ++i) {
    Result<void> sent = co_await channel->send(i);
    if (!sent.ok()) {
      log->push_back("send " + std::to_string(i) + ": " + errc_name(sent.error().code));
      co_return;
    }
    log->push_back("sent " + std::to_string(i) + "@" + std::to_string(now() / kMs));
  }
  channel->close();
}

Task<void> consume(Channel<int>* channel, Duration per_item, std::vector<std::string>* log) {
  for (;;) {
    Result<int> item = co_await channel->receive();
    if (!item.ok()) {
      log->push_back(std::string("receive: ") + errc_name(item.error().code));
      co_return;
    }
    log->push_back("got " + std::to_string(*item) + "@" + std::to_string(now() / kMs));
    (void)co_await sleep_for(per_item);
  }
}

TEST_F(AsyncTest, FullChannelSuspendsTheSender) {
  Channel<int> channel(2);
  std::vector<std::string> log;
  spawn(produce(&channel, 5, &log));
  spawn(consume(&channel, 10ms, &log));
  loop.run_until_idle();
  // Two fit at once; every further send waits until the slow consumer makes room.
  EXPECT_EQ(log, (std::vector<std::string>{"sent 1@0", "sent 2@0", "got 1@0", "sent 3@0",
                                           "got 2@10", "sent 4@10", "got 3@20", "sent 5@20",
                                           "got 4@30", "got 5@40", "receive: closed"}));
}

TEST_F(AsyncTest, RendezvousChannelHandsOverDirectly) {
  Channel<int> channel(0);
  std::vector<std::string> log;
  spawn(produce(&channel, 3, &log));
  spawn(consume(&channel, 5ms, &log));
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"got 1@0", "sent 1@0", "got 2@5", "sent 2@5", "got 3@10",
                                           "sent 3@10", "receive: closed"}));
}

TEST_F(AsyncTest, ChannelCarriesMoveOnlyValues) {
  Channel<std::unique_ptr<std::string>> channel(1);
  EXPECT_TRUE(channel.try_send(std::make_unique<std::string>("one")));
  auto two = std::make_unique<std::string>("two");
  EXPECT_FALSE(channel.try_send(std::move(two)));  // full: not taken
  ASSERT_NE(two, nullptr);
  Result<std::unique_ptr<std::string>> got = channel.try_receive();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(**got, "one");
  EXPECT_EQ(channel.try_receive().error().code, Errc::kAgain);
  channel.close();
  EXPECT_EQ(channel.try_receive().error().code, Errc::kClosed);
  EXPECT_FALSE(channel.try_send(std::move(two)));
}

TEST_F(AsyncTest, CloseWakesBlockedSendersAndLetsReceiversDrain) {
  Channel<int> channel(1);
  std::vector<std::string> log;
  spawn(produce(&channel, 3, &log));  // 1 buffered, 2 blocked
  loop.run_until_idle();
  channel.close();
  spawn(consume(&channel, 0ms, &log));
  loop.run_until_idle();
  EXPECT_EQ(log,
            (std::vector<std::string>{"sent 1@0", "send 2: closed", "got 1@0", "receive: closed"}));
}

TEST_F(AsyncTest, CancelledSendEnqueuesNothing) {
  Channel<int> channel(1);
  std::vector<std::string> log;
  Scope scope;
  ASSERT_TRUE(scope.spawn(produce(&channel, 3, &log)).ok());
  loop.run_until_idle();
  scope.request_stop();
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"sent 1@0", "send 2: cancelled"}));
  EXPECT_EQ(channel.size(), 1u);
  EXPECT_EQ(*channel.try_receive(), 1);
  EXPECT_EQ(channel.try_receive().error().code, Errc::kAgain);
}

TEST_F(AsyncTest, CancelledReceiveTakesNothing) {
  Channel<int> channel(4);
  std::vector<std::string> log;
  Scope scope;
  ASSERT_TRUE(scope.spawn(consume(&channel, 0ms, &log)).ok());
  loop.run_until_idle();
  scope.request_stop();
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"receive: cancelled"}));
  EXPECT_TRUE(channel.try_send(7));
  EXPECT_EQ(*channel.try_receive(), 7);
}

// A value handed to a waiting receiver is its even if the stop comes before it runs.
TEST_F(AsyncTest, ValueHandedOverBeforeStopIsNotLost) {
  Channel<int> channel(4);
  std::vector<std::string> log;
  Scope scope;
  ASSERT_TRUE(scope.spawn(consume(&channel, 0ms, &log)).ok());
  loop.run_until_idle();
  EXPECT_TRUE(channel.try_send(42));  // delivered into the waiting receive
  scope.request_stop();
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"got 42@0", "receive: cancelled"}));
  EXPECT_EQ(channel.size(), 0u);
}

TEST_F(AsyncTest, StoppedTaskCannotSendEvenWithRoom) {
  Channel<int> channel(4);
  std::vector<std::string> log;
  loop.request_stop();
  loop.run(produce(&channel, 1, &log));
  EXPECT_EQ(log, (std::vector<std::string>{"send 1: cancelled"}));
  EXPECT_EQ(channel.size(), 0u);
}

TEST_F(AsyncTest, DestroyedChannelCancelsItsWaiters) {
  std::vector<std::string> log;
  {
    Channel<int> channel(0);
    spawn(consume(&channel, 0ms, &log));
    loop.run_until_idle();
  }
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"receive: cancelled"}));
}

Task<void> sum_all(Channel<int>* channel, long* sum, long* count) {
  for (;;) {
    Result<int> item = co_await channel->receive();
    if (!item.ok()) co_return;
    *sum += *item;
    ++*count;
  }
}

Task<Result<void>> send_range(Channel<int>* channel, int count) {
  for (int i = 1; i <= count; ++i) CO_TRY(co_await channel->send(i));
  co_return ok();
}

Task<Result<void>> produce_then_close(Channel<int>* channel, Scope* producers) {
  CO_TRY(co_await producers->close());
  channel->close();
  co_return ok();
}

TEST_F(AsyncTest, ManyProducersOneConsumerLoseNothing) {
  Channel<int> channel(8);
  long sum = 0, count = 0;
  Scope producers;
  for (int p = 0; p < 50; ++p) ASSERT_TRUE(producers.spawn(send_range(&channel, 100)).ok());
  spawn(sum_all(&channel, &sum, &count));
  EXPECT_TRUE(loop.run(produce_then_close(&channel, &producers)).ok());
  loop.run_until_idle();
  EXPECT_EQ(count, 50 * 100);
  EXPECT_EQ(sum, 50L * 5050);
  EXPECT_EQ(producers.failures(), 0u);
}

}  // namespace
}  // namespace morgana::async::testing
