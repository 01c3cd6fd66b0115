// UDP sockets over the stack's IPv4 output: bounded per-socket receive rings, sends that
// prepend in place when the datagram fits one buffer and fragment otherwise.
#include "morgana/net/stack/udp_layer.h"

#include <algorithm>
#include <cstring>

#include "morgana/async/loop.h"
#include "morgana/net/checksum.h"

namespace morgana::net {

namespace {
// RFC 768 over IPv4: 65535 - 20 (IPv4 header) - 8 (UDP header).
constexpr size_t kMaxUdpPayload = 65507;
constexpr uint16_t kEphemeralFirst = 49152;  // RFC 6335 §6
}  // namespace

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    close();
    binding_ = std::exchange(other.binding_, nullptr);
  }
  return *this;
}

async::Task<Result<UdpReceived>> UdpSocket::receive(std::span<uint8_t> buffer) {
  for (;;) {
    detail::UdpBinding* binding = binding_;
    if (binding == nullptr) co_return Error{Errc::kClosed, "socket closed"};
    if (binding->count > 0) {
      auto& datagram = binding->ring[binding->head];
      size_t n = std::min(buffer.size(), datagram.bytes.size());
      if (n > 0) std::memcpy(buffer.data(), datagram.bytes.data(), n);  // empty: data() may be null
      UdpReceived received{n, datagram.from, n < datagram.bytes.size()};
      binding->head = (binding->head + 1) % binding->ring.size();
      --binding->count;
      co_return received;
    }
    binding->readable.reset();
    // Cancellation consumes nothing: the datagram stays for the next receive.
    CO_TRY(co_await binding->readable.wait());
  }
}

Result<void> UdpSocket::send_to(Endpoint to, std::span<const uint8_t> payload) {
  if (binding_ == nullptr) return Error{Errc::kClosed, "socket closed"};
  UdpLayer& layer = *binding_->layer;
  return layer.send(binding_->port, layer.output_.address(), to, payload);
}

Result<void> UdpSocket::connect(Endpoint peer) {
  if (binding_ == nullptr) return Error{Errc::kClosed, "socket closed"};
  if (peer.port == 0 || peer.address.is_unspecified())
    return Error{Errc::kInvalidArgument, "connect to port 0 or 0.0.0.0"};
  binding_->peer = peer;
  return {};
}

Result<void> UdpSocket::send(std::span<const uint8_t> payload) {
  if (binding_ == nullptr) return Error{Errc::kClosed, "socket closed"};
  if (!binding_->peer) return Error{Errc::kInvalidArgument, "send on an unconnected socket"};
  return send_to(*binding_->peer, payload);
}

void UdpSocket::close() {
  if (binding_ == nullptr) return;
  detail::UdpBinding* binding = std::exchange(binding_, nullptr);
  binding->layer->unbind(binding);
}

Endpoint UdpSocket::local() const {
  if (binding_ == nullptr) return {};
  return {binding_->layer->output_.address(), binding_->port};
}

UdpLayer::UdpLayer(IpOutput& output, const UdpConfig& config) : output_(output), config_(config) {}

UdpLayer::~UdpLayer() {
  // Sockets must not outlive the stack (docs/net.md); a receive still waiting is woken with
  // kCancelled by its binding's Event going away.
}

Result<UdpSocket> UdpLayer::bind(uint16_t port) {
  if (bindings_.size() >= config_.max_sockets)
    return Error{Errc::kNoMemory, "too many UDP sockets"};
  if (port == 0) {
    // The next free port in the ephemeral range, round robin.
    for (unsigned tries = 0; tries < 65536 - kEphemeralFirst; ++tries) {
      uint16_t candidate = next_ephemeral_;
      next_ephemeral_ = next_ephemeral_ == 65535 ? kEphemeralFirst : uint16_t(next_ephemeral_ + 1);
      if (!bindings_.contains(candidate)) {
        port = candidate;
        break;
      }
    }
    if (port == 0) return Error{Errc::kAddressInUse, "no free ephemeral UDP port"};
  } else if (bindings_.contains(port)) {
    return Error{Errc::kAddressInUse, "UDP port in use"};
  }
  auto binding = std::make_unique<detail::UdpBinding>();
  binding->layer = this;
  binding->port = port;
  binding->ring.resize(config_.queue_datagrams);
  detail::UdpBinding* raw = binding.get();
  bindings_.emplace(port, std::move(binding));
  return UdpSocket(raw);
}

