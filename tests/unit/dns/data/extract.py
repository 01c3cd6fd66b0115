#!/usr/bin/env python3
# Splits a tcpdump capture of DNS exchanges into one query and one response file per
# exchange, named in the order the exchanges began. Used by capture.sh.
# Usage: extract.py CAPTURE.pcap OUTPUT_DIR NAME...
import struct
import sys


def packets(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    assert linktype == 1, "expected an Ethernet capture"
    offset = 24
    while offset + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[offset:offset + 16])
        yield data[offset + 16:offset + 16 + caplen]
        offset += 16 + caplen


def segments(path):
    """(protocol, client port, to_server, seq, payload) for each IPv4 DNS packet."""
    for frame in packets(path):
        if struct.unpack(">H", frame[12:14])[0] != 0x0800:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        proto = ip[9]
        body = ip[ihl:total]
        sport, dport = struct.unpack(">HH", body[:4])
        to_server = dport == 53
        client = sport if to_server else dport
        if proto == 17:
            yield ("udp", client, to_server, 0, body[8:])
        elif proto == 6:
            seq = struct.unpack(">I", body[4:8])[0]
            data_offset = (body[12] >> 4) * 4
            yield ("tcp", client, to_server, seq, body[data_offset:])


def main():
    path, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    streams = {}
    order = []
    for proto, client, to_server, seq, payload in segments(path):
        key = (proto, client)
        if key not in streams:
            if not payload:
                streams[key] = None  # a TCP handshake: wait for the first data
            else:
                streams[key] = {True: {}, False: {}}
                order.append(key)
        if payload:
            if streams[key] is None:
                streams[key] = {True: {}, False: {}}
                order.append(key)
            streams[key][to_server].setdefault(seq, payload)
    if len(order) != len(names):
        sys.exit(f"extract: {len(order)} exchanges captured for {len(names)} queries")
    for name, key in zip(names, order):
        for to_server, suffix in ((True, "query"), (False, "response")):
            parts = streams[key][to_server]
            if not parts:
                sys.exit(f"extract: {name}: no {suffix}")
            if key[0] == "udp":
                message = parts[0]
            else:
                stream = b"".join(parts[s] for s in sorted(parts))
                length = struct.unpack(">H", stream[:2])[0]
                message = stream[2:2 + length]
            with open(f"{out}/{name}.{suffix}.bin", "wb") as f:
                f.write(message)
    print(f"extract: {len(names)} exchanges written to {out}")


main()
