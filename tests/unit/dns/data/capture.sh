#!/usr/bin/env bash
# Regenerates the captured DNS packets in this directory: NSD serves
# examples/dns/zones/morgana.test.zone in one network namespace, dig and kdig query it
# from another (veth 10.78.0.1 <-> 10.78.0.2), and tcpdump records the exchange. Each
# query in queries.txt becomes NAME.query.bin and NAME.response.bin (DNS payloads; for
# TCP without the two-byte length prefix). Needs root, nsd, dnsutils, knot-dnsutils,
# tcpdump. Traffic never leaves the two namespaces this script creates and deletes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
zone=$(cd "$here/../../../../examples/dns/zones" && pwd)/morgana.test.zone
work=$(mktemp -d)
client=morgana-dnscap-client server=morgana-dnscap-server
cleanup() {
  [[ -f $work/nsd.pid ]] && kill "$(cat "$work/nsd.pid")" 2>/dev/null || true
  [[ -n ${dump:-} ]] && kill "$dump" 2>/dev/null || true
  ip netns del $client 2>/dev/null || true
  ip netns del $server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add $client
ip netns add $server
ip -n $client link add mdnscap0 type veth peer name mdnscap1 netns $server
ip -n $client addr add 10.78.0.1/24 dev mdnscap0
ip -n $server addr add 10.78.0.2/24 dev mdnscap1
for ns in $client $server; do ip -n $ns link set lo up; done
ip -n $client link set mdnscap0 up
ip -n $server link set mdnscap1 up

cat >"$work/nsd.conf" <<CONF
server:
  ip-address: 10.78.0.2
  port: 53
  server-count: 1
  username: ""
  chroot: ""
  database: ""
  zonelistfile: "$work/zone.list"
  xfrdfile: "$work/xfrd.state"
  xfrdir: "$work"
  pidfile: "$work/nsd.pid"
  logfile: "$work/nsd.log"
  rrl-ratelimit: 0
  refuse-any: yes
remote-control:
  control-enable: no
zone:
  name: morgana.test
  zonefile: "$zone"
CONF
ip netns exec $server nsd -c "$work/nsd.conf"
for _ in $(seq 50); do [[ -s $work/nsd.pid ]] && break; sleep 0.1; done
sleep 0.5

ip netns exec $client tcpdump -i mdnscap0 -U -w "$work/dns.pcap" port 53 2>/dev/null &
dump=$!
sleep 1

names=()
while read -r name tool args; do
  [[ -z $name || $name == \#* ]] && continue
  names+=("$name")
  # shellcheck disable=SC2086
  ip netns exec $client $tool @10.78.0.2 $args >"$work/$name.txt" 2>&1 || true
done <"$here/queries.txt"
sleep 1
kill "$dump"; wait "$dump" 2>/dev/null || true
dump=
python3 "$here/extract.py" "$work/dns.pcap" "$here" "${names[@]}"
