// virtio-net (virtio 1.2 §5.1) over virtio-mmio or virtio-pci: one queue pair, no control
// queue, no event index. Negotiated when the device is opened, from what the application
// asks for (NetDevice::open's `wanted`; `--net-no-offloads` asks for none) and the device
// offers:
//  - checksums both ways (CSUM: we send partial checksums, NEEDS_CSUM with csum_start and
//    csum_offset, for the device to complete; GUEST_CSUM: the device may hand us frames
//    with partial checksums or mark them DATA_VALID, so the stack skips verification),
//    only as a pair, since the stack's kNetOffloadChecksum means both directions;
//  - TCP segmentation both ways (HOST_TSO4: we send TCP/IPv4 segments up to 64 KiB that
//    the device cuts; GUEST_TSO4: it hands us merged ones), with the checksums, and with
//    MRG_RXBUF, which lets a merged frame span several of our 2 KiB receive buffers. The
//    alternative, every receive buffer (chain) able to hold 64 KiB, would take 16 MiB for
//    256 of them, or leave a queue of a few entries for a flood of small frames; with
//    MRG_RXBUF the receive side stays at 256 × 2 KiB = 512 KiB, an MTU-sized frame still
//    fills one buffer, and a 64 KiB one takes 33.
// These map onto NetOffloads/NetFrameMeta exactly as a tap's vnet header does on hvt and
// unix (platform/abi/vnet_meta.h), so the stack sees no difference. A frame to send is
// copied into a chain of 2 KiB buffers (33 for the largest TSO segment, so 7 fit in the
// 256-entry queue at once). Exits (DESIGN.md §4a) are kept off the data path:
//  - received frames are found by reading the used ring, in yield() too, so a busy image
//    never takes an interrupt; the receive queue may interrupt only while the image
//    sleeps in hlt (virtio_net_arm_wakeup), and on virtio-mmio that costs one
//    acknowledgement after the sleep (MSI-X on virtio-pci needs none);
//  - the transmit queue never interrupts: its buffers are reclaimed from the used ring
//    when a frame is written;
//  - a notify is written only when the device asks for it (VIRTQ_USED_F_NO_NOTIFY clear),
//    and for transmit once per batch: at the next yield(), after kTxKickBatch
//    descriptors, or when the queue is full.
// The idle sleep also watches the device: a sleep of at least kTxStallNs during which it
// took none of the transmit frames outstanding when the sleep began is counted
// (tx_stalls, tx_stall_ms in --stats). The driver has done its part then (the frames
// were notified, or the device had said it would look); such stalls come from the host,
// e.g. QEMU's threads waiting for a CPU (docs/virtio.md, "Stalls in bulk transfers").
// Only NICs the application opened are set up and take part in polling and waking:
// frames piling up on one nobody reads must not keep yield() from sleeping.
#include "platform/virtio/virtio_net.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "morgana/platform/platform.h"
#include "platform/abi/vnet_meta.h"
#include "platform/virtio/virtio.h"
#include "platform/virtio/virtqueue.h"

