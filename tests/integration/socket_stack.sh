#!/usr/bin/env bash
# Integration test of the host-socket stack (SocketStack, `--stack=socket`, unix target).
# The image is tests/guest/socket_echo, written only against net::Stack, built by
# `morgana build -t unix --stack=socket` in its own tree and run as a process bound to
# 127.0.0.1 (--ipv4=127.0.0.1/8). Peers, all on loopback: nc (netcat-openbsd) pushes a
# 10 MB random file through the TCP echo and the checksums must match; python3 sends UDP
# datagrams and checks each echo, holds 200 TCP connections open at once with distinct
# data on each, and resets connections mid-transfer, after which the server must still
# echo. At start the server connects to itself once (the client side of the API). A "QUIT"
# datagram ends the server, which must exit 0 with its counters.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mg_require_commands nc python3 sha256sum timeout head

morgana=$MG_BUILD/bin/morgana
[[ -x $morgana ]] || mg_fail "$morgana is not built"

mg_log "building socket_echo with --stack=socket"
MG_LAST_CMD="$morgana build -t unix --stack=socket tests/guest/socket_echo"
MG_STATUS=0
MG_OUT=$(cd "$MG_SOURCE" && "$morgana" build -t unix --stack=socket tests/guest/socket_echo 2>"$MG_TMP/build.err") ||
  MG_STATUS=$?
MG_ERR=$(tail -n 40 "$MG_TMP/build.err")
mg_expect_status 0 "morgana build -t unix --stack=socket"
image=$(printf '%s\n' "$MG_OUT" | tail -n 1)
[[ $image == "$MG_BUILD/stack-socket/tests/guest/socket_echo/socket_echo.unix" && -x $image ]] ||
  mg_fail "morgana build printed '$image', not the socket-stack image"

mg_run "$morgana" build -t hvt --stack=socket tests/guest/socket_echo
mg_expect_status 2 "--stack=socket on hvt"
mg_expect_stderr_contains "--stack=socket is for -t unix only"
mg_pass "--stack=socket builds a unix image and is refused for hvt"

# The server: it prints its ephemeral ports once it listens.
mg_start --timeout 240 "$image" -- --ipv4=127.0.0.1/8
server_pid=$MG_PID
tcp_port="" udp_port=""
for _ in $(seq 100); do
  line=$(grep -m1 '^socket_echo: tcp port' "$MG_TMP/stdout" 2>/dev/null || true)
  if [[ -n $line ]]; then
    read -r _ _ _ tcp_port _ _ udp_port <<<"$line"
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $tcp_port ]]; then
  mg_stop
  MG_OUT=$(cat "$MG_TMP/stdout") MG_ERR=$(cat "$MG_TMP/stderr")
  mg_fail "socket_echo did not report its ports"
fi
mg_log "socket_echo listens on 127.0.0.1: tcp $tcp_port, udp $udp_port"

# Fails the test with the server's output so far.
server_fail() {
  mg_stop
  MG_OUT=$(cat "$MG_TMP/stdout") MG_ERR=$(cat "$MG_TMP/stderr")
  mg_fail "$*"
}

# 1. A 10 MB stream: nc -N half-closes after its input, then waits for our FIN.
head -c 10000000 /dev/urandom >"$MG_TMP/random.bin"
timeout 60 nc -N 127.0.0.1 "$tcp_port" <"$MG_TMP/random.bin" >"$MG_TMP/echoed.bin" ||
  server_fail "nc through the TCP echo failed"
sent=$(sha256sum <"$MG_TMP/random.bin" | cut -d' ' -f1)
echoed=$(sha256sum <"$MG_TMP/echoed.bin" | cut -d' ' -f1)
[[ $sent == "$echoed" ]] ||
  server_fail "10 MB through TCP: sent sha256 $sent, got back $(stat -c %s "$MG_TMP/echoed.bin") bytes with sha256 $echoed"
mg_pass "10 MB of random bytes echoed over TCP (sha256 $sent)"

# 2-4. UDP datagrams, 200 concurrent connections, resets: python3 as the peer.
peer_status=0
peer=$(timeout 120 python3 - "$tcp_port" "$udp_port" <<'PY' 2>&1
import os, selectors, socket, struct, sys, time

tcp_port, udp_port = int(sys.argv[1]), int(sys.argv[2])
host = "127.0.0.1"

def fail(message):
    print("FAIL: " + message)
    sys.exit(1)

# UDP: each datagram comes back whole, including an empty one and a 60000-byte one.
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.settimeout(5)
for payload in [b"one", b"", os.urandom(1400), os.urandom(60000), b"last datagram"]:
    udp.sendto(payload, (host, udp_port))
    try:
        data, sender = udp.recvfrom(65536)
    except socket.timeout:
        fail("no UDP echo for a %d-byte datagram" % len(payload))
    if data != payload or sender != (host, udp_port):
        fail("UDP echo of %d bytes came back as %d bytes from %s" % (len(payload), len(data), sender))
print("ok: 5 UDP datagrams (0 to 60000 bytes) echoed")

def echo_many(count, size):
    """count connections open at once, each sending `size` distinct bytes."""
    selector = selectors.DefaultSelector()
    conns = []
    for i in range(count):
        s = socket.create_connection((host, tcp_port), timeout=10)
        s.setblocking(False)
        data = struct.pack("!I", i) * (size // 4)
        state = {"sock": s, "out": data, "sent": 0, "got": bytearray(), "want": data, "done": False}
        conns.append(state)
        selector.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, state)
    deadline = time.time() + 60
    remaining = count
    while remaining and time.time() < deadline:
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
                if chunk:
                    st["got"] += chunk
                else:
                    selector.unregister(st["sock"])
                    st["sock"].close()
                    st["done"] = True
                    remaining -= 1
    for i, st in enumerate(conns):
        if not st["done"]:
            fail("connection %d of %d did not finish (%d of %d bytes back)" % (i, count, len(st["got"]), size))
        if bytes(st["got"]) != st["want"]:
            fail("connection %d of %d: echoed bytes differ" % (i, count))

echo_many(200, 64 * 1024)
print("ok: 200 concurrent connections, 64 KiB each, echoed intact")

# Resets: a client that resets mid-transfer (the server may be blocked writing to it)
# must end only its own connection.
for _ in range(10):
    s = socket.create_connection((host, tcp_port), timeout=10)
    s.sendall(os.urandom(1 << 20))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # RST
time.sleep(0.2)
echo_many(5, 4096)
print("ok: 10 clients reset mid-transfer; the server still echoes")
PY
) || peer_status=$?
printf '%s\n' "$peer"
[[ $peer_status -eq 0 ]] || server_fail "python3 peer failed (status $peer_status)"

