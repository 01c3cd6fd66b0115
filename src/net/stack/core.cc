// The stack's core for one interface: frames in, frames out, and the IPv4/ICMP/DHCP work
// between the link and the transport layers.
#include "morgana/net/stack/core.h"

#include <algorithm>
#include <cstdio>

#include "morgana/async/loop.h"
#include "morgana/random/random.h"
#include "morgana/rt/heap.h"

namespace morgana::net {

namespace {

// Derives an independent 32-byte key for one use from the image's seed (one ChaCha20
// block per purpose), so knowing one (say, a TCP ISN pattern) says nothing of another.
std::array<uint8_t, 32> derive_key(const std::array<uint8_t, 32>& seed, uint32_t purpose) {
  std::array<uint8_t, 12> nonce{};
  std::array<uint8_t, 64> block{};
  random::chacha20_block(seed, purpose, nonce, block);
  std::array<uint8_t, 32> key{};
  std::copy_n(block.begin(), 32, key.begin());
  return key;
}

// A pool of `config` with no more buffers than a sixteenth of the image's heap holds (at
// least one): in a small image (4 MiB of RAM) the default pools alone would take a third
// of the heap. The host's heap is unbounded (size 0): the count stands.
BufferConfig sized_for_heap(BufferConfig config) {
  const size_t heap = rt::heap_size_bytes();
  if (heap != 0) config.count = std::clamp<size_t>(heap / 16 / config.size, 1, config.count);
  return config;
}

uint64_t first_u64(const std::array<uint8_t, 32>& key) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = value << 8 | key[size_t(i)];
  return value;
}

}  // namespace

Result<std::unique_ptr<StackCore>> StackCore::create(const CoreConfig& config, LinkOutput& link) {
  if (config.mtu < 576) return Error{Errc::kInvalidArgument, "MTU under 576 (RFC 791)"};
  // A full frame (MTU + Ethernet header + two VLAN tags) must fit a buffer after headroom.
  if (size_t(config.mtu) + 22 + config.buffers.headroom > config.buffers.size)
    return Error{Errc::kInvalidArgument, "MTU larger than the packet buffers"};
  if ((config.offloads & platform::kNetOffloadTso4) &&
      !(config.offloads & platform::kNetOffloadChecksum))
    return Error{Errc::kInvalidArgument, "TSO without checksum offload"};
  auto pool = TRY(BufferPool::create(sized_for_heap(config.buffers)));
  auto ipv4 = TRY(Ipv4Input::create({Ipv4Prefix{}, ReassemblyConfig{}}));
  std::unique_ptr<StackCore> core(new StackCore(config, link, std::move(pool), std::move(ipv4)));
  if (config.offloads & platform::kNetOffloadTso4) {
    if (config.large_buffers.size - config.large_buffers.headroom <
        kEthernetHeaderSize + kIpv4MaxDatagram)
      return Error{Errc::kInvalidArgument, "large buffers cannot hold a TSO segment"};
    core->large_pool_ = TRY(BufferPool::create(sized_for_heap(config.large_buffers)));
  }
  if (config.options.ipv4) {
    TRY(core->configure(*config.options.ipv4, config.options.gateway));
  } else if (config.options.dhcp) {
    DhcpConfig dhcp;
    dhcp.mac = config.mac;
    dhcp.hostname = config.hostname;
    auto client = TRY(DhcpClient::create(dhcp, first_u64(derive_key(config.seed, 2))));
    core->dhcp_.emplace(std::move(client));
  } else {
    return Error{Errc::kInvalidArgument, "no address: give --ipv4=ADDR/PREFIX or --dhcp"};
  }
  return core;
}

StackCore::StackCore(const CoreConfig& config, LinkOutput& link, std::unique_ptr<BufferPool> pool,
                     Ipv4Input ipv4)
    : config_(config),
      link_(link),
      pool_(std::move(pool)),
      ethernet_{config.mac},
      ipv4_(std::move(ipv4)) {
  udp_ = std::make_unique<UdpLayer>(static_cast<IpOutput&>(*this));
  TcpLayerConfig tcp;
  const StackOptions& options = config.options;
  tcp.connection.send_buffer = options.tcp_send_buffer;
  tcp.connection.receive_buffer = options.tcp_receive_buffer;
  tcp.connection.send_buffer_max = options.tcp_send_buffer_max;
  tcp.connection.receive_buffer_max = options.tcp_receive_buffer_max;
  tcp.connection.sack = options.sack;
  tcp.connection.timestamps = options.timestamps;
  tcp.connection.window_scaling = options.window_scaling;
  tcp.connection.congestion = options.congestion;
  tcp.max_connections = options.max_connections;
  tcp.secret = derive_key(config.seed, 1);
  tcp_ = std::make_unique<TcpLayer>(static_cast<IpOutput&>(*this), tcp);
}

