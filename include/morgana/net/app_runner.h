// The start-up every network application shares: take the stack options (--ipv4,
// --dhcp, --tcp-*, stack_options.h) out of the arguments, create the event loop and the
// build's stack (AppStack: Morgana's own, or the host's sockets with --stack=socket),
// wait for an address, then run the application's main coroutine with the remaining
// arguments. Errors are printed with the application's name; the exit status is 0 when
// the body succeeds, 1 when it fails, 2 for bad options.
//
//   int app_main(int argc, char** argv) {
//     return morgana::net::run_network_app(argc, argv, "echo", serve);
//   }
//   // serve: async::Task<Result<void>>(net::AppStack&, std::span<char* const> args)
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "morgana/async/event.h"
#include "morgana/async/loop.h"
#include "morgana/async/scope.h"
#include "morgana/async/task.h"
#include "morgana/net/app_stack.h"
#include "morgana/net/stack.h"
#include "morgana/net/stack_options.h"
#include "morgana/rt/result.h"

namespace morgana::net {

// How long an application's exit waits for the stack to finish the closes it started
// (drain(): the data and FIN of every connection it closed acknowledged) before going
// anyway: a peer that stopped reading or vanished must not keep an image alive.
inline constexpr uint64_t kExitDrainTimeoutNs = 5'000'000'000;

namespace detail {
inline async::Task<Result<void>> nothing_to_drain() {
  co_return Result<void>{};
}

// SocketStack has no drain(): the kernel finishes closes by itself.
template <typename S>
concept Drainable = requires(S& stack, uint64_t timeout_ns) {
  stack.drain(timeout_ns);
};

template <typename S>
async::Task<Result<void>> drain_if_supported(S& stack) {
  if constexpr (Drainable<S>) {
    return stack.drain(kExitDrainTimeoutNs);
  } else {
    return nothing_to_drain();
  }
}
}  // namespace detail

// The part of run_network_app after the stack is open, over any net::Stack (the
// simulation tests run it over simulated stacks, tests/sim/sim_exit_test.cc): waits for an
// address, runs `body(stack, args)`, then lets the stack finish closing what the body
// closed, for at most kExitDrainTimeoutNs, and prints the counters if `stats`. Returns
// the body's result; the caller destroys the stack after it.
template <Stack S, typename Body>
async::Task<Result<void>> run_app_on(const char* name, S& stack, std::span<char* const> args,
                                     Body& body, bool stats) {
  CO_TRY(co_await stack.wait_configured());
  std::printf("%s: listening on %s\n", name, stack.ipv4_address().to_string().c_str());
  Result<void> result = co_await body(stack, args);
  if (!result)
    std::printf("%s: %s (%s)\n", name, errc_name(result.error().code),
                result.error().what ? result.error().what : "");
  // Let the stack finish closing what the application closed (Morgana's stack; the
  // kernel does this by itself for sockets) so the peers get every byte and the FIN.
  (void)co_await detail::drain_if_supported(stack);
  if (stats) stack.print_stats();
  co_return result;
}

namespace detail {
template <typename Body>
async::Task<Result<void>> run_network_body(const char* name, const StackOptions& options,
                                           std::span<char* const> args, Body& body) {
  auto opened = open_app_stack(options);
  if (!opened) {
    std::printf("%s: cannot start the network: %s (%s)\n", name, errc_name(opened.error().code),
                opened.error().what ? opened.error().what : "");
    co_return opened.error();
  }
  std::unique_ptr<AppStack> stack = std::move(*opened);
  co_return co_await run_app_on(name, *stack, args, body, options.stats);
}
}  // namespace detail

namespace detail {
struct ServeProgress {
  uint64_t ended = 0;
  std::optional<Error> failed;  // the listener could not be opened or accept failed
  async::Event changed;
};

template <typename Handler, typename Flow>
async::Task<Result<void>> serve_one(Handler* handler, Flow flow, ServeProgress* progress) {
  Result<void> result = co_await (*handler)(std::move(flow));
  ++progress->ended;
  progress->changed.set();
  co_return result;
}

template <typename S, typename Handler>
async::Task<Result<void>> accept_loop(S* stack, uint16_t port, Handler* handler,
                                      ServeProgress* progress, async::Scope* tasks) {
  auto listened = co_await stack->tcp().listen(port);
  Result<void> result;
  if (!listened) {
    result = listened.error();
  } else {
    for (;;) {
      auto flow = co_await listened->accept();
      if (!flow) {
        result = flow.error();
        break;
      }
      auto spawned = tasks->spawn(serve_one(handler, std::move(*flow), progress));
      if (!spawned) {
        result = spawned.error();
        break;
      }
    }
  }
  if (result.error().code != Errc::kCancelled) progress->failed = result.error();
  progress->changed.set();
  co_return result;
}
}  // namespace detail

// Accepts TCP connections on `port` and runs `handler(flow)` (an
// async::Task<Result<void>> taking the stack's TcpFlow, AppStack::TcpFlow in an
// application) for each as its own task. Returns after `limit` connections have ended (0:
// only when cancelled or when the listener fails), having stopped the listener and waited
// for the handlers still running. Only accepted connections count: one that never
// completed its handshake, or was reset before, was never the application's.
template <Stack S, typename Handler>
async::Task<Result<void>> serve_tcp(S& stack, uint16_t port, uint64_t limit, Handler handler) {
  detail::ServeProgress progress;
  async::Scope tasks;
  CO_TRY(tasks.spawn(detail::accept_loop(&stack, port, &handler, &progress, &tasks)));
  Result<void> result;
  while ((limit == 0 || progress.ended < limit) && !progress.failed) {
    progress.changed.reset();
    result = co_await progress.changed.wait();
    if (!result) break;
  }
  tasks.request_stop();
  (void)co_await tasks.join();  // waits even when cancelled: no handler outlives this
  if (progress.failed) co_return *progress.failed;
  co_return result;
}

template <typename Body>
int run_network_app(int argc, char** argv, const char* name, Body body) {
  std::vector<char*> rest;
  StackOptionsError error;
  auto options = parse_stack_options({argv + 1, size_t(argc > 0 ? argc - 1 : 0)}, rest, error);
  if (!options) {
    std::printf("%s: %s\n%s", name, error.message.c_str(), stack_options_usage());
    return 2;
  }
  async::Loop loop;
  Result<void> result =
      loop.run(detail::run_network_body(name, *options, std::span<char* const>(rest), body));
  return result ? 0 : 1;
}

}  // namespace morgana::net
