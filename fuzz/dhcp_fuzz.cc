// Fuzzes the DHCPv4 codec and client (src/net/dhcp*.cc). First byte 0: the rest is one
// BOOTP payload for parse_dhcp, and what parses must survive a re-encode. Otherwise: a
// client is started and fed a sequence of records, each a control byte (bits 0-2: advance
// virtual time by 0, 1, 4, 30, 60, 120, 600 or 3600 s and tick; bit 3: aim the message at
// the client by writing its xid and MAC over the fuzzed ones), a length byte, and that
// many bytes of payload, laid over networkd's ACK so the fields past the fuzzed prefix
// are plausible. Invariants are checked after every step.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "morgana/net/dhcp.h"

namespace {

using namespace morgana::net;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

// systemd-networkd's ACK (tests/unit/net/data/dhcp.h, kDhcp3) from the options on; the
// fixed fields are built below.
constexpr uint8_t kAckOptions[] = {0x63, 0x82, 0x53, 0x63, 0x35, 0x01, 0x05, 0x33, 0x04, 0x00, 0x00,
                                   0x00, 0x78, 0x01, 0x04, 0xff, 0xff, 0xff, 0x00, 0x03, 0x04, 0x0a,
                                   0x4d, 0x00, 0x01, 0x06, 0x08, 0x0a, 0x4d, 0x00, 0x01, 0x0a, 0x4d,
                                   0x00, 0x35, 0x36, 0x04, 0x0a, 0x4d, 0x00, 0x01, 0xff};
constexpr uint64_t kSteps[] = {0, 1, 4, 30, 60, 120, 600, 3600};
constexpr MacAddress kMac = {{0x02, 0x00, 0x00, 0x77, 0x00, 0x02}};

void check_outgoing(DhcpClient& client) {
  while (auto out = client.pop_outgoing()) {
    auto parsed = parse_dhcp(out->payload());
    check(parsed.ok());
    check(parsed->op == BootpOp::kRequest && parsed->xid == client.xid() && parsed->chaddr == kMac);
    check(out->size >= kBootpMinimumSize && out->size <= out->bytes.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] == 0) {
    auto parsed = parse_dhcp({data + 1, size - 1});
    if (!parsed) return 0;
    check(parsed->dns_count <= parsed->dns.size());
    for (auto span : {parsed->parameter_requests, parsed->client_id, parsed->hostname}) {
      check(span.empty() || (span.data() >= data + 1 && span.data() + span.size() <= data + size));
    }
    DhcpRequestFields fields;
    fields.type = parsed->type;
    fields.xid = parsed->xid;
    fields.mac = parsed->chaddr;
    fields.server_id = parsed->server_id;
    fields.requested_address = parsed->requested_address;
    fields.parameter_requests = parsed->parameter_requests;
    fields.client_id =
        parsed->client_id.size() >= 2 ? parsed->client_id : std::span<const uint8_t>{};
    uint8_t out[1024];
    size_t n = encode_dhcp(fields, out);
    check(n != 0);
    auto again = parse_dhcp({out, n});
    check(again.ok() && again->type == parsed->type && again->xid == parsed->xid &&
          again->server_id == parsed->server_id);
    return 0;
  }

  DhcpConfig config;
  config.mac = kMac;
  config.hostname = "fuzz";
  auto created = DhcpClient::create(config, data[0]);
  check(created.ok());
  DhcpClient client = std::move(created).value();
  uint64_t now = 1'000'000'000;
  client.start(now);
  check_outgoing(client);
  for (size_t at = 1; at + 2 <= size;) {
    const uint8_t control = data[at], length = data[at + 1];
    at += 2;
    const size_t take = std::min<size_t>(length, size - at);
    now += kSteps[control & 7] * 1'000'000'000;
    client.tick(now);
    check_outgoing(client);

    uint8_t message[600] = {};
    message[0] = 2, message[1] = 1, message[2] = 6;
    std::memcpy(message + 16, "\x0a\x4d\x00\x72", 4);  // yiaddr 10.77.0.114
    std::memcpy(message + 28, kMac.bytes.data(), 6);
    std::memcpy(message + 236, kAckOptions, sizeof(kAckOptions));
    size_t message_size = 236 + sizeof(kAckOptions);
    if (control & 16) {  // the fuzzed bytes are the whole options area
      std::memcpy(message + 240, data + at, take);
      message_size = 240 + take;
    } else {  // the fuzzed bytes overlay the start of the message
      std::memcpy(message, data + at, take);
      message_size = std::max(message_size, take);
    }
    at += take;
    if (control & 8) {
      const uint32_t xid = client.xid();
      for (int i = 0; i < 4; ++i) message[4 + i] = uint8_t(xid >> (24 - 8 * i));
      std::memcpy(message + 28, kMac.bytes.data(), 6);
    }
    client.receive({message, message_size}, now);
    check_outgoing(client);
    client.take_events();

    const DhcpState state = client.state();
    const bool has_lease = client.lease().has_value();
    check(has_lease == (state == DhcpState::kBound || state == DhcpState::kRenewing ||
                        state == DhcpState::kRebinding));
    if (has_lease) {
      const DhcpLease& lease = *client.lease();
      check(lease.address.length <= 32 && !lease.address.address.is_unspecified());
      check(lease.renew_seconds <= lease.rebind_seconds &&
            lease.rebind_seconds <= lease.lease_seconds);
      check(lease.dns_count <= lease.dns.size());
      check(client.renew_at() <= client.rebind_at() && client.rebind_at() <= client.expires_at());
    }
    check(client.next_deadline() != UINT64_MAX || state == DhcpState::kBound);
  }
  return 0;
}
