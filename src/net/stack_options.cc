// The network options an application takes from its arguments (stack_options.h): strict
// parsing, so a typo in a deployment's command line fails at start instead of running
// with a default the operator did not mean.
#include "morgana/net/stack_options.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string_view>

#include "morgana/rt/heap.h"

namespace morgana::net {
namespace {

constexpr uint32_t kMinBuffer = 4 * 1024;
constexpr uint32_t kMaxBuffer = 16 * 1024 * 1024;
constexpr uint32_t kMaxConnections = 1024 * 1024;

// Tracks which options were given, so that a repeated one is refused: with two values on
// one command line, the one that wins would otherwise depend on the parser.
enum Seen : uint32_t {
  kSeenIpv4 = 1u << 0,
  kSeenGateway = 1u << 1,
  kSeenDhcp = 1u << 2,
  kSeenCc = 1u << 3,
  kSeenNoSack = 1u << 4,
  kSeenNoTimestamps = 1u << 5,
  kSeenNoWscale = 1u << 6,
  kSeenSndbuf = 1u << 7,
  kSeenRcvbuf = 1u << 8,
  kSeenMaxConnections = 1u << 9,
  kSeenStats = 1u << 10,
  kSeenNoOffloads = 1u << 11,
};

class Parser {
 public:
  Parser(StackOptions& options, StackOptionsError& error) : options_(options), error_(error) {}

  // Consumes `arg` if it is one of ours. Returns false with error_ set on a bad one;
  // sets *ours to whether it was one of ours.
  bool parse(std::string_view arg, bool* ours) {
    *ours = true;
    std::string_view name = arg;
    std::string_view value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    arg_ = arg;

    if (name == "--ipv4") {
      if (!first(kSeenIpv4) || !need_value(has_value, "ADDR/PREFIX")) return false;
      return parse_ipv4(value);
    }
    if (name == "--ipv4-gateway") {
      if (!first(kSeenGateway) || !need_value(has_value, "ADDR")) return false;
      options_.gateway = Ipv4Address::parse(value);
      if (!options_.gateway) return fail("not a dotted-quad IPv4 address");
      if (options_.gateway->is_unspecified() || options_.gateway->is_broadcast() ||
          options_.gateway->is_multicast()) {
        return fail("a gateway must be a unicast address");
      }
      return true;
    }
    if (name == "--dhcp") return flag(kSeenDhcp, has_value, options_.dhcp, true);
    if (name == "--net-stats") return flag(kSeenStats, has_value, options_.stats, true);
    if (name == "--net-no-offloads") {
      return flag(kSeenNoOffloads, has_value, options_.offloads, false);
    }
    if (name == "--tcp-no-sack") return flag(kSeenNoSack, has_value, options_.sack, false);
    if (name == "--tcp-no-timestamps") {
      return flag(kSeenNoTimestamps, has_value, options_.timestamps, false);
    }
    if (name == "--tcp-no-wscale") {
      return flag(kSeenNoWscale, has_value, options_.window_scaling, false);
    }
    if (name == "--tcp-cc") {
      if (!first(kSeenCc) || !need_value(has_value, "cubic|newreno")) return false;
      if (value == "cubic") {
        options_.congestion = CongestionAlgorithm::kCubic;
      } else if (value == "newreno") {
        options_.congestion = CongestionAlgorithm::kNewReno;
      } else {
        return fail("unknown congestion control (cubic, newreno)");
      }
      return true;
    }
    if (name == "--tcp-sndbuf" || name == "--tcp-rcvbuf") {
      const bool send = name == "--tcp-sndbuf";
      if (!first(send ? kSeenSndbuf : kSeenRcvbuf) || !need_value(has_value, "BYTES")) {
        return false;
      }
      uint32_t bytes = 0;
      if (!number(value, kMinBuffer, kMaxBuffer, &bytes)) {
        return fail("must be a number of bytes from 4096 (4 KiB) to 16777216 (16 MiB)");
      }
      (send ? options_.tcp_send_buffer : options_.tcp_receive_buffer) = bytes;
      (send ? options_.tcp_send_buffer_max : options_.tcp_receive_buffer_max) = bytes;
      return true;
    }
    if (name == "--tcp-max-connections") {
      if (!first(kSeenMaxConnections) || !need_value(has_value, "N")) return false;
      if (!number(value, 1, kMaxConnections, &options_.max_connections)) {
        return fail("must be a number from 1 to 1048576");
      }
      return true;
    }
    // A misspelt option of ours must not silently reach the application as its own.
    if (name.starts_with("--tcp-") || name.starts_with("--ipv4")) {
      return fail("unknown network option (see --help)");
    }
    *ours = false;
    return true;
  }

  // Checks that need every option: run after the last argument.
  bool finish() {
    arg_ = {};
    if (options_.gateway && options_.ipv4) {
      if (!options_.ipv4->contains(*options_.gateway)) {
        return fail_text("--ipv4-gateway=", options_.gateway->to_string().view(),
                         ": not inside the --ipv4 prefix ", options_.ipv4->to_string().view());
      }
      if (*options_.gateway == options_.ipv4->address) {
        return fail_text("--ipv4-gateway=", options_.gateway->to_string().view(),
                         ": is our own --ipv4 address", "");
      }
    }
    return true;
  }

