// virtio-net (virtio 1.2 §5.1) over virtio-mmio or virtio-pci. Features: VERSION_1 and
// MAC only, so every frame carries the 12-byte virtio_net_hdr with no offloads, and
// frames up to the 1500-byte MTU fit one 2 KiB buffer (no MRG_RXBUF, no checksum or
// segmentation offload, one queue pair, no control queue). Exits (DESIGN.md §4a) are kept
// off the data path:
//  - received frames are found by reading the used ring, in yield() too, so a busy image
//    never takes an interrupt; the receive queue may interrupt only while the image
//    sleeps in hlt (virtio_net_arm_wakeup), and on virtio-mmio that costs one
//    acknowledgement after the sleep (MSI-X on virtio-pci needs none);
//  - the transmit queue never interrupts: its buffers are reclaimed from the used ring
//    when a frame is written;
//  - a notify is written only when the device asks for it (VIRTQ_USED_F_NO_NOTIFY clear),
//    and for transmit once per batch: at the next yield(), after kTxKickBatch frames, or
//    when the queue is full.
// Only NICs the application opened take part in polling and waking: frames piling up on
// one nobody reads must not keep yield() from sleeping.
#include "platform/virtio/virtio_net.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "morgana/platform/platform.h"
#include "platform/virtio/virtio.h"
#include "platform/virtio/virtqueue.h"

