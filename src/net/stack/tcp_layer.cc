// The stack's TCP layer: segments to connections, listeners, RSTs for strays, timers,
// and the coroutine side of flows. The protocol itself is TcpConnection's.
#include "morgana/net/stack/tcp_layer.h"

#include <algorithm>

#include "morgana/async/loop.h"
#include "morgana/random/random.h"

namespace morgana::net {

namespace {

constexpr uint16_t kEphemeralFirst = 49152;  // RFC 6335 §6
// A half-open connection this old has had its SYN-ACK unanswered past the first
// retransmission (RFC 6298's initial RTO is 1 s): it may be evicted for a new SYN.
constexpr uint64_t kHalfOpenStaleNs = 1'000'000'000;

// TcpLayerConfig::memory_reserve's default.
size_t default_memory_reserve() {
  constexpr size_t kMiB = size_t{1} << 20;
  const size_t heap = rt::heap_size_bytes();  // 0: unbounded (the host)
  if (heap == 0) return kMiB;
  return std::max(std::min(kMiB, heap / 4), heap / 16);
}

bool handshaking(TcpState state) {
  return state == TcpState::kSynSent || state == TcpState::kSynReceived;
}

}  // namespace

// --- TcpFlow ----------------------------------------------------------------------------

TcpFlow& TcpFlow::operator=(TcpFlow&& other) noexcept {
  if (this != &other) {
    close();
    socket_ = std::exchange(other.socket_, nullptr);
  }
  return *this;
}

async::Task<Result<size_t>> TcpFlow::read(std::span<uint8_t> buffer) {
  for (;;) {
    detail::TcpSocket* socket = socket_;
    if (socket == nullptr) co_return Error{Errc::kClosed, "flow closed"};
    TcpConnection& connection = *socket->connection;
    TcpLayer& layer = *socket->layer;
    // A window update the read makes due waits for the push at the end of the turn, as
    // writes do: an application that reads several times in one turn (the receive
    // buffer held many segments) sends one update with the whole window, not one per
    // read (each of which a sender would answer with a small burst).
    size_t n = connection.read(buffer, layer.output_.now(), TcpPush::kDeferred);
    if (n > 0) {
      if (connection.ack_due()) layer.defer_push(*socket);
      layer.after(*socket);
      co_return n;
    }
    if (connection.at_eof()) co_return size_t{0};
    if (connection.error()) co_return *connection.error();
    if (connection.state() == TcpState::kClosed) co_return Error{Errc::kClosed, "flow closed"};
    socket->readable.reset();
    // Cancellation consumes nothing: the bytes stay for the next read.
    CO_TRY(co_await socket->readable.wait());
  }
}

async::Task<Result<void>> TcpFlow::write(std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    detail::TcpSocket* socket = socket_;
    if (socket == nullptr) co_return Error{Errc::kClosed, "flow closed"};
    TcpConnection& connection = *socket->connection;
    if (connection.error()) co_return *connection.error();
    size_t n = connection.write(bytes, socket->layer->output_.now(), TcpPush::kDeferred);
    if (n > 0) socket->layer->defer_push(*socket);
    socket->layer->after(*socket);
    if (n > 0) {
      bytes = bytes.subspan(n);
      continue;
    }
    TcpState state = connection.state();
    if (state != TcpState::kEstablished && state != TcpState::kCloseWait && !handshaking(state))
      co_return Error{Errc::kClosed, "flow closed for writing"};
    // The send buffer is full: wait for the peer to acknowledge (back-pressure). A
    // cancelled write has queued the bytes before `bytes` and none after.
    socket->writable.reset();
    CO_TRY(co_await socket->writable.wait());
  }
  co_return Result<void>{};
}

Result<void> TcpFlow::shutdown_write() {
  if (socket_ == nullptr) return Error{Errc::kClosed, "flow closed"};
  socket_->connection->shutdown_write(socket_->layer->output_.now());
  socket_->layer->after(*socket_);
  return {};
}