void UdpLayer::unbind(detail::UdpBinding* binding) {
  if (binding != nullptr) bindings_.erase(binding->port);
}

UdpLayer::Delivery UdpLayer::deliver(const Ipv4Datagram& ip, const UdpDatagram& udp) {
  auto it = bindings_.find(udp.destination_port);
  if (it == bindings_.end()) {
    counters_.drop(UdpDrop::kNoListener);
    return Delivery::kNoListener;
  }
  detail::UdpBinding& binding = *it->second;
  Endpoint from{ip.source, udp.source_port};
  if (binding.peer && *binding.peer != from) {
    counters_.drop(UdpDrop::kWrongPeer);
    return Delivery::kDropped;
  }
  if (binding.count == binding.ring.size()) {
    counters_.drop(UdpDrop::kQueueFull);
    return Delivery::kDropped;
  }
  auto& slot = binding.ring[(binding.head + binding.count) % binding.ring.size()];
  slot.bytes.assign(udp.payload.begin(), udp.payload.end());
  slot.from = from;
  ++binding.count;
  ++counters_.delivered;
  binding.readable.set();
  return Delivery::kDelivered;
}

Result<void> UdpLayer::send(uint16_t source_port, Ipv4Address source, Endpoint to,
                            std::span<const uint8_t> payload) {
  if (payload.size() > kMaxUdpPayload) return Error{Errc::kOutOfRange, "UDP datagram too large"};
  if (to.port == 0) return Error{Errc::kInvalidArgument, "UDP to port 0"};
  Ipv4SendParams params{source, to.address, IpProtocol::kUdp, next_ip_id_++};
  if (payload.size() + sizeof(UdpHeader) + kIpv4HeaderSize <= output_.mtu()) {
    auto packet = output_.allocate();
    if (!packet) {
      counters_.drop(UdpDrop::kNoBuffer);
      return packet.error();
    }
    // One frame: a device with checksum offload sums the datagram as it copies it out,
    // sparing the stack a pass over every byte (IPv4 does not fragment a datagram that
    // fits the MTU, so the device sees all of it).
    const ChecksumBy by = (output_.offloads() & platform::kNetOffloadChecksum) ? ChecksumBy::kDevice
                                                                               : ChecksumBy::kStack;
    if (!packet->append_bytes(payload) ||
        !udp_prepend(source_port, to.port, source, to.address, *packet, counters_, by)) {
      return Error{Errc::kNoMemory, "no room for the UDP header"};
    }
    if (!output_.send_ipv4(params, std::move(*packet)))
      return Error{Errc::kUnreachable, "datagram dropped below UDP (see the ipv4/arp counters)"};
    return {};
  }
  // Larger than the MTU: build the header here, checksum over header and payload, and let
  // IPv4 fragment the two pieces without concatenating them first. Always in software:
  // a device's offload covers one frame, and the checksum spans every fragment.
  UdpHeader header{};
  header.source_port.set(source_port);
  header.destination_port.set(to.port);
  header.length.set(uint16_t(sizeof(UdpHeader) + payload.size()));
  Checksum sum;
  add_ipv4_pseudo_header(sum, source, to.address, uint8_t(IpProtocol::kUdp),
                         uint16_t(sizeof(UdpHeader) + payload.size()));
  sum.add({reinterpret_cast<const uint8_t*>(&header), sizeof(header)});
  sum.add(payload);
  uint16_t value = sum.finish();
  header.checksum.set(value == 0 ? 0xffff : value);
  ++counters_.sent;
  if (!output_.send_ipv4_copy(
          params, {{reinterpret_cast<const uint8_t*>(&header), sizeof(header)}, payload}))
    return Error{Errc::kUnreachable, "datagram dropped below UDP (see the ipv4/arp counters)"};
  return {};
}

}  // namespace morgana::net
