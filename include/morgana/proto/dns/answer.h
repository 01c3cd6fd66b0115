// Authoritative answers as a pure function, query in and response bytes out, so the
// server loop (UDP and TCP, once the stack exists) only moves bytes. Follows RFC 1034
// §4.3.2, RFC 2308 (negative answers), RFC 4592 (wildcards), RFC 6604 (CNAME chains),
// RFC 8482 (ANY) and RFC 6891 (EDNS), shaped like NSD's answers for the same zone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "morgana/proto/dns/message.h"
#include "morgana/proto/dns/zone.h"

namespace morgana::dns {

enum class Transport : uint8_t { kUdp, kTcp };

// The size this server offers and advertises in its OPT record (RFC 6891 §6.2.5, and the
// 1232 bytes DNS Flag Day 2020 settled on, as NSD does).
inline constexpr size_t kDefaultUdpLimit = 1232;

// The response to a decoded query, or no bytes when it must not be answered (it is itself
// a response). Over UDP it is cut to the client's EDNS size, or 512 without EDNS, but
// never above `udp_limit`, and marked TC when an RRset had to be left out.
std::vector<uint8_t> answer(const Zones& zones, const Message& query, Transport transport,
                            size_t udp_limit = kDefaultUdpLimit);

// The same for raw query bytes: a query that does not decode gets FORMERR (RFC 1035
// §4.1.1) when at least its header arrived and it is not a response; otherwise no bytes.
std::vector<uint8_t> answer(const Zones& zones, std::span<const uint8_t> query, Transport transport,
                            size_t udp_limit = kDefaultUdpLimit);

}  // namespace morgana::dns
