// The routing API: method + path -> coroutine handler. Exact paths win over prefixes,
// longer prefixes over shorter ones; a path that matches with another method gets 405
// with Allow (RFC 9110 §15.5.6), no match the not-found handler (404).
//
//   Router router;
//   router.add(Method::kGet, "/hello", [](const Request&) -> async::Task<Response> {
//     co_return Response::text(Status::kOk, "hello\n");
//   });
//
// A handler runs inside the connection's task; the request it is given, and the handler
// object itself (kept in the router), outlive its task. A coroutine lambda's captures
// live in the lambda, which the router keeps: capturing is safe as long as the router
// outlives the server, which the server requires.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "morgana/async/task.h"
#include "morgana/proto/http/request.h"
#include "morgana/proto/http/response.h"

namespace morgana::http {

using Handler = std::function<async::Task<Response>(const Request&)>;

class Router {
 public:
  // A GET route also answers HEAD (the server sends the head only, RFC 9110 §9.3.2).
  void add(Method method, std::string path, Handler handler) {
    routes_.push_back({method, std::move(path), false, std::move(handler)});
  }
  // Matches every path starting with `prefix` ("/" matches everything).
  void add_prefix(Method method, std::string prefix, Handler handler) {
    routes_.push_back({method, std::move(prefix), true, std::move(handler)});
  }
  void set_not_found(Handler handler) { not_found_ = std::move(handler); }

  async::Task<Response> dispatch(const Request& request) const {
    const Route* best = nullptr;
    std::string allow;
    // Two passes: first the best path match regardless of method, then its methods.
    const std::string* matched_path = nullptr;
    bool matched_prefix = true;
    for (const Route& route : routes_) {
      if (!matches(route, request.path)) continue;
      bool better = !matched_path || (matched_prefix && !route.prefix) ||
                    (matched_prefix == route.prefix && route.path.size() > matched_path->size());
      if (better) {
        matched_path = &route.path;
        matched_prefix = route.prefix;
      }
    }
    if (matched_path) {
      for (const Route& route : routes_) {
        if (route.path != *matched_path || route.prefix != matched_prefix) continue;
        if (route.method == request.method ||
            (route.method == Method::kGet && request.method == Method::kHead))
          best = &route;
        if (!allow.empty()) allow += ", ";
        allow += method_name(route.method);
        if (route.method == Method::kGet) allow += ", HEAD";
      }
      if (best) co_return co_await best->handler(request);
      Response response = Response::text(Status::kMethodNotAllowed, "Method Not Allowed\n");
      response.add_header("Allow", allow);
      co_return response;
    }
    if (not_found_) co_return co_await not_found_(request);
    co_return Response::text(Status::kNotFound, "Not Found\n");
  }

 private:
  struct Route {
    Method method;
    std::string path;
    bool prefix;
    Handler handler;
  };
  static bool matches(const Route& route, std::string_view path) {
    return route.prefix ? path.starts_with(route.path) : path == route.path;
  }

  std::vector<Route> routes_;
  Handler not_found_;
};

}  // namespace morgana::http
