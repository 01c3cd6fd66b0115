// Tests of the monitor's seccomp filter: each runs in a forked child, which installs
// the policy and then makes allowed or forbidden calls; the parent reads how it ended.
#include "tender/seccomp.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/kvm.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

namespace morgana::tender {
namespace {

// Runs `body` in a forked child with `policy` installed; returns the wait status. The
// child leaves through _exit(): no atexit handlers, no gtest, nothing but `body`.
// Exit code 100 means installing the filter failed.
int run_confined(const SeccompPolicy& policy, const std::function<int()>& body) {
  std::fflush(nullptr);  // the child must not flush the parent's buffered output again
  pid_t pid = fork();
  if (pid == 0) {
    std::string error = install_seccomp(policy);
    if (!error.empty()) {
      (void)!write(2, error.data(), error.size());
      _exit(100);
    }
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

bool killed_by(int status, int sig) {
  return WIFSIGNALED(status) && WTERMSIG(status) == sig;
}
bool exited_ok(int status) {
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

TEST(Seccomp, ForbiddenSocketKillsTheProcess) {
  int status = run_confined({}, [] { return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 1 : 2; });
  EXPECT_TRUE(killed_by(status, SIGSYS)) << describe(status);
}

TEST(Seccomp, ExecveKillsTheProcess) {
  int status = run_confined({}, [] {
    char* const argv[] = {const_cast<char*>("true"), nullptr};
    execve("/bin/true", argv, environ);
    return 1;
  });
  EXPECT_TRUE(killed_by(status, SIGSYS)) << describe(status);
}

TEST(Seccomp, MonitorCallsAreAllowed) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int status = run_confined({}, [&] {
    // What a running monitor does: I/O on open fds, time, memory, stdio, randomness.
    if (write(fds[1], "ok", 2) != 2) return 1;
    timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 2;
    timespec nap{0, 1000};
    if (nanosleep(&nap, nullptr) != 0) return 3;
    void* big = std::malloc(8 << 20);  // mmap'ed by glibc
    if (big == nullptr) return 4;
    std::memset(big, 1, 8 << 20);
    std::free(big);  // munmap
    char seed[32];
    if (getrandom(seed, sizeof(seed), 0) != sizeof(seed)) return 5;
    // stdio's first use of a stream: fstat (newfstatat with AT_EMPTY_PATH), maybe TCGETS.
    std::printf("[confined child prints]\n");
    std::fflush(stdout);
    int tty = ioctl(fds[1], TCGETS, seed);  // ENOTTY on a pipe, but allowed
    if (tty != -1 || errno != ENOTTY) return 6;
    return 0;
  });
  EXPECT_TRUE(exited_ok(status)) << describe(status);
  char buf[2];
  EXPECT_EQ(read(fds[0], buf, 2), 2);
  close(fds[0]);
  close(fds[1]);
}

TEST(Seccomp, ExecutableMemoryKills) {
  int status = run_confined({}, [] {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? 1 : 2;
  });
  EXPECT_TRUE(killed_by(status, SIGSYS)) << "mmap(PROT_EXEC): " << describe(status);
  status = run_confined({}, [] {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 1;
    mprotect(p, 4096, PROT_READ | PROT_EXEC);
    return 2;
  });
  EXPECT_TRUE(killed_by(status, SIGSYS)) << "mprotect(PROT_EXEC): " << describe(status);
}

TEST(Seccomp, OnlyListedIoctls) {
  int status = run_confined({}, [] {
    int n;
    ioctl(0, FIONREAD, &n);
    return 1;
  });
  EXPECT_TRUE(killed_by(status, SIGSYS)) << "FIONREAD: " << describe(status);
  // The kernel reads the request as 32 bits; upper bits must not change the verdict.
  status = run_confined({}, [] {
    int n;
    syscall(SYS_ioctl, 0, (1ul << 32) | FIONREAD, &n);
    return 1;
  });
  EXPECT_TRUE(killed_by(status, SIGSYS)) << "FIONREAD | 1 << 32: " << describe(status);
  // KVM_RUN is in the default list: on a non-KVM fd it fails, but is not killed.
  status = run_confined({}, [] { return ioctl(0, KVM_RUN, 0) == -1 ? 0 : 1; });
  EXPECT_TRUE(exited_ok(status)) << "KVM_RUN: " << describe(status);
  // The monitor can extend the list.
  SeccompPolicy policy;
  policy.ioctls.push_back(FIONREAD);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  status = run_confined(policy, [&] {
    int n = -1;
    return ioctl(fds[0], FIONREAD, &n) == 0 && n == 0 ? 0 : 1;
  });
  EXPECT_TRUE(exited_ok(status)) << "listed FIONREAD: " << describe(status);
  close(fds[0]);
  close(fds[1]);
}

TEST(Seccomp, SocketCallsOnlyForUserNet) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  auto body = [&] {
    int error = -1;
    socklen_t len = sizeof(error);
    return getsockopt(listener, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0 ? 0 : 1;
  };
  int status = run_confined({}, body);
  EXPECT_TRUE(killed_by(status, SIGSYS)) << "without user net: " << describe(status);
  SeccompPolicy policy;
  policy.user_net = UserNetCalls::kAllow;
  status = run_confined(policy, body);
  EXPECT_TRUE(exited_ok(status)) << "with user net: " << describe(status);
  // Even then, no new sockets and no outgoing connections (restricted slirp needs none).
  status = run_confined(policy, [&] {
    sockaddr_in a{AF_INET, htons(9), {htonl(INADDR_LOOPBACK)}, {}};
    connect(listener, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    return 1;
  });
  EXPECT_TRUE(killed_by(status, SIGSYS)) << "connect: " << describe(status);
  close(listener);
}

TEST(Seccomp, CoversThreadsThatAlreadyRun) {
  int status = run_confined({}, [] { return 0; });  // warm-up: fork works here
  ASSERT_TRUE(exited_ok(status));
  std::fflush(nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int go[2], up[2];
    if (pipe(go) != 0 || pipe(up) != 0) _exit(3);
    // Started (and past glibc's thread start-up) before the filter, like the slirp
    // thread: TSYNC must cover it.
    std::thread worker([&] {
      char c;
      if (write(up[1], "u", 1) != 1 || read(go[0], &c, 1) != 1) _exit(4);
      socket(AF_INET, SOCK_STREAM, 0);  // forbidden: kills the process
      _exit(1);
    });
    char c;
    if (read(up[0], &c, 1) != 1) _exit(5);
    if (!install_seccomp({}).empty()) _exit(100);
    (void)!write(go[1], "g", 1);
    worker.join();
    _exit(2);
  }
  waitpid(pid, &status, 0);
  EXPECT_TRUE(killed_by(status, SIGSYS)) << describe(status);
}

TEST(Seccomp, NoNewThreads) {
  int status = run_confined({}, [] {
    std::thread t([] {});
    t.join();
    return 1;
  });
  EXPECT_TRUE(killed_by(status, SIGSYS)) << describe(status);
}

TEST(Seccomp, AbortStillReportsAbort) {
  // A failed assertion in the monitor must show as SIGABRT, not as a seccomp kill.
  int status = run_confined({}, [] {
    std::abort();
    return 1;
  });
  EXPECT_TRUE(killed_by(status, SIGABRT)) << describe(status);
}

TEST(Seccomp, ExtraSyscalls) {
  SeccompPolicy policy;
  policy.extra_syscalls = {"getppid"};
  int status = run_confined(policy, [] { return getppid() > 0 ? 0 : 1; });
  EXPECT_TRUE(exited_ok(status)) << describe(status);
  policy.extra_syscalls = {"no_such_call"};
  EXPECT_EQ(install_seccomp(policy), "seccomp: unknown syscall 'no_such_call'");
  SeccompPolicy no_ioctls;
  no_ioctls.ioctls.clear();
  EXPECT_EQ(install_seccomp(no_ioctls), "seccomp: the policy allows no ioctl; KVM_RUN is needed");
}

TEST(Seccomp, DocsNameEveryAllowedSyscall) {
  // docs/seccomp.md is the reviewable form of the filter: it must not fall behind.
  std::string here = __FILE__;
  std::string root = here.substr(0, here.rfind("/tests/unit/tender/"));
  std::ifstream file(root + "/docs/seccomp.md");
  ASSERT_TRUE(file) << "cannot read " << root << "/docs/seccomp.md";
  std::stringstream text;
  text << file.rdbuf();
  SeccompPolicy policy;
  policy.user_net = UserNetCalls::kAllow;
  for (const std::string& name : seccomp_allowed_names(policy)) {
    EXPECT_NE(text.str().find("`" + name + "`"), std::string::npos) << name << " is not documented";
  }
}

}  // namespace
}  // namespace morgana::tender
