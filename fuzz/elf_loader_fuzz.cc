// libFuzzer target for the monitor's image handling: plan_load() and the symboliser
// read a hostile image file, so random bytes must never crash, hang or leak them.
//
// Not built by CMake. By hand, from the repository root:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined \
//     -fno-sanitize-recover=all -I. -Isrc \
//     fuzz/elf_loader_fuzz.cc tender/elf.cc tender/manifest.cc tender/symbols.cc \
//     -o /tmp/elf_loader_fuzz
//   /tmp/elf_loader_fuzz -max_total_time=30 CORPUS_DIR   (seed it with a built .hvt)
#include <cstdint>
#include <cstring>

#include "tender/elf.h"
#include "tender/symbols.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace morgana::tender;
  std::span<const uint8_t> image(data, size);

  // Two guest sizes: the default, and the smallest the monitor accepts, where every
  // segment sits near the stack room.
  for (uint64_t mem : {morgana::abi::kDefaultMemory, morgana::abi::kMinMemory}) {
    LoadResult result = plan_load(image, mem);
    if (auto* plan = std::get_if<LoadPlan>(&result)) {
      // What the monitor relies on; a violation is a loader bug, so crash loudly.
      for (const Segment& s : plan->segments) {
        if (s.writable && s.executable) __builtin_trap();
        if (s.gpa < morgana::abi::kImageBase || s.gpa + s.mem_size > mem - kMinStackRoom) {
          __builtin_trap();
        }
        if (s.file_size > s.mem_size || s.file_offset + s.file_size > size) __builtin_trap();
      }
    } else if (std::get<std::string>(result).empty()) {
      __builtin_trap();  // a refusal always says why
    }
  }

  SymbolTable symbols = SymbolTable::from_elf(image);
  uint64_t address = 0x100000;
  if (size >= 8) std::memcpy(&address, data + size - 8, 8);  // an address from the input
  (void)symbols.describe(address);
  (void)symbols.describe(0x100000);
  return 0;
}
