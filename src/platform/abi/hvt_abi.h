// The hvt ABI: the plain structs and constants shared by morgana-hvt (host) and the
// hvt platform (guest). This is the only code both sides include; see docs/abi.md.
#pragma once

#include <cstddef>
#include <cstdint>

namespace morgana::abi {

// Bumped on any incompatible change; stored in the image's manifest note and checked
// by the monitor before boot.
// 2: rings with descriptors, offloads. 3: with kBootFlagSharedCpu, `yield` serves the
// rings and the guest no longer kicks at the end of a batch.
inline constexpr uint32_t kAbiVersion = 3;

// ---------------------------------------------------------------------------------
// Guest physical memory layout (identity mapped; guest virtual == guest physical).
//
//   0x000000  page 0, never mapped (null dereferences fault)
//   0x001000  monitor area, supervisor-only: GDT, IDT, TSS + I/O bitmap, exception
//             stubs, ring-0 stack, page tables (kMonitorAreaEnd)
//   0x0a0000  boot info page (user, read-only): BootInfo, then the argv strings
//   0x0c0000  console ring (user, read-write)
//   0x100000  the image, linked here (kImageBase)
//   ...       heap: [BootInfo::heap_start, BootInfo::heap_end)
//   ...       one unmapped guard page, then the stack up to BootInfo::stack_top
// ---------------------------------------------------------------------------------
inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kMonitorAreaStart = 0x1000;
inline constexpr uint64_t kMonitorAreaEnd = 0xa0000;
inline constexpr uint64_t kBootInfoAddr = 0xa0000;
inline constexpr uint64_t kBootInfoSize = 0x20000;  // BootInfo + argv pointers + strings
inline constexpr uint64_t kConsoleRingAddr = 0xc0000;
inline constexpr uint64_t kImageBase = 0x100000;
inline constexpr uint64_t kMinMemory = 2ull << 20;
inline constexpr uint64_t kMaxMemory = 64ull << 30;
inline constexpr uint64_t kDefaultMemory = 32ull << 20;

// ---------------------------------------------------------------------------------
// Calls. The guest executes `outl %eax, %dx` with dx = kCallPortBase + Call and
// eax = guest-physical address of the call's argument struct. The monitor reads the
// struct once, validates every field, performs the call and writes results back
// into the same struct. The ports are the only ones the TSS I/O bitmap opens to CPL 3.
// ---------------------------------------------------------------------------------
inline constexpr uint16_t kCallPortBase = 0x500;
enum class Call : uint16_t {
  kConsoleWrite = 0,
  kWallClock = 1,
  kYield = 2,
  kNetWrite = 3,
  kNetRead = 4,
  kBlockRead = 5,
  kBlockWrite = 6,
  kBlockFlush = 7,
  kHalt = 8,
  kNetRingSetup = 9,
  kNetKick = 10,
  kCount
};
inline constexpr uint16_t kCallPortCount = 16;  // ports opened to the guest
// The monitor's ring-0 exception stubs report faults on this port (CPL 0 only; the
// I/O bitmap keeps it closed to the guest).
inline constexpr uint16_t kFaultPort = 0x5ff;

enum class CallStatus : int32_t {
  kOk = 0,
  kAgain = 1,        // nothing to read now
  kInvalid = 2,      // a well-formed call with bad arguments (e.g. unknown handle)
  kUnsupported = 3,  // device type or operation not available
  kIoError = 4,      // the host side failed (file or tap error)
};

struct ConsoleWriteArgs {
  uint64_t data;  // gpa
  uint64_t len;
};
static_assert(sizeof(ConsoleWriteArgs) == 16);

struct WallClockArgs {
  uint64_t ns;  // out: nanoseconds since the Unix epoch
};
static_assert(sizeof(WallClockArgs) == 8);

struct YieldArgs {
  uint64_t deadline_ns;  // in: guest monotonic time (see BootInfo::tsc_hz)
  uint64_t ready_set;    // out: bit i set when device i has input pending
};
static_assert(sizeof(YieldArgs) == 16);

struct NetIoArgs {
  uint32_t handle;  // device index in BootInfo::devices
  int32_t status;   // out: CallStatus
  uint64_t data;    // gpa of the frame (write) or buffer (read)
  uint64_t len;     // write: frame length; read: in buffer capacity, out frame length
};
static_assert(sizeof(NetIoArgs) == 24);

struct BlockIoArgs {
  uint32_t handle;
  int32_t status;   // out: CallStatus
  uint64_t offset;  // bytes; a multiple of the device's block size
  uint64_t data;    // gpa
  uint64_t len;     // bytes; a multiple of the block size, at most kMaxBlockIo
};
static_assert(sizeof(BlockIoArgs) == 32);
inline constexpr uint64_t kMaxBlockIo = 1ull << 20;

struct BlockFlushArgs {
  uint32_t handle;
  int32_t status;
};
static_assert(sizeof(BlockFlushArgs) == 8);

// A panic report the guest hands over with kHalt; the monitor prints it and
// symbolises the addresses from the image's symbol table.
inline constexpr uint32_t kMaxPanicFrames = 32;
inline constexpr uint64_t kMaxPanicMessage = 4096;
struct PanicInfo {
  uint64_t message;  // gpa
  uint64_t message_len;
  uint64_t rip, rsp, rbp;
  uint64_t rax, rbx, rcx, rdx, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15;
  uint32_t frame_count;
  uint32_t reserved;
  uint64_t frames[kMaxPanicFrames];  // return addresses, innermost first
};
static_assert(sizeof(PanicInfo) == 8 * 19 + 8 + 8 * kMaxPanicFrames);

struct HaltArgs {
  int32_t status;  // 0..125 is the monitor's exit status; kPanicStatus with `panic`
  uint32_t reserved;
  uint64_t panic;  // gpa of a PanicInfo, or 0
};
static_assert(sizeof(HaltArgs) == 16);

// Exit statuses the monitor reserves (DESIGN.md §4).
inline constexpr int kMaxGuestStatus = 125;
inline constexpr int kExitPanic = 250;
inline constexpr int kExitFault = 251;
inline constexpr int kExitHostileCall = 252;
inline constexpr int kExitRefused = 253;

// ---------------------------------------------------------------------------------
// Console ring: the guest appends bytes and advances `head`; the monitor drains up to
// `head` and advances `tail`. Both are free-running byte counters (index = counter %
// kConsoleRingSize), accessed with acquire/release atomics. The guest calls
// kConsoleWrite (with len 0) only when the ring is full, so printing costs no exit.
// ---------------------------------------------------------------------------------
inline constexpr uint32_t kConsoleRingSize = 16384;
struct ConsoleRing {
  uint32_t head;
  uint32_t tail;
  uint8_t data[kConsoleRingSize];
};
static_assert(sizeof(ConsoleRing) == 8 + kConsoleRingSize);

// ---------------------------------------------------------------------------------
// Offload metadata of a frame: the layout of virtio's struct virtio_net_hdr (virtio 1.x
// §5.1.6, without num_buffers), which is also what a Linux tap opened with IFF_VNET_HDR
// reads and writes in front of each frame (host byte order, little-endian here). The
// monitor passes it between a ring slot and the tap unchanged once it has checked it.
// ---------------------------------------------------------------------------------
struct VirtioNetHeader {
  uint8_t flags;         // kVirtioNetNeedsCsum | kVirtioNetDataValid
  uint8_t gso_type;      // kVirtioNetGso*, optionally | kVirtioNetGsoEcn
  uint16_t hdr_len;      // with GSO: Ethernet + IP + TCP header bytes
  uint16_t gso_size;     // with GSO: payload bytes per wire segment
  uint16_t csum_start;   // NEEDS_CSUM: where the checksummed bytes start in the frame
  uint16_t csum_offset;  // NEEDS_CSUM: the checksum field's offset from csum_start
};
static_assert(sizeof(VirtioNetHeader) == 10);
inline constexpr uint8_t kVirtioNetNeedsCsum = 1;
inline constexpr uint8_t kVirtioNetDataValid = 2;
inline constexpr uint8_t kVirtioNetGsoNone = 0;
inline constexpr uint8_t kVirtioNetGsoTcpv4 = 1;
inline constexpr uint8_t kVirtioNetGsoEcn = 0x80;

// ---------------------------------------------------------------------------------
// Network rings (the fast path): per device, guest memory the guest registers with
// kNetRingSetup. Two single-producer single-consumer queues; the monitor's I/O thread
// moves frames between them and the host backend while the vCPU runs, so a frame costs
// no exit. `head` is advanced by the producer, `tail` by the consumer; both are
// free-running slot counters (slot = counter % kNetRingSlots), accessed with
// acquire/release atomics.
//
// A frame occupies `slots` consecutive slots of `data` starting at the slot its
// descriptor sits at (desc[head % kNetRingSlots]), so its bytes are contiguous; it never
// wraps past the last slot: a producer that needs more slots than remain before the
// end publishes a skip entry (len 0) covering them first. An MTU-sized frame takes one
// slot; with kNetOffloadTso4 a frame of up to kNetMaxOffloadFrame bytes takes up to
// kNetMaxFrameSlots. The descriptor's `vnet` is the frame's offload metadata, zero
// unless the ring was set up with offloads.
//
// Wake-ups: the guest kicks (kNetKick, an `out` the kernel turns into an eventfd
// signal, no monitor round trip) only when the I/O thread announced it is going to
// sleep (`io_sleeping`). A guest with nothing to do calls kYield as usual; the monitor
// returns when any rx queue is non-empty.
// ---------------------------------------------------------------------------------
inline constexpr uint32_t kNetRingSlots = 256;
inline constexpr uint32_t kNetSlotSize = 2048;  // an MTU-sized frame (1518 bytes) fits one
inline constexpr uint32_t kNetMaxPlainFrame = 14 + 4 + 1500;
inline constexpr uint32_t kNetMaxOffloadFrame = 14 + 4 + 65535;
inline constexpr uint32_t kNetMaxFrameSlots =
    (kNetMaxOffloadFrame + kNetSlotSize - 1) / kNetSlotSize;
// Offloads a ring may carry (NetRingSetupArgs::offloads): as platform::NetOffload.
inline constexpr uint32_t kNetRingOffloadChecksum = 1u << 0;
inline constexpr uint32_t kNetRingOffloadTso4 = 1u << 1;

struct NetDesc {
  uint32_t len;    // frame bytes; 0 marks a skip entry
  uint16_t slots;  // slots the entry covers: ceil(len / kNetSlotSize), or a skip's count
  uint16_t reserved;
  VirtioNetHeader vnet;
  uint16_t reserved2;
  uint32_t reserved3;
};
static_assert(sizeof(NetDesc) == 24);

// Slots a frame of `len` bytes takes (at least one).
constexpr uint32_t net_frame_slots(uint32_t len) {
  return len <= kNetSlotSize ? 1 : (len + kNetSlotSize - 1) / kNetSlotSize;
}

struct NetQueue {
  uint32_t head;
  uint32_t pad0[15];  // head and tail on separate cache lines
  uint32_t tail;
  uint32_t pad1[15];
  NetDesc desc[kNetRingSlots];
  uint8_t data[kNetRingSlots][kNetSlotSize];
};
static_assert(sizeof(NetQueue) == 128 + kNetRingSlots * (sizeof(NetDesc) + kNetSlotSize));

struct NetRing {
  uint32_t io_sleeping;  // written by the monitor: 1 while its I/O thread may sleep
  uint32_t pad[31];
  NetQueue rx;  // monitor -> guest
  NetQueue tx;  // guest -> monitor
};
static_assert(sizeof(NetRing) == 128 + 2 * sizeof(NetQueue));

struct NetRingSetupArgs {
  uint32_t handle;
  int32_t status;     // out: kOk, or kUnsupported when the monitor serves no rings
  uint64_t ring;      // gpa of a NetRing, page aligned, zeroed by the guest
  uint32_t offloads;  // in: kNetRingOffload* the guest wants; out: those in force
  uint32_t reserved;
};
static_assert(sizeof(NetRingSetupArgs) == 24);

// ---------------------------------------------------------------------------------
// Manifest: the devices an image needs, fixed at build time and stored in an ELF
// note (name "MORGANA", type kManifestNoteType) inside a PT_NOTE segment.
// ---------------------------------------------------------------------------------
inline constexpr uint32_t kMaxDevices = 16;
inline constexpr uint32_t kMaxDeviceName = 31;  // bytes, not counting the NUL
enum class DeviceType : uint32_t { kNet = 1, kBlock = 2 };

struct ManifestEntry {
  char name[kMaxDeviceName + 1];  // [a-z0-9_], NUL-terminated, NUL-padded
  uint32_t type;                  // DeviceType
  uint32_t reserved;
};
static_assert(sizeof(ManifestEntry) == 40);

struct Manifest {
  uint32_t abi_version;
  uint32_t entry_count;
  ManifestEntry entries[kMaxDevices];
};
static_assert(sizeof(Manifest) == 8 + 40 * kMaxDevices);

inline constexpr uint32_t kManifestNoteType = 0x4d4f5201;  // "MOR" 1
struct ManifestNote {  // the whole note as it appears in the file
  uint32_t namesz;     // 8
  uint32_t descsz;     // sizeof(Manifest)
  uint32_t type;       // kManifestNoteType
  char name[8];        // "MORGANA\0"
  Manifest manifest;
};
static_assert(sizeof(ManifestNote) == 20 + sizeof(Manifest));

// ---------------------------------------------------------------------------------
// Boot info: written by the monitor at kBootInfoAddr; its address is in rdi at entry.
// ---------------------------------------------------------------------------------
inline constexpr uint32_t kBootInfoMagic = 0x4d4f5247;  // "MORG"

struct NetDeviceInfo {
  uint8_t mac[6];
  uint16_t mtu;
};
struct BlockDeviceInfo {
  uint64_t capacity;  // bytes, a multiple of block_size
  uint32_t block_size;
  uint32_t read_only;  // 1 when attached with ,ro
};
struct DeviceInfo {
  char name[kMaxDeviceName + 1];
  uint32_t type;  // DeviceType
  uint32_t reserved;
  NetDeviceInfo net;      // valid when type == kNet
  BlockDeviceInfo block;  // valid when type == kBlock
};
static_assert(sizeof(DeviceInfo) == 64);

// The guest's FS base points here, so the stack protector's canary at %fs:0x28 is
// monitor-chosen random data in a read-only page.
struct ThreadBlock {
  uint64_t self;  // its own address, as the x86-64 TLS ABI expects at %fs:0
  uint64_t reserved[4];
  uint64_t stack_guard;  // %fs:0x28
};
static_assert(sizeof(ThreadBlock) == 0x30);

// BootInfo::flags. kBootFlagSharedCpu: the monitor process may run on one CPU only, so
// its I/O thread gets that CPU only when the vCPU gives it up: a guest waiting for frames
// gains nothing by spinning (it delays the very thread that would bring them), and a kick
// only preempts the guest. With it, the monitor serves every ring in `yield` (sends the
// tx queue, fills the rx queue) and waits on the host backends there itself; the guest
// kicks only when a tx queue is full (docs/abi.md, "Network rings").
inline constexpr uint32_t kBootFlagSharedCpu = 1u << 0;

struct BootInfo {
  uint32_t magic;  // kBootInfoMagic
  uint32_t abi_version;
  uint64_t mem_size;       // bytes of guest RAM, all of [0, mem_size)
  uint64_t heap_start;     // first free byte after the image, page aligned
  uint64_t heap_end;       // guard page starts here
  uint64_t stack_top;      // initial rsp (16-byte aligned)
  uint64_t tsc_hz;         // guest monotonic ns = (rdtsc - tsc at entry) * 1e9 / tsc_hz
  uint64_t wall_clock_ns;  // host wall clock (ns since the Unix epoch) at vCPU start
  uint8_t seed[32];        // from the host's getrandom()
  uint32_t argc;           // app args; argv[0] is the image name
  uint32_t flags;          // kBootFlag* (0 from monitors before them)
  uint64_t argv;           // gpa of char*[argc + 1]
  uint64_t console_ring;   // gpa of the ConsoleRing
  uint32_t device_count;   // == manifest entry_count, same order
  uint32_t reserved2;
  DeviceInfo devices[kMaxDevices];
  ThreadBlock thread_block;
};

}  // namespace morgana::abi
