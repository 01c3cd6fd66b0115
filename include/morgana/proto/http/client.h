// The HTTP/1.1 client (issue 5) over any net::Stack: requests to an IPv4 server and port,
// persistent connections kept per server and reused (RFC 9112 §9.3), responses framed by
// Content-Length, chunked or the server's close (RFC 9112 §6.3, ResponseParser), limits
// on what a server can make it hold, and timeouts for connecting and for the response.
//
//   http::Client<net::AppStack> client(stack);
//   net::Endpoint server{*net::Ipv4Address::parse("10.0.0.1"), 80};
//   CO_TRY_ASSIGN(auto response, co_await client.get(server, "/index.html"));
//   // response.status, response.header("content-type"), response.body
//
// A request made while an earlier response from the same server is complete reuses its
// connection; an idempotent request (RFC 9110 §9.2.2) that finds its reused connection
// closed by the server before any byte of a response arrived is sent once more on a new
// connection (RFC 9112 §9.3.1). Each request task completes exactly once; cancelling it
// (its stop token) aborts its connection and yields kCancelled.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "morgana/async/async.h"
#include "morgana/net/endpoint.h"
#include "morgana/net/stack.h"
#include "morgana/proto/http/request.h"
#include "morgana/proto/http/response_parser.h"
#include "morgana/rt/result.h"

namespace morgana::http {

struct ClientConfig {
  ClientLimits limits;
  // Opening the TCP connection (handshake) must finish within it: then kTimedOut.
  async::Duration connect_timeout = std::chrono::seconds(10);
  // From the start of writing the request until its response's head has arrived.
  async::Duration response_timeout = std::chrono::seconds(30);
  // While reading the content: the longest wait for the next bytes.
  async::Duration read_timeout = std::chrono::seconds(30);
  // A kept-alive connection idle for longer is closed rather than reused: servers close
  // idle connections after a while (ours after 30 s, nginx after 75 s), and a request
  // sent just as they do is lost.
  async::Duration idle_timeout = std::chrono::seconds(15);
  size_t max_idle_connections = 4;          // kept-alive connections kept, over all servers
  std::string_view user_agent = "Morgana";  // empty: no User-Agent field
};

// What to send. Every view must stay valid until the request's task ends.
struct ClientRequest {
  Method method = Method::kGet;
  std::string_view path = "/";  // origin-form (RFC 9112 §3.2.1), with any query
  // Extra fields. The client adds Host (unless given), User-Agent (unless given) and
  // Content-Length (refused here, with Transfer-Encoding: it frames the body itself).
  std::span<const Header> headers;
  std::string_view body;  // sent with Content-Length; POST, PUT and PATCH always carry one
  BodySink body_sink;     // optional: receives the content instead of response.body
};

struct ClientStats {
  uint64_t requests = 0;     // responses received, whatever their status
  uint64_t failures = 0;     // requests that ended with an error
  uint64_t connections = 0;  // TCP connections opened
  uint64_t reused = 0;       // responses received on a kept-alive connection
  uint64_t retries = 0;      // requests sent again after a kept-alive connection closed
};

// The request's head, ending with the empty line, checked: the path must be origin-form
// without whitespace, controls or '#', field names tokens and values free of CR, LF and
// NUL (RFC 9110 §5.5), so no caller input can split the request. `close` is set when the
// caller's own Connection field asks to close after the response.
Result<std::string> format_request(const ClientRequest& request, net::Endpoint server,
                                   std::string_view user_agent, bool& close);

template <net::Stack S>
class Client {
 public:
  using Flow = typename S::TcpFlow;

