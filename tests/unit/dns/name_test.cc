// Domain names: presentation parsing with escapes, printing, limits (RFC 1035 §2.3.4),
// loop-safe decompression, case-insensitive comparison and canonical order.
#include "morgana/proto/dns/name.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "test_util.h"

namespace {

using dns_test::bytes;
using dns_test::name;
using morgana::dns::CanonicalLess;
using morgana::dns::compare_canonical;
using morgana::dns::Name;

TEST(Name, ParsesAndPrintsPresentationForm) {
  EXPECT_EQ(name(".").to_string(), ".");
  EXPECT_TRUE(name(".").is_root());
  auto www = name("www.Example.com.");
  EXPECT_EQ(www.to_string(), "www.Example.com.");
  EXPECT_EQ(www.label_count(), 3u);
  EXPECT_EQ(www.wire_size(), 17u);
  EXPECT_EQ(std::vector<uint8_t>(www.wire().begin(), www.wire().end()),
            bytes({3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0}));
}

TEST(Name, AppendsTheOriginToRelativeNames) {
  auto origin = name("morgana.test.");
  EXPECT_EQ(Name::parse("www", origin)->to_string(), "www.morgana.test.");
  EXPECT_EQ(Name::parse("a.b", origin)->to_string(), "a.b.morgana.test.");
  EXPECT_EQ(Name::parse("www.", origin)->to_string(), "www.");
}

TEST(Name, HandlesEscapes) {
  // RFC 1035 §5.1: \X is X, \DDD is the byte with that decimal value.
  auto dotted = Name::parse("a\\.b.c.");
  ASSERT_TRUE(dotted.ok());
  EXPECT_EQ(dotted->label_count(), 2u);
  EXPECT_EQ(dotted->to_string(), "a\\.b.c.");
  auto binary = Name::parse("\\000\\255\\032x.");
  ASSERT_TRUE(binary.ok());
  EXPECT_EQ(binary->first_label().size(), 4u);
  EXPECT_EQ(binary->to_string(), "\\000\\255\\032x.");
  EXPECT_EQ(Name::parse("\\065.")->to_string(), "A.");
  EXPECT_EQ(Name::parse("\\@\\$\\;\\(\\)\\\".")->to_string(), "\\@\\$\\;\\(\\)\\\".");
  EXPECT_FALSE(Name::parse("\\256.").ok());
  EXPECT_FALSE(Name::parse("\\12.").ok());
  EXPECT_FALSE(Name::parse("a\\").ok());
}

TEST(Name, EnforcesLimits) {
  EXPECT_TRUE(Name::parse(std::string(63, 'a') + ".").ok());
  EXPECT_FALSE(Name::parse(std::string(64, 'a') + ".").ok());
  std::string label63 = std::string(63, 'x') + ".";
  std::string exactly255 = label63 + label63 + label63 + std::string(61, 'x') + ".";
  ASSERT_TRUE(Name::parse(exactly255).ok());
  EXPECT_EQ(Name::parse(exactly255)->wire_size(), 255u);
  EXPECT_FALSE(Name::parse(label63 + label63 + label63 + std::string(62, 'x') + ".").ok());
  EXPECT_FALSE(Name::parse("").ok());
  EXPECT_FALSE(Name::parse("a..b.").ok());
  EXPECT_FALSE(Name::parse(".a.").ok());
  // A relative name that overflows once the origin is appended.
  auto origin = Name::parse(label63 + label63 + label63);
  ASSERT_TRUE(origin.ok());
  EXPECT_FALSE(Name::parse(std::string(62, 'x'), *origin).ok());
}

TEST(Name, ComparesIgnoringCaseButKeepsIt) {
  auto upper = name("WWW.MORGANA.TEST."), lower = name("www.morgana.test.");
  EXPECT_EQ(upper, lower);
  EXPECT_FALSE(upper.identical(lower));
  EXPECT_EQ(upper.hash(), lower.hash());
  EXPECT_EQ(upper.to_string(), "WWW.MORGANA.TEST.");
  EXPECT_FALSE(name("www.morgana.test.") == name("www.morgana.tes."));
}

TEST(Name, NavigatesLabels) {
  auto n = name("a.b.c.");
  EXPECT_EQ(n.parent(), name("b.c."));
  EXPECT_EQ(n.suffix(1), name("c."));
  EXPECT_EQ(n.suffix(0), name("."));
  EXPECT_EQ(n.suffix(9), n);
  EXPECT_TRUE(n.is_subdomain_of(name("B.C.")));
  EXPECT_TRUE(n.is_subdomain_of(n));
  EXPECT_TRUE(n.is_subdomain_of(name(".")));
  EXPECT_FALSE(n.is_subdomain_of(name("a.b.c.d.")));
  EXPECT_FALSE(name("xb.c.").is_subdomain_of(name("b.c.")));  // not on a label boundary
  EXPECT_EQ(n.wildcard_child()->to_string(), "*.a.b.c.");
  EXPECT_TRUE(n.wildcard_child()->is_wildcard());
  EXPECT_FALSE(name("x*.a.").is_wildcard());
  EXPECT_EQ(name(".").parent(), name("."));
}

TEST(Name, SortsCanonically) {
  // The example list from RFC 4034 §6.1, already in canonical order.
  const char* ordered[] = {"example.",         "a.example.",      "yljkjljk.a.example.",
                           "Z.a.example.",     "zABC.a.EXAMPLE.", "z.example.",
                           "\\001.z.example.", "*.z.example.",    "\\200.z.example."};
  std::vector<Name> names;
  for (const char* text : ordered) names.push_back(name(text));
  for (size_t i = 0; i + 1 < names.size(); ++i)
    EXPECT_LT(compare_canonical(names[i], names[i + 1]), 0) << ordered[i] << " " << ordered[i + 1];
  std::vector<Name> shuffled(names.rbegin(), names.rend());
  std::sort(shuffled.begin(), shuffled.end(), CanonicalLess());
  for (size_t i = 0; i < names.size(); ++i) EXPECT_TRUE(shuffled[i].identical(names[i]));
}

TEST(Name, DecodesCompressedNames) {
  // "example.com" at 0, then "www" + pointer to 0 at 13.
  auto message = bytes({7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,  //
                        3, 'w', 'w', 'w', 0xC0, 0});
  size_t offset = 13;
  auto n = Name::decode(message, offset);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->to_string(), "www.example.com.");
  EXPECT_EQ(offset, message.size());  // the name's own bytes end after the pointer
}