void TcpFlow::close() {
  if (socket_ == nullptr) return;
  detail::TcpSocket* socket = std::exchange(socket_, nullptr);
  TcpLayer& layer = *socket->layer;
  socket->app_owned = false;
  socket->connection->close(layer.output_.now());
  layer.after(*socket);
  layer.sweep();
}

void TcpFlow::abort() {
  if (socket_ == nullptr) return;
  detail::TcpSocket* socket = std::exchange(socket_, nullptr);
  TcpLayer& layer = *socket->layer;
  socket->app_owned = false;
  socket->connection->abort(layer.output_.now());
  layer.after(*socket);
  layer.sweep();
}

void TcpFlow::set_nodelay(bool on) {
  if (socket_ != nullptr) socket_->connection->set_nagle(!on);
}

Endpoint TcpFlow::local() const {
  if (socket_ == nullptr) return {};
  const TcpEndpoints& e = socket_->connection->endpoints();
  return {e.local_address, e.local_port};
}

Endpoint TcpFlow::remote() const {
  if (socket_ == nullptr) return {};
  const TcpEndpoints& e = socket_->connection->endpoints();
  return {e.remote_address, e.remote_port};
}

// --- TcpListener ------------------------------------------------------------------------

TcpListener& TcpListener::operator=(TcpListener&& other) noexcept {
  if (this != &other) {
    close();
    state_ = std::exchange(other.state_, nullptr);
  }
  return *this;
}

async::Task<Result<TcpFlow>> TcpListener::accept() {
  for (;;) {
    detail::TcpListenerState* state = state_;
    if (state == nullptr) co_return Error{Errc::kClosed, "listener closed"};
    if (!state->ready.empty()) {
      detail::TcpSocket* socket = state->ready.front();
      state->ready.pop_front();
      socket->listener = nullptr;
      socket->app_owned = true;
      co_return TcpFlow(socket);
    }
    state->acceptable.reset();
    CO_TRY(co_await state->acceptable.wait());
  }
}

void TcpListener::close() {
  if (state_ == nullptr) return;
  detail::TcpListenerState* state = std::exchange(state_, nullptr);
  state->layer->close_listener(state);
}

Endpoint TcpListener::local() const {
  if (state_ == nullptr) return {};
  return {state_->layer->output_.address(), state_->port};
}

// --- TcpLayer ---------------------------------------------------------------------------

TcpLayer::TcpLayer(IpOutput& output, const TcpLayerConfig& config)
    : output_(output),
      config_(config),
      memory_reserve_(config.memory_reserve != 0 ? config.memory_reserve
                                                 : default_memory_reserve()),
      buffer_budget_{config.heap_free_bytes, memory_reserve_ / 2} {}

bool TcpLayer::memory_for_connection() const {
  // A connection costs a few KiB at first and grows its buffers with use; the reserve is
  // what keeps the application's own allocations from failing when many peers connect.
  return config_.heap_free_bytes() >= memory_reserve_;
}

TcpLayer::~TcpLayer() = default;

TcpConfig TcpLayer::connection_config() const {
  TcpConfig config = config_.connection;
  config.buffer_budget = &buffer_budget_;
  // RFC 9293 §3.7.1: MSS = MTU minus the fixed IPv4 and TCP headers.
  config.mss = uint16_t(output_.mtu() - kIpv4HeaderSize - kTcpHeaderSize);
  if (output_.offloads() & platform::kNetOffloadTso4) config.tso_max_payload = kTsoMaxPayload;
  return config;
}

