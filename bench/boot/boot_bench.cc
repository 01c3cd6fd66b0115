// boot_bench: times commands from exec to their first line of output and to their exit,
// over many runs, and prints medians and p90s side by side (bench/boot/run drives it).
//
//   boot_bench [--timeout=SECONDS] RUNS CASE [--- CASE]...
//   CASE: LABEL [OPTION]... -- CMD...
//     --status=N       a run counts when CMD exits with N (default 0); QEMU reports a
//                      guest's status 0 as 1, for example (docs/virtio.md)
//     --line=TEXT      "first line" is the first line containing TEXT, not just the first
//                      line (a Linux guest's firmware and setup code print before the kernel)
//     --mark=TEXT      also time the first line containing TEXT (a guest's statistics
//                      line printed at halt, a kernel's panic)
//     --guest=UNIT:KEY the marked line reports the guest's own time as the number after
//                      KEY, in UNIT (s, ms or us); exec-to-exit then splits per run into
//                      that time, the rest before the marked line (the monitor's start-up,
//                      and whatever the guest did that its own clock does not cover), and
//                      the marked line to exit
//     --stderr         read CMD's stderr too (morgana-hvt prints --stats there); else
//                      stderr goes to /dev/null
// A run that times out (default 120 s: a hung guest must not stall the whole bench), exits
// otherwise, or never prints the line or mark does not count; such runs are listed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace {

// Longer lines are cut for matching (they still end at their newline): bounds the memory
// a chatty command can make us hold.
constexpr size_t kMaxLine = 4096;

struct Case {
  std::string label;
  std::vector<char*> argv;
  int expected_status = 0;
  std::string line_text;  // empty: any line
  std::string mark_text;  // empty: no mark
  std::string guest_key;  // empty: the mark reports no guest time
  double guest_unit_ms = 0;
  bool read_stderr = false;

  std::vector<double> first_line_ms, exit_ms, mark_ms, guest_ms;
  // Why runs did not count, as "reason" strings in run order (the first few are printed).
  std::vector<std::string> failures;
};

double now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// The number right after KEY in LINE, converted to ms; false when KEY is missing or not
// followed by a number.
bool parse_guest_time(const Case& c, const std::string& line, double* ms) {
  size_t at = line.find(c.guest_key);
  if (at == std::string::npos) return false;
  const char* start = line.c_str() + at + c.guest_key.size();
  char* end = nullptr;
  errno = 0;
  double value = strtod(start, &end);
  if (end == start || errno != 0 || value < 0) return false;
  *ms = value * c.guest_unit_ms;
  return true;
}

struct RunState {
  double first = -1, mark = -1, guest = -1;
  bool guest_unreadable = false;
};

// One complete output line of a run: note the first line and the mark.
void on_line(const Case& c, const std::string& line, double t, RunState& s) {
  if (s.first < 0 && (c.line_text.empty() || line.find(c.line_text) != std::string::npos))
    s.first = t;
  if (!c.mark_text.empty() && s.mark < 0 && line.find(c.mark_text) != std::string::npos) {
    s.mark = t;
    if (!c.guest_key.empty() && !parse_guest_time(c, line, &s.guest)) s.guest_unreadable = true;
  }
}

