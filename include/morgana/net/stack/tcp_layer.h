// TCP in Morgana's stack: demultiplexing segments to connections (TcpConnection, the
// sans-I/O engine), listeners with a bounded, evicting half-open queue and a bounded
// accept queue, RSTs for segments that match nothing (RFC 9293 §3.10.7.1), RFC 6528
// initial sequence numbers, connection timers, and the coroutine API applications use:
// TcpListener::accept, TcpLayer::connect, TcpFlow::read/write/shutdown_write/close/abort.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "morgana/async/event.h"
#include "morgana/async/task.h"
#include "morgana/net/endpoint.h"
#include "morgana/net/ipv4.h"
#include "morgana/net/stack/ip_output.h"
#include "morgana/net/tcp_connection.h"
#include "morgana/net/tcp_header.h"
#include "morgana/rt/heap.h"
#include "morgana/rt/result.h"

namespace morgana::net {

class TcpLayer;

namespace detail {
struct TcpListenerState;

// One connection and what the application waits on. Owned by the TcpLayer; a TcpFlow
// handle points at it while the application holds the flow.
struct TcpSocket {
  std::unique_ptr<TcpConnection> connection;
  TcpLayer* layer = nullptr;
  TcpListenerState* listener = nullptr;  // until accepted
  async::Event readable;                 // bytes, EOF or error
  async::Event writable;                 // send-buffer space or error
  async::Event established;              // handshake done or failed
  uint64_t created_ns = 0;               // when the SYN arrived (passive opens)
  bool app_owned = false;                // a TcpFlow refers to it
  bool reap = false;                     // CLOSED and unowned: free at the next sweep
  bool push_pending = false;             // written to this turn; in TcpLayer::to_push_
  bool link_waiting = false;             // held data back for a busy link; in link_waiters_
};

struct TcpListenerState {
  TcpLayer* layer = nullptr;
  uint16_t port = 0;
  bool open = true;
  size_t backlog = 0;
  std::deque<TcpSocket*> half_open;  // SYN-RECEIVED, oldest first
  std::deque<TcpSocket*> ready;      // established, waiting for accept()
  async::Event acceptable;
};
}  // namespace detail

// An open connection, as the application holds it. Move-only. Destroying it closes it
// gracefully (as close()). The stack must outlive its flows.
class TcpFlow {
 public:
  TcpFlow() = default;
  TcpFlow(TcpFlow&& other) noexcept : socket_(std::exchange(other.socket_, nullptr)) {}
  TcpFlow& operator=(TcpFlow&& other) noexcept;
  TcpFlow(const TcpFlow&) = delete;
  TcpFlow& operator=(const TcpFlow&) = delete;
  ~TcpFlow() { close(); }

  // See morgana/net/stack.h for the semantics shared by every stack.
  async::Task<Result<size_t>> read(std::span<uint8_t> buffer);
  async::Task<Result<void>> write(std::span<const uint8_t> bytes);
  Result<void> shutdown_write();
  void close();
  void abort();
  void set_nodelay(bool on);
  Endpoint local() const;
  Endpoint remote() const;
  explicit operator bool() const { return socket_ != nullptr; }
  // The engine's counters and estimates (RTT, cwnd) for this flow; null when closed.
  const TcpConnection* connection() const { return socket_ ? socket_->connection.get() : nullptr; }

 private:
  friend class TcpLayer;
  friend class TcpListener;
  explicit TcpFlow(detail::TcpSocket* socket) : socket_(socket) {}
  detail::TcpSocket* socket_ = nullptr;
};

// A listening port. Move-only; destroying it stops listening (close()).
class TcpListener {
 public:
  TcpListener() = default;
  TcpListener(TcpListener&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  TcpListener& operator=(TcpListener&& other) noexcept;
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;
  ~TcpListener() { close(); }

  // Waits for an established connection. kCancelled when stopped (no connection is
  // lost: it stays queued); kClosed after close().
  async::Task<Result<TcpFlow>> accept();
  // Stops listening; connections not yet accepted are reset.
  void close();
  Endpoint local() const;

 private:
  friend class TcpLayer;
  explicit TcpListener(detail::TcpListenerState* state) : state_(state) {}
  detail::TcpListenerState* state_ = nullptr;
};

struct TcpLayerConfig {
  TcpConfig connection;              // per-connection defaults (mss is set from the MTU)
  size_t max_connections = 1024;     // every state, TIME_WAIT included
  size_t backlog = 128;              // per listener: half-open and accept queues each
  std::array<uint8_t, 32> secret{};  // RFC 6528 F()'s key, from the image's random source
  // Heap bytes kept free for the application: a SYN (or connect()) finding less free is
  // refused, so many idle or slow peers cannot take the memory the application needs for
  // ordinary work; and connections' buffers grow only while half of it stays free. 0
  // picks max(1 MiB, heap size / 16), or a quarter of a heap under 4 MiB (1 MiB would be
  // most of what is left there once the stack has its packet buffers).
  size_t memory_reserve = 0;
  // Where the free heap is read from (SIZE_MAX: unbounded); tests substitute their own.
  size_t (*heap_free_bytes)() = rt::heap_free_bytes;
};

// Totals over every connection, live and gone.
struct TcpLayerStats {
  uint64_t active_opens = 0;
  uint64_t passive_opens = 0;
  uint64_t failed = 0;                  // reset, refused or timed out
  uint64_t resets_sent = 0;             // to segments matching no connection
  uint64_t syn_dropped = 0;             // no listener slot, over max_connections, or low memory
  uint64_t syn_dropped_low_memory = 0;  // of those, for the heap reserve (or no buffers)
  uint64_t half_open_evicted = 0;
  uint64_t accept_overflow = 0;  // established but the accept queue was full
  TcpConnectionStats closed;     // summed from connections that are gone
};

class TcpLayer final : private TcpOutput {
 public:
  TcpLayer(IpOutput& output, const TcpLayerConfig& config);
  ~TcpLayer();
  TcpLayer(const TcpLayer&) = delete;
  TcpLayer& operator=(const TcpLayer&) = delete;

