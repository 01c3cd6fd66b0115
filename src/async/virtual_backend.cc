// VirtualBackend::wait: the clock jumps instead of sleeping (see virtual_backend.h).
#include "morgana/async/virtual_backend.h"

#include "morgana/rt/assert.h"

namespace morgana::async {

platform::ReadySet VirtualBackend::wait(uint64_t deadline_ns) {
  ++wait_calls_;
  last_deadline_ = deadline_ns;
  uint64_t until = deadline_ns;
  if (ready_ == 0 && !pulses_.empty() && pulses_.begin()->first < until) {
    until = pulses_.begin()->first;
  }
  if (ready_ == 0 && until == kNever) {
    panic("VirtualBackend: the loop waits forever (no timer, no device readiness scheduled)");
  }
  if (ready_ == 0 && until > now_) now_ = until;
  platform::ReadySet ready = ready_;
  while (!pulses_.empty() && pulses_.begin()->first <= now_) {
    ready |= pulses_.begin()->second;
    pulses_.erase(pulses_.begin());
  }
  return ready;
}

}  // namespace morgana::async
