// The master-file parser: RFC 1035 §5.3's example, every directive and inheritance rule,
// the example zone, and every error message with the line it names.
#include "morgana/proto/dns/zone_file.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "morgana/proto/dns/presentation.h"
#include "test_util.h"

namespace {

using namespace morgana::dns;
using dns_test::name;

std::vector<std::string> parse_lines(const std::string& text, const char* origin = "x.test.") {
  Diagnostic error;
  auto records = parse_zone_file(text, name(origin), "t.zone", error);
  EXPECT_TRUE(records.ok()) << error.message();
  std::vector<std::string> lines;
  if (records.ok())
    for (const auto& record : *records) lines.push_back(to_string(record));
  return lines;
}

std::string error_of(const std::string& text, const char* origin = "x.test.") {
  Diagnostic error;
  auto records = parse_zone_file(text, name(origin), "zones/x.zone", error);
  return records.ok() ? "parsed" : error.message();
}

TEST(ZoneFile, ParsesRfc1035Example) {
  // RFC 1035 §5.3, without its $INCLUDE line (see the errors below); it has no TTLs, so
  // the SOA's MINIMUM is used, as BIND does.
  const char* text = R"(@   IN  SOA     VENERA      Action\.domains (
                                 20     ; SERIAL
                                 7200   ; REFRESH
                                 600    ; RETRY
                                 3600000; EXPIRE
                                 60)    ; MINIMUM

        NS      A.ISI.EDU.
        NS      VENERA
        NS      VAXA
        MX      10      VENERA
        MX      20      VAXA

A       A       26.3.0.103

VENERA  A       10.1.0.52
        A       128.9.0.32

VAXA    A       10.2.0.27
        A       128.9.0.33
)";
  EXPECT_EQ(
      parse_lines(text, "ISI.EDU."),
      (std::vector<std::string>{
          "ISI.EDU. 60 IN SOA VENERA.ISI.EDU. Action\\.domains.ISI.EDU. 20 7200 600 3600000 60",
          "ISI.EDU. 60 IN NS A.ISI.EDU.",
          "ISI.EDU. 60 IN NS VENERA.ISI.EDU.",
          "ISI.EDU. 60 IN NS VAXA.ISI.EDU.",
          "ISI.EDU. 60 IN MX 10 VENERA.ISI.EDU.",
          "ISI.EDU. 60 IN MX 20 VAXA.ISI.EDU.",
          "A.ISI.EDU. 60 IN A 26.3.0.103",
          "VENERA.ISI.EDU. 60 IN A 10.1.0.52",
          "VENERA.ISI.EDU. 60 IN A 128.9.0.32",
          "VAXA.ISI.EDU. 60 IN A 10.2.0.27",
          "VAXA.ISI.EDU. 60 IN A 128.9.0.33",
      }));
}

TEST(ZoneFile, HandlesDirectivesAndInheritance) {
  const char* text =
      "$TTL 1h\n"
      "@ SOA ns h 1 2 3 4 5\n"
      "www 60 IN A 192.0.2.1\n"   // TTL then class
      "    IN 120 A 192.0.2.2\n"  // class then TTL; owner inherited
      "    AAAA ::1\n"            // $TTL, not the previous record's TTL (RFC 2308 §4)
      "$ORIGIN sub.x.test.\n"
      "host A 192.0.2.3\n"
      "@ TXT \"at the new origin\"\n"
      "$ORIGIN deeper\n"  // relative to the current origin
      "h A 192.0.2.4\n"
      "abs.x.test. 5m A 192.0.2.5\n"
      "$ttl 2D\n"  // directives ignore case
      "abs.x.test. A 192.0.2.6\n";
  EXPECT_EQ(parse_lines(text), (std::vector<std::string>{
                                   "x.test. 3600 IN SOA ns.x.test. h.x.test. 1 2 3 4 5",
                                   "www.x.test. 60 IN A 192.0.2.1",
                                   "www.x.test. 120 IN A 192.0.2.2",
                                   "www.x.test. 3600 IN AAAA ::1",
                                   "host.sub.x.test. 3600 IN A 192.0.2.3",
                                   "sub.x.test. 3600 IN TXT \"at the new origin\"",
                                   "h.deeper.sub.x.test. 3600 IN A 192.0.2.4",
                                   "abs.x.test. 300 IN A 192.0.2.5",
                                   "abs.x.test. 172800 IN A 192.0.2.6",
                               }));
}

TEST(ZoneFile, WithoutTtlDirectiveRepeatsTheLastTtl) {
  // RFC 1035 §5.1: an omitted TTL is the last one given.
  EXPECT_EQ(
      parse_lines("@ 300 SOA ns h 1 2 3 4 5\na A 192.0.2.1\nb 7 A 192.0.2.2\nc A 192.0.2.3\n"),
      (std::vector<std::string>{"x.test. 300 IN SOA ns.x.test. h.x.test. 1 2 3 4 5",
                                "a.x.test. 300 IN A 192.0.2.1", "b.x.test. 7 IN A 192.0.2.2",
                                "c.x.test. 7 IN A 192.0.2.3"}));
}

