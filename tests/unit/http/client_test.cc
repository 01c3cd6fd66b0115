// The HTTP client: the request head byte by byte, then whole exchanges in simulation
// (tests/sim: Morgana stacks on a virtual link, virtual time). Against Morgana's own
// http::Server: keep-alive reuse, HEAD, chunked, 1 MiB, POST, 304 and 404, a server that
// closes, a kept-alive connection the server timed out (idempotent requests are sent
// again, POST is not), timeouts and refused connections. Against a scripted server that
// writes exact bytes: the request as it arrives, content delimited by the close, bytes
// after a response, limits, 1xx, garbage and a server that stalls.
#include "morgana/proto/http/client.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "morgana/proto/http/router.h"
#include "morgana/proto/http/server.h"
#include "sim_world.h"

namespace {

namespace async = morgana::async;
namespace http = morgana::http;
namespace net = morgana::net;
namespace sim = morgana::sim;
using morgana::Errc;
using morgana::Error;
using morgana::Result;
using sim::kMs;
using sim::kSecond;
using Client = http::Client<sim::Stack>;
using Responses = std::vector<Result<http::ClientResponse>>;
using namespace std::chrono_literals;

std::string describe(const Result<http::ClientResponse>& r) {
  if (r.ok()) return "status " + std::to_string(r->status);
  return std::string(morgana::errc_name(r.error().code)) + ": " +
         (r.error().what ? r.error().what : "");
}

// --- The request head ---------------------------------------------------------------------

const net::Endpoint kServer{net::Ipv4Address::from_u32(0x0a000002), 80};

std::string head_of(const http::ClientRequest& request, net::Endpoint server = kServer,
                    std::string_view agent = "Morgana") {
  bool close = false;
  auto head = http::format_request(request, server, agent, close);
  EXPECT_TRUE(head.ok()) << (head.ok() ? "" : head.error().what);
  return head.ok() ? *head : std::string();
}

Errc refusal_of(const http::ClientRequest& request) {
  bool close = false;
  auto head = http::format_request(request, kServer, "Morgana", close);
  EXPECT_FALSE(head.ok());
  return head.ok() ? Errc::kInvalidArgument : head.error().code;
}

TEST(ClientRequestHead, GetHeadPost) {
  http::ClientRequest get;
  get.path = "/index.html?a=1&b=%20";
  EXPECT_EQ(head_of(get),
            "GET /index.html?a=1&b=%20 HTTP/1.1\r\nHost: 10.0.0.2\r\nUser-Agent: Morgana\r\n\r\n");
  // RFC 9110 §4.2.1: the port is in Host unless it is 80; a Host given is used instead.
  EXPECT_EQ(head_of(get, {kServer.address, 8080}, ""),
            "GET /index.html?a=1&b=%20 HTTP/1.1\r\nHost: 10.0.0.2:8080\r\n\r\n");
  const http::Header fields[] = {{"Host", "www.example"}, {"Accept", "*/*"}, {"user-agent", "x/1"}};
  get.headers = fields;
  EXPECT_EQ(head_of(get),
            "GET /index.html?a=1&b=%20 HTTP/1.1\r\nHost: www.example\r\nAccept: */*\r\n"
            "user-agent: x/1\r\n\r\n");
  http::ClientRequest head;
  head.method = http::Method::kHead;
  EXPECT_EQ(head_of(head), "HEAD / HTTP/1.1\r\nHost: 10.0.0.2\r\nUser-Agent: Morgana\r\n\r\n");
  // RFC 9110 §8.6: POST always says its length, even 0.
  http::ClientRequest post;
  post.method = http::Method::kPost;
  post.path = "/echo";
  EXPECT_EQ(
      head_of(post),
      "POST /echo HTTP/1.1\r\nHost: 10.0.0.2\r\nUser-Agent: Morgana\r\nContent-Length: 0\r\n\r\n");
  post.body = "abc";
  EXPECT_EQ(
      head_of(post),
      "POST /echo HTTP/1.1\r\nHost: 10.0.0.2\r\nUser-Agent: Morgana\r\nContent-Length: 3\r\n\r\n");
  http::ClientRequest options;
  options.method = http::Method::kOptions;
  options.path = "*";
  EXPECT_EQ(head_of(options, kServer, ""), "OPTIONS * HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n");
  // The caller's Connection: close is noticed, so the connection is not kept.
  const http::Header close_field[] = {{"Connection", "close"}};
  get.headers = close_field;
  bool close = false;
  ASSERT_TRUE(http::format_request(get, kServer, "", close).ok());
  EXPECT_TRUE(close);
}

TEST(ClientRequestHead, NothingCanSplitTheRequest) {
  for (const char* path :
       {"", "index.html", "/a b", "/a\r\nX: y", "/a#frag", "/caf\xc3\xa9", "*"}) {
    http::ClientRequest r;
    r.path = path;
    EXPECT_EQ(refusal_of(r), Errc::kInvalidArgument) << path;
  }
  const std::vector<std::vector<http::Header>> bad = {{{"X-A", "a\r\nInjected: 1"}},
                                                      {{"X-A", std::string_view("a\0b", 3)}},
                                                      {{"Bad Name", "v"}},
                                                      {{"", "v"}},
                                                      {{"X:A", "v"}},
                                                      {{"Content-Length", "5"}},
                                                      {{"transfer-encoding", "chunked"}},
                                                      {{"Host", "a"}, {"host", "b"}}};
  for (const auto& fields : bad) {
    http::ClientRequest r;
    r.headers = fields;
    EXPECT_EQ(refusal_of(r), Errc::kInvalidArgument) << fields[0].name;
  }
  http::ClientRequest connect;
  connect.method = http::Method::kConnect;
  EXPECT_EQ(refusal_of(connect), Errc::kUnsupported);
  bool close = false;
  EXPECT_FALSE(http::format_request({}, kServer, "bad\nagent", close).ok());
}

// --- Simulation ---------------------------------------------------------------------------

// The client on host 0 (10.0.0.1), servers on host 1 (10.0.0.2).
struct Env {
  explicit Env(uint64_t seed = 1) : world(seed) {
    client_host = &world.add_host(sim::host_options(0));
    server_host = &world.add_host(sim::host_options(1));
  }
  net::Endpoint server(uint16_t port) const { return {sim::host_address(1), port}; }
  void run(async::Task<Result<void>> body) {
    Result<void> done = world.run(std::move(body), 3600 * kSecond);
    EXPECT_TRUE(done.ok()) << morgana::errc_name(done.error().code) << ": "
                           << (done.error().what ? done.error().what : "") << "\n"
                           << world.describe();
  }
  sim::SimWorld world;
  sim::Stack* client_host = nullptr;
  sim::Stack* server_host = nullptr;
};

// 1 MiB of seeded content for GET /big.
std::string big_content() {
  std::string content(1 << 20, '\0');
  sim::fill_content(7, 0, {reinterpret_cast<uint8_t*>(content.data()), content.size()});
  return content;
}

// Morgana's server on port 80 with the routes the tests fetch.
http::Router make_router(const std::string* big) {
  http::Router router;
  router.add(http::Method::kGet, "/small", [](const http::Request&) -> async::Task<http::Response> {
    co_return http::Response::text(http::Status::kOk, "hello");
  });
  router.add(http::Method::kGet, "/chunked",
             [](const http::Request&) -> async::Task<http::Response> {
               http::Response response(http::Status::kOk);
               response.framing = http::Framing::kChunked;
               response.append("one ");
               response.append("two ");
               response.append("three");
               co_return response;
             });
  router.add(http::Method::kGet, "/big",
             [big](const http::Request&) -> async::Task<http::Response> {
               http::Response response(http::Status::kOk);
               response.append_view({reinterpret_cast<const uint8_t*>(big->data()), big->size()});
               co_return response;
             });
  router.add(http::Method::kPost, "/echo",
             [](const http::Request& request) -> async::Task<http::Response> {
               co_return http::Response::text(
                   http::Status::kOk,
                   std::string(request.header("content-type").value_or("-")) + ":" + request.body);
             });
  router.add(http::Method::kGet, "/close", [](const http::Request&) -> async::Task<http::Response> {
    http::Response response = http::Response::text(http::Status::kOk, "bye");
    response.close = true;
    co_return response;
  });
  router.add(http::Method::kGet, "/not-modified",
             [](const http::Request&) -> async::Task<http::Response> {
               http::Response response(http::Status::kNotModified);
               response.add_header("ETag", "\"v1\"");
               co_return response;
             });
  router.add(http::Method::kGet, "/slow", [](const http::Request&) -> async::Task<http::Response> {
    (void)co_await async::sleep_for(5s);
    co_return http::Response::text(http::Status::kOk, "late");
  });
  return router;
}

http::ServerConfig server_config() {
  http::ServerConfig config;
  config.access_log = http::AccessLog::kOff;
  config.idle_timeout = 2s;
  return config;
}

// Runs `body` while Morgana's server serves `router` on host 1, port 80; its counters
// end in `*stats`.
async::Task<Result<void>> with_server(sim::Stack* host, const http::Router* router,
                                      http::ServerStats* stats, async::Task<Result<void>> body) {
  http::Server<sim::Stack> server(*host, *router, server_config());
  async::Scope tasks;
  CO_TRY(tasks.spawn(server.run()));
  CO_TRY(co_await async::sleep_for(1ms));  // the server listens before the first SYN
  Result<void> result = co_await std::move(body);
  *stats = server.stats();
  tasks.request_stop();
  (void)co_await tasks.join();
  co_return result;
}

async::Task<Result<void>> fetch_everything(Client* client, net::Endpoint server, Responses* out) {
  for (int i = 0; i < 10; ++i) out->push_back(co_await client->get(server, "/small"));
  out->push_back(co_await client->head(server, "/small"));
  out->push_back(co_await client->get(server, "/chunked"));
  out->push_back(co_await client->get(server, "/big"));
  out->push_back(co_await client->post(server, "/echo", "posted body", "text/plain"));
  out->push_back(co_await client->get(server, "/missing"));
  out->push_back(co_await client->get(server, "/not-modified"));
  co_return morgana::ok();
}

TEST(ClientSim, KeepAliveAgainstMorganaServer) {
  Env env;
  const std::string big = big_content();
  http::Router router = make_router(&big);
  http::ServerStats served;
  Client client(*env.client_host);
  Responses out;
  env.run(with_server(env.server_host, &router, &served,
                      fetch_everything(&client, env.server(80), &out)));
  ASSERT_EQ(out.size(), 16u);
  for (const auto& r : out) ASSERT_TRUE(r.ok()) << describe(r);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(out[i]->status, 200);
    EXPECT_EQ(out[i]->body, "hello");
    EXPECT_EQ(out[i]->framing, http::BodyFraming::kLength);
    EXPECT_TRUE(out[i]->keep_alive);
  }
  EXPECT_EQ(out[0]->header("server"), "Morgana");
  EXPECT_EQ(out[10]->body, "");  // HEAD
  EXPECT_EQ(out[10]->header("content-length"), "5");
  EXPECT_EQ(out[11]->body, "one two three");
  EXPECT_EQ(out[11]->framing, http::BodyFraming::kChunked);
  EXPECT_TRUE(out[12]->body == big) << "1 MiB body differs, size " << out[12]->body.size();
  EXPECT_EQ(out[13]->body, "text/plain:posted body");
  EXPECT_EQ(out[14]->status, 404);
  EXPECT_EQ(out[15]->status, 304);
  EXPECT_EQ(out[15]->header("etag"), "\"v1\"");
  // One connection carried all 16 requests, on both sides.
  EXPECT_EQ(client.stats().connections, 1u);
  EXPECT_EQ(client.stats().requests, 16u);
  EXPECT_EQ(client.stats().reused, 15u);
  EXPECT_EQ(client.stats().failures, 0u);
  EXPECT_EQ(served.connections, 1u);
  EXPECT_EQ(served.requests, 16u);
  EXPECT_EQ(client.idle_connections(), 1u);
}

