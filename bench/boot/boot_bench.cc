// boot_bench: times commands from exec to their first line of output and to their exit,
// over many runs, and prints medians and p90s side by side (bench/boot/run drives it).
//   boot_bench RUNS LABEL [--status=N] -- CMD... [--- LABEL [--status=N] -- CMD...]...
// A run counts when the command exits with N (default 0): QEMU reports a guest's status
// 0 as 1, for example (docs/virtio.md).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace {

struct Case {
  std::string label;
  std::vector<char*> argv;
  std::vector<double> first_line_ms, exit_ms;
  int failures = 0;
  int expected_status = 0;
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

// One run: spawn with stdout on a pipe, note the time the first newline arrives and the
// time the process is reaped.
bool run_once(Case& c) {
  int fds[2];
  if (pipe(fds) < 0) return false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  double start = now_ms();
  pid_t pid;
  int rc = posix_spawn(&pid, c.argv[0], &actions, nullptr, c.argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return false;
  }
  double first = -1;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0)
    if (first < 0 && memchr(buf, '\n', static_cast<size_t>(n))) first = now_ms();
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  double end = now_ms();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != c.expected_status || first < 0) return false;
  c.first_line_ms.push_back(first - start);
  c.exit_ms.push_back(end - start);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: boot_bench RUNS LABEL -- CMD... [--- LABEL -- CMD...]...\n");
    return 2;
  }
  int runs = atoi(argv[1]);
  std::vector<Case> cases;
  for (int i = 2; i < argc;) {
    Case c;
    c.label = argv[i++];
    if (i < argc && strncmp(argv[i], "--status=", 9) == 0) c.expected_status = atoi(argv[i++] + 9);
    if (i >= argc || strcmp(argv[i], "--") != 0) {
      fprintf(stderr, "boot_bench: expected -- after label %s\n", c.label.c_str());
      return 2;
    }
    ++i;
    while (i < argc && strcmp(argv[i], "---") != 0) c.argv.push_back(argv[i++]);
    if (i < argc) ++i;
    c.argv.push_back(nullptr);
    cases.push_back(std::move(c));
  }
  // Interleave the cases so drift in machine load hits them all alike.
  for (int r = 0; r < runs; ++r)
    for (Case& c : cases)
      if (!run_once(c)) c.failures++;

  printf("| command | runs | first line median | first line p90 | exit median | exit p90 |\n");
  printf("|---|---|---|---|---|---|\n");
  for (const Case& c : cases)
    printf("| %s | %zu | %.3f ms | %.3f ms | %.3f ms | %.3f ms |\n", c.label.c_str(),
           c.exit_ms.size(), percentile(c.first_line_ms, 0.5), percentile(c.first_line_ms, 0.9),
           percentile(c.exit_ms, 0.5), percentile(c.exit_ms, 0.9));
  if (cases.size() >= 2 && !cases[1].exit_ms.empty()) {
    printf("\nratio %s / %s: first line %.2fx, exit %.2fx (median)\n", cases[0].label.c_str(),
           cases[1].label.c_str(),
           percentile(cases[0].first_line_ms, 0.5) / percentile(cases[1].first_line_ms, 0.5),
           percentile(cases[0].exit_ms, 0.5) / percentile(cases[1].exit_ms, 0.5));
  }
  int failed = 0;
  for (const Case& c : cases)
    if (c.failures) {
      fprintf(stderr, "boot_bench: %s failed %d of %d runs\n", c.label.c_str(), c.failures, runs);
      failed = 1;
    }
  return failed;
}
