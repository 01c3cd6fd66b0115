// The device and monitor options of DESIGN.md §4, parsed once for both host-side users:
// morgana-hvt (the KVM monitor) and the unix target's process startup. Also checks the
// attached devices against an image's manifest.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "platform/abi/hvt_abi.h"

namespace morgana::host {

struct PortForward {      // forward=tcp:HOSTADDR:HOSTPORT-:GUESTPORT
  std::string host_addr;  // IPv4 dotted quad, e.g. 127.0.0.1
  uint16_t host_port = 0;
  uint16_t guest_port = 0;
};

struct NetAttachment {
  enum class Kind { kTap, kUser };
  std::string name;  // manifest name
  Kind kind = Kind::kTap;
  std::string ifname;                         // kTap: the host tap interface
  std::vector<PortForward> forwards;          // kUser only
  std::optional<std::array<uint8_t, 6>> mac;  // from --net-mac:NAME=MAC
};

struct BlockAttachment {
  std::string name;
  std::string path;
  bool read_only = false;
};

struct Options {
  uint64_t mem_bytes = abi::kDefaultMemory;  // --mem=MiB
  bool stats = false;                        // --stats
  bool help = false;                         // --help / -h
  std::vector<NetAttachment> nets;
  std::vector<BlockAttachment> blocks;
  std::string image;  // kMonitor mode only
  std::vector<std::string> app_args;
};

enum class Mode {
  kMonitor,  // morgana-hvt [options] IMAGE [app args]
  kUnix,     // <app>.unix [options] [--] [app args]: no IMAGE, no --mem, no user net
};

// Parses `args` (without argv[0]). Returns "" on success, else a one-line message that
// names the offending option, e.g. "--net:service: unknown backend 'tup' (tap, user)".
std::string parse_options(std::span<const std::string> args, Mode mode, Options& out);

// Checks the attachments against the manifest: every manifest device attached exactly
// once with the matching kind, no attachment without a manifest entry, no --net-mac for
// an unknown device. Returns "" or a message naming the device.
std::string check_attachments(const Options& options, const abi::Manifest& manifest);

// The usage text for --help (monitor or unix flavour).
std::string usage(Mode mode, const std::string& program);

}  // namespace morgana::host
