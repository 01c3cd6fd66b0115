// Presentation forms: every typed RDATA read from zone-file fields and printed back, RFC
// 3597's generic form for unknown types, DNSSEC types carried opaquely, IPv6 printing
// per RFC 5952, and the errors each field gives.
#include "morgana/proto/dns/presentation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace {

using namespace morgana::dns;
using dns_test::name;

// Splits on spaces, treating "..." as one quoted field (no spaces inside escapes here).
std::vector<Token> fields(const std::string& text, std::vector<std::string>& storage) {
  storage.clear();
  std::vector<bool> quoted;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == ' ') {
      ++i;
    } else if (text[i] == '"') {
      size_t end = i + 1;
      while (text[end] != '"') end += text[end] == '\\' ? 2 : 1;
      storage.push_back(text.substr(i + 1, end - i - 1));
      quoted.push_back(true);
      i = end + 1;
    } else {
      size_t end = text.find(' ', i);
      if (end == std::string::npos) end = text.size();
      storage.push_back(text.substr(i, end - i));
      quoted.push_back(false);
      i = end;
    }
  }
  std::vector<Token> out;
  for (size_t i = 0; i < storage.size(); ++i) out.push_back({storage[i], quoted[i]});
  return out;
}

morgana::Result<Rdata> parse(Type type, const std::string& text) {
  std::vector<std::string> storage;
  auto tokens = fields(text, storage);
  return parse_rdata(type, tokens, name("morgana.test."));
}

// Parses `text` as `type`, prints it, and expects `printed`.
void expect_round_trip(Type type, const std::string& text, const std::string& printed) {
  auto rdata = parse(type, text);
  ASSERT_TRUE(rdata.ok()) << type_name(type) << " " << text << ": " << rdata.error().what;
  EXPECT_EQ(rdata_to_string(type, *rdata), printed);
  // And the printed form reads back to the same data.
  auto again = parse(type, printed);
  ASSERT_TRUE(again.ok()) << printed;
  EXPECT_EQ(*again, *rdata);
}

TEST(Presentation, ReadsAndPrintsEveryTypedForm) {
  expect_round_trip(Type::kA, "192.0.2.1", "192.0.2.1");
  expect_round_trip(Type::kAaaa, "2001:DB8::1", "2001:db8::1");
  expect_round_trip(Type::kNs, "ns1", "ns1.morgana.test.");
  expect_round_trip(Type::kCname, "www.example.net.", "www.example.net.");
  expect_round_trip(Type::kPtr, "@", "morgana.test.");
  expect_round_trip(Type::kSoa, "ns1 hostmaster 1 2h 1h 2w 300",
                    "ns1.morgana.test. hostmaster.morgana.test. 1 7200 3600 1209600 300");
  expect_round_trip(Type::kMx, "10 mail", "10 mail.morgana.test.");
  expect_round_trip(Type::kTxt, "\"a b\" plain \"q\\\"\\\\\" \\065\\010",
                    "\"a b\" \"plain\" \"q\\\"\\\\\" \"A\\010\"");
  expect_round_trip(Type::kSrv, "0 5 5060 sip.example.net.", "0 5 5060 sip.example.net.");
  expect_round_trip(Type::kCaa, "128 iodef \"mailto:x@example.net\"",
                    "128 iodef \"mailto:x@example.net\"");
}