TEST(ZoneFile, HandlesQuotingCommentsAndParentheses) {
  const char* text =
      "$TTL 60 ; a comment after a directive\n"
      "; a whole-line comment\n"
      "\n"
      "t TXT \"semi; colon\" \"paren ( )\" \"esc \\\" \\\\ \\065\" unquoted\\ space\n"
      "m MX ( 10\n"
      "       ; a comment inside the parentheses\n"
      "       mail )\n"
      "\\064at\\.dot A 192.0.2.1\n"
      "e TXT \"\"\n";
  EXPECT_EQ(parse_lines(text), (std::vector<std::string>{
                                   "t.x.test. 60 IN TXT \"semi; colon\" \"paren ( )\" \"esc \\\" "
                                   "\\\\ A\" \"unquoted space\"",
                                   "m.x.test. 60 IN MX 10 mail.x.test.",
                                   "\\@at\\.dot.x.test. 60 IN A 192.0.2.1",
                                   "e.x.test. 60 IN TXT \"\"",
                               }));
}

TEST(ZoneFile, ParsesTheExampleZone) {
  Diagnostic error;
  auto records = parse_zone_file(dns_test::example_zone_text(), name("morgana.test."),
                                 "morgana.test.zone", error);
  ASSERT_TRUE(records.ok()) << error.message();
  EXPECT_EQ(records->size(), 70u);
  EXPECT_EQ(to_string(records->front()),
            "morgana.test. 3600 IN SOA ns1.morgana.test. hostmaster.morgana.test. 2026112601 7200 "
            "3600 1209600 300");
  bool saw_txt = false;
  for (const auto& record : *records) {
    if (record.name == name("txt.morgana.test."))
      saw_txt =
          to_string(record) ==
          "txt.morgana.test. 3600 IN TXT \"hello world\" \"quote \\\" and backslash \\\\\" \"ABC\"";
  }
  EXPECT_TRUE(saw_txt);
}

TEST(ZoneFile, ReportsEveryErrorWithItsLine) {
  const std::string soa = "$TTL 60\n@ SOA ns h 1 2 3 4 5\n";  // lines 1-2
  struct Case {
    std::string text;
    const char* message;
  };
  const Case cases[] = {
      {soa + "a A 192.0.2.1 )\n", "zones/x.zone:3: ')' without a matching '('"},
      {soa + "a TXT \"open\n", "zones/x.zone:3: quoted string is not closed on its line"},
      {soa + "a MX ( 10\n mail\n", "zones/x.zone:3: '(' is not closed before the end of the file"},
      {soa + "\n$INCLUDE other.zone\n",
       "zones/x.zone:4: $INCLUDE is not supported: images have no file system"},
      {soa + "$GENERATE 1-2 a$ A 1.2.3.4\n",
       "zones/x.zone:3: unknown directive (only $ORIGIN and $TTL are supported)"},
      {soa + "$ORIGIN\n", "zones/x.zone:3: $ORIGIN needs one name"},
      {soa + "$ORIGIN a..b.\n", "zones/x.zone:3: $ORIGIN is not a valid name"},
      {soa + "$TTL 1 2\n", "zones/x.zone:3: $TTL needs one value"},
      {soa + "$TTL forever\n", "zones/x.zone:3: $TTL is not a valid TTL"},
      {soa + "$TTL 2147483648\n", "zones/x.zone:3: $TTL is not a valid TTL"},
      {soa + "a..b A 192.0.2.1\n", "zones/x.zone:3: owner is not a valid name"},
      {"  A 192.0.2.1\n", "zones/x.zone:1: no owner name: the first record must name one"},
      {soa + "www.elsewhere. A 192.0.2.1\n", "zones/x.zone:3: owner is outside the zone"},
      {soa + "a 60 IN\n", "zones/x.zone:3: no record type"},
      {soa + "a 60 IN BOGUS 1\n", "zones/x.zone:3: unknown record type"},
      {"a A 192.0.2.1\n", "zones/x.zone:1: no TTL: give one or set $TTL first"},
      {soa + "\n\n\n\n\n\n\n\n\nmx MX ten mail\n",
       "zones/x.zone:12: MX preference is not a number"},
      {soa + "@ SOA ns h (\n 1 2 3\n x 5 )\n", "zones/x.zone:3: SOA expire is not a time"},
      {soa + "a A 192.0.2.999\n", "zones/x.zone:3: A address is not an IPv4 address"},
      {soa + "a TXT \"bad \\99x\"\n", "zones/x.zone:3: bad \\DDD escape in string"},
  };
  for (const auto& c : cases) EXPECT_EQ(error_of(c.text), c.message) << c.text;
}

}  // namespace
