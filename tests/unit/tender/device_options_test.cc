// Tests for the DESIGN.md §4 command line: parse_options() in both modes,
// check_attachments() against a manifest, and the usage text.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "platform/host/device_options.h"

namespace morgana::host {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Parsed {
  std::string error;
  Options options;
};

Parsed parse(std::vector<std::string> args, Mode mode = Mode::kMonitor) {
  Parsed p;
  p.error = parse_options(args, mode, p.options);
  return p;
}

std::string refusal(std::vector<std::string> args, Mode mode = Mode::kMonitor) {
  Parsed p = parse(std::move(args), mode);
  EXPECT_NE(p.error, "") << "accepted";
  EXPECT_EQ(p.error.find('\n'), std::string::npos);
  return p.error;
}

TEST(DeviceOptions, MonitorDefaults) {
  Parsed p = parse({"app.hvt"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.options.image, "app.hvt");
  EXPECT_EQ(p.options.mem_bytes, abi::kDefaultMemory);
  EXPECT_FALSE(p.options.stats);
  EXPECT_FALSE(p.options.help);
  EXPECT_TRUE(p.options.nets.empty());
  EXPECT_TRUE(p.options.blocks.empty());
  EXPECT_TRUE(p.options.app_args.empty());
}

TEST(DeviceOptions, FullMonitorCommandLine) {
  Parsed p = parse({"--mem=64", "--net:service=tap:tap0", "--net-mac:service=02:00:00:ab:cd:ef",
                    "--block:storage=disk.img,ro", "--stats", "app.hvt", "--port", "80"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.options.mem_bytes, 64ull << 20);
  EXPECT_TRUE(p.options.stats);
  ASSERT_EQ(p.options.nets.size(), 1u);
  const NetAttachment& net = p.options.nets[0];
  EXPECT_EQ(net.name, "service");
  EXPECT_EQ(net.kind, NetAttachment::Kind::kTap);
  EXPECT_EQ(net.ifname, "tap0");
  ASSERT_TRUE(net.mac);
  EXPECT_EQ(*net.mac, (std::array<uint8_t, 6>{0x02, 0x00, 0x00, 0xab, 0xcd, 0xef}));
  ASSERT_EQ(p.options.blocks.size(), 1u);
  EXPECT_EQ(p.options.blocks[0].name, "storage");
  EXPECT_EQ(p.options.blocks[0].path, "disk.img");
  EXPECT_TRUE(p.options.blocks[0].read_only);
  EXPECT_EQ(p.options.image, "app.hvt");
  // Everything after IMAGE belongs to the application, even what looks like ours.
  EXPECT_THAT(p.options.app_args, ElementsAre("--port", "80"));
}

TEST(DeviceOptions, DoubleDashAfterImageIsSkippedOnce) {
  EXPECT_THAT(parse({"app.hvt", "--", "--mem=4"}).options.app_args, ElementsAre("--mem=4"));
  EXPECT_THAT(parse({"app.hvt", "--", "--", "x"}).options.app_args, ElementsAre("--", "x"));
  EXPECT_THAT(parse({"app.hvt", "a", "--"}).options.app_args, ElementsAre("a", "--"));
  Parsed p = parse({"--stats", "--", "-weird-name.hvt", "x"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.options.image, "-weird-name.hvt");
  EXPECT_THAT(p.options.app_args, ElementsAre("x"));
}

TEST(DeviceOptions, ImageIsRequiredUnlessHelp) {
  EXPECT_THAT(refusal({}), HasSubstr("missing IMAGE"));
  EXPECT_THAT(refusal({"--stats"}), HasSubstr("missing IMAGE"));
  EXPECT_TRUE(parse({"--help"}).options.help);
  EXPECT_EQ(parse({"-h"}).error, "");
  EXPECT_TRUE(parse({"-h"}).options.help);
}

TEST(DeviceOptions, Memory) {
  EXPECT_EQ(parse({"--mem=2", "a"}).options.mem_bytes, 2ull << 20);
  EXPECT_EQ(parse({"--mem=65536", "a"}).options.mem_bytes, 64ull << 30);
  EXPECT_THAT(refusal({"--mem=1", "a"}), HasSubstr("--mem=1: guest memory must be 2-65536 MiB"));
  EXPECT_THAT(refusal({"--mem=65537", "a"}), HasSubstr("2-65536 MiB"));
  EXPECT_THAT(refusal({"--mem=0", "a"}), HasSubstr("2-65536 MiB"));
  EXPECT_THAT(refusal({"--mem=99999999999999999999999", "a"}), HasSubstr("not a whole number"));
  for (const char* bad :
       {"--mem=", "--mem=12M", "--mem=-4", "--mem=+4", "--mem= 4", "--mem=0x10"}) {
    EXPECT_THAT(refusal({bad, "a"}), HasSubstr("not a whole number")) << bad;
  }
  EXPECT_THAT(refusal({"--mem", "a"}), HasSubstr("--mem: missing value"));
  EXPECT_THAT(refusal({"--mem=4", "--mem=8", "a"}), HasSubstr("--mem given twice"));
}

TEST(DeviceOptions, TapInterfaceNames) {
  EXPECT_EQ(parse({"--net:n=tap:" + std::string(15, 'x'), "a"}).error, "");
  EXPECT_EQ(parse({"--net:n=tap:br-lan_0.1", "a"}).error, "");
  EXPECT_THAT(refusal({"--net:n=tap:" + std::string(16, 'x'), "a"}),
              HasSubstr("--net:n: bad interface name"));
  for (const char* bad : {"--net:n=tap:", "--net:n=tap:a/b", "--net:n=tap:a b", "--net:n=tap:..",
                          "--net:n=tap:a:b", "--net:n=tap:."}) {
    EXPECT_THAT(refusal({bad, "a"}), HasSubstr("bad interface name")) << bad;
  }
}

TEST(DeviceOptions, UserNetworkingWithForwards) {
  Parsed p = parse(
      {"--net:service=user,forward=tcp:127.0.0.1:8080-:80,forward=tcp:0.0.0.0:2222-:22", "a"});
  ASSERT_EQ(p.error, "");
  const NetAttachment& net = p.options.nets.at(0);
  EXPECT_EQ(net.kind, NetAttachment::Kind::kUser);
  ASSERT_EQ(net.forwards.size(), 2u);
  EXPECT_EQ(net.forwards[0].host_addr, "127.0.0.1");
  EXPECT_EQ(net.forwards[0].host_port, 8080);
  EXPECT_EQ(net.forwards[0].guest_port, 80);
  EXPECT_EQ(net.forwards[1].host_addr, "0.0.0.0");
  EXPECT_EQ(net.forwards[1].guest_port, 22);
  EXPECT_TRUE(parse({"--net:service=user", "a"}).options.nets.at(0).forwards.empty());
}

TEST(DeviceOptions, RefusesBadForwards) {
  auto forward = [](const std::string& spec) {
    return refusal({"--net:service=user,forward=" + spec, "a"});
  };
  EXPECT_THAT(forward("udp:127.0.0.1:53-:53"), HasSubstr("only tcp forwards"));
  EXPECT_THAT(forward("tcp:127.0.0.1:8080:80"), HasSubstr("bad forward"));
  EXPECT_THAT(forward("tcp:localhost:8080-:80"), HasSubstr("bad host address 'localhost'"));
  EXPECT_THAT(forward("tcp:127.0.0.256:8080-:80"), HasSubstr("bad host address"));
  EXPECT_THAT(forward("tcp:127.0.0.1:0-:80"), HasSubstr("bad host port '0'"));
  EXPECT_THAT(forward("tcp:127.0.0.1:65536-:80"), HasSubstr("bad host port '65536'"));
  EXPECT_THAT(forward("tcp:127.0.0.1:8080-:"), HasSubstr("bad guest port ''"));
  EXPECT_THAT(forward("tcp:127.0.0.1:8080-:http"), HasSubstr("bad guest port 'http'"));
  EXPECT_THAT(
      refusal(
          {"--net:service=user,forward=tcp:127.0.0.1:80-:80,forward=tcp:127.0.0.1:80-:81", "a"}),
      HasSubstr("host port 127.0.0.1:80 forwarded twice"));
  EXPECT_THAT(refusal({"--net:service=user,restrict=off", "a"}),
              HasSubstr("unknown user option 'restrict=off'"));
  EXPECT_THAT(refusal({"--net:service=user,", "a"}), HasSubstr("unknown user option ''"));
}

TEST(DeviceOptions, RefusesUnknownBackend) {
  EXPECT_EQ(refusal({"--net:service=tup:tap0", "a"}),
            "--net:service: unknown backend 'tup' (tap, user)");
  EXPECT_THAT(refusal({"--net:service=", "a"}), HasSubstr("unknown backend ''"));
  EXPECT_THAT(refusal({"--net:service", "a"}), HasSubstr("--net:service: missing '='"));
}

TEST(DeviceOptions, DeviceNamesFollowTheManifestRule) {
  EXPECT_EQ(parse({"--block:" + std::string(31, 'd') + "=f", "a"}).error, "");
  EXPECT_THAT(refusal({"--block:" + std::string(32, 'd') + "=f", "a"}),
              HasSubstr("bad device name"));
  for (const char* bad : {"--net:=tap:t", "--net:Service=tap:t", "--block:my-disk=f",
                          "--net-mac:a.b=02:00:00:00:00:01"}) {
    EXPECT_THAT(refusal({bad, "a"}), HasSubstr("bad device name")) << bad;
  }
}

TEST(DeviceOptions, RefusesDuplicateAttachments) {
  EXPECT_THAT(refusal({"--net:service=tap:t0", "--net:service=tap:t1", "a"}),
              HasSubstr("--net:service: device 'service' is attached twice"));
  EXPECT_THAT(refusal({"--block:d=x", "--block:d=y", "a"}), HasSubstr("attached twice"));
  EXPECT_THAT(refusal({"--net:d=tap:t0", "--block:d=y", "a"}),
              HasSubstr("--block:d: device 'd' is attached twice"));
}

TEST(DeviceOptions, MacAddresses) {
  // The MAC may come before its --net.
  Parsed p = parse({"--net-mac:service=0A:bB:cc:dd:ee:ff", "--net:service=tap:t", "a"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(*p.options.nets.at(0).mac,
            (std::array<uint8_t, 6>{0x0a, 0xbb, 0xcc, 0xdd, 0xee, 0xff}));
  EXPECT_FALSE(parse({"--net:service=tap:t", "a"}).options.nets.at(0).mac);

  auto mac = [](const std::string& value) {
    return refusal({"--net:service=tap:t", "--net-mac:service=" + value, "a"});
  };
  EXPECT_THAT(mac("01:00:5e:00:00:01"), HasSubstr("01:00:5e:00:00:01 is a multicast address"));
  EXPECT_THAT(mac("ff:ff:ff:ff:ff:ff"), HasSubstr("multicast"));
  EXPECT_THAT(mac("00:00:00:00:00:00"), HasSubstr("all-zero"));
  for (const char* bad : {"02:00:00:00:00", "02:00:00:00:00:0g", "02-00-00-00-00-01",
                          "2:00:00:00:00:01:", "02:00:00:00:00:001", "", " 2:00:00:00:00:01"}) {
    EXPECT_THAT(mac(bad), HasSubstr("bad MAC address")) << bad;
  }
  EXPECT_THAT(refusal({"--net-mac:service=02:00:00:00:00:01", "a"}),
              HasSubstr("--net-mac:service: no --net:service=... attachment"));
  EXPECT_THAT(refusal({"--net:service=tap:t", "--net-mac:service=02:00:00:00:00:01",
                       "--net-mac:service=02:00:00:00:00:02", "a"}),
              HasSubstr("MAC given twice"));
}

TEST(DeviceOptions, BlockDevices) {
  Parsed p = parse({"--block:storage=/var/lib/a,b.img", "a"});
  EXPECT_THAT(p.error, HasSubstr("--block:storage: unknown block option 'b.img' (ro)"));
  p = parse({"--block:storage=/var/lib/a,b.img,ro", "a"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.options.blocks.at(0).path, "/var/lib/a,b.img");
  EXPECT_TRUE(p.options.blocks.at(0).read_only);
  p = parse({"--block:storage=disk.img", "a"});
  EXPECT_FALSE(p.options.blocks.at(0).read_only);
  EXPECT_THAT(refusal({"--block:storage=", "a"}), HasSubstr("missing FILE"));
  EXPECT_THAT(refusal({"--block:storage=,ro", "a"}), HasSubstr("missing FILE"));
  EXPECT_THAT(refusal({"--block:storage=disk,rw", "a"}), HasSubstr("unknown block option 'rw'"));
}

TEST(DeviceOptions, RefusesUnknownOptions) {
  EXPECT_EQ(refusal({"--memory=4", "a"}), "unknown option '--memory' (see --help)");
  EXPECT_THAT(refusal({"-x", "a"}), HasSubstr("unknown option '-x'"));
  EXPECT_THAT(refusal({"--disk:d=f", "a"}), HasSubstr("unknown option '--disk:d'"));
  EXPECT_THAT(refusal({"--stats=yes", "a"}), HasSubstr("--stats: takes no value"));
}

TEST(DeviceOptions, UnixModeReadsOptionsUntilTheFirstForeignArgument) {
  Parsed p =
      parse({"--net:service=tap:tap0", "--block:storage=d.img", "serve", "--stats"}, Mode::kUnix);
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.options.image, "");
  EXPECT_FALSE(p.options.stats);
  EXPECT_THAT(p.options.app_args, ElementsAre("serve", "--stats"));
  p = parse({"--stats", "--", "--port=80"}, Mode::kUnix);
  ASSERT_EQ(p.error, "");
  EXPECT_TRUE(p.options.stats);
  EXPECT_THAT(p.options.app_args, ElementsAre("--port=80"));
  p = parse({"-v", "--stats"}, Mode::kUnix);  // a single dash is the application's
  ASSERT_EQ(p.error, "");
  EXPECT_THAT(p.options.app_args, ElementsAre("-v", "--stats"));
  EXPECT_EQ(parse({}, Mode::kUnix).error, "");
}

TEST(DeviceOptions, UnixModeRefusesMonitorOnlyOptions) {
  EXPECT_THAT(refusal({"--mem=64"}, Mode::kUnix), HasSubstr("--mem=64: --mem is available only"));
  EXPECT_THAT(refusal({"--net:service=user"}, Mode::kUnix),
              HasSubstr("--net:service: user-mode networking is available only"));
  EXPECT_THAT(refusal({"--port=80"}, Mode::kUnix), HasSubstr("unknown option '--port'"));
}

TEST(DeviceOptions, ParsingResetsOutput) {
  Options options;
  options.stats = true;
  options.app_args = {"stale"};
  std::vector<std::string> args = {"app.hvt"};
  ASSERT_EQ(parse_options(args, Mode::kMonitor, options), "");
  EXPECT_FALSE(options.stats);
  EXPECT_TRUE(options.app_args.empty());
}

abi::Manifest service_and_storage() {
  abi::Manifest m{};
  m.abi_version = abi::kAbiVersion;
  m.entry_count = 2;
  std::strcpy(m.entries[0].name, "service");
  m.entries[0].type = static_cast<uint32_t>(abi::DeviceType::kNet);
  std::strcpy(m.entries[1].name, "storage");
  m.entries[1].type = static_cast<uint32_t>(abi::DeviceType::kBlock);
  return m;
}

std::string check(std::vector<std::string> args, const abi::Manifest& m = service_and_storage()) {
  Parsed p = parse(std::move(args));
  EXPECT_EQ(p.error, "");
  return check_attachments(p.options, m);
}

TEST(CheckAttachments, AcceptsExactMatch) {
  EXPECT_EQ(check({"--net:service=user", "--block:storage=d.img", "a"}), "");
  abi::Manifest none{};
  none.abi_version = abi::kAbiVersion;
  EXPECT_EQ(check({"a"}, none), "");
}

TEST(CheckAttachments, RefusesMissingDevice) {
  EXPECT_EQ(check({"--block:storage=d.img", "a"}),
            "the image needs net device 'service': attach it with --net:service=tap:IFNAME or "
            "--net:service=user");
  EXPECT_THAT(check({"--net:service=user", "a"}),
              HasSubstr("needs block device 'storage': attach it with --block:storage=FILE"));
}

TEST(CheckAttachments, RefusesExtraDevice) {
  EXPECT_EQ(check({"--net:service=user", "--block:storage=d", "--block:extra=e", "a"}),
            "--block:extra: the image has no device 'extra' (it has: service (net), storage "
            "(block))");
  abi::Manifest none{};
  EXPECT_THAT(check({"--net:servce=user", "a"}, none), HasSubstr("(it has none)"));
}

TEST(CheckAttachments, RefusesMistypedDevice) {
  EXPECT_THAT(check({"--block:service=x", "--block:storage=d", "a"}),
              HasSubstr("--block:service: device 'service' is a net device in the image"));
  EXPECT_THAT(check({"--net:service=user", "--net:storage=tap:t", "a"}),
              HasSubstr("--net:storage: device 'storage' is a block device in the image"));
}

TEST(CheckAttachments, RefusesDuplicateBuiltByHand) {
  Options options;
  options.nets.push_back({.name = "service"});
  options.nets.push_back({.name = "service"});
  options.blocks.push_back({.name = "storage", .path = "d"});
  EXPECT_THAT(check_attachments(options, service_and_storage()), HasSubstr("attached twice"));
}

TEST(Usage, DocumentsEveryOptionAndExitStatus) {
  std::string monitor = usage(Mode::kMonitor, "morgana-hvt");
  for (const char* needle : {"usage: morgana-hvt", "IMAGE", "--mem=MiB", "--net:NAME=tap:IFNAME",
                             "--net:NAME=user[,forward=tcp:HOSTADDR:HOSTPORT-:GUESTPORT]",
                             "--net-mac:NAME=", "--block:NAME=FILE[,ro]", "--stats", "--help", "-h",
                             "0-125", "250", "251", "252", "253"}) {
    EXPECT_THAT(monitor, HasSubstr(needle));
  }
  std::string unix_text = usage(Mode::kUnix, "hello.unix");
  EXPECT_THAT(unix_text, HasSubstr("usage: hello.unix [options] [--] [app args]"));
  EXPECT_THAT(unix_text, HasSubstr("--net:NAME=tap:IFNAME"));
  EXPECT_THAT(unix_text, HasSubstr("--block:NAME=FILE[,ro]"));
  EXPECT_THAT(unix_text, ::testing::Not(HasSubstr("--mem")));
  EXPECT_THAT(unix_text, ::testing::Not(HasSubstr("=user")));
  EXPECT_THAT(unix_text, HasSubstr("250"));
}

}  // namespace
}  // namespace morgana::host