StackCore::~StackCore() {
  // Layers first: their sockets may still hold packets from the pool.
  tcp_.reset();
  udp_.reset();
  arp_.reset();
  blocked_.clear();
}

Result<PacketBuffer> StackCore::allocate_large() {
  if (!large_pool_) return Error{Errc::kNoMemory, "no TSO: no large buffers"};
  return large_pool_->allocate();
}

uint64_t StackCore::now() const {
  return async::Loop::current().now();
}

void StackCore::start() {
  if (arp_) {
    arp_->start();  // RFC 5227 §2.3: announce the address
    drain_outbox();
  } else if (dhcp_) {
    dhcp_->start(now());
    run_dhcp();
  }
}

Result<void> StackCore::configure(Ipv4Prefix prefix, std::optional<Ipv4Address> gateway) {
  auto routes = TRY(Ipv4Routes::create(prefix, gateway));
  ArpConfig arp_config;
  arp_config.link = ethernet_;
  arp_config.address = prefix;
  auto arp = TRY(ArpCache::create(arp_config, *pool_, link_counters_));
  auto ipv4 = TRY(Ipv4Input::create({prefix, ReassemblyConfig{}}));
  bool announce = arp_ != nullptr || dhcp_.has_value();  // reconfiguring at run time
  routes_.emplace(routes);
  arp_ = std::make_unique<ArpCache>(std::move(arp));
  ipv4_ = std::move(ipv4);
  prefix_ = prefix;
  configured_event_.set();
  if (announce) {
    arp_->start();
    drain_outbox();
  }
  return {};
}

void StackCore::unconfigure() {
  if (arp_) blocked_.splice_back(arp_->outbox());
  arp_.reset();
  routes_.reset();
  prefix_ = {};
  if (auto ipv4 = Ipv4Input::create({Ipv4Prefix{}, ReassemblyConfig{}})) ipv4_ = std::move(*ipv4);
  configured_event_.reset();
}

const std::optional<DhcpLease>* StackCore::dhcp_lease() const {
  return dhcp_ ? &dhcp_->lease() : nullptr;
}

Result<PacketBuffer> StackCore::allocate() {
  return pool_->allocate();
}

void StackCore::receive_frame(std::span<const uint8_t> frame, const platform::NetFrameMeta& meta) {
  // Ethernet header and two VLAN tags around an MTU-sized packet; only a TCP segment the
  // device merged from many (GRO, or a local sender's TSO) may be longer.
  constexpr size_t kLinkHeaders = kEthernetHeaderSize + 2 * kVlanTagSize;
  const bool merged = meta.gso_size != 0;
  if (merged && !(config_.offloads & platform::kNetOffloadTso4)) {
    ++link_counters_.received;
    link_counters_.drop(EthernetDrop::kBadOffload);
    return;
  }
  if (!merged && frame.size() > size_t(config_.mtu) + kLinkHeaders) {
    ++link_counters_.received;
    link_counters_.drop(EthernetDrop::kTooLong);
    return;
  }
  auto ethernet = ethernet_receive(ethernet_, frame, link_counters_);
  if (!ethernet) return;
  link_broadcast_ = ethernet->destination.is_broadcast();
  if (ethernet->ethertype == uint16_t(EtherType::kArp)) {
    if (merged) {
      link_counters_.drop(EthernetDrop::kBadOffload);
      return;
    }
    if (arp_) arp_->receive(ethernet->payload, now());
  } else {
    receive_ipv4(ethernet->payload, ethernet->header_size, meta);
  }
  drain_outbox();
}

ReceivedChecksum StackCore::vouched(const Ipv4Datagram& ip, size_t link_header,
                                    const platform::NetFrameMeta& meta) const {
  // A reassembled datagram was checked by no one: the device saw only fragments.
  if (!(config_.offloads & platform::kNetOffloadChecksum) || ip.reassembled)
    return ReceivedChecksum::kUnverified;
  if (meta.checksum == platform::NetChecksum::kValid) return ReceivedChecksum::kVouched;
  if (meta.checksum != platform::NetChecksum::kPartial) return ReceivedChecksum::kUnverified;
  // A partial checksum speaks for the transport header it points at, and only that one.
  uint16_t field = 0;
  if (ip.protocol == uint8_t(IpProtocol::kTcp)) field = kTcpChecksumField;
  if (ip.protocol == uint8_t(IpProtocol::kUdp)) field = kUdpChecksumField;
  if (field == 0 || meta.csum_start != link_header + ip.header.size() || meta.csum_offset != field)
    return ReceivedChecksum::kUnverified;
  return ReceivedChecksum::kVouched;
}

