// An image's way out, in simulation: the code every network example runs once its stack is
// open (net::run_app_on: the body, the bounded drain) serving --connections=N through
// net::serve_tcp over a bad link, then tearing its stack down, while its last client
// misbehaves: it resets, stops reading, vanishes, or loses its first handshake. The image
// must return soon after its last connection ended (issue 4, "the image does not exit").
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "morgana/net/app_runner.h"
#include "sim_world.h"

namespace morgana::sim {
namespace {

constexpr uint16_t kPort = 19;
constexpr uint64_t kConnections = 3;  // as --connections=3: two good clients, then the last
// More than a client's receive buffer (256 KiB): a client that stops reading leaves the
// rest in the image's send buffer, with the FIN behind it.
constexpr size_t kBytes = 384 * 1024;
// What a misbehaving client reads before it does so.
constexpr size_t kFirstPart = 64 * 1024;
constexpr uint64_t kVirtualLimit = 600 * kSecond;

// The ports on the simulated segment: the clients' stack (a SimWorld host) first.
constexpr size_t kClientPort = 0;
constexpr size_t kImagePort = 1;

enum class LastClient {
  kWellBehaved,         // reads the whole stream, closes
  kResets,              // reads a part, then aborts (RST) while the image still sends
  kStopsReading,        // reads a part, then holds the connection without reading
  kVanishes,            // reads all but the end, then its cable is cut
  kFirstSynLost,        // its first SYN is lost; the retransmitted one gets through
  kHandshakeAbandoned,  // gives up while the image's SYN-ACKs are lost, then tries again
};

const char* name_of(LastClient last) {
  switch (last) {
    case LastClient::kWellBehaved:
      return "well-behaved";
    case LastClient::kResets:
      return "resets";
    case LastClient::kStopsReading:
      return "stops reading";
    case LastClient::kVanishes:
      return "vanishes";
    case LastClient::kFirstSynLost:
      return "first SYN lost";
    case LastClient::kHandshakeAbandoned:
      return "handshake abandoned";
  }
  return "?";
}

// 5% loss each way, with reordering, duplication and corruption (as sim_tcp_test.cc).
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

std::string describe_error(const Result<void>& r) {
  if (r.ok()) return "ok";
  return std::string(errc_name(r.error().code)) + ": " + (r.error().what ? r.error().what : "");
}

// What the image did, seen from outside.
struct ImageRun {
  Result<void> result = ok();  // what run_app_on returned
  uint64_t handlers_ended = 0;
  uint64_t last_handler_end = 0;  // virtual time the last connection's handler ended
  uint64_t returned_at = 0;       // virtual time run_app_on returned
  uint64_t failed = 0;            // the image's TCP stats: connections reset or timed out
  bool exited = false;            // returned and its stack torn down
};

// The image's handler, as chargen --bytes=kBytes: sends stream `seed`, then closes. A client
// that goes away ends it early; that is the client's business, not a failure.
async::Task<Result<void>> send_stream(net::TcpFlow flow, uint64_t seed, ImageRun* run) {
  std::vector<uint8_t> chunk(16 * 1024);
  for (size_t sent = 0; sent < kBytes;) {
    size_t n = std::min(chunk.size(), kBytes - sent);
    fill_content(seed, sent, {chunk.data(), n});
    Result<void> written = co_await flow.write({chunk.data(), n});
    if (!written) break;
    sent += n;
  }
  flow.close();
  ++run->handlers_ended;
  run->last_handler_end = std::max(run->last_handler_end, async::now());
  co_return ok();
}

// The image: its stack over `device`, run_app_on with a body serving kConnections, then
// the stack destroyed, as run_network_body's frame destroys it when it ends.
async::Task<Result<void>> image(SimDevice device, uint64_t seed, ImageRun* run) {
  std::array<uint8_t, 32> stack_seed{};
  std::memcpy(stack_seed.data(), &seed, sizeof seed);
  stack_seed[31] = 0x1a;  // not the clients' key
  auto created = Stack::create(device, host_options(0), stack_seed);
  if (!created) co_return created.error();
  std::unique_ptr<Stack> stack = std::move(*created);
  auto body = [seed, run](Stack& s, std::span<char* const>) {
    return net::serve_tcp(s, kPort, kConnections, [seed, run](net::TcpFlow flow) {
      return send_stream(std::move(flow), seed, run);
    });
  };
  run->result = co_await net::run_app_on("image", *stack, {}, body, false);
  run->returned_at = async::now();
  run->failed = stack->tcp().stats().failed;
  stack.reset();
  run->exited = true;
  co_return ok();
}

// Reads stream `seed` from `*count` on until `*count` reaches `until` or EOF.
async::Task<Result<void>> read_stream(net::TcpFlow* flow, uint64_t seed, size_t until,
                                      size_t* count) {
  std::vector<uint8_t> buffer(8192);
  while (*count < until) {
    size_t want = std::min(buffer.size(), until - *count);
    CO_TRY_ASSIGN(size_t n, co_await flow->read({buffer.data(), want}));
    if (n == 0) co_return ok();
    if (check_content(seed, *count, {buffer.data(), n}) != n)
      co_return Error{Errc::kMalformed, "bytes differ from the image's stream"};
    *count += n;
  }
  co_return ok();
}

// Connects, reads the whole stream and its EOF, closes.
async::Task<Result<void>> good_client(Stack* client, uint64_t seed) {
  CO_TRY_ASSIGN(net::TcpFlow flow, co_await client->tcp().connect(host_address(0), kPort));
  size_t count = 0;
  CO_TRY(co_await read_stream(&flow, seed, kBytes + 1, &count));
  if (count != kBytes) co_return Error{Errc::kMalformed, "the stream ended early"};
  flow.close();
  co_return ok();
}

async::Task<Result<void>> set_link_after(SimNetwork* network, size_t from, size_t to,
                                         uint64_t delay_ns, LinkConditions conditions) {
  CO_TRY(co_await async::sleep_for(std::chrono::nanoseconds(delay_ns)));
  network->set_link(from, to, conditions);
  co_return ok();
}

async::Task<Result<void>> last_client(SimWorld* world, Stack* client, uint64_t seed,
                                      LastClient last, const ImageRun* run) {
  SimNetwork& network = world->network();
  LinkConditions lost = bad_link(), clean;
  lost.loss = 1.0;
  clean.delay_ns = bad_link().delay_ns;
  switch (last) {
    case LastClient::kWellBehaved:
      co_return co_await good_client(client, seed);
    case LastClient::kFirstSynLost: {
      // The client's SYN retransmission (RFC 6298: after 1 s) brings it through. The
      // integration tests' closing connection used to give up after 1 s, before Linux's
      // retry, and the image rightly went on waiting for its last connection.
      network.set_link(kClientPort, kImagePort, lost);
      auto [connected, restored] = co_await async::when_all(
          good_client(client, seed),
          set_link_after(&network, kClientPort, kImagePort, 500 * kMs, bad_link()));
      CO_TRY(restored);
      co_return connected;
    }
    case LastClient::kHandshakeAbandoned: {
      // The image is left with a half-open connection to a peer that forgot it: its
      // retransmitted SYN-ACK is answered with a RST, and only the retry counts. Until the
      // retry the link is clean but for the lost SYN-ACKs, so that in every seed the image
      // has that connection and has it reset.
      network.set_link(kClientPort, kImagePort, clean);
      network.set_link(kImagePort, kClientPort, lost);
      auto [gave_up, restored] = co_await async::when_all(
          async::with_timeout(client->tcp().connect(host_address(0), kPort),
                              std::chrono::milliseconds(500)),
          set_link_after(&network, kImagePort, kClientPort, 600 * kMs, clean));
      CO_TRY(restored);
      if (gave_up) co_return Error{Errc::kExists, "connected although every SYN-ACK was lost"};
      CO_TRY(co_await async::sleep_for(std::chrono::seconds(5)));  // the RST went out
      network.set_links(bad_link());
      co_return co_await good_client(client, seed);
    }
    case LastClient::kResets:
    case LastClient::kStopsReading:
    case LastClient::kVanishes:
      break;
  }
  CO_TRY_ASSIGN(net::TcpFlow flow, co_await client->tcp().connect(host_address(0), kPort));
  size_t count = 0;
  const size_t part = last == LastClient::kVanishes ? kBytes - 128 * 1024 : kFirstPart;
  CO_TRY(co_await read_stream(&flow, seed, part, &count));
  if (count != part) co_return Error{Errc::kMalformed, "the stream ended early"};
  if (last == LastClient::kResets) {
    flow.abort();
  } else if (last == LastClient::kVanishes) {
    // Without a word: the image's last data and FIN go unacknowledged for ever.
    network.set_up(kClientPort, kImagePort, false);
  } else {
    // A zero window until the image has gone: its FIN cannot be sent.
    while (!run->exited) CO_TRY(co_await async::sleep_for(std::chrono::milliseconds(100)));
    flow.abort();
  }
  co_return ok();
}

async::Task<Result<void>> clients(SimWorld* world, Stack* client, uint64_t seed, LastClient last,
                                  const ImageRun* run) {
  for (uint64_t i = 0; i + 1 < kConnections; ++i) CO_TRY(co_await good_client(client, seed));
  co_return co_await last_client(world, client, seed, last, run);
}

async::Task<Result<void>> scenario(SimWorld* world, SimDevice image_device, uint64_t seed,
                                   LastClient last, ImageRun* run) {
  auto [image_done, clients_done] = co_await async::when_all(
      image(image_device, seed, run), clients(world, &world->host(0), seed, last, run));
  CO_TRY(image_done);
  CO_TRY(clients_done);
  co_return ok();
}

void run_exits(LastClient last, uint64_t first_seed) {
  for (uint64_t seed : sim_seeds(first_seed, 10)) {
    MORGANA_SIM_TRACE(seed);
    SCOPED_TRACE(std::string("last client: ") + name_of(last));
    SimWorld world(seed, bad_link());
    world.add_host(host_options(1));  // the clients: port kClientPort, 10.0.0.2
    SimDevice image_device = world.network().add_port(platform::DeviceId(kImagePort));
    ImageRun run;
    Result<void> r = world.run(scenario(&world, image_device, seed, last, &run), kVirtualLimit);
    ASSERT_TRUE(r.ok()) << describe_error(r) << "; the image "
                        << (run.exited ? "exited" : "did not exit") << " after "
                        << run.handlers_ended << " connection(s)\n"
                        << world.describe();
    EXPECT_TRUE(run.exited);
    EXPECT_TRUE(run.result.ok()) << describe_error(run.result);
    EXPECT_EQ(run.handlers_ended, kConnections);
    // The drain after the app is bounded, and the image goes at once when nothing is left
    // to finish: within its bound (plus one poll) of its last connection's end.
    const uint64_t lingered = run.returned_at - run.last_handler_end;
    EXPECT_LE(lingered, net::kExitDrainTimeoutNs + Stack::kDrainPollNs);
    if (last == LastClient::kStopsReading || last == LastClient::kVanishes) {
      // Its FIN can never be acknowledged: the drain waits its whole bound, not more.
      EXPECT_GE(lingered, net::kExitDrainTimeoutNs);
    }
    if (last == LastClient::kResets || last == LastClient::kHandshakeAbandoned) {
      EXPECT_GE(run.failed, 1u) << "the reset connection was not counted as failed";
    }
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(SimExit, LastClientWellBehaved) {
  run_exits(LastClient::kWellBehaved, 1);
}

TEST(SimExit, LastClientResetsWhileTheImageSends) {
  run_exits(LastClient::kResets, 101);
}

TEST(SimExit, LastClientStopsReadingTheDrainIsBounded) {
  run_exits(LastClient::kStopsReading, 201);
}

TEST(SimExit, LastClientVanishesBeforeTheFinIsAcknowledged) {
  run_exits(LastClient::kVanishes, 301);
}

TEST(SimExit, LastClientsFirstSynIsLost) {
  run_exits(LastClient::kFirstSynLost, 401);
}

TEST(SimExit, LastClientAbandonsItsHandshakeAndRetries) {
  run_exits(LastClient::kHandshakeAbandoned, 501);
}

}  // namespace
}  // namespace morgana::sim
