// TCP between Morgana stacks on a simulated segment: the connection lifecycle (connect,
// echo, half-close, orderly close, TIME_WAIT and reuse of a four-tuple), every option
// and congestion controller, simultaneous open and close, the connection bounds under a
// storm, a receiver that stops reading, and a peer that vanishes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim_world.h"

namespace morgana::sim {
namespace {

using net::TcpState;

std::vector<TcpState> states(Stack& stack) {
  std::vector<TcpState> out;
  stack.tcp().for_each_connection([&](const net::TcpConnection& c) { out.push_back(c.state()); });
  return out;
}

// After the stacks have been left alone past TIME_WAIT, nothing may remain: no
// connection, no packet buffer.
void expect_drained(SimWorld& world, size_t hosts) {
  world.run_for(61 * kSecond);
  for (size_t i = 0; i < hosts; ++i) {
    EXPECT_EQ(world.host(i).tcp().connections(), 0u) << "host " << i << "\n" << world.describe();
    EXPECT_EQ(world.host(i).core().pool().stats().in_use, 0u) << "host " << i;
  }
}

std::string describe_error(const Result<void>& r) {
  if (r.ok()) return "ok";
  return std::string(errc_name(r.error().code)) + ": " + (r.error().what ? r.error().what : "");
}

async::Task<Result<void>> write_all(net::TcpFlow* flow, uint64_t seed, size_t offset, size_t n) {
  std::vector<uint8_t> bytes(n);
  fill_content(seed, offset, bytes);
  co_return co_await flow->write(bytes);
}

// Reads until EOF, checking the bytes against stream `seed` from `offset`; the count
// read goes to `*count`.
async::Task<Result<void>> read_to_eof(net::TcpFlow* flow, uint64_t seed, size_t offset,
                                      size_t* count) {
  std::vector<uint8_t> buffer(8192);
  for (;;) {
    CO_TRY_ASSIGN(size_t n, co_await flow->read(buffer));
    if (n == 0) co_return ok();
    if (check_content(seed, offset + *count, {buffer.data(), n}) != n)
      co_return Error{Errc::kMalformed, "bytes differ from the sent ones"};
    *count += n;
  }
}

// 5% loss each way, with reordering, duplication and corruption.
LinkConditions bad_link() {
  LinkConditions link;
  link.loss = 0.05;
  link.reorder = 0.05;
  link.reorder_delay_ns = 3 * kMs;
  link.duplicate = 0.01;
  link.corrupt = 0.01;
  link.delay_ns = 1 * kMs;
  return link;
}

// --- Lifecycle ---------------------------------------------------------------------------

// The server echoes until the client's FIN, then (half-closed: it may still send) adds
// `extra` bytes of its own and closes.
async::Task<Result<void>> echo_then_close(net::TcpListener* listener, size_t extra, uint64_t seed) {
  CO_TRY_ASSIGN(net::TcpFlow flow, co_await listener->accept());
  std::vector<uint8_t> buffer(4096);
  size_t echoed = 0;
  for (;;) {
    CO_TRY_ASSIGN(size_t n, co_await flow.read(buffer));
    if (n == 0) break;
    CO_TRY(co_await flow.write({buffer.data(), n}));
    echoed += n;
  }
  CO_TRY(co_await write_all(&flow, seed, echoed, extra));
  flow.close();
  co_return ok();
}

async::Task<Result<void>> echo_scenario(Stack* server, Stack* client, uint64_t seed) {
  constexpr size_t kSent = 10'000, kExtra = 777;
  CO_TRY_ASSIGN(net::TcpListener listener, co_await server->tcp().listen(7));
  auto client_side = [](Stack* client, net::Ipv4Address to,
                        uint64_t seed) -> async::Task<Result<void>> {
    CO_TRY_ASSIGN(net::TcpFlow flow, co_await client->tcp().connect(to, 7));
    EXPECT_EQ(flow.remote(), (net::Endpoint{to, 7}));
    CO_TRY(co_await write_all(&flow, seed, 0, kSent));
    CO_TRY(flow.shutdown_write());
    // Writing after shutdown_write() is refused; reading goes on.
    uint8_t byte = 0;
    auto refused = co_await flow.write({&byte, 1});
    EXPECT_FALSE(refused.ok());
    if (!refused.ok()) {
      EXPECT_EQ(refused.error().code, Errc::kClosed);
    }
    size_t count = 0;
    CO_TRY(co_await read_to_eof(&flow, seed, 0, &count));
    EXPECT_EQ(count, kSent + kExtra);
    flow.close();
    co_return ok();
  };
  auto [served, done] = co_await async::when_all(echo_then_close(&listener, kExtra, seed),
                                                 client_side(client, server->ipv4_address(), seed));
  CO_TRY(served);
  CO_TRY(done);
  co_return ok();
}

void echo_lifecycle(bool lossy, uint64_t first_seed) {
  {
    for (uint64_t seed : sim_seeds(first_seed, 10)) {
      MORGANA_SIM_TRACE(seed);
      SCOPED_TRACE(lossy ? "bad link" : "clean link");
      SimWorld world(seed, lossy ? bad_link() : LinkConditions{});
      Stack& server = world.add_host(host_options(0));
      Stack& client = world.add_host(host_options(1));
      Result<void> r = world.run(echo_scenario(&server, &client, seed), 60 * kSecond);
      ASSERT_TRUE(r.ok()) << describe_error(r) << "\n" << world.describe();
      if (!lossy) {
        // The client sent the first FIN, so it holds TIME_WAIT; the server's LAST_ACK
        // ends once its FIN is acknowledged.
        world.run_for(kSecond);
        EXPECT_EQ(states(client), std::vector<TcpState>{TcpState::kTimeWait});
        EXPECT_EQ(server.tcp().connections(), 0u);
        world.run_for(58 * kSecond);
        EXPECT_EQ(client.tcp().connections(), 1u) << "TIME_WAIT lasts 2 MSL (60 s)";
      }
      expect_drained(world, 2);
      EXPECT_EQ(server.tcp().stats().failed + client.tcp().stats().failed, 0u);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST(SimTcp, EchoHalfCloseOrderlyCloseAndTimeWait) {
  echo_lifecycle(false, 1);
}

// Data both ways with loss both ways: segments carry SACK blocks, and a full-sized one
// must still fit the MTU (seed 92 once stalled on an oversize FIN+data retransmission
// that IPv4 dropped with DF: the payload is now sized by the options it carries, as
// Linux's tcp_current_mss).
TEST(SimTcp, EchoHalfCloseOrderlyCloseOverBadLink) {
  echo_lifecycle(true, 92);
}

// The server closes first and so holds TIME_WAIT for the four-tuple; the client's
// ephemeral ports wrap around (16,383 refused attempts) and it connects again from the
// same port: the new SYN reopens the TIME_WAIT connection (RFC 9293 §3.10.7.4, RFC 6191).
async::Task<Result<void>> reuse_scenario(Stack* server, Stack* client, uint64_t seed,
                                         size_t* refused) {
  CO_TRY_ASSIGN(net::TcpListener listener, co_await server->tcp().listen(7));
  net::Ipv4Address to = server->ipv4_address();
  uint16_t first_port = 0;
  for (int round = 0; round < 2; ++round) {
    auto served = [](net::TcpListener* l, uint64_t seed) -> async::Task<Result<void>> {
      CO_TRY_ASSIGN(net::TcpFlow flow, co_await l->accept());
      CO_TRY(co_await write_all(&flow, seed, 0, 3000));
      flow.close();  // the server's FIN goes first
      co_return ok();
    };
    auto fetched = [](Stack* c, net::Ipv4Address to, uint64_t seed,
                      uint16_t* port) -> async::Task<Result<void>> {
      CO_TRY_ASSIGN(net::TcpFlow flow, co_await c->tcp().connect(to, 7));
      *port = flow.local().port;
      size_t count = 0;
      CO_TRY(co_await read_to_eof(&flow, seed, 0, &count));
      if (count != 3000) co_return Error{Errc::kMalformed, "short read"};
      flow.close();
      co_return ok();
    };
    uint16_t port = 0;
    auto [a, b] = co_await async::when_all(served(&listener, seed + round),
                                           fetched(client, to, seed + round, &port));
    CO_TRY(a);
    CO_TRY(b);
    CO_TRY(co_await async::sleep_for(std::chrono::milliseconds(10)));
    if (round == 0) {
      first_port = port;
      EXPECT_EQ(states(*server), std::vector<TcpState>{TcpState::kTimeWait});
      // Walk the client's ephemeral ports round to the one just used.
      for (uint32_t i = 0; i < 65535 - 49152; ++i) {
        auto attempt = co_await client->tcp().connect(to, 9);
        if (attempt.ok()) co_return Error{Errc::kExists, "port 9 accepted a connection"};
        if (attempt.error().code != Errc::kConnectionRefused) co_return attempt.error();
        ++*refused;
      }
    } else {
      EXPECT_EQ(port, first_port) << "the four-tuple was not reused";
    }
  }
  co_return ok();
}

TEST(SimTcp, TimeWaitFourTupleReusedByNewSyn) {
  uint64_t seed = sim_seeds(1, 1)[0];
  MORGANA_SIM_TRACE(seed);
  SimWorld world(seed);
  Stack& server = world.add_host(host_options(0));
  Stack& client = world.add_host(host_options(1));
  size_t refused = 0;
  Result<void> r = world.run(reuse_scenario(&server, &client, seed, &refused), 50 * kSecond);
  ASSERT_TRUE(r.ok()) << describe_error(r) << "\n" << world.describe();
  EXPECT_EQ(refused, 65535u - 49152u);
  EXPECT_EQ(server.tcp().stats().passive_opens, 2u);
  EXPECT_EQ(server.tcp().stats().failed, 0u);
  expect_drained(world, 2);
}

// --- Options and congestion control --------------------------------------------------

struct Variant {
  const char* name;
  net::CongestionAlgorithm congestion;
  int side;  // 0: the server (receiver) loses the option, 1: the client (sender), -1: none
  bool net::StackOptions::*option;
};

TEST(SimTcp, EveryOptionOffOnEitherSideWithBothCongestionControllers) {
  std::vector<Variant> variants;
  for (auto cc : {net::CongestionAlgorithm::kCubic, net::CongestionAlgorithm::kNewReno}) {
    variants.push_back({"all options", cc, -1, nullptr});
    for (int side : {0, 1}) {
      variants.push_back({"no sack", cc, side, &net::StackOptions::sack});
      variants.push_back({"no timestamps", cc, side, &net::StackOptions::timestamps});
      variants.push_back({"no window scaling", cc, side, &net::StackOptions::window_scaling});
    }
  }
  LinkConditions link;
  link.loss = 0.02;
  link.reorder = 0.02;
  link.reorder_delay_ns = 2 * kMs;
  link.delay_ns = 2 * kMs;
  for (const Variant& v : variants) {
    for (uint64_t seed : sim_seeds(1, 5)) {
      MORGANA_SIM_TRACE(seed);
      SCOPED_TRACE(std::string(v.name) +
                   (v.side == 0   ? " on the receiver"
                    : v.side == 1 ? " on the sender"
                                  : "") +
                   (v.congestion == net::CongestionAlgorithm::kCubic ? ", cubic" : ", newreno"));
      SimWorld world(seed, link);
      net::StackOptions options[2] = {host_options(0), host_options(1)};
      for (auto& o : options) o.congestion = v.congestion;
      if (v.side >= 0) options[v.side].*v.option = false;
      Stack& server = world.add_host(options[0]);
      Stack& client = world.add_host(options[1]);
      TransferResult result;
      Result<void> r =
          world.run(tcp_transfer(&server, &client, {.seed = seed, .bytes = 512 * 1024}, &result),
                    60 * kSecond);
      ASSERT_TRUE(r.ok()) << describe_error(r) << " after " << result.received << " bytes\n"
                          << world.describe();
      expect_drained(world, 2);
    }
  }
}

// --- Simultaneous open and close -------------------------------------------------------

// Each stack's first ephemeral port is 49152, so two stacks connecting to each other's
// port 49152 at the same moment produce crossing SYNs for one four-tuple: a simultaneous
// open through the public API (TcpLayer::connect cannot bind a chosen local port).
async::Task<Result<void>> simultaneous_scenario(Stack* a, Stack* b, uint64_t seed) {
  auto [fa, fb] = co_await async::when_all(a->tcp().connect(b->ipv4_address(), 49152),
                                           b->tcp().connect(a->ipv4_address(), 49152));
  if (!fa.ok()) co_return fa.error();
  if (!fb.ok()) co_return fb.error();
  EXPECT_EQ(fa->local().port, 49152);
  EXPECT_EQ(fb->local().port, 49152);
  EXPECT_EQ(a->tcp().stats().passive_opens + b->tcp().stats().passive_opens, 0u);
  // Data both ways, then both shut down at the same instant: the FINs cross too
  // (FIN-WAIT-1 -> CLOSING -> TIME_WAIT on both sides).
  auto [wa, wb] = co_await async::when_all(write_all(&*fa, seed, 0, 20000),
                                           write_all(&*fb, seed + 1, 0, 20000));
  CO_TRY(wa);
  CO_TRY(wb);
  CO_TRY(fa->shutdown_write());
  CO_TRY(fb->shutdown_write());
  size_t ca = 0, cb = 0;
  auto [ra, rb] = co_await async::when_all(read_to_eof(&*fa, seed + 1, 0, &ca),
                                           read_to_eof(&*fb, seed, 0, &cb));
  CO_TRY(ra);
  CO_TRY(rb);
  EXPECT_EQ(ca, 20000u);
  EXPECT_EQ(cb, 20000u);
  fa->close();
  fb->close();
  co_return ok();
}

void simultaneous(bool lossy, uint64_t first_seed) {
  {
    for (uint64_t seed : sim_seeds(first_seed, 10)) {
      MORGANA_SIM_TRACE(seed);
      SCOPED_TRACE(lossy ? "bad link" : "clean link");
      SimWorld world(seed, lossy ? bad_link() : LinkConditions{});
      Stack& a = world.add_host(host_options(0));
      Stack& b = world.add_host(host_options(1));
      Result<void> r = world.run(simultaneous_scenario(&a, &b, seed), 120 * kSecond);
      ASSERT_TRUE(r.ok()) << describe_error(r) << "\n" << world.describe();
      if (!lossy) {
        world.run_for(kSecond);
        EXPECT_EQ(states(a), std::vector<TcpState>{TcpState::kTimeWait});
        EXPECT_EQ(states(b), std::vector<TcpState>{TcpState::kTimeWait});
      }
      expect_drained(world, 2);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST(SimTcp, SimultaneousOpenAndSimultaneousClose) {
  simultaneous(false, 1);
}

// Seed 2 once stalled on the oversize SACK-carrying segment (see
// EchoHalfCloseOrderlyCloseOverBadLink).
TEST(SimTcp, SimultaneousOpenAndCloseOverBadLink) {
  simultaneous(true, 1);
}

// --- Bounds under a storm --------------------------------------------------------------

async::Task<Result<void>> echo_flow(net::TcpFlow flow) {
  std::vector<uint8_t> buffer(2048);
  for (;;) {
    CO_TRY_ASSIGN(size_t n, co_await flow.read(buffer));
    if (n == 0) break;
    CO_TRY(co_await flow.write({buffer.data(), n}));
  }
  flow.close();
  co_return ok();
}

// Accepts (after `delay_ns`) and echoes every connection until stopped.
async::Task<Result<void>> accept_loop(net::TcpListener* listener, async::Scope* scope,
                                      uint64_t delay_ns, size_t* accepted) {
  CO_TRY(co_await async::sleep_for(std::chrono::nanoseconds(delay_ns)));
  for (;;) {
    CO_TRY_ASSIGN(net::TcpFlow flow, co_await listener->accept());
    ++*accepted;
    CO_TRY(scope->spawn(echo_flow(std::move(flow))));
  }
}

struct StormOutcome {
  size_t connected = 0;
  size_t echoed = 0;
  std::vector<Errc> failures;
};

// One client connection: connect, wait until every attempt of the storm has been
// decided, echo 1000 bytes, close.
async::Task<Result<void>> storm_client(Stack* client, net::Ipv4Address to, uint64_t seed,
                                       uint64_t start_ns, StormOutcome* outcome,
                                       async::Event* all_decided, size_t* undecided) {
  CO_TRY(co_await async::sleep_for(std::chrono::nanoseconds(start_ns)));
  auto flow = co_await client->tcp().connect(to, 7);
  --*undecided;
  if (*undecided == 0) all_decided->set();
  if (!flow) {
    outcome->failures.push_back(flow.error().code);
    co_return ok();
  }
  ++outcome->connected;
  CO_TRY(co_await all_decided->wait());
  CO_TRY(co_await write_all(&*flow, seed, 0, 1000));
  CO_TRY(flow->shutdown_write());
  size_t count = 0;
  CO_TRY(co_await read_to_eof(&*flow, seed, 0, &count));
  if (count == 1000) ++outcome->echoed;
  flow->close();
  co_return ok();
}

// `attempts` connections, started in waves of `wave` every 10 ms (0: all at once), to a
// server that starts accepting after `accept_delay_ns`.
async::Task<Result<void>> storm_scenario(Stack* server, Stack* client, size_t attempts, size_t wave,
                                         uint64_t accept_delay_ns, uint64_t seed,
                                         StormOutcome* outcome, size_t* accepted) {
  CO_TRY_ASSIGN(net::TcpListener listener, co_await server->tcp().listen(7));
  async::Scope scope;
  CO_TRY(scope.spawn(accept_loop(&listener, &scope, accept_delay_ns, accepted)));
  async::Event all_decided;
  size_t undecided = attempts;
  std::vector<async::Task<Result<void>>> clients;
  for (size_t i = 0; i < attempts; ++i)
    clients.push_back(storm_client(client, server->ipv4_address(), seed + i,
                                   wave == 0 ? 0 : i / wave * 10 * kMs, outcome, &all_decided,
                                   &undecided));
  auto results = co_await async::when_all(std::move(clients));
  scope.request_stop();
  (void)co_await scope.join();
  for (auto& r : results) CO_TRY(r);
  co_return ok();
}

TEST(SimTcp, StormOverServerMaxConnections) {
  uint64_t seed = sim_seeds(1, 1)[0];
  MORGANA_SIM_TRACE(seed);
  SimWorld world(seed);
  net::StackOptions options = host_options(0);
  options.max_connections = 8;
  Stack& server = world.add_host(options);
  Stack& client = world.add_host(host_options(1));
  StormOutcome outcome;
  size_t accepted = 0;
  Result<void> r = world.run(storm_scenario(&server, &client, 20, 0, 0, seed, &outcome, &accepted),
                             300 * kSecond);
  ASSERT_TRUE(r.ok()) << describe_error(r) << "\n" << world.describe();
  // Eight fit; the other twelve had every SYN dropped and gave up.
  EXPECT_EQ(outcome.connected, 8u);
  EXPECT_EQ(outcome.echoed, 8u);
  EXPECT_EQ(accepted, 8u);
  EXPECT_EQ(outcome.failures, std::vector<Errc>(12, Errc::kTimedOut));
  // The twelve first SYNs died in ARP's pending queue (8 packets per address wait for
  // resolution); every one of their six retries was dropped by the server.
  EXPECT_GE(server.tcp().stats().syn_dropped, 12u * 6u) << world.describe();
  expect_drained(world, 2);
}

// Runs `attempts` = backlog + 20 connections against a listener whose application does
// not accept for 5 s; every one must end up echoing.
void backlog_storm(size_t wave) {
  uint64_t seed = sim_seeds(1, 1)[0];
  MORGANA_SIM_TRACE(seed);
  SimWorld world(seed);
  Stack& server = world.add_host(host_options(0));
  Stack& client = world.add_host(host_options(1));
  const size_t backlog = server.tcp().config().backlog;
  StormOutcome outcome;
  size_t accepted = 0;
  Result<void> r = world.run(
      storm_scenario(&server, &client, backlog + 20, wave, 5 * kSecond, seed, &outcome, &accepted),
      120 * kSecond);
  ASSERT_TRUE(r.ok()) << describe_error(r) << "\n" << world.describe();
  EXPECT_EQ(outcome.connected, backlog + 20);
  EXPECT_EQ(outcome.echoed, backlog + 20);
  EXPECT_TRUE(outcome.failures.empty());
  // The accept queue filled at `backlog`; later SYNs were dropped and their retries got
  // in once the application started accepting.
  EXPECT_GE(server.tcp().stats().syn_dropped, 20u) << world.describe();
  EXPECT_EQ(server.tcp().stats().accept_overflow, 0u);
  expect_drained(world, 2);
}

// Waves of 8 SYNs (the size of ARP's queue, and a divisor of the backlog) every 10 ms:
// the accept queue fills exactly, and the excess is dropped and retried.
TEST(SimTcp, StormOverListenerBacklogIsAbsorbedBySynRetries) {
  backlog_storm(8);
}

// BUG (TcpLayer::handle_syn, src/net/stack/tcp_layer.cc): a burst of legitimate SYNs
// larger than the backlog, while the application has not accepted yet, completes
// handshakes the layer then resets. With backlog 128 and 148 SYNs arriving together
// (seed 1: 8 first, the other 140 retried 1 s later), 128 go half-open, 12 more evict the
// oldest half-open ones (RST after their SYN-ACK: half_open_evicted=12), and when the
// half-open ones complete, the accept queue overflows (accept_overflow=8, aborted with
// RST). Those clients' connect() succeeded and their flows then fail with
// kConnectionReset. handle_syn's own comment says SYNs that cannot be handed over are
// dropped so the peer retries; that check counts only `ready`, not `half_open`
// connections that will complete into it. Expected: as with paced waves above, the excess
// SYNs are dropped (counted in syn_dropped) and retried, and nobody is reset.
TEST(SimTcp, StormOverListenerBacklogInOneBurst) {
  backlog_storm(0);
}

TEST(SimTcp, ClientOverMaxConnectionsIsRefusedLocally) {
  uint64_t seed = sim_seeds(1, 1)[0];
  MORGANA_SIM_TRACE(seed);
  SimWorld world(seed);
  Stack& server = world.add_host(host_options(0));
  net::StackOptions options = host_options(1);
  options.max_connections = 4;
  Stack& client = world.add_host(options);
  StormOutcome outcome;
  size_t accepted = 0;
  Result<void> r =
      world.run(storm_scenario(&server, &client, 6, 0, 0, seed, &outcome, &accepted), 30 * kSecond);
  ASSERT_TRUE(r.ok()) << describe_error(r) << "\n" << world.describe();
  EXPECT_EQ(outcome.connected, 4u);
  EXPECT_EQ(outcome.echoed, 4u);
  EXPECT_EQ(outcome.failures, std::vector<Errc>(2, Errc::kNoMemory));
  expect_drained(world, 2);
}

// --- Flow control and failure -------------------------------------------------------------

TEST(SimTcp, ZeroWindowWhileTheReceiverStopsReading) {
  LinkConditions clean, lossy;
  lossy.loss = 0.05;
  lossy.delay_ns = 1 * kMs;
  for (const LinkConditions& link : {clean, lossy}) {
    for (uint64_t seed : sim_seeds(1, 10)) {
      MORGANA_SIM_TRACE(seed);
      SCOPED_TRACE(link.loss > 0 ? "5% loss" : "clean link");
      SimWorld world(seed, link);
      net::StackOptions receiver = host_options(0);
      receiver.tcp_receive_buffer = 16 * 1024;
      Stack& server = world.add_host(receiver);
      Stack& client = world.add_host(host_options(1));
      TransferResult result;
      TransferSpec spec{
          .seed = seed, .bytes = 256 * 1024, .pause_after = 64 * 1024, .pause_ns = 30 * kSecond};
      Result<void> r = world.run(tcp_transfer(&server, &client, spec, &result), 120 * kSecond);
      ASSERT_TRUE(r.ok()) << describe_error(r) << " after " << result.received << " bytes\n"
                          << world.describe();
      EXPECT_GT(result.sender.zero_window_probes, 0u) << "the sender never probed the window";
      EXPECT_GE(result.finished_at, 30 * kSecond);
      expect_drained(world, 2);
      if (HasFailure()) break;
    }
  }
}

async::Task<Result<void>> vanish_scenario(SimWorld* world, Stack* server, Stack* client,
                                          uint64_t seed, Result<void>* outcome,
                                          uint64_t* failed_at) {
  CO_TRY_ASSIGN(net::TcpListener listener, co_await server->tcp().listen(7));
  auto [accepted, connected] =
      co_await async::when_all(listener.accept(), client->tcp().connect(server->ipv4_address(), 7));
  if (!accepted) co_return accepted.error();
  if (!connected) co_return connected.error();
  CO_TRY(co_await write_all(&*connected, seed, 0, 32 * 1024));
  CO_TRY(co_await async::sleep_for(std::chrono::milliseconds(100)));
  world->network().set_up(0, 1, false);  // the server is gone, without a word
  CO_TRY(co_await write_all(&*connected, seed, 32 * 1024, 32 * 1024));
  uint8_t byte;
  auto read = co_await connected->read({&byte, 1});
  *failed_at = async::now();
  *outcome =
      read.ok() ? Result<void>(Error{Errc::kExists, "read returned"}) : Result<void>(read.error());
  // A write after the failure reports it too.
  auto write = co_await connected->write({&byte, 1});
  EXPECT_FALSE(write.ok());
  if (!write.ok()) {
    EXPECT_EQ(write.error().code, Errc::kTimedOut);
  }
  co_return ok();
}

TEST(SimTcp, PeerThatVanishesTimesOut) {
  for (uint64_t seed : sim_seeds(1, 3)) {
    MORGANA_SIM_TRACE(seed);
    SimWorld world(seed);
    Stack& server = world.add_host(host_options(0));
    Stack& client = world.add_host(host_options(1));
    Result<void> outcome = ok();
    uint64_t failed_at = 0;
    Result<void> r = world.run(
        vanish_scenario(&world, &server, &client, seed, &outcome, &failed_at), 3600 * kSecond);
    ASSERT_TRUE(r.ok()) << describe_error(r) << "\n" << world.describe();
    ASSERT_FALSE(outcome.ok());
    EXPECT_EQ(outcome.error().code, Errc::kTimedOut) << describe_error(outcome);
    const auto total = client.tcp().total_connection_stats();
    // Linux's tcp_retries2 semantics: 15 retransmissions, and the next expiry gives up.
    EXPECT_EQ(total.timeouts, client.tcp().config().connection.max_retransmits);
    // RFC 1122 §4.2.3.5: R2 at least 100 s; with 15 retries and a 120 s ceiling, minutes.
    EXPECT_GT(failed_at, 100 * kSecond);
    EXPECT_LT(failed_at, 1800 * kSecond);
    std::printf("seed %llu: gave up after %.1f s of virtual time, %llu timeouts\n",
                (unsigned long long)seed, double(failed_at) / kSecond,
                (unsigned long long)total.timeouts);
    EXPECT_EQ(client.tcp().stats().failed, 1u);
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace morgana::sim
