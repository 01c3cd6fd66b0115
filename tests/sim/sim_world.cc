// SimWorld and the seed and content helpers of the simulation tests (see sim_world.h).
#include "sim_world.h"

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace morgana::sim {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

uint64_t content_word(uint64_t seed, uint64_t word) {
  return splitmix64(splitmix64(seed) ^ (word * 0xd1342543de82ef95));
}

}  // namespace

net::Ipv4Address host_address(size_t index) {
  return net::Ipv4Address::from_u32(0x0a000001 + uint32_t(index));
}

net::StackOptions host_options(size_t index) {
  net::StackOptions options;
  options.ipv4 = net::Ipv4Prefix{host_address(index), 24};
  return options;
}

SimWorld::SimWorld(uint64_t seed, const LinkConditions& link)
    : seed_(seed), network_(backend_, seed) {
  network_.set_links(link);
}

SimWorld::~SimWorld() {
  stacks_.clear();
}

Stack& SimWorld::add_host(const net::StackOptions& options, const PortConfig& port,
                          net::BufferConfig buffers) {
  size_t index = stacks_.size();
  SimDevice device = network_.add_port(platform::DeviceId(index), port);
  std::array<uint8_t, 32> stack_seed{};
  uint64_t a = splitmix64(seed_ * 131 + index), b = splitmix64(a);
  std::memcpy(stack_seed.data(), &a, 8);
  std::memcpy(stack_seed.data() + 8, &b, 8);
  auto stack = Stack::create(device, options, stack_seed, buffers);
  if (!stack) std::fprintf(stderr, "sim: host %zu: %s\n", index, stack.error().what);
  MORGANA_ASSERT(stack.ok());
  stacks_.push_back(std::move(*stack));
  return *stacks_.back();
}

Result<void> SimWorld::run(async::Task<Result<void>> scenario, uint64_t limit_ns) {
  return loop_.run(async::with_timeout(std::move(scenario), std::chrono::nanoseconds(limit_ns)));
}

std::string SimWorld::describe() {
  std::string text = "t=" + std::to_string(now() / kMs) + "ms " + network_.counters().format();
  for (size_t i = 0; i < stacks_.size(); ++i) {
    net::TcpLayer& tcp = stacks_[i]->tcp();
    const net::TcpConnectionStats s = tcp.total_connection_stats();
    char line[300];
    std::snprintf(line, sizeof line,
                  "\n  host %zu: tcp connections=%zu segs_in=%llu segs_out=%llu rexmit=%llu "
                  "timeouts=%llu fast_rec=%llu ooo=%llu dup=%llu buffers_in_use=%zu",
                  i, tcp.connections(), (unsigned long long)s.segments_in,
                  (unsigned long long)s.segments_out, (unsigned long long)s.retransmits,
                  (unsigned long long)s.timeouts, (unsigned long long)s.fast_recoveries,
                  (unsigned long long)s.out_of_order, (unsigned long long)s.duplicates,
                  size_t(stacks_[i]->core().pool().stats().in_use));
    text += line;
    const net::TcpLayerStats& l = tcp.stats();
    std::snprintf(
        line, sizeof line,
        "\n          active=%llu passive=%llu failed=%llu resets_sent=%llu syn_dropped=%llu "
        "half_open_evicted=%llu accept_overflow=%llu",
        (unsigned long long)l.active_opens, (unsigned long long)l.passive_opens,
        (unsigned long long)l.failed, (unsigned long long)l.resets_sent,
        (unsigned long long)l.syn_dropped, (unsigned long long)l.half_open_evicted,
        (unsigned long long)l.accept_overflow);
    text += line;
  }
  // The stacks' own per-layer counters and drop reasons, through the loop's log.
  size_t mark = backend_.log_text().size();
  for (auto& stack : stacks_) stack->print_stats();
  text += "\n" + backend_.log_text().substr(mark);
  return text;
}

std::vector<uint64_t> sim_seeds(uint64_t first, size_t count) {
  if (const char* only = std::getenv("MORGANA_SIM_SEED"); only != nullptr && *only != 0)
    return {std::strtoull(only, nullptr, 0)};
  // A soak: more seeds than the test's default.
  if (const char* n = std::getenv("MORGANA_SIM_SEEDS"); n != nullptr && *n != 0)
    count = std::strtoull(n, nullptr, 0);
  std::vector<uint64_t> seeds;
  for (size_t i = 0; i < count; ++i) seeds.push_back(first + i);
  return seeds;
}