TEST(Name, RejectsPointerLoopsAndForwardPointers) {
  auto loop = bytes({0xC0, 0});  // points at itself
  size_t offset = 0;
  EXPECT_FALSE(Name::decode(loop, offset).ok());
  // Two labels and a pointer back to the first: pointers must leave the current run.
  auto cycle = bytes({1, 'a', 1, 'b', 0xC0, 0});
  offset = 0;
  EXPECT_FALSE(Name::decode(cycle, offset).ok());
  auto forward = bytes({0xC0, 2, 0});
  offset = 0;
  EXPECT_FALSE(Name::decode(forward, offset).ok());
  // A pointer at 4 to 2, whose pointer goes back to 4 again.
  auto ping_pong = bytes({0, 0, 0xC0, 4, 0xC0, 2});
  offset = 4;
  EXPECT_FALSE(Name::decode(ping_pong, offset).ok());
  auto out_of_range = bytes({0xC0});
  offset = 0;
  EXPECT_FALSE(Name::decode(out_of_range, offset).ok());
}

TEST(Name, BoundsPointerChains) {
  // A chain of pointers, each to the one before: legal, but more than kMaxPointerHops.
  std::vector<uint8_t> chain = {0};
  for (size_t i = 0; i < morgana::dns::kMaxPointerHops + 1; ++i) {
    size_t target = i == 0 ? 0 : 1 + 2 * (i - 1);
    chain.push_back(static_cast<uint8_t>(0xC0 | target >> 8));
    chain.push_back(static_cast<uint8_t>(target));
  }
  size_t offset = chain.size() - 2;
  EXPECT_FALSE(Name::decode(chain, offset).ok());
  offset = 1 + 2 * 10;  // a shorter chain decodes to the root
  auto ok = Name::decode(chain, offset);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->is_root());
}

TEST(Name, RejectsLongLabelsAndNamesOnTheWire) {
  std::vector<uint8_t> long_label = {64};
  long_label.insert(long_label.end(), 64, 'a');
  long_label.push_back(0);
  EXPECT_FALSE(Name::from_wire(long_label).ok());
  // 128 one-byte labels: 257 bytes.
  std::vector<uint8_t> long_name;
  for (int i = 0; i < 128; ++i) long_name.insert(long_name.end(), {1, 'a'});
  long_name.push_back(0);
  EXPECT_FALSE(Name::from_wire(long_name).ok());
  // The same built with pointers: still too long once expanded.
  std::vector<uint8_t> expanded;
  for (int i = 0; i < 100; ++i) expanded.insert(expanded.end(), {1, 'a'});
  expanded.push_back(0);
  for (int i = 0; i < 100; ++i) expanded.insert(expanded.end(), {1, 'b'});
  expanded.insert(expanded.end(), {0xC0, 0});
  size_t offset = 201;
  EXPECT_FALSE(Name::decode(expanded, offset).ok());
  EXPECT_FALSE(Name::from_wire(bytes({1, 'a', 0, 0})).ok());  // bytes after the name
}

}  // namespace