async::Task<Result<void>> fetch_big_into_sink(Client* client, net::Endpoint server,
                                              std::string* sunk, Responses* out) {
  http::ClientRequest request;
  request.path = "/big";
  request.body_sink = [sunk](std::span<const uint8_t> bytes) {
    sunk->append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  };
  out->push_back(co_await client->request(server, std::move(request)));
  co_return morgana::ok();
}

TEST(ClientSim, BodySink) {
  Env env;
  const std::string big = big_content();
  http::Router router = make_router(&big);
  http::ServerStats served;
  std::string sunk;
  Responses out;
  Client client(*env.client_host);
  env.run(with_server(env.server_host, &router, &served,
                      fetch_big_into_sink(&client, env.server(80), &sunk, &out)));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].ok()) << describe(out[0]);
  EXPECT_EQ(out[0]->body, "");
  EXPECT_EQ(out[0]->body_size, big.size());
  EXPECT_TRUE(sunk == big);
}

TEST(ClientSim, BodyLimit) {
  // The same content over a client whose limit is smaller: a clear error, no buffering.
  const std::string big = big_content();
  http::ServerStats served;
  Env small_env;
  http::ClientConfig config;
  config.limits.max_body = 1000;
  Client small(*small_env.client_host, config);
  Responses refused;
  http::Router router2 = make_router(&big);
  small_env.run(with_server(small_env.server_host, &router2, &served,
                            fetch_everything(&small, small_env.server(80), &refused)));
  ASSERT_EQ(refused.size(), 16u);
  EXPECT_TRUE(refused[11].ok());  // 13 bytes chunked
  ASSERT_FALSE(refused[12].ok());
  EXPECT_EQ(refused[12].error().code, Errc::kOutOfRange);
  EXPECT_STREQ(refused[12].error().what, "Content-Length larger than the body limit");
  // The failed connection is not reused; the next request opens another.
  EXPECT_TRUE(refused[13].ok()) << describe(refused[13]);
  EXPECT_EQ(small.stats().connections, 2u);
  EXPECT_EQ(small.stats().failures, 1u);
}

