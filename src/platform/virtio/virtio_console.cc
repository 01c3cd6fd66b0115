// virtio console (virtio 1.2 §5.3) over virtio-mmio or virtio-pci, for output only. No
// features are negotiated (no MULTIPORT, SIZE or EMERG_WRITE), so the device has port 0
// alone, and only its transmitq (queue 1) is set up: the receiveq stays unconfigured, so
// the device never takes input (QEMU then reads nothing from its stdin for it), and nothing
// interrupts. Exits (DESIGN.md §4a): one notify per flush, which console.cc makes at most
// kBufferSize bytes, i.e. one buffer. Buffers come back through the used ring, looked at
// when a flush needs one, so the device never has to interrupt; kQueueSize of them let
// that many flushes be in the device's hands while the image goes on.
#include "platform/virtio/virtio_console.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "morgana/platform/platform.h"
#include "platform/virtio/virtio.h"
#include "platform/virtio/virtqueue.h"

namespace morgana::platform::virtio {
namespace {

constexpr uint16_t kTransmitQueue = 1;  // port 0's transmitq (virtio 1.2 §5.3.2)
constexpr uint16_t kQueueSize = 8;
// console.cc flushes at most this much at once, so a flush is one buffer.
constexpr uint32_t kBufferSize = kConsoleBufferSize;
// How long a flush waits for the device to give a buffer back before the console falls
// back to the UART. QEMU writes to a non-blocking chardev and never holds a console's
// buffer for long; a device that does is broken, and the image must not hang on it.
constexpr uint64_t kGiveUpNs = 10'000'000'000ull;

struct Counters {
  uint64_t flushes = 0;  // virtio_console_send calls
  uint64_t notifies = 0;
  uint64_t bytes = 0;
  uint64_t waits = 0;  // flushes and drains that found the device still busy
};

struct Console {
  std::unique_ptr<Transport> transport;
  SplitQueue tx;
  uint8_t* buffers;  // kQueueSize * kBufferSize, from the heap, never freed
  uint16_t free[kQueueSize];
  uint16_t free_count = 0;
  bool failed = false;  // given up on: the UART is the console from then on
  Counters counters;
};

std::unique_ptr<Console> g_console;  // the platform's, for the image's lifetime

void reclaim(Console& c) {
  while (c.tx.has_used()) {
    const VirtqUsedElem elem = c.tx.pop_used();
    // An id we never made available would corrupt the free list; a correct device does
    // not send one.
    if (elem.id < kQueueSize && c.free_count < kQueueSize) {
      c.free[c.free_count++] = static_cast<uint16_t>(elem.id);
    }
  }
}

void notify(Console& c) {
  // The device looks at the available index again before it asks for notifies, so a
  // skipped one loses nothing (QEMU's virtio-serial always asks).
  if (c.tx.device_wants_notify()) {
    c.transport->notify(kTransmitQueue);
    ++c.counters.notifies;
  }
}

// console.cc says so on the UART when a send or drain fails.
void give_up(Console& c) {
  c.failed = true;
  g_console_fault_view.avail_index = nullptr;
  g_console_fault_view.used_index = nullptr;
}

// Waits until `done` holds, reclaiming buffers; false (and the console given up on) when
// the device does not get there in kGiveUpNs.
template <typename Done>
bool wait_for(Console& c, Done done) {
  reclaim(c);
  if (done()) return true;
  ++c.counters.waits;
  const uint64_t deadline = monotonic_ns() + kGiveUpNs;
  for (;;) {
    asm volatile("pause");
    reclaim(c);
    if (done()) return true;
    if (monotonic_ns() > deadline) {
      give_up(c);
      return false;
    }
  }
}

uint8_t* buffer(Console& c, uint16_t id) {
  return c.buffers + size_t{id} * kBufferSize;
}

}  // namespace

Result<void> virtio_console_attach(std::unique_ptr<Transport> transport) {
  if (g_console) return Error{Errc::kExists, "a second console device, unused"};
  TRY(transport->negotiate(0));
  auto tx = SplitQueue::create(kQueueSize);
  auto* buffers = static_cast<uint8_t*>(aligned_alloc(4096, size_t{kQueueSize} * kBufferSize));
  if (!tx || !buffers) {
    free(buffers);
    transport->fail();
    return Error{Errc::kNoMemory, "no memory for the virtio console's queue"};
  }
  std::unique_ptr<Console> c(new Console{std::move(transport), *tx, buffers, {}});
  if (auto set = c->transport->setup_queue(kTransmitQueue, c->tx, QueueInterrupt::kNone); !set) {
    c->transport->fail();
    return set.error();
  }
  // Buffers are reclaimed by polling: the device need not interrupt when it used one.
  c->tx.set_interrupts(Interrupts::kOff);
  for (uint16_t id = 0; id < kQueueSize; ++id) {
    c->tx.desc(id) = VirtqDesc{reinterpret_cast<uint64_t>(buffer(*c, id)), 0, 0, 0};
    c->free[c->free_count++] = id;
  }
  c->transport->driver_ok();
  // The split ring's indices (virtio 1.2 §2.7.6, §2.7.8: flags, then idx), for the ring-0
  // fault report, which waits for the device to write out what it was given.
  g_console_fault_view.avail_index =
      reinterpret_cast<const volatile uint16_t*>(c->tx.avail_address() + 2);
  g_console_fault_view.used_index =
      reinterpret_cast<const volatile uint16_t*>(c->tx.used_address() + 2);
  g_console = std::move(c);
  return ok();
}

bool virtio_console_active() {
  return g_console && !g_console->failed;
}

bool virtio_console_send(std::string_view text) {
  if (!virtio_console_active()) return false;
  Console& c = *g_console;
  ++c.counters.flushes;
  bool unnotified = false;
  while (!text.empty()) {
    if (c.free_count == 0) reclaim(c);
    if (c.free_count == 0) {
      // Every buffer is with the device: what is queued must reach it before one comes
      // back.
      if (unnotified) notify(c);
      unnotified = false;
      if (!wait_for(c, [&c] { return c.free_count > 0; })) return false;
    }
    const uint16_t id = c.free[--c.free_count];
    const size_t n = text.size() < kBufferSize ? text.size() : kBufferSize;
    std::memcpy(buffer(c, id), text.data(), n);
    c.tx.desc(id).len = static_cast<uint32_t>(n);
    c.tx.push(id);
    c.counters.bytes += n;
    unnotified = true;
    text.remove_prefix(n);
  }
  if (unnotified) notify(c);
  return true;
}

bool virtio_console_drain() {
  if (!virtio_console_active()) return false;
  Console& c = *g_console;
  return wait_for(c, [&c] { return c.free_count == kQueueSize; });
}

void virtio_console_print_stats() {
  if (!g_console) return;
  const Counters& k = g_console->counters;
  char line[160];
  snprintf(line, sizeof line,
           "virtio-console: flushes %llu notifies %llu bytes %llu waits %llu%s\n",
           static_cast<unsigned long long>(k.flushes), static_cast<unsigned long long>(k.notifies),
           static_cast<unsigned long long>(k.bytes), static_cast<unsigned long long>(k.waits),
           g_console->failed ? " (given up on)" : "");
  console_write(line);
}

}  // namespace morgana::platform::virtio
