// morgana-hvt: boots one Morgana image on KVM (DESIGN.md §4, §4a). Checks the command
// line and the image, attaches the devices the manifest names, lays out guest memory,
// drops privileges with seccomp, then runs the vCPU and serves its calls.
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "platform/host/device_options.h"
#include "tender/calls.h"
#include "tender/elf.h"
#include "tender/io_thread.h"
#include "tender/layout.h"
#include "tender/net_tap.h"
#include "tender/net_user.h"
#include "tender/seccomp.h"
#include "tender/symbols.h"
#include "tender/vm.h"

namespace morgana::tender {
namespace {

constexpr uint64_t kMaxImageFile = 256ull << 20;
kvm_run* g_run;  // for the signal handler

// Refusals before boot: a message naming the problem, exit status 253.
int refuse(const std::string& message) {
  fprintf(stderr, "morgana-hvt: %s\n", message.c_str());
  return abi::kExitRefused;
}

void on_stop_signal(int sig) {
  g_stop_signal = sig;
  // Makes a KVM_RUN that is about to start return at once (KVM API: immediate_exit).
  if (g_run) g_run->immediate_exit = 1;
  uint64_t one = 1;
  ssize_t n = write(g_stop_fd, &one, sizeof one);
  (void)n;
}

// The image file, mapped read-only: the loader reads only its headers and the bytes
// of its segments, so nothing else of the file (debug info) is ever touched.
class MappedFile {
 public:
  ~MappedFile() {
    if (data_) munmap(data_, size_);
  }
  bool open(const std::string& path, std::string& error) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
      error = path + ": " + std::strerror(errno);
      if (fd >= 0) close(fd);
      return false;
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0 ||
        static_cast<uint64_t>(st.st_size) > kMaxImageFile) {
      close(fd);
      error = path + ": not a non-empty regular file of at most 256 MiB";
      return false;
    }
    size_ = static_cast<size_t>(st.st_size);
    void* data = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (data == MAP_FAILED) {
      error = path + ": " + std::strerror(errno);
      return false;
    }
    data_ = static_cast<uint8_t*>(data);
    return true;
  }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Opens the host side of every manifest device, in manifest order.
std::string attach_devices(const host::Options& options, const abi::Manifest& manifest,
                           std::vector<AttachedDevice>& devices) {
  for (uint32_t i = 0; i < manifest.entry_count; ++i) {
    AttachedDevice dev;
    dev.name = std::string(manifest.entries[i].name,
                           strnlen(manifest.entries[i].name, abi::kMaxDeviceName + 1));
    dev.type = static_cast<abi::DeviceType>(manifest.entries[i].type);
    if (dev.type == abi::DeviceType::kNet) {
      for (const host::NetAttachment& a : options.nets) {
        if (a.name != dev.name) continue;
        NetBackendResult r = a.kind == host::NetAttachment::Kind::kTap ? TapBackend::create(a)
                                                                       : UserBackend::create(a);
        if (!r) return r.error;
        dev.net = std::move(r.backend);
      }
    } else {
      for (const host::BlockAttachment& b : options.blocks) {
        if (b.name != dev.name) continue;
        dev.block_read_only = b.read_only;
        dev.block_fd = open(b.path.c_str(), (b.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        struct stat st;
        if (dev.block_fd < 0 || fstat(dev.block_fd, &st) < 0)
          return "--block:" + b.name + "=" + b.path + ": " + std::strerror(errno);
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
          return "--block:" + b.name + "=" + b.path + ": not a regular file or block device";
        dev.block_capacity = static_cast<uint64_t>(st.st_size) & ~(kBlockSize - 1);
        if (dev.block_capacity == 0)
          return "--block:" + b.name + "=" + b.path + ": smaller than one 512-byte block";
      }
    }
    devices.push_back(std::move(dev));
  }
  return "";
}

// Writes BootInfo, the argv array and its strings into the boot info area.
std::string write_boot_info(const GuestMemory& memory, const GuestLayout& layout, uint64_t tsc_hz,
                            const std::vector<std::string>& argv,
                            const std::vector<AttachedDevice>& devices,
                            const host::Options& options, abi::BootInfo& info) {
  info = abi::BootInfo{};
  info.magic = abi::kBootInfoMagic;
  info.abi_version = abi::kAbiVersion;
  info.mem_size = memory.size();
  info.heap_start = layout.heap_start;
  info.heap_end = layout.heap_end;
  info.stack_top = layout.stack_top;
  info.tsc_hz = tsc_hz;
  info.console_ring = abi::kConsoleRingAddr;
  // Pinned to one CPU (taskset, cpusets), the I/O thread and the vCPU share it.
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) == 1)
    info.flags |= abi::kBootFlagSharedCpu;
  if (getrandom(info.seed, sizeof info.seed, 0) != sizeof info.seed ||
      getrandom(&info.thread_block.stack_guard, 8, 0) != 8)
    return std::string("getrandom: ") + std::strerror(errno);
  // A zero low byte stops string overflows from reading out the canary (as glibc does).
  info.thread_block.stack_guard &= ~uint64_t{0xff};
  info.thread_block.self = abi::kBootInfoAddr + offsetof(abi::BootInfo, thread_block);

  info.device_count = static_cast<uint32_t>(devices.size());
  for (size_t i = 0; i < devices.size(); ++i) {
    abi::DeviceInfo& d = info.devices[i];
    std::memcpy(d.name, devices[i].name.data(), devices[i].name.size());
    d.type = static_cast<uint32_t>(devices[i].type);
    if (devices[i].type == abi::DeviceType::kNet) {
      std::array<uint8_t, 6> mac{0x02, 0, 0, 0, 0, 0};  // locally administered, unicast
      if (getrandom(mac.data() + 1, 5, 0) != 5) return "getrandom failed";
      for (const host::NetAttachment& a : options.nets)
        if (a.name == devices[i].name && a.mac) mac = *a.mac;
      std::memcpy(d.net.mac, mac.data(), 6);
      d.net.mtu = kNetMtu;
    } else {
      d.block.capacity = devices[i].block_capacity;
      d.block.block_size = kBlockSize;
      d.block.read_only = devices[i].block_read_only;
    }
  }

  // argv: the pointer array right after BootInfo, then the strings.
  uint64_t pointers = (abi::kBootInfoAddr + sizeof(abi::BootInfo) + 15) & ~uint64_t{15};
  uint64_t strings = pointers + (argv.size() + 1) * 8;
  uint64_t limit = abi::kBootInfoAddr + abi::kBootInfoSize;
  if (strings > limit) return "too many application arguments";
  for (size_t i = 0; i < argv.size(); ++i) {
    uint64_t len = argv[i].size() + 1;
    if (len > limit - strings)
      return "application arguments exceed " + std::to_string(abi::kBootInfoSize / 1024) + " KiB";
    std::memcpy(memory.range(strings, len)->data(), argv[i].c_str(), len);
    memory.write(pointers + i * 8, strings);
    strings += len;
  }
  memory.write(pointers + argv.size() * 8, uint64_t{0});
  info.argc = static_cast<uint32_t>(argv.size());
  info.argv = pointers;
  memory.write(abi::kBootInfoAddr, info);
  return "";
}

const char* vector_name(int v) {
  static const char* const names[] = {"divide error (#DE)",
                                      "debug (#DB)",
                                      "NMI",
                                      "breakpoint (#BP)",
                                      "overflow (#OF)",
                                      "bound range (#BR)",
                                      "invalid opcode (#UD)",
                                      "device not available (#NM)",
                                      "double fault (#DF)",
                                      "coprocessor overrun",
                                      "invalid TSS (#TS)",
                                      "segment not present (#NP)",
                                      "stack fault (#SS)",
                                      "general protection (#GP)",
                                      "page fault (#PF)",
                                      "reserved",
                                      "x87 error (#MF)",
                                      "alignment check (#AC)",
                                      "machine check (#MC)",
                                      "SIMD error (#XM)",
                                      "virtualisation (#VE)",
                                      "control protection (#CP)"};
  return v < static_cast<int>(std::size(names)) ? names[v] : "interrupt";
}

int report_fault(Vm& vm, CallHandler& calls, uint8_t vector, const LazySymbolTable& symbols) {
  calls.drain_console();
  fflush(stdout);
  GuestFault f;
  if (!vm.read_fault(vector, f)) {
    fprintf(stderr, "morgana-hvt: guest fault: vector %u (frame unreadable)\n", vector);
    return abi::kExitFault;
  }
  fprintf(stderr, "morgana-hvt: guest fault: %s at rip 0x%" PRIx64 " (%s), error code 0x%" PRIx64,
          vector_name(vector), f.rip, symbols.get().describe(f.rip).c_str(), f.error_code);
  if (vector == 14)
    fprintf(stderr, ", address 0x%" PRIx64 " (%s %s, %s)", f.cr2,
            f.error_code & 2 ? "write" : (f.error_code & 16 ? "instruction fetch" : "read"),
            f.error_code & 4 ? "from the image" : "from ring 0",
            f.error_code & 1 ? "protection violation" : "page not mapped");
  fprintf(stderr, "\n  rsp %016" PRIx64 "  rbp %016" PRIx64 "  rflags %016" PRIx64 "\n", f.rsp,
          f.regs.rbp, f.rflags);
  calls.print_backtrace(f.rip, f.regs.rbp);
  return abi::kExitFault;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  host::Options options;
  if (std::string e = host::parse_options(args, host::Mode::kMonitor, options); !e.empty())
    return refuse(e + " (see morgana-hvt --help)");
  if (options.help) {
    fputs(host::usage(host::Mode::kMonitor, "morgana-hvt").c_str(), stdout);
    return 0;
  }
  // Setup phases, for --stats: where the time between exec and the guest's first
  // instruction goes (bench/boot).
  uint64_t t_exec = host_monotonic_ns();
  std::vector<std::pair<const char*, uint64_t>> phases;
  auto phase = [&phases](const char* name) { phases.emplace_back(name, host_monotonic_ns()); };
  // Threads started below (libslirp's, the I/O thread) inherit this mask, so a stop
  // signal is always delivered to this, the vCPU thread, where it interrupts KVM_RUN.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  MappedFile file;
  std::string error;
  if (!file.open(options.image, error)) return refuse(error);
  std::span<const uint8_t> image = file.bytes();
  LoadResult loaded = plan_load(image, options.mem_bytes);
  if (auto* e = std::get_if<std::string>(&loaded)) return refuse(options.image + ": " + *e);
  const LoadPlan& plan = std::get<LoadPlan>(loaded);
  if (std::string e = host::check_attachments(options, plan.manifest); !e.empty())
    return refuse(options.image + ": " + e);
  GuestLayout layout;
  if (std::string e = plan_layout(options.mem_bytes, plan.image_end, layout); !e.empty())
    return refuse(options.image + ": " + e);

  phase("image");
  std::vector<AttachedDevice> devices;
  if (std::string e = attach_devices(options, plan.manifest, devices); !e.empty()) return refuse(e);

  phase("devices");
  std::unique_ptr<Vm> vm = Vm::create(options.mem_bytes, error);
  if (!vm) return refuse("cannot create the VM: " + error);
  phase("kvm");
  const GuestMemory& memory = vm->memory();

  std::vector<UserMapping> mappings;
  for (const Segment& s : plan.segments) {
    std::memcpy(memory.range(s.gpa, s.file_size)->data(), image.data() + s.file_offset,
                s.file_size);
    uint64_t start = s.gpa & ~(abi::kPageSize - 1);
    uint64_t end = (s.gpa + s.mem_size + abi::kPageSize - 1) & ~(abi::kPageSize - 1);
    mappings.push_back({start, end - start, s.writable, s.executable});
  }
  mappings.push_back({abi::kBootInfoAddr, abi::kBootInfoSize, false, false});
  uint64_t ring_len = (sizeof(abi::ConsoleRing) + abi::kPageSize - 1) & ~(abi::kPageSize - 1);
  mappings.push_back({abi::kConsoleRingAddr, ring_len, true, false});
  if (layout.heap_end > layout.heap_start)
    mappings.push_back({layout.heap_start, layout.heap_end - layout.heap_start, true, false});
  mappings.push_back({layout.stack_bottom, layout.stack_top - layout.stack_bottom, true, false});

  std::vector<std::string> guest_argv;
  guest_argv.push_back(options.image.substr(options.image.find_last_of('/') + 1));
  guest_argv.insert(guest_argv.end(), options.app_args.begin(), options.app_args.end());
  abi::BootInfo info;
  if (std::string e =
          write_boot_info(memory, layout, vm->tsc_hz(), guest_argv, devices, options, info);
      !e.empty())
    return refuse(e);
  EntryState entry{plan.entry, layout.stack_top, abi::kBootInfoAddr, info.thread_block.self};
  if (std::string e = vm->setup(mappings, entry); !e.empty())
    return refuse("cannot set up the vCPU: " + e);
  LazySymbolTable symbols(image);
  phase("memory+vcpu");

  // SIGINT/SIGTERM stop the guest cleanly: the handler sets immediate_exit, so a
  // KVM_RUN about to start returns at once and a running one returns EINTR, and it
  // signals g_stop_fd, which every wait in a yield also polls.
  g_run = &vm->exit_info();
  g_stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (g_stop_fd < 0) return refuse(std::string("eventfd: ") + std::strerror(errno));
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  // The I/O thread must exist before seccomp, which forbids creating threads.
  ConsoleDrain console(memory);
  std::unique_ptr<IoThread> io = IoThread::start(
      memory, console, devices, vm->vm_fd(), (info.flags & abi::kBootFlagSharedCpu) != 0, error);
  if (!io) return refuse("cannot start the I/O thread: " + error);
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
  phase("io-thread");

  SeccompPolicy policy;
  bool tap = false;
  for (const host::NetAttachment& a : options.nets) {
    if (a.kind == host::NetAttachment::Kind::kUser) policy.user_net = UserNetCalls::kAllow;
    tap |= a.kind == host::NetAttachment::Kind::kTap;
  }
  // The guest's ring setup turns the tap's offloads on (and the tap's teardown off).
  if (tap) policy.ioctls.push_back(TUNSETOFFLOAD);
  if (std::string e = install_seccomp(policy); !e.empty()) return refuse(e);
  phase("seccomp");

  // Guest time starts now: the guest reads its TSC origin a few microseconds later.
  timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  info.wall_clock_ns =
      static_cast<uint64_t>(wall.tv_sec) * 1000000000u + static_cast<uint64_t>(wall.tv_nsec);
  memory.write(abi::kBootInfoAddr + offsetof(abi::BootInfo, wall_clock_ns), info.wall_clock_ns);
  CallHandler calls(memory, console, devices, symbols, host_monotonic_ns());
  calls.set_io_thread(io.get());
  uint64_t t_boot = host_monotonic_ns();
  int status = -1;
  while (status < 0) {
    if (g_stop_signal) break;
    if (!vm->run()) {
      if (errno == EINTR || errno == EAGAIN) continue;
      calls.drain_console();
      fprintf(stderr, "morgana-hvt: KVM_RUN: %s\n", std::strerror(errno));
      status = abi::kExitFault;
      break;
    }
    kvm_run& r = vm->exit_info();
    switch (r.exit_reason) {
      case KVM_EXIT_IO: {
        if (r.io.port == abi::kFaultPort) {
          calls.stats().faults++;
          uint8_t vector = *(reinterpret_cast<uint8_t*>(&r) + r.io.data_offset);
          status = report_fault(*vm, calls, vector, symbols);
          break;
        }
        if (r.io.direction != KVM_EXIT_IO_OUT || r.io.size != 4 || r.io.count != 1) {
          calls.stats().other++;
          calls.hostile("I/O of size " + std::to_string(r.io.size) + " on port " +
                        std::to_string(r.io.port) + " is not a call");
          status = calls.exit_status();
          break;
        }
        uint32_t arg;
        std::memcpy(&arg, reinterpret_cast<uint8_t*>(&r) + r.io.data_offset, 4);
        if (!calls.handle(r.io.port, arg)) status = g_stop_signal ? -1 : calls.exit_status();
        break;
      }
      case KVM_EXIT_INTR:
        break;
      case KVM_EXIT_MMIO:
        calls.stats().other++;
        calls.hostile("access to guest-physical address 0x" + [&] {
          char b[20];
          snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(r.mmio.phys_addr));
          return std::string(b);
        }() + " outside RAM");
        status = calls.exit_status();
        break;
      case KVM_EXIT_SHUTDOWN:
        calls.drain_console();
        fprintf(stderr, "morgana-hvt: guest fault: triple fault (vCPU shut down)\n");
        status = abi::kExitFault;
        break;
      default:
        calls.drain_console();
        fprintf(stderr, "morgana-hvt: guest fault: unexpected KVM exit reason %u\n", r.exit_reason);
        status = abi::kExitFault;
        break;
    }
  }
  // The VM is torn down from here on; a further signal (timeout(1) sends SIGTERM to the
  // child and then to its whole process group) must not write into its run area. The
  // handler runs on this thread only (the others block the stop signals), so no race.
  g_run = nullptr;
  calls.drain_console();
  if (g_stop_signal) {
    fprintf(stderr, "morgana-hvt: stopped by %s\n", strsignal(g_stop_signal));
    status = 128 + g_stop_signal;
  }
  if (options.stats) {
    uint64_t t_end = host_monotonic_ns();
    const ExitStats& st = calls.stats();
    fprintf(stderr, "morgana-hvt: stats: setup %.3f ms (", (t_boot - t_exec) / 1e6);
    uint64_t previous = t_exec;
    for (const auto& [name, at] : phases) {
      fprintf(stderr, "%s%s %.3f", &name == &phases.front().first ? "" : ", ", name,
              (at - previous) / 1e6);
      previous = at;
    }
    fprintf(stderr, "), guest %.3f ms, %" PRIu64 " exits:", (t_end - t_boot) / 1e6, st.total());
    static const char* const names[] = {
        "console_write", "wall_clock",  "yield", "net_write",      "net_read", "block_read",
        "block_write",   "block_flush", "halt",  "net_ring_setup", "net_kick"};
    for (size_t i = 0; i < st.calls.size(); ++i)
      if (st.calls[i]) fprintf(stderr, " %s %" PRIu64, names[i], st.calls[i]);
    if (st.faults) fprintf(stderr, " fault %" PRIu64, st.faults);
    if (st.other) fprintf(stderr, " other %" PRIu64, st.other);
    // Kicks go to an in-kernel ioeventfd, so they are not exits this process sees; each
    // is still a VM exit (30-80 µs on kvm-pvm).
    if (io) fprintf(stderr, "; %" PRIu64 " ring kicks", io->kicks());
    fputc('\n', stderr);
    for (const AttachedDevice& d : devices) {
      if (!d.net) continue;
      NetCounters c = d.net->counters();
      fprintf(stderr, "morgana-hvt: stats: net %s: %" PRIu64 " frames in, %" PRIu64 " out, %s",
              d.name.c_str(), c.frames_in, c.frames_out,
              io && io->has_ring(static_cast<uint32_t>(&d - devices.data())) ? "rings" : "calls");
      if (c.gso_in || c.gso_out)
        fprintf(stderr, " (%" PRIu64 " merged in, %" PRIu64 " TSO out)", c.gso_in, c.gso_out);
      for (size_t r = 0; r < c.drops.size(); ++r)
        if (c.drops[r])
          fprintf(stderr, ", %" PRIu64 " dropped (%s)", c.drops[r],
                  net_drop_name(static_cast<NetDrop>(r)));
      fputc('\n', stderr);
    }
  }
  return status;
}

}  // namespace
}  // namespace morgana::tender

int main(int argc, char** argv) {
  return morgana::tender::run(argc, argv);
}
