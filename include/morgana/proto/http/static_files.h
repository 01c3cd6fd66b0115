// Static files from a kv::ReadOnly store (issue 5): Content-Type by extension,
// Last-Modified, strong ETag, conditional requests (RFC 9110 §13: 304 and 412), byte
// ranges (§14: 206, multipart/byteranges, 416), precompressed ".gz" variants chosen by
// Accept-Encoding (§12.5.3, with Vary), directory index files and a 404 page.
//
//   kv::CompiledStore store(morgana_kv_site);
//   http::StaticFiles<kv::CompiledStore> files(store);
//   router.add_prefix(http::Method::kGet, "/", files.handler());
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "morgana/async/task.h"
#include "morgana/proto/http/request.h"
#include "morgana/proto/http/response.h"
#include "morgana/proto/http/router.h"
#include "morgana/storage/kv.h"

namespace morgana::http {

struct StaticOptions {
  std::string_view index = "index.html";    // served for a path ending in '/'
  std::string_view not_found = "404.html";  // body of 404 responses, if the store has it
  bool precompressed = true;                // serve "KEY.gz" to clients accepting gzip
  std::string_view cache_control;           // added to 200/206/304 when not empty
};

// The store key for a URL path: percent-decoded (RFC 3986 §2.1), without the leading
// '/', with the index appended to directory paths. nullopt for paths that could escape
// the content or are not text: "..", ".", empty segments past the first, NUL, '\\' or
// a malformed escape.
std::optional<std::string> path_to_key(std::string_view path, std::string_view index);

// RFC 9110 §12.5.3: whether "gzip" is acceptable (q > 0, directly or through "*").
bool accepts_gzip(const Request& request);

enum class Precondition : uint8_t { kProceed, kNotModified, kFailed };
// RFC 9110 §13.2.2: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since, in
// that order, against the selected representation's validators.
Precondition evaluate_preconditions(const Request& request, std::string_view etag, int64_t mtime);

// The response for one representation: 200, 206 (one range, or multipart/byteranges for
// several), 304, 412 or 416. `content` is the bytes when the store has them in memory;
// otherwise the body is stream parts the caller's reader fills. `type_key` names the
// file whose extension gives the Content-Type (the original of a .gz variant).
Response representation_response(const Request& request, std::string_view type_key,
                                 const kv::Stat& stat,
                                 std::optional<std::span<const uint8_t>> content, bool gzip,
                                 bool vary, const StaticOptions& options);

template <kv::ReadOnly Store>
class StaticFiles {
 public:
  explicit StaticFiles(const Store& store, StaticOptions options = {})
      : store_(store), options_(options) {}

  async::Task<Response> serve(const Request& request) const {
    auto key = path_to_key(request.path, options_.index);
    if (!key) co_return Response::text(Status::kBadRequest, "Bad Request\n");
    auto stat = store_.stat(*key);
    if (!stat) {
      // "/guide" when "guide/index.html" exists: redirect to the directory (as nginx).
      if (!key->empty() && store_.stat(*key + "/" + std::string(options_.index))) {
        Response response = Response::text(Status::kMovedPermanently, "Moved Permanently\n");
        std::string location(request.path);
        location += '/';
        if (!request.query.empty()) {
          location += '?';
          location += request.query;
        }
        response.add_header("Location", std::move(location));
        co_return response;
      }
      co_return not_found();
    }
    std::string selected = *key;
    bool gzip = false, vary = false;
    if (options_.precompressed) {
      std::string gz_key = *key + ".gz";
      if (auto gz = store_.stat(gz_key)) {
        vary = true;
        if (accepts_gzip(request)) {
          selected = gz_key;
          stat = *gz;
          gzip = true;
        }
      }
    }
    co_return respond(request, *key, selected, *stat, gzip, vary);
  }

  Handler handler() const {
    return [this](const Request& request) { return serve(request); };
  }

 private:
  Response respond(const Request& request, std::string_view type_key, const std::string& selected,
                   const kv::Stat& stat, bool gzip, bool vary) const {
    std::optional<std::span<const uint8_t>> content;
    if constexpr (kv::Contiguous<Store>) {
      auto view = store_.view(selected);
      if (view) content = *view;
    }
    Response response =
        representation_response(request, type_key, stat, content, gzip, vary, options_);
    if (!content) {
      const Store* store = &store_;
      response.reader = [store, selected](uint64_t offset, std::span<uint8_t> out) {
        return store->read(selected, offset, out);
      };
    }
    return response;
  }

  Response not_found() const {
    Response response(Status::kNotFound);
    response.add_header("Content-Type", "text/html; charset=utf-8");
    if (auto stat = store_.stat(options_.not_found)) {
      if constexpr (kv::Contiguous<Store>) {
        if (auto view = store_.view(options_.not_found)) {
          response.append_view(*view);
          return response;
        }
      }
      const Store* store = &store_;
      std::string key(options_.not_found);
      response.reader = [store, key](uint64_t offset, std::span<uint8_t> out) {
        return store->read(key, offset, out);
      };
      response.append_stream(0, stat->size);
      return response;
    }
    response.append("<!doctype html><title>404 Not Found</title><h1>404 Not Found</h1>\n");
    return response;
  }

  const Store& store_;
  StaticOptions options_;
};

}  // namespace morgana::http