  // Port 0 picks an ephemeral port. kAddressInUse when the port already listens.
  async::Task<Result<TcpListener>> listen(uint16_t port);
  // Active open; completes when established. kConnectionRefused, kTimedOut,
  // kUnreachable (no address yet), kCancelled (the attempt is aborted).
  async::Task<Result<TcpFlow>> connect(Ipv4Address address, uint16_t port);

  // A TCP segment for us (the IPv4 layer checked addresses).
  void input(const Ipv4Datagram& ip);
  // Runs connection timers that are due.
  void tick(uint64_t now);
  // Sends what flows wrote since the last push (autocorking): TcpFlow::write only queues
  // its bytes and asks the driver (IpOutput::request_push) to come here before the loop
  // sleeps, so an application's many writes of one turn leave as full segments (whole
  // TSO segments with a device that cuts them) rather than one segment each. Nagle and
  // set_nodelay apply here as they would have at each write: a nodelay flow's bytes
  // still leave in the turn they were written, never after a timer.
  void push(uint64_t now);
  uint64_t next_deadline() const { return next_deadline_; }
  // Connections that held data back because the link was busy (TcpOutput::link_busy).
  bool link_waiters() const { return !link_waiters_.empty(); }
  // The link has room again: lets the waiting connections send, oldest waiter first,
  // until the link is busy again (the rest keep their turn for the next call).
  void resume(uint64_t now);

  TcpCounters& counters() { return counters_; }
  const TcpLayerStats& stats() const { return stats_; }
  size_t connections() const { return sockets_.size(); }
  // Connections the application has closed whose data or FIN the peer has not yet
  // acknowledged (FIN-WAIT-1, CLOSING, LAST-ACK): what an image should wait for before
  // it exits, or the peer loses the end of the stream.
  size_t closing() const;
  // Sums the counters of live connections with those of closed ones.
  TcpConnectionStats total_connection_stats() const;
  // Calls f(const TcpConnection&) for every live connection.
  template <typename F>
  void for_each_connection(F&& f) const {
    for (const auto& [key, socket] : sockets_) f(*socket->connection);
  }
  const TcpLayerConfig& config() const { return config_; }

 private:
  friend class TcpFlow;
  friend class TcpListener;
  using Key = uint64_t;  // remote address, remote port, local port (one local address)
  static Key key_of(Ipv4Address remote, uint16_t remote_port, uint16_t local_port) {
    return uint64_t{remote.to_u32()} << 32 | uint64_t{remote_port} << 16 | local_port;
  }

  void transmit(const TcpEndpoints& endpoints, const TcpSegmentHeader& header,
                std::span<const uint8_t> payload1, std::span<const uint8_t> payload2) override;
  bool link_busy(const TcpEndpoints& endpoints) override;
  // Builds one segment in `packet` (payload copied in, headers prepended) and sends it.
  void send_segment(const TcpEndpoints& endpoints, const TcpSegmentHeader& header,
                    PacketBuffer packet, std::span<const uint8_t> payload1,
                    std::span<const uint8_t> payload2);
  // After the engine ran: wake waiters, move newly established connections to their
  // listener's queue, note the connection's deadline, and mark closed ones for reaping.
  void after(detail::TcpSocket& socket);
  void sweep();
  // Marks the socket for the next push() and asks the driver for one.
  void defer_push(detail::TcpSocket& socket);
  void send_reset_for(const Ipv4Datagram& ip, const TcpSegment& segment);
  void handle_syn(detail::TcpListenerState& listener, const Ipv4Datagram& ip,
                  const TcpSegment& segment);
  bool make_room();  // frees a TIME_WAIT slot when at max_connections
  uint32_t initial_sequence(const TcpEndpoints& endpoints);
  void forget(detail::TcpSocket& socket);  // leaves its listener's queues
  void close_listener(detail::TcpListenerState* state);
  uint16_t ephemeral_port(Ipv4Address remote, uint16_t remote_port);
  TcpConfig connection_config() const;
  // False when a new connection would eat into config_.memory_reserve.
  bool memory_for_connection() const;

  IpOutput& output_;
  TcpLayerConfig config_;
  size_t memory_reserve_;       // config_.memory_reserve, the default resolved
  GrowthBudget buffer_budget_;  // every connection's: half the reserve stays free
  std::unordered_map<Key, std::unique_ptr<detail::TcpSocket>> sockets_;
  std::unordered_map<uint16_t, std::unique_ptr<detail::TcpListenerState>> listeners_;
  std::vector<detail::TcpSocket*> to_reap_;
  // Sockets written to since the last push(), by key: one may be reaped meanwhile.
  std::vector<Key> to_push_;
  // Sockets waiting for the link (link_busy), by key, in the order they began to wait.
  std::vector<Key> link_waiters_;
  uint64_t next_deadline_ = UINT64_MAX;
  uint16_t next_ephemeral_ = 49152;
  uint16_t next_ip_id_ = 1;
  TcpCounters counters_;
  TcpLayerStats stats_;
};

}  // namespace morgana::net
