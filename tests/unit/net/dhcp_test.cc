// DHCPv4: systemd-networkd's real OFFER/ACK parse to what tcpdump printed; our DISCOVER and
// REQUEST carry the required options; the client state machine runs on networkd's replies
// in virtual time; malformed and misdirected messages are dropped with their reasons.
#include "morgana/net/dhcp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "data/dhcp.h"
#include "test_util.h"

namespace morgana::net {
namespace {

using test::Bytes;
using test::bytes_of;
using test::ip;

constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint32_t kCapturedXid = 0xf88ea6ad;
constexpr size_t kOptionsOffset = 240;

// The BOOTP payload of a captured frame (Ethernet 14 + IPv4 20 + UDP 8).
std::span<const uint8_t> bootp(std::span<const uint8_t> frame) {
  return frame.subspan(42);
}

// networkd's replies to its own client, in capture order: #1 OFFER, #3 ACK, #5 the
// renewal's ACK. #6 is that client's RELEASE; #7-#10 are our client's exchange.
Bytes offer() {
  return bytes_of(bootp(testdata::kDhcp1));
}
Bytes ack() {
  return bytes_of(bootp(testdata::kDhcp3));
}

void set_xid(Bytes& message, uint32_t xid) {
  for (int i = 0; i < 4; ++i) message[4 + i] = uint8_t(xid >> (24 - 8 * i));
}
Bytes for_client(Bytes message, uint32_t xid) {
  set_xid(message, xid);
  return message;
}

// Inserts raw option bytes before the END option of the options field.
Bytes with_options(Bytes message, const Bytes& options) {
  size_t i = kOptionsOffset;
  while (message[i] != 0xff) i += message[i] == 0 ? 1 : 2 + message[i + 1];
  message.insert(message.begin() + static_cast<long>(i), options.begin(), options.end());
  return message;
}

// The message type of a captured message is its first option (53, 1, type).
Bytes with_type(Bytes message, DhcpMessageType type) {
  EXPECT_EQ(message[kOptionsOffset], 53);
  message[kOptionsOffset + 2] = uint8_t(type);
  return message;
}

DhcpDrop reason_of(const Bytes& payload) {
  auto parsed = parse_dhcp(payload);
  EXPECT_FALSE(parsed);
  return parsed ? DhcpDrop::kCount : parsed.reason();
}

DhcpConfig config() {
  DhcpConfig config;
  config.mac = test::kMacB;  // the captured client's MAC, so networkd's replies are ours
  config.hostname = "morgana";
  return config;
}

DhcpClient make_client(uint64_t seed = 42) {
  auto client = DhcpClient::create(config(), seed);
  EXPECT_TRUE(client.ok());
  return std::move(client).value();
}

// The next message the client sends, parsed. Its spans point into the sent bytes, which
// are kept for the whole test run.
DhcpMessage pop_parsed(DhcpClient& client, DhcpOutgoing* raw = nullptr) {
  static std::deque<DhcpOutgoing> sent;
  auto out = client.pop_outgoing();
  EXPECT_TRUE(out.has_value());
  if (!out) return {};
  if (raw) *raw = *out;
  sent.push_back(*out);
  auto parsed = parse_dhcp(sent.back().payload());
  EXPECT_TRUE(parsed) << drop_reason_name(parsed ? DhcpDrop::kCount : parsed.reason());
  return parsed ? *parsed : DhcpMessage{};
}

// -- Parsing networkd's messages, checked against tcpdump's decode in data/dhcp.h ----------

TEST(DhcpParse, NetworkdOffer) {
  auto offer = parse_dhcp(bootp(testdata::kDhcp1));
  ASSERT_TRUE(offer);
  EXPECT_EQ(offer->op, BootpOp::kReply);
  EXPECT_EQ(offer->type, DhcpMessageType::kOffer);
  EXPECT_EQ(offer->xid, kCapturedXid);
  EXPECT_EQ(offer->flags, 0);
  EXPECT_EQ(offer->yiaddr, ip("10.77.0.114"));
  EXPECT_EQ(offer->ciaddr, Ipv4Address{});
  EXPECT_EQ(offer->chaddr, test::kMacB);
  EXPECT_EQ(offer->lease_seconds, 120u);
  EXPECT_EQ(offer->subnet_mask, ip("255.255.255.0"));
  EXPECT_EQ(offer->router, ip("10.77.0.1"));
  EXPECT_EQ(offer->server_id, ip("10.77.0.1"));
  EXPECT_EQ(offer->dns_count, 0);
  EXPECT_FALSE(offer->renewal_seconds);
  EXPECT_FALSE(offer->rebinding_seconds);
  EXPECT_FALSE(offer->mtu);
}

TEST(DhcpParse, NetworkdAck) {
  auto ack = parse_dhcp(bootp(testdata::kDhcp3));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->type, DhcpMessageType::kAck);
  EXPECT_EQ(ack->xid, kCapturedXid);
  EXPECT_EQ(ack->yiaddr, ip("10.77.0.114"));
  EXPECT_EQ(ack->lease_seconds, 120u);
  EXPECT_EQ(ack->subnet_mask, ip("255.255.255.0"));
  EXPECT_EQ(ack->router, ip("10.77.0.1"));
  ASSERT_EQ(ack->dns_count, 2);
  EXPECT_EQ(ack->dns[0], ip("10.77.0.1"));
  EXPECT_EQ(ack->dns[1], ip("10.77.0.53"));
  EXPECT_EQ(ack->server_id, ip("10.77.0.1"));
}

TEST(DhcpParse, NetworkdClientMessages) {
  auto discover = parse_dhcp(bootp(testdata::kDhcp0));
  ASSERT_TRUE(discover);
  EXPECT_EQ(discover->op, BootpOp::kRequest);
  EXPECT_EQ(discover->type, DhcpMessageType::kDiscover);
  EXPECT_EQ(discover->secs, 1);
  EXPECT_EQ(discover->max_message_size, 1472);
  EXPECT_EQ(std::string(discover->hostname.begin(), discover->hostname.end()), "morgana-peer");
  EXPECT_EQ(test::hex(discover->client_id), "01020000770002");
  EXPECT_EQ(test::hex(discover->parameter_requests), "0103060c0f212a7879");

  auto request = parse_dhcp(bootp(testdata::kDhcp2));
  ASSERT_TRUE(request);
  EXPECT_EQ(request->type, DhcpMessageType::kRequest);
  EXPECT_EQ(request->server_id, ip("10.77.0.1"));
  EXPECT_EQ(request->requested_address, ip("10.77.0.114"));
  EXPECT_EQ(request->ciaddr, Ipv4Address{});

  auto renew = parse_dhcp(bootp(testdata::kDhcp4));
  ASSERT_TRUE(renew);
  EXPECT_EQ(renew->type, DhcpMessageType::kRequest);
  EXPECT_EQ(renew->secs, 60);
  EXPECT_EQ(renew->ciaddr, ip("10.77.0.114"));
  EXPECT_FALSE(renew->server_id);
  EXPECT_FALSE(renew->requested_address);
}

TEST(DhcpParse, NetworkdAcceptsOurClient) {
  // dhcp_peer.cc ran DhcpClient over a UDP socket against the same server: our DISCOVER
  // (#7) and REQUEST (#9) got an OFFER (#8) and an ACK (#10), broadcast as we asked.
  const MacAddress ours = {{0x02, 0x00, 0x00, 0x77, 0x00, 0x03}};
  auto discover = parse_dhcp(bootp(testdata::kDhcp7));
  auto offer = parse_dhcp(bootp(testdata::kDhcp8));
  auto request = parse_dhcp(bootp(testdata::kDhcp9));
  auto ack = parse_dhcp(bootp(testdata::kDhcp10));
  ASSERT_TRUE(discover && offer && request && ack);
  EXPECT_EQ(discover->type, DhcpMessageType::kDiscover);
  EXPECT_EQ(discover->xid, 0x5afd4fafu);
  EXPECT_EQ(discover->chaddr, ours);
  EXPECT_EQ(discover->flags, kBootpBroadcastFlag);
  EXPECT_EQ(std::size(testdata::kDhcp7), 42 + kBootpMinimumSize);
  EXPECT_EQ(offer->type, DhcpMessageType::kOffer);
  EXPECT_EQ(offer->xid, 0x5afd4fafu);
  EXPECT_EQ(offer->flags, kBootpBroadcastFlag);
  EXPECT_EQ(offer->yiaddr, ip("10.77.0.106"));
  // The IPv4 destination of the OFFER: 255.255.255.255, because of our broadcast flag.
  EXPECT_EQ(test::hex(std::span(testdata::kDhcp8).subspan(30, 4)), "ffffffff");
  EXPECT_EQ(request->type, DhcpMessageType::kRequest);
  EXPECT_EQ(request->requested_address, ip("10.77.0.106"));
  EXPECT_EQ(request->server_id, ip("10.77.0.1"));
  EXPECT_EQ(ack->type, DhcpMessageType::kAck);
  EXPECT_EQ(ack->yiaddr, ip("10.77.0.106"));

  // Replayed into a client with that MAC, the server's answers bind it the same way.
  DhcpConfig peer = config();
  peer.mac = ours;
  DhcpClient client = std::move(DhcpClient::create(peer, 9)).value();
  client.start(0);
  (void)pop_parsed(client);
  client.receive(for_client(bytes_of(bootp(testdata::kDhcp8)), client.xid()), kSecond);
  DhcpMessage replay = pop_parsed(client);
  EXPECT_EQ(replay.requested_address, request->requested_address);
  EXPECT_EQ(replay.server_id, request->server_id);
  client.receive(for_client(bytes_of(bootp(testdata::kDhcp10)), client.xid()), kSecond);
  ASSERT_TRUE(client.lease());
  EXPECT_EQ(client.lease()->address, (Ipv4Prefix{ip("10.77.0.106"), 24}));
}

// -- Malformed messages ----------------------------------------------------------------------

TEST(DhcpParse, TruncationAtEveryByte) {
  const Bytes good = offer();
  const std::set<DhcpDrop> allowed = {DhcpDrop::kBadOption, DhcpDrop::kMissingOption};
  size_t accepted = 0;
  for (size_t n = 0; n < good.size(); ++n) {
    Bytes prefix(good.begin(), good.begin() + static_cast<long>(n));
    auto parsed = parse_dhcp(prefix);
    if (n < kOptionsOffset) {
      ASSERT_FALSE(parsed) << n;
      EXPECT_EQ(parsed.reason(), DhcpDrop::kTruncated) << n;
    } else if (parsed) {
      // Cut between two options: an area may end without END, and what is left is sound.
      EXPECT_EQ(parsed->type, DhcpMessageType::kOffer) << n;
      ++accepted;
    } else {
      EXPECT_TRUE(allowed.count(parsed.reason())) << n << " " << drop_reason_name(parsed.reason());
    }
  }
  EXPECT_GT(accepted, 0u);
  // A cut inside the lease time option (35 01 02 | 33 04 00 00 ...) is a bad option.
  EXPECT_EQ(reason_of(Bytes(good.begin(), good.begin() + kOptionsOffset + 5)),
            DhcpDrop::kBadOption);
  EXPECT_EQ(reason_of(Bytes(good.begin(), good.begin() + kOptionsOffset)),
            DhcpDrop::kMissingOption);
}

TEST(DhcpParse, BadFixedFields) {
  Bytes bad = offer();
  bad[0] = 3;
  EXPECT_EQ(reason_of(bad), DhcpDrop::kBadOp);
  bad = offer();
  bad[1] = 6;  // IEEE 802 networks, not Ethernet
  EXPECT_EQ(reason_of(bad), DhcpDrop::kBadHardware);
  bad = offer();
  bad[2] = 16;
  EXPECT_EQ(reason_of(bad), DhcpDrop::kBadHardware);
  bad = offer();
  bad[239] ^= 1;
  EXPECT_EQ(reason_of(bad), DhcpDrop::kBadMagic);
}

TEST(DhcpParse, BadOptionLengths) {
  // Subnet mask (1) with 3 bytes; router (3) with 6; lease time with 2; message type with 2.
  for (const Bytes& option : {Bytes{1, 3, 255, 255, 255}, Bytes{3, 6, 1, 2, 3, 4, 5, 6},
                              Bytes{6, 0}, Bytes{51, 2, 0, 1}, Bytes{26, 1, 5}, Bytes{61, 1, 1}}) {
    Bytes message = offer();
    message.insert(message.begin() + kOptionsOffset, option.begin(), option.end());
    EXPECT_EQ(reason_of(message), DhcpDrop::kBadOption) << test::hex(option);
  }
  // A length running past the end of the message.
  Bytes message = offer();
  message[message.size() - 6] = 200;  // the server id, last, claims 200 bytes
  EXPECT_EQ(reason_of(message), DhcpDrop::kBadOption);
  // A length byte missing at the very end.
  message = offer();
  message.back() = 54;
  EXPECT_EQ(reason_of(message), DhcpDrop::kBadOption);
  // Message type 0 is not a type.
  EXPECT_EQ(reason_of(with_type(offer(), DhcpMessageType::kNone)), DhcpDrop::kBadOption);
}

TEST(DhcpParse, PadAndRepeats) {
  // Pads anywhere; a repeated fixed option keeps its first value; DNS lists concatenate
  // (RFC 3396) up to three.
  Bytes message =
      with_options(ack(), {0, 0, 1, 4, 255, 255, 0, 0, 0, 6, 8, 10, 0, 0, 3, 10, 0, 0, 4, 0});
  auto parsed = parse_dhcp(message);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->subnet_mask, ip("255.255.255.0"));
  ASSERT_EQ(parsed->dns_count, 3);
  EXPECT_EQ(parsed->dns[2], ip("10.0.0.3"));
  // An unknown option is skipped by its length.
  parsed = parse_dhcp(with_options(ack(), {224, 3, 1, 2, 3}));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->server_id, ip("10.77.0.1"));
}