void StackCore::receive_ipv4(std::span<const uint8_t> packet, size_t link_header,
                             const platform::NetFrameMeta& meta) {
  auto ip = ipv4_.receive(packet, now());
  if (!ip) return;
  ip->transport_checksum = vouched(*ip, link_header, meta);
  // A merged frame is one TCP segment of many; anything else claiming it is malformed.
  if (meta.gso_size != 0 && (ip->protocol != uint8_t(IpProtocol::kTcp) || ip->reassembled ||
                             ip->transport_checksum != ReceivedChecksum::kVouched)) {
    link_counters_.drop(EthernetDrop::kBadOffload);
    return;
  }
  switch (IpProtocol(ip->protocol)) {
    case IpProtocol::kIcmp:
      receive_icmp(*ip);
      return;
    case IpProtocol::kUdp:
      receive_udp(*ip);
      return;
    case IpProtocol::kTcp:
      if (configured()) tcp_->input(*ip);
      return;
    default:
      ipv4_.counters().drop(Ipv4Drop::kUnknownProtocol);
      // RFC 1122 §3.2.2.1: SHOULD send protocol unreachable.
      send_unreachable(*ip, UnreachableCode::kProtocol);
      return;
  }
}

void StackCore::receive_icmp(const Ipv4Datagram& ip) {
  ++icmp_counters_.received;
  auto message = icmp_counters_.accept(parse_icmp(ip.payload));
  if (!message) return;
  if (message->type != uint8_t(IcmpType::kEchoRequest)) {
    // Errors about our own traffic are soft errors for TCP (RFC 5927) and nothing for
    // UDP without a socket error API: counted, not acted on.
    icmp_counters_.drop(IcmpDrop::kIgnoredType);
    return;
  }
  // RFC 1122 §3.2.2.6: echo requests to our address are answered; to a broadcast it is a
  // MAY, and Linux (icmp_echo_ignore_broadcasts) does not: neither do we.
  if (!configured() || ip.destination != prefix_.address) {
    icmp_counters_.drop(IcmpDrop::kIgnoredType);
    return;
  }
  ++icmp_counters_.delivered;
  auto header = echo_reply_header(*message);
  Ipv4SendParams params{prefix_.address, ip.source, IpProtocol::kIcmp, next_ip_id_++};
  params.tos = ip.tos;
  ++icmp_stats_.echo_replies;
  ++icmp_counters_.sent;
  if (!send_ipv4_copy(params, {header, message->body})) icmp_counters_.drop(IcmpDrop::kNoBuffer);
}

void StackCore::receive_udp(const Ipv4Datagram& ip) {
  UdpCounters& counters = udp_->counters();
  ++counters.received;
  auto udp =
      counters.accept(parse_udp(ip.payload, ip.source, ip.destination, ip.transport_checksum));
  if (!udp) return;
  if (dhcp_ && udp->destination_port == kDhcpClientPort && udp->source_port == kDhcpServerPort) {
    ++counters.delivered;
    dhcp_->receive(udp->payload, now());
    run_dhcp();
    return;
  }
  if (!configured()) {
    counters.drop(UdpDrop::kNoListener);
    return;
  }
  if (udp_->deliver(ip, *udp) == UdpLayer::Delivery::kNoListener &&
      ip.destination == prefix_.address) {
    send_unreachable(ip, UnreachableCode::kPort);  // RFC 1122 §4.1.3.1
  }
}

void StackCore::send_unreachable(const Ipv4Datagram& ip, UnreachableCode code) {
  if (!configured()) return;
  bool to_broadcast = ip.destination != prefix_.address;
  if (!icmp_error_allowed(ip, to_broadcast,
                          link_broadcast_ ? LinkBroadcast::kYes : LinkBroadcast::kNo)) {
    icmp_counters_.drop(IcmpDrop::kErrorNotAllowed);
    return;
  }
  if (!icmp_limit_.allow(now())) {
    icmp_counters_.drop(IcmpDrop::kRateLimited);
    return;
  }
  std::array<uint8_t, kIcmpErrorMax> message{};
  size_t size = build_destination_unreachable(code, ip, IcmpQuote::kUpTo576, message);
  Ipv4SendParams params{prefix_.address, ip.source, IpProtocol::kIcmp, next_ip_id_++};
  params.tos = kIcmpErrorTos;
  ++icmp_counters_.sent;
  ++icmp_stats_.unreachable_sent;
  if (!send_ipv4_copy(params, {{message.data(), size}, {}}))
    icmp_counters_.drop(IcmpDrop::kNoBuffer);
}

