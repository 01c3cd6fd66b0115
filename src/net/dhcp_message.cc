// The DHCPv4 message codec (RFC 2131 §2, RFC 2132): parse_dhcp reads the fixed BOOTP
// fields and walks the options through a Cursor; encode_dhcp writes a client's message.
#include <cstddef>
#include <cstring>

#include "morgana/net/cursor.h"
#include "morgana/net/dhcp.h"

namespace morgana::net {

const char* drop_reason_name(DhcpDrop reason) {
  switch (reason) {
    case DhcpDrop::kTruncated:
      return "truncated";
    case DhcpDrop::kBadOp:
      return "bad_op";
    case DhcpDrop::kBadHardware:
      return "bad_hardware";
    case DhcpDrop::kBadMagic:
      return "bad_magic";
    case DhcpDrop::kBadOption:
      return "bad_option";
    case DhcpDrop::kBadOverload:
      return "bad_overload";
    case DhcpDrop::kMissingOption:
      return "missing_option";
    case DhcpDrop::kWrongXid:
      return "wrong_xid";
    case DhcpDrop::kWrongChaddr:
      return "wrong_chaddr";
    case DhcpDrop::kWrongServer:
      return "wrong_server";
    case DhcpDrop::kBadAddress:
      return "bad_address";
    case DhcpDrop::kUnexpectedType:
      return "unexpected_type";
    case DhcpDrop::kOutboxFull:
      return "outbox_full";
    case DhcpDrop::kCount:
      break;
  }
  return "?";
}

namespace {

// Where an option list sits. RFC 2131 §4.1: option 52 MUST be in the options field.
enum class Area : uint8_t { kOptions, kFile, kSname };

Ipv4Address address_at(std::span<const uint8_t> data, size_t offset) {
  return {{data[offset], data[offset + 1], data[offset + 2], data[offset + 3]}};
}
uint32_t u32_of(std::span<const uint8_t> data) {
  return address_at(data, 0).to_u32();
}
uint16_t u16_of(std::span<const uint8_t> data) {
  return static_cast<uint16_t>(data[0] << 8 | data[1]);
}

// Records one option. Fixed-size options must have their exact size: a server that gets
// those wrong cannot be trusted with the rest.
std::optional<DhcpDrop> apply_option(uint8_t code, std::span<const uint8_t> data, Area area,
                                     DhcpMessage& message) {
  auto fixed = [&](size_t size) { return data.size() == size; };
  switch (static_cast<DhcpOption>(code)) {
    case DhcpOption::kSubnetMask:
      if (!fixed(4)) return DhcpDrop::kBadOption;
      if (!message.subnet_mask) message.subnet_mask = address_at(data, 0);
      break;
    case DhcpOption::kRouter:  // RFC 2132 §3.5: a list of addresses, at least one
      if (data.empty() || data.size() % 4 != 0) return DhcpDrop::kBadOption;
      if (!message.router) message.router = address_at(data, 0);
      break;
    case DhcpOption::kDnsServer:  // RFC 2132 §3.8
      if (data.empty() || data.size() % 4 != 0) return DhcpDrop::kBadOption;
      for (size_t i = 0; i < data.size() && message.dns_count < message.dns.size(); i += 4) {
        message.dns[message.dns_count++] = address_at(data, i);
      }
      break;
    case DhcpOption::kHostName:
      if (message.hostname.empty()) message.hostname = data;
      break;
    case DhcpOption::kInterfaceMtu:
      if (!fixed(2)) return DhcpDrop::kBadOption;
      if (!message.mtu) message.mtu = u16_of(data);
      break;
    case DhcpOption::kRequestedAddress:
      if (!fixed(4)) return DhcpDrop::kBadOption;
      if (!message.requested_address) message.requested_address = address_at(data, 0);
      break;
    case DhcpOption::kLeaseTime:
      if (!fixed(4)) return DhcpDrop::kBadOption;
      if (!message.lease_seconds) message.lease_seconds = u32_of(data);
      break;
    case DhcpOption::kOverload:  // RFC 2132 §9.3
      if (area != Area::kOptions || !fixed(1) || data[0] < 1 || data[0] > 3) {
        return DhcpDrop::kBadOverload;
      }
      if (message.overload == 0) message.overload = data[0];
      break;
    case DhcpOption::kMessageType:  // RFC 2132 §9.6; unknown types are left to the caller
      if (!fixed(1) || data[0] == 0) return DhcpDrop::kBadOption;
      if (message.type == DhcpMessageType::kNone) {
        message.type = static_cast<DhcpMessageType>(data[0]);
      }
      break;
    case DhcpOption::kServerIdentifier:
      if (!fixed(4)) return DhcpDrop::kBadOption;
      if (!message.server_id) message.server_id = address_at(data, 0);
      break;
    case DhcpOption::kParameterRequestList:
      if (message.parameter_requests.empty()) message.parameter_requests = data;
      break;
    case DhcpOption::kMessage:
      if (message.message.empty()) message.message = data;
      break;
    case DhcpOption::kMaxMessageSize:
      if (!fixed(2)) return DhcpDrop::kBadOption;
      if (!message.max_message_size) message.max_message_size = u16_of(data);
      break;
    case DhcpOption::kRenewalTime:
      if (!fixed(4)) return DhcpDrop::kBadOption;
      if (!message.renewal_seconds) message.renewal_seconds = u32_of(data);
      break;
    case DhcpOption::kRebindingTime:
      if (!fixed(4)) return DhcpDrop::kBadOption;
      if (!message.rebinding_seconds) message.rebinding_seconds = u32_of(data);
      break;
    case DhcpOption::kClientIdentifier:  // RFC 2132 §9.14: type and at least one byte
      if (data.size() < 2) return DhcpDrop::kBadOption;
      if (message.client_id.empty()) message.client_id = data;
      break;
    default:
      break;  // RFC 2132 §2: options we do not know are skipped by their length
  }
  return std::nullopt;
}

// RFC 2132 §2: pad (0) and end (255) are single bytes; every other option is code,
// length, data. An area may end without END (some servers fill it exactly).
std::optional<DhcpDrop> walk_options(std::span<const uint8_t> bytes, Area area,
                                     DhcpMessage& message) {
  Cursor cursor(bytes);
  while (auto code = cursor.read_u8()) {
    if (*code == uint8_t(DhcpOption::kPad)) continue;
    if (*code == uint8_t(DhcpOption::kEnd)) break;
    auto length = cursor.read_u8();
    if (!length) return DhcpDrop::kBadOption;
    auto data = cursor.read_bytes(*length);
    if (!data) return DhcpDrop::kBadOption;
    if (auto drop = apply_option(*code, *data, area, message)) return drop;
  }
  return std::nullopt;
}

}  // namespace

Parsed<DhcpMessage, DhcpDrop> parse_dhcp(std::span<const uint8_t> payload) {
  Cursor cursor(payload);
  auto header = cursor.read<BootpHeader>();
  if (!header) return DhcpDrop::kTruncated;
  if (header->op != uint8_t(BootpOp::kRequest) && header->op != uint8_t(BootpOp::kReply)) {
    return DhcpDrop::kBadOp;
  }
  if (header->htype != 1 || header->hlen != 6) return DhcpDrop::kBadHardware;
  if (header->magic.value() != kDhcpMagicCookie) return DhcpDrop::kBadMagic;

  DhcpMessage message;
  message.op = static_cast<BootpOp>(header->op);
  message.xid = header->xid.value();
  message.secs = header->secs.value();
  message.flags = header->flags.value();
  message.ciaddr = header->ciaddr;
  message.yiaddr = header->yiaddr;
  message.siaddr = header->siaddr;
  message.giaddr = header->giaddr;
  std::memcpy(message.chaddr.bytes.data(), header->chaddr.data(), 6);

  if (auto drop = walk_options(cursor.rest(), Area::kOptions, message)) return *drop;
  // RFC 2131 §4.1 and RFC 3396 §5: with overload, the file field holds options next, then
  // sname. The spans must come from the payload, not from the copied header.
  if (message.overload & 1) {
    if (auto drop =
            walk_options(payload.subspan(offsetof(BootpHeader, file), 128), Area::kFile, message)) {
      return *drop;
    }
  }
  if (message.overload & 2) {
    if (auto drop = walk_options(payload.subspan(offsetof(BootpHeader, sname), 64), Area::kSname,
                                 message)) {
      return *drop;
    }
  }
  if (message.type == DhcpMessageType::kNone) return DhcpDrop::kMissingOption;
  return message;
}

size_t encode_dhcp(const DhcpRequestFields& fields, std::span<uint8_t> out) {
  BootpHeader header{};
  header.op = uint8_t(BootpOp::kRequest);
  header.htype = 1;
  header.hlen = 6;
  header.xid.set(fields.xid);
  header.secs.set(fields.secs);
  header.flags.set(fields.broadcast ? kBootpBroadcastFlag : 0);
  header.ciaddr = fields.ciaddr;
  std::memcpy(header.chaddr.data(), fields.mac.bytes.data(), 6);
  header.magic.set(kDhcpMagicCookie);

  Writer writer(out);
  bool ok = writer.write(header);
  auto option = [&](DhcpOption code, std::span<const uint8_t> data) {
    ok = ok && data.size() <= 255 && writer.write_u8(uint8_t(code)) &&
         writer.write_u8(static_cast<uint8_t>(data.size())) && writer.write_bytes(data);
  };
  auto address = [&](DhcpOption code, Ipv4Address value) { option(code, value.bytes); };

  const uint8_t type = uint8_t(fields.type);
  option(DhcpOption::kMessageType, {&type, 1});
  if (!fields.client_id.empty()) option(DhcpOption::kClientIdentifier, fields.client_id);
  if (fields.requested_address) address(DhcpOption::kRequestedAddress, *fields.requested_address);
  if (fields.server_id) address(DhcpOption::kServerIdentifier, *fields.server_id);
  if (!fields.parameter_requests.empty()) {
    option(DhcpOption::kParameterRequestList, fields.parameter_requests);
  }
  if (fields.max_message_size != 0) {
    const uint8_t size[2] = {uint8_t(fields.max_message_size >> 8),
                             uint8_t(fields.max_message_size)};
    option(DhcpOption::kMaxMessageSize, size);
  }
  if (!fields.hostname.empty()) {
    option(DhcpOption::kHostName,
           {reinterpret_cast<const uint8_t*>(fields.hostname.data()), fields.hostname.size()});
  }
  ok = ok && writer.write_u8(uint8_t(DhcpOption::kEnd));
  // RFC 1542 §2.1: pad with zeros (the pad option) to the BOOTP minimum of 300 bytes.
  while (ok && writer.written() < kBootpMinimumSize) ok = writer.write_u8(0);
  return ok ? writer.written() : 0;
}

}  // namespace morgana::net