TEST(DhcpParse, Overload) {
  // RFC 2132 §9.3: option 52 = 1 puts more options in the file field, 2 in sname.
  Bytes message = with_options(offer(), {52, 1, 3});
  const Bytes file_options = {26, 2, 0x05, 0xdc, 6, 4, 10, 77, 0, 53, 255};
  const Bytes sname_options = {58, 4, 0, 0, 0, 30, 255};
  std::copy(file_options.begin(), file_options.end(), message.begin() + 108);
  std::copy(sname_options.begin(), sname_options.end(), message.begin() + 44);
  auto parsed = parse_dhcp(message);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->overload, 3);
  EXPECT_EQ(parsed->mtu, 1500);
  ASSERT_EQ(parsed->dns_count, 1);
  EXPECT_EQ(parsed->dns[0], ip("10.77.0.53"));
  EXPECT_EQ(parsed->renewal_seconds, 30u);
  EXPECT_EQ(parsed->lease_seconds, 120u);

  // Without option 52 the same fields are just names: ignored.
  Bytes plain = offer();
  std::copy(file_options.begin(), file_options.end(), plain.begin() + 108);
  parsed = parse_dhcp(plain);
  ASSERT_TRUE(parsed);
  EXPECT_FALSE(parsed->mtu);

  EXPECT_EQ(reason_of(with_options(offer(), {52, 1, 4})), DhcpDrop::kBadOverload);
  EXPECT_EQ(reason_of(with_options(offer(), {52, 2, 1, 1})), DhcpDrop::kBadOverload);
  // Option 52 inside the overloaded field itself (RFC 2131 §4.1: only in options).
  Bytes nested = with_options(offer(), {52, 1, 1});
  const Bytes again = {52, 1, 3, 255};
  std::copy(again.begin(), again.end(), nested.begin() + 108);
  EXPECT_EQ(reason_of(nested), DhcpDrop::kBadOverload);
  // An option running past the end of the file field.
  Bytes overrun = with_options(offer(), {52, 1, 1});
  overrun[108 + 126] = 12;
  overrun[108 + 127] = 10;
  for (size_t i = 108; i < 108 + 126; ++i) overrun[i] = 0;
  EXPECT_EQ(reason_of(overrun), DhcpDrop::kBadOption);
}

