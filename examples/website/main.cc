// website: Morgana's flagship appliance. This image serves the files of site/, compiled
// into it as a kv::CompiledStore, over HTTP/1.1; main_tar.cc is the same server with its
// content on a disk. Routes and options: server.h.
#include <cstdio>
#include <span>

#include "morgana/app.h"
#include "morgana/async/async.h"
#include "morgana/net/app_runner.h"
#include "morgana/proto/http/static_files.h"
#include "morgana/storage/kv_compiled.h"
#include "server.h"

extern const morgana::kv::CompiledTable morgana_kv_site;

namespace {

namespace async = morgana::async;
namespace http = morgana::http;
namespace kv = morgana::kv;
namespace net = morgana::net;
using morgana::Result;

async::Task<Result<void>> serve(net::AppStack& stack, std::span<char* const> args) {
  kv::CompiledStore store(morgana_kv_site);
  http::StaticFiles<kv::CompiledStore> files(store);
  std::printf("website: serving %zu files compiled into the image\n", store.list().size());
  co_return co_await website::serve(stack, args, files.handler(), {});
}

}  // namespace

int app_main(int argc, char** argv) {
  return net::run_network_app(argc, argv, "website", serve);
}
