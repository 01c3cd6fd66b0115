// open_app_stack for Morgana's own stack: the manifest's network device `service` (the
// convention every example with one network device follows), keyed from the image's
// random source. The socket stack's version lives in src/net/socket/.
#include "morgana/net/app_stack.h"

#include <array>

#include "morgana/random/system.h"

#if !(defined(MORGANA_STACK_SOCKET) && MORGANA_STACK_SOCKET)
namespace morgana::net {

Result<std::unique_ptr<AppStack>> open_app_stack(const StackOptions& options) {
  // Checksum offload and TSO/GRO where the device has them: a TCP segment of up to 64
  // KiB crosses the device as one frame (docs/net.md).
  const platform::NetOffloads wanted =
      options.offloads ? platform::kNetOffloadChecksum | platform::kNetOffloadTso4 : 0;
  auto device = platform::NetDevice::open("service", platform::NetPath::kRings, wanted);
  if (!device) return Error{device.error().code, "no network device 'service' in the image"};
  std::array<uint8_t, 32> seed{};
  random::system().fill(seed);
  return AppStack::create(std::move(*device), options, seed);
}

}  // namespace morgana::net
#endif