async::Task<Result<void>> close_and_stale(Client* client, net::Endpoint server, Responses* out,
                                          std::vector<http::ClientStats>* stats) {
  out->push_back(co_await client->get(server, "/close"));  // the server ends the connection
  out->push_back(co_await client->get(server, "/small"));  // a new one
  stats->push_back(client->stats());
  // The server closes connections idle for 2 s; the client keeps them for 15 s.
  CO_TRY(co_await async::sleep_for(3s));
  out->push_back(co_await client->get(server, "/small"));  // stale: sent once more
  stats->push_back(client->stats());
  CO_TRY(co_await async::sleep_for(3s));
  out->push_back(co_await client->post(server, "/echo", "x", ""));  // stale: not repeated
  stats->push_back(client->stats());
  out->push_back(co_await client->get(server, "/small"));
  co_return morgana::ok();
}

TEST(ClientSim, ServerClosesAndStaleConnections) {
  Env env;
  const std::string big;
  http::Router router = make_router(&big);
  http::ServerStats served;
  Client client(*env.client_host);
  Responses out;
  std::vector<http::ClientStats> stats;
  env.run(with_server(env.server_host, &router, &served,
                      close_and_stale(&client, env.server(80), &out, &stats)));
  ASSERT_EQ(out.size(), 5u);
  ASSERT_TRUE(out[0].ok()) << describe(out[0]);
  EXPECT_EQ(out[0]->body, "bye");
  EXPECT_FALSE(out[0]->keep_alive);
  ASSERT_TRUE(out[1].ok()) << describe(out[1]);
  EXPECT_EQ(stats[0].connections, 2u);
  EXPECT_EQ(stats[0].reused, 0u);
  // RFC 9112 §9.3.1: GET went again on a new connection, transparently.
  ASSERT_TRUE(out[2].ok()) << describe(out[2]);
  EXPECT_EQ(out[2]->body, "hello");
  EXPECT_EQ(stats[1].retries, 1u);
  EXPECT_EQ(stats[1].connections, 3u);
  // POST is not idempotent: the caller learns the connection closed.
  ASSERT_FALSE(out[3].ok());
  EXPECT_TRUE(out[3].error().code == Errc::kClosed || out[3].error().code == Errc::kConnectionReset)
      << describe(out[3]);
  EXPECT_EQ(stats[2].retries, 1u);
  ASSERT_TRUE(out[4].ok()) << describe(out[4]);
  EXPECT_EQ(served.idle_closed, 2u);
}

