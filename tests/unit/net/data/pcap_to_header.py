#!/usr/bin/env python3
"""Turns the pcap files capture.sh wrote into one header per capture (arp.pcap -> arp.h,
clang-formatted): one constexpr byte array per frame, named after the capture (kPing1 is
the second frame of ping.pcap), each with tcpdump's one-line summary above it. With a
fuzz corpus directory, also writes every frame there as a seed for the packet fuzzer
(a 0 byte, its "whole frame" mode, then the frame).
Usage: pcap_to_header.py PCAP_DIR OUT_DIR [FUZZ_CORPUS_DIR]"""
import os
import struct
import subprocess
import sys

ORDER = ["arp", "garp", "ping", "ping_frag", "udp", "tcp"]


def frames(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        yield data[off + 16:off + 16 + incl]
        off += 16 + incl


def summaries(path):
    out = subprocess.run(["tcpdump", "-r", path, "-nn", "-e", "-t"], capture_output=True,
                         text=True).stdout
    return [line.strip() for line in out.splitlines()]


def write_seeds(corpus, name, frame):
    """Seeds for fuzz/packet_fuzz.cc: mode 0 (whole frame), and for IPv4 frames mode 1
    (selector, transport segment) and, for TCP, mode 2 (the option list)."""
    os.makedirs(corpus, exist_ok=True)
    open(os.path.join(corpus, name), "wb").write(b"\x00" + frame)
    if frame[12:14] != b"\x08\x00" or frame[14] != 0x45:
        return
    protocol, segment = frame[23], frame[34:14 + (frame[16] << 8 | frame[17])]
    selector = {1: 0, 17: 1, 6: 2}.get(protocol)
    if selector is None or frame[20:22] not in (b"\x00\x00", b"\x40\x00"):
        return  # fragments other than whole datagrams carry no transport header
    open(os.path.join(corpus, name + "-l4"), "wb").write(bytes([1, selector]) + segment)
    if protocol == 6 and (segment[12] >> 4) > 5:
        options = segment[20:(segment[12] >> 4) * 4]
        open(os.path.join(corpus, name + "-options"), "wb").write(b"\x02" + options)


def camel(name):
    return "".join(part.capitalize() for part in name.split("_"))


def main():
    pcap_dir, out_dir = sys.argv[1], sys.argv[2]
    corpus = sys.argv[3] if len(sys.argv) > 3 else None
    for name in ORDER:
        path = os.path.join(pcap_dir, name + ".pcap")
        packets = list(frames(path))
        notes = summaries(path)
        lines = [
            f"// Real frames captured from Linux between two network namespaces ({name}.pcap of",
            "// tests/unit/net/data/capture.sh), converted by pcap_to_header.py: generated, edit",
            "// those, not this file. Each array is one Ethernet frame as it was on the wire.",
            "#pragma once", "", "#include <cstdint>", "",
            "namespace morgana::net::testdata {", ""
        ]
        for i, frame in enumerate(packets):
            lines.append(f"// #{i}: {notes[i] if i < len(notes) else ''}")
            lines.append(f"inline constexpr uint8_t k{camel(name)}{i}[{len(frame)}] = {{")
            for j in range(0, len(frame), 16):
                lines.append("    " + ", ".join(f"0x{b:02x}" for b in frame[j:j + 16]) + ",")
            lines.append("};")
            if corpus:
                write_seeds(corpus, f"{name}-{i}", frame)
        lines += ["", "}  // namespace morgana::net::testdata"]
        header = os.path.join(out_dir, f"{name}.h")
        open(header, "w").write("\n".join(lines) + "\n")
        subprocess.run(["clang-format", "-i", header], check=True)


main()
