#!/usr/bin/env bash
# DHCP on Morgana's stack, on every target that can run here (unix, hvt). VM:
# examples/echo with `--dhcp` and --net-stats, attached to a tap, mgtap0, inside a network
# namespace this test creates and deletes (Linux's end 10.0.0.1/24); nothing leaves it.
# Peer: dnsmasq in the namespace, bound to the tap, leasing 10.0.0.50-99 with the router
# option 10.0.0.1 and its DNS off (--port=0), its lease file in the test's temp dir. The
# image must print `net: DHCP lease 10.0.0.x/24 gateway 10.0.0.1 ...`, dnsmasq must have
# recorded the lease for the image's MAC, and the image must answer ping, UDP and TCP echo
# at that address. The second target, with the same MAC, must get the same address back.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/tcpip_lib.bash"
tcpip_require dnsmasq

readonly ns=mgt-dhcp-$$ host=10.0.0.1
in_ns() { ip netns exec "$ns" "$@"; }
tcpip_netns "$ns"
tcpip_tap "$ns" "$host/24"
mg_targets echo

# dnsmasq for the whole test (the lease outlives one image), stopped before the namespace
# goes. Started by `ip netns exec` itself, not through in_ns, so $! is dnsmasq.
leases=$MG_TMP/dnsmasq.leases
ip netns exec "$ns" dnsmasq --conf-file=/dev/null --keep-in-foreground --log-facility=- --log-dhcp \
  --port=0 --no-resolv --no-hosts --interface="$TCPIP_TAP" --bind-interfaces \
  --except-interface=lo --dhcp-range=10.0.0.50,10.0.0.99,255.255.255.0,1h \
  --dhcp-option=3,$host --dhcp-leasefile="$leases" --pid-file="$MG_TMP/dnsmasq.pid" \
  --user=root --group=root >"$MG_TMP/dnsmasq.log" 2>&1 &
dnsmasq_pid=$!
mg_on_exit "kill $dnsmasq_pid"
for _ in $(seq 100); do
  grep -q "DHCP, IP range" "$MG_TMP/dnsmasq.log" && break
  kill -0 "$dnsmasq_pid" 2>/dev/null || mg_fail "dnsmasq did not start: $(cat "$MG_TMP/dnsmasq.log")"
  sleep 0.05
done
grep -q "DHCP, IP range" "$MG_TMP/dnsmasq.log" ||
  mg_fail "dnsmasq did not start within 5 s: $(cat "$MG_TMP/dnsmasq.log")"

first_address=""
check_dhcp() {
  local target=$1 start line address out rtt
  start=$(date +%s%N)
  TCPIP_IMAGE_TIMEOUT=60
  tcpip_image_start "$ns" "$target" echo 1 --dhcp
  address=$TCPIP_ADDR
  line=$(grep -m1 '^net: DHCP lease ' "$MG_TMP/stdout") || tcpip_fail "no 'net: DHCP lease' line"
  [[ $line =~ ^net:\ DHCP\ lease\ (10\.0\.0\.[0-9]+)/24\ gateway\ 10\.0\.0\.1\ for\ [0-9]+\ s\ from\ 10\.0\.0\.1$ ]] ||
    tcpip_fail "unexpected lease line: '$line'"
  [[ ${BASH_REMATCH[1]} == "$address" ]] ||
    tcpip_fail "the lease is for ${BASH_REMATCH[1]} but the image listens on $address"
  mg_pass "$target: '$line' after $(tcpip_seconds "$start") s"
  grep -q " $TCPIP_MAC $address " "$leases" ||
    tcpip_fail "dnsmasq's lease file has no lease of $address to $TCPIP_MAC: $(cat "$leases")"
  if [[ -n $first_address ]]; then
    [[ $address == "$first_address" ]] ||
      tcpip_fail "the same MAC got $address after $first_address"
  fi
  out=$(in_ns ping -n -c 3 -i 0.2 -W 2 -s 3000 "$address" 2>&1) || tcpip_fail "ping $address: $out"
  [[ $out == *" 3 received"* ]] || tcpip_fail "ping $address: $out"
  rtt=$(sed -n 's|^rtt [^=]*= [^/]*/\([^/]*\)/.*|\1|p' <<<"$out")
  out=$(echo "udp to the lease" | in_ns timeout 10 socat -t 0.5 - "UDP:$address:7")
  [[ $out == "udp to the lease" ]] || tcpip_fail "UDP echo at $address: got '$out'"
  out=$(echo "tcp to the lease" | in_ns timeout 10 socat -t 5 - "TCP:$address:7")
  [[ $out == "tcp to the lease" ]] || tcpip_fail "TCP echo at $address: got '$out'"
  tcpip_image_finish
  mg_pass "$target: at the leased $address: ping -s 3000 (rtt avg $rtt ms), UDP and TCP echo answered; dnsmasq recorded the lease for $TCPIP_MAC"
}

for target in "${MG_TARGETS[@]}"; do
  tcpip_check "$target: dhcp" check_dhcp "$target"
  # The first lease, for the next target to get back (the check ran in a subshell).
  [[ -n $first_address ]] || first_address=$(awk '{ print $3; exit }' "$leases" 2>/dev/null || true)
done
if ((${#TCPIP_FAILED[@]} > 0)); then
  echo "  --- dnsmasq log ---" >&2
  sed 's/^/  /' "$MG_TMP/dnsmasq.log" >&2
fi
tcpip_done