async::Task<Result<void>> timeouts(Client* client, net::Endpoint server, net::Endpoint closed_port,
                                   net::Endpoint nowhere, Responses* out,
                                   std::vector<uint64_t>* took) {
  uint64_t start = async::now();
  out->push_back(co_await client->get(server, "/slow"));
  took->push_back(async::now() - start);
  out->push_back(co_await client->get(server, "/small"));
  out->push_back(co_await client->get(closed_port, "/"));
  start = async::now();
  out->push_back(co_await client->get(nowhere, "/"));
  took->push_back(async::now() - start);
  co_return morgana::ok();
}

TEST(ClientSim, TimeoutsAndRefusals) {
  Env env;
  const std::string big;
  http::Router router = make_router(&big);
  http::ServerStats served;
  http::ClientConfig config;
  config.response_timeout = 1s;
  config.connect_timeout = 2s;
  Client client(*env.client_host, config);
  Responses out;
  std::vector<uint64_t> took;
  const net::Endpoint nowhere{sim::host_address(9), 80};  // no host answers ARP for it
  env.run(with_server(env.server_host, &router, &served,
                      timeouts(&client, env.server(80), env.server(81), nowhere, &out, &took)));
  ASSERT_EQ(out.size(), 4u);
  ASSERT_FALSE(out[0].ok());
  EXPECT_EQ(out[0].error().code, Errc::kTimedOut);
  EXPECT_STREQ(out[0].error().what, "no response within the response timeout");
  EXPECT_GE(took[0], 1 * kSecond);
  EXPECT_LT(took[0], 5 * kSecond);  // virtual time: the 5 s handler was not waited for
  ASSERT_TRUE(out[1].ok()) << describe(out[1]);
  ASSERT_FALSE(out[2].ok());
  EXPECT_EQ(out[2].error().code, Errc::kConnectionRefused) << describe(out[2]);
  ASSERT_FALSE(out[3].ok());
  EXPECT_EQ(out[3].error().code, Errc::kTimedOut) << describe(out[3]);
  EXPECT_STREQ(out[3].error().what, "connecting to the server timed out");
  EXPECT_GE(took[1], 2 * kSecond);
  EXPECT_EQ(client.stats().failures, 3u);
}

