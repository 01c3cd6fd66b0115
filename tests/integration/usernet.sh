#!/usr/bin/env bash
# User-mode networking (libslirp, no root). VM: tests/guest/usernet on
# --net:service=user,forward=tcp:127.0.0.1:PORT-:80. Peer: a TCP connect to
# 127.0.0.1:PORT from this host. The forward must deliver the SYN to the guest (raw
# frames; the TCP stack comes later), which prints it and exits 0.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

reason=$(mg_hvt_skip_reason hello)
[[ -z $reason ]] || mg_skip "hvt: $reason"
mg_require_commands python3
image=$MG_BUILD/tests/guest/usernet/usernet.hvt
[[ -f $image ]] || mg_fail "$image is not built"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mg_start --timeout 30 "$MG_HVT_MONITOR" --net:service=user,forward=tcp:127.0.0.1:$port-:80 "$image" --timeout-ms=20000

# Connect (repeatedly, until the guest is up and the forward listens) from loopback.
python3 - "$port" <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
deadline = time.time() + 20
while time.time() < deadline:
    s = socket.socket()
    s.settimeout(1.0)
    try:
        s.connect(("127.0.0.1", port))
        time.sleep(1.0)  # slirp delivers the SYN to the guest after accepting
    except OSError:
        time.sleep(0.1)
    finally:
        s.close()
PY
peer=$!
mg_on_exit "kill $peer 2>/dev/null || true"
mg_wait
kill "$peer" 2>/dev/null || true
mg_expect_status 0 "usernet guest"
mg_expect_stdout_contains "usernet: SYN from 10.0.2.2:"
mg_expect_stdout_contains "to 10.0.2.15:80"
mg_pass "a TCP connect to 127.0.0.1:$port reached the guest's port 80 as a SYN"

# The restricted network must refuse a forward to a host port that is already in use.
# The holder says when it listens (a loaded machine may take a while to start python).
ready=$MG_TMP/holder-ready
python3 -c 'import socket,time,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); open(sys.argv[2],"w").close(); time.sleep(30)' "$port" "$ready" &
holder=$!
mg_on_exit "kill $holder 2>/dev/null || true"
for _ in $(seq 200); do [[ -e $ready ]] && break; sleep 0.05; done
[[ -e $ready ]] || mg_fail "the port holder did not start listening within 10 s"
mg_run --timeout 10 "$MG_HVT_MONITOR" --net:service=user,forward=tcp:127.0.0.1:$port-:80 "$image"
mg_expect_status 253 "forward on a busy port"
mg_expect_stderr_contains "$port"
mg_pass "a forward on a busy port is refused (253)"
mg_done
