// The HTTP/1.1 server (issue 5) over any net::Stack: keep-alive and pipelining (RFC 9112
// §9.3), Expect: 100-continue (RFC 9110 §10.1.1), error statuses from the parser with the
// connection closed after them (RFC 9112 §9.6), an access log line per request on the
// console, and bounds that keep slow or idle clients from holding the server:
//
// - idle_timeout: a keep-alive connection with no request in progress is closed quietly;
// - header_timeout: the whole header section must arrive within it, counted from its
//   first byte and not extended by each byte that trickles in (slowloris): 408, close;
// - body_timeout, write_timeout: for the request body and for writing a response;
// - max_connections: at the limit, a new connection evicts the oldest connection that is
//   idle or still reading a header (that is what a slowloris holds); when every
//   connection is busy with a request, the new one gets 503 and is closed.
//
//   http::Router router;  ... routes ...
//   http::Server<net::AppStack> server(stack, router, {.port = 80});
//   CO_TRY(co_await server.run());   // until cancelled
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "morgana/async/async.h"
#include "morgana/net/stack.h"
#include "morgana/proto/http/date.h"
#include "morgana/proto/http/parser.h"
#include "morgana/proto/http/request.h"
#include "morgana/proto/http/response.h"
#include "morgana/proto/http/router.h"
#include "morgana/rt/heap.h"

