// A DHCPv4 client (RFC 2131, options from RFC 2132), sans I/O: the BOOTP message codec and
// the client state machine. Time is passed in, datagrams come out of pop_outgoing().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "morgana/net/address.h"
#include "morgana/net/drop.h"
#include "morgana/net/endian.h"
#include "morgana/rt/result.h"

namespace morgana::net {

inline constexpr uint16_t kDhcpServerPort = 67;
inline constexpr uint16_t kDhcpClientPort = 68;
// RFC 2131 §2: the fixed BOOTP fields, then the magic cookie 99.130.83.99 (RFC 2132 §2).
inline constexpr uint32_t kDhcpMagicCookie = 0x63825363;
// RFC 1542 §2.1: pad messages to 300 bytes; some relay agents drop shorter ones.
inline constexpr size_t kBootpMinimumSize = 300;
// RFC 2131 §2: every host accepts a 576-byte IP datagram, so a message of 576 - 28 bytes.
inline constexpr size_t kDhcpMaxOutgoingSize = 576;

// RFC 2131 §2, figure 1: the fixed part of every BOOTP/DHCP message, with the cookie.
struct BootpHeader {
  uint8_t op;     // 1 BOOTREQUEST, 2 BOOTREPLY
  uint8_t htype;  // 1: Ethernet
  uint8_t hlen;   // 6
  uint8_t hops;
  Be32 xid;
  Be16 secs;
  Be16 flags;  // bit 15: broadcast
  Ipv4Address ciaddr;
  Ipv4Address yiaddr;
  Ipv4Address siaddr;
  Ipv4Address giaddr;
  std::array<uint8_t, 16> chaddr;
  std::array<uint8_t, 64> sname;
  std::array<uint8_t, 128> file;
  Be32 magic;
};
static_assert(sizeof(BootpHeader) == 240);

enum class BootpOp : uint8_t { kRequest = 1, kReply = 2 };
inline constexpr uint16_t kBootpBroadcastFlag = 0x8000;  // RFC 2131 §2, figure 2

// RFC 2132 §9.6.
enum class DhcpMessageType : uint8_t {
  kNone = 0,  // no option 53: plain BOOTP
  kDiscover = 1,
  kOffer = 2,
  kRequest = 3,
  kDecline = 4,
  kAck = 5,
  kNak = 6,
  kRelease = 7,
  kInform = 8,
};

// RFC 2132 option codes the client sends or reads.
enum class DhcpOption : uint8_t {
  kPad = 0,
  kSubnetMask = 1,
  kRouter = 3,
  kDnsServer = 6,
  kHostName = 12,
  kDomainName = 15,
  kInterfaceMtu = 26,
  kRequestedAddress = 50,
  kLeaseTime = 51,
  kOverload = 52,
  kMessageType = 53,
  kServerIdentifier = 54,
  kParameterRequestList = 55,
  kMessage = 56,
  kMaxMessageSize = 57,
  kRenewalTime = 58,
  kRebindingTime = 59,
  kClientIdentifier = 61,
  kEnd = 255,
};

enum class DhcpDrop : uint8_t {
  kTruncated,       // shorter than the 240 bytes of fixed fields and cookie
  kBadOp,           // op neither request nor reply (the client: not a reply)
  kBadHardware,     // not Ethernet (htype 1, hlen 6)
  kBadMagic,        // no RFC 2132 cookie: plain BOOTP or garbage
  kBadOption,       // an option running past its area, or a fixed-size option of the wrong size
  kBadOverload,     // option 52 with a bad value, or found outside the options field
  kMissingOption,   // no message type; an OFFER without server id; an ACK without lease time
  kWrongXid,        // not an answer to our current transaction
  kWrongChaddr,     // for another client (replies are often broadcast)
  kWrongServer,     // REQUESTING: from a server other than the one we selected
  kBadAddress,      // yiaddr unusable (0, broadcast, multicast, loopback)
  kUnexpectedType,  // a message type the current state does not wait for
  kOutboxFull,      // send: the caller is not draining pop_outgoing(); the oldest is dropped
  kCount
};
const char* drop_reason_name(DhcpDrop reason);

using DhcpCounters = LayerCounters<DhcpDrop>;

// A parsed message: the fixed fields and the options the client uses. Spans point into
// the bytes given to parse_dhcp (no copy, no allocation).
struct DhcpMessage {
  BootpOp op = BootpOp::kRequest;
  uint32_t xid = 0;
  uint16_t secs = 0;
  uint16_t flags = 0;
  Ipv4Address ciaddr, yiaddr, siaddr, giaddr;
  MacAddress chaddr;  // the first 6 bytes of the field (hlen is checked to be 6)
  // Options. A repeated fixed-size option keeps its first instance; DNS servers from
  // every instance are collected (RFC 3396 concatenation of an address list).
  DhcpMessageType type = DhcpMessageType::kNone;
  uint8_t overload = 0;  // option 52: 1 file, 2 sname, 3 both also hold options
  std::optional<Ipv4Address> subnet_mask;
  std::optional<Ipv4Address> router;  // the first of option 3's list
  std::array<Ipv4Address, 3> dns{};
  uint8_t dns_count = 0;
  std::optional<Ipv4Address> server_id;
  std::optional<Ipv4Address> requested_address;
  std::optional<uint32_t> lease_seconds, renewal_seconds, rebinding_seconds;
  std::optional<uint16_t> mtu;
  std::optional<uint16_t> max_message_size;
  std::span<const uint8_t> parameter_requests;  // option 55
  std::span<const uint8_t> client_id;           // option 61
  std::span<const uint8_t> hostname;            // option 12
  std::span<const uint8_t> message;             // option 56: a server's error text
};

// Parses a UDP payload as a BOOTP message with DHCP options (both requests and replies).
// Every read is bounds-checked; options end at END or at the end of their area, and with
// option 52 the file and then the sname fields are read as options too (RFC 2131 §4.1,
// RFC 3396 §5 order). The message type (option 53) is required.
Parsed<DhcpMessage, DhcpDrop> parse_dhcp(std::span<const uint8_t> payload);

// What the client puts in a message it sends (always op 1, Ethernet).
struct DhcpRequestFields {
  DhcpMessageType type = DhcpMessageType::kDiscover;
  uint32_t xid = 0;
  uint16_t secs = 0;
  bool broadcast = false;  // ask for replies to 255.255.255.255 (RFC 2131 §4.1)
  Ipv4Address ciaddr;      // our address when renewing or rebinding
  MacAddress mac;
  std::optional<Ipv4Address> requested_address;  // option 50
  std::optional<Ipv4Address> server_id;          // option 54
  std::span<const uint8_t> parameter_requests;   // option 55, omitted when empty
  std::span<const uint8_t> client_id;            // option 61, omitted when empty
  std::string_view hostname;                     // option 12, omitted when empty
  uint16_t max_message_size = 0;                 // option 57, omitted when 0
};

// Writes the message, padded to 300 bytes, into `out`. Returns its size, or 0 when it
// does not fit (or an option value is over 255 bytes).
size_t encode_dhcp(const DhcpRequestFields& fields, std::span<uint8_t> out);

struct DhcpLease {
  // yiaddr with the subnet mask option. Without one (or with a non-contiguous mask) the
  // prefix is /24: RFC 2131 gives no default, a /32 would leave even the router
  // off-link, and /24 is what nearly every network that omits it means.
  Ipv4Prefix address;
  std::optional<Ipv4Address> gateway;  // the first router (option 3)
  Ipv4Address server;                  // server identifier (option 54)
  std::array<Ipv4Address, 3> dns{};
  uint8_t dns_count = 0;
  // Seconds from the time the REQUEST was first sent (RFC 2131 §4.4.1); T1 and T2 default
  // to 0.5 and 0.875 of the lease (§4.4.5). 0xffffffff: infinite, never renewed.
  uint32_t lease_seconds = 0, renew_seconds = 0, rebind_seconds = 0;
  uint16_t mtu = 0;  // option 26 if present and at least 68 (RFC 791), else 0

