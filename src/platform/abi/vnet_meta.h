// Between abi::VirtioNetHeader (what a tap with IFF_VNET_HDR and the hvt ring slots
// carry) and platform::NetFrameMeta (what the stack sees): the guest-side half of the
// offload path, shared by the unix target (a tap) and the hvt target (its rings).
#pragma once

#include <cstddef>

#include "morgana/platform/platform.h"
#include "platform/abi/hvt_abi.h"

namespace morgana::platform {

// The header to put in front of a frame we send with `meta`.
inline abi::VirtioNetHeader to_vnet_header(const NetFrameMeta& meta) {
  abi::VirtioNetHeader header{};
  if (meta.checksum == NetChecksum::kPartial) {
    header.flags = abi::kVirtioNetNeedsCsum;
    header.csum_start = meta.csum_start;
    header.csum_offset = meta.csum_offset;
  }
  if (meta.gso_size != 0) {
    header.gso_type = abi::kVirtioNetGsoTcpv4;
    header.gso_size = meta.gso_size;
    header.hdr_len = meta.header_length;
  }
  return header;
}

// What a received header says of a frame of `length` bytes; false for a header that
// does not fit the frame or a kind of frame we never ask for (only TCP/IPv4
// segmentation is ever enabled, so another gso_type is the host's mistake).
inline bool from_vnet_header(const abi::VirtioNetHeader& header, size_t length,
                             NetFrameMeta& meta) {
  meta = {};
  if (header.flags & abi::kVirtioNetNeedsCsum) {
    if (size_t{header.csum_start} + header.csum_offset + 2 > length) return false;
    meta.checksum = NetChecksum::kPartial;
    meta.csum_start = header.csum_start;
    meta.csum_offset = header.csum_offset;
  } else if (header.flags & abi::kVirtioNetDataValid) {
    meta.checksum = NetChecksum::kValid;
  }
  // The ECN bit only says the sender used CWR; the segment itself is whole.
  switch (header.gso_type & ~abi::kVirtioNetGsoEcn) {
    case abi::kVirtioNetGsoNone:
      return true;
    case abi::kVirtioNetGsoTcpv4:
      if (header.gso_size == 0) return false;
      meta.gso_size = header.gso_size;
      meta.header_length = header.hdr_len;
      return true;
    default:
      return false;
  }
}

}  // namespace morgana::platform