uint32_t TcpLayer::initial_sequence(const TcpEndpoints& endpoints) {
  // RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a
  // 4-microsecond timer and F a keyed pseudorandom function: here one ChaCha20 block
  // keyed by the image's secret with the connection's identity as the nonce.
  std::array<uint8_t, 12> nonce{};
  std::copy_n(endpoints.local_address.bytes.begin(), 4, nonce.begin());
  std::copy_n(endpoints.remote_address.bytes.begin(), 4, nonce.begin() + 4);
  nonce[8] = uint8_t(endpoints.local_port >> 8);
  nonce[9] = uint8_t(endpoints.local_port);
  nonce[10] = uint8_t(endpoints.remote_port >> 8);
  nonce[11] = uint8_t(endpoints.remote_port);
  std::array<uint8_t, 64> block{};
  random::chacha20_block(config_.secret, 0, nonce, block);
  uint32_t f = uint32_t{block[0]} | uint32_t{block[1]} << 8 | uint32_t{block[2]} << 16 |
               uint32_t{block[3]} << 24;
  return f + uint32_t(output_.now() / 4000);
}

async::Task<Result<TcpListener>> TcpLayer::listen(uint16_t port) {
  if (port == 0) {
    for (uint32_t candidate = kEphemeralFirst; candidate <= 65535; ++candidate) {
      if (!listeners_.contains(uint16_t(candidate))) {
        port = uint16_t(candidate);
        break;
      }
    }
    if (port == 0) co_return Error{Errc::kAddressInUse, "no free port to listen on"};
  }
  if (listeners_.contains(port)) co_return Error{Errc::kAddressInUse, "port already listening"};
  auto state = std::make_unique<detail::TcpListenerState>();
  state->layer = this;
  state->port = port;
  state->backlog = config_.backlog;
  detail::TcpListenerState* raw = state.get();
  listeners_.emplace(port, std::move(state));
  co_return TcpListener(raw);
}

void TcpLayer::close_listener(detail::TcpListenerState* state) {
  state->open = false;
  uint64_t now = output_.now();
  // Connections nobody accepted are reset (as Linux does when a listener closes).
  auto pending = std::move(state->half_open);
  for (detail::TcpSocket* socket : state->ready) pending.push_back(socket);
  state->ready.clear();
  for (detail::TcpSocket* socket : pending) {
    socket->listener = nullptr;
    socket->connection->abort(now);
    after(*socket);
  }
  listeners_.erase(state->port);  // wakes a waiting accept() with kCancelled
  sweep();
}

uint16_t TcpLayer::ephemeral_port(Ipv4Address remote, uint16_t remote_port) {
  for (uint32_t tries = 0; tries < 65536u - kEphemeralFirst; ++tries) {
    uint16_t candidate = next_ephemeral_;
    next_ephemeral_ = next_ephemeral_ == 65535 ? kEphemeralFirst : uint16_t(next_ephemeral_ + 1);
    if (!listeners_.contains(candidate) &&
        !sockets_.contains(key_of(remote, remote_port, candidate)))
      return candidate;
  }
  return 0;
}

async::Task<Result<TcpFlow>> TcpLayer::connect(Ipv4Address address, uint16_t port) {
  Ipv4Address local = output_.address();
  if (local.is_unspecified()) co_return Error{Errc::kUnreachable, "no IPv4 address yet"};
  if (port == 0 || address.is_unspecified() || address.is_broadcast() || address.is_multicast())
    co_return Error{Errc::kInvalidArgument, "connect to a bad address or port 0"};
  if (sockets_.size() >= config_.max_connections && !make_room())
    co_return Error{Errc::kNoMemory, "too many TCP connections"};
  if (!memory_for_connection())
    co_return Error{Errc::kNoMemory, "too little free memory for another TCP connection"};
  uint16_t local_port = ephemeral_port(address, port);
  if (local_port == 0) co_return Error{Errc::kAddressInUse, "no free ephemeral port"};
  TcpEndpoints endpoints{local, local_port, address, port};
  uint64_t now = output_.now();
  auto socket = std::make_unique<detail::TcpSocket>();
  socket->layer = this;
  socket->app_owned = true;
  detail::TcpSocket* raw = socket.get();
  sockets_.emplace(key_of(address, port, local_port), std::move(socket));
  auto connection = TcpConnection::connect(connection_config(), endpoints,
                                           initial_sequence(endpoints), *this, now);
  if (!connection) {
    sockets_.erase(key_of(address, port, local_port));
    co_return connection.error();
  }
  raw->connection = std::move(*connection);
  ++stats_.active_opens;
  after(*raw);
  TcpFlow flow(raw);  // from here on, leaving early closes (or aborts) the attempt
  for (;;) {
    TcpConnection& c = *raw->connection;
    if (c.error()) co_return *c.error();
    if (c.state() == TcpState::kClosed)
      co_return Error{Errc::kConnectionRefused, "connection closed during the handshake"};
    if (!handshaking(c.state())) co_return std::move(flow);
    raw->established.reset();
    auto waited = co_await raw->established.wait();
    if (!waited) {
      flow.abort();
      co_return waited.error();
    }
  }
}

