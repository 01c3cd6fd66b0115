// The RFC 1035 §5 master-file format: one zone's text in, its records out. Zones come
// compiled into the image or from a tar on a block device, so the input is a string_view
// and $INCLUDE (which needs a file system) is refused with a clear error.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "morgana/proto/dns/message.h"
#include "morgana/proto/dns/name.h"
#include "morgana/rt/result.h"

namespace morgana::dns {

// Where a zone went wrong and why: "zones/x.zone:12: MX preference is not a number", or
// for a zone-level check "morgana.test.: no SOA record at the zone apex".
struct Diagnostic {
  std::string where;  // a file name, or an owner name
  size_t line = 0;    // 1-based; 0 when the problem is not tied to a line
  const char* reason = "";

  std::string message() const;
};

// Parses `text` with `origin` as the initial $ORIGIN and the zone's apex (records must be
// at or below it). Handles $ORIGIN, $TTL, `@`, relative names, parentheses across lines,
// comments, quoted strings with \X and \DDD escapes, and omitted owner, TTL and class,
// which repeat the previous record's (RFC 1035 §5.1; an omitted TTL is $TTL's when set,
// RFC 2308 §4). On failure fills `error` with `file_name`, the line and the reason.
Result<std::vector<Record>> parse_zone_file(std::string_view text, const Name& origin,
                                            std::string_view file_name, Diagnostic& error);

}  // namespace morgana::dns