  friend bool operator==(const DhcpLease&, const DhcpLease&) = default;
};

enum class DhcpState : uint8_t { kInit, kSelecting, kRequesting, kBound, kRenewing, kRebinding };
const char* dhcp_state_name(DhcpState state);

// One UDP datagram, client port 68 -> server port 67.
struct DhcpOutgoing {
  Ipv4Address source;       // 0.0.0.0 before we have a lease, our address when renewing
  Ipv4Address destination;  // 255.255.255.255, or the server when renewing (unicast)
  std::array<uint8_t, kDhcpMaxOutgoingSize> bytes{};
  size_t size = 0;  // the UDP payload (a BOOTP message)

  std::span<const uint8_t> payload() const { return {bytes.data(), size}; }
};

struct DhcpConfig {
  MacAddress mac;
  std::string_view hostname;  // option 12; copied; empty: not sent; at most 63 bytes
  // RFC 2131 §4.1: the first retransmission after 4 s, doubling up to 64 s, each
  // randomized by ±1 s.
  uint64_t initial_retransmit_ns = 4'000'000'000;
  uint64_t max_retransmit_ns = 64'000'000'000;
  uint64_t retransmit_jitter_ns = 1'000'000'000;
  // RFC 2131 §3.1 step 5: with neither ACK nor NAK after the retransmissions, the
  // client goes back to INIT. This many REQUESTs are sent in REQUESTING first.
  unsigned max_request_attempts = 4;
  // RFC 2131 §4.4.5: renewing and rebinding retransmit after half the remaining time,
  // down to this minimum (60 s).
  uint64_t min_renew_retransmit_ns = 60'000'000'000;
  // After a NAK, wait this long before DISCOVER again, so a server that NAKs every
  // REQUEST does not make us loop at full speed.
  uint64_t restart_delay_ns = 3'000'000'000;
  // Option 57: the largest message we accept (our stack reassembles, so the link MTU).
  uint16_t max_message_size = 1500;
};

class DhcpClient {
 public:
  static constexpr size_t kMaxHostname = 63;
  static constexpr size_t kOutboxSize = 4;

