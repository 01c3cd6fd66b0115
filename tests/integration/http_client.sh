#!/usr/bin/env bash
# Morgana's HTTP client against nginx, on every target that can run here (unix, hvt).
# VM: examples/fetch (http::Client over Morgana's stack) at 10.0.0.2/24, attached to a tap,
# mgtap0, inside a network namespace this test creates and deletes. Peer, in the
# namespace: nginx from Debian (worker_processes 1) on 10.0.0.1:80 serving a directory
# made here: a 612-byte page, 1 MiB of random bytes, a page under `ssi on` (so nginx
# sends it chunked) and a missing file (nginx's 404 page). Checks on each target:
#   get    every path 3 times over one kept-alive connection (the image's summary and
#          nginx's log both say one connection): status, length, framing and the CRC-32
#          of each body equal the file's (the 404 page's: what curl gets)
#   head   HEAD of the 1 MiB file: 200, no body
#   close  a server that closes after each response (keepalive_timeout 0): each request
#          on a new connection, all bodies intact
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/tcpip_lib.bash"
tcpip_require nginx curl

readonly ns=mgt-httpc-$$ host=10.0.0.1 image=10.0.0.2
in_ns() { ip netns exec "$ns" "$@"; }
tcpip_netns "$ns"
tcpip_tap "$ns" "$host/24"
mg_targets fetch
tcpip_require_images fetch

# The content nginx serves.
www=$MG_TMP/www
mkdir -p "$www/chunked"
python3 - "$www" <<'PY'
import os, sys
www = sys.argv[1]
# nginx's own welcome page is 612 bytes; this one is too, as in bench/http.
head = b"<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome</title>\n</head>\n<body>\n<p>"
tail = b"</p>\n</body>\n</html>\n"
open(os.path.join(www, "small.html"), "wb").write(head + b"x" * (612 - len(head) - len(tail)) + tail)
open(os.path.join(www, "big.bin"), "wb").write(os.urandom(1 << 20))
# No SSI directives: nginx sends the file as it is, but chunked (its length is unknown
# to the SSI filter).
open(os.path.join(www, "chunked", "page.html"), "wb").write(b"<p>chunked by nginx</p>\n" * 500)
PY
crc32() { python3 -c 'import sys, zlib; print("%08x" % zlib.crc32(open(sys.argv[1], "rb").read()))' "$1"; }

# nginx_start KEEPALIVE_TIMEOUT: nginx in the namespace, logging each request with its
# connection's serial number; waits until it answers.
nginx_pid=""
nginx_start() {
  cat >"$MG_TMP/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
pid $MG_TMP/nginx.pid;
error_log $MG_TMP/nginx-error.log;
events { worker_connections 64; }
http {
  log_format conn '\$connection \$connection_requests "\$request" \$status \$body_bytes_sent';
  access_log $MG_TMP/nginx-access.log conn;
  keepalive_timeout $1;
  client_body_temp_path $MG_TMP/nginx-tmp;
  proxy_temp_path $MG_TMP/nginx-tmp;
  fastcgi_temp_path $MG_TMP/nginx-tmp;
  uwsgi_temp_path $MG_TMP/nginx-tmp;
  scgi_temp_path $MG_TMP/nginx-tmp;
  types { text/html html; application/octet-stream bin; }
  server {
    listen $host:80;
    root $www;
    location /chunked/ { ssi on; }
  }
}
EOF
  mkdir -p "$MG_TMP/nginx-tmp"
  : >"$MG_TMP/nginx-access.log"
  # Not through in_ns: $! must be nginx itself (ip netns exec execs it), not a subshell.
  ip netns exec "$ns" nginx -e "$MG_TMP/nginx-error.log" -c "$MG_TMP/nginx.conf" -p "$MG_TMP" \
    </dev/null >"$MG_TMP/nginx-output.log" 2>&1 &
  nginx_pid=$!
  mg_on_exit "kill $nginx_pid"
  for _ in $(seq 100); do
    in_ns curl -s -o /dev/null --max-time 1 "http://$host/small.html" && break
    sleep 0.05
  done
  in_ns curl -s -o /dev/null --max-time 1 "http://$host/small.html" ||
    mg_fail "nginx did not start: $(cat "$MG_TMP/nginx-error.log" "$MG_TMP/nginx-output.log")"
  : >"$MG_TMP/nginx-access.log"
}
nginx_stop() {
  kill "$nginx_pid" 2>/dev/null || true
  wait "$nginx_pid" 2>/dev/null || true
}

