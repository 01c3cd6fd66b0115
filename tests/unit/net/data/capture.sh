#!/usr/bin/env bash
# Captures the real Linux packets the net unit tests parse (OUT_DIR/*.pcap, turned into
# tests/unit/net/data/*.h by pcap_to_header.py). Run as root: it makes two network namespaces
# joined by a veth pair (10.77.0.1/24 <-> 10.77.0.2/24), sends traffic only between them,
# and deletes both at the end. (This kernel has no 8021q module, so the VLAN-tagged test
# frames are built byte by byte from these captures instead.)
# Checksum and segmentation offloads are turned off so the captured checksums are the
# ones on the wire. Needs: iproute2, ethtool, tcpdump, iputils-ping, iputils-arping, curl,
# netcat-openbsd, python3.
# Usage: tests/unit/net/data/capture.sh OUT_DIR
#   then tests/unit/net/data/pcap_to_header.py OUT_DIR tests/unit/net/data fuzz/corpus/packet
set -euo pipefail
out=$(realpath "${1:?usage: capture.sh OUT_DIR}")
A=morgana-cap-a B=morgana-cap-b
cleanup() {
  ip netns pids $A 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns pids $B 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del $A 2>/dev/null || true
  ip netns del $B 2>/dev/null || true
}
trap cleanup EXIT
cleanup
ip netns add $A
ip netns add $B
ip link add veth-a netns $A type veth peer name veth-b netns $B
for ns in $A $B; do
  side=${ns##*-}
  [ "$side" = a ] && n=1 || n=2
  ip -n $ns link set lo up
  ip -n $ns link set veth-$side address 02:00:00:77:00:0$n
  ip netns exec $ns ethtool -K veth-$side tx off rx off tso off gso off gro off \
 >/dev/null 2>&1 || true
  ip -n $ns addr add 10.77.0.$n/24 dev veth-$side
  ip -n $ns link set veth-$side up
done
# Fixed TCP options so the handshake is reproducible in content (timestamps and ISNs
# still vary from run to run).
ip netns exec $A sysctl -qw net.ipv4.tcp_sack=1 net.ipv4.tcp_timestamps=1 net.ipv4.tcp_window_scaling=1
ip netns exec $B sysctl -qw net.ipv4.tcp_sack=1 net.ipv4.tcp_timestamps=1 net.ipv4.tcp_window_scaling=1
sleep 1  # let IPv6 DAD noise settle before we listen

capture() {  # capture NAME FILTER COMMAND...: record on veth-a while COMMAND runs in B
  local name=$1 filter=$2
  shift 2
  ip netns exec $A tcpdump -i veth-a -U -s 0 -w "$out/$name.pcap" "$filter" 2>/dev/null &
  local dump=$!
  sleep 1
  "$@" || true
  sleep 1
  kill -INT $dump
  wait $dump || true
}

capture arp arp ip netns exec $B ping -c 1 -W 1 10.77.0.1 >/dev/null
# A gratuitous ARP announcement (RFC 5227 §3: sender and target address both ours).
capture garp arp ip netns exec $B arping -U -c 1 -I veth-b 10.77.0.2 >/dev/null
capture ping icmp ip netns exec $B ping -c 1 -W 1 -p 6d6f7267616e61 10.77.0.1 >/dev/null
capture ping_frag 'icmp or (ip[6:2] & 0x3fff != 0)' \
  ip netns exec $B ping -c 1 -W 1 -s 3000 10.77.0.1 >/dev/null
# A datagram to a listening port, then one to a closed port (Linux answers with ICMP
# port unreachable).
ip netns exec $A timeout 3 nc -u -l -p 7777 >/dev/null &
sleep 0.5
capture udp 'udp or icmp' bash -c "echo -n 'hello morgana' | ip netns exec $B nc -u -w 1 10.77.0.1 7777;
  echo -n 'closed port' | ip netns exec $B nc -u -w 1 10.77.0.1 7778"
mkdir -p "$out/www" && echo "morgana" >"$out/www/index.html"
ip netns exec $A python3 -m http.server --bind 10.77.0.1 --directory "$out/www" 8000 \
  >/dev/null 2>&1 &
sleep 1
capture tcp 'tcp port 8000' ip netns exec $B curl -s -o /dev/null http://10.77.0.1:8000/
rm -rf "$out/www"
echo "captured into $out: $(ls "$out")"
