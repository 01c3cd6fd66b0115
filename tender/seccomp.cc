// The monitor's seccomp filter, built with libseccomp from the tables below. Every entry
// is explained in docs/seccomp.md; seccomp_test.cc checks that the two agree.
#include "tender/seccomp.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

namespace morgana::tender {
namespace {

// Allowed with any arguments: the monitor's own loop (vCPU, I/O threads, block I/O,
// console) and what glibc's malloc, stdio and threads do underneath it.
constexpr const char* kMonitorCalls[] = {
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "fsync",
    "fdatasync",
    "poll",
    "ppoll",
    "clock_gettime",
    "clock_nanosleep",
    "nanosleep",
    "futex",
    "sched_yield",
    "exit",
    "exit_group",
    "rt_sigreturn",
    "rt_sigprocmask",
    "restart_syscall",
    "brk",
    "munmap",
    "mremap",
    "getrandom",
    "close",
    "getpid",
    "gettid",
    "fstat",
    // glibc's start-up of a thread created just before the filter, which may still be
    // running when it arrives; both only register per-thread state with the kernel.
    "rseq",
    "set_robust_list",
};

// Allowed with any arguments when libslirp's I/O thread runs: it accepts connections on
// its forwards' listening sockets and moves their bytes. Restricted mode means it never
// opens a socket or connects anywhere after setup. This is what libslirp 4.7 was seen
// to call (strace of net_user_test); recvmsg, sendmsg and accept4 are not among them.
constexpr const char* kUserNetCalls[] = {
    "accept", "recvfrom", "sendto", "setsockopt", "getsockopt", "getpeername", "shutdown",
};

// fcntl commands libslirp uses to make an accepted socket non-blocking.
constexpr int kUserNetFcntls[] = {F_GETFL, F_SETFL, F_GETFD, F_SETFD};

// Only in sanitizer builds (MORGANA_SANITIZE): the ASan runtime's allocator advises
// MADV_NOHUGEPAGE and MADV_DONTDUMP on its mappings, its exit path queries the
// alternate signal stack, and its memory-accessibility probe (used while unwinding)
// writes through a pipe. A release monitor does without them.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif
constexpr const char* kSanitizerCalls[] = {"sigaltstack", "madvise", "pipe2"};

// Allowed only with the argument checks made in install_seccomp().
constexpr const char* kRestrictedCalls[] = {"ioctl",   "mmap",       "mprotect",
                                            "madvise", "newfstatat", "tgkill"};

class Filter {
 public:
  Filter() : ctx_(seccomp_init(SCMP_ACT_KILL_PROCESS)) {}
  ~Filter() {
    if (ctx_ != nullptr) seccomp_release(ctx_);
  }
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;

  scmp_filter_ctx ctx() const { return ctx_; }

  // Adds one allow rule; the first failure is kept and reported by error().
  template <typename... Args>
  void allow(const char* name, Args... conditions) {
    if (!error_.empty()) return;
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) {
      error_ = std::string("seccomp: unknown syscall '") + name + "'";
      return;
    }
    int rc = seccomp_rule_add(ctx_, SCMP_ACT_ALLOW, nr, sizeof...(conditions), conditions...);
    if (rc < 0) error_ = std::string("seccomp: cannot allow ") + name + ": " + std::strerror(-rc);
  }
  // Makes the call fail with `error` instead of killing the monitor: for library code
  // that may try something we never allow but copes with its failure.
  void refuse(const char* name, int error) {
    if (!error_.empty()) return;
    int nr = seccomp_syscall_resolve_name(name);
    int rc = nr == __NR_SCMP_ERROR ? -EINVAL : seccomp_rule_add(ctx_, SCMP_ACT_ERRNO(error), nr, 0);
    if (rc < 0) error_ = std::string("seccomp: cannot refuse ") + name + ": " + std::strerror(-rc);
  }
  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }
  const std::string& error() const { return error_; }

 private:
  scmp_filter_ctx ctx_;
  std::string error_;
};

}  // namespace

std::vector<unsigned long> SeccompPolicy::default_ioctls() {
  return {KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, TCGETS};
}

