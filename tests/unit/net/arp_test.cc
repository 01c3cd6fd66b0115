// ARP: Linux's request, reply and gratuitous announcement parse; the cache answers Linux's
// request with exactly Linux's reply bytes and asks exactly as Linux asks; pending
// packets, retries, expiry, eviction, conflicts and probes behave as RFC 826, RFC 1122
// §2.3.2 and RFC 5227 say, with every drop counted.
#include <gtest/gtest.h>

#include <random>

#include "data/arp.h"
#include "data/garp.h"
#include "data/ping.h"
#include "morgana/net/arp_cache.h"
#include "test_util.h"

namespace morgana::net {
namespace {

using test::Bytes;
using test::bytes_of;

constexpr uint64_t kSecond = 1'000'000'000;

struct Host {
  explicit Host(MacAddress mac, const char* prefix, size_t entries = 64, size_t pending = 8,
                size_t buffers = 64)
      : pool(test::make_pool(buffers)) {
    ArpConfig config;
    config.link = {mac, kNoVlan};
    config.address = Ipv4Prefix::parse(prefix).value();
    config.max_entries = entries;
    config.max_pending_per_address = pending;
    auto created = ArpCache::create(config, *pool, link);
    EXPECT_TRUE(created.ok());
    cache.emplace(std::move(created).value());
  }
  // The frames in the outbox, removed.
  std::vector<Bytes> sent() {
    std::vector<Bytes> frames;
    while (!cache->outbox().empty()) frames.push_back(bytes_of(cache->outbox().pop_front().data()));
    return frames;
  }
  PacketBuffer ipv4_packet(std::span<const uint8_t> bytes) {
    return std::move(pool->allocate_copy(bytes)).value();
  }
  const ArpCounters& counters() const { return cache->counters(); }

  std::unique_ptr<BufferPool> pool;
  EthernetCounters link;
  std::optional<ArpCache> cache;
};

// An ARP frame from `sender` built byte by byte (to vary fields Linux won't).
Bytes arp_frame(MacAddress destination, uint16_t operation, MacAddress sender_mac,
                Ipv4Address sender_ip, MacAddress target_mac, Ipv4Address target_ip) {
  Bytes frame(destination.bytes.begin(), destination.bytes.end());
  frame.insert(frame.end(), sender_mac.bytes.begin(), sender_mac.bytes.end());
  for (uint8_t b : {0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04}) frame.push_back(b);
  frame.push_back(uint8_t(operation >> 8));
  frame.push_back(uint8_t(operation));
  frame.insert(frame.end(), sender_mac.bytes.begin(), sender_mac.bytes.end());
  frame.insert(frame.end(), sender_ip.bytes.begin(), sender_ip.bytes.end());
  frame.insert(frame.end(), target_mac.bytes.begin(), target_mac.bytes.end());
  frame.insert(frame.end(), target_ip.bytes.begin(), target_ip.bytes.end());
  return frame;
}

std::span<const uint8_t> payload(const Bytes& frame) {
  return std::span(frame).subspan(14);
}

TEST(Arp, ParsesLinuxPackets) {
  auto request = parse_arp(test::l3(testdata::kArp0));
  ASSERT_TRUE(request);
  EXPECT_EQ(request->operation, ArpOperation::kRequest);
  EXPECT_EQ(request->sender_mac, test::kMacB);
  EXPECT_EQ(request->sender_ip, test::kIpB);
  EXPECT_TRUE(request->target_mac.is_zero());
  EXPECT_EQ(request->target_ip, test::kIpA);
  EXPECT_FALSE(request->is_gratuitous());

  auto reply = parse_arp(test::l3(testdata::kArp1));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->operation, ArpOperation::kReply);
  EXPECT_EQ(reply->sender_mac, test::kMacA);
  EXPECT_EQ(reply->target_mac, test::kMacB);

