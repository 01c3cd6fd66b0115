#!/usr/bin/env python3
"""The DNS peer of tests/integration/dns.sh for what dig and kdig cannot do: malformed
queries, pipelined TCP queries, an idle TCP connection, and bursts against the rate
limit. Messages are built byte by byte (RFC 1035 §4.1) so nothing needs dnspython.

  dns_peer.py malformed SERVER      garbage over UDP and TCP: FORMERR or nothing, then service
  dns_peer.py pipeline SERVER N     N queries in one TCP write, N answers in order
  dns_peer.py idle SERVER MAX       an idle TCP connection is closed within MAX seconds
  dns_peer.py burst SERVER N        N UDP queries at once: prints answered/slipped/silent
  dns_peer.py connections SERVER N  N connections are served, the N+1th is closed at once
Exit status 0 when the check holds; a line on stdout says what was seen.
"""
import socket
import struct
import sys
import time


def name_wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(qid, name, qtype=1, edns=None):
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    body = name_wire(name) + struct.pack("!HH", qtype, 1)
    if edns:
        body += b"\0" + struct.pack("!HHIH", 41, edns, 0, 0)
    return header + body


def parse_header(message):
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", message[:12])
    return {"id": qid, "qr": flags >> 15, "tc": (flags >> 9) & 1, "rcode": flags & 0xF,
            "qd": qd, "an": an}


def udp_exchange(server, payload, timeout=0.5):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, (server, 53))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def tcp_read_message(s):
    prefix = recv_exact(s, 2)
    if prefix is None:
        return None
    return recv_exact(s, struct.unpack("!H", prefix)[0])


def fail(text):
    print("FAIL: " + text)
    sys.exit(1)


# Malformed queries, each with the ID it carries (None: too short to have one).
MALFORMED = [
    ("5 bytes", None, b"\x12\x34\x01\x00\x00"),
    ("question count 1, no question", 0x1001, struct.pack("!HHHHHH", 0x1001, 0x0100, 1, 0, 0, 0)),
    ("compression loop", 0x1002,
     struct.pack("!HHHHHH", 0x1002, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01"),
    ("label past the end", 0x1003,
     struct.pack("!HHHHHH", 0x1003, 0x0100, 1, 0, 0, 0) + b"\x3fabc"),
    ("trailing garbage", 0x1004, query(0x1004, "www.morgana.test") + b"\xde\xad\xbe\xef"),
    ("two OPT records", 0x1005,
     struct.pack("!HHHHHH", 0x1005, 0x0100, 1, 0, 0, 2) + name_wire("www.morgana.test") +
     struct.pack("!HH", 1, 1) + (b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0)) * 2),
    ("a response", None, query(0x1006, "www.morgana.test")[:2] + b"\x81\x00" +
     query(0x1006, "www.morgana.test")[4:]),
    ("random bytes", 0xA5A5, bytes([0xA5] * 40)),
]


def check_malformed_reply(what, qid, reply):
    if reply is None:
        return "dropped"
    h = parse_header(reply)
    if qid is None or h["qr"] != 1 or h["id"] != qid or h["rcode"] != 1:
        fail(f"{what}: expected FORMERR with id {qid} or nothing, got {h}")
    return "FORMERR"


def service_continues(server):
    reply = udp_exchange(server, query(0x4242, "www.morgana.test"), timeout=2)
    if reply is None or parse_header(reply)["rcode"] != 0 or parse_header(reply)["an"] != 1:
        fail("no answer to a valid query after the malformed ones")


def malformed(server):
    seen = []
    for what, qid, payload in MALFORMED:
        seen.append(what + ": " + check_malformed_reply(what, qid, udp_exchange(server, payload)))
        service_continues(server)
    # Over TCP: a framed malformed message, then a valid one on a new connection.
    for what, qid, payload in MALFORMED[1:4]:
        with socket.create_connection((server, 53), timeout=3) as s:
            s.sendall(struct.pack("!H", len(payload)) + payload)
            try:
                reply = tcp_read_message(s)
            except (socket.timeout, ConnectionResetError):
                reply = None
            seen.append("tcp " + what + ": " + check_malformed_reply(what, qid, reply))
    # A length no query needs: the server closes rather than buffer 64 KiB.
    with socket.create_connection((server, 53), timeout=3) as s:
        s.sendall(b"\xff\xff" + bytes(1000))
        try:
            closed = s.recv(1) == b""
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            closed = False
        seen.append("tcp 65535-byte length: " + ("closed" if closed else "kept open"))
    pipeline(server, 1, quiet=True)
    service_continues(server)
    print("; ".join(seen))


def pipeline(server, count, quiet=False):
    names = ["www.morgana.test", "mail.morgana.test", "ns1.morgana.test", "sip.morgana.test"]
    payload = b""
    for i in range(count):
        q = query(0x2000 + i, names[i % len(names)])
        payload += struct.pack("!H", len(q)) + q
    with socket.create_connection((server, 53), timeout=3) as s:
        s.sendall(payload)  # RFC 7766 §6.2.1.1: pipelined queries on one connection
        for i in range(count):
            reply = tcp_read_message(s)
            if reply is None:
                fail(f"connection closed after {i} of {count} answers")
            h = parse_header(reply)
            if h["id"] != 0x2000 + i or h["rcode"] != 0 or h["an"] != 1:
                fail(f"answer {i}: {h}")
    if not quiet:
        print(f"{count} pipelined queries answered in order on one connection")


def idle(server, limit):
    start = time.monotonic()
    with socket.create_connection((server, 53), timeout=limit + 5) as s:
        try:
            data = s.recv(1)
        except ConnectionResetError:
            data = b""
        waited = time.monotonic() - start
        if data != b"" or waited > limit:
            fail(f"idle connection still open after {waited:.1f} s")
    print(f"idle connection closed after {waited:.1f} s")


def burst(server, count):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        for i in range(count):
            s.sendto(query(i, "www.morgana.test", edns=1232), (server, 53))
        answered = slipped = 0
        try:
            while True:
                h = parse_header(s.recv(65535))
                if h["tc"]:
                    slipped += 1
                else:
                    answered += 1
        except socket.timeout:
            pass
    print(f"answered={answered} slipped={slipped} silent={count - answered - slipped}")


def connections(server, limit):
    held = [socket.create_connection((server, 53), timeout=3) for _ in range(limit)]
    time.sleep(0.3)  # let the server accept them all before the one too many
    with socket.create_connection((server, 53), timeout=3) as extra:
        q = query(0x3000, "www.morgana.test")
        try:
            extra.sendall(struct.pack("!H", len(q)) + q)
            refused = tcp_read_message(extra) is None
        except (ConnectionResetError, BrokenPipeError, socket.timeout):
            refused = True
        if not refused:
            fail(f"connection {limit + 1} was served")
    for i, s in enumerate(held):
        q = query(0x3001 + i, "www.morgana.test")
        s.sendall(struct.pack("!H", len(q)) + q)
        reply = tcp_read_message(s)
        if reply is None or parse_header(reply)["id"] != 0x3001 + i:
            fail(f"held connection {i} not served")
        s.close()
    print(f"{limit} connections served, connection {limit + 1} closed at once")


def main():
    command, server = sys.argv[1], sys.argv[2]
    if command == "malformed":
        malformed(server)
    elif command == "pipeline":
        pipeline(server, int(sys.argv[3]))
    elif command == "idle":
        idle(server, float(sys.argv[3]))
    elif command == "burst":
        burst(server, int(sys.argv[3]))
    elif command == "connections":
        connections(server, int(sys.argv[3]))
    else:
        fail("unknown command " + command)


if __name__ == "__main__":
    main()