  // `stack` must outlive the client.
  explicit Client(S& stack, ClientConfig config = {}) : stack_(stack), config_(config) {}
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `request` to `server` and returns the complete response, or an error:
  // kInvalidArgument for a request that cannot be sent, the stack's connect errors
  // (kConnectionRefused, kUnreachable), kTimedOut (connect_timeout, response_timeout,
  // read_timeout), kConnectionReset or kClosed when the server went away before the
  // response was complete, kMalformed, kOutOfRange (a limit) or kUnsupported with the
  // response parser's reason when the response cannot be read.
  async::Task<Result<ClientResponse>> request(net::Endpoint server, ClientRequest request) {
    bool close_after = false;
    auto head = format_request(request, server, config_.user_agent, close_after);
    if (!head) {
      ++stats_.failures;
      co_return head.error();
    }
    std::optional<Flow> flow = take_idle(server);
    bool reused = flow.has_value();
    if (!flow) {
      auto opened = co_await connect(server);
      if (!opened) {
        ++stats_.failures;
        co_return opened.error();
      }
      flow.emplace(std::move(*opened));
    }
    ExchangeState state;
    Result<ClientResponse> result = co_await exchange(*flow, request, *head, &state);
    if (!result && reused && !state.started && is_idempotent(request.method) &&
        is_stale_close(result.error().code)) {
      // RFC 9112 §9.3.1: the server closed the idle connection as we sent the request; a
      // user agent may send an idempotent request again on a new connection.
      flow->abort();
      flow.reset();
      ++stats_.retries;
      reused = false;
      auto opened = co_await connect(server);
      if (!opened) {
        ++stats_.failures;
        co_return opened.error();
      }
      flow.emplace(std::move(*opened));
      state = {};
      result = co_await exchange(*flow, request, *head, &state);
    }
    if (!result) {
      flow->abort();  // the connection is in an unknown state: never reused
      ++stats_.failures;
      co_return result.error();
    }
    ++stats_.requests;
    if (reused) ++stats_.reused;
    // Bytes after the response were not asked for (RFC 9112 §9.3.2 only lets a client
    // pipeline what it sent): the connection's framing cannot be trusted any more.
    if (result->keep_alive && !close_after && !state.extra_bytes)
      put_idle(server, std::move(*flow));
    else
      flow->close();
    co_return result;
  }

  async::Task<Result<ClientResponse>> get(net::Endpoint server, std::string_view path,
                                          std::span<const Header> headers = {}) {
    ClientRequest r;
    r.path = path;
    r.headers = headers;
    return request(server, std::move(r));
  }

  async::Task<Result<ClientResponse>> head(net::Endpoint server, std::string_view path,
                                           std::span<const Header> headers = {}) {
    ClientRequest r;
    r.method = Method::kHead;
    r.path = path;
    r.headers = headers;
    return request(server, std::move(r));
  }

  // A POST with `body` of type `content_type` (empty: no Content-Type field).
  async::Task<Result<ClientResponse>> post(net::Endpoint server, std::string_view path,
                                           std::string_view body, std::string_view content_type,
                                           std::span<const Header> headers = {}) {
    std::vector<Header> fields(headers.begin(), headers.end());
    if (!content_type.empty()) fields.push_back({"Content-Type", content_type});
    ClientRequest r;
    r.method = Method::kPost;
    r.path = path;
    r.headers = fields;
    r.body = body;
    co_return co_await request(server, std::move(r));
  }

  // Closes every kept-alive connection.
  void close_idle() {
    for (Idle& idle : idle_) idle.flow.close();
    idle_.clear();
  }
  size_t idle_connections() const { return idle_.size(); }
  const ClientStats& stats() const { return stats_; }
  const ClientConfig& config() const { return config_; }

 private:
  struct Idle {
    net::Endpoint server;
    Flow flow;
    uint64_t since;  // async::now() when it became idle
  };
  struct ExchangeState {
    bool started = false;      // any byte of a response arrived
    bool extra_bytes = false;  // the server sent more than the response
  };
  static constexpr size_t kReadBuffer = 16384;
  // Bodies up to this size go out in the same write as the head: one segment.
  static constexpr size_t kCoalesce = 16384;

  static bool is_idempotent(Method method) {
    // RFC 9110 §9.2.2: GET, HEAD, PUT, DELETE, OPTIONS and TRACE.
    return method != Method::kPost && method != Method::kPatch && method != Method::kConnect;
  }
  static bool is_stale_close(Errc code) {
    return code == Errc::kClosed || code == Errc::kConnectionReset;
  }

