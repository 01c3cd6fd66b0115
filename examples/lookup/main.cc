// lookup: a DNS client over the stack (issue 7). Resolves each name given with the stub
// resolver (morgana/proto/dns/resolver.h) and prints its IPv4 and IPv6 addresses, or
// connects to a name and prints the first line the server sends. The same source runs
// on Morgana's own stack (hvt, unix, virtio) and on the host's sockets.
//
// Options (after the stack's --ipv4=/--dhcp, see stack_options.h):
//   --server=ADDR[:PORT]  a recursive DNS server (port 53 by default); repeatable, tried
//                         in turn. Default: the servers of the DHCP lease (--dhcp)
//   --timeout=MS          how long one attempt waits (default 2000)
//   --attempts=N          attempts per lookup, rotating servers (default 3)
//   --no-edns             send no EDNS(0) OPT record (answers then stop at 512 bytes)
//   --connect=NAME:PORT   connect to NAME (or a dotted quad) at PORT, print its first line
//   --connect-timeout=MS  how long each of NAME's addresses is tried (default 5000)
//   --stats               print the resolver's counters at the end
//   NAME...               names to look up (A and AAAA each)
// Prints "NAME A ADDR" / "NAME AAAA ADDR" per address, or "NAME TYPE error: WHY"; exits
// with 1 when a name got no address of either type, or the connection failed.
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "morgana/app.h"
#include "morgana/app_options.h"
#include "morgana/async/async.h"
#include "morgana/net/app_runner.h"
#include "morgana/proto/dns/presentation.h"
#include "morgana/proto/dns/resolver.h"
#include "morgana/random/system.h"