void TcpLayer::transmit(const TcpEndpoints& endpoints, const TcpSegmentHeader& header,
                        std::span<const uint8_t> payload1, std::span<const uint8_t> payload2) {
  const size_t length = payload1.size() + payload2.size();
  if (header.tso_segment_size != 0 && length > header.tso_segment_size) {
    if (auto large = output_.allocate_large()) {
      send_segment(endpoints, header, std::move(*large), payload1, payload2);
      return;
    }
    // Every large buffer is waiting for the device: cut the segment here, as the device
    // would have (one header per piece, sequence advanced, PSH and FIN on the last).
    TcpSegmentHeader piece = header;
    piece.tso_segment_size = 0;
    const uint8_t last_flags = header.flags;
    for (size_t offset = 0; offset < length; offset += header.tso_segment_size) {
      const size_t n = std::min<size_t>(header.tso_segment_size, length - offset);
      const bool last = offset + n == length;
      piece.sequence = header.sequence + uint32_t(offset);
      piece.flags = last ? last_flags : uint8_t(last_flags & ~(kTcpPsh | kTcpFin));
      auto first = offset < payload1.size() ? payload1.subspan(offset) : std::span<const uint8_t>{};
      auto second = payload2.subspan(offset < payload1.size() ? 0 : offset - payload1.size());
      if (first.size() >= n) {
        first = first.first(n);
        second = {};
      } else {
        second = second.first(n - first.size());
      }
      auto packet = output_.allocate();
      if (!packet) {
        counters_.drop(TcpDrop::kNoBuffer);
        return;
      }
      send_segment(endpoints, piece, std::move(*packet), first, second);
    }
    return;
  }
  auto packet = output_.allocate();
  if (!packet) {
    counters_.drop(TcpDrop::kNoBuffer);
    return;
  }
  TcpSegmentHeader single = header;
  single.tso_segment_size = 0;
  send_segment(endpoints, single, std::move(*packet), payload1, payload2);
}

bool TcpLayer::link_busy(const TcpEndpoints& endpoints) {
  if (!output_.link_busy()) return false;
  Key key = key_of(endpoints.remote_address, endpoints.remote_port, endpoints.local_port);
  auto found = sockets_.find(key);
  if (found != sockets_.end() && !found->second->link_waiting) {
    found->second->link_waiting = true;
    link_waiters_.push_back(key);
  }
  return true;
}

void TcpLayer::resume(uint64_t now) {
  std::vector<Key> waiting = std::move(link_waiters_);
  link_waiters_.clear();
  size_t done = 0;
  for (; done < waiting.size() && !output_.link_busy(); ++done) {
    auto found = sockets_.find(waiting[done]);
    if (found == sockets_.end() || !found->second->link_waiting) continue;
    detail::TcpSocket& socket = *found->second;
    socket.link_waiting = false;
    socket.connection->push(now);  // may wait again: back into link_waiters_
    after(socket);
  }
  // Those not reached go first next time, then those that waited again: every waiter
  // gets its turn even when the link takes only a few segments per call.
  waiting.erase(waiting.begin(), waiting.begin() + std::ptrdiff_t(done));
  waiting.insert(waiting.end(), link_waiters_.begin(), link_waiters_.end());
  link_waiters_ = std::move(waiting);
  sweep();
}

