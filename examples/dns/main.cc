// dns: an authoritative DNS server on UDP and TCP port 53 (RFC 1035 §4.2, RFC 7766),
// serving the zones compiled into the image (examples/dns/zones; image `dns`) or those of
// a tar archive on block device `storage` (image `dns_tar`), as zone_source.h describes.
// The answering, rate limiting, memo and zone transfers are dns::Server's
// (morgana/proto/dns/server.h); this file moves bytes between it and the net::Stack.
//
// Options (after the stack's --ipv4=/--dhcp, see stack_options.h):
//   --port=N             UDP and TCP port (default 53)
//   --rrl=N              at most N UDP responses per second to each /24 (default 0: off)
//   --axfr-allow=PREFIX  let addresses in PREFIX (a.b.c.d/n) transfer zones over TCP;
//                        repeatable (default: nobody)
//   --memo=N             memoised responses kept (default 512; 0: off)
//   --idle=S         close a TCP connection idle for S seconds (default 10)
//   --connections=N  at most N TCP connections at once (default 64)
//   --report=S           print the server's counters every S seconds (default 0: never)
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string_view>
#include <vector>

#include "morgana/app.h"
#include "morgana/app_options.h"
#include "morgana/async/async.h"
#include "morgana/net/app_runner.h"
#include "morgana/proto/dns/server.h"
#include "zone_source.h"