 private:
  bool parse_ipv4(std::string_view value) {
    options_.ipv4 = Ipv4Prefix::parse(value);
    if (!options_.ipv4) return fail("expected ADDR/PREFIX, e.g. 10.0.0.2/24");
    const Ipv4Prefix& prefix = *options_.ipv4;
    const Ipv4Address address = prefix.address;
    if (address.is_unspecified() || address.is_broadcast() || address.is_multicast()) {
      return fail("the address must be a unicast address");
    }
    // RFC 3021: a /31 (and a /32) has no network or broadcast address to avoid.
    if (prefix.length <= 30 &&
        (address == prefix.network() || address == prefix.subnet_broadcast())) {
      return fail("the address is the prefix's network or broadcast address");
    }
    return true;
  }

  bool flag(Seen seen, bool has_value, bool& field, bool value) {
    if (!first(seen)) return false;
    if (has_value) return fail("takes no value");
    field = value;
    return true;
  }

  bool first(Seen seen) {
    if (seen_ & seen) return fail("given more than once");
    seen_ |= seen;
    return true;
  }

  bool need_value(bool has_value, const char* what) {
    if (has_value) return true;
    error_.message = std::string(arg_) + ": needs a value (" + std::string(arg_) + "=" + what + ")";
    return false;
  }

  // A plain decimal number in [low, high]: no sign, no suffix, no spaces.
  static bool number(std::string_view text, uint32_t low, uint32_t high, uint32_t* out) {
    if (text.empty() || text.front() < '0' || text.front() > '9') return false;
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return false;
    if (value < low || value > high) return false;
    *out = uint32_t(value);
    return true;
  }

  bool fail(const char* why) {
    error_.message = std::string(arg_) + ": " + why;
    return false;
  }
  bool fail_text(std::string_view a, std::string_view b, std::string_view c, std::string_view d) {
    error_.message.assign(a);
    error_.message.append(b).append(c).append(d);
    return false;
  }

  StackOptions& options_;
  StackOptionsError& error_;
  std::string_view arg_;
  uint32_t seen_ = 0;
};

}  // namespace

uint32_t default_tcp_buffer(size_t heap_bytes) {
  constexpr size_t kLow = 16 * 1024, kHigh = 256 * 1024;
  if (heap_bytes == 0) return kHigh;
  return uint32_t(std::clamp<size_t>(heap_bytes / 128 / 4096 * 4096, kLow, kHigh));
}

uint32_t default_tcp_buffer_max(size_t heap_bytes) {
  constexpr size_t kHigh = 4 * 1024 * 1024;
  if (heap_bytes == 0) return kHigh;
  return uint32_t(
      std::clamp<size_t>(heap_bytes / 32 / 4096 * 4096, default_tcp_buffer(heap_bytes), kHigh));
}

std::optional<StackOptions> parse_stack_options(std::span<char* const> args,
                                                std::vector<char*>& rest,
                                                StackOptionsError& error) {
  StackOptions options;
  options.tcp_send_buffer = options.tcp_receive_buffer = default_tcp_buffer(rt::heap_size_bytes());
  options.tcp_send_buffer_max = options.tcp_receive_buffer_max =
      default_tcp_buffer_max(rt::heap_size_bytes());
  Parser parser(options, error);
  for (size_t i = 0; i < args.size(); ++i) {
    char* arg = args[i];
    if (arg == nullptr) continue;
    // "--" ends the options: it and what follows are the application's, unread.
    if (std::string_view(arg) == "--") {
      rest.insert(rest.end(), args.begin() + std::ptrdiff_t(i), args.end());
      break;
    }
    bool ours = false;
    if (!parser.parse(arg, &ours)) return std::nullopt;
    if (!ours) rest.push_back(arg);
  }
  if (!parser.finish()) return std::nullopt;
  return options;
}

const char* stack_options_usage() {
  return "Network options:\n"
         "  --ipv4=ADDR/PREFIX         static address and on-link prefix, e.g. 10.0.0.2/24\n"
         "  --ipv4-gateway=ADDR        default gateway (inside the --ipv4 prefix)\n"
         "  --dhcp                     take an address from DHCP (a static --ipv4 wins)\n"
         "  --tcp-cc=cubic|newreno     congestion control (default cubic)\n"
         "  --tcp-no-sack              do not offer selective acknowledgements\n"
         "  --tcp-no-timestamps        do not offer TCP timestamps\n"
         "  --tcp-no-wscale            do not offer window scaling\n"
         "  --tcp-sndbuf=BYTES         send buffer per connection, 4096..16777216, fixed\n"
         "                             (default: a 128th of the heap, 16 KiB..256 KiB,\n"
         "                             autotuned up to a 32nd of the heap, at most 4 MiB)\n"
         "  --tcp-rcvbuf=BYTES         receive buffer per connection, the same way\n"
         "  --tcp-max-connections=N    connections at most, 1..1048576 (default 1024)\n"
         "  --net-stats                print the stack's counters at exit\n"
         "  --net-no-offloads          checksums and TCP segmentation in the stack, not\n"
         "                             the device\n";
}

}  // namespace morgana::net