bool StackCore::send_ipv4(const Ipv4SendParams& params, PacketBuffer packet) {
  // A TSO segment is cut to the MTU by the device: never fragmented here. ipv4_prepend
  // still bounds it by the IPv4 maximum.
  const bool tso = packet.offload().gso_size != 0;
  MORGANA_ASSERT(!tso || (config_.offloads & platform::kNetOffloadTso4));
  if (!tso && packet.size() + kIpv4HeaderSize > config_.mtu) {
    return send_ipv4_copy(params, {packet.data(), {}});
  }
  if (!ipv4_prepend(params, packet, ipv4_.counters())) return false;
  route_packet(params.destination, std::move(packet));
  drain_outbox();
  return true;
}

bool StackCore::send_ipv4_copy(const Ipv4SendParams& params, Ipv4Payload payload) {
  PacketQueue packets;
  if (!ipv4_send(params, payload, config_.mtu, *pool_, packets, ipv4_.counters())) return false;
  while (PacketBuffer packet = packets.pop_front())
    route_packet(params.destination, std::move(packet));
  drain_outbox();
  return true;
}

void StackCore::route_packet(Ipv4Address destination, PacketBuffer packet) {
  if (!arp_) {
    // Unconfigured (DHCP in progress): only the limited broadcast leaves, to the link
    // broadcast address (RFC 2131 §4.1).
    if (!destination.is_broadcast()) {
      ipv4_.counters().drop(Ipv4Drop::kNoRoute);
      return;
    }
    if (ethernet_prepend(ethernet_, MacAddress::broadcast(), EtherType::kIpv4, packet,
                         link_counters_)) {
      ++link_counters_.sent;
      blocked_.push_back(std::move(packet));
    }
    return;
  }
  auto hop = routes_->next_hop(destination);
  if (!hop) {
    ipv4_.counters().drop(Ipv4Drop::kNoRoute);
    return;
  }
  arp_->send_ipv4(hop->address, std::move(packet), now());
}

void StackCore::drain_outbox() {
  if (arp_) blocked_.splice_back(arp_->outbox());
  transmit_blocked();
  // ARP may have armed a retry, TCP a retransmission: the driver must wake by then.
  if (next_deadline() < armed_deadline_ || !blocked_.empty()) wake_.set();
}

bool StackCore::flush() {
  transmit_blocked();
  // Not from transmit_blocked(): that runs inside a connection's output (drain_outbox),
  // which must not re-enter the connections.
  if (blocked_.empty() && tcp_->link_waiters()) {
    tcp_->resume(now());
    drain_outbox();
  }
  return output_blocked();
}

bool StackCore::link_busy() const {
  // A fraction of the pool stays for what must not wait: ACKs, retransmissions, ARP.
  return !blocked_.empty() || pool_->available() < pool_->config().count / 8;
}

void StackCore::transmit_blocked() {
  while (!blocked_.empty()) {
    platform::NetFrameMeta meta = blocked_.front_offload();
    auto sent = meta.checksum == platform::NetChecksum::kNone
                    ? link_.transmit_frame(blocked_.front())
                    : link_.transmit_offloaded(blocked_.front(), meta);
    if (!sent && sent.error().code == Errc::kAgain) return;  // the device is full
    // Any other error loses the frame (the device counts it); TCP will retransmit.
    (void)blocked_.pop_front();
  }
}

void StackCore::timer_armed(uint64_t deadline_ns) {
  if (deadline_ns < armed_deadline_) wake_.set();
}

void StackCore::request_push() {
  push_requested_ = true;
  wake_.set();
}

void StackCore::push() {
  if (!push_requested_) return;
  push_requested_ = false;
  tcp_->push(now());
  drain_outbox();
}

void StackCore::tick() {
  uint64_t t = now();
  if (arp_) arp_->tick(t);
  ipv4_.expire(t);
  if (dhcp_) {
    dhcp_->tick(t);
    run_dhcp();
  }
  tcp_->tick(t);
  drain_outbox();
  push();
}

