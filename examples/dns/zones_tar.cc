// load_zones() for the `dns_tar` image: every *.zone file of the tar archive (ustar, pax
// or GNU) on block device `storage`, read through kv::TarStore. The zones change by
// replacing the disk file and restarting the image, without rebuilding it.
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include "morgana/storage/kv_tar.h"
#include "morgana/storage/kv_tar_device.h"
#include "zone_source.h"

namespace dns_example {

namespace dns = morgana::dns;
namespace kv = morgana::kv;
using morgana::Errc;
using morgana::Error;
using morgana::Result;

namespace {

constexpr const char* kDevice = "storage";
// A zone file is read whole and parsed into records several times its size; the bound
// keeps a large file a clear refusal rather than an out-of-memory panic in a small image.
constexpr uint64_t kMaxZoneFile = 1 << 20;

// The zone a file serves: its name without directories and ".zone", made absolute.
std::string origin_of(std::string_view key) {
  size_t slash = key.rfind('/');
  std::string_view base = slash == std::string_view::npos ? key : key.substr(slash + 1);
  base.remove_suffix(std::string_view(".zone").size());
  return std::string(base) + ".";
}

}  // namespace

morgana::async::Task<Result<dns::Zones>> load_zones() {
  std::string why;
  auto disk = kv::TarDisk::open(kDevice, &why, "a tar archive of zone files");
  if (!disk) {
    std::printf("dns: %s\n", why.c_str());
    co_return disk.error();
  }
  const kv::TarStore& store = disk->store();

  dns::Zones zones;
  std::string text;
  for (std::string_view key : store.list()) {
    if (!key.ends_with(".zone")) continue;
    std::string file(key);
    std::string origin_text = origin_of(key);
    auto origin = dns::Name::parse(origin_text);
    if (origin_text == "." || !origin) {
      std::printf(
          "dns: block device '%s': %s: the file name does not give a zone name "
          "(NAME.zone serves NAME.)\n",
          kDevice, file.c_str());
      co_return Error{Errc::kInvalidArgument, "zone file name is not a domain name"};
    }
    kv::Stat stat = *store.stat(key);  // listed, so present
    if (stat.size > kMaxZoneFile) {
      std::printf(
          "dns: block device '%s': %s: %llu bytes, more than the %llu a zone file "
          "may have\n",
          kDevice, file.c_str(), (unsigned long long)stat.size, (unsigned long long)kMaxZoneFile);
      co_return Error{Errc::kOutOfRange, "zone file too large"};
    }
    text.assign(size_t(stat.size), '\0');
    auto got = co_await store.read(key, 0, {reinterpret_cast<uint8_t*>(text.data()), text.size()});
    if (!got || *got != text.size()) {
      std::printf("dns: block device '%s': %s: cannot read it (%s)\n", kDevice, file.c_str(),
                  got ? "short read" : morgana::errc_name(got.error().code));
      co_return got ? Error{Errc::kIo, "short read of a zone file"} : got.error();
    }
    dns::Diagnostic error;
    auto zone = dns::Zone::load(text, *origin, file, error);
    if (!zone) {
      std::printf("dns: block device '%s': %s\n", kDevice, error.message().c_str());
      co_return zone.error();
    }
    if (auto added = zones.add(std::move(*zone)); !added) {
      std::printf("dns: block device '%s': %s: zone %s is already loaded from another file\n",
                  kDevice, file.c_str(), origin_text.c_str());
      co_return added.error();
    }
    std::printf("dns: zone %s from %s on block device '%s'\n", origin_text.c_str(), file.c_str(),
                kDevice);
  }
  if (zones.size() == 0) {
    std::printf("dns: block device '%s' refused: the tar archive holds no *.zone files\n", kDevice);
    co_return Error{Errc::kNotFound, "no zone files on the disk"};
  }
  co_return zones;
}

}  // namespace dns_example
