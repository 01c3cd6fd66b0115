#!/usr/bin/env python3
# The Linux-side helpers of tests/integration/tcpip*.sh: checksums of what the examples
# send or receive, and a client holding many TCP connections to the echo example at once.
#
#   tcpip_peer.py crc32 FILE                      zlib crc32 of FILE, as discard prints it
#   tcpip_peer.py chargen-sha256 BYTES            sha256 of the first BYTES of chargen's stream
#   tcpip_peer.py echo-many HOST PORT COUNT SIZE [refusals-ok]
#       COUNT connections open at once, SIZE distinct bytes each, every echo checked; with
#       refusals-ok, stops opening connections at the first that fails (and says so)
import hashlib
import selectors
import socket
import struct
import sys
import time
import zlib


def crc32(path):
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    print("%08x" % crc)


def chargen_pattern():
    """RFC 864: 95 lines of 72 printable characters + CRLF, each starting one further on."""
    lines = []
    for line in range(95):
        lines.append(bytes(32 + (line + i) % 95 for i in range(72)) + b"\r\n")
    return b"".join(lines)


def chargen_sha256(count):
    period = chargen_pattern()
    block = period * 150  # about 1 MB, a whole number of periods
    digest = hashlib.sha256()
    while count >= len(block):
        digest.update(block)
        count -= len(block)
    digest.update(block[:count])
    print(digest.hexdigest())


def echo_many(host, port, count, size, refusals_ok):
    start = time.monotonic()
    selector = selectors.DefaultSelector()
    conns = []
    refused = ""
    # Every connection is established before any data flows, so all are open at once.
    for i in range(count):
        try:
            s = socket.create_connection((host, port), timeout=3 if refusals_ok else 10)
        except OSError as error:
            if not refusals_ok:
                raise
            refused = "; connection %d was not accepted (%s)" % (i + 1, error)
            count = i
            break
        s.setblocking(False)
        data = (struct.pack("!I", i) * (size // 4 + 1))[:size]
        state = {"sock": s, "out": data, "sent": 0, "got": bytearray(), "done": False}
        conns.append(state)
        selector.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, state)
    connected = time.monotonic() - start
    deadline = time.monotonic() + (20 if refusals_ok else 60)
    remaining = count
    while remaining and time.monotonic() < deadline:
        for key, events in selector.select(timeout=1):
            st = key.data
            if events & selectors.EVENT_WRITE and st["sent"] < len(st["out"]):
                try:
                    st["sent"] += st["sock"].send(st["out"][st["sent"]:st["sent"] + 65536])
                except BlockingIOError:
                    pass
                if st["sent"] == len(st["out"]):
                    st["sock"].shutdown(socket.SHUT_WR)
                    selector.modify(st["sock"], selectors.EVENT_READ, st)
            if events & selectors.EVENT_READ:
                try:
                    chunk = st["sock"].recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionError as error:
                    sys.exit("connection %d: %s after %d bytes back" %
                             (conns.index(st), error, len(st["got"])))
                if chunk:
                    st["got"] += chunk
                else:
                    selector.unregister(st["sock"])
                    st["sock"].close()
                    st["done"] = True
                    remaining -= 1
    elapsed = time.monotonic() - start
    for i, st in enumerate(conns):
        if not st["done"]:
            sys.exit("connection %d of %d did not finish in 60 s (sent %d, %d of %d bytes back)" %
                     (i, count, st["sent"], len(st["got"]), size))
        if bytes(st["got"]) != st["out"]:
            sys.exit("connection %d of %d: the echoed bytes differ" % (i, count))
    print("%d connections open at once (all connected in %.2f s), %d bytes each echoed "
          "intact in %.2f s (%.1f MB/s each way)%s" %
          (count, connected, size, elapsed, count * size / elapsed / 1e6, refused))


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "crc32":
        crc32(args[0])
    elif command == "chargen-sha256":
        chargen_sha256(int(args[0]))
    elif command == "echo-many":
        echo_many(args[0], int(args[1]), int(args[2]), int(args[3]),
                  len(args) > 4 and args[4] == "refusals-ok")
    else:
        sys.exit("unknown command " + command)


if __name__ == "__main__":
    main()