namespace morgana::http {

enum class AccessLog : uint8_t { kOff, kOn };

// ServerConfig's memory-bound defaults for a heap of `heap_bytes` (0: unbounded, as on
// the host), so that a small image (4 MiB of RAM) does not admit more connections than
// it can hold. Large heaps get 256 connections with 16 KiB read buffers.
constexpr size_t default_max_connections(size_t heap_bytes) {
  // One per 32 KiB of heap, at least 8. A connection costs about 18 KiB idle in a 4 MiB
  // image (its TCP buffers' first 4 KiB each and the server's state), more once its
  // buffers grow; but the TCP layer's heap reserve holds further clients off (their SYNs
  // wait) before memory runs short, so this limit sits above what that admits: reaching
  // it evicts idle keep-alive clients, which is worse than making new ones wait.
  if (heap_bytes == 0) return 256;
  return std::clamp<size_t>(heap_bytes / (32 * 1024), 8, 256);
}
constexpr size_t default_read_buffer(size_t heap_bytes) {
  // The parser keeps the head itself: this buffer is only what one read takes.
  return heap_bytes != 0 && heap_bytes < (size_t{16} << 20) ? 4096 : 16384;
}

struct ServerConfig {
  uint16_t port = 80;
  Limits limits;
  async::Duration idle_timeout = std::chrono::seconds(30);
  async::Duration header_timeout = std::chrono::seconds(10);
  async::Duration body_timeout = std::chrono::seconds(30);
  async::Duration write_timeout = std::chrono::seconds(60);
  size_t max_connections = default_max_connections(rt::heap_size_bytes());
  // Bytes each connection reads at a time (allocated per connection; at least 1).
  size_t read_buffer = default_read_buffer(rt::heap_size_bytes());
  std::string_view server_name = "Morgana";
  // The wall clock for Date (RFC 9110 §6.6.1: an origin server with a clock MUST send
  // it); the application passes platform::wall_clock_ns. nullptr: no Date field.
  uint64_t (*wall_clock_ns)() = nullptr;
  AccessLog access_log = AccessLog::kOn;
};

struct ServerStats {
  uint64_t connections = 0;   // accepted
  uint64_t requests = 0;      // answered, errors included
  uint64_t bad_requests = 0;  // ended by a parser error status
  uint64_t header_timeouts = 0;
  uint64_t idle_closed = 0;
  uint64_t evicted = 0;  // closed to make room at the connection limit
  uint64_t busy = 0;     // refused with 503 at the limit
};

// Writes a response's head and body on `flow` (HEAD: the head only), framed as
// format_head decided. `scratch` holds stream parts read through response.reader.
template <typename Flow>
async::Task<Result<void>> write_response(Flow& flow, const Response& response,
                                         const HeadContext& context, bool head_only,
                                         std::vector<uint8_t>& scratch) {
  Framing framing;
  std::string head = format_head(response, context, framing);
  bool body = !head_only && !status_has_no_body(response.status);
  bool has_stream = false;
  uint64_t size = 0;
  for (const BodyPart& part : response.body) {
    has_stream |= part.kind == BodyPart::Kind::kStream;
    size += part.size();
  }
  // Small responses go out in one write: one segment for the head and body together.
  constexpr uint64_t kCoalesce = 16384;
  if (!body || (!has_stream && framing == Framing::kSized && size <= kCoalesce)) {
    if (body)
      for (const BodyPart& part : response.body) {
        if (part.kind == BodyPart::Kind::kOwned)
          head += part.owned;
        else
          head.append(reinterpret_cast<const char*>(part.borrowed.data()), part.borrowed.size());
      }
    co_return co_await flow.write({reinterpret_cast<const uint8_t*>(head.data()), head.size()});
  }
  auto bytes = [](std::string_view s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  CO_TRY(co_await flow.write(bytes(head)));
  for (const BodyPart& part : response.body) {
    if (part.size() == 0) continue;
    if (framing == Framing::kChunked) {
      std::string line = chunk_size_line(part.size());
      CO_TRY(co_await flow.write(bytes(line)));
    }
    if (part.kind == BodyPart::Kind::kOwned) {
      CO_TRY(co_await flow.write(bytes(part.owned)));
    } else if (part.kind == BodyPart::Kind::kBorrowed) {
      CO_TRY(co_await flow.write(part.borrowed));
    } else {
      if (!response.reader) co_return Error{Errc::kInvalidArgument, "stream part without a reader"};
      if (scratch.size() < 16384) scratch.resize(16384);
      uint64_t offset = part.offset, left = part.length;
      while (left > 0) {
        size_t want = size_t(std::min<uint64_t>(left, scratch.size()));
        CO_TRY_ASSIGN(size_t got, co_await response.reader(offset, {scratch.data(), want}));
        if (got == 0) co_return Error{Errc::kIo, "content shorter than its size"};
        CO_TRY(co_await flow.write({scratch.data(), got}));
        offset += got;
        left -= got;
      }
    }
    if (framing == Framing::kChunked) CO_TRY(co_await flow.write(bytes("\r\n")));
  }
  if (framing == Framing::kChunked) CO_TRY(co_await flow.write(bytes("0\r\n\r\n")));
  co_return ok();
}

template <net::Stack S>
class Server {
 public:
  using Flow = typename S::TcpFlow;

  // `stack` and `router` must outlive the server.
  Server(S& stack, const Router& router, ServerConfig config = {})
      : stack_(stack), router_(router), config_(config) {}

  // Listens on config.port and serves until cancelled; then stops every connection and
  // waits for them.
  async::Task<Result<void>> run() {
    CO_TRY_ASSIGN(auto listener, co_await stack_.tcp().listen(config_.port));
    async::Scope connections(async::Loop::current(), co_await async::current_stop_token());
    Result<void> result;
    for (;;) {
      auto flow = co_await listener.accept();
      if (!flow) {
        result = flow.error();
        break;
      }
      ++stats_.connections;
      if (active_connections() >= config_.max_connections && !evict_one()) {
        ++stats_.busy;
        (void)connections.spawn(refuse(std::move(*flow)));
        continue;
      }
      (void)connections.spawn(serve_connection(std::move(*flow)));
    }
    listener.close();
    connections.request_stop();
    (void)co_await connections.join();
    co_return result;
  }

  const ServerStats& stats() const { return stats_; }
  size_t live_connections() const { return live_.size(); }

 private:
  struct Connection {
    async::StopSource* stop = nullptr;
    bool waiting = true;  // idle or reading a header: what eviction may end
  };

  // Connections not already told to stop: one that was evicted stays on the list until it
  // has finished closing, and must not make a burst of new clients look like a full server.
  size_t active_connections() const {
    size_t count = 0;
    for (const Connection& c : live_)
      if (!(c.stop && c.stop->stop_requested())) ++count;
    return count;
  }

  bool evict_one() {
    for (Connection& c : live_)  // oldest first
      if (c.waiting && c.stop && !c.stop->stop_requested()) {
        ++stats_.evicted;
        c.stop->request_stop();
        return true;
      }
    return false;
  }

  std::string_view date() {
    if (!config_.wall_clock_ns) return {};
    int64_t second = int64_t(config_.wall_clock_ns() / 1000000000u);
    if (second != date_second_) {
      date_second_ = second;
      date_ = format_http_date(second);
    }
    return date_;
  }

  HeadContext context(uint8_t version_minor, bool keep_alive) {
    return {version_minor, keep_alive, date(), config_.server_name};
  }

  void log(const Flow& flow, const Request* request, uint16_t status, uint64_t bytes) {
    if (config_.access_log == AccessLog::kOff) return;
    net::Endpoint peer = flow.remote();
    if (request)
      std::printf("http: %s:%u \"%s %.*s HTTP/1.%u\" %u %llu\n", peer.address.to_string().c_str(),
                  unsigned(peer.port), method_name(request->method), int(request->target.size()),
                  request->target.data(), unsigned(request->version_minor), unsigned(status),
                  (unsigned long long)bytes);
    else
      std::printf("http: %s:%u \"-\" %u 0\n", peer.address.to_string().c_str(), unsigned(peer.port),
                  unsigned(status));
  }

  async::Task<Result<void>> refuse(Flow flow) {
    Response response = Response::text(Status::kServiceUnavailable, "Service Unavailable\n");
    response.add_header("Retry-After", "1");
    std::vector<uint8_t> scratch;
    (void)co_await async::with_timeout(
        write_response(flow, response, context(1, false), false, scratch), config_.write_timeout);
    log(flow, nullptr, response.status, 0);
    flow.close();
    co_return ok();
  }

  async::Task<Result<void>> serve_connection(Flow flow) {
    // A response's last partial segment must not wait for the ACK of the one before:
    // with Nagle on, a peer's delayed ACK (40 ms on Linux) stalls every response that
    // ends in an odd number of segments (bench/http: 64 KiB at 50 requests/s).
    flow.set_nodelay(true);
    live_.emplace_back();
    auto self = std::prev(live_.end());
    async::StopSource stop(co_await async::current_stop_token());
    self->stop = &stop;
    Result<void> result =
        co_await async::with_stop_token(connection_loop(flow, &*self), stop.token());
    live_.erase(self);
    // Ends that are the peer's doing or ours (timeouts, eviction) are not failures.
    if (!result) {
      Errc code = result.error().code;
      if (code == Errc::kConnectionReset || code == Errc::kCancelled || code == Errc::kTimedOut ||
          code == Errc::kClosed) {
        flow.abort();
        co_return ok();
      }
      flow.abort();
      co_return result;
    }
    flow.close();
    co_return ok();
  }

  async::Task<Result<void>> connection_loop(Flow& flow, Connection* self) {
    std::vector<uint8_t> buffer(std::max<size_t>(config_.read_buffer, 1));
    std::vector<uint8_t> scratch;
    size_t begin = 0, end = 0;
    RequestParser parser(config_.limits);
    for (;;) {
      parser.reset();
      self->waiting = true;
      uint64_t idle_deadline = async::deadline_after(config_.idle_timeout);
      uint64_t header_deadline = 0, body_deadline = 0;
      bool continue_sent = false;
      for (;;) {
        if (begin < end) {
          ParseProgress progress =
              parser.parse(std::span<const uint8_t>(buffer.data() + begin, end - begin));
          begin += progress.consumed;
          if (progress.status == ParseStatus::kComplete) break;
          if (progress.status == ParseStatus::kError) {
            ++stats_.bad_requests;
            co_return co_await answer_error(flow, parser, parser.error_status(), scratch);
          }
        }
        begin = end = 0;
        if (parser.started() && header_deadline == 0)
          header_deadline = async::deadline_after(config_.header_timeout);
        uint64_t deadline = idle_deadline;
        if (parser.head_complete()) {
          self->waiting = false;
          if (body_deadline == 0) body_deadline = async::deadline_after(config_.body_timeout);
          deadline = body_deadline;
          if (parser.request().expect_continue && !continue_sent) {
            // RFC 9110 §10.1.1: tell the client to send the body it is holding back.
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            CO_TRY(co_await flow.write(
                {reinterpret_cast<const uint8_t*>(kContinue.data()), kContinue.size()}));
            continue_sent = true;
          }
        } else if (parser.started()) {
          deadline = header_deadline;
        }
        auto n = co_await async::with_deadline(flow.read(buffer), deadline);
        if (!n) {
          if (n.error().code == Errc::kTimedOut) {
            if (!parser.started()) {
              ++stats_.idle_closed;
              co_return ok();
            }
            ++stats_.header_timeouts;
            co_return co_await answer_error(flow, parser, Status::kRequestTimeout, scratch);
          }
          co_return n.error();
        }
        if (*n == 0) co_return ok();  // the client closed; a partial request is dropped
        end = *n;
      }

      self->waiting = false;
      const Request& request = parser.request();
      Response response = co_await router_.dispatch(request);
      bool keep_alive = request.keep_alive && !response.close;
      bool head_only = request.method == Method::kHead;
      ++stats_.requests;
      Result<void> written = co_await async::with_timeout(
          write_response(flow, response, context(request.version_minor, keep_alive), head_only,
                         scratch),
          config_.write_timeout);
      log(flow, &request, response.status, head_only ? 0 : response.body_size());
      CO_TRY(written);
      if (!keep_alive) co_return ok();
    }
  }

  async::Task<Result<void>> answer_error(Flow& flow, const RequestParser& parser, Status status,
                                         std::vector<uint8_t>& scratch) {
    Response response = Response::text(status, std::string(reason_phrase(status)) + "\n");
    uint8_t minor = parser.head_complete() ? parser.request().version_minor : 1;
    ++stats_.requests;
    (void)co_await async::with_timeout(
        write_response(flow, response, context(minor, false), false, scratch),
        config_.write_timeout);
    log(flow, parser.head_complete() ? &parser.request() : nullptr, response.status, 0);
    co_return ok();
  }

  S& stack_;
  const Router& router_;
  ServerConfig config_;
  ServerStats stats_;
  std::list<Connection> live_;
  std::string date_;
  int64_t date_second_ = -1;
};

}  // namespace morgana::http