TEST(Presentation, PrintsIpv6PerRfc5952) {
  auto v6 = [](const std::string& text) {
    auto rdata = parse(Type::kAaaa, text);
    EXPECT_TRUE(rdata.ok()) << text;
    return rdata.ok() ? rdata_to_string(Type::kAaaa, *rdata) : "";
  };
  EXPECT_EQ(v6("::"), "::");
  EXPECT_EQ(v6("::1"), "::1");
  EXPECT_EQ(v6("1::"), "1::");
  EXPECT_EQ(v6("2001:0db8:0000:0000:0001:0000:0000:0001"), "2001:db8::1:0:0:1");  // first run
  EXPECT_EQ(v6("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");  // one zero is not "::"
  EXPECT_EQ(v6("::ffff:192.0.2.1"), "::ffff:c000:201");
  EXPECT_EQ(v6("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
  for (const char* bad :
       {"1:2:3:4:5:6:7", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", ":1::", "1:", "g::", "1.2.3.4"})
    EXPECT_FALSE(parse(Type::kAaaa, bad).ok()) << bad;
}

TEST(Presentation, CarriesUnknownTypesPerRfc3597) {
  auto type = parse_type("TYPE65400");
  ASSERT_TRUE(type.has_value());
  EXPECT_EQ(type_name(*type), "TYPE65400");
  expect_round_trip(*type, "\\# 4 0a0b 0C0D", "\\# 4 0A0B0C0D");
  expect_round_trip(*type, "\\# 0", "\\# 0");
  // A known type in generic form becomes its typed form (RFC 3597 §5).
  auto a = parse(Type::kA, "\\# 4 C0000201");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(rdata_to_string(Type::kA, *a), "192.0.2.1");
  EXPECT_FALSE(parse(Type::kA, "\\# 3 C00002").ok());
  EXPECT_FALSE(parse(*type, "\\# 5 0A0B0C0D").ok());
  EXPECT_FALSE(parse(*type, "\\# 2 0X0Y").ok());
  EXPECT_FALSE(parse(*type, "0A0B").ok());
  EXPECT_EQ(parse_class("CLASS1"), Class::kIn);
  EXPECT_EQ(class_name(static_cast<Class>(42)), "CLASS42");
  EXPECT_FALSE(parse_type("TYPE65536").has_value());
  EXPECT_EQ(parse_type("aaaa"), Type::kAaaa);
}

TEST(Presentation, CarriesDnssecTypesOpaquely) {
  auto ds = parse(Type::kDs, "60485 5 1 2BB183AF5F22588179A53B0A 98631FAD1A292118");
  ASSERT_TRUE(ds.ok());
  EXPECT_TRUE(std::holds_alternative<Opaque>(*ds));
  EXPECT_EQ(rdata_to_string(Type::kDs, *ds), "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118");
  // RFC 4034 §2.3 and §3.3's examples.
  expect_round_trip(Type::kDnskey, "256 3 5 AQPSKmynfzW4kyBv015MUG2DeIQ3",
                    "256 3 5 AQPSKmynfzW4kyBv015MUG2DeIQ3");
  expect_round_trip(Type::kRrsig,
                    "A 5 3 86400 20030322173103 20030220173103 2642 example.com. "
                    "oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip8WTr",
                    "A 5 3 86400 20030322173103 20030220173103 2642 example.com. "
                    "oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip8WTr");
  EXPECT_FALSE(parse(Type::kRrsig, "A 5 3 86400 2003032217310 20030220173103 2642 e. AAAA").ok());
  // Opaque DNSSEC data too short for its own form prints generically.
  EXPECT_EQ(rdata_to_string(Type::kDs, Opaque{{1, 2}}), "\\# 2 0102");
}

TEST(Presentation, NamesTheFieldInErrors) {
  auto reason = [](Type type, const std::string& text) {
    auto rdata = parse(type, text);
    return rdata.ok() ? std::string("ok") : std::string(rdata.error().what);
  };
  EXPECT_EQ(reason(Type::kMx, "ten mail"), "MX preference is not a number");
  EXPECT_EQ(reason(Type::kMx, "70000 mail"), "MX preference is not a number");
  EXPECT_EQ(reason(Type::kMx, "10"), "MX needs a preference and a name");
  EXPECT_EQ(reason(Type::kA, "192.0.2"), "A address is not an IPv4 address");
  EXPECT_EQ(reason(Type::kA, "192.0.2.256"), "A address is not an IPv4 address");
  EXPECT_EQ(reason(Type::kSoa, "a b 1 2 3 4"), "SOA needs 7 fields");
  EXPECT_EQ(reason(Type::kSoa, "a b x 2 3 4 5"), "SOA serial is not a number");
  EXPECT_EQ(reason(Type::kSrv, "1 2 port x"), "SRV port is not a number");
  EXPECT_EQ(reason(Type::kCaa, "0 \"is sue\" x"), "CAA tag is not 1-15 letters and digits");
  EXPECT_EQ(reason(Type::kTxt, std::string(256, 'x')), "TXT string is longer than 255 bytes");
  EXPECT_EQ(reason(Type::kCname, "a..b"), "CNAME target is not a name");
  EXPECT_EQ(reason(Type::kAny, "x"), "a meta-type cannot be in a zone");
  EXPECT_EQ(reason(Type::kHinfo, "x y"), "this type needs RFC 3597's \\# form");
}

TEST(Presentation, PrintsRecordsAndMessages) {
  Record record{name("www.morgana.test."), Type::kA, Class::kIn, 3600, A{{10, 78, 0, 80}}};
  EXPECT_EQ(to_string(record), "www.morgana.test. 3600 IN A 10.78.0.80");
  auto response = decode(dns_test::capture("nxdomain", "response"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(to_string(*response),
            ";; opcode: QUERY, status: NXDOMAIN, id: 16930\n"
            ";; flags: qr aa rd\n"
            ";nope.morgana.test. IN A\n"
            ";; AUTHORITY\n"
            "morgana.test. 300 IN SOA ns1.morgana.test. hostmaster.morgana.test. 2026112601 "
            "7200 3600 1209600 300\n");
}

}  // namespace
