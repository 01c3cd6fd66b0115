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
#include <span>
#include <vector>

#include "morgana/async/loop.h"
#include "morgana/async/task.h"
#include "morgana/net/app_stack.h"
#include "morgana/net/stack_options.h"
#include "morgana/rt/result.h"

namespace morgana::net {

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
  CO_TRY(co_await stack->wait_configured());
  std::printf("%s: listening on %s\n", name, stack->ipv4_address().to_string().c_str());
  Result<void> result = co_await body(*stack, args);
  if (!result)
    std::printf("%s: %s (%s)\n", name, errc_name(result.error().code),
                result.error().what ? result.error().what : "");
  if (options.stats) stack->print_stats();
  co_return result;
}
}  // namespace detail

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