// --- A scripted server ----------------------------------------------------------------------

// What the scripted server answers to the next request it reads (on any connection):
// `response`, then it closes the connection or waits for another request on it.
struct Step {
  std::string response;
  bool close = true;
};

struct Script {
  std::vector<Step> steps;
  size_t next = 0;
  std::vector<std::string> requests;
};

async::Task<Result<void>> scripted_connection(net::TcpFlow flow, Script* script) {
  std::vector<uint8_t> buffer(4096);
  for (;;) {
    std::string request;
    while (request.find("\r\n\r\n") == std::string::npos) {
      auto n = co_await flow.read(buffer);
      if (!n || *n == 0) co_return morgana::ok();  // the client went away
      request.append(reinterpret_cast<const char*>(buffer.data()), *n);
    }
    script->requests.push_back(request);
    if (script->next >= script->steps.size()) co_return Error{Errc::kOutOfRange, "script ran out"};
    const Step& step = script->steps[script->next++];
    CO_TRY(co_await flow.write(
        {reinterpret_cast<const uint8_t*>(step.response.data()), step.response.size()}));
    if (step.close) {
      flow.close();
      co_return morgana::ok();
    }
  }
}

async::Task<Result<void>> scripted_server(net::TcpListener listener, Script* script,
                                          async::Scope* flows) {
  for (;;) {
    CO_TRY_ASSIGN(net::TcpFlow flow, co_await listener.accept());
    CO_TRY(flows->spawn(scripted_connection(std::move(flow), script)));
  }
}

async::Task<Result<void>> with_script(sim::Stack* host, Script* script,
                                      async::Task<Result<void>> body) {
  async::Scope tasks, flows;
  CO_TRY_ASSIGN(net::TcpListener listener, co_await host->tcp().listen(8080));
  CO_TRY(tasks.spawn(scripted_server(std::move(listener), script, &flows)));
  Result<void> result = co_await std::move(body);
  tasks.request_stop();
  flows.request_stop();
  (void)co_await tasks.join();
  (void)co_await flows.join();
  co_return result;
}

