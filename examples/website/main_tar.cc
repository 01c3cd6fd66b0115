// website_tar: the website with its content on a disk. It serves the files of a tar
// archive (ustar, pax or GNU) attached as block device `storage`
// (`--block:storage=site.tar`) through kv::TarStore, so the site changes by replacing the
// disk file and restarting the image, without rebuilding it. Routes and options: server.h.
//
// The archive is scanned before the network starts: a disk that is not a tar archive, is
// corrupt or holds no files is refused with the reason and exit status 1.
#include <cstdio>
#include <span>
#include <string>

#include "morgana/app.h"
#include "morgana/async/async.h"
#include "morgana/net/app_runner.h"
#include "morgana/proto/http/static_files.h"
#include "morgana/storage/kv_tar.h"
#include "morgana/storage/kv_tar_device.h"
#include "server.h"

namespace {

namespace async = morgana::async;
namespace http = morgana::http;
namespace kv = morgana::kv;
namespace net = morgana::net;
using morgana::Result;
using ull = unsigned long long;

constexpr const char* kDevice = "storage";

std::string cache_stats(const kv::TarStore& store) {
  kv::TarCacheStats s = store.cache_stats();
  char text[160];
  std::snprintf(text, sizeof(text),
                "tar_cache_hits %llu\ntar_cache_misses %llu\ntar_direct_reads %llu\n"
                "tar_cache_resident %llu\n",
                ull(s.hits), ull(s.misses), ull(s.direct_reads), ull(s.resident));
  return text;
}

// `store` lives in app_main for the whole run.
async::Task<Result<void>> serve(net::AppStack& stack, std::span<char* const> args,
                                const kv::TarStore* store) {
  http::StaticFiles<kv::TarStore> files(*store);
  co_return co_await website::serve(stack, args, files.handler(),
                                    [store] { return cache_stats(*store); });
}

}  // namespace

int app_main(int argc, char** argv) {
  std::string why;
  auto disk = kv::TarDisk::open(kDevice, &why);
  if (!disk) {
    std::printf("website: %s\n", why.c_str());
    return 1;
  }
  const kv::TarStore* store = &disk->store();
  if (store->size() == 0) {
    std::printf(
        "website: block device '%s' refused: the tar archive holds no files "
        "(an empty archive, or a blank disk)\n",
        kDevice);
    return 1;
  }
  std::printf(
      "website: serving %zu files from the tar archive on block device '%s' "
      "(%llu bytes)\n",
      store->size(), kDevice, ull(disk->capacity()));
  return net::run_network_app(argc, argv, "website",
                              [store](net::AppStack& stack, std::span<char* const> args) {
                                return serve(stack, args, store);
                              });
}