void TcpLayer::send_segment(const TcpEndpoints& endpoints, const TcpSegmentHeader& header,
                            PacketBuffer packet, std::span<const uint8_t> payload1,
                            std::span<const uint8_t> payload2) {
  if (!packet.append_bytes(payload1) || !packet.append_bytes(payload2)) {
    counters_.drop(TcpDrop::kNoBuffer);
    return;
  }
  // With checksum offload the device completes every segment's checksum: the stack
  // never reads the payload it just copied.
  const ChecksumBy by = (output_.offloads() & platform::kNetOffloadChecksum) ? ChecksumBy::kDevice
                                                                             : ChecksumBy::kStack;
  if (!tcp_prepend(header, endpoints.local_address, endpoints.remote_address, packet, counters_,
                   by))
    return;
  // Linux sets DF on TCP (RFC 1191 path MTU discovery); the MSS keeps segments within it.
  Ipv4SendParams params{endpoints.local_address, endpoints.remote_address, IpProtocol::kTcp,
                        next_ip_id_++};
  params.fragmentation = Fragmentation::kDontFragment;
  (void)output_.send_ipv4(params, std::move(packet));
}

void TcpLayer::send_reset_for(const Ipv4Datagram& ip, const TcpSegment& segment) {
  // RFC 9293 §3.10.7.1: a segment for no connection gets a RST unless it is one: with
  // ACK, <SEQ=SEG.ACK><CTL=RST>; else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
  if (segment.has(kTcpRst)) return;
  TcpSegmentHeader reset;
  reset.source_port = segment.destination_port;
  reset.destination_port = segment.source_port;
  if (segment.has(kTcpAck)) {
    reset.sequence = segment.acknowledgment;
    reset.flags = kTcpRst;
  } else {
    uint32_t length = uint32_t(segment.payload.size()) + (segment.has(kTcpSyn) ? 1 : 0) +
                      (segment.has(kTcpFin) ? 1 : 0);
    reset.sequence = 0;
    reset.acknowledgment = segment.sequence + length;
    reset.flags = kTcpRst | kTcpAck;
  }
  TcpEndpoints endpoints{ip.destination, segment.destination_port, ip.source, segment.source_port};
  ++stats_.resets_sent;
  transmit(endpoints, reset, {}, {});
}

bool TcpLayer::make_room() {
  // At the bound, a connection in TIME_WAIT that nobody holds gives way (as Linux's
  // tcp_max_tw_buckets): its only job is absorbing stray duplicates.
  for (auto& [key, socket] : sockets_) {
    if (!socket->app_owned && socket->connection &&
        socket->connection->state() == TcpState::kTimeWait) {
      stats_.closed += socket->connection->stats();
      sockets_.erase(key);
      return true;
    }
  }
  return false;
}

