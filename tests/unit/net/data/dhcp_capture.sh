#!/usr/bin/env bash
# Captures a real DHCPv4 exchange (RFC 2131) for tests/unit/net/dhcp_test.cc: systemd-networkd's
# DHCP server in one network namespace and its DHCP client in another, joined by a veth pair.
# The client gets a 120 s lease (DISCOVER, OFFER, REQUEST, ACK) and renews it at T1 (a
# unicast REQUEST and its ACK); then Morgana's DhcpClient (dhcp_peer.cc) gets a lease from
# the same server (frames 6-9). Run as root; no traffic leaves the two namespaces, which are
# deleted at the end. (dnsmasq, dhclient and udhcpc are not in scripts/install-deps; the
# systemd that Debian installs everywhere is, so its DHCP implementations are the peers.)
# Each networkd runs in the mount namespace `ip netns exec` makes, with its own /run/systemd
# and configuration; /sys is remounted read-only there so networkd does not wait for udev.
# Usage: tests/unit/net/data/dhcp_capture.sh OUT_DIR
#   then tests/unit/net/data/dhcp_to_header.py OUT_DIR/dhcp.pcap tests/unit/net/data/dhcp.h
set -euo pipefail
out=$(realpath "${1:?usage: dhcp_capture.sh OUT_DIR}")
A=dhcpcap-a B=dhcpcap-b
cleanup() {
  ip netns pids $A 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns pids $B 2>/dev/null | xargs -r kill 2>/dev/null || true
  sleep 0.5
  ip netns del $A 2>/dev/null || true
  ip netns del $B 2>/dev/null || true
}
trap cleanup EXIT
cleanup
mkdir -p "$out/conf-a" "$out/conf-b"
cat >"$out/conf-a/10-server.network" <<EON
[Match]
Name=veth-a
[Network]
Address=10.77.0.1/24
DHCPServer=yes
[DHCPServer]
PoolOffset=100
PoolSize=20
EmitDNS=yes
DNS=10.77.0.1 10.77.0.53
EmitRouter=yes
DefaultLeaseTimeSec=120
MaxLeaseTimeSec=120
EON
cat >"$out/conf-b/10-client.network" <<EON
[Match]
Name=veth-b
[Network]
DHCP=ipv4
LinkLocalAddressing=no
[DHCPv4]
ClientIdentifier=mac
Hostname=morgana-peer
EON
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
  ip -n $ns link set veth-$side up
done
networkd() {  # networkd NAMESPACE CONFIG_DIR
  ip netns exec "$1" sh -c "mount -o remount,ro /sys && mount -t tmpfs tmpfs /run/systemd &&
    mkdir -p /run/systemd/netif && chown systemd-network:systemd-network /run/systemd/netif &&
    mount --bind $2 /etc/systemd/network && exec /lib/systemd/systemd-networkd" \
    >"$out/$1.log" 2>&1 &
}
sleep 1
ip netns exec $A tcpdump -i veth-a -U -s 0 -w "$out/dhcp.pcap" 'udp port 67 or udp port 68' \
  2>/dev/null &
dump=$!
sleep 1
networkd $A "$out/conf-a"
sleep 2
networkd $B "$out/conf-b"
# The lease is 120 s, so T1 (RFC 2131 §4.4.5: half the lease) falls about 60 s in.
for _ in $(seq 80); do
  sleep 1
  [ "$(tcpdump -r "$out/dhcp.pcap" 2>/dev/null | wc -l)" -ge 6 ] && break
done
# Then our own client (dhcp_peer.cc, a different MAC so it is a new client) against the
# same server: its DISCOVER and REQUEST and the server's OFFER and ACK to them.
ip netns pids $B | xargs -r kill
sleep 1
ip -n $B addr flush dev veth-b
root=$(cd "$(dirname "$0")/../../../.." && pwd)
g++ -std=c++20 -O1 -I"$root/include" -I"$root/src" "$root/tests/unit/net/data/dhcp_peer.cc" \
  "$root/src/net/dhcp.cc" "$root/src/net/dhcp_message.cc" "$root/src/net/address.cc" \
  "$root/tests/unit/support/host_panic.cc" -o "$out/dhcp_peer"
ip netns exec $B "$out/dhcp_peer" veth-b 02:00:00:77:00:03
sleep 1
kill -INT $dump
wait $dump || true
ip -n $B -4 addr show veth-b
tcpdump -r "$out/dhcp.pcap" -nn -t 2>/dev/null