nginx_start 75
paths=(/small.html /big.bin /chunked/page.html /missing)
declare -A want_crc want_len want_status want_framing
for path in /small.html /big.bin /chunked/page.html; do
  want_crc[$path]=$(crc32 "$www$path")
  want_len[$path]=$(stat -c %s "$www$path")
  want_status[$path]=200
  want_framing[$path]=length
done
want_framing[/chunked/page.html]=chunked
in_ns curl -s -o "$MG_TMP/404.html" "http://$host/missing"
want_crc[/missing]=$(crc32 "$MG_TMP/404.html")
want_len[/missing]=$(stat -c %s "$MG_TMP/404.html")
want_status[/missing]=404
want_framing[/missing]=length
# What curl sees is the baseline: the chunked page really is chunked.
in_ns curl -s -D - -o /dev/null "http://$host/chunked/page.html" | tr -d '\r' |
  grep -qix 'transfer-encoding: chunked' || mg_fail "nginx does not send /chunked/page.html chunked"

# run_fetch TARGET ARGS...: runs the fetch image in the namespace to its end.
run_fetch() {
  local target=$1
  shift
  mg_app "$target" fetch "--net:service=tap:$TCPIP_TAP" "--net-mac:service=$TCPIP_MAC" -- \
    "--ipv4=$image/24" "--server=$host" "$@"
  mg_run --timeout 120 ip netns exec "$ns" "${MG_CMD[@]}"
  mg_expect_status 0 "fetch on $target"
}

# Every "fetch: METHOD PATH ..." line must show what nginx has for PATH.
check_lines() {
  local target=$1 method=$2 expected=$3 m path status length crc framing count=0
  while read -r _ m path status _ length _ crc _ framing _; do
    [[ $m == "$method" ]] || continue
    count=$((count + 1))
    if [[ $method == HEAD ]]; then
      [[ $status == 200 && $length == 0 && $framing == none ]] ||
        mg_fail "$target: HEAD $path gave status $status, length $length, framing $framing"
      continue
    fi
    [[ $status == "${want_status[$path]}" && $length == "${want_len[$path]}" &&
      $crc == "${want_crc[$path]}" && $framing == "${want_framing[$path]}" ]] ||
      mg_fail "$target: $path: got $status/$length/$crc/$framing, want ${want_status[$path]}/${want_len[$path]}/${want_crc[$path]}/${want_framing[$path]}"
  done < <(grep '^fetch: [A-Z]* /' <<<"$MG_OUT")
  ((count == expected)) || mg_fail "$target: $count '$method' response lines, expected $expected"
}

# The number of distinct connections nginx logged since it was cleared.
nginx_connections() { awk '{print $1}' "$MG_TMP/nginx-access.log" | sort -u | wc -l; }

for target in "${MG_TARGETS[@]}"; do
  : >"$MG_TMP/nginx-access.log"
  path_args=()
  for path in "${paths[@]}"; do path_args+=("--path=$path"); done
  run_fetch "$target" "${path_args[@]}" --count=3
  check_lines "$target" GET 12
  mg_expect_stdout_contains "fetch: 12 responses, 0 failed, 1 connections, 11 reused"
  [[ $(nginx_connections) == 1 ]] ||
    mg_fail "$target: nginx logged $(nginx_connections) connections, expected 1: $(cat "$MG_TMP/nginx-access.log")"
  [[ $(wc -l <"$MG_TMP/nginx-access.log") == 12 ]] || mg_fail "$target: nginx did not log 12 requests"
  mg_pass "$target: 12 GETs over one connection (nginx agrees): 612 B, 1 MiB, chunked and 404 bodies match by CRC-32 ($(grep -o 'in [0-9]* ms' <<<"$MG_OUT"))"

  run_fetch "$target" --head --path=/big.bin --count=2
  check_lines "$target" HEAD 2
  mg_expect_stdout_contains "fetch: 2 responses, 0 failed, 1 connections, 1 reused"
  mg_pass "$target: HEAD /big.bin twice: 200 without a body, on one connection"
done

# A server that closes every connection after its response.
nginx_stop
nginx_start 0
for target in "${MG_TARGETS[@]}"; do
  : >"$MG_TMP/nginx-access.log"
  run_fetch "$target" --path=/big.bin --path=/chunked/page.html --count=2
  check_lines "$target" GET 4
  mg_expect_stdout_contains "fetch: 4 responses, 0 failed, 4 connections, 0 reused"
  [[ $(nginx_connections) == 4 ]] || mg_fail "$target: nginx logged $(nginx_connections) connections, expected 4"
  mg_pass "$target: keepalive_timeout 0: 4 requests on 4 connections, bodies intact"
done
mg_done
