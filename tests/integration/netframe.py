#!/usr/bin/env python3
"""Sends and receives raw Ethernet frames on one interface with an AF_PACKET socket.

A peer for integration tests of images that speak bare Ethernet (netecho). Standard
library only; needs CAP_NET_RAW. Run it inside the test's own network namespace.

  netframe.py echo IFACE --dst MAC [--ethertype 0x88b5] [--timeout S]
      Sends a frame with a random nonce to MAC, resending every 0.2 s (the image may
      not have attached to the tap yet), until a frame comes back with the MACs swapped
      and the same ethertype and payload. Exit 0 on success, 1 on timeout.
  netframe.py burst IFACE --dst MAC --count N [--timeout S]
      First an echo as above (so the image is attached), then N numbered frames sent
      back to back; exit 0 when every one came back, swapped and intact.
  netframe.py send IFACE --dst MAC --payload-hex HEX [--src MAC] [--ethertype T]
  netframe.py recv IFACE [--ethertype T] [--timeout S]
      Prints one received frame as "dst src type payload-hex"; exit 1 on timeout.
"""

import argparse
import os
import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # sll_pkttype of frames this host sent: our own, not the peer's
ETH_MIN_FRAME = 60  # without FCS; shorter frames are padded as a NIC would
EXPERIMENTAL_ETHERTYPE = 0x88B5  # IEEE 802 local experimental ethertype 1


def parse_mac(text):
    parts = text.split(":")
    if len(parts) != 6:
        raise argparse.ArgumentTypeError(f"bad MAC address '{text}'")
    try:
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad MAC address '{text}'") from None


def format_mac(raw):
    return ":".join(f"{b:02x}" for b in raw)


def open_socket(iface):
    """A raw socket bound to `iface` that sees every ethertype."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    # Room for a whole burst's echoes (the default ~200 KB holds about 270 frames); the
    # test runs as root, so FORCE lifts the rmem_max cap.
    sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
    sock.bind((iface, ETH_P_ALL))
    return sock


def interface_mac(sock):
    # getsockname() on a bound packet socket reports the interface's hardware address.
    return sock.getsockname()[4][:6]


def build_frame(dst, src, ethertype, payload):
    frame = dst + src + ethertype.to_bytes(2, "big") + payload
    return frame.ljust(ETH_MIN_FRAME, b"\0")


def receive(sock, deadline, ethertype=None):
    """The next frame that arrived from the peer (not one we sent), or None at deadline."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        readable, _, _ = select.select([sock], [], [], remaining)
        if not readable:
            return None
        frame, address = sock.recvfrom(65536)
        if address[2] == PACKET_OUTGOING or len(frame) < 14:
            continue
        if ethertype is not None and int.from_bytes(frame[12:14], "big") != ethertype:
            continue
        return frame


def command_echo(args):
    sock = open_socket(args.iface)
    src = args.src or interface_mac(sock)
    nonce = os.urandom(16)
    payload = b"morgana netframe echo " + nonce.hex().encode()
    frame = build_frame(args.dst, src, args.ethertype, payload)
    deadline = time.monotonic() + args.timeout
    sent = 0
    while time.monotonic() < deadline:
        try:
            sock.send(frame)
            sent += 1
        except OSError as error:  # e.g. the interface is not up yet: try again shortly
            print(f"netframe: send failed: {error}", file=sys.stderr)
        reply = receive(sock, min(deadline, time.monotonic() + 0.2), args.ethertype)
        if reply is None:
            continue
        if reply[:6] != src or reply[6:12] != args.dst:
            print(f"netframe: unexpected frame dst {format_mac(reply[:6])} src "
                  f"{format_mac(reply[6:12])}, want dst {format_mac(src)} src "
                  f"{format_mac(args.dst)}", file=sys.stderr)
            continue
        if reply[14:] != frame[14:]:
            # Perhaps an echo of an earlier run's frame; a corrupting echo shows up here
            # too and then ends in a timeout with this line before it.
            print("netframe: frame with other payload: " + reply[14:].hex(), file=sys.stderr)
            continue
        print(f"echo ok: {len(reply)} bytes from {format_mac(args.dst)} to {format_mac(src)}, "
              f"nonce {nonce.hex()}, after {sent} sends")
        return 0
    print(f"netframe: no echo from {format_mac(args.dst)} within {args.timeout} s "
          f"({sent} frames sent)", file=sys.stderr)
    return 1


def command_burst(args):
    if command_echo(args) != 0:
        return 1
    sock = open_socket(args.iface)
    src = args.src or interface_mac(sock)
    run = os.urandom(8)
    frames = {}
    for i in range(args.count):
        payload = b"morgana burst " + run.hex().encode() + i.to_bytes(4, "big") + bytes(range(64))
        frames[i] = build_frame(args.dst, src, args.ethertype, payload)
    start = time.monotonic()
    for frame in frames.values():
        sock.send(frame)
    deadline = start + args.timeout
    pending = set(frames)
    while pending:
        reply = receive(sock, deadline, args.ethertype)
        if reply is None:
            break
        # Payload: "morgana burst " (14 bytes), the run's 16 hex digits, a 4-byte index.
        if reply[:6] != src or reply[6:12] != args.dst or reply[14:44] != frames[0][14:44]:
            continue
        index = int.from_bytes(reply[44:48], "big")
        if index in pending and reply[14:] == frames[index][14:]:
            pending.discard(index)
    elapsed = (time.monotonic() - start) * 1000
    echoed = args.count - len(pending)
    print(f"burst: {echoed}/{args.count} frames echoed intact in {elapsed:.1f} ms")
    return 0 if not pending else 1


def command_send(args):
    sock = open_socket(args.iface)
    src = args.src or interface_mac(sock)
    sock.send(build_frame(args.dst, src, args.ethertype, bytes.fromhex(args.payload_hex)))
    return 0


def command_recv(args):
    sock = open_socket(args.iface)
    frame = receive(sock, time.monotonic() + args.timeout, args.ethertype)
    if frame is None:
        print(f"netframe: no frame within {args.timeout} s", file=sys.stderr)
        return 1
    ethertype = int.from_bytes(frame[12:14], "big")
    print(f"{format_mac(frame[:6])} {format_mac(frame[6:12])} {ethertype:04x} {frame[14:].hex()}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("echo", "burst", "send", "recv"):
        sub = commands.add_parser(name)
        sub.add_argument("iface")
        sub.add_argument("--ethertype", type=lambda t: int(t, 0), default=EXPERIMENTAL_ETHERTYPE)
        if name in ("echo", "burst", "send"):
            sub.add_argument("--dst", type=parse_mac, required=True)
            sub.add_argument("--src", type=parse_mac, help="default: the interface's MAC")
        if name in ("echo", "burst", "recv"):
            sub.add_argument("--timeout", type=float, default=10.0)
        if name == "burst":
            sub.add_argument("--count", type=int, default=500)
        if name == "send":
            sub.add_argument("--payload-hex", default="")
    args = parser.parse_args()
    commands = {"echo": command_echo, "burst": command_burst, "send": command_send,
                "recv": command_recv}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