std::vector<std::string> seccomp_allowed_names(const SeccompPolicy& policy) {
  std::vector<std::string> names(std::begin(kMonitorCalls), std::end(kMonitorCalls));
  names.insert(names.end(), std::begin(kRestrictedCalls), std::end(kRestrictedCalls));
  if (policy.user_net == UserNetCalls::kAllow) {
    names.insert(names.end(), std::begin(kUserNetCalls), std::end(kUserNetCalls));
    names.push_back("fcntl");
  }
  if (kSanitizerBuild)
    names.insert(names.end(), std::begin(kSanitizerCalls), std::end(kSanitizerCalls));
  names.insert(names.end(), policy.extra_syscalls.begin(), policy.extra_syscalls.end());
  return names;
}

std::string install_seccomp(const SeccompPolicy& policy) {
  Filter filter;
  if (filter.ctx() == nullptr) return "seccomp: cannot initialise libseccomp";
  // A syscall made through another ABI (i386 int 0x80, x32) would dodge the table
  // below, which is for x86_64 numbers: such calls kill the process too.
  if (int rc = seccomp_attr_set(filter.ctx(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
      rc < 0) {
    return std::string("seccomp: cannot set the bad-arch action: ") + std::strerror(-rc);
  }
  // TSYNC: the filter applies to the I/O threads already running, not only to the
  // calling thread. (NO_NEW_PRIVS, libseccomp's default, stays set.)
  if (int rc = seccomp_attr_set(filter.ctx(), SCMP_FLTATR_CTL_TSYNC, 1); rc < 0) {
    return std::string("seccomp: cannot request thread sync: ") + std::strerror(-rc);
  }

  for (const char* name : kMonitorCalls) filter.allow(name);

  // ioctl only with the listed requests. The kernel reads the request as 32 bits, so
  // compare exactly those: upper bits cannot smuggle another request past the rule.
  if (policy.ioctls.empty()) filter.fail("seccomp: the policy allows no ioctl; KVM_RUN is needed");
  for (unsigned long request : policy.ioctls) {
    filter.allow("ioctl", SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, request & 0xffffffffu));
  }
  // Memory for malloc in the monitor's threads, never executable: a compromised
  // monitor cannot map code it wrote.
  filter.allow("mmap", SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  filter.allow("mprotect", SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  // glibc's free() and thread exit give pages back with MADV_DONTNEED.
  filter.allow("madvise", SCMP_A2(SCMP_CMP_EQ, MADV_DONTNEED));
  // glibc implements fstat() as fstatat(fd, "", AT_EMPTY_PATH); stdio calls it the
  // first time a stream is used.
  filter.allow("newfstatat", SCMP_A3(SCMP_CMP_EQ, AT_EMPTY_PATH));
  // abort() (a failed assertion in the monitor) raises SIGABRT at this process only,
  // so a monitor bug reports as such instead of as a seccomp kill.
  filter.allow("tgkill", SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(getpid())),
               SCMP_A2(SCMP_CMP_EQ, SIGABRT));

  if (policy.user_net == UserNetCalls::kAllow) {
    for (const char* name : kUserNetCalls) filter.allow(name);
    for (int cmd : kUserNetFcntls)
      filter.allow("fcntl", SCMP_A1(SCMP_CMP_EQ, static_cast<scmp_datum_t>(cmd)));
    // libslirp's thread opens files now and then after boot (seen as openat killing the
    // monitor mid-run under the website test: e.g. /etc/resolv.conf for its DNS proxy).
    // No file may be opened after boot, but slirp copes with a failed open: refuse with
    // EACCES rather than kill.
    filter.refuse("openat", EACCES);
    filter.refuse("open", EACCES);
  }
  if (kSanitizerBuild) {
    for (const char* name : kSanitizerCalls) filter.allow(name);
  }
  for (const std::string& name : policy.extra_syscalls) filter.allow(name.c_str());
  if (!filter.error().empty()) return filter.error();

  if (int rc = seccomp_load(filter.ctx()); rc < 0) {
    return std::string("seccomp: cannot load the filter: ") + std::strerror(-rc);
  }
  return "";
}

}  // namespace morgana::tender
