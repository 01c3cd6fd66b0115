#!/usr/bin/env bash
# TCP through a lossy path, on every target that can run here (unix, hvt). Two network
# namespaces this test creates and deletes, nothing leaving them:
#   image 10.0.0.2/24 (gateway 10.0.0.1) -- tap mgtap0 -- [router namespace: 10.0.0.1,
#   forwarding, 10.0.1.1] -- veth -- [peer namespace: 10.0.1.2, socat]
# The router drops 5% of the TCP segments it forwards, each way, so both the image's
# receiving side (Linux -> discard) and its sending side and congestion control (chargen
# -> Linux, with cubic and with newreno) recover from real losses. The drops are made by
# an HTB qdisc on each of the router's egresses whose filter (classic BPF on a random
# number) sends 5% of TCP into a class whose pfifo holds nothing; netem is not needed,
# which this machine's kernel may lack (CONFIG_NET_SCH_NETEM). Where netem exists it also
# delays every packet by 5 ms each way. Offloads are off on the veth so each drop is
# one segment. Transfers: 10 MiB each, also with MORGANA_TEST_LONG=1 (the image sends
# at a few MB/s through this loss: 100 MiB would overrun ctest's 300 s), verified by the
# crc32 discard prints and the sha256 of chargen's pattern.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/tcpip_lib.bash"
tcpip_require tc ethtool

readonly router=mgt-lossr-$$ peer=mgt-lossp-$$ image=10.0.0.2 peer_address=10.0.1.2
in_peer() { ip netns exec "$peer" "$@"; }
in_router() { ip netns exec "$router" "$@"; }
tcpip_netns "$router"
tcpip_netns "$peer"
tcpip_tap "$router" 10.0.0.1/24
in_router ip link add mgr0 type veth peer name mgp0 netns "$peer"
in_router ip addr add 10.0.1.1/24 dev mgr0
in_router ip link set mgr0 up
in_router sysctl -qw net.ipv4.ip_forward=1
in_peer ip addr add "$peer_address/24" dev mgp0
in_peer ip link set mgp0 up
in_peer ip route add 10.0.0.0/24 via 10.0.1.1
in_peer ethtool -K mgp0 tso off gso off gro off >/dev/null 2>&1 || true
in_router ethtool -K mgr0 tso off gso off gro off >/dev/null 2>&1 || true

# Classic BPF for cls_bpf: IPv4 protocol byte (offset 23 from the Ethernet header) = TCP,
# then a random u32 below 5% of 2^32 -> classid 1:20 (the dropping class), else no match.
readonly loss_percent=5
threshold=$(((loss_percent << 32) / 100))
readonly drop_filter="6,48 0 0 23,21 0 3 6,32 0 0 4294963256,53 1 0 $threshold,6 0 0 65568,6 0 0 0"
delay=""
for dev in "$TCPIP_TAP" mgr0; do
  in_router tc qdisc add dev "$dev" root handle 1: htb default 10 r2q 100000
  in_router tc class add dev "$dev" parent 1: classid 1:10 htb rate 10gbit
  in_router tc class add dev "$dev" parent 1: classid 1:20 htb rate 10gbit
  in_router tc qdisc add dev "$dev" parent 1:20 handle 20: pfifo limit 0
  in_router tc filter add dev "$dev" parent 1: protocol ip prio 1 bpf bytecode "$drop_filter" ||
    mg_skip "tc cannot attach a classic BPF filter (cls_bpf) here"
  if in_router tc qdisc add dev "$dev" parent 1:10 handle 10: netem delay 5ms 2>/dev/null; then
    delay=", 5 ms delay each way (netem)"
  fi
done
[[ -n $delay ]] || mg_log "netem is not available in this kernel: loss only, no added delay"
mg_targets discard
tcpip_require_images discard chargen

readonly bytes=$((10 << 20)) mib=10
head -c "$bytes" /dev/urandom >"$MG_TMP/random.bin"
random_crc=$(python3 "$TCPIP_PEER" crc32 "$MG_TMP/random.bin")
chargen_sha=$(python3 "$TCPIP_PEER" chargen-sha256 "$bytes")

# Segments the router dropped on DEV so far.
dropped() { in_router tc -s qdisc show dev "$1" | awk '/^qdisc pfifo 20:/ { getline; print $7 + 0 }'; }

check_discard() {
  local target=$1 start seconds line before after
  before=$(dropped "$TCPIP_TAP")
  tcpip_image_start "$router" "$target" discard 1 "--ipv4=$image/24" --ipv4-gateway=10.0.0.1
  start=$(date +%s%N)
  in_peer timeout 120 socat -u -b 65536 "FILE:$MG_TMP/random.bin" "TCP:$image:9"
  seconds=$(tcpip_seconds "$start")
  tcpip_image_finish
  after=$(dropped "$TCPIP_TAP")
  # The transfer's line, not the closing connection's (which may end first: discard reports
  # a connection when it has received everything, possibly after socat has returned).
  line=$(grep '^discard: .* crc32 ' <<<"$MG_OUT" | grep -v ' sent 0 bytes ' | head -n 1) ||
    tcpip_fail "discard printed no crc32 line"
  [[ -n $line ]] || tcpip_fail "discard printed no crc32 line for a non-empty stream"
  [[ $line == *" sent $bytes bytes "* && $line == *" crc32 $random_crc" ]] ||
    tcpip_fail "discard: '$line', expected $bytes bytes with crc32 $random_crc"
  mg_pass "$target: Linux -> discard through ${loss_percent}% loss each way$delay: $mib MiB in $seconds s ($(tcpip_rate "$bytes" "$seconds") MB/s), crc32 matches (the image measured ${line#*bytes in }); the router dropped $((after - before)) segments towards the image; image: $(tcpip_tcp_summary)"
}

check_chargen() {
  local target=$1 cc=$2 start seconds size sum before after
  before=$(dropped mgr0)
  tcpip_image_start "$router" "$target" chargen 1 "--ipv4=$image/24" --ipv4-gateway=10.0.0.1 \
    "--tcp-cc=$cc" "--bytes=$bytes"
  start=$(date +%s%N)
  in_peer timeout 120 socat -u -b 65536 "TCP:$image:19" - >"$MG_TMP/chargen.out"
  seconds=$(tcpip_seconds "$start")
  tcpip_image_finish
  after=$(dropped mgr0)
  size=$(stat -c %s "$MG_TMP/chargen.out")
  sum=$(sha256sum <"$MG_TMP/chargen.out" | cut -d' ' -f1)
  rm -f "$MG_TMP/chargen.out"
  [[ $size == "$bytes" && $sum == "$chargen_sha" ]] ||
    tcpip_fail "chargen: received $size bytes with sha256 $sum, expected $bytes with $chargen_sha"
  mg_pass "$target: chargen ($cc) -> Linux through ${loss_percent}% loss each way$delay: $mib MiB in $seconds s ($(tcpip_rate "$bytes" "$seconds") MB/s), sha256 matches; the router dropped $((after - before)) of the image's segments; image: $(tcpip_tcp_summary)"
}

for target in "${MG_TARGETS[@]}"; do
  tcpip_check "$target: discard with loss" check_discard "$target"
  tcpip_check "$target: chargen cubic with loss" check_chargen "$target" cubic
  tcpip_check "$target: chargen newreno with loss" check_chargen "$target" newreno
done
tcpip_done