std::string replay_command(uint64_t seed) {
  char exe[PATH_MAX] = "./sim_test";
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) exe[n] = 0;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string filter = info ? std::string(info->test_suite_name()) + "." + info->name() : "*";
  return "MORGANA_SIM_SEED=" + std::to_string(seed) + " " + exe + " --gtest_filter='" + filter +
         "'";
}

void fill_content(uint64_t seed, uint64_t offset, std::span<uint8_t> out) {
  for (size_t i = 0; i < out.size();) {
    uint64_t position = offset + i;
    uint64_t word = content_word(seed, position / 8);
    for (size_t b = position % 8; b < 8 && i < out.size(); ++b, ++i)
      out[i] = uint8_t(word >> (8 * b));
  }
}

size_t check_content(uint64_t seed, uint64_t offset, std::span<const uint8_t> bytes) {
  uint8_t expected[4096];
  for (size_t done = 0; done < bytes.size();) {
    size_t n = std::min(bytes.size() - done, sizeof expected);
    fill_content(seed, offset + done, {expected, n});
    if (std::memcmp(expected, bytes.data() + done, n) != 0) {
      for (size_t i = 0; i < n; ++i)
        if (expected[i] != bytes[done + i]) return done + i;
    }
    done += n;
  }
  return bytes.size();
}

namespace {

async::Task<Result<void>> transfer_server(net::TcpListener* listener, TransferSpec spec,
                                          TransferResult* result) {
  CO_TRY_ASSIGN(net::TcpFlow flow, co_await listener->accept());
  std::vector<uint8_t> buffer(64 * 1024);
  bool paused = false;
  for (;;) {
    if (!paused && result->received >= spec.pause_after) {
      paused = true;
      CO_TRY(co_await async::sleep_for(std::chrono::nanoseconds(spec.pause_ns)));
    }
    size_t want = buffer.size();
    if (!paused && spec.pause_after != SIZE_MAX)
      want = std::min(want, std::max<size_t>(spec.pause_after - result->received, 1));
    CO_TRY_ASSIGN(size_t n, co_await flow.read({buffer.data(), want}));
    if (n == 0) break;
    size_t good = check_content(spec.seed, result->received, {buffer.data(), n});
    if (good != n) {
      ADD_FAILURE() << "byte " << result->received + good << " differs from what was sent";
      co_return Error{Errc::kMalformed, "received bytes differ from the sent ones"};
    }
    result->received += n;
    if (result->received > spec.bytes) co_return Error{Errc::kMalformed, "more bytes than sent"};
  }
  result->finished_at = async::now();
  flow.close();
  co_return ok();
}

async::Task<Result<void>> transfer_client(Stack* client, net::Ipv4Address server, TransferSpec spec,
                                          TransferResult* result) {
  CO_TRY_ASSIGN(net::TcpFlow flow, co_await client->tcp().connect(server, spec.port));
  std::vector<uint8_t> chunk(16 * 1024);
  for (size_t sent = 0; sent < spec.bytes;) {
    size_t n = std::min(chunk.size(), spec.bytes - sent);
    fill_content(spec.seed, sent, {chunk.data(), n});
    CO_TRY(co_await flow.write({chunk.data(), n}));
    sent += n;
  }
  CO_TRY(flow.shutdown_write());
  // The server closes once it has read everything: its FIN is our EOF, so reaching it
  // means every byte was acknowledged and read.
  uint8_t byte;
  CO_TRY_ASSIGN(size_t n, co_await flow.read({&byte, 1}));
  if (n != 0) co_return Error{Errc::kMalformed, "the server sent bytes"};
  if (const net::TcpConnection* c = flow.connection()) result->sender = c->stats();
  flow.close();
  co_return ok();
}

}  // namespace

async::Task<Result<void>> tcp_transfer(Stack* server, Stack* client, TransferSpec spec,
                                       TransferResult* result) {
  CO_TRY_ASSIGN(net::TcpListener listener, co_await server->tcp().listen(spec.port));
  auto [served, sent] =
      co_await async::when_all(transfer_server(&listener, spec, result),
                               transfer_client(client, server->ipv4_address(), spec, result));
  CO_TRY(served);
  CO_TRY(sent);
  if (result->received != spec.bytes) co_return Error{Errc::kMalformed, "short transfer"};
  co_return ok();
}

}  // namespace morgana::sim