  auto announcement = parse_arp(test::l3(testdata::kGarp0));
  ASSERT_TRUE(announcement);
  EXPECT_TRUE(announcement->is_gratuitous());
  EXPECT_FALSE(announcement->is_probe());
  EXPECT_EQ(announcement->target_mac, MacAddress::broadcast());  // arping -U's choice
}

TEST(Arp, MalformedPacketsAreDroppedWithTheirReason) {
  Bytes good = bytes_of(test::l3(testdata::kArp0));
  for (size_t n = 0; n < 28; ++n) {
    Bytes prefix(good.begin(), good.begin() + static_cast<long>(n));
    auto parsed = parse_arp(prefix);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.reason(), ArpDrop::kTruncated);
  }
  Bytes padded = good;
  padded.resize(46);  // Ethernet minimum-size padding is ignored
  EXPECT_TRUE(parse_arp(padded));
  auto expect = [](Bytes bytes, ArpDrop reason) {
    auto parsed = parse_arp(bytes);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.reason(), reason);
  };
  Bytes bad = good;
  bad[1] = 6;  // IEEE 802 hardware type
  expect(bad, ArpDrop::kUnsupported);
  bad = good;
  bad[3] = 0xdd;  // IPv6 protocol type
  expect(bad, ArpDrop::kUnsupported);
  bad = good;
  bad[4] = 8;  // hardware length
  expect(bad, ArpDrop::kUnsupported);
  bad = good;
  bad[7] = 3;  // RARP request
  expect(bad, ArpDrop::kBadOperation);
  bad = good;
  bad[8] |= 1;  // multicast sender MAC
  expect(bad, ArpDrop::kBadSender);
  bad = good;
  bad[14] = 255, bad[15] = 255, bad[16] = 255, bad[17] = 255;  // broadcast sender IP
  expect(bad, ArpDrop::kBadSender);
}

TEST(ArpCache, AnswersLinuxRequestWithLinuxReplyBytes) {
  Host a(test::kMacA, "10.77.0.1/24");
  a.cache->receive(test::l3(testdata::kArp0), 0);
  auto frames = a.sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], bytes_of(testdata::kArp1)) << test::hex(frames[0]);
  // RFC 826: we were the target, so the requester was added.
  EXPECT_EQ(a.cache->lookup(test::kIpB), test::kMacB);
  EXPECT_EQ(a.counters().delivered, 1u);
  EXPECT_EQ(a.counters().sent, 1u);
}

TEST(ArpCache, ResolvesLikeLinuxAndFlushesPending) {
  Host b(test::kMacB, "10.77.0.2/24");
  // Linux's echo request, as B's IPv4 layer would hand it down.
  b.cache->send_ipv4(test::kIpA, b.ipv4_packet(test::l3(testdata::kPing0)), 0);
  auto frames = b.sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], bytes_of(testdata::kArp0));  // Linux's request, byte for byte
  EXPECT_EQ(b.cache->pending(test::kIpA), 1u);
  EXPECT_FALSE(b.cache->lookup(test::kIpA));

  b.cache->receive(test::l3(testdata::kArp1), 1000);
  frames = b.sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], bytes_of(testdata::kPing0));  // the waiting packet, framed as Linux did
  EXPECT_EQ(b.cache->pending(test::kIpA), 0u);
  // Now known: straight out.
  b.cache->send_ipv4(test::kIpA, b.ipv4_packet(test::l3(testdata::kPing0)), 2000);
  frames = b.sent();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0], bytes_of(testdata::kPing0));
  EXPECT_EQ(b.counters().drops.total(), 0u);
}

