#!/usr/bin/env bash
# Integration test of the stub resolver (dns::Resolver, morgana/proto/dns/resolver.h)
# through examples/lookup, on every target that can run here (unix, hvt), against NSD.
#
# The VM: lookup.unix (Morgana's stack in a Linux process) and lookup.hvt, each with its
# `service` device on a tap, mgtap0, inside a network namespace this test creates (and
# deletes), at 10.81.0.2/24. The peers, in that namespace: NSD 4 at 10.81.0.1 (the
# namespace's side of the tap), authoritative for client.test, a zone this test writes
# (addresses, a CNAME chain, a name without AAAA, 120 addresses that only fit over TCP);
# socat at 10.81.0.1:7070 sending one line to each connection; dnsmasq leasing addresses
# with NSD as the DNS server (option 6) and its own DNS off. On each target the image
# must print for every name the A and AAAA addresses `dig` gets from NSD (the big one
# through TCP after a truncated answer), report NXDOMAIN and NODATA as errors, get past a
# silent first server (10.81.0.9: no host, no ARP answer) after a timeout, connect to a
# name and print socat's line, and resolve with the server its DHCP lease named. Nothing
# leaves the namespace.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$MG_SOURCE/tests/integration/nsd_lib.bash"
mg_require_root
mg_require_commands ip nsd dig socat timeout
[[ -c /dev/net/tun ]] || mg_skip "needs /dev/net/tun"
mg_targets lookup

readonly ns=mgn-dnsc-$$ tap=mgtap0 nsd_ip=10.81.0.1 image_ip=10.81.0.2 silent_ip=10.81.0.9
readonly zone=$MG_TMP/client.test.zone domain=client.test
in_ns() { ip netns exec "$ns" "$@"; }

# The image and the peers stop before their namespace goes.
mg_on_exit "ip netns del $ns"
ip netns add "$ns" || mg_skip "cannot create a network namespace (ip netns add failed)"
in_ns ip link set lo up
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
in_ns ip tuntap add dev "$tap" mode tap
in_ns ip addr add "$nsd_ip/24" dev "$tap"
in_ns ip link set "$tap" up

{
  cat <<ZONE
\$ORIGIN $domain.
\$TTL 300
@       IN SOA  ns1 hostmaster 2026112701 7200 3600 1209600 60
        IN NS   ns1
ns1     IN A    $nsd_ip
www     IN A    10.81.1.80
www     IN A    10.81.1.81
www     IN AAAA fd81::80
www     IN AAAA fd81::81
alias   IN CNAME c2
c2      IN CNAME www
v4only  IN A    10.81.1.4
svc     IN A    $nsd_ip
ZONE
  # 120 addresses: 1,920 bytes of records, over the resolver's EDNS size of 1,232.
  for i in $(seq 120); do echo "big     IN A    10.81.2.$i"; done
} >"$zone"

nsd_start "$ns" "$nsd_ip" "$domain" "$zone"
for _ in $(seq 20); do
  in_ns dig @"$nsd_ip" "www.$domain" +tries=1 +time=1 >/dev/null 2>&1 && break
  sleep 0.2
done
in_ns dig @"$nsd_ip" "www.$domain" +short | grep -q 10.81.1.80 || mg_fail "NSD does not answer"

# One line to each connection, for --connect. Started by `ip netns exec` itself, so $! is
# socat.
ip netns exec "$ns" socat "TCP-LISTEN:7070,bind=$nsd_ip,reuseaddr,fork" \
  "SYSTEM:echo hello from the namespace" </dev/null >/dev/null 2>&1 &
socat_pid=$!
mg_on_exit "kill $socat_pid"

names=(www alias v4only big ns1)

# What dig gets from NSD: sorted addresses of TYPE for NAME (CNAMEs left out).
dig_addresses() {
  in_ns dig @"$nsd_ip" "$1.$domain" "$2" +short | grep -E '^[0-9a-f.:]+$' | grep -v '\.$' | sort || true
}
# What the image printed: "NAME TYPE ADDR" lines.
image_addresses() {
  awk -v n="$1.$domain" -v t="$2" '$1 == n && $2 == t && $3 != "error:" { print $3 }' <<<"$MG_OUT" | sort
}

# run_lookup TARGET [APP ARGS...]: the image on the tap, run to its end.
run_lookup() {
  local target=$1
  shift
  mg_app "$target" lookup --net:service=tap:$tap -- --timeout=1000 --attempts=4 --stats "$@"
  mg_run --timeout 120 ip netns exec "$ns" "${MG_CMD[@]}"
}

# resolver_stat NAME: the counter NAME from the image's --stats line.
resolver_stat() {
  local line
  line=$(grep -m1 '^resolver: ' <<<"$MG_OUT") || mg_fail "no resolver counters in the output"
  [[ $line =~ [[:space:]]$1=([0-9]+) ]] || mg_fail "no $1 in '$line'"
  echo "${BASH_REMATCH[1]}"
}

