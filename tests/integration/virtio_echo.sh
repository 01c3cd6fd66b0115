#!/usr/bin/env bash
# virtio-net on the virtio target. VMs, booted by `morgana run -t virtio` under QEMU
# (KVM when /dev/kvm can be opened, else TCG; printed as "virtio: accel=..."), each with
# one virtio-net device, over virtio-mmio on -M microvm unless said otherwise:
#  - examples/echo on a tap, mgtap0, inside a network namespace this test creates and
#    deletes (Linux's end 10.0.0.1/24, the image 10.0.0.2/24, MAC from --net-mac); peers
#    in the namespace: ping (up to 8000 bytes, fragmented both ways, and a flood), socat
#    (UDP datagrams up to 65507 bytes, a TCP line, 8 MiB echoed, so sent both ways,
#    checked by sha256). QEMU's tap backend has a vnet header, so the driver negotiates
#    checksum offload and TSO both ways (merged frames over MRG_RXBUF): the image's
#    --stats must say so, with TCP segments sent for the device to cut and merged ones
#    received. Then the same on -M q35 over virtio-pci (MSI-X), 4 MiB; on microvm with
#    --net-no-offloads (none negotiated, none used), 4 MiB; and under KVM on microvm
#    under TCG too, with 1 MiB.
#  - examples/website with user-mode networking (QEMU's slirp, restricted, DHCP) and a
#    forward from a free port on 127.0.0.1; peer: curl, which must get index.html intact.
#  - command lines `morgana run` must refuse before boot (253).
# Throughput figures and the driver's exit counters (--stats) are printed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mg_require_commands qemu-system-x86_64 python3 socat curl sha256sum cmp

morgana=$MG_BUILD/bin/morgana
for example in echo website; do
  [[ -f $MG_BUILD/examples/$example/$example.virtio ]] ||
    mg_fail "$MG_BUILD/examples/$example/$example.virtio is not built"
done
[[ -x $morgana ]] || mg_fail "$morgana is not built"
if [[ -e /dev/kvm ]] && (exec 3<>/dev/kvm) 2>/dev/null; then accel=kvm; else accel=tcg; fi
echo "virtio: accel=$accel"
readonly mac=02:00:5e:00:00:02 host=10.0.0.1 image=10.0.0.2

seconds_since() { awk -v s="$1" -v e="$(date +%s%N)" 'BEGIN { printf "%.3f", (e - s) / 1e9 }'; }
rate() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.1f", (t > 0 ? b / t / 1e6 : 0) }'; }

# start_image OUTPUT_PATTERN COMMAND...: starts an image and waits (up to 60 s: TCG boots
# slowly) for a line matching the pattern on its stdout.
start_image() {
  local pattern=$1 i
  shift
  mg_start --timeout 300 "$@"
  for ((i = 0; i < 600; i++)); do
    grep -q "$pattern" "$MG_TMP/stdout" 2>/dev/null && return 0
    kill -0 "$MG_PID" 2>/dev/null || break
    sleep 0.1
  done
  mg_stop
  mg_wait
  mg_fail "the image did not print '$pattern' (it said: $(cat "$MG_TMP/stdout" "$MG_TMP/stderr"))"
}

# The exit counters of the image's NIC, from its --stats.
nic_stats() { grep -m1 "^virtio-net 0:" <<<"$MG_OUT" || echo "(no virtio-net stats)"; }