TEST(ArpCache, AnnouncesItselfOnStart) {
  Host b(test::kMacB, "10.77.0.2/24");
  b.cache->start();
  auto frames = b.sent();
  ASSERT_EQ(frames.size(), 1u);
  // Linux's arping -U puts ff:ff:ff:ff:ff:ff in the target hardware address; RFC 5227
  // §2.3 asks for zero (it is ignored). Otherwise identical.
  Bytes linux_frame = bytes_of(testdata::kGarp0);
  std::fill(linux_frame.begin() + 32, linux_frame.begin() + 38, 0);
  EXPECT_EQ(frames[0], linux_frame);
  auto parsed = parse_arp(payload(frames[0]));
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->is_gratuitous());
}

TEST(ArpCache, GratuitousArpUpdatesOnlyExistingEntries) {
  Host a(test::kMacA, "10.77.0.1/24");
  a.cache->receive(test::l3(testdata::kGarp0), 0);  // about B, not for us, B unknown
  EXPECT_FALSE(a.cache->lookup(test::kIpB));
  EXPECT_EQ(a.counters().drops[ArpDrop::kNotForUs], 1u);
  // With B known under an old MAC, the announcement moves it.
  const MacAddress old_mac = test::mac("02:00:00:00:00:99");
  a.cache->receive(payload(arp_frame(test::kMacA, 2, old_mac, test::kIpB, test::kMacA, test::kIpA)),
                   0);
  EXPECT_EQ(a.cache->lookup(test::kIpB), old_mac);
  a.cache->receive(test::l3(testdata::kGarp0), 10);
  EXPECT_EQ(a.cache->lookup(test::kIpB), test::kMacB);
  EXPECT_TRUE(a.sent().empty());  // nothing to answer
}

TEST(ArpCache, PendingQueueIsBoundedDroppingOldest) {
  Host b(test::kMacB, "10.77.0.2/24", 64, 2);
  for (uint8_t i = 0; i < 3; ++i) {
    Bytes packet = bytes_of(test::l3(testdata::kPing0));
    packet.back() = i;  // tell them apart
    b.cache->send_ipv4(test::kIpA, b.ipv4_packet(packet), i);
  }
  EXPECT_EQ(b.cache->pending(test::kIpA), 2u);
  EXPECT_EQ(b.counters().drops[ArpDrop::kPendingOverflow], 1u);
  EXPECT_EQ(b.sent().size(), 1u);  // one request, not one per packet
  b.cache->receive(test::l3(testdata::kArp1), 10);
  auto frames = b.sent();
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].back(), 1);  // oldest (0) was dropped; order kept
  EXPECT_EQ(frames[1].back(), 2);
}

TEST(ArpCache, RetriesThenGivesUpCountingDroppedPackets) {
  Host b(test::kMacB, "10.77.0.2/24");
  b.cache->send_ipv4(test::kIpA, b.ipv4_packet(test::l3(testdata::kPing0)), 0);
  b.cache->send_ipv4(test::kIpA, b.ipv4_packet(test::l3(testdata::kPing0)), 0);
  EXPECT_EQ(b.sent().size(), 1u);
  EXPECT_EQ(b.cache->next_deadline(), kSecond);
  b.cache->tick(kSecond - 1);
  EXPECT_TRUE(b.sent().empty());
  b.cache->tick(kSecond);
  EXPECT_EQ(b.sent().size(), 1u);  // second request
  b.cache->tick(2 * kSecond);
  EXPECT_EQ(b.sent().size(), 1u);  // third
  b.cache->tick(3 * kSecond);
  EXPECT_TRUE(b.sent().empty());  // given up
  EXPECT_EQ(b.cache->entries(), 0u);
  EXPECT_EQ(b.counters().drops[ArpDrop::kUnresolved], 2u);
  EXPECT_EQ(b.pool->available(), 64u);  // the waiting buffers went back
  EXPECT_EQ(b.cache->next_deadline(), UINT64_MAX);
}

