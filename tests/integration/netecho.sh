#!/usr/bin/env bash
# Integration test of examples/netecho on every target. The image's `service` device is
# a tap, mgtap0, inside a network namespace this test creates (and deletes): nothing
# leaves the machine. The peer is netframe.py on the namespace's side of the tap; it
# sends an Ethernet frame (ethertype 0x88b5, a random nonce) and expects it back with
# source and destination swapped. netecho runs with --count=1 and must then exit 0.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mg_require_root
mg_require_commands ip python3 timeout
[[ -c /dev/net/tun ]] || mg_skip "needs /dev/net/tun"

readonly ns=mgn-echo-$$ tap=mgtap0 mac=02:00:5e:00:00:01
netframe=$MG_SOURCE/tests/integration/netframe.py
in_ns() { ip netns exec "$ns" "$@"; }

# Stop the image before its namespace goes: it holds the tap open.
mg_on_exit "mg_stop; ip netns exec $ns ip link del $tap; ip netns del $ns"
ip netns add "$ns" || mg_skip "cannot create a network namespace (ip netns add failed)"
in_ns ip link set lo up
# No IPv6 in the namespace: the kernel would otherwise send router solicitations and
# MLD reports through the tap, and netecho would echo one of those instead of our frame.
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
in_ns ip tuntap add dev "$tap" mode tap
in_ns ip link set "$tap" up

mg_targets netecho
# hvt twice: frames over the shared rings (the default) and one call per frame.
variants=()
for target in "${MG_TARGETS[@]}"; do
  variants+=("$target")
  [[ $target == hvt ]] && variants+=("hvt --calls")
done
for variant in "${variants[@]}"; do
  read -r target path <<<"$variant"
  mg_log "$variant: a burst of 500 frames, then SIGTERM stops the image"
  mg_app "$target" netecho --net:service=tap:$tap --net-mac:service=$mac -- --report=100000 $path
  mg_start --timeout 60 ip netns exec "$ns" "${MG_CMD[@]}"
  peer_status=0
  peer=$(in_ns python3 "$netframe" burst "$tap" --dst "$mac" --count 500 --timeout 15 2>&1) || peer_status=$?
  kill -TERM "$MG_PID" 2>/dev/null || true
  mg_wait
  [[ $peer_status -eq 0 ]] || mg_fail "$variant: burst failed: $peer"
  mg_expect_status 143 "$variant: stopped by SIGTERM"
  [[ $target == unix ]] || mg_expect_stderr_contains "stopped by Terminated"
  mg_pass "$variant: ${peer##*$'\n'}"
done

for target in "${MG_TARGETS[@]}"; do
  mg_log "$target: one frame echoed through $tap in namespace $ns"
  mg_app "$target" netecho --net:service=tap:$tap --net-mac:service=$mac -- --count=1
  mg_start --timeout 30 ip netns exec "$ns" "${MG_CMD[@]}"
  # netframe resends until the echo arrives, as the image attaches to the tap a moment
  # after it starts; a frame sent before that is dropped by the tap.
  peer_status=0
  peer=$(in_ns python3 "$netframe" echo "$tap" --dst "$mac" --timeout 15 2>&1) || peer_status=$?
  # Without an echo the image may wait for frames forever: stop it, keep its output.
  [[ $peer_status -eq 0 ]] || kill "$MG_PID" 2>/dev/null || true
  mg_wait
  [[ $peer_status -eq 0 ]] || mg_fail "no correct echo: $peer"
  mg_expect_status 0 "netecho --count=1 after one frame"
  mg_expect_lines_in_order "netecho: service $mac mtu 1500" "netecho: done, echoed 1 frames"
  mg_pass "$target: $peer"

  mg_log "$target: refusals"
  mg_app "$target" netecho --
  mg_run ip netns exec "$ns" "${MG_CMD[@]}"
  mg_expect_status 253 "no --net:service"
  mg_expect_stderr_contains "service"

  mg_app "$target" netecho --net:service=tap:mgtap-absent-name-too-long -- --count=1
  mg_run ip netns exec "$ns" "${MG_CMD[@]}"
  mg_expect_status 253 "a tap name longer than IFNAMSIZ"
  mg_expect_stderr_contains "service"
  mg_pass "$target: missing device and bad tap name refused with 253"
done
mg_done
