// The device initialisation sequence of virtio 1.2 §3.1.1, common to both transports.
#include "platform/virtio/transport.h"

namespace morgana::platform::virtio {
namespace {

constexpr uint8_t kStatusAcknowledge = 1, kStatusDriver = 2, kStatusDriverOk = 4,
                  kStatusFeaturesOk = 8, kStatusFailed = 128;

}  // namespace

Result<uint64_t> Transport::negotiate(uint64_t wanted, uint64_t (*usable)(uint64_t)) {
  write_status(0);  // reset
  status_ = kStatusAcknowledge | kStatusDriver;
  write_status(status_);
  const uint64_t high = device_features(1);
  if (!(high << 32 & kFeatureVersion1)) {
    fail();
    return Error{Errc::kUnsupported, "the device does not offer VIRTIO_F_VERSION_1"};
  }
  const uint64_t offered = high << 32 | device_features(0);
  uint64_t accepted = offered & wanted;
  if (usable) accepted = usable(accepted);
  accepted |= kFeatureVersion1;
  set_driver_features(0, static_cast<uint32_t>(accepted));
  set_driver_features(1, static_cast<uint32_t>(accepted >> 32));
  status_ |= kStatusFeaturesOk;
  write_status(status_);
  if (!(read_status() & kStatusFeaturesOk)) {
    fail();
    return Error{Errc::kUnsupported, "the device refused the driver's features"};
  }
  return accepted;
}

void Transport::driver_ok() {
  status_ |= kStatusDriverOk;
  write_status(status_);
}

void Transport::fail() {
  status_ |= kStatusFailed;
  write_status(status_);
}

}  // namespace morgana::platform::virtio