TEST(ArpCache, StaleEntriesAreRefreshedByUnicastThenForgotten) {
  Host b(test::kMacB, "10.77.0.2/24");
  b.cache->send_ipv4(test::kIpA, b.ipv4_packet(test::l3(testdata::kPing0)), 0);
  b.cache->receive(test::l3(testdata::kArp1), 0);
  (void)b.sent();
  const uint64_t stale = b.cache->config().reachable_ns;
  b.cache->send_ipv4(test::kIpA, b.ipv4_packet(test::l3(testdata::kPing0)), stale);
  auto frames = b.sent();
  ASSERT_EQ(frames.size(), 2u);
  // A unicast poll (RFC 1122 §2.3.2.1) to the MAC we have, and the packet, still sent.
  auto poll = parse_ethernet(frames[0]);
  ASSERT_TRUE(poll);
  EXPECT_EQ(poll->destination, test::kMacA);
  EXPECT_EQ(poll->ethertype, uint16_t(EtherType::kArp));
  EXPECT_EQ(frames[1], bytes_of(testdata::kPing0));
  // A reply makes it fresh again...
  b.cache->receive(test::l3(testdata::kArp1), stale + 1);
  EXPECT_EQ(b.cache->next_deadline(), stale + 1 + stale + 3 * kSecond);
  // ...and silence makes it go.
  b.cache->tick(stale + 1 + stale + 3 * kSecond);
  EXPECT_FALSE(b.cache->lookup(test::kIpA));
}

TEST(ArpCache, EntriesAreBounded) {
  Host b(test::kMacB, "10.77.0.2/24", 2);
  b.cache->send_ipv4(test::ip("10.77.0.10"), b.ipv4_packet(test::l3(testdata::kPing0)), 0);
  b.cache->send_ipv4(test::ip("10.77.0.11"), b.ipv4_packet(test::l3(testdata::kPing0)), 1);
  b.cache->send_ipv4(test::ip("10.77.0.12"), b.ipv4_packet(test::l3(testdata::kPing0)), 2);
  EXPECT_EQ(b.cache->entries(), 2u);
  EXPECT_EQ(b.cache->pending(test::ip("10.77.0.10")), 0u);  // oldest went
  EXPECT_EQ(b.cache->pending(test::ip("10.77.0.12")), 1u);
  EXPECT_EQ(b.counters().drops[ArpDrop::kEvicted], 1u);
  // A resolved entry is evicted before an incomplete one.
  b.cache->receive(payload(arp_frame(test::kMacB, 2, test::kMacA, test::ip("10.77.0.11"),
                                     test::kMacB, test::kIpB)),
                   3);
  b.cache->send_ipv4(test::ip("10.77.0.13"), b.ipv4_packet(test::l3(testdata::kPing0)), 4);
  EXPECT_FALSE(b.cache->lookup(test::ip("10.77.0.11")));
  EXPECT_EQ(b.cache->pending(test::ip("10.77.0.12")), 1u);
}

TEST(ArpCache, DefendsItsAddressOncePerInterval) {
  Host a(test::kMacA, "10.77.0.1/24");
  const Bytes impostor = arp_frame(MacAddress::broadcast(), 1, test::mac("02:00:00:00:00:66"),
                                   test::kIpA, MacAddress{}, test::kIpA);
  a.cache->receive(payload(impostor), 0);
  auto frames = a.sent();
  ASSERT_EQ(frames.size(), 1u);
  auto defence = parse_arp(payload(frames[0]));
  ASSERT_TRUE(defence);
  EXPECT_TRUE(defence->is_gratuitous());
  EXPECT_EQ(defence->sender_mac, test::kMacA);
  a.cache->receive(payload(impostor), 5 * kSecond);
  EXPECT_TRUE(a.sent().empty());  // within DEFEND_INTERVAL
  a.cache->receive(payload(impostor), 10 * kSecond);
  EXPECT_EQ(a.sent().size(), 1u);
  EXPECT_EQ(a.counters().drops[ArpDrop::kAddressConflict], 3u);
  EXPECT_FALSE(a.cache->lookup(test::kIpA));
}