uint64_t StackCore::next_deadline() const {
  uint64_t deadline = std::min(ipv4_.next_deadline(), tcp_->next_deadline());
  if (arp_) deadline = std::min(deadline, arp_->next_deadline());
  if (dhcp_) deadline = std::min(deadline, dhcp_->next_deadline());
  return deadline;
}

void StackCore::run_dhcp() {
  while (auto message = dhcp_->pop_outgoing()) {
    (void)udp_->send(kDhcpClientPort, message->source, {message->destination, kDhcpServerPort},
                     {message->bytes.data(), message->size});
  }
  uint32_t events = dhcp_->take_events();
  auto& log = async::Loop::current().backend();
  char line[160];
  if (events & DhcpClient::kLost) {
    unconfigure();
    log.log("net: DHCP lease lost; asking again\n");
  }
  if ((events & DhcpClient::kBound) && dhcp_->lease()) {
    const DhcpLease& lease = *dhcp_->lease();
    if (configure(lease.address, lease.gateway)) {
      std::snprintf(line, sizeof(line), "net: DHCP lease %s gateway %s for %u s from %s\n",
                    lease.address.to_string().c_str(),
                    lease.gateway ? lease.gateway->to_string().c_str() : "none",
                    unsigned(lease.lease_seconds), lease.server.to_string().c_str());
    } else {
      std::snprintf(line, sizeof(line), "net: DHCP lease %s unusable (gateway off-link)\n",
                    lease.address.to_string().c_str());
    }
    log.log(line);
  }
}

void StackCore::print_stats() {
  auto& log = async::Loop::current().backend();
  char line[512];
  using ull = unsigned long long;
  auto layer = [&](const char* name, const auto& counters) {
    int n = std::snprintf(line, sizeof(line), "net %s: in %llu delivered %llu out %llu; ", name,
                          ull(counters.received), ull(counters.delivered), ull(counters.sent));
    counters.drops.format({line + n, sizeof(line) - size_t(n) - 1}, name);
    size_t length = std::char_traits<char>::length(line);
    line[length] = '\n';
    log.log({line, length + 1});
  };
  std::snprintf(line, sizeof(line), "net: %s gateway %s mtu %u\n", prefix_.to_string().c_str(),
                gateway() ? gateway()->to_string().c_str() : "none", unsigned(config_.mtu));
  log.log(line);
  layer("ethernet", link_counters_);
  if (arp_) layer("arp", arp_->counters());
  layer("ipv4", ipv4_.counters());
  layer("icmp", icmp_counters_);
  layer("udp", udp_->counters());
  layer("tcp", tcp_->counters());
  const TcpLayerStats& tcp = tcp_->stats();
  TcpConnectionStats total = tcp_->total_connection_stats();
  std::snprintf(line, sizeof(line),
                "net tcp: connections %zu active_opens %llu passive_opens %llu failed %llu "
                "resets_sent %llu syn_dropped %llu syn_dropped_low_memory %llu half_open_evicted "
                "%llu; segments in %llu out %llu retransmits %llu timeouts %llu fast_recoveries "
                "%llu out_of_order %llu challenge_acks %llu no_memory_drops %llu buffer_raises "
                "rcv %llu snd %llu\n",
                tcp_->connections(), ull(tcp.active_opens), ull(tcp.passive_opens), ull(tcp.failed),
                ull(tcp.resets_sent), ull(tcp.syn_dropped), ull(tcp.syn_dropped_low_memory),
                ull(tcp.half_open_evicted), ull(total.segments_in), ull(total.segments_out),
                ull(total.retransmits), ull(total.timeouts), ull(total.fast_recoveries),
                ull(total.out_of_order), ull(total.challenge_acks), ull(total.no_memory_drops),
                ull(total.receive_buffer_raises), ull(total.send_buffer_raises));
  log.log(line);
  tcp_->for_each_connection([&](const TcpConnection& c) {
    const TcpEndpoints& e = c.endpoints();
    std::snprintf(line, sizeof(line), "net tcp %s:%u %s srtt %llu us cwnd %u retransmits %llu\n",
                  e.remote_address.to_string().c_str(), unsigned(e.remote_port),
                  tcp_state_name(c.state()), ull(c.rtt().srtt_ns() / 1000),
                  unsigned(c.congestion().cwnd()), ull(c.stats().retransmits));
    log.log(line);
  });
  const auto& pool = pool_->stats();
  std::snprintf(line, sizeof(line), "net buffers: in use %zu peak %zu of %zu, exhausted %llu\n",
                pool.in_use, pool.peak_in_use, pool_->config().count, ull(pool.exhausted));
  log.log(line);
}

}  // namespace morgana::net
