// Fuzzes the monitor's command-line parser and the manifest check (morgana-hvt and the
// unix target both parse untrusted command lines). The input is split at NUL bytes into
// arguments; both modes are parsed and the result checked against a fixed manifest.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "platform/host/device_options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args;
  std::string current;
  for (size_t i = 0; i < size && args.size() < 64; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  args.push_back(current);

  morgana::abi::Manifest manifest{};
  manifest.abi_version = morgana::abi::kAbiVersion;
  manifest.entry_count = 2;
  std::strcpy(manifest.entries[0].name, "service");
  manifest.entries[0].type = static_cast<uint32_t>(morgana::abi::DeviceType::kNet);
  std::strcpy(manifest.entries[1].name, "storage");
  manifest.entries[1].type = static_cast<uint32_t>(morgana::abi::DeviceType::kBlock);

  for (auto mode : {morgana::host::Mode::kMonitor, morgana::host::Mode::kUnix}) {
    morgana::host::Options options;
    if (morgana::host::parse_options(args, mode, options).empty()) {
      // A parse that succeeded must describe sane values.
      if (options.mem_bytes < morgana::abi::kMinMemory) __builtin_trap();
      (void)morgana::host::check_attachments(options, manifest);
    }
  }
  return 0;
}