check_target() {
  local target=$1 name type expected got count
  run_lookup "$target" "--ipv4=$image_ip/24" "--server=$nsd_ip" "${names[@]/%/.$domain}"
  mg_expect_status 0 "$target: lookup of ${names[*]}"
  for name in "${names[@]}"; do
    for type in A AAAA; do
      expected=$(dig_addresses "$name" "$type")
      got=$(image_addresses "$name" "$type")
      [[ $got == "$expected" ]] ||
        mg_fail "$target: $name.$domain $type: the image got [${got//$'\n'/ }], dig [${expected//$'\n'/ }]"
      if [[ -z $expected ]]; then
        grep -q "^$name.$domain $type error: not found (NODATA" <<<"$MG_OUT" ||
          mg_fail "$target: $name.$domain $type has no records, but NODATA was not reported"
      fi
    done
  done
  count=$(image_addresses big A | wc -l)
  ((count == 120)) || mg_fail "$target: big.$domain: $count addresses, not 120"
  (($(resolver_stat truncated) >= 1 && $(resolver_stat tcp) >= 1)) ||
    mg_fail "$target: big.$domain did not go through TCP after a truncated answer"
  mg_pass "$target: ${#names[@]} names as dig gets them from NSD (big.$domain: 120 A over TCP after TC; v4only AAAA: NODATA); $(grep -m1 '^resolver: ' <<<"$MG_OUT")"

  run_lookup "$target" "--ipv4=$image_ip/24" "--server=$nsd_ip" "nope.$domain" "www.$domain"
  mg_expect_status 1 "$target: a name that does not exist"
  mg_expect_stdout_contains "nope.$domain A error: not found (NXDOMAIN: the name does not exist)"
  mg_expect_stdout_contains "nope.$domain AAAA error: not found (NXDOMAIN"
  mg_expect_stdout_contains "www.$domain A 10.81.1.80"
  mg_pass "$target: NXDOMAIN reported (exit status 1), the next name still resolved"

  run_lookup "$target" "--ipv4=$image_ip/24" "--server=$silent_ip" "--server=$nsd_ip" "www.$domain"
  mg_expect_status 0 "$target: a silent first server"
  [[ $(image_addresses www A) == "$(dig_addresses www A)" ]] || mg_fail "$target: www after a silent server"
  (($(resolver_stat timeouts) >= 1)) || mg_fail "$target: no timeout counted for $silent_ip"
  mg_pass "$target: the silent $silent_ip timed out ($(resolver_stat timeouts) timeouts), $nsd_ip answered"

  run_lookup "$target" "--ipv4=$image_ip/24" "--server=$nsd_ip" "--connect=svc.$domain:7070"
  mg_expect_status 0 "$target: --connect"
  mg_expect_stdout_contains "connected to svc.$domain:7070 at $nsd_ip:7070"
  mg_expect_stdout_contains "line: hello from the namespace"
  mg_pass "$target: connected to svc.$domain by name and read 'hello from the namespace'"
}

for target in "${MG_TARGETS[@]}"; do
  mg_log "$target"
  check_target "$target"
done

# DHCP: dnsmasq names NSD as the DNS server (option 6); the image, given no --server,
# resolves through it.
if command -v dnsmasq >/dev/null 2>&1; then
  ip netns exec "$ns" dnsmasq --conf-file=/dev/null --keep-in-foreground --log-facility=- \
    --port=0 --no-resolv --no-hosts --interface="$tap" --bind-interfaces --except-interface=lo \
    --dhcp-range=10.81.0.50,10.81.0.99,255.255.255.0,1h --dhcp-option=6,$nsd_ip \
    --dhcp-leasefile="$MG_TMP/dnsmasq.leases" --pid-file="$MG_TMP/dnsmasq.pid" \
    --user=root --group=root >"$MG_TMP/dnsmasq.log" 2>&1 &
  dnsmasq_pid=$!
  mg_on_exit "kill $dnsmasq_pid"
  for _ in $(seq 100); do
    grep -q "DHCP, IP range" "$MG_TMP/dnsmasq.log" && break
    kill -0 "$dnsmasq_pid" 2>/dev/null || mg_fail "dnsmasq did not start: $(cat "$MG_TMP/dnsmasq.log")"
    sleep 0.05
  done
  for target in "${MG_TARGETS[@]}"; do
    run_lookup "$target" --dhcp "www.$domain"
    mg_expect_status 0 "$target: lookup with the DHCP lease's server"
    mg_expect_stdout_contains "lookup: server $nsd_ip:53"
    [[ $(image_addresses www A) == "$(dig_addresses www A)" ]] || mg_fail "$target: www through the DHCP server"
    mg_pass "$target: resolved through $nsd_ip, the DNS server of its DHCP lease"
  done
else
  echo "SKIPPED: DHCP: needs 'dnsmasq', which is not installed"
  MG_SKIPPED_PARTS+=("DHCP: needs 'dnsmasq', which is not installed")
fi
mg_done