TEST(ArpCache, AnswersProbesWithoutLearning) {
  Host a(test::kMacA, "10.77.0.1/24");
  // RFC 5227 §2.1.1: sender IP 0.0.0.0, target the address being probed.
  a.cache->receive(payload(arp_frame(MacAddress::broadcast(), 1, test::kMacB, Ipv4Address{},
                                     MacAddress{}, test::kIpA)),
                   0);
  auto frames = a.sent();
  ASSERT_EQ(frames.size(), 1u);
  auto reply = parse_arp(payload(frames[0]));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->operation, ArpOperation::kReply);
  EXPECT_EQ(reply->target_mac, test::kMacB);
  EXPECT_TRUE(reply->target_ip.is_unspecified());
  EXPECT_EQ(parse_ethernet(frames[0])->destination, test::kMacB);  // unicast
  EXPECT_EQ(a.cache->entries(), 0u);
}

TEST(ArpCache, IgnoresItsOwnFramesAndRequestsForOthers) {
  Host a(test::kMacA, "10.77.0.1/24");
  a.cache->receive(payload(arp_frame(MacAddress::broadcast(), 1, test::kMacA, test::kIpA,
                                     MacAddress{}, test::kIpB)),
                   0);
  a.cache->receive(payload(arp_frame(MacAddress::broadcast(), 1, test::kMacB, test::kIpB,
                                     MacAddress{}, test::ip("10.77.0.3"))),
                   0);
  EXPECT_TRUE(a.sent().empty());
  EXPECT_EQ(a.cache->entries(), 0u);
  EXPECT_EQ(a.counters().drops[ArpDrop::kBadSender], 1u);
  EXPECT_EQ(a.counters().drops[ArpDrop::kNotForUs], 1u);
}

TEST(ArpCache, BroadcastAndMulticastNeedNoResolution) {
  Host b(test::kMacB, "10.77.0.2/24");
  b.cache->send_ipv4(test::ip("10.77.0.255"), b.ipv4_packet(test::l3(testdata::kPing0)), 0);
  b.cache->send_ipv4(Ipv4Address::broadcast(), b.ipv4_packet(test::l3(testdata::kPing0)), 0);
  b.cache->send_ipv4(test::ip("224.129.2.3"), b.ipv4_packet(test::l3(testdata::kPing0)), 0);
  auto frames = b.sent();
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_TRUE(parse_ethernet(frames[0])->destination.is_broadcast());
  EXPECT_TRUE(parse_ethernet(frames[1])->destination.is_broadcast());
  // RFC 1112 §6.4: 01:00:5e and the low 23 bits.
  EXPECT_EQ(parse_ethernet(frames[2])->destination, test::mac("01:00:5e:01:02:03"));
  EXPECT_EQ(b.cache->entries(), 0u);
}

TEST(ArpCache, CountsMissingBuffers) {
  Host a(test::kMacA, "10.77.0.1/24", 64, 8, 1);
  PacketBuffer hog = std::move(a.pool->allocate()).value();
  a.cache->receive(test::l3(testdata::kArp0), 0);
  EXPECT_TRUE(a.sent().empty());
  EXPECT_EQ(a.counters().drops[ArpDrop::kNoBuffer], 1u);
  EXPECT_EQ(a.cache->lookup(test::kIpB), test::kMacB);  // still learned
}

TEST(ArpCache, RejectsBadConfiguration) {
  auto pool = test::make_pool(1);
  EthernetCounters link;
  ArpConfig config;
  config.link.mac = test::kMacA;
  EXPECT_FALSE(ArpCache::create(config, *pool, link).ok());  // no address
  config.address = Ipv4Prefix::parse("10.77.0.1/24").value();
  config.max_entries = 0;
  EXPECT_FALSE(ArpCache::create(config, *pool, link).ok());
}

// --- next_deadline(): cached, and always what a scan of every entry gives -----------

