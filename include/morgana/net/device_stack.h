// DeviceStack<Device>: Morgana's own TCP/IP stack over one network device, satisfying the
// net::Stack concept (stack.h). The template is only the driver: one task that reads
// frames from the device into the core (morgana/net/stack/core.h), runs its timers and
// sleeps until the device has input, a timer is due or the core asks to be woken. Every
// protocol lives in the core, compiled once.
//
// Device is platform::NetDevice in an image, or a simulated device in tests:
//   DeviceId id(); std::array<uint8_t, 6> mac(); uint16_t mtu();
//   Result<size_t> read(std::span<uint8_t>);      // kAgain when nothing is pending
//   Result<void> write(std::span<const uint8_t>); // kAgain when it cannot take more now
// and, for a device with offloads (OffloadDevice: checksums, TSO/GRO), also
//   platform::NetOffloads offloads();
//   Result<size_t> read(std::span<uint8_t>, platform::NetFrameMeta&);
//   Result<void> write(std::span<const uint8_t>, const platform::NetFrameMeta&);
// and, for a device that can lend received frames in place (LendingDevice), also
//   Result<std::span<const uint8_t>> peek(platform::NetFrameMeta&);  // kUnsupported: copy
//   void release();
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "morgana/async/loop.h"
#include "morgana/async/scope.h"
#include "morgana/async/timeout.h"
#include "morgana/async/when_any.h"
#include "morgana/net/stack.h"
#include "morgana/net/stack/core.h"
#include "morgana/net/stack_options.h"
#include "morgana/rt/result.h"

namespace morgana::net {

// A device that can take work off the stack (platform::NetOffload). At namespace scope,
// so the driver's coroutine tests it through ordinary functions (g++ 12).
template <typename D>
concept OffloadDevice = requires(D& device, std::span<uint8_t> in, std::span<const uint8_t> out,
                                 platform::NetFrameMeta& meta) {
  { device.offloads() } -> std::convertible_to<platform::NetOffloads>;
  { device.read(in, meta) } -> std::same_as<Result<size_t>>;
  { device.write(out, meta) } -> std::same_as<Result<void>>;
};

// A device that can hand a received frame over where it lies (platform::NetDevice::peek),
// saving a copy of every byte received.
template <typename D>
concept LendingDevice = requires(D& device, platform::NetFrameMeta& meta) {
  { device.peek(meta) } -> std::same_as<Result<std::span<const uint8_t>>>;
  device.release();
};

template <typename Device>
class DeviceStack final : private LinkOutput {
 public:
  using TcpFlow = net::TcpFlow;
  using TcpListener = net::TcpListener;
  using UdpSocket = net::UdpSocket;

  // At most this many frames are taken from the device per turn of the driver, so a
  // flood cannot starve the application's tasks.
  static constexpr unsigned kFramesPerTurn = 64;
  // How soon the driver retries when the device refused a frame (its ring was full).
  static constexpr uint64_t kBlockedRetryNs = 50'000;
  // How often drain() looks at the closing connections.
  static constexpr uint64_t kDrainPollNs = 2'000'000;

  // Creates the stack and starts its driver on the current loop. The stack must be
  // destroyed before the loop, and after every flow, listener and socket taken from it.
  static Result<std::unique_ptr<DeviceStack>> create(Device device, const StackOptions& options,
                                                     const std::array<uint8_t, 32>& seed,
                                                     BufferConfig buffers = {}) {
    std::unique_ptr<DeviceStack> stack(new DeviceStack(std::move(device)));
    CoreConfig config;
    auto mac = stack->device_.mac();
    std::copy(mac.begin(), mac.end(), config.mac.bytes.begin());
    config.mtu = stack->device_.mtu();
    config.offloads = stack->offloads();
    config.options = options;
    config.buffers = buffers;
    config.seed = seed;
    stack->core_ = TRY(StackCore::create(config, *stack));
    TRY(stack->scope_.spawn(stack->drive()));
    return stack;
  }

  ~DeviceStack() = default;