async::Task<Result<void>> fetch_n(Client* client, net::Endpoint server, size_t count,
                                  Responses* out, std::vector<size_t>* idle) {
  const http::Header accept[] = {{"Accept", "*/*"}};
  for (size_t i = 0; i < count; ++i) {
    out->push_back(co_await client->get(server, "/x?y=1", accept));
    idle->push_back(client->idle_connections());
  }
  co_return morgana::ok();
}

TEST(ClientSim, ScriptedResponses) {
  Env env;
  Script script;
  script.steps = {
      // Content delimited by the close (RFC 9112 §6.3 rule 8): never kept.
      {"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close"},
      // Bytes after the response: the connection's framing is broken, so it is dropped.
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", false},
      // 100 Continue, then the response: kept alive...
      {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nkept", false},
      // ...and reused; this answer says nothing about closing, but the server closes.
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain"},
      // The next GET finds the kept connection closed and goes again on a new one: here
      // something that is not HTTP at all answers it.
      {"SSH-2.0-OpenSSH_9.2\r\n\r\n"},
      // A head whose field is over the limit (the test's client allows 256 bytes).
      {"HTTP/1.1 200 OK\r\nX-Big: " + std::string(300, 'b') + "\r\n\r\n"},
      // A head, then part of the content, then nothing: the read timeout.
      {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", false},
      // Nothing at all: the response timeout.
      {"", false},
  };
  http::ClientConfig config;
  config.limits.max_header_bytes = 256;
  config.response_timeout = 3s;
  config.read_timeout = 2s;
  Client client(*env.client_host, config);
  Responses out;
  std::vector<size_t> idle;
  env.run(
      with_script(env.server_host, &script, fetch_n(&client, env.server(8080), 8, &out, &idle)));
  ASSERT_EQ(out.size(), 8u);
  // The request as it arrived: Host with the port, User-Agent, the caller's field. The
  // GET sent on the closed connection never reached the script.
  ASSERT_EQ(script.requests.size(), 8u);
  EXPECT_EQ(
      script.requests[0],
      "GET /x?y=1 HTTP/1.1\r\nHost: 10.0.0.2:8080\r\nUser-Agent: Morgana\r\nAccept: */*\r\n\r\n");
  ASSERT_TRUE(out[0].ok()) << describe(out[0]);
  EXPECT_EQ(out[0]->body, "until the close");
  EXPECT_EQ(out[0]->framing, http::BodyFraming::kClose);
  EXPECT_EQ(idle[0], 0u);
  ASSERT_TRUE(out[1].ok()) << describe(out[1]);
  EXPECT_EQ(out[1]->body, "ok");
  EXPECT_EQ(idle[1], 0u);
  ASSERT_TRUE(out[2].ok()) << describe(out[2]);
  EXPECT_EQ(out[2]->interim, 1u);
  EXPECT_EQ(out[2]->body, "kept");
  EXPECT_EQ(idle[2], 1u);
  ASSERT_TRUE(out[3].ok()) << describe(out[3]);
  EXPECT_EQ(out[3]->body, "again");
  EXPECT_EQ(client.stats().reused, 1u);
  ASSERT_FALSE(out[4].ok());
  EXPECT_EQ(out[4].error().code, Errc::kMalformed) << describe(out[4]);
  EXPECT_EQ(client.stats().retries, 1u);
  ASSERT_FALSE(out[5].ok());
  EXPECT_EQ(out[5].error().code, Errc::kOutOfRange) << describe(out[5]);
  ASSERT_FALSE(out[6].ok());
  EXPECT_EQ(out[6].error().code, Errc::kTimedOut) << describe(out[6]);
  EXPECT_STREQ(out[6].error().what, "the response content stalled (read timeout)");
  ASSERT_FALSE(out[7].ok());
  EXPECT_EQ(out[7].error().code, Errc::kTimedOut) << describe(out[7]);
  EXPECT_STREQ(out[7].error().what, "no response within the response timeout");
  EXPECT_EQ(client.stats().connections, 7u);
  EXPECT_EQ(client.idle_connections(), 0u);
}

}  // namespace
