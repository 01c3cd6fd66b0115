// Media types by file extension (the common web ones, as in nginx's mime.types) and
// whether a type is worth compressing.
#pragma once

#include <string_view>

namespace morgana::http {

// "text/html; charset=utf-8" for "index.html"; application/octet-stream if unknown.
std::string_view content_type_for(std::string_view path);

// True for textual types (HTML, CSS, JavaScript, SVG, JSON, XML, plain text), for which a
// gzip variant usually pays; false for already compressed images and archives.
bool compressible_type(std::string_view content_type);

}  // namespace morgana::http