namespace morgana::platform::virtio {
namespace {

constexpr uint64_t kFeatureMac = 1ull << 5;  // virtio 1.2 §5.1.3
constexpr uint16_t kReceiveQueue = 0, kTransmitQueue = 1;
constexpr uint16_t kQueueSize = 256;            // per direction; 512 KiB of buffers each
constexpr uint32_t kBufferSize = 2048;          // a header and the largest frame, with room
constexpr uint16_t kTxKickBatch = 32;           // notify at least every this many frames
constexpr size_t kFrameMax = kNetMtu + 14 + 4;  // Ethernet header and one VLAN tag

// virtio 1.2 §5.1.6: with VERSION_1 the header always has num_buffers (12 bytes). Sent
// all zero (no offloads); on receive nothing in it matters without the offload features.
struct NetHeader {
  uint8_t flags, gso_type;
  uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
};
static_assert(sizeof(NetHeader) == 12);
static_assert(sizeof(NetHeader) + kFrameMax <= kBufferSize);

enum class Drop { kShort, kOversize, kBadId, kCount };
constexpr const char* kDropNames[] = {"short", "oversize", "bad_id"};

struct Counters {
  uint64_t rx_frames = 0, tx_frames = 0;
  uint64_t tx_full = 0;         // writes refused with kAgain
  uint64_t notifies = 0;        // queue notify writes (exits)
  uint64_t interrupt_acks = 0;  // interrupt acknowledgements (exits)
  uint64_t drops[static_cast<int>(Drop::kCount)] = {};
};

struct Nic {
  std::unique_ptr<Transport> transport;
  SplitQueue rx, tx;
  uint8_t* rx_buffers;  // kQueueSize * kBufferSize each, from the heap, never freed
  uint8_t* tx_buffers;
  std::array<uint8_t, 6> mac;
  uint16_t tx_free[kQueueSize];  // descriptor ids the device has given back
  uint16_t tx_free_count = 0;
  uint16_t tx_unnotified = 0;  // frames made available since the last notify decision
  bool opened = false;         // by NetDevice::open: polled, and may wake the image
  bool armed = false;          // receive interrupts enabled for the idle sleep
  uint16_t used_at_arm = 0;
  Counters counters;
};

constexpr size_t kMaxNics = 8;
std::unique_ptr<Nic> g_nics[kMaxNics];  // the platform's, for the image's lifetime
size_t g_nic_count;

// Every dropped received frame goes through here, counted by reason.
void drop(Nic& nic, Drop reason) {
  ++nic.counters.drops[static_cast<int>(reason)];
}

uint8_t* rx_buffer(Nic& nic, uint16_t id) {
  return nic.rx_buffers + size_t{id} * kBufferSize;
}
uint8_t* tx_buffer(Nic& nic, uint16_t id) {
  return nic.tx_buffers + size_t{id} * kBufferSize;
}

// Makes receive buffer `id` available again, notifying the device if it waits for
// buffers (it asks only after it ran out; normally it has some and reads the ring itself).
void repost(Nic& nic, uint16_t id) {
  nic.rx.push(id);
  if (nic.rx.device_wants_notify()) {
    nic.transport->notify(kReceiveQueue);
    ++nic.counters.notifies;
  }
}

void notify_tx(Nic& nic) {
  if (nic.tx_unnotified == 0) return;
  nic.tx_unnotified = 0;
  // While the device is working through the queue it has notifies off and looks at the
  // available index again before it turns them back on, so skipping the notify is safe.
  if (nic.tx.device_wants_notify()) {
    nic.transport->notify(kTransmitQueue);
    ++nic.counters.notifies;
  }
}

void reclaim_tx(Nic& nic) {
  while (nic.tx.has_used()) {
    const VirtqUsedElem elem = nic.tx.pop_used();
    // An id we never made available would corrupt the free list; a correct device does
    // not send one, and the frame it names is lost either way.
    if (elem.id < kQueueSize && nic.tx_free_count < kQueueSize) {
      nic.tx_free[nic.tx_free_count++] = static_cast<uint16_t>(elem.id);
    }
  }
}

}  // namespace

Result<void> virtio_net_attach(std::unique_ptr<Transport> transport) {
  if (g_nic_count == kMaxNics) return Error{Errc::kOutOfRange, "more than 8 virtio-net devices"};
  const uint64_t features = TRY(transport->negotiate(kFeatureMac));
  auto rx = SplitQueue::create(kQueueSize);
  auto tx = SplitQueue::create(kQueueSize);
  auto* rx_buffers = static_cast<uint8_t*>(aligned_alloc(4096, size_t{kQueueSize} * kBufferSize));
  auto* tx_buffers = static_cast<uint8_t*>(aligned_alloc(4096, size_t{kQueueSize} * kBufferSize));
  if (!rx || !tx || !rx_buffers || !tx_buffers) {
    free(rx_buffers);
    free(tx_buffers);
    transport->fail();
    return Error{Errc::kNoMemory, "no memory for virtio-net queues"};
  }
  std::unique_ptr<Nic> nic(new Nic{std::move(transport), *rx, *tx, rx_buffers, tx_buffers, {}, {}});
  Transport& t = *nic->transport;
  // Only receiving may interrupt, and only to end the idle sleep (virtio_net_arm_wakeup).
  auto setup = [&]() -> Result<void> {
    TRY(t.setup_queue(kReceiveQueue, nic->rx, QueueInterrupt::kWakeUp));
    TRY(t.setup_queue(kTransmitQueue, nic->tx, QueueInterrupt::kNone));
    return t.enable_interrupts();
  };
  if (auto set = setup(); !set) {
    t.fail();
    return set.error();
  }
  nic->rx.set_interrupts(Interrupts::kOff);
  nic->tx.set_interrupts(Interrupts::kOff);
  for (uint16_t id = 0; id < kQueueSize; ++id) {
    nic->rx.desc(id) = VirtqDesc{reinterpret_cast<uint64_t>(rx_buffer(*nic, id)), kBufferSize,
                                 SplitQueue::kDescWrite, 0};
    nic->rx.push(id);
    nic->tx.desc(id) = VirtqDesc{reinterpret_cast<uint64_t>(tx_buffer(*nic, id)), 0, 0, 0};
    nic->tx_free[nic->tx_free_count++] = id;
  }
  t.driver_ok();
  if (features & kFeatureMac) {
    // Two reads instead of six byte reads (config fields are little-endian).
    const uint32_t low = t.config32(0);
    const uint16_t high = t.config16(4);
    nic->mac = {uint8_t(low),       uint8_t(low >> 8), uint8_t(low >> 16),
                uint8_t(low >> 24), uint8_t(high),     uint8_t(high >> 8)};
  } else {
    // No address from the device: a random locally administered unicast one.
    std::memcpy(nic->mac.data(), boot_seed().data(), 6);
    nic->mac[0] = static_cast<uint8_t>((nic->mac[0] & 0xfe) | 0x02);
  }
  // The device may have looked for receive buffers before DRIVER_OK and found none.
  t.notify(kReceiveQueue);
  ++nic->counters.notifies;
  g_nics[g_nic_count++] = std::move(nic);
  return ok();
}

size_t virtio_net_count() {
  return g_nic_count;
}

std::array<uint8_t, 6> virtio_net_mac(size_t nic) {
  return g_nics[nic]->mac;
}

Result<void> virtio_net_write(size_t index, std::span<const uint8_t> frame) {
  Nic& nic = *g_nics[index];
  if (frame.size() > size_t{kNetMtu} + 14)
    return Error{Errc::kInvalidArgument, "frame larger than the MTU"};
  if (nic.tx_free_count == 0) reclaim_tx(nic);
  if (nic.tx_free_count == 0) {
    // Whatever is queued must reach the device, or the queue never drains.
    notify_tx(nic);
    ++nic.counters.tx_full;
    return Error{Errc::kAgain, "transmit queue full"};
  }
  const uint16_t id = nic.tx_free[--nic.tx_free_count];
  uint8_t* buffer = tx_buffer(nic, id);
  std::memset(buffer, 0, sizeof(NetHeader));
  std::memcpy(buffer + sizeof(NetHeader), frame.data(), frame.size());
  nic.tx.desc(id).len = static_cast<uint32_t>(sizeof(NetHeader) + frame.size());
  nic.tx.push(id);
  ++nic.counters.tx_frames;
  if (++nic.tx_unnotified >= kTxKickBatch) notify_tx(nic);
  return ok();
}

Result<size_t> virtio_net_read(size_t index, std::span<uint8_t> buffer) {
  Nic& nic = *g_nics[index];
  while (nic.rx.has_used()) {
    const VirtqUsedElem elem = nic.rx.pop_used();
    if (elem.id >= kQueueSize) {
      drop(nic, Drop::kBadId);  // nothing to give back: the id is not one of ours
      continue;
    }
    const auto id = static_cast<uint16_t>(elem.id);
    if (elem.len < sizeof(NetHeader) + 14 || elem.len > kBufferSize) {
      drop(nic, Drop::kShort);
      repost(nic, id);
      continue;
    }
    const size_t length = elem.len - sizeof(NetHeader);
    if (length > buffer.size()) {
      drop(nic, Drop::kOversize);
      repost(nic, id);
      continue;
    }
    std::memcpy(buffer.data(), rx_buffer(nic, id) + sizeof(NetHeader), length);
    repost(nic, id);
    ++nic.counters.rx_frames;
    return length;
  }
  return Error{Errc::kAgain, "no frame pending"};
}

void virtio_net_open(size_t nic) {
  g_nics[nic]->opened = true;
}

bool virtio_net_pending(size_t nic) {
  return g_nics[nic]->opened && g_nics[nic]->rx.has_used();
}

void virtio_net_flush() {
  for (size_t i = 0; i < g_nic_count; ++i) notify_tx(*g_nics[i]);
}

bool virtio_net_arm_wakeup() {
  bool arrived = false;
  for (size_t i = 0; i < g_nic_count; ++i) {
    Nic& nic = *g_nics[i];
    if (!nic.opened) continue;
    nic.used_at_arm = nic.rx.last_used();
    nic.rx.set_interrupts(Interrupts::kOn);
    nic.armed = true;
    // A frame that came before the flag was visible raised no interrupt: look again
    // (set_interrupts fenced the flag store before this load).
    arrived |= nic.rx.has_used();
  }
  return arrived;
}

void virtio_net_disarm_wakeup(bool device_interrupt) {
  for (size_t i = 0; i < g_nic_count; ++i) {
    Nic& nic = *g_nics[i];
    if (!nic.armed) continue;
    nic.armed = false;
    nic.rx.set_interrupts(Interrupts::kOff);
    // The device interrupts only after it advanced the used index and saw the flag
    // clear; we cleared the flag before reading the index. So if the index did not move,
    // this queue raised nothing, unless the interrupt came from elsewhere on the device
    // (a configuration change), which the device vector tells.
    if ((nic.rx.used_index() != nic.used_at_arm || device_interrupt) &&
        nic.transport->ack_interrupts()) {
      ++nic.counters.interrupt_acks;
    }
  }
}

void virtio_net_print_stats() {
  for (size_t i = 0; i < g_nic_count; ++i) {
    const Nic& nic = *g_nics[i];
    const Counters& c = nic.counters;
    char line[256];
    int n = snprintf(line, sizeof line,
                     "virtio-net %zu: rx %llu tx %llu tx_full %llu notifies %llu "
                     "interrupt_acks %llu drops",
                     i, static_cast<unsigned long long>(c.rx_frames),
                     static_cast<unsigned long long>(c.tx_frames),
                     static_cast<unsigned long long>(c.tx_full),
                     static_cast<unsigned long long>(c.notifies),
                     static_cast<unsigned long long>(c.interrupt_acks));
    for (int d = 0; d < static_cast<int>(Drop::kCount) && n > 0 && n < int(sizeof line); ++d) {
      n += snprintf(line + n, sizeof line - size_t(n), " %s %llu", kDropNames[d],
                    static_cast<unsigned long long>(c.drops[d]));
    }
    console_write(line);
    console_write("\n");
  }
}

}  // namespace morgana::platform::virtio
