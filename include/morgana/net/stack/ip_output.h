// What the transport layers (UDP, TCP) need from the interface below them: buffers, our
// address, a way to send a datagram, and a way to say a timer moved earlier. The stack's
// core implements it; the layers never see the device, ARP or routing.
#pragma once

#include <cstdint>

#include "morgana/net/address.h"
#include "morgana/net/buffer.h"
#include "morgana/net/ipv4.h"
#include "morgana/rt/result.h"

namespace morgana::net {

// The largest TCP payload one TSO segment carries: what fits an IPv4 datagram (65535
// bytes) beside the largest IPv4 and TCP headers we send (20 + 60).
inline constexpr uint32_t kTsoMaxPayload = 65535 - 20 - 60;

class IpOutput {
 public:
  // An empty packet with headroom for every header below the transport's; kNoMemory when
  // the pool is exhausted (the caller counts its own no_buffer drop).
  virtual Result<PacketBuffer> allocate() = 0;
  // An empty packet that holds a TSO segment (kTsoMaxPayload bytes of payload beside
  // every header); kNoMemory when none is free, or the device does no TSO.
  virtual Result<PacketBuffer> allocate_large() = 0;
  // The offloads the device does (platform::NetOffload). A packet that asks for them
  // (PacketBuffer::request_offload) may be as large as the IPv4 maximum when it is a
  // TSO segment: send_ipv4 never fragments it.
  virtual platform::NetOffloads offloads() const = 0;
  // Sends `packet` (the transport header and payload) to params.destination: prepends
  // the IPv4 header, fragments if it exceeds the MTU and fragmentation is allowed,
  // routes and resolves. False when it was dropped (counted by the IPv4 or ARP layer).
  virtual bool send_ipv4(const Ipv4SendParams& params, PacketBuffer packet) = 0;
  // Sends a datagram whose payload is given in two pieces that need not fit one buffer
  // (a large UDP datagram, an ICMP reply to a reassembled request), fragmenting it.
  virtual bool send_ipv4_copy(const Ipv4SendParams& params, Ipv4Payload payload) = 0;
  // Our address (unspecified until configured).
  virtual Ipv4Address address() const = 0;
  // The MTU of the interface.
  virtual uint16_t mtu() const = 0;
  // The loop's clock.
  virtual uint64_t now() const = 0;
  // A layer's next timer is now at `deadline_ns`, possibly earlier than before: the
  // interface's driver must wake by then.
  virtual void timer_armed(uint64_t deadline_ns) = 0;
  // A layer holds output back until the end of this turn of the event loop (TCP's
  // autocorking: a flow's writes of one turn leave together): the driver must run before
  // the loop sleeps and call the layer's push (StackCore::push).
  virtual void request_push() = 0;
  // True while frames wait for the device (it refused one: its queue is full) or the
  // packet pool runs low: TCP then holds new data back (TcpOutput::link_busy), and the
  // driver calls the TCP layer's resume once the device has taken the backlog.
  virtual bool link_busy() const { return false; }

 protected:
  ~IpOutput() = default;
};

}  // namespace morgana::net
