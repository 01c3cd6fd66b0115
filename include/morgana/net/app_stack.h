// AppStack: the net::Stack an application is built against, chosen at configure time
// (DESIGN.md §1.2): Morgana's own stack over the image's network device by default, or
// the host kernel's sockets on the unix target built with `--stack=socket`
// (MORGANA_STACK_SOCKET=1). Write applications against net::Stack and open it here:
//
//   StackOptions options = ...;  // parse_stack_options(argv)
//   auto stack = CO_TRY_ASSIGN(auto s, open_app_stack(options));
#pragma once

#include <memory>

#include "morgana/net/stack.h"
#include "morgana/net/stack_options.h"
#include "morgana/rt/result.h"

#if defined(MORGANA_STACK_SOCKET) && MORGANA_STACK_SOCKET
#include "morgana/net/socket_stack.h"
#define MORGANA_HAS_APP_STACK 1
#elif __has_include("morgana/net/device_stack.h")
#include "morgana/net/device_stack.h"
#include "morgana/platform/platform.h"
#define MORGANA_HAS_APP_STACK 1
#else
// Morgana's own stack is not in the tree yet: only --stack=socket builds have an AppStack.
#define MORGANA_HAS_APP_STACK 0
#endif

#if MORGANA_HAS_APP_STACK
namespace morgana::net {

#if defined(MORGANA_STACK_SOCKET) && MORGANA_STACK_SOCKET
using AppStack = SocketStack;
#else
using AppStack = DeviceStack<platform::NetDevice>;
#endif
static_assert(Stack<AppStack>);

// Makes the application's stack from its options: SocketStack::create with sockets; with
// the device stack, over the manifest's network device (`service` by convention).
Result<std::unique_ptr<AppStack>> open_app_stack(const StackOptions& options);

}  // namespace morgana::net
#endif
