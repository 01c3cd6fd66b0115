// open_app_stack() for applications built with --stack=socket (app_stack.h): the host's
// sockets. Compiled with MORGANA_STACK_SOCKET=1 so that AppStack is SocketStack here.
#include "morgana/net/app_stack.h"

#ifndef MORGANA_STACK_SOCKET
#error "app_stack.cc belongs to morgana_net_socket, built with MORGANA_STACK_SOCKET=1"
#endif

namespace morgana::net {

Result<std::unique_ptr<AppStack>> open_app_stack(const StackOptions& options) {
  return SocketStack::create(options);
}

}  // namespace morgana::net
