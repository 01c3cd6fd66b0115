#!/usr/bin/env bash
# A real browser loads the website (issue 5). VM: examples/website on morgana-hvt with
# user-mode networking (libslirp, no root), --net:service=user,forward=tcp:127.0.0.1:PORT-:80,
# DHCP. Peer on this host, through the forward: headless Chromium. It saves a screenshot of
# the index page (a test artefact under $MORGANA_BUILD/test-artefacts/), dumps the DOM, and
# is driven over the DevTools protocol (--remote-debugging-pipe, JSON on fds 3 and 4, so no
# websocket library is needed) to ask the page itself whether its images and style sheets
# loaded. The image's access log must show each of those requests answered with 200.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

reason=$(mg_hvt_skip_reason website)
[[ -z $reason ]] || mg_skip "hvt: $reason"
mg_require_commands chromium python3 curl
site=$MG_SOURCE/examples/website/site
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
artefacts=$MG_BUILD/test-artefacts
screenshot=$artefacts/website.png
mkdir -p "$artefacts"
rm -f "$screenshot"

mg_start --timeout 240 "$MG_HVT_MONITOR" --net:service=user,forward=tcp:127.0.0.1:"$port"-:80 \
  "$MG_BUILD/examples/website/website.hvt" --dhcp
mg_wait_http "$url/" "the website image"
mg_pass "the website answers on $url"

# Chromium runs as root here, hence --no-sandbox; every run gets a fresh profile and keeps
# its caches in the test's directory, and the options below stop it from calling out to
# anything but the page (DESIGN.md §8: traffic stays on this machine).
# shellcheck disable=SC2054  # the comma in --window-size is part of the option.
chromium_flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --disable-default-apps --disable-extensions --hide-scrollbars --window-size=1280,900)
profile_count=0
# chromium_run ARGS...: runs Chromium with a fresh profile; stdout to $MG_TMP/chromium.out.
chromium_run() {
  profile_count=$((profile_count + 1))
  local profile=$MG_TMP/profile$profile_count status=0
  mkdir -p "$profile"
  HOME=$MG_TMP XDG_CONFIG_HOME=$MG_TMP/config XDG_CACHE_HOME=$MG_TMP/cache \
    timeout --kill-after=5 60 chromium "${chromium_flags[@]}" --user-data-dir="$profile" "$@" \
    >"$MG_TMP/chromium.out" 2>"$MG_TMP/chromium.err" || status=$?
  if ((status != 0)); then
    tail -20 "$MG_TMP/chromium.err" >&2
    mg_fail "chromium $* exited with status $status"
  fi
}

# 1. The screenshot: a PNG of the page's size that is not one flat colour.
chromium_run --screenshot="$screenshot" "$url/"
[[ -s $screenshot ]] || mg_fail "chromium wrote no screenshot to $screenshot"
python3 - "$screenshot" <<'PY' || mg_fail "the screenshot $screenshot does not show a rendered page"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
def fail(msg):
    print("FAIL:", msg); sys.exit(1)
if data[:8] != b"\x89PNG\r\n\x1a\n": fail("not a PNG file")
# Chunks: length, type, data, CRC; each length is checked against what is left.
pos, idat, header = 8, b"", None
while pos + 12 <= len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    if pos + 12 + length > len(data): fail(f"chunk {kind!r} runs past the end of the file")
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR": header = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT": idat += body
    elif kind == b"IEND": break
    pos += 12 + length
if header is None: fail("no IHDR chunk")
width, height, depth, colour, _, _, interlace = header
if (width, height) != (1280, 900): fail(f"size {width}x{height}, expected the window's 1280x900")
if depth != 8 or colour not in (2, 6) or interlace != 0:
    fail(f"unexpected PNG format: depth {depth}, colour type {colour}, interlace {interlace}")
channels = 3 if colour == 2 else 4
stride = width * channels
raw = zlib.decompress(idat)
if len(raw) != height * (stride + 1): fail(f"{len(raw)} bytes of pixel data, expected {height * (stride + 1)}")
# Undo the per-row filters (PNG specification §9) to get at the pixels.
rows, prev = [], bytearray(stride)
for y in range(height):
    kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - channels] if i >= channels else 0
        b, c = prev[i], prev[i - channels] if i >= channels else 0
        if kind == 1: line[i] = (line[i] + a) & 255
        elif kind == 2: line[i] = (line[i] + b) & 255
        elif kind == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        elif kind != 0: fail(f"row {y} has unknown filter type {kind}")
    rows.append(line); prev = line
# Sample every 4th pixel: a rendered page has text, a logo and boxes; a blank or error
# page is one colour or nearly so.
counts = {}
for y in range(0, height, 4):
    for x in range(0, width, 4):
        pixel = bytes(rows[y][x * channels:x * channels + 3])
        counts[pixel] = counts.get(pixel, 0) + 1
total = sum(counts.values())
background, most = max(counts.items(), key=lambda item: item[1])
share = most / total
if len(counts) < 16: fail(f"only {len(counts)} distinct colours")
if share > 0.97: fail(f"{share:.1%} of the page is one colour {background.hex()}")
print(f"ok: screenshot {width}x{height}, {len(counts)} distinct colours in {total} samples, "
      f"background #{background.hex()} {share:.0%}")
PY
mg_pass "screenshot saved: $screenshot"

