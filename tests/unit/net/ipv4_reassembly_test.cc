// IPv4 reassembly: Linux's fragments in every order give back the original datagram;
// duplicates are harmless; conflicting overlaps, contradictory ends, too many fragments,
// oversize datagrams and memory or slot exhaustion drop with their reasons; timers expire.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "data/ping_frag.h"
#include "morgana/net/checksum.h"
#include "morgana/net/icmp.h"
#include "morgana/net/ipv4_reassembly.h"
#include "test_util.h"

namespace morgana::net {
namespace {

using test::Bytes;
using test::bytes_of;

constexpr uint64_t kSecond = 1'000'000'000;

// A fragment of datagram `id` from B to A built byte by byte: `length` bytes of a
// pattern that depends only on the absolute offset (so consistent overlaps agree).
struct Fragment {
  Bytes bytes;
  Ipv4Datagram view() const { return parse_ipv4(bytes).value(); }
};
Fragment fragment(uint16_t id, size_t offset, size_t length, bool more, uint8_t salt = 0) {
  Bytes payload(length);
  for (size_t i = 0; i < length; ++i) payload[i] = uint8_t((offset + i) * 7 + salt);
  Ipv4SendParams params{test::kIpB, test::kIpA, IpProtocol::kUdp, id};
  Fragment f;
  f.bytes.resize(20);
  const uint16_t flags = uint16_t((more ? kIpv4FlagMoreFragments : 0) | (offset / 8));
  encode_ipv4_header(params, uint16_t(length), flags, std::span(f.bytes).first<20>());
  f.bytes.insert(f.bytes.end(), payload.begin(), payload.end());
  return f;
}

Bytes expected_payload(size_t length) {
  Bytes payload(length);
  for (size_t i = 0; i < length; ++i) payload[i] = uint8_t(i * 7);
  return payload;
}

struct Fixture {
  explicit Fixture(ReassemblyConfig config = {})
      : reassembler(std::move(Ipv4Reassembler::create(config)).value()) {}
  std::optional<Ipv4Datagram> add(const Fragment& f, uint64_t now = 0) {
    return reassembler.add(f.view(), now, counters);
  }
  uint64_t drops(Ipv4Drop reason) const { return counters.drops[reason]; }