// One run: spawn with stdout (and stderr if asked) on a pipe, note when the wanted lines
// arrive and when the process is reaped; kill it at the deadline.
void run_once(Case& c, double timeout_s) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) {
    c.failures.push_back(std::string("pipe: ") + strerror(errno));
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // A guest console on stdio must not read the terminal (or change its modes).
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  if (c.read_stderr)
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  else
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  const double start = now_ms();
  pid_t pid;
  int rc = posix_spawn(&pid, c.argv[0], &actions, nullptr, c.argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    c.failures.push_back(std::string("spawn: ") + strerror(rc));
    return;
  }
  RunState s;
  std::string line;
  bool timed_out = false;
  char buf[4096];
  for (;;) {
    const double left_ms = start + timeout_s * 1e3 - now_ms();
    if (left_ms <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int n_ready = poll(&p, 1, static_cast<int>(left_ms) + 1);
    if (n_ready < 0 && errno == EINTR) continue;
    if (n_ready <= 0) continue;  // the deadline is checked at the top
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const double t = now_ms();
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        on_line(c, line, t, s);
        line.clear();
      } else if (line.size() < kMaxLine) {
        line.push_back(buf[i]);
      }
    }
  }
  if (timed_out)
    kill(pid, SIGKILL);
  else if (!line.empty())
    on_line(c, line, now_ms(), s);  // the last line had no newline
  close(fds[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const double end = now_ms();
  if (timed_out) {
    c.failures.push_back("timed out after " + std::to_string(static_cast<int>(timeout_s)) + " s");
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != c.expected_status) {
    c.failures.push_back(WIFEXITED(status)
                             ? "exit status " + std::to_string(WEXITSTATUS(status))
                             : "killed by signal " + std::to_string(WTERMSIG(status)));
  } else if (s.first < 0) {
    c.failures.push_back(c.line_text.empty() ? "no output line"
                                             : "no line containing '" + c.line_text + "'");
  } else if (!c.mark_text.empty() && s.mark < 0) {
    c.failures.push_back("no line containing '" + c.mark_text + "'");
  } else if (s.guest_unreadable) {
    c.failures.push_back("no number after '" + c.guest_key + "' on the marked line");
  } else {
    c.first_line_ms.push_back(s.first - start);
    c.exit_ms.push_back(end - start);
    if (s.mark >= 0) c.mark_ms.push_back(s.mark - start);
    if (!c.guest_key.empty()) c.guest_ms.push_back(s.guest);
  }
}

// Parses "UNIT:KEY" for --guest.
bool parse_guest_option(const char* value, Case& c) {
  const char* colon = strchr(value, ':');
  if (!colon || colon[1] == '\0') return false;
  std::string unit(value, colon);
  if (unit == "s")
    c.guest_unit_ms = 1e3;
  else if (unit == "ms")
    c.guest_unit_ms = 1;
  else if (unit == "us")
    c.guest_unit_ms = 1e-3;
  else
    return false;
  c.guest_key = colon + 1;
  return true;
}

// Parses one CASE starting at argv[i]; returns false with a message on a bad one.
bool parse_case(int argc, char** argv, int& i, Case& c) {
  c.label = argv[i++];
  for (; i < argc && strcmp(argv[i], "--") != 0; ++i) {
    const char* a = argv[i];
    if (strncmp(a, "--status=", 9) == 0) {
      char* end;
      long v = strtol(a + 9, &end, 10);
      if (end == a + 9 || *end || v < 0 || v > 255) {
        fprintf(stderr, "boot_bench: %s: --status needs 0..255, got '%s'\n", c.label.c_str(),
                a + 9);
        return false;
      }
      c.expected_status = static_cast<int>(v);
    } else if (strncmp(a, "--line=", 7) == 0 && a[7]) {
      c.line_text = a + 7;
    } else if (strncmp(a, "--mark=", 7) == 0 && a[7]) {
      c.mark_text = a + 7;
    } else if (strncmp(a, "--guest=", 8) == 0) {
      if (!parse_guest_option(a + 8, c)) {
        fprintf(stderr, "boot_bench: %s: --guest needs UNIT:KEY with UNIT s, ms or us\n",
                c.label.c_str());
        return false;
      }
    } else if (strcmp(a, "--stderr") == 0) {
      c.read_stderr = true;
    } else {
      fprintf(stderr, "boot_bench: %s: unknown option '%s' (or a missing --)\n", c.label.c_str(),
              a);
      return false;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "boot_bench: expected -- after label %s\n", c.label.c_str());
    return false;
  }
  ++i;
  while (i < argc && strcmp(argv[i], "---") != 0) c.argv.push_back(argv[i++]);
  if (i < argc) ++i;
  if (c.argv.empty()) {
    fprintf(stderr, "boot_bench: %s: no command after --\n", c.label.c_str());
    return false;
  }
  if (!c.guest_key.empty() && c.mark_text.empty()) {
    fprintf(stderr, "boot_bench: %s: --guest reads the --mark line; give --mark too\n",
            c.label.c_str());
    return false;
  }
  c.argv.push_back(nullptr);
  return true;
}

// Median of a[i] - b[i] over runs: the per-run split, not a difference of medians.
double median_of_differences(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> d;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) d.push_back(a[i] - b[i]);
  return percentile(d, 0.5);
}