// -- What we send ----------------------------------------------------------------------------

TEST(DhcpEncode, DiscoverHasRequiredOptions) {
  DhcpClient client = make_client();
  client.start(5 * kSecond);
  DhcpOutgoing raw;
  DhcpMessage discover = pop_parsed(client, &raw);
  EXPECT_EQ(raw.source, Ipv4Address{});
  EXPECT_EQ(raw.destination, Ipv4Address::broadcast());
  EXPECT_EQ(raw.size, kBootpMinimumSize);  // RFC 1542 padding
  EXPECT_EQ(discover.op, BootpOp::kRequest);
  EXPECT_EQ(discover.type, DhcpMessageType::kDiscover);
  EXPECT_EQ(discover.xid, client.xid());
  EXPECT_EQ(discover.flags, kBootpBroadcastFlag);
  EXPECT_EQ(discover.chaddr, test::kMacB);
  EXPECT_EQ(discover.secs, 0);
  EXPECT_EQ(test::hex(discover.parameter_requests), "0103060f1a33363a3b");
  EXPECT_EQ(test::hex(discover.client_id), "01020000770002");
  EXPECT_EQ(discover.max_message_size, 1500);
  EXPECT_EQ(std::string(discover.hostname.begin(), discover.hostname.end()), "morgana");
  EXPECT_FALSE(discover.server_id);
  EXPECT_FALSE(discover.requested_address);
  EXPECT_FALSE(client.pop_outgoing());
  // The byte layout a server sees: options in our order right after the cookie.
  EXPECT_EQ(test::hex(std::span(raw.bytes).subspan(kOptionsOffset, 10)), "3501013d070102000077");
}