  Ipv4Reassembler reassembler;
  Ipv4Counters counters;
};

TEST(Ipv4Reassembly, LinuxFragmentsInEveryOrder) {
  const std::span<const uint8_t> frames[] = {testdata::kPingFrag0, testdata::kPingFrag1,
                                             testdata::kPingFrag2};
  Bytes original;
  for (auto frame : frames) {
    auto part = parse_ipv4(test::l3(frame)).value().payload;
    original.insert(original.end(), part.begin(), part.end());
  }
  size_t order[] = {0, 1, 2};
  do {
    Fixture f;
    std::optional<Ipv4Datagram> done;
    for (size_t k = 0; k < 3; ++k) {
      auto fragment = parse_ipv4(test::l3(frames[order[k]])).value();
      done = f.reassembler.add(fragment, 0, f.counters);
      ASSERT_EQ(done.has_value(), k == 2);
    }
    EXPECT_TRUE(done->reassembled);
    EXPECT_EQ(bytes_of(done->payload), original);
    EXPECT_EQ(done->source, test::kIpB);
    EXPECT_EQ(done->destination, test::kIpA);
    EXPECT_EQ(done->protocol, 1);
    EXPECT_FALSE(done->is_fragment());
    // The header now describes the whole datagram, and is valid on its own.
    auto header = parse_ipv4(done->header);
    ASSERT_FALSE(header);  // total length 3028 > the 20 header bytes given...
    EXPECT_EQ(header.reason(), Ipv4Drop::kBadTotalLength);
    Bytes whole = bytes_of(done->header);
    whole.insert(whole.end(), done->payload.begin(), done->payload.end());
    auto reparsed = parse_ipv4(whole);  // ...but with the payload it parses whole
    ASSERT_TRUE(reparsed);
    EXPECT_FALSE(reparsed->is_fragment());
    // What Linux sent was an echo request of 3000 data bytes: it checks out.
    auto icmp = parse_icmp(done->payload);
    ASSERT_TRUE(icmp);
    EXPECT_EQ(icmp->type, uint8_t(IcmpType::kEchoRequest));
    EXPECT_EQ(icmp->body.size(), 3000u);
    EXPECT_EQ(f.counters.reassembled, 1u);
    EXPECT_EQ(f.counters.drops.total(), 0u);
  } while (std::next_permutation(order, order + 3));
}

TEST(Ipv4Reassembly, DuplicatesAndConsistentOverlapsAreAccepted) {
  Fixture f;
  EXPECT_FALSE(f.add(fragment(1, 0, 1480, true)));
  EXPECT_FALSE(f.add(fragment(1, 0, 1480, true)));  // a retransmission
  // Re-fragmented differently on another path: overlaps with the same bytes.
  EXPECT_FALSE(f.add(fragment(1, 1000, 1000, true)));
  EXPECT_FALSE(f.add(fragment(1, 2000, 960, true)));
  auto done = f.add(fragment(1, 2960, 100, false));
  ASSERT_TRUE(done);
  EXPECT_EQ(bytes_of(done->payload), expected_payload(3060));
  EXPECT_EQ(f.counters.drops.total(), 0u);
}

TEST(Ipv4Reassembly, ConflictingOverlapDropsTheDatagram) {
  Fixture f;
  EXPECT_FALSE(f.add(fragment(1, 0, 1480, true)));
  EXPECT_FALSE(f.add(fragment(1, 1472, 16, true, /*salt=*/1)));  // rewrites 8 bytes
  EXPECT_EQ(f.drops(Ipv4Drop::kFragmentOverlap), 1u);
  EXPECT_EQ(f.reassembler.datagrams_in_progress(), 0u);
  EXPECT_EQ(f.reassembler.bytes_in_use(), 0u);
  // The rest of that datagram can't complete it any more.
  EXPECT_FALSE(f.add(fragment(1, 1480, 100, false)));
  EXPECT_EQ(f.reassembler.datagrams_in_progress(), 1u);
}

TEST(Ipv4Reassembly, ContradictoryEndsDropTheDatagram) {
  Fixture f;
  EXPECT_FALSE(f.add(fragment(1, 800, 200, false)));  // ends at 1000
  EXPECT_FALSE(f.add(fragment(1, 0, 1008, true)));    // data past the end
  EXPECT_EQ(f.drops(Ipv4Drop::kFragmentInconsistent), 1u);

  EXPECT_FALSE(f.add(fragment(2, 800, 200, false)));
  EXPECT_FALSE(f.add(fragment(2, 800, 208, false)));  // a second, different last fragment
  EXPECT_EQ(f.drops(Ipv4Drop::kFragmentInconsistent), 2u);

  EXPECT_FALSE(f.add(fragment(3, 0, 1480, true)));
  EXPECT_FALSE(f.add(fragment(3, 0, 800, false)));  // last, but data already beyond it
  EXPECT_EQ(f.drops(Ipv4Drop::kFragmentInconsistent), 3u);
  EXPECT_EQ(f.reassembler.datagrams_in_progress(), 0u);
}

TEST(Ipv4Reassembly, BadFragmentLengths) {
  Fixture f;
  EXPECT_FALSE(f.add(fragment(1, 0, 1001, true)));  // not a multiple of 8
  EXPECT_FALSE(f.add(fragment(1, 0, 0, true)));     // empty but "more follow"
  EXPECT_EQ(f.drops(Ipv4Drop::kFragmentBadLength), 2u);
  // Ping of death: the last fragment at offset 65528 would end past 65535.
  EXPECT_FALSE(f.add(fragment(2, 0, 1480, true)));
  EXPECT_FALSE(f.add(fragment(2, 8191 * 8, 100, false)));
  EXPECT_EQ(f.drops(Ipv4Drop::kFragmentTooLarge), 1u);
  EXPECT_EQ(f.reassembler.datagrams_in_progress(), 0u);  // the whole datagram went
  // Exactly 65535 bytes (20 + 65515) is allowed.
  Fixture g({8, 1 << 20, 64, 30 * kSecond});
  std::optional<Ipv4Datagram> done;
  for (size_t offset = 0; offset < 65515; offset += 1480) {
    const size_t n = std::min<size_t>(1480, 65515 - offset);
    done = g.add(fragment(3, offset, n, offset + n < 65515));
  }
  ASSERT_TRUE(done);
  EXPECT_EQ(done->payload.size(), 65515u);
  EXPECT_EQ(bytes_of(done->payload), expected_payload(65515));
}

TEST(Ipv4Reassembly, TooManyFragments) {
  Fixture f({8, 256 * 1024, 4, 30 * kSecond});
  for (size_t i = 0; i < 4; ++i) EXPECT_FALSE(f.add(fragment(1, i * 16, 8, true)));
  EXPECT_FALSE(f.add(fragment(1, 64, 8, true)));
  EXPECT_EQ(f.drops(Ipv4Drop::kTooManyFragments), 1u);
  EXPECT_EQ(f.reassembler.datagrams_in_progress(), 0u);
}

TEST(Ipv4Reassembly, TimesOut) {
  Fixture f;
  EXPECT_FALSE(f.add(fragment(1, 0, 1480, true), 5 * kSecond));
  EXPECT_EQ(f.reassembler.next_deadline(), 35 * kSecond);
  f.reassembler.expire(35 * kSecond - 1, f.counters);
  EXPECT_EQ(f.reassembler.datagrams_in_progress(), 1u);
  f.reassembler.expire(35 * kSecond, f.counters);
  EXPECT_EQ(f.reassembler.datagrams_in_progress(), 0u);
  EXPECT_EQ(f.drops(Ipv4Drop::kReassemblyTimeout), 1u);
  EXPECT_EQ(f.reassembler.next_deadline(), UINT64_MAX);
  // A late fragment of an expired datagram starts over instead of completing it.
  EXPECT_FALSE(f.add(fragment(2, 0, 1480, true), 0));
  EXPECT_FALSE(f.add(fragment(2, 1480, 8, false), 31 * kSecond));
  EXPECT_EQ(f.drops(Ipv4Drop::kReassemblyTimeout), 2u);
  EXPECT_EQ(f.reassembler.datagrams_in_progress(), 1u);
}

TEST(Ipv4Reassembly, SlotsAreBoundedEvictingTheOldest) {
  Fixture f({2, 256 * 1024, 64, 30 * kSecond});
  EXPECT_FALSE(f.add(fragment(1, 0, 8, true), 1));
  EXPECT_FALSE(f.add(fragment(2, 0, 8, true), 2));
  EXPECT_FALSE(f.add(fragment(3, 0, 8, true), 3));
  EXPECT_EQ(f.drops(Ipv4Drop::kReassemblyEvicted), 1u);
  EXPECT_EQ(f.reassembler.datagrams_in_progress(), 2u);
  EXPECT_FALSE(f.add(fragment(1, 8, 8, false), 4));  // 1 was evicted: no completion
  EXPECT_TRUE(f.add(fragment(3, 8, 8, false), 5));
}

TEST(Ipv4Reassembly, MemoryIsBounded) {
  Fixture f({8, 5000, 64, 30 * kSecond});
  EXPECT_FALSE(f.add(fragment(1, 0, 1480, true), 1));
  EXPECT_FALSE(f.add(fragment(2, 0, 1480, true), 2));
  EXPECT_EQ(f.reassembler.bytes_in_use(), 2960u);
  // Needs 2960 bytes for id 3: the oldest (1) makes room, 2 stays.
  EXPECT_FALSE(f.add(fragment(3, 1480, 1480, true), 3));
  EXPECT_EQ(f.drops(Ipv4Drop::kReassemblyEvicted), 1u);
  EXPECT_EQ(f.reassembler.datagrams_in_progress(), 2u);
  EXPECT_LE(f.reassembler.bytes_in_use(), 5000u);
  // A datagram that alone exceeds the bound is dropped, without evicting the others.
  EXPECT_FALSE(f.add(fragment(4, 5000, 8, false), 4));
  EXPECT_EQ(f.drops(Ipv4Drop::kReassemblyNoMemory), 1u);
  EXPECT_EQ(f.drops(Ipv4Drop::kReassemblyEvicted), 1u);
  EXPECT_EQ(f.reassembler.datagrams_in_progress(), 2u);
  EXPECT_LE(f.reassembler.bytes_in_use(), 5000u);
}

TEST(Ipv4Reassembly, MemoryIsReturned) {
  Fixture f;
  EXPECT_FALSE(f.add(fragment(1, 0, 1480, true)));
  EXPECT_GT(f.reassembler.bytes_in_use(), 0u);
  auto done = f.add(fragment(1, 1480, 20, false));
  ASSERT_TRUE(done);
  EXPECT_EQ(f.reassembler.datagrams_in_progress(), 0u);
  f.reassembler.expire(0, f.counters);  // the delivered datagram's storage goes back
  EXPECT_EQ(f.reassembler.bytes_in_use(), 0u);
  EXPECT_EQ(f.counters.drops.total(), 0u);
}

TEST(Ipv4Reassembly, KeysOnSourceDestinationProtocolAndId) {
  Fixture f;
  Fragment first = fragment(7, 0, 8, true);
  Fragment last = fragment(7, 8, 8, false);
  last.bytes[9] = 6;  // another protocol: another datagram
  last.bytes[10] = last.bytes[11] = 0;
  const uint16_t sum = internet_checksum(std::span(last.bytes).first(20));
  last.bytes[10] = uint8_t(sum >> 8), last.bytes[11] = uint8_t(sum);
  EXPECT_FALSE(f.add(first));
  EXPECT_FALSE(f.add(last));
  EXPECT_EQ(f.reassembler.datagrams_in_progress(), 2u);
}

TEST(Ipv4Reassembly, RejectsZeroBounds) {
  EXPECT_FALSE(Ipv4Reassembler::create({0, 1, 1, 1}).ok());
  EXPECT_FALSE(Ipv4Reassembler::create({1, 0, 1, 1}).ok());
  EXPECT_FALSE(Ipv4Reassembler::create({1, 1, 0, 1}).ok());
}

}  // namespace
}  // namespace morgana::net