namespace {

namespace async = morgana::async;
namespace dns = morgana::dns;
namespace net = morgana::net;
using morgana::Errc;
using morgana::Error;
using morgana::Result;

struct Settings {
  uint64_t port = 53;
  uint64_t rrl = 0;
  uint64_t memo = 512;
  uint64_t tcp_idle_seconds = 10;
  uint64_t tcp_connections = 64;
  uint64_t report_seconds = 0;
  std::vector<net::Ipv4Prefix> axfr_allow;
};

bool parse_settings(std::span<char* const> args, Settings& settings) {
  for (char* arg : args) {
    std::string_view text(arg);
    if (text.starts_with("--axfr-allow=")) {
      auto prefix = net::Ipv4Prefix::parse(text.substr(13));
      if (!prefix) return false;
      settings.axfr_allow.push_back(*prefix);
      continue;
    }
    bool known = false;
    for (std::string_view name :
         {"--port=", "--rrl=", "--memo=", "--idle=", "--connections=", "--report="})
      known |= text.starts_with(name);
    if (!known || !morgana::app::parse_uint_option(text, "--port=", settings.port) ||
        !morgana::app::parse_uint_option(text, "--rrl=", settings.rrl) ||
        !morgana::app::parse_uint_option(text, "--memo=", settings.memo) ||
        !morgana::app::parse_uint_option(text, "--idle=", settings.tcp_idle_seconds) ||
        !morgana::app::parse_uint_option(text, "--connections=", settings.tcp_connections) ||
        !morgana::app::parse_uint_option(text, "--report=", settings.report_seconds))
      return false;
  }
  return settings.port > 0 && settings.port <= 65535 && settings.rrl <= 1'000'000 &&
         settings.memo <= 65536 && settings.tcp_idle_seconds > 0 && settings.tcp_connections > 0;
}

async::Task<Result<void>> serve_udp(net::AppStack::UdpSocket socket, dns::Server* server) {
  std::vector<uint8_t> buffer(dns::kMaxMessageSize + 1);
  dns::Responses out;
  for (;;) {
    CO_TRY_ASSIGN(net::UdpReceived received, co_await socket.receive(buffer));
    // A datagram cut to fit is over 65535 bytes: no DNS message (RFC 1035 §4.2.1).
    if (received.truncated) continue;
    (void)server->handle(
        {{buffer.data(), received.size}, dns::Transport::kUdp, received.from.address, async::now()},
        out);
    // A failed send (no route, no buffer) loses that response only, as UDP may.
    for (size_t i = 0; i < out.size(); ++i) (void)socket.send_to(received.from, out[i]);
  }
}

constexpr size_t kMaxTcpQuery = 4096;

struct Connections {
  uint64_t active = 0;
  uint64_t refused = 0;
};

// RFC 7766 §6.2.1: queries on one connection are answered in order; the answers to the
// queries that arrived together go out in one write (one segment when they fit).
async::Task<Result<void>> serve_connection(net::AppStack::TcpFlow flow, dns::Server* server,
                                           async::Duration idle, Connections* connections) {
  std::array<uint8_t, 4096> chunk;
  // A query is one question and an OPT record: 4 KiB is ample, and bounds what each
  // connection can make the server buffer.
  dns::TcpFramer framer(kMaxTcpQuery);
  dns::Responses out;
  std::vector<uint8_t> frames;
  Result<void> result;
  bool open = true;
  while (open) {
    // RFC 7766 §6.2.3: a connection that sends nothing for a while is closed.
    auto n = co_await async::with_timeout(flow.read(chunk), idle);
    if (!n) {
      if (n.error().code != Errc::kTimedOut && n.error().code != Errc::kConnectionReset)
        result = n.error();
      break;
    }
    if (*n == 0) break;  // the client closed its side
    std::span<const uint8_t> data(chunk.data(), *n);
    frames.clear();
    while (!data.empty() && open) {
      data = data.subspan(framer.feed(data));
      if (framer.oversized()) open = false;
      if (!framer.has_message()) continue;
      auto what = server->handle(
          {framer.message(), dns::Transport::kTcp, flow.remote().address, async::now()}, out);
      framer.consume();
      // A message not worth an answer (not even a header) leaves the stream suspect.
      if (what == dns::Disposition::kDropped) {
        open = false;
        break;
      }
      for (size_t i = 0; i < out.size(); ++i) dns::append_tcp_frame(out[i], frames);
    }
    if (!frames.empty()) {
      auto written = co_await flow.write(frames);
      if (!written) break;  // the client went away: nothing more to say
    }
  }
  flow.close();
  --connections->active;
  co_return result;
}

// Each connection runs in `flows`, which the caller owns: ending it ends them, before
// the server and the stack they use go away.
async::Task<Result<void>> serve_tcp(net::AppStack::TcpListener listener, dns::Server* server,
                                    const Settings* settings, Connections* connections,
                                    async::Scope* flows) {
  for (;;) {
    CO_TRY_ASSIGN(auto flow, co_await listener.accept());
    // RFC 7766 §6.2.2: a server may bound its connections; past the bound, close at once.
    if (connections->active >= settings->tcp_connections) {
      ++connections->refused;
      flow.close();
      continue;
    }
    ++connections->active;
    auto spawned = flows->spawn(serve_connection(
        std::move(flow), server, std::chrono::seconds(settings->tcp_idle_seconds), connections));
    if (!spawned) --connections->active;  // the task, and the flow in it, are gone
  }
}

async::Task<Result<void>> report(const dns::Server* server, const Connections* connections,
                                 uint64_t seconds) {
  for (;;) {
    CO_TRY(co_await async::sleep_for(std::chrono::seconds(seconds)));
    std::printf("%s tcp_active=%llu tcp_refused=%llu\n", server->stats().format().c_str(),
                (unsigned long long)connections->active, (unsigned long long)connections->refused);
  }
}

async::Task<Result<void>> serve(net::AppStack& stack, std::span<char* const> args) {
  Settings settings;
  if (!parse_settings(args, settings)) {
    std::printf(
        "dns: bad options (--port=N, --rrl=N, --axfr-allow=A.B.C.D/N, --memo=N, "
        "--idle=S, --connections=N, --report=S)\n");
    co_return Error{Errc::kInvalidArgument, "bad option"};
  }
  auto zones = co_await dns_example::load_zones();
  if (!zones) co_return zones.error();
  dns::ServerOptions options;
  options.rrl_per_second = uint32_t(settings.rrl);
  options.memo_entries = size_t(settings.memo);
  options.axfr_allow = settings.axfr_allow;
  dns::Server server(std::move(*zones), std::move(options));

  uint16_t port = uint16_t(settings.port);
  auto udp = stack.udp().bind(port);
  if (!udp) co_return udp.error();
  CO_TRY_ASSIGN(auto listener, co_await stack.tcp().listen(port));
  std::printf(
      "dns: serving on UDP and TCP port %u (rrl %llu/s, memo %llu, axfr from %zu prefixes)\n",
      unsigned(port), (unsigned long long)settings.rrl, (unsigned long long)settings.memo,
      settings.axfr_allow.size());
  Connections connections;
  // Declared after what their tasks use, so destroyed (and their tasks with them) first.
  async::Scope flows;
  async::Scope reporting;
  if (settings.report_seconds > 0)
    CO_TRY(reporting.spawn(report(&server, &connections, settings.report_seconds)));
  // The servers run until the image is stopped; the first to fail ends the other, then
  // the connections and the report.
  auto ended = co_await async::when_any(
      serve_udp(std::move(*udp), &server),
      serve_tcp(std::move(listener), &server, &settings, &connections, &flows));
  flows.request_stop();
  reporting.request_stop();
  (void)co_await flows.join();
  (void)co_await reporting.join();
  co_return std::move(ended.value);
}

}  // namespace

int app_main(int argc, char** argv) {
  return net::run_network_app(argc, argv, "dns", serve);
}
