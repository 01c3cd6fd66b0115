// The virtio image's command-line splitter (src/platform/virtio/cmdline.cc): quoting, the
// `--` between platform options and the application's arguments, and the words QEMU's
// microvm appends to -append on its own (virtio_mmio.device=..., without ACPI).
#include "platform/virtio/cmdline.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace morgana::platform::virtio {
namespace {

struct Split {
  int argc = -1;
  std::vector<std::string> args;  // argv[1..argc)
  PlatformOptions options;
  std::string error;
};

Split split(const char* cmdline) {
  static char* argv[kMaxArgs + 1];
  static char strings[kMaxCmdline + 64];
  Split result;
  const char* error = nullptr;
  result.argc = split_cmdline(cmdline, "image.virtio", argv, strings, sizeof strings,
                              &result.options, &error);
  if (result.argc < 0) {
    result.error = error;
    return result;
  }
  EXPECT_STREQ(argv[0], "image.virtio");
  EXPECT_EQ(argv[result.argc], nullptr);
  for (int i = 1; i < result.argc; ++i) result.args.emplace_back(argv[i]);
  return result;
}

using Args = std::vector<std::string>;

TEST(VirtioCmdline, QuotesAndSeparator) {
  const Split s = split(R"(--stats -- first "second arg" 'it''s' a\ b "q\"uote" --)");
  ASSERT_EQ(s.argc, 7);
  EXPECT_TRUE(s.options.stats);
  EXPECT_EQ(s.args, (Args{"first", "second arg", "its", "a b", "q\"uote", "--"}));
}

TEST(VirtioCmdline, WithoutSeparatorEveryWordIsTheApplications) {
  const Split s = split("  --stats  x\t");
  EXPECT_FALSE(s.options.stats);
  EXPECT_EQ(s.args, (Args{"--stats", "x"}));
}

TEST(VirtioCmdline, UnknownPlatformOptionIsRefused) {
  const Split s = split("--verbose -- x");
  EXPECT_EQ(s.argc, -1);
  EXPECT_NE(s.error.find("unknown platform option"), std::string::npos);
  EXPECT_EQ(split("-- 'open").argc, -1);
}

// What QEMU 7.2 made of `-append '-- first "second arg" --quick'` with -M microvm,acpi=off
// and a virtio-net device on transport 3 (measured: the image printed the extra word).
TEST(VirtioCmdline, DropsTheWordsQemuMicrovmAppends) {
  const Split s = split(R"(-- first "second arg" --quick virtio_mmio.device=512@0xfeb00600:8)");
  EXPECT_EQ(s.args, (Args{"first", "second arg", "--quick"}));
  // One per transport with a device; an empty -append leaves only QEMU's words.
  EXPECT_EQ(split(" virtio_mmio.device=512@0xfeb00000:5 virtio_mmio.device=512@0xfeb00200:6").args,
            Args{});
  EXPECT_EQ(split("-- virtio_mmio.device=512@0xfeb00000:29").args, Args{});
  EXPECT_EQ(split("--stats -- x virtio_mmio.device=4K@0xd0000000:5:1").args, Args{"x"});
}

TEST(VirtioCmdline, IgnoresQemuWordsAmongPlatformOptions) {
  const Split s = split("virtio_mmio.device=512@0xfeb00000:5 --stats -- x");
  EXPECT_TRUE(s.options.stats);
  EXPECT_EQ(s.args, Args{"x"});
}

TEST(VirtioCmdline, KeepsWordsThatOnlyLookLikeQemus) {
  // Quoted, not at the end, or not exactly the grammar: the application's.
  EXPECT_EQ(split("-- 'virtio_mmio.device=512@0xfeb00000:5'").args,
            Args{"virtio_mmio.device=512@0xfeb00000:5"});
  EXPECT_EQ(split("-- virtio_mmio.device=512@0xfeb00000:5 x").args,
            (Args{"virtio_mmio.device=512@0xfeb00000:5", "x"}));
  for (const char* word :
       {"virtio_mmio.device=", "virtio_mmio.device=512", "virtio_mmio.device=512@0xfeb00000",
        "virtio_mmio.device=512@0xfeb00000:", "virtio_mmio.device=512@0xfeb00000:5:",
        "virtio_mmio.device=512@0xfeb00000:5x", "virtio_mmio.device=512@0x:5",
        "virtio_mmio.device=@0xfeb00000:5", "virtio_mmio.devices=512@0xfeb00000:5",
        "xvirtio_mmio.device=512@0xfeb00000:5"}) {
    const std::string cmdline = std::string("-- ") + word;
    EXPECT_EQ(split(cmdline.c_str()).args, Args{word}) << word;
  }
  // Before the --, a word that is not QEMU's is still an unknown platform option.
  EXPECT_EQ(split("virtio_mmio.device=512 -- x").argc, -1);
}

}  // namespace
}  // namespace morgana::platform::virtio
