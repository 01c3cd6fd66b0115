// HTTP dates: civil-calendar conversion (Howard Hinnant's days_from_civil) and the three
// RFC 9110 §5.6.7 formats.
#include "morgana/proto/http/date.h"

#include <cstdio>

#include "syntax.h"

namespace morgana::http {
namespace {

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = int64_t(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

// Reads exactly `digits` decimal digits.
bool number(std::string_view& s, size_t digits, int64_t& out) {
  if (s.size() < digits) return false;
  out = 0;
  for (size_t i = 0; i < digits; ++i) {
    if (!is_digit(s[i])) return false;
    out = out * 10 + (s[i] - '0');
  }
  s.remove_prefix(digits);
  return true;
}

bool literal(std::string_view& s, std::string_view expected) {
  if (s.substr(0, expected.size()) != expected) return false;
  s.remove_prefix(expected.size());
  return true;
}

bool month(std::string_view& s, unsigned& m) {
  for (unsigned i = 0; i < 12; ++i)
    if (literal(s, kMonths[i])) {
      m = i + 1;
      return true;
    }
  return false;
}

bool time_of_day(std::string_view& s, int64_t& h, int64_t& mi, int64_t& sec) {
  return number(s, 2, h) && literal(s, ":") && number(s, 2, mi) && literal(s, ":") &&
         number(s, 2, sec) && h < 24 && mi < 60 && sec < 61;
}

std::optional<int64_t> assemble(int64_t y, unsigned m, int64_t d, int64_t h, int64_t mi,
                                int64_t s) {
  if (d < 1 || d > 31) return std::nullopt;
  return days_from_civil(y, m, unsigned(d)) * 86400 + h * 3600 + mi * 60 + s;
}

}  // namespace

std::string format_http_date(int64_t t) {
  int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  int64_t secs = t - days * 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  int weekday = int(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  char out[40];
  std::snprintf(out, sizeof(out), "%s, %02u %s %04lld %02lld:%02lld:%02lld GMT", kDays[weekday], d,
                kMonths[m - 1], (long long)y, (long long)(secs / 3600), (long long)(secs / 60 % 60),
                (long long)(secs % 60));
  return out;
}

std::optional<int64_t> parse_http_date(std::string_view s) {
  int64_t y, d, h, mi, sec;
  unsigned m;
  size_t comma = s.find(',');
  if (comma == 3) {
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    s.remove_prefix(4);
    if (literal(s, " ") && number(s, 2, d) && literal(s, " ") && month(s, m) && literal(s, " ") &&
        number(s, 4, y) && literal(s, " ") && time_of_day(s, h, mi, sec) && literal(s, " GMT") &&
        s.empty())
      return assemble(y, m, d, h, mi, sec);
    return std::nullopt;
  }
  if (comma != std::string_view::npos) {
    // rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT"; RFC 9110 §5.6.7: a two-digit year
    // more than 50 years in the future is in the past century. We take 00-69 as 20xx.
    s.remove_prefix(comma + 1);
    if (literal(s, " ") && number(s, 2, d) && literal(s, "-") && month(s, m) && literal(s, "-") &&
        number(s, 2, y) && literal(s, " ") && time_of_day(s, h, mi, sec) && literal(s, " GMT") &&
        s.empty())
      return assemble(y < 70 ? 2000 + y : 1900 + y, m, d, h, mi, sec);
    return std::nullopt;
  }
  // asctime-date: "Sun Nov  6 08:49:37 1994"
  if (s.size() < 4) return std::nullopt;
  s.remove_prefix(4);
  if (!month(s, m) || !literal(s, " ")) return std::nullopt;
  if (!s.empty() && s.front() == ' ') {
    s.remove_prefix(1);
    if (!number(s, 1, d)) return std::nullopt;
  } else if (!number(s, 2, d)) {
    return std::nullopt;
  }
  if (literal(s, " ") && time_of_day(s, h, mi, sec) && literal(s, " ") && number(s, 4, y) &&
      s.empty())
    return assemble(y, m, d, h, mi, sec);
  return std::nullopt;
}

}  // namespace morgana::http
