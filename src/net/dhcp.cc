// The DHCPv4 client state machine (RFC 2131 §4.4, figure 5): INIT -> SELECTING ->
// REQUESTING -> BOUND, then RENEWING at T1 and REBINDING at T2, back to INIT on expiry or NAK.
// No DHCPDECLINE: the stack does not ARP-probe the offered address (RFC 2131 §4.4.1 only
// SHOULDs it), so nothing would make us decline. No INIT-REBOOT either: nothing persists.
#include <algorithm>
#include <cstring>

#include "morgana/net/dhcp.h"

namespace morgana::net {

namespace {

// RFC 2132 §9.8 parameter request list: subnet mask, router, DNS, domain name, MTU, lease
// time, server id, T1, T2.
constexpr uint8_t kParameterRequests[] = {1, 3, 6, 15, 26, 51, 54, 58, 59};
constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint32_t kInfinite = 0xffffffff;  // RFC 2131 §3.3

uint64_t saturating_add(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

// An address a server may hand out as ours.
bool usable_address(Ipv4Address address) {
  return !address.is_unspecified() && !address.is_broadcast() && !address.is_multicast() &&
         !address.is_loopback();
}

// A contiguous netmask's prefix length, or empty.
std::optional<uint8_t> prefix_length(Ipv4Address mask) {
  const uint32_t bits = mask.to_u32();
  const uint8_t length = static_cast<uint8_t>(__builtin_popcount(bits));
  if (ipv4_netmask(length) != bits) return std::nullopt;
  return length;
}

}  // namespace

const char* dhcp_state_name(DhcpState state) {
  switch (state) {
    case DhcpState::kInit:
      return "init";
    case DhcpState::kSelecting:
      return "selecting";
    case DhcpState::kRequesting:
      return "requesting";
    case DhcpState::kBound:
      return "bound";
    case DhcpState::kRenewing:
      return "renewing";
    case DhcpState::kRebinding:
      return "rebinding";
  }
  return "?";
}

Result<DhcpClient> DhcpClient::create(const DhcpConfig& config, uint64_t random_seed) {
  if (config.mac.is_zero() || config.mac.is_multicast()) {
    return Error{Errc::kInvalidArgument, "dhcp: the MAC must be a unicast address"};
  }
  if (config.hostname.size() > kMaxHostname) {
    return Error{Errc::kInvalidArgument, "dhcp: hostname over 63 bytes"};
  }
  if (config.initial_retransmit_ns == 0 ||
      config.max_retransmit_ns < config.initial_retransmit_ns || config.max_request_attempts == 0) {
    return Error{Errc::kInvalidArgument, "dhcp: bad retransmission settings"};
  }
  if (config.max_message_size < 576) {  // RFC 2132 §9.10: the minimum legal value
    return Error{Errc::kInvalidArgument, "dhcp: max_message_size under 576"};
  }
  return DhcpClient(config, random_seed);
}

DhcpClient::DhcpClient(const DhcpConfig& config, uint64_t random_seed)
    : config_(config), rng_state_(random_seed) {
  std::memcpy(hostname_.data(), config.hostname.data(), config.hostname.size());
  config_.hostname = std::string_view(hostname_.data(), config.hostname.size());
  client_id_[0] = 1;  // RFC 1700 hardware type: Ethernet
  std::memcpy(client_id_.data() + 1, config.mac.bytes.data(), 6);
  xid_ = new_xid();
}

// SplitMix64 (Steele et al., 2014): xids and jitter only need to differ between clients
// and runs, and keeping a CSPRNG out keeps this file free of the platform.
uint64_t DhcpClient::next_random() {
  uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

uint32_t DhcpClient::new_xid() {
  return static_cast<uint32_t>(next_random() >> 32);
}

void DhcpClient::start(uint64_t now) {
  lease_.reset();
  t1_at_ = t2_at_ = expires_at_ = UINT64_MAX;
  begin_selecting(now);
}

void DhcpClient::begin_selecting(uint64_t now) {
  // RFC 2131 §4.4.1: a new transaction, with a new xid, for each acquisition.
  state_ = DhcpState::kSelecting;
  xid_ = new_xid();
  acquisition_start_ = now;
  attempts_ = 0;
  restart_at_ = UINT64_MAX;
  send_discover(now);
}

uint16_t DhcpClient::elapsed_secs(uint64_t now) const {
  const uint64_t secs = now > acquisition_start_ ? (now - acquisition_start_) / kSecond : 0;
  return static_cast<uint16_t>(std::min<uint64_t>(secs, 0xffff));
}

void DhcpClient::queue(const DhcpRequestFields& fields, Ipv4Address source,
                       Ipv4Address destination) {
  if (outbox_count_ == outbox_.size()) {  // the caller stopped draining: keep the newest
    counters_.drop(DhcpDrop::kOutboxFull);
    outbox_head_ = (outbox_head_ + 1) % outbox_.size();
    --outbox_count_;
  }
  DhcpOutgoing& out = outbox_[(outbox_head_ + outbox_count_) % outbox_.size()];
  out.source = source;
  out.destination = destination;
  out.size = encode_dhcp(fields, out.bytes);
  MORGANA_ASSERT(out.size != 0);  // bounded by the config checks in create()
  ++outbox_count_;
  ++counters_.sent;
}

void DhcpClient::send_discover(uint64_t now) {
  // RFC 2131 §4.4.1 and table 5: no ciaddr, no server id; broadcast flag so the OFFER
  // reaches a client that cannot yet receive unicast.
  DhcpRequestFields fields;
  fields.type = DhcpMessageType::kDiscover;
  fields.xid = xid_;
  fields.secs = elapsed_secs(now);
  fields.broadcast = true;
  fields.mac = config_.mac;
  fields.parameter_requests = kParameterRequests;
  fields.client_id = client_id_;
  fields.hostname = config_.hostname;
  fields.max_message_size = config_.max_message_size;
  queue(fields, Ipv4Address{}, Ipv4Address::broadcast());
  ++attempts_;
  schedule_retransmit(now);
}

void DhcpClient::send_request(uint64_t now) {
  DhcpRequestFields fields;
  fields.type = DhcpMessageType::kRequest;
  fields.xid = xid_;
  fields.secs = elapsed_secs(now);
  fields.mac = config_.mac;
  fields.parameter_requests = kParameterRequests;
  fields.client_id = client_id_;
  fields.hostname = config_.hostname;
  fields.max_message_size = config_.max_message_size;
  if (attempts_ == 0) request_sent_at_ = now;
  ++attempts_;
  if (state_ == DhcpState::kRequesting) {
    // RFC 2131 §4.3.2 / table 5, SELECTING: server id and requested address MUST be
    // present, ciaddr MUST be 0; broadcast, since the server has not committed yet.
    fields.broadcast = true;
    fields.server_id = selected_server_;
    fields.requested_address = offered_address_;
    queue(fields, Ipv4Address{}, Ipv4Address::broadcast());
    schedule_retransmit(now);
    return;
  }
  // RENEWING (unicast to the server) and REBINDING (broadcast): ciaddr is ours, and
  // server id and requested address MUST NOT be sent (RFC 2131 §4.3.2).
  MORGANA_ASSERT(lease_.has_value());
  fields.ciaddr = lease_->address.address;
  if (state_ == DhcpState::kRenewing) {
    queue(fields, lease_->address.address, lease_->server);
    schedule_renew_retransmit(now, t2_at_);
  } else {
    queue(fields, lease_->address.address, Ipv4Address::broadcast());
    schedule_renew_retransmit(now, expires_at_);
  }
}

void DhcpClient::schedule_retransmit(uint64_t now) {
  // RFC 2131 §4.1: 4 s before the first retransmission, doubling each time up to 64 s,
  // randomized by a uniform ±1 s so that clients started together spread out.
  uint64_t interval = config_.initial_retransmit_ns;
  for (unsigned i = 1; i < attempts_ && interval < config_.max_retransmit_ns; ++i) interval *= 2;
  interval = std::min(interval, config_.max_retransmit_ns);
  const uint64_t jitter = std::min(config_.retransmit_jitter_ns, interval / 2);
  const uint64_t offset = jitter == 0 ? 0 : next_random() % (2 * jitter + 1);
  retransmit_at_ = saturating_add(now, interval - jitter + offset);
}

void DhcpClient::schedule_renew_retransmit(uint64_t now, uint64_t until) {
  // RFC 2131 §4.4.5: wait half the time remaining until T2 (RENEWING) or until expiry
  // (REBINDING), but at least 60 s; the state change at `until` comes first anyway.
  const uint64_t remaining = until > now ? until - now : 0;
  retransmit_at_ = saturating_add(now, std::max(remaining / 2, config_.min_renew_retransmit_ns));
}

void DhcpClient::enter_renewing(uint64_t now) {
  // RFC 2131 §4.4.5: a new transaction with the server that granted the lease.
  state_ = DhcpState::kRenewing;
  xid_ = new_xid();
  acquisition_start_ = now;
  attempts_ = 0;
  send_request(now);
}

void DhcpClient::enter_rebinding(uint64_t now) {
  // RFC 2131 §4.4.5: the server did not answer by T2; ask any server, by broadcast.
  state_ = DhcpState::kRebinding;
  xid_ = new_xid();
  attempts_ = 0;
  send_request(now);
}

void DhcpClient::lose_lease(uint64_t now) {
  // RFC 2131 §4.4.5: at expiry the client MUST stop using the address and go to INIT.
  if (lease_) events_ |= kLost;
  lease_.reset();
  t1_at_ = t2_at_ = expires_at_ = UINT64_MAX;
  state_ = DhcpState::kInit;
  retransmit_at_ = UINT64_MAX;
  restart_at_ = now;
}

void DhcpClient::tick(uint64_t now) {
  switch (state_) {
    case DhcpState::kInit:
      if (now >= restart_at_) begin_selecting(now);
      break;
    case DhcpState::kSelecting:
      if (now >= retransmit_at_) send_discover(now);
      break;
    case DhcpState::kRequesting:
      if (now < retransmit_at_) break;
      if (attempts_ >= config_.max_request_attempts) {
        begin_selecting(now);  // RFC 2131 §3.1 step 5: neither ACK nor NAK
      } else {
        send_request(now);
      }
      break;
    case DhcpState::kBound:
    case DhcpState::kRenewing:
    case DhcpState::kRebinding:
      // Checked from the latest deadline down, so a tick that comes late still lands in
      // the right state.
      if (now >= expires_at_) {
        lose_lease(now);
        begin_selecting(now);
      } else if (now >= t2_at_ && state_ != DhcpState::kRebinding) {
        enter_rebinding(now);
      } else if (now >= t1_at_ && state_ == DhcpState::kBound) {
        enter_renewing(now);
      } else if (state_ != DhcpState::kBound && now >= retransmit_at_) {
        send_request(now);
      }
      break;
  }
}

uint64_t DhcpClient::next_deadline() const {
  switch (state_) {
    case DhcpState::kInit:
      return restart_at_;
    case DhcpState::kSelecting:
    case DhcpState::kRequesting:
      return retransmit_at_;
    case DhcpState::kBound:
      return std::min(t1_at_, expires_at_);
    case DhcpState::kRenewing:
      return std::min({retransmit_at_, t2_at_, expires_at_});
    case DhcpState::kRebinding:
      return std::min(retransmit_at_, expires_at_);
  }
  return UINT64_MAX;
}

void DhcpClient::receive(std::span<const uint8_t> bootp_payload, uint64_t now) {
  ++counters_.received;
  auto message = counters_.accept(parse_dhcp(bootp_payload));
  if (!message) return;
  if (message->op != BootpOp::kReply) return counters_.drop(DhcpDrop::kBadOp);
  // RFC 2131 §4.4.1: replies are matched by xid, and by chaddr since many are broadcast.
  if (message->xid != xid_) return counters_.drop(DhcpDrop::kWrongXid);
  if (message->chaddr != config_.mac) return counters_.drop(DhcpDrop::kWrongChaddr);

  switch (message->type) {
    case DhcpMessageType::kOffer:
      if (state_ != DhcpState::kSelecting) return counters_.drop(DhcpDrop::kUnexpectedType);
      return handle_offer(*message, now);
    case DhcpMessageType::kAck:
    case DhcpMessageType::kNak:
      if (state_ != DhcpState::kRequesting && state_ != DhcpState::kRenewing &&
          state_ != DhcpState::kRebinding) {
        return counters_.drop(DhcpDrop::kUnexpectedType);
      }
      // In REQUESTING only the server we chose answers (RFC 2131 §4.3.2: others take our
      // REQUEST as a decline of their offer).
      if (state_ == DhcpState::kRequesting && message->server_id &&
          *message->server_id != selected_server_) {
        return counters_.drop(DhcpDrop::kWrongServer);
      }
      if (message->type == DhcpMessageType::kAck) return handle_ack(*message);
      return handle_nak(now);
    default:
      return counters_.drop(DhcpDrop::kUnexpectedType);
  }
}

void DhcpClient::handle_offer(const DhcpMessage& message, uint64_t now) {
  // RFC 2131 table 3: an OFFER MUST carry the server identifier; we need it to REQUEST.
  if (!message.server_id) return counters_.drop(DhcpDrop::kMissingOption);
  if (!usable_address(message.yiaddr)) return counters_.drop(DhcpDrop::kBadAddress);
  ++counters_.delivered;
  // RFC 2131 §4.4.1: the client may wait for several offers; we take the first, which is
  // what a unikernel that wants to come up quickly needs.
  offered_address_ = message.yiaddr;
  selected_server_ = *message.server_id;
  state_ = DhcpState::kRequesting;
  attempts_ = 0;
  // The xid stays that of the DISCOVER: this REQUEST belongs to the same transaction
  // (RFC 2131 §4.4.1), and secs keeps counting from its start.
  send_request(now);
}

void DhcpClient::handle_ack(const DhcpMessage& message) {
  // RFC 2131 §4.3.1: an ACK to a REQUEST MUST carry the lease time.
  if (!message.lease_seconds) return counters_.drop(DhcpDrop::kMissingOption);
  if (!usable_address(message.yiaddr)) return counters_.drop(DhcpDrop::kBadAddress);
  ++counters_.delivered;

  DhcpLease lease;
  std::optional<uint8_t> length;
  if (message.subnet_mask) length = prefix_length(*message.subnet_mask);
  lease.address = {message.yiaddr, length.value_or(24)};
  if (message.router && usable_address(*message.router)) lease.gateway = message.router;
  if (message.server_id) {
    lease.server = *message.server_id;
  } else if (lease_) {
    lease.server = lease_->server;  // a renewal ACK without one: the same server
  } else {
    lease.server = selected_server_;
  }
  lease.dns = message.dns;
  lease.dns_count = message.dns_count;
  lease.mtu = message.mtu && *message.mtu >= 68 ? *message.mtu : 0;
  lease.lease_seconds = *message.lease_seconds;
  // RFC 2131 §4.4.5: T1 defaults to half the lease, T2 to 0.875 of it; inconsistent
  // values from the server (T1 > T2 or T2 > lease) are replaced by those defaults.
  const uint64_t seconds = lease.lease_seconds;
  uint64_t t1 = message.renewal_seconds.value_or(seconds / 2);
  uint64_t t2 = message.rebinding_seconds.value_or(seconds * 7 / 8);
  if (t2 > seconds) t2 = seconds * 7 / 8;
  if (t1 > t2) t1 = std::min<uint64_t>(seconds / 2, t2);
  lease.renew_seconds = static_cast<uint32_t>(t1);
  lease.rebind_seconds = static_cast<uint32_t>(t2);

  // RFC 2131 §4.4.1: times count from when the REQUEST was first sent, so a slow ACK
  // does not stretch the lease past what the server granted.
  if (lease.lease_seconds == kInfinite) {
    t1_at_ = t2_at_ = expires_at_ = UINT64_MAX;
  } else {
    t1_at_ = saturating_add(request_sent_at_, t1 * kSecond);
    t2_at_ = saturating_add(request_sent_at_, t2 * kSecond);
    expires_at_ = saturating_add(request_sent_at_, seconds * kSecond);
  }
  const bool same = lease_ && lease_->address == lease.address && lease_->gateway == lease.gateway;
  events_ |= same ? kRenewed : kBound;
  lease_ = lease;
  state_ = DhcpState::kBound;
  retransmit_at_ = UINT64_MAX;
  attempts_ = 0;
  // A lease already past T1 or expiry when it arrives (a tiny lease, a late ACK) moves
  // on at the next tick: next_deadline() is then already due.
}

void DhcpClient::handle_nak(uint64_t now) {
  ++counters_.delivered;
  // RFC 2131 §4.4.1 and §4.4.5: on a NAK the client stops using any lease and restarts
  // in INIT; we wait restart_delay_ns first so a misconfigured server cannot make us loop.
  lose_lease(now);
  restart_at_ = saturating_add(now, config_.restart_delay_ns);
}

std::optional<DhcpOutgoing> DhcpClient::pop_outgoing() {
  if (outbox_count_ == 0) return std::nullopt;
  DhcpOutgoing out = outbox_[outbox_head_];
  outbox_head_ = (outbox_head_ + 1) % outbox_.size();
  --outbox_count_;
  return out;
}

uint32_t DhcpClient::take_events() {
  const uint32_t events = events_;
  events_ = 0;
  return events;
}

}  // namespace morgana::net
