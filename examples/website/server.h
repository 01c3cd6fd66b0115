// The website's HTTP side, shared by its two images: `website` serves content compiled
// into the image, `website_tar` a tar archive on block device `storage`. Each image's main
// opens its store; serve() routes the store's handler and the two dynamic routes.
#pragma once

#include <functional>
#include <span>
#include <string>

#include "morgana/async/task.h"
#include "morgana/net/app_stack.h"
#include "morgana/proto/http/router.h"
#include "morgana/rt/result.h"

namespace website {

// Lines the image's store adds to GET /_stats ("name value\n" each); may be empty.
using StoreStats = std::function<std::string()>;

// Parses the website's options from `args` (what the stack's options left):
//   --port=N              the TCP port (default 80)
//   --max-connections=N   connection limit (default: http::default_max_connections, 256
//                         but fewer in a small heap)
//   --header-timeout=S    seconds for a whole request head (default 10)
//   --idle-timeout=S      seconds a keep-alive connection may idle (default 30)
//   --quiet               no access log
// then serves `files` under "/", GET /_stats (the server's counters, sent chunked) and
// POST /_echo (returns the request body) until the image is stopped. What `files` and
// `store_stats` use must outlive the returned task.
morgana::async::Task<morgana::Result<void>> serve(morgana::net::AppStack& stack,
                                                  std::span<char* const> args,
                                                  morgana::http::Handler files,
                                                  StoreStats store_stats);

}  // namespace website
