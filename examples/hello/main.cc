// hello: the smallest Morgana application. Prints its arguments, sleeps 10 ms on a timer,
// reads both clocks and exits with the status it was asked for; used by hello.sh.
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "morgana/app.h"
#include "morgana/platform/platform.h"
#include "morgana/random/system.h"
#include "morgana/rt/assert.h"

namespace {

namespace platform = morgana::platform;

struct Options {
  bool quick = false;  // --quick: skip the 10 ms sleep
  bool panic = false;  // --panic: exercise the platform's panic path
  int exit_status = 0;
};

// Parses "--exit=N" with N in 0..125 (the statuses a guest may use, DESIGN.md §4).
bool parse_exit(std::string_view value, int& status) {
  if (value.empty() || value.size() > 3) return false;
  int n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  if (n > 125) return false;
  status = n;
  return true;
}

// The Gregorian date of a count of days since 1970-01-01, after Howard Hinnant's
// civil_from_days (http://howardhinnant.github.io/date_algorithms.html).
void civil_from_days(int64_t days, int& year, unsigned& month, unsigned& day) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = unsigned(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = doy - (153 * mp + 2) / 5 + 1;
  month = mp < 10 ? mp + 3 : mp - 9;
  year = int(int64_t(yoe) + era * 400 + (month <= 2 ? 1 : 0));
}

}  // namespace

int app_main(int argc, char** argv) {
  std::printf("hello from Morgana\n");

  std::vector<std::string> args(argv + 1, argv + argc);
  Options options;
  for (const std::string& arg : args) {
    std::printf("arg: %s\n", arg.c_str());
    std::string_view view(arg);
    if (view == "--quick") {
      options.quick = true;
    } else if (view == "--panic") {
      options.panic = true;
    } else if (view.substr(0, 7) == "--exit=" && !parse_exit(view.substr(7), options.exit_status)) {
      std::printf("hello: --exit needs a number in 0..125, not '%s'\n", arg.c_str() + 7);
      return 2;
    }
  }
  if (options.panic) morgana::panic("hello: panic requested by --panic");

  if (options.quick) {
    std::printf("sleep skipped (--quick)\n");
  } else {
    // A timer the way the event loop will use one: yield until the deadline passes.
    const uint64_t start = platform::monotonic_ns();
    const uint64_t deadline = start + 10'000'000;
    while (platform::monotonic_ns() < deadline) (void)platform::yield(deadline);
    std::printf("slept 10 ms\n");
  }
  std::printf("monotonic: %llu ns\n", static_cast<unsigned long long>(platform::monotonic_ns()));

  const uint64_t wall_ns = platform::wall_clock_ns();
  const uint64_t seconds = wall_ns / 1'000'000'000u;
  int year;
  unsigned month, day;
  civil_from_days(int64_t(seconds / 86400), year, month, day);
  const unsigned second_of_day = unsigned(seconds % 86400);
  std::printf("wall clock: %04d-%02u-%02uT%02u:%02u:%02uZ\n", year, month, day,
              second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);

  // The image's random source: the host's boot seed mixed with RDRAND; differs per boot.
  std::printf("random: %016llx\n",
              static_cast<unsigned long long>(morgana::random::system().next_u64()));

  // Some of the standard library in the image: how many arguments have each length.
  std::map<size_t, int> lengths;
  for (const std::string& arg : args) ++lengths[arg.size()];
  std::string summary = "argument lengths:";
  for (const auto& [length, count] : lengths) {
    summary += " " + std::to_string(length) + "x" + std::to_string(count);
  }
  std::printf("%s\n", summary.c_str());

  std::printf("bye\n");
  return options.exit_status;
}
