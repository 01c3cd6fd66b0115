// The simulated Ethernet segment: what happens to a frame between one port's write() and
// another port's read() (see sim_network.h).
#include "sim_network.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "morgana/net/checksum.h"
#include "morgana/net/tcp_header.h"
#include "morgana/rt/assert.h"

namespace morgana::sim {

namespace {

// Preamble, start delimiter, FCS and inter-frame gap: what a frame costs on the wire
// besides the bytes the device sees.
constexpr uint64_t kWireOverheadBytes = 24;
constexpr size_t kEthernetHeader = 14;

std::array<uint8_t, 32> key_from(uint64_t seed) {
  std::array<uint8_t, 32> key{};
  for (size_t i = 0; i < 8; ++i) key[i] = uint8_t(seed >> (8 * i));
  key[8] = 0x5e;  // domain-separates the link's stream from the stacks' (seeded elsewhere)
  return key;
}

bool is_broadcast(std::span<const uint8_t> frame) {
  return std::all_of(frame.begin(), frame.begin() + 6, [](uint8_t b) { return b == 0xff; });
}

}  // namespace

std::string SimCounters::format() const {
  char line[400];
  std::snprintf(line, sizeof line,
                "link: sent=%llu delivered=%llu bytes=%llu lost=%llu cut=%llu reordered=%llu "
                "duplicated=%llu corrupted=%llu queue_dropped=%llu queue_refused=%llu "
                "unknown_destination=%llu oversize=%llu tso_segments=%llu bad_offload=%llu",
                (unsigned long long)frames_sent, (unsigned long long)frames_delivered,
                (unsigned long long)bytes_delivered, (unsigned long long)lost,
                (unsigned long long)cut, (unsigned long long)reordered,
                (unsigned long long)duplicated, (unsigned long long)corrupted,
                (unsigned long long)queue_dropped, (unsigned long long)queue_refused,
                (unsigned long long)unknown_destination, (unsigned long long)oversize,
                (unsigned long long)tso_segments, (unsigned long long)bad_offload);
  return line;
}

// --- SimDevice ---------------------------------------------------------------------------

platform::DeviceId SimDevice::id() const {
  return network_->ports_[port_].id;
}
std::array<uint8_t, 6> SimDevice::mac() const {
  return network_->ports_[port_].mac;
}
uint16_t SimDevice::mtu() const {
  return network_->ports_[port_].config.mtu;
}
Result<size_t> SimDevice::read(std::span<uint8_t> out) {
  return network_->read(port_, out);
}
Result<void> SimDevice::write(std::span<const uint8_t> frame) {
  return network_->write(port_, frame);
}
platform::NetOffloads SimDevice::offloads() const {
  return network_->ports_[port_].config.offloads;
}
Result<size_t> SimDevice::read(std::span<uint8_t> out, platform::NetFrameMeta& meta) {
  meta = {};
  return network_->read(port_, out);
}
Result<void> SimDevice::write(std::span<const uint8_t> frame, const platform::NetFrameMeta& meta) {
  return network_->write_offloaded(port_, frame, meta);
}
Result<std::span<const uint8_t>> SimDevice::peek(platform::NetFrameMeta& meta) {
  meta = {};
  return network_->peek(port_);
}
void SimDevice::release() {
  network_->release(port_);
}

namespace {

uint16_t load16(std::span<const uint8_t> bytes, size_t at) {
  return uint16_t(bytes[at] << 8 | bytes[at + 1]);
}
void store16(std::span<uint8_t> bytes, size_t at, uint16_t value) {
  bytes[at] = uint8_t(value >> 8);
  bytes[at + 1] = uint8_t(value);
}

// Completes a partial checksum as virtio's NEEDS_CSUM asks: the field holds the
// pseudo-header sum for a transport length of `claimed_length`; the wire segment's
// transport bytes start at `start`. Summing the field as given checks the stack's
// pseudo-header sum (a wrong one makes the receiver drop the frame).
void complete_checksum(std::span<uint8_t> frame, size_t start, size_t field,
                       uint16_t claimed_length) {
  net::Checksum sum;
  sum.add_u16(load16(frame, field));
  // One's-complement arithmetic: remove the claimed length, add this segment's.
  sum.add_u16(uint16_t(~claimed_length));
  sum.add_u16(uint16_t(frame.size() - start));
  store16(frame, field, 0);
  sum.add(frame.subspan(start));
  store16(frame, field, sum.finish());
}

}  // namespace

// --- SimNetwork --------------------------------------------------------------------------

SimNetwork::SimNetwork(async::VirtualBackend& backend, uint64_t seed)
    : backend_(backend),
      rng_(random::ChaCha20Rng::from_seed(key_from(seed), random::MixRdrand::kNo)) {
  const char* env = std::getenv("MORGANA_SIM_TRACE");
  trace_ = env != nullptr && *env == '1';
}

void SimNetwork::trace(size_t from, size_t to, std::span<const uint8_t> f, const char* fate,
                       uint64_t at) {
  if (!trace_) return;
  char what[160] = "non-IPv4";
  auto u16 = [&](size_t i) { return unsigned(f[i] << 8 | f[i + 1]); };
  auto u32 = [&](size_t i) { return uint32_t(u16(i)) << 16 | u16(i + 2); };
  if (f.size() >= 34 && f[12] == 0x08 && f[13] == 0x00) {
    size_t ihl = size_t(f[14] & 0xf) * 4, t = 14 + ihl;
    unsigned total = u16(16);
    if (f[23] == 6 && f.size() >= t + 20) {
      uint8_t flags = f[t + 13];
      char fl[8] = {};
      int k = 0;
      for (auto [bit, c] :
           {std::pair{0x02, 'S'}, {0x01, 'F'}, {0x04, 'R'}, {0x08, 'P'}, {0x10, '.'}})
        if (flags & bit) fl[k++] = c;
      size_t header = size_t(f[t + 12] >> 4) * 4;
      unsigned len = total - unsigned(ihl) - unsigned(header);
      uint32_t tsval = 0, tsecr = 0;
      for (size_t o = t + 20; o + 1 < t + header && o + 1 < f.size();) {
        if (f[o] == 0) break;
        if (f[o] == 1) {
          ++o;
          continue;
        }
        if (f[o] == 8 && o + 10 <= f.size()) tsval = u32(o + 2), tsecr = u32(o + 6);
        if (f[o + 1] < 2) break;
        o += f[o + 1];
      }
      std::snprintf(what, sizeof what, "tcp %u>%u [%s] seq %u ack %u win %u len %u ts %u/%u",
                    u16(t), u16(t + 2), fl, u32(t + 4), u32(t + 8), u16(t + 14), len, tsval, tsecr);
    } else {
      std::snprintf(what, sizeof what, "ipv4 proto %u len %u", f[23], total);
    }
  }
  std::fprintf(stderr, "%10.6f %zu->%zu %-10s at %10.6f %s\n", double(now()) / 1e9, from, to, fate,
               double(at) / 1e9, what);
}

SimDevice SimNetwork::add_port(platform::DeviceId id, const PortConfig& config) {
  MORGANA_ASSERT(id < 64);
  for (const Port& port : ports_) MORGANA_ASSERT(port.id != id);
  Port port;
  port.id = id;
  port.mac = {0x02, 0, 0, 0, 0, uint8_t(id + 1)};  // locally administered, unicast
  port.config = config;
  ports_.push_back(std::move(port));
  return SimDevice(this, ports_.size() - 1);
}

void SimNetwork::set_link(size_t from, size_t to, const LinkConditions& conditions) {
  links_[{from, to}] = conditions;
}

void SimNetwork::set_links(const LinkConditions& conditions) {
  default_link_ = conditions;
  links_.clear();
}

LinkConditions& SimNetwork::link(size_t from, size_t to) {
  auto it = links_.find({from, to});
  if (it == links_.end()) it = links_.emplace(std::pair{from, to}, default_link_).first;
  return it->second;
}

void SimNetwork::set_up(size_t a, size_t b, bool up) {
  link(a, b).up = up;
  link(b, a).up = up;
}

bool SimNetwork::chance(double probability) {
  if (probability <= 0) return false;
  if (probability >= 1) return true;
  // 53 random bits, as a double in [0, 1).
  return double(rng_.next_u64() >> 11) * 0x1.0p-53 < probability;
}

Result<std::span<const uint8_t>> SimNetwork::take_due(Port& port) {
  if (port.inbox.empty() || port.inbox.begin()->first.first > now())
    return Error{Errc::kAgain, "no frame due"};
  port.lent = std::move(port.inbox.extract(port.inbox.begin()).mapped());
  ++counters_.frames_delivered;
  counters_.bytes_delivered += port.lent.size();
  // The driver may stop reading before the inbox is drained (it takes a bounded number
  // per turn); readiness is a one-shot pulse, so renew it for frames already due.
  if (!port.inbox.empty() && port.inbox.begin()->first.first <= now())
    backend_.ready_at(now(), platform::ReadySet{1} << port.id);
  return std::span<const uint8_t>(port.lent);
}

Result<size_t> SimNetwork::read(size_t index, std::span<uint8_t> out) {
  std::span<const uint8_t> frame = TRY(take_due(ports_[index]));
  size_t n = std::min(frame.size(), out.size());
  std::memcpy(out.data(), frame.data(), n);
  ports_[index].lent.clear();
  return n;
}

Result<std::span<const uint8_t>> SimNetwork::peek(size_t index) {
  if (!ports_[index].config.lend_frames)
    return Error{Errc::kUnsupported, "sim: this port copies frames"};
  return take_due(ports_[index]);
}

void SimNetwork::release(size_t index) {
  std::vector<uint8_t>& lent = ports_[index].lent;
  std::fill(lent.begin(), lent.end(), uint8_t{0xA5});
  lent.clear();
}

Result<void> SimNetwork::write(size_t from, std::span<const uint8_t> frame) {
  Port& port = ports_[from];
  uint64_t sent = now();
  if (port.config.bandwidth_bps != 0 && port.config.refuse_when_full) {
    while (!port.in_queue.empty() && port.in_queue.front() <= sent) port.in_queue.pop_front();
    if (port.in_queue.size() >= port.config.queue_frames) {
      ++counters_.queue_refused;  // not taken: the stack keeps it and writes it again
      return Error{Errc::kAgain, "sim: transmit queue full"};
    }
  }
  ++counters_.frames_sent;
  if (frame.size() < kEthernetHeader || frame.size() > size_t(port.config.mtu) + 22) {
    ++counters_.oversize;
    return {};
  }
  if (port.config.bandwidth_bps != 0) {
    while (!port.in_queue.empty() && port.in_queue.front() <= sent) port.in_queue.pop_front();
    if (port.in_queue.size() >= port.config.queue_frames) {
      trace(from, from, frame, "taildrop", sent);
      ++counters_.queue_dropped;
      return {};
    }
    uint64_t start = std::max(sent, port.transmitter_free_at);
    uint64_t bits = (frame.size() + kWireOverheadBytes) * 8;
    uint64_t duration =
        (bits * 1'000'000'000 + port.config.bandwidth_bps - 1) / port.config.bandwidth_bps;
    port.transmitter_free_at = start + duration;
    port.in_queue.push_back(port.transmitter_free_at);
    sent = port.transmitter_free_at;
  }
  bool broadcast = is_broadcast(frame);
  bool found = false;
  for (size_t to = 0; to < ports_.size(); ++to) {
    if (to == from) continue;
    if (broadcast || std::equal(frame.begin(), frame.begin() + 6, ports_[to].mac.begin())) {
      found = true;
      deliver(from, to, frame, sent);
    }
  }
  if (!found) ++counters_.unknown_destination;
  return {};
}

Result<void> SimNetwork::write_offloaded(size_t from, std::span<const uint8_t> frame,
                                         const platform::NetFrameMeta& meta) {
  const platform::NetOffloads offloads = ports_[from].config.offloads;
  const size_t start = meta.csum_start;
  const size_t field = start + meta.csum_offset;
  const bool partial = meta.checksum == platform::NetChecksum::kPartial;
  if ((partial && (!(offloads & platform::kNetOffloadChecksum) || field + 2 > frame.size())) ||
      meta.checksum == platform::NetChecksum::kValid ||
      (meta.gso_size != 0 && (!(offloads & platform::kNetOffloadTso4) || !partial))) {
    ++counters_.bad_offload;
    return Error{Errc::kInvalidArgument, "sim: offload the port does not do"};
  }
  if (!partial) return write(from, frame);
  const size_t transport_length = frame.size() - start;
  if (meta.gso_size == 0 ||
      transport_length <= size_t(meta.header_length - start) + meta.gso_size) {
    std::vector<uint8_t> copy(frame.begin(), frame.end());
    complete_checksum(copy, start, field, uint16_t(transport_length));
    return write(from, copy);
  }
  // TSO as a NIC does it (Linux's tcp4_gso_segment): each wire segment gets a copy of
  // the Ethernet, IPv4 and TCP headers with the IPv4 total length, ID and checksum
  // redone, the sequence number advanced, and FIN and PSH only on the last.
  constexpr size_t kIpAt = kEthernetHeader;
  const size_t headers = meta.header_length;
  if (headers < start + 20 || headers >= frame.size() || start < kIpAt + 20) {
    ++counters_.bad_offload;
    return Error{Errc::kInvalidArgument, "sim: TSO frame with bad header length"};
  }
  const uint32_t sequence = uint32_t(load16(frame, start + 4)) << 16 | load16(frame, start + 6);
  const uint8_t flags = frame[start + 13];
  const uint16_t ip_id = load16(frame, kIpAt + 4);
  const size_t payload = frame.size() - headers;
  uint16_t index = 0;
  for (size_t offset = 0; offset < payload; offset += meta.gso_size, ++index) {
    const size_t n = std::min<size_t>(meta.gso_size, payload - offset);
    std::vector<uint8_t> segment(frame.begin(), frame.begin() + std::ptrdiff_t(headers));
    segment.insert(segment.end(), frame.begin() + std::ptrdiff_t(headers + offset),
                   frame.begin() + std::ptrdiff_t(headers + offset + n));
    store16(segment, kIpAt + 2, uint16_t(segment.size() - kIpAt));
    store16(segment, kIpAt + 4, uint16_t(ip_id + index));
    store16(segment, kIpAt + 10, 0);
    store16(
        segment, kIpAt + 10,
        net::internet_checksum(std::span<const uint8_t>(segment).subspan(kIpAt, start - kIpAt)));
    const uint32_t seq = sequence + uint32_t(offset);
    store16(segment, start + 4, uint16_t(seq >> 16));
    store16(segment, start + 6, uint16_t(seq));
    const bool last = offset + n == payload;
    segment[start + 13] = last ? flags : uint8_t(flags & ~(net::kTcpFin | net::kTcpPsh));
    complete_checksum(segment, start, field, uint16_t(transport_length));
    ++counters_.tso_segments;
    (void)write(from, segment);
  }
  return {};
}

void SimNetwork::deliver(size_t from, size_t to, std::span<const uint8_t> frame, uint64_t sent) {
  const LinkConditions& link = this->link(from, to);
  if (!link.up) {
    trace(from, to, frame, "cut", sent);
    ++counters_.cut;
    return;
  }
  if (chance(link.loss)) {
    trace(from, to, frame, "lost", sent);
    ++counters_.lost;
    return;
  }
  unsigned copies = 1;
  if (chance(link.duplicate)) {
    ++counters_.duplicated;
    copies = 2;
  }
  for (unsigned copy = 0; copy < copies; ++copy) {
    uint64_t at = sent + link.delay_ns;
    if (link.reorder_delay_ns != 0 && chance(link.reorder)) {
      ++counters_.reordered;
      at += 1 + rng_.uniform(link.reorder_delay_ns);
    }
    std::vector<uint8_t> bytes(frame.begin(), frame.end());
    // Corruption is confined to IPv4 packets: a real link's FCS catches any error in a
    // frame, so what reaches a stack corrupted got past it (a bad switch or NIC DMA), and
    // then only the IPv4/ICMP/UDP/TCP checksums stand between it and the application.
    // ARP has no checksum to catch it. One bit, because the Internet checksum detects
    // every single-bit error but not every pair (two opposite flips in the same column
    // cancel), and this link must not produce errors a correct stack cannot see.
    bool ipv4 = bytes.size() > kEthernetHeader && bytes[12] == 0x08 && bytes[13] == 0x00;
    const char* fate = copy == 0 ? "delivered" : "duplicate";
    if (ipv4 && chance(link.corrupt)) {
      ++counters_.corrupted;
      uint64_t bit = rng_.uniform((bytes.size() - kEthernetHeader) * 8);
      bytes[kEthernetHeader + bit / 8] ^= uint8_t(1u << (bit % 8));
      fate = "corrupted";
    }
    trace(from, to, frame, fate, at);
    enqueue(to, std::move(bytes), at);
  }
}

void SimNetwork::enqueue(size_t to, std::vector<uint8_t> frame, uint64_t at) {
  Port& port = ports_[to];
  port.inbox.emplace(std::pair{at, next_order_++}, std::move(frame));
  backend_.ready_at(at, platform::ReadySet{1} << port.id);
}

}  // namespace morgana::sim