# 5. QUIT: the server prints its counters and exits 0.
python3 -c 'import socket, sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"QUIT", ("127.0.0.1", int(sys.argv[1])))' "$udp_port"
mg_wait
mg_expect_status 0 "socket_echo after QUIT"
mg_expect_stdout_contains "socket stack: tcp accepted 217 opened 1 refused 0 open 0, bytes in "
mg_expect_lines_in_order "socket_echo: self-check ok" "socket_echo: bye"
kill -0 "$server_pid" 2>/dev/null && mg_fail "socket_echo still runs"
mg_pass "QUIT ends the server with status 0 and its counters: $(grep '^socket stack:' <<<"$MG_OUT")"

# Bad options are refused with a message naming the option.
mg_run "$image" -- --ipv4=127.0.0.1/8 --ipv4-gateway=10.0.0.1
mg_expect_status 2 "a gateway outside the prefix"
mg_expect_stdout_contains "--ipv4-gateway=10.0.0.1: not inside the --ipv4 prefix"
mg_pass "a bad network option is refused, naming it"

# The website on the host's sockets: examples/website built by `morgana build -t unix
# --stack=socket`, run as a process bound to 127.0.0.1 on a free port (--port=N). Peer:
# curl on loopback, which fetches every file of examples/website/site byte-identical (and
# through its gzip variant), the index, the directory redirect and the 404 page; SIGTERM
# then ends the process with 128+15.
check_website_on_sockets() {
  local site=$MG_SOURCE/examples/website/site website port url file rel count=0
  MG_LAST_CMD="$morgana build -t unix --stack=socket examples/website"
  MG_STATUS=0
  MG_OUT=$(cd "$MG_SOURCE" && "$morgana" build -t unix --stack=socket examples/website 2>"$MG_TMP/build.err") ||
    MG_STATUS=$?
  MG_ERR=$(tail -n 40 "$MG_TMP/build.err")
  mg_expect_status 0 "morgana build -t unix --stack=socket examples/website"
  website=$(printf '%s\n' "$MG_OUT" | tail -n 1)
  [[ $website == "$MG_BUILD/stack-socket/examples/website/website.unix" && -x $website ]] ||
    mg_fail "morgana build printed '$website', not the socket-stack website"

  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  url=http://127.0.0.1:$port
  mg_start --timeout 120 "$website" -- --ipv4=127.0.0.1/8 --port="$port"
  for _ in $(seq 100); do
    curl -s -o /dev/null --max-time 1 "$url/" && break
    kill -0 "$MG_PID" 2>/dev/null || { mg_wait; mg_fail "the website ended before serving"; }
    sleep 0.1
  done
  curl -s -o /dev/null --max-time 2 "$url/" || server_fail "the website did not answer on $url"
  while IFS= read -r -d '' file; do
    rel=${file#"$site"/}
    curl -sf "$url/$rel" -o "$MG_TMP/got" || server_fail "GET /$rel failed"
    cmp -s "$file" "$MG_TMP/got" || server_fail "GET /$rel is not byte-identical to $file"
    curl -sf --compressed "$url/$rel" -o "$MG_TMP/got" || server_fail "GET /$rel (gzip) failed"
    cmp -s "$file" "$MG_TMP/got" || server_fail "GET /$rel with Accept-Encoding differs after decoding"
    count=$((count + 1))
  done < <(find "$site" -type f -print0)
  cmp -s "$site/index.html" <(curl -sf "$url/") || server_fail "/ is not index.html"
  [[ $(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$url/guide") == "301 $url/guide/" ]] ||
    server_fail "/guide does not redirect to /guide/"
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/missing.html") == 404 ]] || server_fail "no 404"
  kill -TERM "$MG_PID"
  mg_wait
  mg_expect_status 143 "the website after SIGTERM"
  mg_expect_stdout_contains "website: listening on 127.0.0.1"
  grep -q '^http: 127.0.0.1:[0-9]* "GET /index.html HTTP/1.1" 200 ' <<<"$MG_OUT" ||
    mg_fail "no access log line for GET /index.html"
  mg_pass "the website on host sockets: $count files byte-identical over loopback port $port (identity and gzip), redirect, 404, SIGTERM"
}
check_website_on_sockets
mg_done