# --- echo on a tap in a namespace -------------------------------------------------------
echo_on_tap() {
  local machine=$1 acc=$2 bulk=$3 offloads=$4 ns=$5 tag="$1/$2" out size start seconds sum back
  local -a extra=()
  [[ $offloads == off ]] && extra=(--net-no-offloads) tag+=" --net-no-offloads"
  in_ns() { ip netns exec "$ns" "$@"; }
  # The last connection is an empty one, so the image exits by itself (--connections).
  start_image "^echo: listening on" ip netns exec "$ns" "$morgana" run -t virtio "$MG_SOURCE/examples/echo" \
    --machine="$machine" --accel="$acc" --stats --net:service=tap:mgtap0 --net-mac:service=$mac -- \
    --ipv4=$image/24 --connections=3 --net-stats ${extra[@]+"${extra[@]}"}
  # Linux drops frames into a freshly opened tap until its link watch has run (see
  # tcpip_lib.bash: tcpip_tap_wait_up).
  local i state=""
  for ((i = 0; i < 60; i++)); do
    state=$(in_ns cat /sys/class/net/mgtap0/operstate)
    [[ $state == up ]] && break
    sleep 0.05
  done
  [[ $state == up ]] || mg_fail "$tag: the tap is still '$state' after the image opened it"

  for size in 56 1472 8000; do
    out=$(in_ns ping -n -c 3 -i 0.2 -W 3 -s "$size" $image 2>&1) || mg_fail "$tag: ping -s $size: $out"
    [[ $out == *" 3 received"* && $out != *"wrong data"* && $out != *DUP* ]] ||
      mg_fail "$tag: ping -s $size: $out"
  done
  in_ns ip neigh show $image | grep -q "lladdr $mac" ||
    mg_fail "$tag: the image does not answer ARP with --net-mac $mac: $(in_ns ip neigh show $image)"
  out=$(in_ns ping -n -f -c 500 -s 1400 $image 2>&1) || mg_fail "$tag: ping -f: $out"
  [[ $out == *" 500 received"* ]] || mg_fail "$tag: ping -f: $out"
  mg_pass "$tag: ping -s 56, 1472, 8000 answered intact by MAC $mac; ping -f -c 500 -s 1400:" \
    "$(sed -n 's/.* received, .*time \([0-9]*ms\).*/\1/p;s/^rtt [^=]*= \(.*\)/rtt \1/p' <<<"$out" | paste -sd' ')"

  for size in 1 1472 1473 8000 65507; do
    head -c "$size" /dev/urandom >"$MG_TMP/datagram"
    in_ns timeout 10 socat -t 1 -b 65536 - "UDP:$image:7" <"$MG_TMP/datagram" >"$MG_TMP/datagram.back"
    cmp -s "$MG_TMP/datagram" "$MG_TMP/datagram.back" ||
      mg_fail "$tag: UDP echo of $size bytes came back as $(stat -c %s "$MG_TMP/datagram.back") different bytes"
  done
  mg_pass "$tag: UDP echo of 1, 1472, 1473, 8000 and 65507 bytes"

  out=$(echo "hello over virtio-net" | in_ns timeout 10 socat -t 5 - "TCP:$image:7")
  [[ $out == "hello over virtio-net" ]] || mg_fail "$tag: TCP echo of a line: got '$out'"
  head -c "$bulk" /dev/urandom >"$MG_TMP/echo.bin"
  start=$(date +%s%N)
  in_ns timeout 120 socat -t 30 -b 65536 - "TCP:$image:7" <"$MG_TMP/echo.bin" >"$MG_TMP/echo.back"
  seconds=$(seconds_since "$start")
  sum=$(sha256sum <"$MG_TMP/echo.bin" | cut -d' ' -f1)
  back=$(sha256sum <"$MG_TMP/echo.back" | cut -d' ' -f1)
  [[ $sum == "$back" ]] ||
    mg_fail "$tag: TCP echo: got $(stat -c %s "$MG_TMP/echo.back") bytes back, sha256 $back, sent $sum"
  in_ns timeout 10 socat -u /dev/null "TCP:$image:7" || true
  for ((i = 0; i < 600; i++)); do
    kill -0 "$MG_PID" 2>/dev/null || break
    sleep 0.1
  done
  mg_wait
  mg_expect_status 0 "$tag: echo after its connections"
  mg_expect_stdout_contains "echo: 3 connections served"
  # What the driver negotiated, and that the offloads carried the bulk transfer: TCP
  # segments handed to the device to cut (tso) and merged ones from Linux (merged).
  local stats tso merged
  stats=$(nic_stats)
  tso=$(sed -n 's/.* tso \([0-9]*\) .*/\1/p' <<<"$stats")
  merged=$(sed -n 's/.* merged \([0-9]*\) .*/\1/p' <<<"$stats")
  if [[ $offloads == on ]]; then
    [[ $stats == *" offloads csum,tso4 "* && ${tso:-0} -gt 0 && ${merged:-0} -gt 0 ]] ||
      mg_fail "$tag: checksum offload and TSO both ways should have been used: $stats"
  else
    [[ $stats == *" offloads none "* && $tso == 0 && $merged == 0 ]] ||
      mg_fail "$tag: --net-no-offloads, yet the driver used offloads: $stats"
  fi
  mg_pass "$tag: TCP echo of a line and of $((bulk >> 10)) KiB in $seconds s" \
    "($(rate "$bulk" "$seconds") MB/s each way), sha256 matches; $(nic_stats)"
}