  TcpLayer& tcp() { return core_->tcp(); }
  UdpLayer& udp() { return core_->udp(); }
  Ipv4Address ipv4_address() const { return core_->prefix().address; }
  async::Task<Result<void>> wait_configured() {
    while (!core_->configured()) CO_TRY(co_await core_->configured_event().wait());
    co_return Result<void>{};
  }
  void print_stats() { core_->print_stats(); }
  // Before the image exits: waits (at most `timeout_ns`) until every connection the
  // application closed has had its data and FIN acknowledged, so the peer gets the whole
  // stream. Connections still open are left as they are.
  async::Task<Result<void>> drain(uint64_t timeout_ns) {
    const uint64_t deadline = async::now() + timeout_ns;
    while ((core_->tcp().closing() > 0 || core_->output_blocked()) && async::now() < deadline)
      CO_TRY(co_await async::sleep_until(std::min(deadline, async::now() + kDrainPollNs)));
    co_return Result<void>{};
  }
  StackCore& core() { return *core_; }
  Device& device() { return device_; }
  const StackOptions& options() const { return core_->config().options; }

 private:
  explicit DeviceStack(Device device) : device_(std::move(device)) {}

  Result<void> transmit_frame(std::span<const uint8_t> frame) override {
    return device_.write(frame);
  }
  Result<void> transmit_offloaded(std::span<const uint8_t> frame,
                                  const platform::NetFrameMeta& meta) override {
    if constexpr (OffloadDevice<Device>) {
      return device_.write(frame, meta);
    } else {
      return Error{Errc::kUnsupported, "the device does no offloads"};
    }
  }

  platform::NetOffloads offloads() {
    if constexpr (OffloadDevice<Device>) {
      return device_.offloads();
    } else {
      return 0;
    }
  }
  Result<size_t> read_frame(std::span<uint8_t> frame, platform::NetFrameMeta& meta) {
    if constexpr (OffloadDevice<Device>) {
      return device_.read(frame, meta);
    } else {
      meta = {};
      return device_.read(frame);
    }
  }

  // Takes one received frame into the core: in place where the device lends it (the hvt
  // rings), else copied into `scratch`, sized at the first copy (a lending device never
  // needs its 64 KiB). False when none is pending.
  bool receive_one(std::vector<uint8_t>& scratch, platform::NetFrameMeta& meta) {
    if constexpr (LendingDevice<Device>) {
      if (lending_) {
        auto frame = device_.peek(meta);
        if (frame) {
          core_->receive_frame(*frame, meta);
          device_.release();
          return true;
        }
        if (frame.error().code != Errc::kUnsupported) return false;
        lending_ = false;  // this device (or its path) can only copy
      }
    }
    // Ethernet + two VLAN tags around an MTU-sized packet; with TSO, a merged segment
    // as large as an IPv4 datagram may arrive.
    if (scratch.empty())
      scratch.resize((offloads() & platform::kNetOffloadTso4) ? platform::kNetMaxOffloadFrame
                                                              : size_t(device_.mtu()) + 22);
    auto length = read_frame(scratch, meta);
    if (!length) return false;  // kAgain: nothing pending (errors are the device's to count)
    core_->receive_frame({scratch.data(), *length}, meta);
    return true;
  }

  async::Task<Result<void>> wait_device() { co_return co_await async::wait_readable(device_.id()); }
  async::Task<Result<void>> wait_wake() { co_return co_await core_->wake().wait(); }

  async::Task<Result<void>> drive() {
    std::vector<uint8_t> frame;
    platform::NetFrameMeta meta;
    core_->start();
    for (;;) {
      for (unsigned i = 0; i < kFramesPerTurn; ++i)
        if (!receive_one(frame, meta)) break;
      uint64_t now = async::now();
      if (now >= core_->next_deadline()) core_->tick();
      // What the application wrote since the last turn leaves now, as few large segments
      // (and, on hvt, few ring kicks) instead of one per write.
      core_->push();
      core_->flush();
      uint64_t deadline = core_->next_deadline();
      if (core_->output_blocked()) deadline = std::min(deadline, now + kBlockedRetryNs);
      core_->wake().reset();
      core_->armed(deadline);
      // Sleep until a frame arrives, the core's next timer, or the core's wake-up (a timer
      // armed earlier than `deadline`, output waiting for the device, or a flow's writes
      // waiting for push()).
      auto woke =
          co_await async::with_deadline(async::when_any(wait_device(), wait_wake()), deadline);
      if (!woke && woke.error().code == Errc::kCancelled) co_return woke.error();
      core_->armed(UINT64_MAX);
    }
  }

  Device device_;
  bool lending_ = true;  // until the device says it cannot lend
  std::unique_ptr<StackCore> core_;
  async::Scope scope_;  // the driver; declared last so it is destroyed first
};

}  // namespace morgana::net
