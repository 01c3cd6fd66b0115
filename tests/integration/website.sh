#!/usr/bin/env bash
# The website appliance (issue 5). VM: examples/website on morgana-hvt with user-mode
# networking (libslirp, no root), --net:service=user,forward=tcp:127.0.0.1:PORT-:80, DHCP.
# Peers on this host, through the forward: curl (every file byte-identical, gzip, HEAD,
# conditional and range requests), python http.client (1,000 requests on one keep-alive
# connection), raw sockets (pipelining, malformed requests, a slowloris client).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

reason=$(mg_hvt_skip_reason website)
[[ -z $reason ]] || mg_skip "hvt: $reason"
mg_require_commands curl python3 gzip cmp
site=$MG_SOURCE/examples/website/site
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port

mg_start --timeout 240 "$MG_HVT_MONITOR" --net:service=user,forward=tcp:127.0.0.1:$port-:80 \
  "$MG_BUILD/examples/website/website.hvt" --dhcp --header-timeout=3 --max-connections=16
mg_wait_http "$url/" "the website image"
mg_pass "the website answers on $url"

# Every file, byte-identical, plain and through gzip variants.
mg_expect_site "$url" "$site"
mg_expect_site "$url" "$site" --compressed  # decoded from the .gz variants
mg_pass "$MG_SITE_COUNT files byte-identical (identity and gzip)"
cmp -s "$site/index.html" <(curl -sf "$url/") || mg_fail "/ is not index.html"
cmp -s "$site/guide/index.html" <(curl -sf "$url/guide/") || mg_fail "/guide/ is not guide/index.html"
[[ $(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$url/guide") == "301 $url/guide/" ]] ||
  mg_fail "/guide does not redirect to /guide/"
[[ $(curl -s -o "$MG_TMP/404" -w '%{http_code}' "$url/missing.html") == 404 ]] || mg_fail "no 404"
cmp -s "$site/404.html" "$MG_TMP/404" || mg_fail "the 404 page is not 404.html"
mg_pass "index files, directory redirect, 404 page"

# Headers: type, validators, gzip negotiation, HEAD.
headers=$(curl -sI -H 'Accept-Encoding: gzip' "$url/style.css" | tr -d '\r')
for want in "Content-Type: text/css; charset=utf-8" "Content-Encoding: gzip" "Vary: Accept-Encoding" \
  "Server: Morgana" "Accept-Ranges: bytes"; do
  grep -qx "$want" <<<"$headers" || mg_fail "HEAD /style.css lacks '$want': $headers"
done
grep -q '^Date: .* GMT$' <<<"$headers" || mg_fail "no Date header"
etag=$(curl -sI "$url/index.html" | tr -d '\r' | sed -n 's/^ETag: //p')
lastmod=$(curl -sI "$url/index.html" | tr -d '\r' | sed -n 's/^Last-Modified: //p')
[[ $etag == \"*\" ]] || mg_fail "no strong ETag: '$etag'"
mg_pass "Content-Type, Content-Encoding, Vary, Date, Server, ETag $etag"

# Conditional requests (RFC 9110 §13) and ranges (§14).
code() { curl -s -o "$MG_TMP/body" -w '%{http_code}' "$@"; }
[[ $(code -H "If-None-Match: $etag" "$url/index.html") == 304 ]] || mg_fail "If-None-Match did not give 304"
[[ $(code -H "If-Modified-Since: $lastmod" "$url/index.html") == 304 ]] || mg_fail "If-Modified-Since did not give 304"
[[ $(code -H 'If-None-Match: "other"' "$url/index.html") == 200 ]] || mg_fail "a stale ETag did not give 200"
[[ $(code -H 'If-Match: "other"' "$url/index.html") == 412 ]] || mg_fail "If-Match did not give 412"
[[ $(code -r 10-19 "$url/index.html") == 206 ]] || mg_fail "a range did not give 206"
cmp -s "$MG_TMP/body" <(head -c 20 "$site/index.html" | tail -c 10) || mg_fail "range 10-19 has the wrong bytes"
[[ $(code -r -100 "$url/style.css") == 206 ]] || mg_fail "a suffix range did not give 206"
cmp -s "$MG_TMP/body" <(tail -c 100 "$site/style.css") || mg_fail "suffix range has the wrong bytes"
[[ $(code -r 0-4,10-14 "$url/index.html") == 206 ]] || mg_fail "two ranges did not give 206"
grep -q 'Content-Range: bytes 10-14/' "$MG_TMP/body" || mg_fail "multipart/byteranges lacks the second part"
[[ $(code -r 999999- "$url/index.html") == 416 ]] || mg_fail "an unsatisfiable range did not give 416"
mg_pass "304 (If-None-Match, If-Modified-Since), 412, 206 single/suffix/multipart, 416"

# 1,000 requests on one keep-alive connection, pipelining, malformed requests, slowloris.
python3 - "$port" "$site" <<'PY' || mg_fail "the Python checks failed (above)"
import http.client, re, socket, sys, time
port, site = int(sys.argv[1]), sys.argv[2]
index = open(site + "/index.html", "rb").read()

def fail(msg):
    print("FAIL:", msg); sys.exit(1)

conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
conn.connect()
local = conn.sock.getsockname()
for i in range(1000):
    conn.request("GET", "/index.html" if i % 2 else "/style.css")
    r = conn.getresponse(); body = r.read()
    if r.status != 200 or (i % 2 and body != index): fail(f"keep-alive request {i}: {r.status}")
    if conn.sock.getsockname() != local: fail(f"request {i} used a new connection")
conn.close()
print("ok: 1000 requests on one keep-alive connection")

def raw(data, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk: break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out

# Pipelined: three requests in one write, answered in order; the last closes.
out = raw(b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\nHEAD /style.css HTTP/1.1\r\nHost: a\r\n\r\n"
          b"GET /missing HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
if not out.startswith(b"HTTP/1.1 200") or index not in out:
    fail(f"pipelining: {out[:200]!r}")
# Status lines (the page's text mentions "HTTP/1.1" too, but never before three digits).
statuses = re.findall(rb"HTTP/1\.1 (\d{3}) [A-Za-z ]+\r\n", out)
if statuses != [b"200", b"200", b"404"]: fail(f"pipelined statuses {statuses}")
print("ok: 3 pipelined requests answered in order (200, 200 HEAD, 404)")

# Request bodies: Content-Length, chunked, and Expect: 100-continue.
out = raw(b"POST /_echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
if not out.startswith(b"HTTP/1.1 200") or not out.endswith(b"hello"): fail(f"POST: {out!r}")
out = raw(b"POST /_echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
          b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")
if not out.endswith(b"abcde"): fail(f"chunked POST: {out!r}")
print("ok: Content-Length and chunked request bodies")

# Malformed requests: the right status, then the connection closes.
cases = [
    (b"GET / HTTP/1.1\r\n\r\n", b"400"),
    (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", b"400"),
    (b"BREW / HTTP/1.1\r\nHost: a\r\n\r\n", b"501"),
    (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", b"505"),
    (b"DELETE / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", b"405"),
    (b"POST /_echo HTTP/1.1\r\nHost: a\r\n\r\n", b"411"),
    (b"POST /_echo HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n", b"413"),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", b"414"),
    (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X-Big: " + b"b" * 17000 + b"\r\n\r\n", b"431"),
    (b"POST /_echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", b"501"),
    (b"POST /_echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", b"400"),
]
for request, want in cases:
    out = raw(request)
    if not out.startswith(b"HTTP/1.1 " + want): fail(f"{request[:40]!r}: wanted {want}, got {out[:60]!r}")
print("ok: malformed requests get 400, 405, 411, 413, 414, 431, 501, 505")

# 408: a head that does not complete within the header timeout (3 s here).
start = time.time()
out = raw(b"GET / HTTP/1.1\r\nHost: a\r\n", timeout=15)
if not out.startswith(b"HTTP/1.1 408"): fail(f"incomplete head: {out[:60]!r}")
print(f"ok: an incomplete head gets 408 after {time.time() - start:.1f} s")

# Slowloris: 40 connections (more than --max-connections=16) trickling header bytes;
# a normal client must still be served quickly, all along.
slow = []
for i in range(40):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")
    slow.append(s)
worst = 0.0
for round in range(10):
    for s in slow:
        try: s.sendall(b"X-a: b\r\n")
        except OSError: pass
    t = time.time()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/index.html")
    r = c.getresponse(); body = r.read(); c.close()
    if r.status != 200 or body != index: fail(f"normal client during slowloris: {r.status}")
    worst = max(worst, time.time() - t)
    time.sleep(0.5)
for s in slow: s.close()
print(f"ok: a normal client is served during a 40-connection slowloris (slowest {worst:.2f} s)")
PY
mg_pass "keep-alive, pipelining, bodies, malformed requests, 408, slowloris"

# Still serving after all that.
cmp -s "$site/index.html" <(curl -sf "$url/index.html") || mg_fail "the website stopped serving"
stats=$(curl -sf "$url/_stats")
mg_log "server counters: $(tr '\n' ' ' <<<"$stats")"
mg_stop
grep -q '^http: 10.0.2.2:[0-9]* "GET /index.html HTTP/1.1" 200 ' "$MG_TMP/stdout" ||
  mg_fail "no access log line for GET /index.html on the console"
mg_pass "still serving; access log lines on the console"

# The site on a disk (issue 5). VM: website_tar.hvt, the same server with its content in a
# tar archive on block device `storage` (--block:storage=FILE), user-mode networking with
# a forward from a fresh port. Peer: curl through the forward. A directory with a few
# files (binary, nested, a precompressed .gz variant, a 404 page, a name with a space) is
# archived in GNU format, every file fetched and compared byte for byte; then the disk
# file is replaced by a pax archive of changed content and the image restarted, which
# must serve the new content; disks that are no tar archive, truncated or blank are
# refused with the reason and exit status 1.
check_site_from_disk() {
  local image=$MG_BUILD/examples/website/website_tar.hvt disk=$MG_TMP/disk-site
  local url file headers etag first_etag bad
  if [[ ! -f $image ]]; then
    echo "SKIPPED: the site on a disk: $image is not built"
    MG_SKIPPED_PARTS+=("the site on a disk: $image is not built")
    return
  fi
  start_disk_site() {
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    url=http://127.0.0.1:$port
    mg_start --timeout 120 "$MG_HVT_MONITOR" --net:service=user,forward=tcp:127.0.0.1:$port-:80 \
      --block:storage="$1" "$image" --dhcp
    mg_wait_http "$url/" "website_tar with $1"
  }

  mkdir -p "$disk/docs/deep"
  printf '<!doctype html><title>From a disk</title><p>first edition\n' >"$disk/index.html"
  printf '<!doctype html><title>Not here</title><p>not on this disk\n' >"$disk/404.html"
  printf '<h1>Deep</h1>\n' >"$disk/docs/deep/index.html"
  printf 'a name with a space\n' >"$disk/with space.txt"
  head -c 300000 /dev/urandom >"$disk/docs/blob.bin"  # spans many cache blocks
  for _ in $(seq 200); do echo "p { margin: 0; padding: 1em; color: #123456; }"; done >"$disk/style.css"
  gzip -9nk "$disk/style.css"
  tar --format=gnu --sort=name -C "$disk" -cf "$MG_TMP/site.tar" .
  start_disk_site "$MG_TMP/site.tar"
  mg_expect_site "$url" "$disk"
  cmp -s "$disk/index.html" <(curl -sf "$url/") || mg_fail "/ from the disk is not index.html"
  [[ $(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$url/docs/deep") == "301 $url/docs/deep/" ]] ||
    mg_fail "/docs/deep does not redirect to /docs/deep/"
  [[ $(curl -s -o "$MG_TMP/404" -w '%{http_code}' "$url/missing.html") == 404 ]] || mg_fail "no 404"
  cmp -s "$disk/404.html" "$MG_TMP/404" || mg_fail "the 404 page is not the disk's 404.html"
  headers=$(curl -sI -H 'Accept-Encoding: gzip' "$url/style.css" | tr -d '\r')
  grep -qx "Content-Encoding: gzip" <<<"$headers" || mg_fail "style.css.gz not chosen: $headers"
  cmp -s "$disk/style.css" <(curl -sf --compressed "$url/style.css") ||
    mg_fail "style.css through its .gz variant is not identical after decoding"
  [[ $(curl -s -o "$MG_TMP/body" -w '%{http_code}' -r 100000-199999 "$url/docs/blob.bin") == 206 ]] ||
    mg_fail "a range of docs/blob.bin did not give 206"
  cmp -s "$MG_TMP/body" <(tail -c +100001 "$disk/docs/blob.bin" | head -c 100000) ||
    mg_fail "range 100000-199999 of docs/blob.bin has the wrong bytes"
  first_etag=$(curl -sI "$url/index.html" | tr -d '\r' | sed -n 's/^ETag: //p')
  grep -q '^tar_cache_misses [1-9]' <(curl -sf "$url/_stats") || mg_fail "no tar cache counters in /_stats"
  mg_stop
  grep -q "^website: serving 7 files from the tar archive on block device 'storage'" "$MG_TMP/stdout" ||
    mg_fail "website_tar did not say what it serves: $(head -3 "$MG_TMP/stdout")"
  mg_pass "website_tar: $MG_SITE_COUNT files from a GNU tar byte-identical, index, redirect, 404 page, gzip variant, range"

  # The issue's acceptance: replace the disk file with new content, restart, it is served.
  printf '<!doctype html><title>From a disk</title><p>second edition\n' >"$disk/index.html"
  rm "$disk/with space.txt"
  printf 'new in the second edition\n' >"$disk/docs/new.txt"
  tar --format=pax --sort=name -C "$disk" -cf "$MG_TMP/site.tar" .
  start_disk_site "$MG_TMP/site.tar"
  mg_expect_site "$url" "$disk"
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/with%20space.txt") == 404 ]] ||
    mg_fail "a file removed from the disk is still served"
  etag=$(curl -sI "$url/index.html" | tr -d '\r' | sed -n 's/^ETag: //p')
  [[ -n $etag && $etag != "$first_etag" ]] || mg_fail "index.html changed but its ETag did not ($etag)"
  mg_stop
  mg_pass "the disk file replaced by a pax tar: after a restart $MG_SITE_COUNT new files served, the removed one 404, ETag $first_etag -> $etag"

  # Disks that cannot be served: refused before the network starts, with the reason.
  head -c 65536 /dev/urandom >"$MG_TMP/garbage.img"
  head -c 20480 "$MG_TMP/site.tar" >"$MG_TMP/truncated.tar"
  truncate -s 1M "$MG_TMP/blank.img"
  for bad in "garbage.img:header checksum mismatch (not a tar archive, or corrupt)" \
    "truncated.tar:past the end of the device (20480 bytes)" \
    "blank.img:the tar archive holds no files"; do
    file=${bad%%:*}
    mg_run --timeout 60 "$MG_HVT_MONITOR" --net:service=user --block:storage="$MG_TMP/$file" "$image" --dhcp
    mg_expect_status 1 "website_tar with $file"
    mg_expect_stdout_contains "website: block device 'storage' refused: "
    mg_expect_stdout_contains "${bad#*:}"
    mg_log "$file: $(grep refused <<<"$MG_OUT")"
  done
  mg_run --timeout 60 "$MG_HVT_MONITOR" --net:service=user "$image" --dhcp
  mg_expect_status 253 "website_tar without its disk"
  mg_expect_stderr_contains "the image needs block device 'storage'"
  mg_pass "a random, a truncated and a blank disk are refused (status 1, reason named); no disk: the monitor refuses (253)"
}
check_site_from_disk

# The site in 4 MiB of guest RAM (issue 5's aim). VM: website.hvt with --mem=4, user-mode
# networking with a forward from a fresh port. Peers: curl (every file byte-identical),
# then 100 python clients at once, each with 5 keep-alive requests whose bodies are
# checked. The image's heap is about 2.4 MiB, of which the hvt network ring takes 1 MiB:
# the stack's pools, TCP buffers, heap reserve and the server's connection limit follow
# the heap, so clients it has no room for are held off (their SYNs dropped and retried)
# instead of the image running out of memory.
check_small_memory() {
  local port url stats
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  url=http://127.0.0.1:$port
  mg_start --timeout 240 "$MG_HVT_MONITOR" --mem=4 --net:service=user,forward=tcp:127.0.0.1:$port-:80 \
    "$MG_BUILD/examples/website/website.hvt" --dhcp --quiet
  mg_wait_http "$url/" "website with --mem=4"
  mg_expect_site "$url" "$site"
  python3 - "$port" "$site/index.html" <<'PY' || mg_fail "--mem=4: not every one of 100 concurrent clients was served"
import concurrent.futures, http.client, sys
port, index = int(sys.argv[1]), open(sys.argv[2], "rb").read()
def client(_):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(5):
        c.request("GET", "/index.html")
        r = c.getresponse()
        if r.status != 200 or r.read() != index:
            return f"status {r.status}"
    c.close()
    return None
with concurrent.futures.ThreadPoolExecutor(100) as pool:
    failed = [f for f in pool.map(client, range(100)) if f]
if failed:
    print(f"{len(failed)} clients failed: {failed[:3]}")
    sys.exit(1)
PY
  kill -0 "$MG_PID" 2>/dev/null || { mg_wait; mg_fail "website with --mem=4 ended under 100 clients: $(grep -m1 panic "$MG_TMP/stdout")"; }
  cmp -s "$site/index.html" <(curl -sf --max-time 10 "$url/index.html") || mg_fail "--mem=4: stopped serving"
  stats=$(curl -sf --max-time 10 "$url/_stats")
  mg_log "--mem=4 counters: $(tr '\n' ' ' <<<"$stats")"
  mg_stop
  mg_pass "--mem=4: $MG_SITE_COUNT files byte-identical, 100 concurrent clients x 5 requests served, still serving"
}
check_small_memory
mg_done
