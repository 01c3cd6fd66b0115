// UDP sockets of Morgana's stack (RFC 768): bind, send, receive, connected and
// unconnected use. Each socket keeps a bounded queue of received datagrams; a full queue
// drops (counted), it never grows. The layer answers datagrams to unbound ports with ICMP
// port unreachable through the core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "morgana/async/event.h"
#include "morgana/async/task.h"
#include "morgana/net/endpoint.h"
#include "morgana/net/ipv4.h"
#include "morgana/net/stack/ip_output.h"
#include "morgana/net/udp.h"
#include "morgana/rt/result.h"

namespace morgana::net {

class UdpLayer;

namespace detail {
// One bound port: its queue of received datagrams (a ring whose vectors keep their
// capacity, so steady-state receive does not allocate).
struct UdpBinding {
  struct Datagram {
    std::vector<uint8_t> bytes;
    Endpoint from;
  };
  UdpLayer* layer = nullptr;
  uint16_t port = 0;
  std::optional<Endpoint> peer;  // connect()ed
  std::vector<Datagram> ring;
  size_t head = 0;
  size_t count = 0;
  async::Event readable;
};
}  // namespace detail

// A bound UDP port. Move-only; destroying it unbinds the port (close()).
class UdpSocket {
 public:
  UdpSocket() = default;
  UdpSocket(UdpSocket&& other) noexcept : binding_(std::exchange(other.binding_, nullptr)) {}
  UdpSocket& operator=(UdpSocket&& other) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  ~UdpSocket() { close(); }

  // Waits for a datagram and copies it into `buffer` (the rest of a longer one is lost:
  // `truncated`). kCancelled when stopped (nothing consumed); kClosed after close().
  async::Task<Result<UdpReceived>> receive(std::span<uint8_t> buffer);
  // Sends one datagram (fragmented when it exceeds the MTU; at most 65507 bytes).
  // kOutOfRange when too large, kNoMemory without buffers, kUnreachable when there is no
  // route or no address yet, kClosed after close().
  Result<void> send_to(Endpoint to, std::span<const uint8_t> payload);
  // Fixes the peer: send() goes there and only its datagrams are received.
  Result<void> connect(Endpoint peer);
  Result<void> send(std::span<const uint8_t> payload);
  void close();
  Endpoint local() const;
  explicit operator bool() const { return binding_ != nullptr; }

 private:
  friend class UdpLayer;
  explicit UdpSocket(detail::UdpBinding* binding) : binding_(binding) {}
  detail::UdpBinding* binding_ = nullptr;
};

struct UdpConfig {
  size_t queue_datagrams = 64;  // per socket
  size_t max_sockets = 256;
};

class UdpLayer {
 public:
  UdpLayer(IpOutput& output, const UdpConfig& config = {});
  ~UdpLayer();
  UdpLayer(const UdpLayer&) = delete;
  UdpLayer& operator=(const UdpLayer&) = delete;

  // Binds `port` (0: an ephemeral port). kAddressInUse, kNoMemory over max_sockets.
  Result<UdpSocket> bind(uint16_t port);

  // Hands a parsed datagram for us (checked by IPv4 and parse_udp) to its socket.
  // kNoListener when no socket has the port: the caller may answer with ICMP port
  // unreachable.
  enum class Delivery : uint8_t { kDelivered, kDropped, kNoListener };
  Delivery deliver(const Ipv4Datagram& ip, const UdpDatagram& udp);

  // Sends from `source_port` (used by the socket and by the core's DHCP client, which
  // sends from 0.0.0.0).
  Result<void> send(uint16_t source_port, Ipv4Address source, Endpoint to,
                    std::span<const uint8_t> payload);

  UdpCounters& counters() { return counters_; }
  size_t sockets() const { return bindings_.size(); }

 private:
  friend class UdpSocket;
  void unbind(detail::UdpBinding* binding);

  IpOutput& output_;
  UdpConfig config_;
  std::unordered_map<uint16_t, std::unique_ptr<detail::UdpBinding>> bindings_;
  uint16_t next_ephemeral_ = 49152;
  uint16_t next_ip_id_ = 1;
  UdpCounters counters_;
};

}  // namespace morgana::net
