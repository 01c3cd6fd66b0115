// The device and monitor options of DESIGN.md §4 (grammar in device_options.h and in
// usage()). Every refusal is one line that starts with the option it is about, so the
// user sees at once which argument to fix.
#include "platform/host/device_options.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>

namespace morgana::host {
namespace {

using std::string_view;

constexpr uint64_t kMinMemMiB = abi::kMinMemory >> 20;
constexpr uint64_t kMaxMemMiB = abi::kMaxMemory >> 20;
constexpr size_t kMaxIfname = 15;  // IFNAMSIZ - 1

std::string cat(std::initializer_list<string_view> parts) {
  std::string out;
  for (string_view part : parts) out += part;
  return out;
}

// Parses all of `text` as a decimal number in [min, max].
template <typename T>
bool parse_number(string_view text, T min, T max, T& out) {
  if (text.empty() || text[0] == '+' || text[0] == '-') return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size() && out >= min && out <= max;
}

// The manifest's rule for device names (tender/manifest.cc checks the image side).
bool valid_device_name(string_view name) {
  if (name.empty() || name.size() > abi::kMaxDeviceName) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// Linux accepts nearly any byte in an interface name; tools and scripts do not, so only
// the conservative set is allowed, and never "." or ".." (paths under /sys).
bool valid_ifname(string_view name) {
  if (name.empty() || name.size() > kMaxIfname || name == "." || name == "..") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool parse_mac(string_view text, std::array<uint8_t, 6>& mac) {
  if (text.size() != 17) return false;
  for (size_t i = 0; i < 6; ++i) {
    string_view pair = text.substr(i * 3, 2);
    if (i < 5 && text[i * 3 + 2] != ':') return false;
    for (char c : pair) {
      if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    }
    std::from_chars(pair.data(), pair.data() + 2, mac[i], 16);
  }
  return true;
}

// forward=tcp:HOSTADDR:HOSTPORT-:GUESTPORT (QEMU's hostfwd syntax, tcp only).
std::string parse_forward(string_view option, string_view spec, PortForward& out) {
  std::string bad = cat(
      {option, ": bad forward '", spec, "' (expected forward=tcp:HOSTADDR:HOSTPORT-:GUESTPORT)"});
  if (spec.substr(0, 4) == "udp:") return cat({option, ": only tcp forwards are supported"});
  if (spec.substr(0, 4) != "tcp:") return bad;
  spec.remove_prefix(4);
  size_t colon = spec.find(':');
  size_t dash = spec.find("-:");
  if (colon == string_view::npos || dash == string_view::npos || dash < colon) return bad;
  string_view addr = spec.substr(0, colon);
  string_view host_port = spec.substr(colon + 1, dash - colon - 1);
  string_view guest_port = spec.substr(dash + 2);
  in_addr parsed;
  std::string addr_text(addr);
  if (inet_pton(AF_INET, addr_text.c_str(), &parsed) != 1) {
    return cat(
        {option, ": bad host address '", addr, "' in forward (expected a dotted IPv4 address)"});
  }
  uint16_t hport, gport;
  if (!parse_number<uint16_t>(host_port, 1, 65535, hport)) {
    return cat({option, ": bad host port '", host_port, "' in forward (1-65535)"});
  }
  if (!parse_number<uint16_t>(guest_port, 1, 65535, gport)) {
    return cat({option, ": bad guest port '", guest_port, "' in forward (1-65535)"});
  }
  out = PortForward{.host_addr = std::move(addr_text), .host_port = hport, .guest_port = gport};
  return "";
}

// tap:IFNAME | user[,forward=...]...
std::string parse_net(string_view option, string_view value, Mode mode, NetAttachment& net) {
  if (value.substr(0, 4) == "tap:") {
    string_view ifname = value.substr(4);
    if (!valid_ifname(ifname)) {
      return cat(
          {option, ": bad interface name '", ifname, "' (1-15 characters of a-z A-Z 0-9 - _ .)"});
    }
    net.kind = NetAttachment::Kind::kTap;
    net.ifname = ifname;
    return "";
  }
  if (value == "user" || value.substr(0, 5) == "user,") {
    if (mode != Mode::kMonitor) {
      return cat({option, ": user-mode networking is available only under morgana-hvt"});
    }
    net.kind = NetAttachment::Kind::kUser;
    string_view rest = value.substr(4);
    while (!rest.empty()) {
      rest.remove_prefix(1);  // the ','
      string_view item = rest.substr(0, rest.find(','));
      rest.remove_prefix(item.size());
      if (item.substr(0, 8) != "forward=") {
        return cat({option, ": unknown user option '", item, "' (forward=tcp:...)"});
      }
      PortForward forward;
      if (std::string problem = parse_forward(option, item.substr(8), forward); !problem.empty()) {
        return problem;
      }
      for (const PortForward& other : net.forwards) {
        if (other.host_addr == forward.host_addr && other.host_port == forward.host_port) {
          return cat({option, ": host port ", forward.host_addr, ":",
                      std::to_string(forward.host_port), " forwarded twice"});
        }
      }
      net.forwards.push_back(std::move(forward));
    }
    return "";
  }
  string_view backend = value.substr(0, value.find_first_of(":,"));
  return cat({option, ": unknown backend '", backend, "' (tap, user)"});
}

// FILE[,ro]: only the text after the last comma can be an option, so a file name may
// itself hold commas as long as ",ro" or nothing follows.
std::string parse_block(string_view option, string_view value, BlockAttachment& block) {
  size_t comma = value.rfind(',');
  string_view path = value;
  if (comma != string_view::npos) {
    string_view flag = value.substr(comma + 1);
    if (flag != "ro") return cat({option, ": unknown block option '", flag, "' (ro)"});
    path = value.substr(0, comma);
    block.read_only = true;
  }
  if (path.empty()) return cat({option, ": missing FILE (--block:NAME=FILE[,ro])"});
  block.path = path;
  return "";
}

// Splits "--net:NAME=VALUE" after `prefix` into NAME and VALUE and checks NAME.
std::string split_named(string_view arg, string_view prefix, string_view& name,
                        string_view& value) {
  string_view rest = arg.substr(prefix.size());
  size_t eq = rest.find('=');
  name = rest.substr(0, eq);
  std::string option = cat({prefix, name});
  if (eq == string_view::npos) return cat({option, ": missing '=' (", prefix, "NAME=...)"});
  if (!valid_device_name(name)) {
    return cat({option, ": bad device name '", name, "' (1-31 characters of a-z 0-9 _)"});
  }
  value = rest.substr(eq + 1);
  return "";
}

// Returns a non-empty message from the enclosing function (the host-side TRY).
#define TRY_MSG(expr)                                                      \
  do {                                                                     \
    if (std::string _problem = (expr); !_problem.empty()) return _problem; \
  } while (0)

bool attached(const Options& out, string_view name) {
  for (const auto& n : out.nets) {
    if (n.name == name) return true;
  }
  for (const auto& b : out.blocks) {
    if (b.name == name) return true;
  }
  return false;
}

class Parser {
 public:
  Parser(Mode mode, Options& out) : mode_(mode), out_(out) {}

  // One option argument (it starts with '-').
  std::string option(string_view arg) {
    if (arg == "--help" || arg == "-h") {
      out_.help = true;
      return "";
    }
    if (arg == "--stats") {
      out_.stats = true;
      return "";
    }
    if (arg.substr(0, 6) == "--mem=") return mem(arg.substr(6));
    string_view name, value;
    if (arg.substr(0, 6) == "--net:") {
      TRY_MSG(split_named(arg, "--net:", name, value));
      std::string option = cat({"--net:", name});
      if (attached(out_, name)) return cat({option, ": device '", name, "' is attached twice"});
      NetAttachment net{.name = std::string(name)};
      TRY_MSG(parse_net(option, value, mode_, net));
      out_.nets.push_back(std::move(net));
      return "";
    }
    if (arg.substr(0, 10) == "--net-mac:") {
      TRY_MSG(split_named(arg, "--net-mac:", name, value));
      std::string option = cat({"--net-mac:", name});
      std::array<uint8_t, 6> mac;
      if (!parse_mac(value, mac)) {
        return cat({option, ": bad MAC address '", value, "' (xx:xx:xx:xx:xx:xx)"});
      }
      if (mac[0] & 1) return cat({option, ": ", value, " is a multicast address"});
      if (mac == std::array<uint8_t, 6>{}) return cat({option, ": the all-zero MAC is not valid"});
      if (!macs_.emplace(std::string(name), mac).second) {
        return cat({option, ": MAC given twice"});
      }
      return "";
    }
    if (arg.substr(0, 8) == "--block:") {
      TRY_MSG(split_named(arg, "--block:", name, value));
      std::string option = cat({"--block:", name});
      if (attached(out_, name)) return cat({option, ": device '", name, "' is attached twice"});
      BlockAttachment block{.name = std::string(name)};
      TRY_MSG(parse_block(option, value, block));
      out_.blocks.push_back(std::move(block));
      return "";
    }
    string_view flag = arg.substr(0, arg.find('='));
    if (flag == "--stats" || flag == "--help") return cat({flag, ": takes no value"});
    if (arg == "--mem" || arg == "--net" || arg == "--net-mac" || arg == "--block") {
      return cat({arg, ": missing value (see --help)"});
    }
    return cat({"unknown option '", flag, "' (see --help)"});
  }

  // After all arguments: a MAC may be given before or after its --net, so they are
  // joined at the end.
  std::string finish() {
    for (auto& [name, mac] : macs_) {
      NetAttachment* net = nullptr;
      for (auto& n : out_.nets) {
        if (n.name == name) net = &n;
      }
      if (net == nullptr) {
        return cat({"--net-mac:", name, ": no --net:", name, "=... attachment for it"});
      }
      net->mac = mac;
    }
    return "";
  }

 private:
  std::string mem(string_view value) {
    std::string option = cat({"--mem=", value});
    if (mode_ != Mode::kMonitor) {
      return cat({option, ": --mem is available only under morgana-hvt"});
    }
    if (mem_seen_) return cat({option, ": --mem given twice"});
    uint64_t mib;
    if (!parse_number<uint64_t>(value, 0, UINT64_MAX, mib)) {
      return cat({option, ": not a whole number of MiB"});
    }
    if (mib < kMinMemMiB || mib > kMaxMemMiB) {
      return cat({option, ": guest memory must be ", std::to_string(kMinMemMiB), "-",
                  std::to_string(kMaxMemMiB), " MiB"});
    }
    out_.mem_bytes = mib << 20;
    mem_seen_ = true;
    return "";
  }

  Mode mode_;
  Options& out_;
  bool mem_seen_ = false;
  std::map<std::string, std::array<uint8_t, 6>> macs_;
};

#undef TRY_MSG

}  // namespace

std::string parse_options(std::span<const std::string> args, Mode mode, Options& out) {
  out = Options{};
  Parser parser(mode, out);
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    // kUnix: the application's own arguments start at the first one that is not ours.
    bool is_option =
        mode == Mode::kMonitor ? arg.size() > 1 && arg[0] == '-' : arg.substr(0, 2) == "--";
    if (!is_option) break;
    if (std::string problem = parser.option(arg); !problem.empty()) return problem;
  }
  if (std::string problem = parser.finish(); !problem.empty()) return problem;

  if (mode == Mode::kMonitor) {
    if (i == args.size()) {
      if (out.help) return "";
      return "missing IMAGE (morgana-hvt [options] IMAGE [app args]; see --help)";
    }
    out.image = args[i++];
    if (i < args.size() && args[i] == "--") ++i;
  }
  out.app_args.assign(args.begin() + i, args.end());
  return "";
}

std::string check_attachments(const Options& options, const abi::Manifest& manifest) {
  uint32_t count = std::min(manifest.entry_count, abi::kMaxDevices);
  auto manifest_name = [&](uint32_t i) {
    const char* name = manifest.entries[i].name;
    return string_view(name, strnlen(name, sizeof manifest.entries[i].name));
  };
  auto listing = [&] {
    std::string devices;
    for (uint32_t i = 0; i < count; ++i) {
      bool net = manifest.entries[i].type == static_cast<uint32_t>(abi::DeviceType::kNet);
      devices += cat({i ? ", " : "", manifest_name(i), net ? " (net)" : " (block)"});
    }
    return count ? cat({"it has: ", devices}) : std::string("it has none");
  };
  auto find = [&](string_view name) -> std::optional<uint32_t> {
    for (uint32_t i = 0; i < count; ++i) {
      if (manifest_name(i) == name) return i;
    }
    return std::nullopt;
  };

  // Attachments first: a typo in a name is then reported as the typo, not as the
  // device it was meant for being missing.
  std::map<std::string, int> uses;
  for (const NetAttachment& net : options.nets) {
    auto index = find(net.name);
    if (!index) {
      return cat(
          {"--net:", net.name, ": the image has no device '", net.name, "' (", listing(), ")"});
    }
    if (manifest.entries[*index].type != static_cast<uint32_t>(abi::DeviceType::kNet)) {
      return cat({"--net:", net.name, ": device '", net.name,
                  "' is a block device in the image; attach it with --block:", net.name, "=FILE"});
    }
    if (++uses[net.name] > 1) return cat({"--net:", net.name, ": device attached twice"});
  }
  for (const BlockAttachment& block : options.blocks) {
    auto index = find(block.name);
    if (!index) {
      return cat({"--block:", block.name, ": the image has no device '", block.name, "' (",
                  listing(), ")"});
    }
    if (manifest.entries[*index].type != static_cast<uint32_t>(abi::DeviceType::kBlock)) {
      return cat({"--block:", block.name, ": device '", block.name,
                  "' is a net device in the image; attach it with --net:", block.name, "=..."});
    }
    if (++uses[block.name] > 1) return cat({"--block:", block.name, ": device attached twice"});
  }
  for (uint32_t i = 0; i < count; ++i) {
    std::string name(manifest_name(i));
    if (uses.count(name)) continue;
    if (manifest.entries[i].type == static_cast<uint32_t>(abi::DeviceType::kNet)) {
      return cat({"the image needs net device '", name, "': attach it with --net:", name,
                  "=tap:IFNAME or --net:", name, "=user"});
    }
    return cat(
        {"the image needs block device '", name, "': attach it with --block:", name, "=FILE[,ro]"});
  }
  return "";
}

std::string usage(Mode mode, const std::string& program) {
  bool monitor = mode == Mode::kMonitor;
  std::string text;
  if (monitor) {
    text = cat({"usage: ", program, " [options] IMAGE [--] [app args]\n",
                "Runs the Morgana unikernel IMAGE (an .hvt file) in a KVM virtual machine.\n"});
  } else {
    text = cat({"usage: ", program, " [options] [--] [app args]\n",
                "Runs this Morgana application as a Linux process (the unix target).\n",
                "Options end at '--' or at the first argument not starting with '--'.\n"});
  }
  text += "\nOptions:\n";
  if (monitor) {
    text += cat({"  --mem=MiB                    guest memory in MiB (", std::to_string(kMinMemMiB),
                 "-", std::to_string(kMaxMemMiB), ", default ",
                 std::to_string(abi::kDefaultMemory >> 20), ")\n"});
  }
  text +=
      "  --net:NAME=tap:IFNAME        attach net device NAME to the host tap interface IFNAME\n";
  if (monitor) {
    text +=
        "  --net:NAME=user[,forward=tcp:HOSTADDR:HOSTPORT-:GUESTPORT]...\n"
        "                               attach net device NAME to user-mode networking (no\n"
        "                               root needed); each forward passes TCP connections to\n"
        "                               HOSTADDR:HOSTPORT on the host to GUESTPORT in the guest\n";
  }
  text +=
      "  --net-mac:NAME=xx:xx:xx:xx:xx:xx\n"
      "                               unicast MAC address of net device NAME (default: random)\n"
      "  --block:NAME=FILE[,ro]       attach block device NAME to FILE (,ro: read-only)\n"
      "";
  text += monitor
              ? "  --stats                      print at exit: setup phases, guest time, exits by\n"
                "                               kind, frames and drops per net device\n"
              : "  --stats                      print device counters and heap use at exit\n";
  text += monitor ? "  -h, --help                   print this help and exit\n"
                  : "  --help                       print this help and exit\n";
  text +=
      "\nNAME is a device name from the image's manifest (a-z 0-9 _, at most 31 characters);\n"
      "every device the image declares must be attached exactly once.\n"
      "\nExit status:\n";
  text += monitor ? "  0-125  the guest's own exit status\n"
                  : "  0-125  the application's own exit status\n";
  text += monitor ? "  250    the guest panicked\n"
                    "  251    the guest took an unhandled fault\n"
                    "  252    the guest made a hostile call (bad address or length)\n"
                    "  253    the image or the command line was refused\n"
                  : "  250    the application panicked\n"
                    "  251    the application crashed (SIGSEGV, SIGBUS, SIGILL, SIGFPE)\n"
                    "  252    the application halted with a status outside 0-125\n"
                    "  253    the command line was refused\n";
  text += "  128+N  stopped by signal N (SIGINT, SIGTERM)\n";
  return text;
}

}  // namespace morgana::host