TEST(DhcpEncode, DoesNotOverflow) {
  DhcpRequestFields fields;
  fields.mac = test::kMacA;
  uint8_t small[299];
  EXPECT_EQ(encode_dhcp(fields, small), 0u);
  uint8_t exact[300];
  EXPECT_EQ(encode_dhcp(fields, exact), 300u);
  const std::string long_name(256, 'x');
  fields.hostname = long_name;
  uint8_t big[1000];
  EXPECT_EQ(encode_dhcp(fields, big), 0u);  // an option value over 255 bytes
}

TEST(DhcpClientTest, CreateChecksConfig) {
  DhcpConfig bad = config();
  bad.mac = MacAddress{};
  EXPECT_FALSE(DhcpClient::create(bad, 1).ok());
  bad = config();
  bad.mac = MacAddress::broadcast();
  EXPECT_FALSE(DhcpClient::create(bad, 1).ok());
  bad = config();
  const std::string long_name(64, 'h');
  bad.hostname = long_name;
  EXPECT_FALSE(DhcpClient::create(bad, 1).ok());
  bad = config();
  bad.initial_retransmit_ns = 0;
  EXPECT_FALSE(DhcpClient::create(bad, 1).ok());
  // The hostname is copied: the caller's string may go away.
  std::string name = "copied";
  DhcpConfig good = config();
  good.hostname = name;
  auto client = DhcpClient::create(good, 1);
  ASSERT_TRUE(client.ok());
  name = "XXXXXX";
  client.value().start(0);
  DhcpMessage discover = pop_parsed(client.value());
  EXPECT_EQ(std::string(discover.hostname.begin(), discover.hostname.end()), "copied");
}

// -- The state machine on networkd's replies, in virtual time -----------------------------