# 2. The DOM Chromium built holds the site's title and its images.
title=$(sed -n 's:.*<title>\(.*\)</title>.*:\1:p' "$site/index.html" | head -1)
[[ -n $title ]] || mg_fail "$site/index.html has no <title>"
chromium_run --dump-dom "$url/"
grep -qF "<title>$title</title>" "$MG_TMP/chromium.out" ||
  mg_fail "the DOM lacks <title>$title</title>: $(head -c 600 "$MG_TMP/chromium.out")"
grep -q '<img [^>]*src="' "$MG_TMP/chromium.out" || mg_fail "the DOM has no <img>"
mg_pass "the DOM has <title>$title</title> and an <img>"

# 3. Over the DevTools protocol: load the page, wait for its load event, and ask it which
# images and style sheets it has and whether they loaded (complete with a natural size;
# sheets with rules). Prints the paths that loaded, one per line.
python3 - "$url/" "$MG_TMP/profile-devtools" "$title" >"$MG_TMP/loaded" 2>"$MG_TMP/devtools.err" <<'PY' ||
import json, os, select, subprocess, sys, time
url, profile, title = sys.argv[1], sys.argv[2], sys.argv[3]
def fail(msg):
    print("FAIL:", msg, file=sys.stderr); sys.exit(1)
to_chrome_r, to_chrome_w = os.pipe()
from_chrome_r, from_chrome_w = os.pipe()
def pipe_fds():
    # Chromium reads commands on fd 3 and writes answers on fd 4; dup2 makes them inheritable.
    r, w = os.dup(to_chrome_r), os.dup(from_chrome_w)
    os.dup2(r, 3); os.dup2(w, 4)
env = dict(os.environ, HOME=os.path.dirname(profile))
chrome = subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-default-apps", "--disable-extensions", "--user-data-dir=" + profile,
    "--remote-debugging-pipe", "about:blank"], preexec_fn=pipe_fds, close_fds=False, env=env,
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(to_chrome_r); os.close(from_chrome_w)
pending, next_id, events = b"", 0, []
def receive(deadline):
    global pending
    while b"\0" not in pending:
        left = deadline - time.time()
        if left <= 0: fail("Chromium's DevTools pipe did not answer in time")
        if select.select([from_chrome_r], [], [], left)[0]:
            chunk = os.read(from_chrome_r, 65536)
            if not chunk: fail("Chromium closed its DevTools pipe")
            pending += chunk
    message, pending = pending.split(b"\0", 1)
    return json.loads(message)
def call(method, params=None, session=None, timeout=30):
    global next_id
    next_id += 1
    message = {"id": next_id, "method": method, "params": params or {}}
    if session: message["sessionId"] = session
    os.write(to_chrome_w, json.dumps(message).encode() + b"\0")
    deadline = time.time() + timeout
    while True:
        answer = receive(deadline)
        if answer.get("id") == next_id:
            if "error" in answer: fail(f"{method}: {answer['error']}")
            return answer["result"]
        events.append(answer)  # an event that came before the answer
def wait_event(name, timeout=30):
    deadline = time.time() + timeout
    while not any(event.get("method") == name for event in events):
        events.append(receive(deadline))
try:
    target = call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    call("Page.enable", session=session)
    events.clear()
    call("Page.navigate", {"url": url}, session=session)
    wait_event("Page.loadEventFired")
    probe = """JSON.stringify({title: document.title,
      images: Array.from(document.images).map(i => ({src: i.src, complete: i.complete, width: i.naturalWidth})),
      sheets: Array.from(document.styleSheets).map(s => ({href: s.href, rules: s.cssRules.length}))})"""
    page = json.loads(call("Runtime.evaluate", {"expression": probe, "returnByValue": True},
                           session=session)["result"]["value"])
finally:
    try: call("Browser.close", timeout=5)
    except SystemExit: pass
    try: chrome.wait(10)
    except subprocess.TimeoutExpired: chrome.kill(); chrome.wait()
print("page:", json.dumps(page), file=sys.stderr)
if page["title"] != title: fail(f"document.title is {page['title']!r}, expected {title!r}")
if not page["images"]: fail("the page has no images")
for image in page["images"]:
    if not image["complete"] or image["width"] <= 0: fail(f"image {image['src']} did not load: {image}")
    print(image["src"].removeprefix(url.rstrip("/")))
for sheet in page["sheets"]:
    if sheet["href"] and sheet["rules"] <= 0: fail(f"style sheet {sheet['href']} has no rules")
    if sheet["href"]: print(sheet["href"].removeprefix(url.rstrip("/")))
PY
  mg_fail "Chromium's DevTools view of the page is wrong: $(cat "$MG_TMP/devtools.err")"
mg_log "$(cat "$MG_TMP/devtools.err")"
mapfile -t loaded <"$MG_TMP/loaded"
mg_pass "Chromium reports loaded: ${loaded[*]}"

# 4. The image's access log on its console: each of those files was fetched with 200.
mg_stop
for path in "${loaded[@]}"; do
  grep -q "^http: 10\.0\.2\.2:[0-9]* \"GET $path HTTP/1\.1\" 200 " "$MG_TMP/stdout" ||
    mg_fail "the access log has no 'GET $path' answered with 200: $(grep '^http:' "$MG_TMP/stdout")"
done
requests=$(grep -c '^http: ' "$MG_TMP/stdout" || true)
mg_pass "the access log shows ${loaded[*]} answered with 200 ($requests requests in all)"
echo "screenshot: $screenshot"
mg_done