void TcpLayer::handle_syn(detail::TcpListenerState& listener, const Ipv4Datagram& ip,
                          const TcpSegment& segment) {
  uint64_t now = output_.now();
  // The backlog bounds what the listener holds: connections waiting for accept() and
  // half-open ones, which will join them. When it is full, a half-open entry whose
  // SYN-ACK has gone unanswered for kHalfOpenStaleNs (a SYN flood's spoofed sources, or a
  // client that vanished) gives way to the new SYN: a flood costs at most `backlog`
  // entries and cannot lock real clients out. Otherwise the SYN is dropped and the peer
  // retries it, so a burst of real clients is slowed, never reset after connecting.
  if (listener.ready.size() + listener.half_open.size() >= listener.backlog) {
    detail::TcpSocket* oldest = listener.half_open.empty() ? nullptr : listener.half_open.front();
    if (oldest == nullptr || now - oldest->created_ns < kHalfOpenStaleNs) {
      ++stats_.syn_dropped;
      return;
    }
    listener.half_open.pop_front();
    oldest->listener = nullptr;
    oldest->connection->abort(now);
    ++stats_.half_open_evicted;
    after(*oldest);
    sweep();
  }
  if (sockets_.size() >= config_.max_connections && !make_room()) {
    ++stats_.syn_dropped;
    return;
  }
  // Dropped, not reset: the peer retries, and memory may have been freed by then.
  if (!memory_for_connection()) {
    ++stats_.syn_dropped;
    ++stats_.syn_dropped_low_memory;
    return;
  }
  TcpEndpoints endpoints{ip.destination, segment.destination_port, ip.source, segment.source_port};
  auto socket = std::make_unique<detail::TcpSocket>();
  socket->layer = this;
  socket->listener = &listener;
  socket->created_ns = now;
  detail::TcpSocket* raw = socket.get();
  Key key = key_of(ip.source, segment.source_port, segment.destination_port);
  sockets_.emplace(key, std::move(socket));
  auto connection = TcpConnection::accept(connection_config(), endpoints, segment,
                                          initial_sequence(endpoints), *this, now);
  if (!connection) {
    sockets_.erase(key);
    ++stats_.syn_dropped;
    if (connection.error().code == Errc::kNoMemory) ++stats_.syn_dropped_low_memory;
    return;
  }
  raw->connection = std::move(*connection);
  listener.half_open.push_back(raw);
  ++stats_.passive_opens;
  after(*raw);
}

void TcpLayer::input(const Ipv4Datagram& ip) {
  ++counters_.received;
  auto segment =
      counters_.accept(parse_tcp(ip.payload, ip.source, ip.destination, ip.transport_checksum));
  if (!segment) return;
  // RFC 1122 §4.2.3.10: TCP never answers or accepts broadcasts.
  if (ip.destination != output_.address()) {
    counters_.drop(TcpDrop::kBadPort);
    return;
  }
  ++counters_.delivered;
  uint64_t now = output_.now();
  Key key = key_of(ip.source, segment->source_port, segment->destination_port);
  auto found = sockets_.find(key);
  auto listener = listeners_.find(segment->destination_port);
  bool is_syn = segment->has(kTcpSyn) && !segment->has(kTcpAck) && !segment->has(kTcpRst);
  if (found != sockets_.end() && is_syn && listener != listeners_.end() &&
      found->second->connection->state() == TcpState::kTimeWait && !found->second->app_owned) {
    // RFC 9293 §3.10.7.4 / RFC 6191: a new SYN may reopen a connection in TIME_WAIT; the
    // new ISN comes from the clock, so it is above the old connection's sequence space.
    stats_.closed += found->second->connection->stats();
    sockets_.erase(found);
    found = sockets_.end();
  }
  if (found != sockets_.end()) {
    detail::TcpSocket& socket = *found->second;
    socket.connection->on_segment(*segment, now);
    after(socket);
    sweep();
    return;
  }
  if (listener != listeners_.end() && listener->second->open) {
    // RFC 9293 §3.10.7.2 (LISTEN): RST is ignored, an ACK is answered with RST, a SYN
    // starts a connection, anything else is dropped.
    if (segment->has(kTcpRst)) return;
    if (segment->has(kTcpAck)) {
      send_reset_for(ip, *segment);
      return;
    }
    if (segment->has(kTcpSyn)) handle_syn(*listener->second, ip, *segment);
    return;
  }
  send_reset_for(ip, *segment);
}