// Drives a client to BOUND at t = 10 s with networkd's OFFER and ACK.
void bind(DhcpClient& client, uint64_t now = 10 * kSecond) {
  client.start(now);
  (void)pop_parsed(client);
  client.receive(for_client(offer(), client.xid()), now);
  (void)pop_parsed(client);
  client.receive(for_client(ack(), client.xid()), now);
  ASSERT_EQ(client.state(), DhcpState::kBound);
  ASSERT_EQ(client.take_events(), uint32_t{DhcpClient::kBound});
}

TEST(DhcpClientTest, SelectingRequestingBound) {
  DhcpClient client = make_client();
  const uint64_t t0 = 10 * kSecond;
  client.start(t0);
  EXPECT_EQ(client.state(), DhcpState::kSelecting);
  const uint32_t xid = client.xid();
  EXPECT_EQ(pop_parsed(client).type, DhcpMessageType::kDiscover);

  client.receive(for_client(offer(), xid), t0 + kSecond / 10);
  EXPECT_EQ(client.state(), DhcpState::kRequesting);
  DhcpOutgoing raw;
  DhcpMessage request = pop_parsed(client, &raw);
  EXPECT_EQ(request.type, DhcpMessageType::kRequest);
  EXPECT_EQ(request.xid, xid);  // the same transaction (RFC 2131 §4.4.1)
  EXPECT_EQ(request.server_id, ip("10.77.0.1"));
  EXPECT_EQ(request.requested_address, ip("10.77.0.114"));
  EXPECT_EQ(request.ciaddr, Ipv4Address{});
  EXPECT_EQ(request.flags, kBootpBroadcastFlag);
  EXPECT_EQ(test::hex(request.parameter_requests), "0103060f1a33363a3b");
  EXPECT_EQ(test::hex(request.client_id), "01020000770002");
  EXPECT_EQ(raw.source, Ipv4Address{});
  EXPECT_EQ(raw.destination, Ipv4Address::broadcast());
  EXPECT_EQ(client.take_events(), 0u);
  EXPECT_FALSE(client.lease());

  const uint64_t requested = t0 + kSecond / 10;
  client.receive(for_client(ack(), xid), requested + kSecond / 100);
  EXPECT_EQ(client.state(), DhcpState::kBound);
  EXPECT_EQ(client.take_events(), uint32_t{DhcpClient::kBound});
  ASSERT_TRUE(client.lease());
  const DhcpLease& lease = *client.lease();
  EXPECT_EQ(lease.address, (Ipv4Prefix{ip("10.77.0.114"), 24}));
  EXPECT_EQ(lease.gateway, ip("10.77.0.1"));
  EXPECT_EQ(lease.server, ip("10.77.0.1"));
  ASSERT_EQ(lease.dns_count, 2);
  EXPECT_EQ(lease.dns[0], ip("10.77.0.1"));
  EXPECT_EQ(lease.dns[1], ip("10.77.0.53"));
  EXPECT_EQ(lease.lease_seconds, 120u);
  EXPECT_EQ(lease.renew_seconds, 60u);    // RFC 2131 §4.4.5 defaults: networkd sends no T1
  EXPECT_EQ(lease.rebind_seconds, 105u);  // 0.875 * 120
  EXPECT_EQ(lease.mtu, 0);
  // Times count from the REQUEST, not the ACK (RFC 2131 §4.4.1).
  EXPECT_EQ(client.renew_at(), requested + 60 * kSecond);
  EXPECT_EQ(client.rebind_at(), requested + 105 * kSecond);
  EXPECT_EQ(client.expires_at(), requested + 120 * kSecond);
  EXPECT_EQ(client.next_deadline(), requested + 60 * kSecond);
  EXPECT_FALSE(client.pop_outgoing());
  EXPECT_EQ(client.counters().received, 2u);
  EXPECT_EQ(client.counters().delivered, 2u);
  EXPECT_EQ(client.counters().sent, 2u);
  EXPECT_EQ(client.counters().drops.total(), 0u);
  // A duplicate ACK once bound is not waited for.
  client.receive(for_client(ack(), xid), requested + kSecond);
  EXPECT_EQ(client.counters().drops[DhcpDrop::kUnexpectedType], 1u);
  EXPECT_EQ(client.take_events(), 0u);
}

