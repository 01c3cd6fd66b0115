// Fuzzes IPv4 reassembly with sequences of fragments. Each 5-byte record is one
// fragment: control byte (bit 0 MF, bits 1-2 which of 4 datagrams, bit 3 advance time by
// 10 s first, bit 4 change its bytes, bit 5 a non-multiple-of-8 length), 2 bytes of
// offset (13 bits, in 8-byte units), 2 bytes of length (masked to 0-2047). Data bytes
// follow a pattern of the absolute offset, so fragments that overlap agree unless bit 4
// says otherwise. Whatever completes must be consistent with what was sent, and the
// memory and slot bounds must hold after every step.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "morgana/net/ipv4_reassembly.h"

namespace {

using namespace morgana::net;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

uint8_t pattern(size_t offset) {
  return uint8_t(offset * 7 + (offset >> 8));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ReassemblyConfig config{4, 24 * 1024, 16, 30'000'000'000};
  auto reassembler = std::move(Ipv4Reassembler::create(config)).value();
  Ipv4Counters counters;
  uint64_t now = 0;
  const Ipv4Address source = {{10, 77, 0, 2}}, destination = {{10, 77, 0, 1}};
  for (size_t at = 0; at + 5 <= size && at < 5 * 256; at += 5) {
    const uint8_t control = data[at];
    const size_t offset = size_t((data[at + 1] << 8 | data[at + 2]) & 0x1fff) * 8;
    size_t length = size_t(data[at + 3] << 8 | data[at + 4]) & 0x7ff;
    length = control & 0x20 ? length : length & ~size_t{7};
    if (control & 0x08) now += 10'000'000'000;
    const bool more = control & 1;
    const uint8_t salt = control & 0x10 ? 1 : 0;

    std::vector<uint8_t> packet(20 + length);
    for (size_t i = 0; i < length; ++i) packet[20 + i] = uint8_t(pattern(offset + i) + salt);
    if (offset + length > 65535 - 20) continue;  // not expressible in one IPv4 packet
    Ipv4SendParams params{source, destination, IpProtocol::kUdp, uint16_t((control >> 1) & 3)};
    const uint16_t flags = uint16_t((more ? kIpv4FlagMoreFragments : 0) | (offset / 8));
    encode_ipv4_header(params, uint16_t(length), flags, std::span(packet).first<20>());
    auto fragment = parse_ipv4(packet);
    check(fragment.ok());
    if (!fragment->is_fragment()) continue;

    auto done = reassembler.add(*fragment, now, counters);
    check(reassembler.bytes_in_use() <= config.max_bytes);
    check(reassembler.datagrams_in_progress() <= config.max_datagrams);
    if (!done) continue;
    check(done->reassembled && !done->is_fragment());
    check(done->payload.size() + done->header.size() <= 65535);
    // Every byte is one that some fragment carried for that offset.
    for (size_t i = 0; i < done->payload.size(); ++i) {
      const uint8_t b = done->payload[i];
      check(b == pattern(i) || b == uint8_t(pattern(i) + 1));
    }
    std::vector<uint8_t> whole(done->header.begin(), done->header.end());
    whole.insert(whole.end(), done->payload.begin(), done->payload.end());
    check(parse_ipv4(whole).ok());
  }
  reassembler.expire(now + config.timeout_ns, counters);
  check(reassembler.datagrams_in_progress() == 0);
  return 0;
}