// A reply from `host` to B (so B learns it even without an entry).
Bytes reply_from(Ipv4Address host, MacAddress mac) {
  return arp_frame(test::kMacB, 2, mac, host, test::kMacB, test::kIpB);
}

TEST(ArpCacheDeadline, FollowsInsertRefreshExpiryAndEviction) {
  Host b(test::kMacB, "10.77.0.2/24", 2);
  const uint64_t reachable = b.cache->config().reachable_ns;
  const uint64_t linger = 3 * kSecond;  // max_requests unanswered refresh requests
  const Ipv4Address x = test::ip("10.77.0.10"), y = test::ip("10.77.0.11");
  const Ipv4Address z = test::ip("10.77.0.12");
  const MacAddress mac_x = test::mac("02:00:00:00:00:10"), mac_y = test::mac("02:00:00:00:00:11");
  EXPECT_EQ(b.cache->next_deadline(), UINT64_MAX);

  // Insert: an incomplete entry's deadline is its next request.
  b.cache->send_ipv4(x, b.ipv4_packet(test::l3(testdata::kPing0)), 0);
  EXPECT_EQ(b.cache->next_deadline(), kSecond);
  b.cache->send_ipv4(y, b.ipv4_packet(test::l3(testdata::kPing0)), kSecond / 2);
  EXPECT_EQ(b.cache->next_deadline(), kSecond);  // x's is still the earlier
  // x resolves: the entry holding the earliest deadline moves later, so y's is next.
  b.cache->receive(payload(reply_from(x, mac_x)), kSecond / 5);
  EXPECT_EQ(b.cache->next_deadline(), kSecond / 2 + kSecond);
  b.cache->receive(payload(reply_from(y, mac_y)), kSecond / 4);
  EXPECT_EQ(b.cache->next_deadline(), kSecond / 5 + reachable + linger);  // x forgotten first

  // Refresh: a new reply from x moves its deadline past y's.
  b.cache->receive(payload(reply_from(x, mac_x)), kSecond);
  EXPECT_EQ(b.cache->next_deadline(), kSecond / 4 + reachable + linger);
  // Refreshing the entry that does not hold the earliest deadline changes nothing.
  b.cache->receive(payload(reply_from(x, mac_x)), 2 * kSecond);
  EXPECT_EQ(b.cache->next_deadline(), kSecond / 4 + reachable + linger);

  // Expiry: a tick before y's deadline does nothing; at it, y goes and x's is next.
  b.cache->tick(kSecond / 4 + reachable + linger - 1);
  EXPECT_TRUE(b.cache->lookup(y));
  b.cache->tick(kSecond / 4 + reachable + linger);
  EXPECT_FALSE(b.cache->lookup(y));
  EXPECT_EQ(b.cache->next_deadline(), 2 * kSecond + reachable + linger);

  // Eviction: with both entries taken, z's request evicts the resolved entry closest to
  // being forgotten (x, the only one resolved), and z's retry is the deadline.
  b.cache->send_ipv4(y, b.ipv4_packet(test::l3(testdata::kPing0)), 10 * kSecond);
  EXPECT_EQ(b.cache->next_deadline(), 11 * kSecond);
  b.cache->receive(payload(reply_from(y, mac_y)), 10 * kSecond);
  EXPECT_EQ(b.cache->next_deadline(), 2 * kSecond + reachable + linger);  // x's again
  b.cache->send_ipv4(z, b.ipv4_packet(test::l3(testdata::kPing0)), 20 * kSecond);
  EXPECT_FALSE(b.cache->lookup(x));
  EXPECT_TRUE(b.cache->lookup(y));
  EXPECT_EQ(b.cache->next_deadline(), 21 * kSecond);
  // Giving up on z (three requests unanswered) leaves y's forgetting as the deadline.
  for (uint64_t t = 21; t <= 23; ++t) b.cache->tick(t * kSecond);
  EXPECT_EQ(b.cache->pending(z), 0u);
  EXPECT_EQ(b.cache->next_deadline(), 10 * kSecond + reachable + linger);
  EXPECT_EQ(b.cache->next_deadline(), b.cache->scan_next_deadline());
}