TEST(DhcpClientTest, RenewAtT1) {
  DhcpClient client = make_client();
  bind(client);
  const uint64_t t1 = client.renew_at();
  client.tick(t1 - 1);
  EXPECT_EQ(client.state(), DhcpState::kBound);
  EXPECT_FALSE(client.pop_outgoing());

  const uint32_t old_xid = client.xid();
  client.tick(t1);
  EXPECT_EQ(client.state(), DhcpState::kRenewing);
  EXPECT_NE(client.xid(), old_xid);
  DhcpOutgoing raw;
  DhcpMessage renew = pop_parsed(client, &raw);
  // RFC 2131 §4.3.2 RENEWING: unicast from our address, ciaddr set, no server id and no
  // requested address, like networkd's own renewal (kDhcp4).
  EXPECT_EQ(raw.source, ip("10.77.0.114"));
  EXPECT_EQ(raw.destination, ip("10.77.0.1"));
  EXPECT_EQ(renew.type, DhcpMessageType::kRequest);
  EXPECT_EQ(renew.ciaddr, ip("10.77.0.114"));
  EXPECT_EQ(renew.flags, 0);
  EXPECT_FALSE(renew.server_id);
  EXPECT_FALSE(renew.requested_address);
  // RFC 2131 §4.4.5: retransmit after half the time to T2, but at least 60 s, so here T2
  // (45 s away) comes first.
  EXPECT_EQ(client.next_deadline(), client.rebind_at());

  // networkd's renewal ACK, 2 s later: the same lease, extended from the renewal REQUEST.
  client.receive(for_client(bytes_of(bootp(testdata::kDhcp5)), client.xid()), t1 + 2 * kSecond);
  EXPECT_EQ(client.state(), DhcpState::kBound);
  EXPECT_EQ(client.take_events(), uint32_t{DhcpClient::kRenewed});
  EXPECT_EQ(client.expires_at(), t1 + 120 * kSecond);
  EXPECT_EQ(client.renew_at(), t1 + 60 * kSecond);
}

TEST(DhcpClientTest, RebindAtT2ThenAck) {
  DhcpClient client = make_client();
  bind(client);
  client.tick(client.renew_at());
  (void)pop_parsed(client);  // the unanswered unicast REQUEST
  const uint64_t t2 = client.rebind_at();
  EXPECT_EQ(client.next_deadline(), t2);
  client.tick(t2);
  EXPECT_EQ(client.state(), DhcpState::kRebinding);
  DhcpOutgoing raw;
  DhcpMessage rebind = pop_parsed(client, &raw);
  EXPECT_EQ(raw.source, ip("10.77.0.114"));
  EXPECT_EQ(raw.destination, Ipv4Address::broadcast());
  EXPECT_EQ(rebind.ciaddr, ip("10.77.0.114"));
  EXPECT_FALSE(rebind.server_id);
  // Expiry is 15 s away: no retransmission before it.
  EXPECT_EQ(client.next_deadline(), client.expires_at());

  // Another server answers with a different gateway: a changed lease, so kBound.
  Bytes other = for_client(ack(), client.xid());
  other[kOptionsOffset + 20] = 254;  // router 10.77.0.1 -> 10.77.0.254
  client.receive(other, t2 + kSecond);
  EXPECT_EQ(client.state(), DhcpState::kBound);
  EXPECT_EQ(client.take_events(), uint32_t{DhcpClient::kBound});
  EXPECT_EQ(client.lease()->gateway, ip("10.77.0.254"));
  EXPECT_EQ(client.expires_at(), t2 + 120 * kSecond);
}

TEST(DhcpClientTest, ExpiryLosesTheLeaseAndRestarts) {
  DhcpClient client = make_client();
  bind(client);
  const uint64_t expiry = client.expires_at();
  // One late tick past expiry: straight to INIT and a new DISCOVER.
  client.tick(expiry + 5 * kSecond);
  EXPECT_EQ(client.state(), DhcpState::kSelecting);
  EXPECT_EQ(client.take_events(), uint32_t{DhcpClient::kLost});
  EXPECT_FALSE(client.lease());
  DhcpOutgoing raw;
  DhcpMessage discover = pop_parsed(client, &raw);
  EXPECT_EQ(discover.type, DhcpMessageType::kDiscover);
  EXPECT_EQ(raw.source, Ipv4Address{});
  EXPECT_FALSE(client.pop_outgoing());

  // The same through every step: T1, retransmissions, T2, expiry.
  DhcpClient stepped = make_client(7);
  bind(stepped);
  std::vector<DhcpState> states;
  uint64_t now = 0;
  while (stepped.state() != DhcpState::kSelecting) {
    now = stepped.next_deadline();
    ASSERT_NE(now, UINT64_MAX);
    stepped.tick(now);
    states.push_back(stepped.state());
    while (stepped.pop_outgoing()) {
    }
  }
  EXPECT_EQ(states, (std::vector<DhcpState>{DhcpState::kRenewing, DhcpState::kRebinding,
                                            DhcpState::kSelecting}));
  EXPECT_EQ(now, 10 * kSecond + 120 * kSecond);
  EXPECT_EQ(stepped.take_events(), uint32_t{DhcpClient::kLost});
}

