// HTTP dates (RFC 9110 §5.6.7): IMF-fixdate out, all three formats in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace morgana::http {

// "Sun, 06 Nov 1994 08:49:37 GMT" for seconds since the Unix epoch (UTC).
std::string format_http_date(int64_t unix_seconds);

// IMF-fixdate, the obsolete RFC 850 form and asctime() form, as RFC 9110 §5.6.7 requires
// recipients to accept; nullopt for anything else.
std::optional<int64_t> parse_http_date(std::string_view text);

}  // namespace morgana::http