void TcpLayer::after(detail::TcpSocket& socket) {
  TcpConnection& connection = *socket.connection;
  uint32_t events = connection.take_events();
  constexpr uint32_t kEnded = TcpConnection::kClosedEvent | TcpConnection::kErrorEvent;
  if (events & TcpConnection::kEstablishedEvent) {
    socket.established.set();
    if (detail::TcpListenerState* listener = socket.listener) {
      auto it = std::find(listener->half_open.begin(), listener->half_open.end(), &socket);
      if (it != listener->half_open.end()) listener->half_open.erase(it);
      if (listener->ready.size() < listener->backlog) {
        listener->ready.push_back(&socket);
        listener->acceptable.set();
      } else {
        ++stats_.accept_overflow;
        socket.listener = nullptr;
        connection.abort(output_.now());
        (void)connection.take_events();
      }
    }
  }
  if (events & TcpConnection::kReadableEvent) socket.readable.set();
  if (events & TcpConnection::kWritableEvent) socket.writable.set();
  if (events & kEnded) {
    if (events & TcpConnection::kErrorEvent) ++stats_.failed;
    socket.readable.set();
    socket.writable.set();
    socket.established.set();
  }
  if (connection.state() == TcpState::kClosed) {
    forget(socket);
    if (!socket.app_owned && !socket.reap) {
      socket.reap = true;
      to_reap_.push_back(&socket);
    }
  }
  uint64_t deadline = connection.next_deadline();
  if (deadline < next_deadline_) {
    next_deadline_ = deadline;
    output_.timer_armed(deadline);
  }
}

void TcpLayer::forget(detail::TcpSocket& socket) {
  detail::TcpListenerState* listener = std::exchange(socket.listener, nullptr);
  if (listener == nullptr) return;
  for (auto* queue : {&listener->half_open, &listener->ready}) {
    auto it = std::find(queue->begin(), queue->end(), &socket);
    if (it != queue->end()) queue->erase(it);
  }
}

void TcpLayer::sweep() {
  for (detail::TcpSocket* socket : to_reap_) {
    const TcpEndpoints& e = socket->connection->endpoints();
    stats_.closed += socket->connection->stats();
    sockets_.erase(key_of(e.remote_address, e.remote_port, e.local_port));
  }
  to_reap_.clear();
}

void TcpLayer::tick(uint64_t now) {
  if (now < next_deadline_) return;
  uint64_t next = UINT64_MAX;
  for (auto& [key, socket] : sockets_) {
    TcpConnection& connection = *socket->connection;
    if (connection.next_deadline() <= now) {
      connection.on_timer(now);
      after(*socket);
    }
    next = std::min(next, connection.next_deadline());
  }
  next_deadline_ = next;
  sweep();
}

void TcpLayer::defer_push(detail::TcpSocket& socket) {
  if (socket.push_pending) return;
  socket.push_pending = true;
  const TcpEndpoints& e = socket.connection->endpoints();
  to_push_.push_back(key_of(e.remote_address, e.remote_port, e.local_port));
  output_.request_push();
}

void TcpLayer::push(uint64_t now) {
  // Connections do not call back into the layer while sending, so the list cannot grow
  // during the walk.
  for (Key key : to_push_) {
    auto found = sockets_.find(key);
    if (found == sockets_.end() || !found->second->push_pending) continue;
    detail::TcpSocket& socket = *found->second;
    socket.push_pending = false;
    socket.connection->push(now);
    after(socket);
  }
  to_push_.clear();
  sweep();
}

size_t TcpLayer::closing() const {
  size_t count = 0;
  for (const auto& [key, socket] : sockets_) {
    TcpState state = socket->connection->state();
    if (!socket->app_owned && (state == TcpState::kFinWait1 || state == TcpState::kClosing ||
                               state == TcpState::kLastAck))
      ++count;
  }
  return count;
}

TcpConnectionStats TcpLayer::total_connection_stats() const {
  TcpConnectionStats total = stats_.closed;
  for (const auto& [key, socket] : sockets_) total += socket->connection->stats();
  return total;
}

}  // namespace morgana::net