namespace {

namespace async = morgana::async;
namespace dns = morgana::dns;
namespace net = morgana::net;
using morgana::Errc;
using morgana::Error;
using morgana::Result;

using Resolver = dns::Resolver<net::AppStack>;

struct Settings {
  std::vector<net::Endpoint> servers;
  uint64_t timeout_ms = 2000;
  uint64_t attempts = 3;
  uint64_t connect_timeout_ms = 5000;
  bool edns = true;
  bool stats = false;
  std::string connect_host;
  uint16_t connect_port = 0;
  std::vector<std::string_view> names;
};

// "ADDR" or "ADDR:PORT" with PORT 1-65535.
bool parse_endpoint(std::string_view text, uint16_t default_port, net::Endpoint& out) {
  uint64_t port = default_port;
  size_t colon = text.find(':');
  if (colon != std::string_view::npos) {
    if (!morgana::app::parse_uint_option(text.substr(colon), ":", port) || port == 0 ||
        port > 65535)
      return false;
    text = text.substr(0, colon);
  }
  auto address = net::Ipv4Address::parse(text);
  if (!address) return false;
  out = {*address, uint16_t(port)};
  return true;
}

// Returns the argument that is wrong, or nullptr.
const char* parse_settings(std::span<char* const> args, Settings& settings) {
  for (char* arg : args) {
    std::string_view text(arg);
    if (text.starts_with("--server=")) {
      net::Endpoint server;
      if (!parse_endpoint(text.substr(9), dns::kDnsPort, server)) return arg;
      settings.servers.push_back(server);
    } else if (text.starts_with("--connect=")) {
      std::string_view target = text.substr(10);
      size_t colon = target.rfind(':');
      uint64_t port = 0;
      if (colon == std::string_view::npos || colon == 0 ||
          !morgana::app::parse_uint_option(target.substr(colon), ":", port) || port == 0 ||
          port > 65535)
        return arg;
      settings.connect_host = std::string(target.substr(0, colon));
      settings.connect_port = uint16_t(port);
    } else if (text == "--no-edns") {
      settings.edns = false;
    } else if (text == "--stats") {
      settings.stats = true;
    } else if (text.starts_with("--timeout=") || text.starts_with("--attempts=") ||
               text.starts_with("--connect-timeout=")) {
      if (!morgana::app::parse_uint_option(text, "--timeout=", settings.timeout_ms) ||
          !morgana::app::parse_uint_option(text, "--attempts=", settings.attempts) ||
          !morgana::app::parse_uint_option(text, "--connect-timeout=", settings.connect_timeout_ms))
        return arg;
      if (settings.timeout_ms == 0 || settings.timeout_ms > 600'000 || settings.attempts == 0 ||
          settings.attempts > 100 || settings.connect_timeout_ms == 0 ||
          settings.connect_timeout_ms > 600'000)
        return arg;
    } else if (text.starts_with("--")) {
      return arg;
    } else {
      settings.names.push_back(text);
    }
  }
  return nullptr;
}

void print_error(std::string_view name, const char* type, const Error& error) {
  std::printf("%.*s %s error: %s (%s)\n", int(name.size()), name.data(), type,
              morgana::errc_name(error.code), error.what ? error.what : "");
}

// Looks up A and AAAA of `name`; true when it has an address of either type (a name
// with IPv4 addresses only is common, and fine).
async::Task<bool> look_up(Resolver* resolver, std::string_view name) {
  size_t found = 0;
  auto a = co_await resolver->lookup_a(name);
  if (a) {
    for (const net::Ipv4Address& address : *a)
      std::printf("%.*s A %s\n", int(name.size()), name.data(), address.to_string().c_str());
    found += a->size();
  } else {
    print_error(name, "A", a.error());
  }
  auto aaaa = co_await resolver->lookup_aaaa(name);
  if (aaaa) {
    for (const dns::Ipv6Address& address : *aaaa)
      std::printf("%.*s AAAA %s\n", int(name.size()), name.data(),
                  dns::ipv6_to_string(address).c_str());
    found += aaaa->size();
  } else {
    print_error(name, "AAAA", aaaa.error());
  }
  co_return found > 0;
}

// Waits for `connecting` and prints the connection's first line (at most 1 KiB, or what
// came before the server closed the connection).
async::Task<Result<void>> print_first_line(async::Task<Result<net::AppStack::TcpFlow>> connecting,
                                           const Settings* settings) {
  const std::string& host = settings->connect_host;
  auto flow = co_await std::move(connecting);
  if (!flow) {
    std::printf("connect %s:%u error: %s (%s)\n", host.c_str(), unsigned(settings->connect_port),
                morgana::errc_name(flow.error().code), flow.error().what ? flow.error().what : "");
    co_return flow.error();
  }
  net::Endpoint remote = flow->remote();
  std::printf("connected to %s:%u at %s:%u\n", host.c_str(), unsigned(settings->connect_port),
              remote.address.to_string().c_str(), unsigned(remote.port));
  std::string line;
  std::array<uint8_t, 256> buffer;
  while (line.size() < 1024 && line.find('\n') == std::string::npos) {
    CO_TRY_ASSIGN(size_t n, co_await flow->read(buffer));
    if (n == 0) break;
    line.append(reinterpret_cast<const char*>(buffer.data()), n);
  }
  if (size_t end = line.find('\n'); end != std::string::npos) line.resize(end);
  std::printf("line: %s\n", line.c_str());
  flow->close();
  co_return morgana::ok();
}

async::Task<Result<void>> run(net::AppStack& stack, std::span<char* const> args) {
  Settings settings;
  if (const char* bad = parse_settings(args, settings)) {
    std::printf(
        "lookup: bad option '%s' (--server=ADDR[:PORT], --timeout=MS, --attempts=N, "
        "--no-edns, --connect=NAME:PORT, --stats, NAME...)\n",
        bad);
    co_return Error{Errc::kInvalidArgument, "bad option"};
  }
  if (settings.names.empty() && settings.connect_host.empty()) {
    std::printf("lookup: nothing to do: give names to look up or --connect=NAME:PORT\n");
    co_return Error{Errc::kInvalidArgument, "no names"};
  }
  if (settings.servers.empty()) settings.servers = dns::dhcp_dns_servers(stack);
  auto literal = net::Ipv4Address::parse(settings.connect_host);
  // A dotted quad alone connects without DNS; anything else needs a server.
  std::unique_ptr<Resolver> resolver;
  if (!settings.servers.empty()) {
    for (const net::Endpoint& server : settings.servers)
      std::printf("lookup: server %s:%u\n", server.address.to_string().c_str(),
                  unsigned(server.port));
    dns::ResolverOptions options;
    options.servers = settings.servers;
    options.timeout_ns = settings.timeout_ms * 1'000'000;
    options.attempts = unsigned(settings.attempts);
    if (!settings.edns) options.edns_payload_size = 0;
    auto created = Resolver::create(stack, morgana::random::system(), options);
    if (!created) co_return created.error();
    resolver = std::move(*created);
  } else if (!settings.names.empty() || !literal) {
    std::printf("lookup: no DNS server: give --server=ADDR, or --dhcp with a lease naming one\n");
    co_return Error{Errc::kInvalidArgument, "no DNS server"};
  }

  size_t failed = 0;
  for (std::string_view name : settings.names) {
    bool ok = co_await look_up(resolver.get(), name);
    if (!ok) ++failed;
  }
  Result<void> connected;
  if (!settings.connect_host.empty()) {
    const uint64_t timeout_ns = settings.connect_timeout_ms * 1'000'000;
    auto connecting =
        resolver ? resolver->connect(settings.connect_host, settings.connect_port, timeout_ns)
                 : stack.tcp().connect(*literal, settings.connect_port);
    connected = co_await print_first_line(std::move(connecting), &settings);
  }
  if (settings.stats && resolver) std::printf("%s\n", resolver->stats().format().c_str());
  if (!connected) co_return connected.error();
  if (failed > 0) co_return Error{Errc::kNotFound, "a name has no address"};
  co_return morgana::ok();
}

}  // namespace

int app_main(int argc, char** argv) {
  return net::run_network_app(argc, argv, "lookup", run);
}
