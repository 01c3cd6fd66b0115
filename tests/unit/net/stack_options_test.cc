// The network options parser: every option's accepted and refused forms, the messages
// that name the option at fault, and that other arguments reach the application in order.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "morgana/net/stack_options.h"

namespace morgana::net {
namespace {

struct Parsed {
  std::optional<StackOptions> options;
  std::vector<std::string> rest;
  std::string error;
};

Parsed parse(std::initializer_list<const char*> args) {
  std::vector<std::string> storage(args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : storage) argv.push_back(arg.data());
  std::vector<char*> rest;
  StackOptionsError error;
  Parsed out;
  out.options = parse_stack_options(argv, rest, error);
  for (char* arg : rest) out.rest.emplace_back(arg);
  out.error = error.message;
  return out;
}

Ipv4Address ip(const char* text) {
  return Ipv4Address::parse(text).value();
}

TEST(StackOptions, DefaultsWithoutOptions) {
  Parsed p = parse({});
  ASSERT_TRUE(p.options);
  EXPECT_FALSE(p.options->ipv4);
  EXPECT_FALSE(p.options->gateway);
  EXPECT_FALSE(p.options->dhcp);
  EXPECT_EQ(p.options->congestion, CongestionAlgorithm::kCubic);
  EXPECT_TRUE(p.options->sack);
  EXPECT_TRUE(p.options->timestamps);
  EXPECT_TRUE(p.options->window_scaling);
  EXPECT_EQ(p.options->tcp_send_buffer, 256u * 1024);
  EXPECT_EQ(p.options->tcp_receive_buffer, 256u * 1024);
  EXPECT_EQ(p.options->tcp_send_buffer_max, 4u * 1024 * 1024);  // autotuned
  EXPECT_EQ(p.options->tcp_receive_buffer_max, 4u * 1024 * 1024);
  EXPECT_EQ(p.options->max_connections, 1024u);
  EXPECT_FALSE(p.options->stats);
  EXPECT_TRUE(p.rest.empty());
}

TEST(StackOptions, EveryOption) {
  Parsed p = parse({"--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.0.1", "--dhcp", "--tcp-cc=newreno",
                    "--tcp-no-sack", "--tcp-no-timestamps", "--tcp-no-wscale", "--tcp-sndbuf=4096",
                    "--tcp-rcvbuf=16777216", "--tcp-max-connections=7", "--net-stats"});
  ASSERT_TRUE(p.options) << p.error;
  ASSERT_TRUE(p.options->ipv4);
  EXPECT_EQ(p.options->ipv4->address, ip("10.0.0.2"));
  EXPECT_EQ(p.options->ipv4->length, 24);
  EXPECT_EQ(p.options->gateway, ip("10.0.0.1"));
  EXPECT_TRUE(p.options->dhcp);
  EXPECT_EQ(p.options->congestion, CongestionAlgorithm::kNewReno);
  EXPECT_FALSE(p.options->sack);
  EXPECT_FALSE(p.options->timestamps);
  EXPECT_FALSE(p.options->window_scaling);
  EXPECT_EQ(p.options->tcp_send_buffer, 4096u);
  EXPECT_EQ(p.options->tcp_receive_buffer, 16u * 1024 * 1024);
  // A size given is fixed: no autotuning.
  EXPECT_EQ(p.options->tcp_send_buffer_max, 4096u);
  EXPECT_EQ(p.options->tcp_receive_buffer_max, 16u * 1024 * 1024);
  EXPECT_EQ(p.options->max_connections, 7u);
  EXPECT_TRUE(p.options->stats);
  EXPECT_TRUE(p.rest.empty());
}

TEST(StackOptions, OtherArgumentsReachTheApplicationInOrder) {
  Parsed p = parse({"port", "--verbose", "--ipv4=192.168.1.5/16", "-x", "--tcp-cc=cubic", "8080"});
  ASSERT_TRUE(p.options) << p.error;
  EXPECT_EQ(p.rest, (std::vector<std::string>{"port", "--verbose", "-x", "8080"}));
  EXPECT_EQ(p.options->congestion, CongestionAlgorithm::kCubic);
}

TEST(StackOptions, DoubleDashEndsTheOptions) {
  Parsed p = parse({"--dhcp", "--", "--ipv4=bogus", "--tcp-what"});
  ASSERT_TRUE(p.options) << p.error;
  EXPECT_TRUE(p.options->dhcp);
  EXPECT_FALSE(p.options->ipv4);
  EXPECT_EQ(p.rest, (std::vector<std::string>{"--", "--ipv4=bogus", "--tcp-what"}));
}

TEST(StackOptions, GatewayOrderDoesNotMatter) {
  Parsed p = parse({"--ipv4-gateway=10.1.2.1", "--ipv4=10.1.2.3/24"});
  ASSERT_TRUE(p.options) << p.error;
  EXPECT_EQ(p.options->gateway, ip("10.1.2.1"));
}

TEST(StackOptions, GatewayWithoutIpv4IsKept) {
  // With DHCP the prefix comes later: the lease decides whether the gateway fits.
  Parsed p = parse({"--dhcp", "--ipv4-gateway=172.16.0.1"});
  ASSERT_TRUE(p.options) << p.error;
  EXPECT_EQ(p.options->gateway, ip("172.16.0.1"));
}

TEST(StackOptions, PointToPointPrefixes) {
  EXPECT_TRUE(parse({"--ipv4=10.0.0.0/31"}).options);  // RFC 3021
  EXPECT_TRUE(parse({"--ipv4=10.0.0.7/32"}).options);
}

// Each refused argument, and a piece of the message it must produce.
struct Refusal {
  std::vector<const char*> args;
  const char* message;
};

TEST(StackOptions, RefusesBadValuesNamingTheOption) {
  const Refusal cases[] = {
      {{"--ipv4=10.0.0.2"}, "--ipv4=10.0.0.2: expected ADDR/PREFIX"},
      {{"--ipv4=10.0.0.256/24"}, "--ipv4=10.0.0.256/24: expected ADDR/PREFIX"},
      {{"--ipv4=10.0.0.2/33"}, "--ipv4=10.0.0.2/33: expected ADDR/PREFIX"},
      {{"--ipv4=010.0.0.2/24"}, "--ipv4=010.0.0.2/24: expected"},
      {{"--ipv4=10.0.0.0/24"}, "network or broadcast"},
      {{"--ipv4=10.0.0.255/24"}, "network or broadcast"},
      {{"--ipv4=0.0.0.0/0"}, "unicast"},
      {{"--ipv4=224.0.0.1/4"}, "unicast"},
      {{"--ipv4"}, "--ipv4: needs a value (--ipv4=ADDR/PREFIX)"},
      {{"--ipv4="}, "--ipv4=: expected ADDR/PREFIX"},
      {{"--ipv4-gateway=10.0.0"}, "--ipv4-gateway=10.0.0: not a dotted-quad"},
      {{"--ipv4-gateway=255.255.255.255"}, "unicast"},
      {{"--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.1.1"},
       "--ipv4-gateway=10.0.1.1: not inside the --ipv4 prefix 10.0.0.2/24"},
      {{"--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.0.2"}, "our own --ipv4 address"},
      {{"--dhcp=yes"}, "--dhcp=yes: takes no value"},
      {{"--net-stats=1"}, "--net-stats=1: takes no value"},
      {{"--tcp-no-sack=1"}, "takes no value"},
      {{"--tcp-cc=vegas"}, "--tcp-cc=vegas: unknown congestion control (cubic, newreno)"},
      {{"--tcp-cc"}, "--tcp-cc: needs a value"},
      {{"--tcp-sndbuf=4095"}, "--tcp-sndbuf=4095: must be a number of bytes from 4096"},
      {{"--tcp-sndbuf=16777217"}, "--tcp-sndbuf=16777217: must be"},
      {{"--tcp-rcvbuf=64k"}, "--tcp-rcvbuf=64k: must be"},
      {{"--tcp-rcvbuf=-5000"}, "--tcp-rcvbuf=-5000: must be"},
      {{"--tcp-rcvbuf=+5000"}, "--tcp-rcvbuf=+5000: must be"},
      {{"--tcp-rcvbuf=99999999999999999999"}, "must be"},
      {{"--tcp-max-connections=0"}, "--tcp-max-connections=0: must be a number from 1"},
      {{"--tcp-max-connections="}, "--tcp-max-connections=: must be"},
      {{"--tcp-nodelay"}, "--tcp-nodelay: unknown network option"},
      {{"--ipv4-address=10.0.0.1"}, "--ipv4-address=10.0.0.1: unknown network option"},
      {{"--dhcp", "--dhcp"}, "--dhcp: given more than once"},
      {{"--tcp-sndbuf=8192", "--tcp-sndbuf=9000"}, "--tcp-sndbuf=9000: given more than once"},
  };
  for (const Refusal& refusal : cases) {
    std::vector<std::string> storage(refusal.args.begin(), refusal.args.end());
    std::vector<char*> argv;
    for (std::string& arg : storage) argv.push_back(arg.data());
    std::vector<char*> rest;
    StackOptionsError error;
    EXPECT_FALSE(parse_stack_options(argv, rest, error)) << refusal.args.back();
    EXPECT_NE(error.message.find(refusal.message), std::string::npos)
        << "got '" << error.message << "', expected it to contain '" << refusal.message << "'";
  }
}

TEST(StackOptions, DefaultBuffersFollowTheHeap) {
  // Unbounded (the host, where parse_stack_options' defaults are these) and large heaps:
  // 256 KiB; a 4 MiB image's 2.4 MiB heap: 16 KiB; between, a 128th in whole 4 KiB.
  EXPECT_EQ(default_tcp_buffer(0), 256u * 1024);
  EXPECT_EQ(default_tcp_buffer(size_t{1} << 30), 256u * 1024);
  EXPECT_EQ(default_tcp_buffer(2469888), 16u * 1024);
  EXPECT_EQ(default_tcp_buffer(6393856), 48u * 1024);
  EXPECT_EQ(default_tcp_buffer(30658560), 232u * 1024);
  // Autotuning's bound: a 32nd of the heap in whole 4 KiB, from default_tcp_buffer() up
  // to 4 MiB.
  EXPECT_EQ(default_tcp_buffer_max(0), 4u * 1024 * 1024);
  EXPECT_EQ(default_tcp_buffer_max(size_t{1} << 30), 4u * 1024 * 1024);
  EXPECT_EQ(default_tcp_buffer_max(30658560), 932u * 1024);
  EXPECT_EQ(default_tcp_buffer_max(2469888), 72u * 1024);
  EXPECT_EQ(default_tcp_buffer_max(65536), 16u * 1024);  // never below the buffer itself
}

TEST(StackOptions, UsageListsEveryOption) {
  const std::string usage = stack_options_usage();
  for (const char* option : {"--ipv4=", "--ipv4-gateway=", "--dhcp", "--tcp-cc=", "--tcp-no-sack",
                             "--tcp-no-timestamps", "--tcp-no-wscale", "--tcp-sndbuf=",
                             "--tcp-rcvbuf=", "--tcp-max-connections=", "--net-stats"}) {
    EXPECT_NE(usage.find(option), std::string::npos) << option;
  }
}

}  // namespace
}  // namespace morgana::net