void print_tables(const std::vector<Case>& cases, int runs) {
  printf("| command | runs | first line median | first line p90 | exit median | exit p90 |\n");
  printf("|---|---|---|---|---|---|\n");
  for (const Case& c : cases)
    printf("| %s | %zu | %.3f ms | %.3f ms | %.3f ms | %.3f ms |\n", c.label.c_str(),
           c.exit_ms.size(), percentile(c.first_line_ms, 0.5), percentile(c.first_line_ms, 0.9),
           percentile(c.exit_ms, 0.5), percentile(c.exit_ms, 0.9));
  if (cases.size() >= 2 && !cases[0].exit_ms.empty() && !cases[1].exit_ms.empty()) {
    printf("\nratio %s / %s: first line %.2fx, exit %.2fx (median)\n", cases[0].label.c_str(),
           cases[1].label.c_str(),
           percentile(cases[0].first_line_ms, 0.5) / percentile(cases[1].first_line_ms, 0.5),
           percentile(cases[0].exit_ms, 0.5) / percentile(cases[1].exit_ms, 0.5));
  }

  bool any_mark = false;
  for (const Case& c : cases) any_mark |= !c.mark_text.empty();
  if (any_mark) {
    printf(
        "\n| command | marked line | exec to it, median | p90 | guest's own time | "
        "the rest before it | marked line to exit |\n");
    printf("|---|---|---|---|---|---|---|\n");
    for (const Case& c : cases) {
      if (c.mark_text.empty()) continue;
      printf("| %s | `%s` | %.3f ms | %.3f ms |", c.label.c_str(), c.mark_text.c_str(),
             percentile(c.mark_ms, 0.5), percentile(c.mark_ms, 0.9));
      if (c.guest_key.empty())
        printf(" - | - |");
      else
        printf(" %.3f ms | %.3f ms |", percentile(c.guest_ms, 0.5),
               median_of_differences(c.mark_ms, c.guest_ms));
      printf(" %.3f ms |\n", median_of_differences(c.exit_ms, c.mark_ms));
    }
  }

  bool any_failed = false;
  for (const Case& c : cases) any_failed |= !c.failures.empty();
  if (any_failed) {
    printf("\nRuns that did not count:\n\n");
    for (const Case& c : cases) {
      if (c.failures.empty()) continue;
      printf("- %s: %zu of %d (first: %s)\n", c.label.c_str(), c.failures.size(), runs,
             c.failures.front().c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int i = 1;
  double timeout_s = 120;
  if (i < argc && strncmp(argv[i], "--timeout=", 10) == 0) {
    timeout_s = atof(argv[i] + 10);
    if (!(timeout_s > 0)) {
      fprintf(stderr, "boot_bench: --timeout needs a positive number of seconds\n");
      return 2;
    }
    ++i;
  }
  if (argc - i < 4) {
    fprintf(stderr,
            "usage: boot_bench [--timeout=SECONDS] RUNS LABEL [--status=N] [--line=TEXT]\n"
            "         [--mark=TEXT [--guest=s|ms|us:KEY]] [--stderr] -- CMD... [--- LABEL ...]\n");
    return 2;
  }
  char* end;
  long runs = strtol(argv[i], &end, 10);
  if (end == argv[i] || *end || runs < 1 || runs > 1000000) {
    fprintf(stderr, "boot_bench: RUNS must be 1..1000000, got '%s'\n", argv[i]);
    return 2;
  }
  ++i;
  std::vector<Case> cases;
  while (i < argc) {
    Case c;
    if (!parse_case(argc, argv, i, c)) return 2;
    cases.push_back(std::move(c));
  }
  // Interleave the cases so drift in machine load hits them all alike.
  for (long r = 0; r < runs; ++r)
    for (Case& c : cases) run_once(c, timeout_s);

  print_tables(cases, static_cast<int>(runs));
  int failed = 0;
  for (const Case& c : cases)
    if (!c.failures.empty()) {
      fprintf(stderr, "boot_bench: %s failed %zu of %ld runs (first: %s)\n", c.label.c_str(),
              c.failures.size(), runs, c.failures.front().c_str());
      failed = 1;
    }
  return failed;
}
