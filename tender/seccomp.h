// The seccomp filter morgana-hvt installs before it runs guest code (DESIGN.md §1.5):
// after setup, the monitor may make only the system calls a running VM needs.
#pragma once

#include <string>
#include <vector>

namespace morgana::tender {

// Whether libslirp's I/O thread runs (any `--net:NAME=user`): it needs socket calls
// for the connections that arrive on its forwards.
enum class UserNetCalls { kDeny, kAllow };

struct SeccompPolicy {
  // ioctl request numbers allowed on any fd (compared on their low 32 bits, as the
  // kernel reads them). The default is what a vCPU loop needs; the monitor adds more.
  std::vector<unsigned long> ioctls = default_ioctls();
  UserNetCalls user_net = UserNetCalls::kDeny;
  // Further syscalls by libseccomp name (e.g. "epoll_pwait"), allowed with any
  // arguments. Each must also be added to docs/seccomp.md with its reason.
  std::vector<std::string> extra_syscalls;

  // KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, and TCGETS (glibc's stdio
  // calls isatty() the first time it writes to a terminal).
  static std::vector<unsigned long> default_ioctls();
};

// Installs the filter on every thread of the process (TSYNC), so call it after every
// thread exists: the filter forbids creating threads. Anything not allowed kills the
// whole process with SIGSYS. Returns "" or a message starting "seccomp: ".
std::string install_seccomp(const SeccompPolicy& policy);

// The syscall names the policy allows with any arguments and those it allows only
// with restricted arguments, for docs/seccomp.md and its test.
std::vector<std::string> seccomp_allowed_names(const SeccompPolicy& policy);

}  // namespace morgana::tender