if [[ $(id -u) -ne 0 ]]; then
  echo "SKIPPED: tap: needs root (uid 0), running as uid $(id -u)"
  MG_SKIPPED_PARTS+=("tap: needs root")
elif [[ ! -c /dev/net/tun ]] || ! command -v ip >/dev/null || ! command -v ping >/dev/null; then
  echo "SKIPPED: tap: needs /dev/net/tun, ip and ping"
  MG_SKIPPED_PARTS+=("tap: needs /dev/net/tun, ip and ping")
else
  ns=mgt-vnet-$$
  ip netns add "$ns" || mg_skip "cannot create a network namespace (ip netns add failed)"
  mg_on_exit "ip netns del $ns"
  ip netns exec "$ns" ip link set lo up
  # No IPv6: Linux would send router solicitations and MLD reports into the tap.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip netns exec "$ns" ip tuntap add dev mgtap0 mode tap
  ip netns exec "$ns" ip addr add $host/24 dev mgtap0
  ip netns exec "$ns" ip link set mgtap0 up
  combos=("microvm $accel $((8 << 20)) on" "q35 $accel $((4 << 20)) on"
    "microvm $accel $((4 << 20)) off")
  [[ $accel == kvm ]] && combos+=("microvm tcg $((1 << 20)) on")
  for combo in "${combos[@]}"; do
    read -r machine acc bulk offloads <<<"$combo"
    mg_log "echo on a tap, $machine/$acc, offloads $offloads"
    ip netns exec "$ns" ip neigh flush dev mgtap0
    echo_on_tap "$machine" "$acc" "$bulk" "$offloads" "$ns"
  done
fi

# --- the website with user-mode networking ----------------------------------------------
mg_log "website, user-mode networking, $accel"
site=$MG_SOURCE/examples/website/site
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_image "^website: " "$morgana" run -t virtio "$MG_SOURCE/examples/website" --stats \
  --net:service=user,forward=tcp:127.0.0.1:"$port"-:80 -- --dhcp
mg_wait_http "http://127.0.0.1:$port/" "the website on virtio"
curl -sf --max-time 10 "http://127.0.0.1:$port/" -o "$MG_TMP/index.html" ||
  mg_fail "the website did not answer on 127.0.0.1:$port"
cmp -s "$site/index.html" "$MG_TMP/index.html" ||
  mg_fail "GET / is not examples/website/site/index.html"
mg_expect_site "http://127.0.0.1:$port" "$site"
kill "$MG_PID"
mg_wait
mg_pass "website on 127.0.0.1:$port (slirp, DHCP): / is index.html, $MG_SITE_COUNT files byte-identical"

# --- refusals -----------------------------------------------------------------------------
mg_log "refusals before boot"
refuse() {
  local why=$1 expect=$2
  shift 2
  mg_run --timeout 60 "$morgana" run -t virtio "$MG_SOURCE/examples/echo" "$@" -- --dhcp
  mg_expect_status 253 "$why"
  mg_expect_stderr_contains "$expect"
  [[ -z $MG_OUT ]] || mg_fail "$why: the image ran anyway"
}
refuse "no --net:service" "net device 'service' is not attached"
refuse "an unknown backend" "give tap:IFNAME or user" --net:service=bridge:br0
refuse "a bad forward" "forward=tcp:HOSTADDR" --net:service=user,forward=udp:1.2.3.4:5-:6
refuse "an undeclared device" "--net:other" --net:service=user --net:other=user
refuse "a bad MAC" "give a MAC address" --net:service=user --net-mac:service=02:00:00:00:00
refuse "a multicast MAC" "multicast" --net:service=user --net-mac:service=01:00:00:00:00:01
mg_pass "missing, unknown, undeclared devices and bad forwards or MACs refused with 253"
mg_done