namespace morgana::platform::virtio {
namespace {

// virtio 1.2 §5.1.3.
constexpr uint64_t kFeatureCsum = 1ull << 0;
constexpr uint64_t kFeatureGuestCsum = 1ull << 1;
constexpr uint64_t kFeatureMac = 1ull << 5;
constexpr uint64_t kFeatureGuestTso4 = 1ull << 7;
constexpr uint64_t kFeatureHostTso4 = 1ull << 11;
constexpr uint64_t kFeatureMrgRxbuf = 1ull << 15;
constexpr uint64_t kFeaturesChecksum = kFeatureCsum | kFeatureGuestCsum;
constexpr uint64_t kFeaturesTso = kFeatureHostTso4 | kFeatureGuestTso4 | kFeatureMrgRxbuf;

constexpr uint16_t kReceiveQueue = 0, kTransmitQueue = 1;
constexpr uint16_t kQueueSize = 256;            // per direction; 512 KiB of buffers each
constexpr uint32_t kBufferSize = 2048;          // a header and the largest frame, with room
constexpr uint16_t kTxKickBatch = 32;           // notify at least every this many descriptors
constexpr uint64_t kTxStallNs = 20'000'000;     // a device this slow is counted as stalled
constexpr size_t kFrameMax = kNetMtu + 14 + 4;  // Ethernet header and one VLAN tag

// virtio 1.2 §5.1.6: with VERSION_1 the header always has num_buffers (12 bytes): the
// fields a tap's vnet header has, then how many receive buffers the frame spans (with
// MRG_RXBUF; else 1).
struct NetHeader {
  abi::VirtioNetHeader vnet;
  uint16_t num_buffers;
};
static_assert(sizeof(NetHeader) == 12);
static_assert(sizeof(NetHeader) + kFrameMax <= kBufferSize);
// The longest chain a frame to send takes.
constexpr uint16_t kTxChainMax = static_cast<uint16_t>(
    (sizeof(NetHeader) + kNetMaxOffloadFrame + kBufferSize - 1) / kBufferSize);
static_assert(kTxChainMax <= kQueueSize);

enum class Drop { kShort, kOversize, kBadId, kBadHeader, kNeedsMeta, kCount };
constexpr const char* kDropNames[] = {"short", "oversize", "bad_id", "bad_header", "needs_meta"};

struct Counters {
  uint64_t rx_frames = 0, tx_frames = 0;
  uint64_t rx_merged = 0;       // received frames that spanned several buffers
  uint64_t tx_tso = 0;          // frames sent for the device to segment
  uint64_t tx_full = 0;         // writes refused with kAgain
  uint64_t notifies = 0;        // queue notify writes (exits)
  uint64_t interrupt_acks = 0;  // interrupt acknowledgements (exits)
  uint64_t tx_stalls = 0;       // sleeps of kTxStallNs or more with transmit frames untaken
  uint64_t tx_stall_ns = 0;     // their total length
  uint64_t drops[static_cast<int>(Drop::kCount)] = {};
};

// An opened NIC: its queues and buffers, set up by virtio_net_open.
struct Nic {
  Transport& transport;  // g_transports' entry, which outlives it
  SplitQueue rx, tx;
  uint8_t* rx_buffers;  // kQueueSize * kBufferSize each, from the heap, never freed
  uint8_t* tx_buffers;
  uint64_t features;  // negotiated
  NetOffloads offloads;
  std::array<uint8_t, 6> mac{};
  uint16_t tx_free[kQueueSize] = {};  // descriptor ids the device has given back
  uint16_t tx_free_count = 0;
  uint8_t tx_chain[kQueueSize] = {};  // per chain head in flight: its length; 0 if none
  uint16_t tx_unnotified = 0;         // descriptors made available since the last notify
  bool armed = false;                 // receive interrupts enabled for the idle sleep
  uint16_t used_at_arm = 0;
  // The transmit side of the sleep: whether frames were outstanding (made available, not
  // yet used by the device) when it began, the used index then, and when it began.
  bool tx_outstanding_at_arm = false;
  uint16_t tx_used_at_arm = 0;
  uint64_t armed_at_ns = 0;
  Counters counters;
};

constexpr size_t kMaxNics = 8;
// The platform's, for the image's lifetime: every attached device's transport, and the
// NIC once opened.
std::unique_ptr<Transport> g_transports[kMaxNics];
std::unique_ptr<Nic> g_nics[kMaxNics];
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

// The device's offer cut down to sets the driver can use: checksums only both ways (the
// stack's kNetOffloadChecksum is one flag for both), TSO only both ways, with the
// checksums (virtio 1.2 §5.1.3.1 requires them) and with MRG_RXBUF (without it merged
// frames would need 64 KiB receive buffers).
uint64_t usable_features(uint64_t features) {
  if ((features & kFeaturesChecksum) != kFeaturesChecksum) features &= ~kFeaturesChecksum;
  if ((features & kFeaturesTso) != kFeaturesTso || !(features & kFeatureCsum))
    features &= ~kFeaturesTso;
  return features;
}

// Makes receive buffer `id` available again; the caller notifies (notify_rx) after a batch.
void repost(Nic& nic, uint16_t id) {
  nic.rx.push(id);
}

// Notifies the device of reposted buffers if it waits for them (it asks only after it
// ran out, or found too few for a merged frame; normally it reads the ring itself).
void notify_rx(Nic& nic) {
  if (nic.rx.device_wants_notify()) {
    nic.transport.notify(kReceiveQueue);
    ++nic.counters.notifies;
  }
}

void notify_tx(Nic& nic) {
  if (nic.tx_unnotified == 0) return;
  nic.tx_unnotified = 0;
  // While the device is working through the queue it has notifies off and looks at the
  // available index again before it turns them back on, so skipping the notify is safe.
  if (nic.tx.device_wants_notify()) {
    nic.transport.notify(kTransmitQueue);
    ++nic.counters.notifies;
  }
}

void reclaim_tx(Nic& nic) {
  while (nic.tx.has_used()) {
    const VirtqUsedElem elem = nic.tx.pop_used();
    // An id that heads no chain in flight would corrupt the free list; a correct device
    // does not send one, and the frame it names is lost either way.
    if (elem.id >= kQueueSize || nic.tx_chain[elem.id] == 0) continue;
    auto id = static_cast<uint16_t>(elem.id);
    const uint8_t length = nic.tx_chain[id];
    nic.tx_chain[id] = 0;
    // The chain's links are in our descriptor table, which only we write.
    for (uint8_t k = 0; k < length && nic.tx_free_count < kQueueSize; ++k) {
      nic.tx_free[nic.tx_free_count++] = id;
      id = nic.tx.desc(id).next;
    }
  }
}

// How many receive buffers the next frame spans (1 without MRG_RXBUF), read from its
// header in the first one; 0 when the count is not one a correct device gives.
uint16_t frame_buffers(Nic& nic, const VirtqUsedElem& first) {
  if (!(nic.features & kFeatureMrgRxbuf)) return 1;
  if (first.id >= kQueueSize || first.len < sizeof(NetHeader)) return 1;  // dropped alone
  NetHeader header;
  std::memcpy(&header, rx_buffer(nic, static_cast<uint16_t>(first.id)), sizeof header);
  return header.num_buffers <= kQueueSize ? header.num_buffers : 0;
}

// Whether a whole frame waits in the used ring. A device may publish a merged frame's
// buffers one by one (QEMU adds them at once): the frame is taken when all are there.
bool frame_ready(Nic& nic) {
  if (!nic.rx.has_used()) return false;
  const uint16_t buffers = frame_buffers(nic, nic.rx.peek_used());
  return nic.rx.used_pending() >= (buffers == 0 ? 1 : buffers);
}

// Takes the `buffers` used entries of one frame, gives the buffers back, and copies the
// bytes after the header into `buffer`. Returns the frame's length, or sets `reason` to
// why the frame must be dropped (left as Drop::kCount when it is whole).
size_t gather(Nic& nic, uint16_t buffers, std::span<uint8_t> buffer, Drop& reason) {
  size_t length = 0;
  reason = Drop::kCount;
  for (uint16_t k = 0; k < buffers; ++k) {
    const VirtqUsedElem elem = nic.rx.pop_used();
    if (elem.id >= kQueueSize) {
      reason = Drop::kBadId;  // nothing to give back: the id is not one of ours
      continue;
    }
    const auto id = static_cast<uint16_t>(elem.id);
    const size_t skip = k == 0 ? sizeof(NetHeader) : 0;
    if (elem.len < skip || elem.len > kBufferSize) {
      reason = Drop::kShort;
    } else if (reason == Drop::kCount) {
      const size_t bytes = elem.len - skip;
      if (length + bytes > buffer.size()) {
        reason = Drop::kOversize;
      } else {
        std::memcpy(buffer.data() + length, rx_buffer(nic, id) + skip, bytes);
        length += bytes;
      }
    }
    repost(nic, id);
  }
  return length;
}

}  // namespace

Result<void> virtio_net_attach(std::unique_ptr<Transport> transport) {
  if (g_nic_count == kMaxNics) return Error{Errc::kOutOfRange, "more than 8 virtio-net devices"};
  g_transports[g_nic_count++] = std::move(transport);
  return ok();
}

size_t virtio_net_count() {
  return g_nic_count;
}

Result<NetOffloads> virtio_net_open(size_t index, NetOffloads wanted) {
  if (g_nics[index]) return g_nics[index]->offloads;
  Transport& t = *g_transports[index];
  // TSO needs the checksum offload (virtio 1.2 §5.1.3.1, and the stack's rule).
  if (wanted & kNetOffloadTso4) wanted |= kNetOffloadChecksum;
  uint64_t asked = kFeatureMac;
  if (wanted & kNetOffloadChecksum) asked |= kFeaturesChecksum;
  if (wanted & kNetOffloadTso4) asked |= kFeaturesTso;
  const uint64_t features = TRY(t.negotiate(asked, usable_features));
  auto rx = SplitQueue::create(kQueueSize);
  auto tx = SplitQueue::create(kQueueSize);
  auto* rx_buffers = static_cast<uint8_t*>(aligned_alloc(4096, size_t{kQueueSize} * kBufferSize));
  auto* tx_buffers = static_cast<uint8_t*>(aligned_alloc(4096, size_t{kQueueSize} * kBufferSize));
  if (!rx || !tx || !rx_buffers || !tx_buffers) {
    free(rx_buffers);
    free(tx_buffers);
    t.fail();
    return Error{Errc::kNoMemory, "no memory for virtio-net queues"};
  }
  const NetOffloads offloads = ((features & kFeatureCsum) ? kNetOffloadChecksum : 0u) |
                               ((features & kFeatureHostTso4) ? kNetOffloadTso4 : 0u);
  std::unique_ptr<Nic> nic(new Nic{t, *rx, *tx, rx_buffers, tx_buffers, features, offloads});
  // Only receiving may interrupt, and only to end the idle sleep (virtio_net_arm_wakeup).
  auto setup = [&]() -> Result<void> {
    TRY(t.setup_queue(kReceiveQueue, nic->rx, QueueInterrupt::kWakeUp));
    TRY(t.setup_queue(kTransmitQueue, nic->tx, QueueInterrupt::kNone));
    return t.enable_interrupts();
  };
  if (auto set = setup(); !set) {
    t.fail();
    free(rx_buffers);  // the rings stay: the device may have been given their addresses
    free(tx_buffers);
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
  g_nics[index] = std::move(nic);
  return offloads;
}

std::array<uint8_t, 6> virtio_net_mac(size_t nic) {
  return g_nics[nic]->mac;
}

Result<void> virtio_net_write(size_t index, std::span<const uint8_t> frame,
                              const NetFrameMeta& meta) {
  Nic& nic = *g_nics[index];
  const bool tso = meta.gso_size != 0;
  if (frame.size() > (tso ? kNetMaxOffloadFrame : size_t{kNetMtu} + 14))
    return Error{Errc::kInvalidArgument, "frame larger than the MTU"};
  if (meta.checksum == NetChecksum::kValid ||
      (meta.checksum == NetChecksum::kPartial &&
       (!(nic.offloads & kNetOffloadChecksum) ||
        size_t{meta.csum_start} + meta.csum_offset + 2 > frame.size())) ||
      (tso && (!(nic.offloads & kNetOffloadTso4) || meta.checksum != NetChecksum::kPartial ||
               meta.header_length > frame.size())))
    return Error{Errc::kInvalidArgument, "offload metadata the device cannot honour"};
  const size_t total = sizeof(NetHeader) + frame.size();
  const auto need = static_cast<uint16_t>((total + kBufferSize - 1) / kBufferSize);
  if (nic.tx_free_count < need) reclaim_tx(nic);
  if (nic.tx_free_count < need) {
    // Whatever is queued must reach the device, or the queue never drains.
    notify_tx(nic);
    ++nic.counters.tx_full;
    return Error{Errc::kAgain, "transmit queue full"};
  }
  // The header, then the frame, across a chain of buffers (virtio 1.x lets the device
  // take any layout, VIRTIO_F_VERSION_1 implying ANY_LAYOUT).
  const NetHeader header{to_vnet_header(meta), 0};
  const uint16_t head = nic.tx_free[--nic.tx_free_count];
  uint16_t id = head;
  size_t copied = 0;
  for (uint16_t k = 0; k < need; ++k) {
    uint8_t* buffer = tx_buffer(nic, id);
    size_t at = 0;
    if (k == 0) {
      std::memcpy(buffer, &header, sizeof header);
      at = sizeof header;
    }
    const size_t n = std::min<size_t>(kBufferSize - at, frame.size() - copied);
    std::memcpy(buffer + at, frame.data() + copied, n);
    copied += n;
    VirtqDesc& desc = nic.tx.desc(id);
    desc.len = static_cast<uint32_t>(at + n);
    if (k + 1 < need) {
      id = nic.tx_free[--nic.tx_free_count];
      desc.flags = SplitQueue::kDescNext;
      desc.next = id;
    } else {
      desc.flags = 0;
      desc.next = 0;
    }
  }
  nic.tx_chain[head] = static_cast<uint8_t>(need);
  nic.tx.push(head);
  ++nic.counters.tx_frames;
  if (tso) ++nic.counters.tx_tso;
  nic.tx_unnotified = static_cast<uint16_t>(nic.tx_unnotified + need);
  if (nic.tx_unnotified >= kTxKickBatch) notify_tx(nic);
  return ok();
}

Result<size_t> virtio_net_read(size_t index, std::span<uint8_t> buffer, NetFrameMeta* meta) {
  Nic& nic = *g_nics[index];
  Result<size_t> result = Error{Errc::kAgain, "no frame pending"};
  bool taken = false;  // receive buffers went back to the device
  while (frame_ready(nic)) {
    const VirtqUsedElem first = nic.rx.peek_used();
    uint16_t buffers = frame_buffers(nic, first);
    NetHeader header{};
    if (first.id < kQueueSize && first.len >= sizeof header)
      std::memcpy(&header, rx_buffer(nic, static_cast<uint16_t>(first.id)), sizeof header);
    const bool bad_count = buffers == 0;
    if (bad_count) buffers = 1;  // the rest, if any, look like frames and are dropped too
    Drop reason;
    const size_t length = gather(nic, buffers, buffer, reason);
    taken = true;
    NetFrameMeta received;
    if (bad_count) {
      drop(nic, Drop::kBadHeader);
    } else if (reason != Drop::kCount) {
      drop(nic, reason);
    } else if (length < 14) {
      drop(nic, Drop::kShort);
    } else if (!from_vnet_header(header.vnet, length, received)) {
      drop(nic, Drop::kBadHeader);
    } else if (!meta && (received.checksum == NetChecksum::kPartial || received.gso_size != 0)) {
      // A caller without metadata cannot be told that the checksum is still to be
      // completed or that this is many segments in one.
      drop(nic, Drop::kNeedsMeta);
    } else {
      if (meta) *meta = received;
      ++nic.counters.rx_frames;
      if (buffers > 1) ++nic.counters.rx_merged;
      result = length;
      break;
    }
  }
  if (taken) notify_rx(nic);
  return result;
}

bool virtio_net_pending(size_t nic) {
  return g_nics[nic] && frame_ready(*g_nics[nic]);
}

void virtio_net_flush() {
  for (size_t i = 0; i < g_nic_count; ++i) {
    if (g_nics[i]) notify_tx(*g_nics[i]);
  }
}

bool virtio_net_arm_wakeup() {
  bool arrived = false;
  const uint64_t now = monotonic_ns();
  for (size_t i = 0; i < g_nic_count; ++i) {
    if (!g_nics[i]) continue;
    Nic& nic = *g_nics[i];
    nic.used_at_arm = nic.rx.last_used();
    nic.tx_used_at_arm = nic.tx.used_index();
    nic.tx_outstanding_at_arm = nic.tx.avail_index() != nic.tx_used_at_arm;
    nic.armed_at_ns = now;
    nic.rx.set_interrupts(Interrupts::kOn);
    nic.armed = true;
    // A frame that came before the flag was visible raised no interrupt: look again
    // (set_interrupts fenced the flag store before this load). Part of a merged frame
    // counts too: the device interrupts again when it adds the rest.
    arrived |= nic.rx.has_used();
  }
  return arrived;
}

void virtio_net_disarm_wakeup(bool device_interrupt) {
  for (size_t i = 0; i < g_nic_count; ++i) {
    if (!g_nics[i] || !g_nics[i]->armed) continue;
    Nic& nic = *g_nics[i];
    nic.armed = false;
    nic.rx.set_interrupts(Interrupts::kOff);
    // The device interrupts only after it advanced the used index and saw the flag
    // clear; we cleared the flag before reading the index. So if the index did not move,
    // this queue raised nothing, unless the interrupt came from elsewhere on the device
    // (a configuration change), which the device vector tells.
    if ((nic.rx.used_index() != nic.used_at_arm || device_interrupt) &&
        nic.transport.ack_interrupts()) {
      ++nic.counters.interrupt_acks;
    }
    if (nic.tx_outstanding_at_arm && nic.tx.used_index() == nic.tx_used_at_arm) {
      const uint64_t slept = monotonic_ns() - nic.armed_at_ns;
      if (slept >= kTxStallNs) {
        ++nic.counters.tx_stalls;
        nic.counters.tx_stall_ns += slept;
      }
    }
  }
}

void virtio_net_print_stats() {
  for (size_t i = 0; i < g_nic_count; ++i) {
    char line[320];
    if (!g_nics[i]) {
      snprintf(line, sizeof line, "virtio-net %zu: not opened\n", i);
      console_write(line);
      continue;
    }
    const Nic& nic = *g_nics[i];
    const Counters& c = nic.counters;
    const char* offloads = (nic.offloads & kNetOffloadTso4)       ? "csum,tso4"
                           : (nic.offloads & kNetOffloadChecksum) ? "csum"
                                                                  : "none";
    int n = snprintf(
        line, sizeof line,
        "virtio-net %zu: offloads %s rx %llu merged %llu tx %llu tso %llu "
        "tx_full %llu notifies %llu interrupt_acks %llu tx_stalls %llu tx_stall_ms %llu drops",
        i, offloads, static_cast<unsigned long long>(c.rx_frames),
        static_cast<unsigned long long>(c.rx_merged), static_cast<unsigned long long>(c.tx_frames),
        static_cast<unsigned long long>(c.tx_tso), static_cast<unsigned long long>(c.tx_full),
        static_cast<unsigned long long>(c.notifies),
        static_cast<unsigned long long>(c.interrupt_acks),
        static_cast<unsigned long long>(c.tx_stalls),
        static_cast<unsigned long long>(c.tx_stall_ns / 1'000'000));
    for (int d = 0; d < static_cast<int>(Drop::kCount) && n > 0 && n < int(sizeof line); ++d) {
      n += snprintf(line + n, sizeof line - size_t(n), " %s %llu", kDropNames[d],
                    static_cast<unsigned long long>(c.drops[d]));
    }
    console_write(line);
    console_write("\n");
  }
}

}  // namespace morgana::platform::virtio
