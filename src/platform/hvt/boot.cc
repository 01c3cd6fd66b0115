// Boot of an hvt image: check the boot info, start the clock, run static constructors,
// call the application and halt with its status.
#include "morgana/app.h"
#include "morgana/platform/platform.h"
#include "morgana/rt/init.h"
#include "morgana/rt/port.h"
#include "platform/hvt/call.h"
#include "platform/hvt/clock.h"

namespace morgana::platform::hvt {
namespace {
const abi::BootInfo* g_boot_info;
}

const abi::BootInfo& boot_info() {
  return *g_boot_info;
}

}  // namespace morgana::platform::hvt

namespace morgana::platform {

std::span<const uint8_t, 32> boot_seed() {
  return std::span<const uint8_t, 32>(hvt::boot_info().seed);
}

void halt(int status) {
  console_flush();
  abi::HaltArgs args{status, 0, 0};
  hvt::call(abi::Call::kHalt, &args);
  __builtin_unreachable();
}

}  // namespace morgana::platform

namespace morgana::rt::port {

void heap_region(uintptr_t* start, uintptr_t* end) {
  *start = platform::hvt::boot_info().heap_start;
  *end = platform::hvt::boot_info().heap_end;
}

}  // namespace morgana::rt::port

extern "C" [[noreturn]] void morgana_hvt_boot(const morgana::abi::BootInfo* info) {
  using namespace morgana;
  if (info->magic != abi::kBootInfoMagic || info->abi_version != abi::kAbiVersion) {
    // Without a valid boot info nothing else can be trusted; a halt with a status the
    // monitor does not accept from a guest makes it report the image as broken.
    abi::HaltArgs args{abi::kExitHostileCall, 0, 0};
    platform::hvt::call(abi::Call::kHalt, &args);
  }
  platform::hvt::g_boot_info = info;
  platform::hvt::clock_init();
  rt::run_constructors();
  int status = app_main(static_cast<int>(info->argc), reinterpret_cast<char**>(info->argv));
  platform::halt(status);
}