TEST(DhcpClientTest, NakWhileRequesting) {
  DhcpClient client = make_client();
  const uint64_t t0 = 10 * kSecond;
  client.start(t0);
  (void)pop_parsed(client);
  client.receive(for_client(offer(), client.xid()), t0);
  (void)pop_parsed(client);
  const uint32_t xid = client.xid();
  client.receive(for_client(with_type(ack(), DhcpMessageType::kNak), xid), t0 + kSecond);
  EXPECT_EQ(client.state(), DhcpState::kInit);
  EXPECT_EQ(client.take_events(), 0u);                  // there was no lease to lose
  EXPECT_EQ(client.next_deadline(), t0 + 4 * kSecond);  // restart_delay_ns = 3 s
  client.tick(t0 + 4 * kSecond);
  EXPECT_EQ(client.state(), DhcpState::kSelecting);
  EXPECT_NE(client.xid(), xid);
  EXPECT_EQ(pop_parsed(client).type, DhcpMessageType::kDiscover);
}

TEST(DhcpClientTest, NakWhileRenewingLosesTheLease) {
  DhcpClient client = make_client();
  bind(client);
  const uint64_t t1 = client.renew_at();
  client.tick(t1);
  (void)pop_parsed(client);
  client.receive(for_client(with_type(ack(), DhcpMessageType::kNak), client.xid()), t1);
  EXPECT_EQ(client.state(), DhcpState::kInit);
  EXPECT_EQ(client.take_events(), uint32_t{DhcpClient::kLost});
  EXPECT_FALSE(client.lease());
}

TEST(DhcpClientTest, RetransmissionScheduleWithJitter) {
  // RFC 2131 §4.1: 4, 8, 16, 32, 64, 64 s, each ±1 s, over many seeds.
  const uint64_t expected[] = {4, 8, 16, 32, 64, 64, 64};
  uint64_t low[7], high[7];
  std::fill(low, low + 7, UINT64_MAX);
  std::fill(high, high + 7, 0);
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    DhcpClient client = make_client(seed);
    uint64_t now = 1000 * kSecond;
    client.start(now);
    const uint32_t xid = client.xid();
    (void)pop_parsed(client);
    for (int i = 0; i < 7; ++i) {
      const uint64_t next = client.next_deadline();
      const uint64_t interval = next - now;
      ASSERT_GE(interval, (expected[i] - 1) * kSecond) << seed << " " << i;
      ASSERT_LE(interval, (expected[i] + 1) * kSecond) << seed << " " << i;
      low[i] = std::min(low[i], interval);
      high[i] = std::max(high[i], interval);
      client.tick(next - 1);
      ASSERT_FALSE(client.pop_outgoing());
      now = next;
      client.tick(now);
      DhcpMessage again = pop_parsed(client);
      EXPECT_EQ(again.type, DhcpMessageType::kDiscover);
      EXPECT_EQ(again.xid, xid);
      EXPECT_EQ(again.secs, (now - 1000 * kSecond) / kSecond);
    }
  }
  for (int i = 0; i < 7; ++i) {  // the jitter really spreads over ±1 s
    EXPECT_LT(low[i], expected[i] * kSecond - kSecond / 2) << i;
    EXPECT_GT(high[i], expected[i] * kSecond + kSecond / 2) << i;
  }
}

TEST(DhcpClientTest, RequestingGivesUpAfterFourRequests) {
  DhcpClient client = make_client();
  client.start(0);
  (void)pop_parsed(client);
  const uint32_t xid = client.xid();
  client.receive(for_client(offer(), xid), kSecond);
  int requests = 0;
  while (client.state() == DhcpState::kRequesting) {
    while (auto out = client.pop_outgoing()) {
      auto parsed = parse_dhcp(out->payload());
      ASSERT_TRUE(parsed);
      EXPECT_EQ(parsed->type, DhcpMessageType::kRequest);
      EXPECT_EQ(parsed->xid, xid);
      ++requests;
    }
    client.tick(client.next_deadline());
  }
  EXPECT_EQ(requests, 4);
  EXPECT_EQ(client.state(), DhcpState::kSelecting);
  EXPECT_NE(client.xid(), xid);
  EXPECT_EQ(pop_parsed(client).type, DhcpMessageType::kDiscover);
}

