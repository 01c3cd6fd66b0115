#!/usr/bin/env python3
"""Turns dhcp_capture.sh's pcap into a header (dhcp.h, clang-formatted): one constexpr byte
array per frame (kDhcp0, kDhcp1, ...), each with tcpdump's verbose decode above it, and,
with a corpus directory, each frame's BOOTP payload as a seed for fuzz/dhcp_fuzz.cc
(a 0 byte, its "parse" mode, then the payload).
Usage: dhcp_to_header.py PCAP OUT_HEADER [FUZZ_CORPUS_DIR]"""
import os
import struct
import subprocess
import sys


def frames(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        yield data[off + 16:off + 16 + incl]
        off += 16 + incl


def decodes(path):
    """tcpdump -vv per frame: the first line and its indented continuation lines."""
    out = subprocess.run(["tcpdump", "-r", path, "-nn", "-e", "-t", "-vv"], capture_output=True,
                         text=True).stdout
    result = []
    for line in out.splitlines():
        if line[:1].isspace() and result:
            result[-1].append(line.strip())
        else:
            result.append([line.strip()])
    return result


def main():
    pcap, header = sys.argv[1], sys.argv[2]
    corpus = sys.argv[3] if len(sys.argv) > 3 else None
    packets = list(frames(pcap))
    notes = decodes(pcap)
    lines = [
        "// A real DHCP exchange between systemd-networkd's server (10.77.0.1) and client",
        "// (02:00:00:77:00:02) in two network namespaces (dhcp_capture.sh), converted by",
        "// dhcp_to_header.py: generated, edit those, not this file. Each array is one Ethernet",
        "// frame as it was on the wire; the BOOTP payload starts at byte 42.",
        "#pragma once", "", "#include <cstdint>", "", "namespace morgana::net::testdata {", ""
    ]
    for i, frame in enumerate(packets):
        for j, note in enumerate(notes[i] if i < len(notes) else []):
            lines.append(("// #%d: " % i if j == 0 else "//   ") + note)
        lines.append(f"inline constexpr uint8_t kDhcp{i}[{len(frame)}] = {{")
        for j in range(0, len(frame), 16):
            lines.append("    " + ", ".join(f"0x{b:02x}" for b in frame[j:j + 16]) + ",")
        lines.append("};")
        if corpus:
            os.makedirs(corpus, exist_ok=True)
            open(os.path.join(corpus, f"networkd-{i}"), "wb").write(b"\x00" + frame[42:])
    lines += ["", "}  // namespace morgana::net::testdata"]
    open(header, "w").write("\n".join(lines) + "\n")
    subprocess.run(["clang-format", "-i", header], check=True)


main()