  std::optional<Flow> take_idle(net::Endpoint server) {
    const uint64_t now = async::now();
    const uint64_t max_idle = uint64_t(config_.idle_timeout.count());
    std::optional<Flow> found;
    for (size_t i = idle_.size(); i-- > 0;) {  // newest first
      if (now - idle_[i].since > max_idle) {
        idle_[i].flow.close();
      } else if (!found && idle_[i].server == server) {
        found.emplace(std::move(idle_[i].flow));
      } else {
        continue;
      }
      idle_.erase(idle_.begin() + long(i));
    }
    return found;
  }

  void put_idle(net::Endpoint server, Flow flow) {
    if (config_.max_idle_connections == 0) {
      flow.close();
      return;
    }
    if (idle_.size() >= config_.max_idle_connections) {  // the oldest makes room
      idle_.front().flow.close();
      idle_.erase(idle_.begin());
    }
    idle_.push_back(Idle{server, std::move(flow), async::now()});
  }

  async::Task<Result<Flow>> connect(net::Endpoint server) {
    auto opened = co_await async::with_timeout(stack_.tcp().connect(server.address, server.port),
                                               config_.connect_timeout);
    if (!opened) {
      if (opened.error().code == Errc::kTimedOut)
        co_return Error{Errc::kTimedOut, "connecting to the server timed out"};
      co_return opened.error();
    }
    ++stats_.connections;
    // A request and its body are written whole; waiting for an ACK before sending the
    // body's last segment (Nagle) would only add a round trip.
    opened->set_nodelay(true);
    co_return std::move(*opened);
  }

  async::Task<Result<void>> write_request(Flow& flow, const std::string& head,
                                          std::string_view body, uint64_t deadline) {
    auto bytes = [](std::string_view s) {
      return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    };
    if (body.size() <= kCoalesce) {
      std::string message = head;
      message.append(body);
      co_return co_await async::with_deadline(flow.write(bytes(message)), deadline);
    }
    CO_TRY(co_await async::with_deadline(flow.write(bytes(head)), deadline));
    co_return co_await async::with_deadline(flow.write(bytes(body)), deadline);
  }

  async::Task<Result<ClientResponse>> exchange(Flow& flow, const ClientRequest& request,
                                               const std::string& head, ExchangeState* state) {
    const uint64_t response_deadline = async::deadline_after(config_.response_timeout);
    Result<void> written = co_await write_request(flow, head, request.body, response_deadline);
    if (!written) {
      if (written.error().code == Errc::kTimedOut)
        co_return Error{Errc::kTimedOut, "sending the request timed out"};
      co_return written.error();
    }
    ResponseParser parser(config_.limits);
    parser.reset(request.method, request.body_sink);
    std::vector<uint8_t> buffer(kReadBuffer);
    for (;;) {
      const uint64_t deadline =
          parser.head_complete() ? async::deadline_after(config_.read_timeout) : response_deadline;
      auto n = co_await async::with_deadline(flow.read(buffer), deadline);
      if (!n) {
        state->started = parser.started();
        if (n.error().code != Errc::kTimedOut) co_return n.error();
        co_return Error{Errc::kTimedOut, parser.head_complete()
                                             ? "the response content stalled (read timeout)"
                                             : "no response within the response timeout"};
      }
      ParseProgress progress =
          *n == 0 ? parser.finish() : parser.parse(std::span<const uint8_t>(buffer.data(), *n));
      state->started = parser.started();
      if (progress.status == ParseStatus::kError)
        co_return Error{parser.error_code(), parser.error_reason()};
      if (progress.status == ParseStatus::kComplete) {
        state->extra_bytes = *n != 0 && progress.consumed < *n;
        co_return parser.take_response();
      }
    }
  }

  S& stack_;
  ClientConfig config_;
  ClientStats stats_;
  std::vector<Idle> idle_;
};

}  // namespace morgana::http
