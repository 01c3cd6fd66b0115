// VirtualBackend: a Backend on virtual time for tests and simulations. Waiting advances
// the clock to the deadline at once, so a test of a one-hour timeout runs in microseconds
// and every run is the same; device readiness is injected by the test.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "morgana/async/loop.h"
#include "morgana/platform/platform.h"

namespace morgana::async {

class VirtualBackend final : public Backend {
 public:
  explicit VirtualBackend(uint64_t start_ns = 0) : now_(start_ns) {}

  uint64_t now_ns() override { return now_; }
  // Returns the ready set at once if a device is ready; otherwise jumps to the deadline
  // or to the next scheduled readiness, whichever is first. Panics when asked to sleep
  // forever with nothing scheduled (in a test, that is a hang).
  platform::ReadySet wait(uint64_t deadline_ns) override;
  void log(std::string_view line) override { log_.append(line); }

  // Devices in `bits` stay ready (reported by every wait) until clear_ready().
  void set_ready(platform::ReadySet bits) { ready_ |= bits; }
  void clear_ready(platform::ReadySet bits) { ready_ &= ~bits; }
  // Devices in `bits` become ready (once: the first wait at or after `at_ns` reports them).
  void ready_at(uint64_t at_ns, platform::ReadySet bits) { pulses_[at_ns] |= bits; }
  // Moves the clock forward, as if the host had been slow.
  void advance(uint64_t ns) { now_ += ns; }

  const std::string& log_text() const { return log_; }
  uint64_t wait_calls() const { return wait_calls_; }
  uint64_t last_deadline() const { return last_deadline_; }

 private:
  uint64_t now_;
  platform::ReadySet ready_ = 0;
  std::map<uint64_t, platform::ReadySet> pulses_;
  std::string log_;
  uint64_t wait_calls_ = 0;
  uint64_t last_deadline_ = 0;
};

}  // namespace morgana::async