  // kInvalidArgument for a zero or multicast MAC, a hostname over 63 bytes, or a zero
  // initial retransmission interval. random_seed picks transaction ids and jitter.
  static Result<DhcpClient> create(const DhcpConfig& config, uint64_t random_seed);

  // Starts (or restarts) acquisition: a DISCOVER, state SELECTING. Forgets any lease
  // without reporting kLost (the caller that restarts knows).
  void start(uint64_t now);

  // A UDP payload that arrived on port 68 from port 67. Replies that are not for us or
  // not for the current state are counted drops.
  void receive(std::span<const uint8_t> bootp_payload, uint64_t now);

  // Retransmissions, T1 renew (unicast REQUEST), T2 rebind (broadcast), lease expiry
  // (back to INIT with kLost, and a new DISCOVER). Call by next_deadline().
  void tick(uint64_t now);
  // The earliest time tick() has work; UINT64_MAX when none.
  uint64_t next_deadline() const;

  // Messages to send, oldest first.
  std::optional<DhcpOutgoing> pop_outgoing();

  enum Event : uint32_t {
    kBound = 1,    // a new or changed lease (address, prefix or gateway) to apply
    kRenewed = 2,  // the same lease extended (DNS, MTU or times may have changed)
    kLost = 4,     // the lease expired or was NAKed: stop using the address
  };
  // The events since the last call (a bit set of Event), cleared.
  uint32_t take_events();

  const std::optional<DhcpLease>& lease() const { return lease_; }
  DhcpState state() const { return state_; }
  const DhcpCounters& counters() const { return counters_; }
  // The current transaction id (tests and the fuzzer aim replies at it).
  uint32_t xid() const { return xid_; }
  // When the current lease expires, and its T1 and T2 (absolute, ns); UINT64_MAX when
  // infinite or without a lease.
  uint64_t renew_at() const { return t1_at_; }
  uint64_t rebind_at() const { return t2_at_; }
  uint64_t expires_at() const { return expires_at_; }

 private:
  explicit DhcpClient(const DhcpConfig& config, uint64_t random_seed);

  uint64_t next_random();
  uint32_t new_xid();
  void begin_selecting(uint64_t now);
  void send_discover(uint64_t now);
  void send_request(uint64_t now);
  void schedule_retransmit(uint64_t now);
  void schedule_renew_retransmit(uint64_t now, uint64_t until);
  void enter_renewing(uint64_t now);
  void enter_rebinding(uint64_t now);
  void lose_lease(uint64_t now);
  void handle_offer(const DhcpMessage& message, uint64_t now);
  void handle_ack(const DhcpMessage& message);
  void handle_nak(uint64_t now);
  void queue(const DhcpRequestFields& fields, Ipv4Address source, Ipv4Address destination);
  uint16_t elapsed_secs(uint64_t now) const;

  DhcpConfig config_;
  std::array<char, kMaxHostname> hostname_{};
  std::array<uint8_t, 7> client_id_{};  // RFC 2132 §9.14: type 1 (Ethernet), then the MAC
  uint64_t rng_state_;

  DhcpState state_ = DhcpState::kInit;
  uint32_t xid_ = 0;
  uint64_t acquisition_start_ = 0;  // for secs (RFC 2131 §2)
  uint64_t request_sent_at_ = 0;    // the first REQUEST of this exchange: the lease's origin
  unsigned attempts_ = 0;           // transmissions of the current message
  uint64_t retransmit_at_ = UINT64_MAX;
  uint64_t restart_at_ = UINT64_MAX;  // INIT: when to DISCOVER again
  Ipv4Address offered_address_;       // REQUESTING: what we ask for, and from whom
  Ipv4Address selected_server_;

  std::optional<DhcpLease> lease_;
  uint64_t t1_at_ = UINT64_MAX, t2_at_ = UINT64_MAX, expires_at_ = UINT64_MAX;

  std::array<DhcpOutgoing, kOutboxSize> outbox_{};
  size_t outbox_head_ = 0, outbox_count_ = 0;
  uint32_t events_ = 0;
  DhcpCounters counters_;
};

}  // namespace morgana::net