TEST(DhcpClientTest, MisdirectedRepliesAreDroppedAndCounted) {
  DhcpClient client = make_client();
  client.start(0);
  (void)pop_parsed(client);
  client.receive(offer(), 0);  // networkd's xid, not ours
  Bytes other_client = for_client(offer(), client.xid());
  other_client[28 + 5] ^= 1;
  client.receive(other_client, 0);
  client.receive(for_client(ack(), client.xid()), 0);    // an ACK while selecting
  client.receive(bytes_of(bootp(testdata::kDhcp0)), 0);  // a client's DISCOVER
  Bytes no_server = offer();
  no_server.erase(no_server.end() - 7, no_server.end() - 1);  // drop option 54
  client.receive(for_client(no_server, client.xid()), 0);
  Bytes zero_address = for_client(offer(), client.xid());
  std::fill(zero_address.begin() + 16, zero_address.begin() + 20, 0);
  client.receive(zero_address, 0);
  Bytes truncated = for_client(offer(), client.xid());
  truncated.resize(100);
  client.receive(truncated, 0);
  EXPECT_EQ(client.state(), DhcpState::kSelecting);

  // In REQUESTING, an ACK from a server we did not choose.
  client.receive(for_client(offer(), client.xid()), 0);
  (void)pop_parsed(client);
  Bytes stranger = for_client(ack(), client.xid());
  stranger[stranger.size() - 2] = 9;  // server id 10.77.0.1 -> 10.77.0.9
  client.receive(stranger, 0);
  Bytes no_lease = for_client(ack(), client.xid());
  no_lease[kOptionsOffset + 3] = 200;  // option 51 -> an unknown option
  client.receive(no_lease, 0);
  EXPECT_EQ(client.state(), DhcpState::kRequesting);

  const DhcpCounters& counters = client.counters();
  EXPECT_EQ(counters.received, 10u);
  EXPECT_EQ(counters.delivered, 1u);
  EXPECT_EQ(counters.drops[DhcpDrop::kWrongXid], 1u);
  EXPECT_EQ(counters.drops[DhcpDrop::kWrongChaddr], 1u);
  EXPECT_EQ(counters.drops[DhcpDrop::kUnexpectedType], 1u);
  EXPECT_EQ(counters.drops[DhcpDrop::kBadOp], 1u);
  EXPECT_EQ(counters.drops[DhcpDrop::kMissingOption], 2u);
  EXPECT_EQ(counters.drops[DhcpDrop::kBadAddress], 1u);
  EXPECT_EQ(counters.drops[DhcpDrop::kTruncated], 1u);
  EXPECT_EQ(counters.drops[DhcpDrop::kWrongServer], 1u);
  char line[200];
  counters.drops.format(line, "dhcp");
  EXPECT_STREQ(line,
               "dhcp drops: truncated=1 bad_op=1 missing_option=2 wrong_xid=1 wrong_chaddr=1 "
               "wrong_server=1 bad_address=1 unexpected_type=1");
}

TEST(DhcpClientTest, ServerTimesAndOptionsAreHonoured) {
  DhcpClient client = make_client();
  client.start(0);
  (void)pop_parsed(client);
  client.receive(for_client(offer(), client.xid()), 0);
  (void)pop_parsed(client);
  // T1 30 s, T2 90 s, MTU 1400, mask /20.
  Bytes message = with_options(for_client(ack(), client.xid()),
                               {58, 4, 0, 0, 0, 30, 59, 4, 0, 0, 0, 90, 26, 2, 0x05, 0x78});
  message[kOptionsOffset + 13] = 0xf0;  // 255.255.255.0 -> 255.255.240.0
  client.receive(message, 0);
  ASSERT_TRUE(client.lease());
  EXPECT_EQ(client.lease()->address, (Ipv4Prefix{ip("10.77.0.114"), 20}));
  EXPECT_EQ(client.lease()->renew_seconds, 30u);
  EXPECT_EQ(client.lease()->rebind_seconds, 90u);
  EXPECT_EQ(client.lease()->mtu, 1400);
  EXPECT_EQ(client.renew_at(), 30 * kSecond);

  // Inconsistent times (T1 > T2 > lease) fall back to the defaults; no mask means /24.
  DhcpClient other = make_client(3);
  other.start(0);
  (void)pop_parsed(other);
  other.receive(for_client(offer(), other.xid()), 0);
  (void)pop_parsed(other);
  Bytes odd =
      with_options(for_client(ack(), other.xid()), {58, 4, 0, 0, 1, 0, 59, 4, 0, 0, 0, 200});
  odd[kOptionsOffset + 9] = 200;  // option 1 -> an unknown option
  other.receive(odd, 0);
  ASSERT_TRUE(other.lease());
  EXPECT_EQ(other.lease()->address.length, 24);
  EXPECT_EQ(other.lease()->renew_seconds, 60u);
  EXPECT_EQ(other.lease()->rebind_seconds, 105u);

  // An infinite lease (RFC 2131 §3.3) is never renewed.
  DhcpClient forever = make_client(4);
  forever.start(0);
  (void)pop_parsed(forever);
  forever.receive(for_client(offer(), forever.xid()), 0);
  (void)pop_parsed(forever);
  Bytes infinite = for_client(ack(), forever.xid());
  std::fill(infinite.begin() + kOptionsOffset + 5, infinite.begin() + kOptionsOffset + 9, 0xff);
  forever.receive(infinite, 0);
  EXPECT_EQ(forever.state(), DhcpState::kBound);
  EXPECT_EQ(forever.next_deadline(), UINT64_MAX);
}

TEST(DhcpClientTest, OutboxIsBounded) {
  DhcpClient client = make_client();
  client.start(0);
  for (int i = 0; i < 10; ++i) client.tick(client.next_deadline());
  size_t queued = 0;
  while (client.pop_outgoing()) ++queued;
  EXPECT_EQ(queued, DhcpClient::kOutboxSize);
  EXPECT_EQ(client.counters().drops[DhcpDrop::kOutboxFull], 11 - DhcpClient::kOutboxSize);
}

}  // namespace
}  // namespace morgana::net
