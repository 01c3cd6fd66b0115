// The Backend of a real image (hvt) or process (unix): the platform's clock, yield and
// console. Its own file so that code using only VirtualBackend (unit tests) does not
// need a platform library.
#include "morgana/async/loop.h"
#include "morgana/async/scope.h"
#include "morgana/platform/platform.h"

namespace morgana::async {

namespace {

class SystemBackend final : public Backend {
 public:
  constexpr SystemBackend() = default;
  uint64_t now_ns() override { return platform::monotonic_ns(); }
  platform::ReadySet wait(uint64_t deadline_ns) override { return platform::yield(deadline_ns); }
  void log(std::string_view line) override { platform::console_write(line); }
};

constinit SystemBackend g_system_backend;

}  // namespace

Backend& system_backend() {
  return g_system_backend;
}

Loop::Loop() : Loop(system_backend()) {}

}  // namespace morgana::async
