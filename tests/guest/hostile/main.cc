// The hostile-guest image: `hostile CASE` makes one bad request of morgana-hvt, which
// must end the guest with a clear message and status 252 (hostile call) or 251 (fault),
// never crash or touch memory outside the guest. tests/integration/hostile.sh runs
// every case and checks status and message.
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "morgana/app.h"
#include "morgana/platform/platform.h"
#include "platform/hvt/call.h"

namespace {

using namespace morgana;
using abi::Call;
using platform::hvt::call;

// Raw `out` with an arbitrary 32-bit argument, bypassing the typed wrapper.
void raw_out(uint16_t port, uint32_t value) {
  asm volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

uint64_t mem() {
  return platform::hvt::boot_info().mem_size;
}

// A block-sized buffer inside the guest.
alignas(4096) uint8_t g_buffer[4096];

int run(const char* c) {
  const uint64_t outside = mem() + 4096;   // first page past RAM
  const uint64_t near_end = mem() - 8;     // a struct that straddles the end of RAM
  const uint64_t wraps = UINT64_MAX - 15;  // + length overflows 64 bits

  // Two well-behaved controls: the plain console call, and more output than the ring
  // holds (the guest must ask the monitor to drain it and lose nothing).
  if (!strcmp(c, "console_plain")) {
    static const char text[] = "console: plain call path\n";
    abi::ConsoleWriteArgs a{reinterpret_cast<uintptr_t>(text), sizeof text - 1};
    call(Call::kConsoleWrite, &a);
    return 0;
  }
  if (!strcmp(c, "console_flood")) {
    char line[81];
    memset(line, 'x', 79);
    line[79] = '\n';
    line[80] = 0;
    for (int i = 0; i < 2000; ++i) platform::console_write(std::string_view(line, 80));
    return 0;
  }
  if (!strcmp(c, "console_args_outside"))
    raw_out(abi::kCallPortBase + 0, static_cast<uint32_t>(outside));
  else if (!strcmp(c, "console_args_straddle"))
    raw_out(abi::kCallPortBase + 0, static_cast<uint32_t>(near_end));
  else if (!strcmp(c, "console_data_wraps")) {
    abi::ConsoleWriteArgs a{wraps, 64};
    call(Call::kConsoleWrite, &a);
  } else if (!strcmp(c, "console_data_outside")) {
    abi::ConsoleWriteArgs a{outside, 16};
    call(Call::kConsoleWrite, &a);
  } else if (!strcmp(c, "console_len_huge")) {
    abi::ConsoleWriteArgs a{reinterpret_cast<uintptr_t>(g_buffer), UINT64_MAX};
    call(Call::kConsoleWrite, &a);
  } else if (!strcmp(c, "wall_clock_outside"))
    raw_out(abi::kCallPortBase + 1, static_cast<uint32_t>(outside));
  else if (!strcmp(c, "yield_outside"))
    raw_out(abi::kCallPortBase + 2, static_cast<uint32_t>(outside));
  else if (!strcmp(c, "net_write_wraps")) {
    abi::NetIoArgs a{0, 0, wraps, 64};
    call(Call::kNetWrite, &a);
  } else if (!strcmp(c, "net_write_too_long")) {
    abi::NetIoArgs a{0, 0, reinterpret_cast<uintptr_t>(g_buffer), 4096};
    call(Call::kNetWrite, &a);
  } else if (!strcmp(c, "net_read_outside")) {
    abi::NetIoArgs a{0, 0, mem() - 100, 2048};
    call(Call::kNetRead, &a);
  } else if (!strcmp(c, "net_bad_handle")) {
    abi::NetIoArgs a{99, 0, reinterpret_cast<uintptr_t>(g_buffer), 64};
    call(Call::kNetWrite, &a);
  } else if (!strcmp(c, "net_handle_is_block")) {
    abi::NetIoArgs a{1, 0, reinterpret_cast<uintptr_t>(g_buffer), 64};
    call(Call::kNetRead, &a);
  } else if (!strcmp(c, "block_offset_wraps")) {
    abi::BlockIoArgs a{1, 0, UINT64_MAX - 511, reinterpret_cast<uintptr_t>(g_buffer), 512};
    call(Call::kBlockRead, &a);
  } else if (!strcmp(c, "block_beyond_capacity")) {
    abi::BlockIoArgs a{1, 0, 1ull << 40, reinterpret_cast<uintptr_t>(g_buffer), 512};
    call(Call::kBlockWrite, &a);
  } else if (!strcmp(c, "block_buffer_outside")) {
    abi::BlockIoArgs a{1, 0, 0, mem() - 100, 512};
    call(Call::kBlockRead, &a);
  } else if (!strcmp(c, "block_misaligned")) {
    abi::BlockIoArgs a{1, 0, 100, reinterpret_cast<uintptr_t>(g_buffer), 512};
    call(Call::kBlockRead, &a);
  } else if (!strcmp(c, "block_len_huge")) {
    abi::BlockIoArgs a{1, 0, 0, reinterpret_cast<uintptr_t>(g_buffer), 1ull << 62};
    call(Call::kBlockRead, &a);
  } else if (!strcmp(c, "block_flush_bad_handle")) {
    abi::BlockFlushArgs a{0, 0};  // device 0 is the network device
    call(Call::kBlockFlush, &a);
  } else if (!strcmp(c, "halt_bad_status")) {
    abi::HaltArgs a{1000, 0, 0};
    call(Call::kHalt, &a);
  } else if (!strcmp(c, "halt_panic_outside")) {
    abi::HaltArgs a{abi::kExitPanic, 0, outside};
    call(Call::kHalt, &a);
  } else if (!strcmp(c, "panic_message_huge")) {
    static abi::PanicInfo info{};
    info.message = reinterpret_cast<uintptr_t>(g_buffer);
    info.message_len = 1ull << 40;
    abi::HaltArgs a{abi::kExitPanic, 0, reinterpret_cast<uintptr_t>(&info)};
    call(Call::kHalt, &a);
  } else if (!strcmp(c, "unknown_call"))
    raw_out(abi::kCallPortBase + static_cast<uint16_t>(Call::kCount),
            reinterpret_cast<uintptr_t>(g_buffer));
  // A 4-byte `out` needs all four of its ports open in the TSS bitmap: this one faults.
  else if (!strcmp(c, "port_straddles_bitmap"))
    raw_out(abi::kCallPortBase + abi::kCallPortCount - 1, 0);
  else if (!strcmp(c, "console_ring_corrupt")) {
    auto* ring = reinterpret_cast<abi::ConsoleRing*>(platform::hvt::boot_info().console_ring);
    ring->head = ring->tail + 1000000;
    platform::yield(0);
  } else if (!strcmp(c, "closed_port"))
    raw_out(0x80, 0);  // not in the TSS I/O bitmap: #GP
  else if (!strcmp(c, "write_gdt"))
    *reinterpret_cast<volatile uint64_t*>(0x1000) = 0;
  else if (!strcmp(c, "write_page_tables"))
    *reinterpret_cast<volatile uint64_t*>(0x9000) = 0;
  else if (!strcmp(c, "write_boot_info"))
    *reinterpret_cast<volatile uint32_t*>(abi::kBootInfoAddr) = 0;
  else if (!strcmp(c, "write_text"))
    *reinterpret_cast<volatile uint8_t*>(reinterpret_cast<uintptr_t>(&app_main)) = 0xc3;
  else if (!strcmp(c, "exec_data")) {
    g_buffer[0] = 0xc3;  // ret
    reinterpret_cast<void (*)()>(reinterpret_cast<uintptr_t>(g_buffer))();
  } else if (!strcmp(c, "null_deref")) {
    return *reinterpret_cast<volatile int*>(uintptr_t{8});
  } else if (!strcmp(c, "hlt"))
    asm volatile("hlt");
  else if (!strcmp(c, "outside_ram"))
    return *reinterpret_cast<volatile int*>(outside);
  else {
    printf("hostile: unknown case '%s'\n", c);
    return 2;
  }
  printf("hostile: case '%s' came back\n", c);
  return 1;
}

}  // namespace

int app_main(int argc, char** argv) {
  if (argc != 2) {
    printf("usage: hostile CASE\n");
    return 2;
  }
  return run(argv[1]);
}