// What tick() can be seen to do: frames it queued, entries it freed, drops it counted.
struct Observed {
  uint64_t sent;
  size_t entries;
  uint64_t drops;
  bool operator==(const Observed&) const = default;
};
Observed observe(const ArpCache& cache) {
  return {cache.counters().sent, cache.entries(), cache.counters().drops.total()};
}

// Thousands of random sends, replies, requests, announcements and ticks over a small cache
// (so entries are evicted, expire and are refreshed all the time): after each, the cached
// deadline equals a scan of every entry, and it is honest: a tick just before it does
// nothing visible, a tick at it does something.
TEST(ArpCacheDeadline, MatchesAScanOverRandomOperations) {
  constexpr size_t kHosts = 20;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(seed);
    auto below = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
    Host b(test::kMacB, "10.77.0.2/24", 8, 2, 64);
    // Short lifetimes, so a few thousand steps of up to 2 s see every transition often.
    ArpConfig config = b.cache->config();
    config.reachable_ns = 5 * kSecond;
    b.cache.emplace(std::move(ArpCache::create(config, *b.pool, b.link)).value());
    auto host_ip = [](size_t i) { return Ipv4Address{{10, 77, 0, uint8_t(10 + i)}}; };
    auto host_mac = [](size_t i) { return MacAddress{{0x02, 0, 0, 0, 0, uint8_t(0x10 + i)}}; };
    uint64_t now = 0;
    unsigned exact_ticks = 0;
    for (int step = 0; step < 5000; ++step) {
      const size_t host = below(kHosts);
      switch (below(8)) {
        case 0:
          now += below(2 * kSecond);
          break;
        case 1:
        case 2:
          b.cache->send_ipv4(host_ip(host), b.ipv4_packet(test::l3(testdata::kPing0)), now);
          break;
        case 3:  // a reply (or a request) to us: learned, new or not
          b.cache->receive(payload(arp_frame(test::kMacB, below(2) + 1, host_mac(host),
                                             host_ip(host), test::kMacB, test::kIpB)),
                           now);
          break;
        case 4:  // an announcement: updates only an entry that exists
          b.cache->receive(payload(arp_frame(MacAddress::broadcast(), 1, host_mac(host),
                                             host_ip(host), MacAddress{}, host_ip(host))),
                           now);
          break;
        case 5:
          b.cache->tick(now);
          break;
        case 6: {
          const uint64_t deadline = b.cache->next_deadline();
          if (deadline == UINT64_MAX || deadline <= now) break;
          const Observed before = observe(*b.cache);
          b.cache->tick(deadline - 1);
          EXPECT_EQ(observe(*b.cache), before) << "a tick before the deadline did something";
          now = deadline;
          b.cache->tick(now);
          EXPECT_NE(observe(*b.cache), before) << "a tick at the deadline did nothing";
          ++exact_ticks;
          break;
        }
        default:
          b.cache->start();
          break;
      }
      (void)b.sent();  // frees the buffers the outbox holds
      // Not after every step: several changes in a row must also keep the cache right.
      if (below(2) == 0) {
        ASSERT_EQ(b.cache->next_deadline(), b.cache->scan_next_deadline()) << "step " << step;
      }
    }
    EXPECT_EQ(b.cache->next_deadline(), b.cache->scan_next_deadline());
    // The run did reach the transitions it is meant to cover.
    EXPECT_GT(exact_ticks, 100u);
    EXPECT_GT(b.counters().drops[ArpDrop::kEvicted], 50u);
    EXPECT_GT(b.counters().drops[ArpDrop::kUnresolved], 50u);
  }
}

}  // namespace
}  // namespace morgana::net
