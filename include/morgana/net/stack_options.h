// The network configuration an application takes from its arguments (the ones after
// `--` on the morgana-hvt / morgana run command line), the same on every target and
// stack: --ipv4=ADDR/PREFIX [--ipv4-gateway=ADDR] or --dhcp, plus TCP tuning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "morgana/net/address.h"
#include "morgana/net/tcp_congestion.h"
#include "morgana/rt/result.h"

namespace morgana::net {

struct StackOptions {
  std::optional<Ipv4Prefix> ipv4;      // --ipv4=10.0.0.2/24
  std::optional<Ipv4Address> gateway;  // --ipv4-gateway=10.0.0.1
  bool dhcp = false;                   // --dhcp (a static --ipv4 overrides the lease)
  CongestionAlgorithm congestion = CongestionAlgorithm::kCubic;  // --tcp-cc=cubic|newreno
  bool sack = true;                                              // --tcp-no-sack
  bool timestamps = true;                                        // --tcp-no-timestamps
  bool window_scaling = true;                                    // --tcp-no-wscale
  // parse_stack_options' defaults come from the heap (default_tcp_buffer).
  uint32_t tcp_send_buffer = 256 * 1024;     // --tcp-sndbuf=BYTES
  uint32_t tcp_receive_buffer = 256 * 1024;  // --tcp-rcvbuf=BYTES
  // How far autotuning may grow them (TcpConfig::receive_buffer_max; default from the
  // heap, default_tcp_buffer_max). --tcp-sndbuf/--tcp-rcvbuf fix the size, as SO_SNDBUF
  // and SO_RCVBUF turn off Linux's autotuning.
  uint32_t tcp_send_buffer_max = 4 * 1024 * 1024;
  uint32_t tcp_receive_buffer_max = 4 * 1024 * 1024;
  uint32_t max_connections = 1024;  // --tcp-max-connections=N
  bool stats = false;               // --net-stats: print counters at exit
  // --net-no-offloads: leave checksums and TCP segmentation to the stack even when the
  // device could do them (for comparisons; Morgana's own stack only).
  bool offloads = true;
};

// The default --tcp-sndbuf and --tcp-rcvbuf for a heap of `heap_bytes` (0: unbounded, as
// on the host): a 128th of it in whole 4 KiB, from 16 KiB up to 256 KiB, so that a small
// image's connections do not outgrow its memory and a large one's keep full windows.
uint32_t default_tcp_buffer(size_t heap_bytes);
// The default most autotuning may grow each buffer to: a 32nd of the heap in whole 4 KiB,
// up to 4 MiB (Linux's tcp_wmem maximum), never below default_tcp_buffer(). With the
// heap reserve (GrowthBudget) as the backstop, a few fast connections get big windows
// without many idle ones being able to take the heap.
uint32_t default_tcp_buffer_max(size_t heap_bytes);

// Takes the options above out of `args` (argv without argv[0]) and returns them; every
// other argument is appended to `rest`, in order, for the application. Fails with a
// message naming the bad option (a malformed address, --ipv4 and --dhcp both missing is
// fine: the caller decides; --ipv4-gateway outside the --ipv4 prefix; an unknown --tcp-*
// or --ipv4* option).
struct StackOptionsError {
  std::string message;
};
std::optional<StackOptions> parse_stack_options(std::span<char* const> args,
                                                std::vector<char*>& rest, StackOptionsError& error);

// The usage text for these options, for an application's --help.
const char* stack_options_usage();

}  // namespace morgana::net
