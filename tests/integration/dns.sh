#!/usr/bin/env bash
# Integration test of examples/dns, the authoritative server, on hvt next to NSD.
#
# The VM: dns.hvt with its `service` device on a tap, mgtap0, inside a network
# namespace this test creates (and deletes), at 10.79.0.2/24. The peer: NSD 4 in the same
# namespace at 10.79.0.1 (the namespace's side of the tap), serving the same zone file
# (examples/dns/zones/morgana.test.zone) from its own temporary directory, one server
# process, rrl-ratelimit 0, refuse-any yes, AXFR to 10.79.0.1 only. dig and kdig ask both
# the same questions from the namespace; their answers must agree field by field once
# the ID and timings are removed and records are sorted within each section. ANY is
# compared for its RFC 8482 shape only. dns_peer.py sends malformed queries, pipelined
# TCP queries, an idle connection and a burst against --rrl. Nothing leaves the machine.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$MG_SOURCE/tests/integration/nsd_lib.bash"
mg_require_root
mg_require_commands ip nsd dig kdig python3 timeout
[[ -c /dev/net/tun ]] || mg_skip "needs /dev/net/tun"
reason=$(mg_hvt_skip_reason dns)
[[ -z $reason ]] || mg_skip "hvt: $reason"

readonly ns=mgn-dns-$$ tap=mgtap0 nsd_ip=10.79.0.1 image_ip=10.79.0.2 stranger_ip=10.79.0.9
readonly zone=$MG_SOURCE/examples/dns/zones/morgana.test.zone
readonly peer=$MG_SOURCE/tests/integration/dns_peer.py
in_ns() { ip netns exec "$ns" "$@"; }

# The image and NSD stop before their namespace goes.
mg_on_exit "mg_stop; ip netns del $ns"
ip netns add "$ns" || mg_skip "cannot create a network namespace (ip netns add failed)"
in_ns ip link set lo up
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
in_ns ip tuntap add dev "$tap" mode tap
in_ns ip addr add "$nsd_ip/24" dev "$tap"
in_ns ip addr add "$stranger_ip/24" dev "$tap"  # a client AXFR is not allowed to
in_ns ip link set "$tap" up

nsd_start "$ns" "$nsd_ip" morgana.test "$zone" "refuse-any: yes" -- "provide-xfr: $nsd_ip NOKEY"

# Waits until SERVER answers a query over UDP.
wait_for() {
  for _ in $(seq 20); do
    in_ns dig @"$1" www.morgana.test +tries=1 +time=1 >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  [[ -n $MG_PID ]] && { kill "$MG_PID" 2>/dev/null || true; mg_wait; }
  mg_fail "$1 does not answer"
}

start_image() {
  mg_app hvt dns --net:service=tap:$tap -- --ipv4=$image_ip/24 "$@"
  mg_start --timeout 120 ip netns exec "$ns" "${MG_CMD[@]}"
  wait_for "$image_ip"
}

stop_image() {
  kill -TERM "$MG_PID" 2>/dev/null || true
  mg_wait
  mg_expect_stderr_contains "stopped by Terminated"
}

wait_for "$nsd_ip"
start_image --axfr-allow=$nsd_ip/32 --idle=2 --report=1
mg_pass "NSD at $nsd_ip and dns.hvt at $image_ip answer"

# dig's or kdig's output without what legitimately differs (the ID, timings, the server's
# address), each section's lines sorted, sections in order.
normalise() {
  sed -E -e 's/id: [0-9]+/id: N/' -e "s/$nsd_ip|$image_ip/SERVER/g" |
    awk '/^;; (Query time|WHEN|SERVER|MSG SIZE|Received|Time |From )/ { next }
         /SECTION:$/ { section++ }
         NF { printf "%03d %s\n", section, $0 }' | sort
}

# ask NAME TOOL ARGS...: both servers get the same query; their answers must agree.
# Morgana's normalised answer is left in $got for further checks.
ask() {
  local name=$1 tool=$2 expected
  shift 2
  expected=$(in_ns "$tool" @"$nsd_ip" "$@" 2>&1 | normalise)
  got=$(in_ns "$tool" @"$image_ip" "$@" 2>&1 | normalise)
  if [[ $got != "$expected" ]]; then
    diff <(echo "$expected") <(echo "$got") | sed 's/^/  /' >&2 || true
    mg_fail "$name ($tool $*): Morgana's answer (>) differs from NSD's (<)"
  fi
  [[ $got == *"HEADER"* ]] || mg_fail "$name: no answer from either: $got"
  compared=$((compared + 1))
}
expect() { [[ $got == *"$1"* ]] || mg_fail "$2: the answer lacks '$1': $got"; }

compared=0
dig_opts=(+nocookie)
ask "A" dig www.morgana.test A "${dig_opts[@]}"
expect "10.78.0.80" "A"
ask "AAAA" dig www.morgana.test AAAA "${dig_opts[@]}"
ask "MX" dig morgana.test MX "${dig_opts[@]}"
ask "TXT" dig txt.morgana.test TXT "${dig_opts[@]}"
ask "NS" dig morgana.test NS "${dig_opts[@]}"
ask "SOA" dig morgana.test SOA "${dig_opts[@]}"
ask "CAA" dig morgana.test CAA "${dig_opts[@]}"
ask "SRV" dig _sip._udp.morgana.test SRV "${dig_opts[@]}"
ask "PTR" dig ptr.morgana.test PTR "${dig_opts[@]}"
ask "unknown type (RFC 3597)" dig opaque.morgana.test TYPE65400 "${dig_opts[@]}"
ask "CNAME" dig ftp.morgana.test A "${dig_opts[@]}"
ask "CNAME chain" dig alias.morgana.test A "${dig_opts[@]}"
expect "www.morgana.test." "CNAME chain"
ask "CNAME out of the zone" dig away.morgana.test A "${dig_opts[@]}"
ask "CNAME queried" dig ftp.morgana.test CNAME "${dig_opts[@]}"
ask "wildcard" dig anything.wild.morgana.test A "${dig_opts[@]}"
expect "10.78.0.99" "wildcard"
ask "wildcard, deeper" dig a.b.c.wild.morgana.test TXT "${dig_opts[@]}"
ask "wildcard, NODATA" dig anything.wild.morgana.test MX "${dig_opts[@]}"
ask "wildcard, exact name wins" dig exact.wild.morgana.test A "${dig_opts[@]}"
ask "NXDOMAIN" dig nope.morgana.test A "${dig_opts[@]}"
expect "status: NXDOMAIN" "NXDOMAIN"
expect "SOA" "NXDOMAIN"
ask "NODATA" dig www.morgana.test MX "${dig_opts[@]}"
expect "ANSWER: 0" "NODATA"
expect "SOA" "NODATA"
ask "empty non-terminal" dig a.b.morgana.test A "${dig_opts[@]}"
ask "delegation with glue" dig www.sub.morgana.test A "${dig_opts[@]}"
expect "ns1.sub.morgana.test." "delegation"
ask "DS at the cut" dig sub.morgana.test DS "${dig_opts[@]}"
ask "REFUSED outside the zone" dig www.example.net A "${dig_opts[@]}"
expect "status: REFUSED" "outside the zone"
ask "case preserved" dig WwW.MoRgAnA.TeSt A "${dig_opts[@]}"
expect "WwW.MoRgAnA.TeSt." "case"
ask "no EDNS" dig www.morgana.test A +noedns
ask "EDNS 512" dig www.morgana.test A +bufsize=512 "${dig_opts[@]}"
ask "EDNS 4096" dig www.morgana.test A +bufsize=4096 "${dig_opts[@]}"
ask "EDNS DO" dig www.morgana.test A +dnssec "${dig_opts[@]}"
ask "EDNS version 1" dig www.morgana.test A +edns=1 +noednsneg "${dig_opts[@]}"
expect "BADVERS" "EDNS version 1"
ask "TC without EDNS" dig many.morgana.test A +noedns +ignore
expect " tc" "TC without EDNS"
ask "TC over EDNS 600" dig many.morgana.test A +bufsize=600 +ignore "${dig_opts[@]}"
expect " tc" "TC over EDNS 600"
ask "the same over TCP" dig many.morgana.test A +tcp "${dig_opts[@]}"
expect "ANSWER: 40" "over TCP"
ask "fits EDNS 1232" dig many.morgana.test A +bufsize=1232 "${dig_opts[@]}"
ask "several queries, one TCP connection" dig +tcp +keepopen www.morgana.test A mail.morgana.test A ns1.morgana.test AAAA "${dig_opts[@]}"
ask "kdig A" kdig www.morgana.test A
ask "kdig MX over TCP" kdig morgana.test MX +tcp
ask "kdig EDNS" kdig www.morgana.test AAAA +edns +bufsize=1400
ask "kdig TC then TCP" kdig many.morgana.test A +edns +bufsize=512
ask "kdig NXDOMAIN" kdig nope.wild2.morgana.test TXT +edns
ask "kdig referral" kdig sub.morgana.test NS
ask "kdig SRV" kdig _sip._udp.morgana.test SRV +tcp
mg_pass "$compared queries answered as NSD answers them"

# RFC 8482 §4.1: ANY gets one RRset (NSD's refuse-any); compare only that shape.
for server in "$nsd_ip" "$image_ip"; do
  any=$(in_ns dig @"$server" morgana.test ANY +noall +answer "${dig_opts[@]}")
  types=$(awk '{print $4}' <<<"$any" | sort -u | wc -l)
  [[ -n $any && $types -eq 1 ]] || mg_fail "ANY at $server: not one RRset: $any"
  www=$(in_ns dig @"$server" www.morgana.test ANY +tcp +noall +answer "${dig_opts[@]}")
  [[ $(awk '{print $4}' <<<"$www" | sort -u | wc -l) -eq 1 ]] || mg_fail "ANY over TCP at $server: $www"
done
mg_pass "ANY: one RRset from both (RFC 8482)"

# AXFR (RFC 5936) to the allowed address: the same records, SOA first and last.
axfr_nsd=$(in_ns dig @"$nsd_ip" morgana.test AXFR +noall +answer | sort)
axfr_ours=$(in_ns dig @"$image_ip" morgana.test AXFR +noall +answer)
[[ $(head -1 <<<"$axfr_ours") == *"IN"*"SOA"* && $(tail -1 <<<"$axfr_ours") == *"IN"*"SOA"* ]] ||
  mg_fail "AXFR: not SOA first and last: $axfr_ours"
if [[ $(sort <<<"$axfr_ours") != "$axfr_nsd" ]]; then
  diff <(echo "$axfr_nsd") <(sort <<<"$axfr_ours") >&2 || true
  mg_fail "AXFR: Morgana's records differ from NSD's"
fi
ask "AXFR from a stranger" dig -b "$stranger_ip" morgana.test AXFR +comments "${dig_opts[@]}"
expect "status: REFUSED" "AXFR from a stranger"
mg_pass "AXFR: $(wc -l <<<"$axfr_ours") records as NSD's to $nsd_ip, REFUSED to $stranger_ip"

# TCP: pipelining (RFC 7766 §6.2.1.1) and the idle timeout (§6.2.3, --idle=2).
mg_pass "$(in_ns python3 "$peer" pipeline "$image_ip" 20)"
mg_pass "$(in_ns python3 "$peer" idle "$image_ip" 4)"
# Malformed queries: FORMERR or nothing, and the next query is answered.
malformed=$(in_ns python3 "$peer" malformed "$image_ip") || mg_fail "malformed: $malformed"
[[ $malformed == *"65535-byte length: closed"* ]] || mg_fail "oversized TCP query: $malformed"
mg_pass "malformed: $malformed"

# The memo answered repeated questions (the counters come every second).
sleep 1.2
report=$(grep '^dns: queries=' "$MG_TMP/stdout" | tail -1)
[[ $report =~ memo_hits=([0-9]+) && ${BASH_REMATCH[1]} -gt 0 ]] || mg_fail "no memo hits: $report"
mg_pass "counters: $report"
stop_image

# RRL (--rrl=10): a burst of 100 queries from one address gets about ten answers, every
# second limited one slipped as a truncated answer (a retry over TCP would succeed).
# Also at most --connections=3 TCP connections at once (RFC 7766 §6.2.2).
start_image --rrl=10 --connections=3
burst=$(in_ns python3 "$peer" burst "$image_ip" 100)
[[ $burst =~ answered=([0-9]+)\ slipped=([0-9]+) ]] || mg_fail "burst: $burst"
answered=${BASH_REMATCH[1]} slipped=${BASH_REMATCH[2]}
((answered >= 8 && answered <= 13 && slipped >= 30)) || mg_fail "RRL: $burst"
in_ns dig @"$image_ip" www.morgana.test +tcp +short | grep -q 10.78.0.80 || mg_fail "TCP under RRL"
mg_pass "RRL at 10/s: $burst; TCP unaffected"
sleep 0.2  # dig's TCP connection above has ended
mg_pass "$(in_ns python3 "$peer" connections "$image_ip" 3)"
stop_image

# Zones from a disk (issue 7). VM: dns_tar.hvt, the same server with every *.zone file of
# a tar archive on its block device `storage` (--block:storage=FILE) in place of the
# compiled-in zone, on the same tap and address. Peer: dig in the namespace. The archive
# holds a zone of its own (disk.test), so morgana.test must now be REFUSED; replacing the
# disk file and restarting serves the new content; a zone file that does not parse and a
# disk that is not a tar archive stop the image with the reason.
check_zones_from_disk() {
  local image=$MG_BUILD/examples/dns/dns_tar.hvt disk=$MG_TMP/zones-disk answer
  if [[ ! -f $image ]]; then
    echo "SKIPPED: zones from a disk: $image is not built"
    MG_SKIPPED_PARTS+=("zones from a disk: $image is not built")
    return
  fi
  # write_zone FILE WWW_ADDRESS SERIAL
  write_zone() {
    mkdir -p "$(dirname "$1")"
    cat >"$1" <<ZONE
; a zone dns_tar serves from its disk
\$TTL 300
@    IN  SOA  ns1 hostmaster $3 7200 3600 1209600 300
     IN  NS   ns1
ns1  IN  A    10.79.1.1
www  IN  A    $2
     IN  TXT  "served from a disk"
ZONE
  }
  start_tar() {
    mg_start --timeout 120 ip netns exec "$ns" "$MG_HVT_MONITOR" --net:service=tap:$tap \
      --block:storage="$1" "$image" --ipv4=$image_ip/24
    wait_for "$image_ip"
  }
  write_zone "$disk/zones/disk.test.zone" 10.79.1.80 1
  echo "not a zone: ignored" >"$disk/README"
  tar --format=gnu -C "$disk" -cf "$MG_TMP/zones.tar" .
  start_tar "$MG_TMP/zones.tar"
  answer=$(in_ns dig @"$image_ip" www.disk.test A +short)
  [[ $answer == 10.79.1.80 ]] || mg_fail "www.disk.test from the disk: '$answer', not 10.79.1.80"
  answer=$(in_ns dig @"$image_ip" www.disk.test TXT +tcp +short)
  [[ $answer == '"served from a disk"' ]] || mg_fail "TXT over TCP from the disk: '$answer'"
  answer=$(in_ns dig @"$image_ip" nope.disk.test A)
  [[ $answer == *"status: NXDOMAIN"* ]] || mg_fail "nope.disk.test is not NXDOMAIN: $answer"
  answer=$(in_ns dig @"$image_ip" www.morgana.test A)
  [[ $answer == *"status: REFUSED"* ]] ||
    mg_fail "the compiled-in zone is still served with a disk attached: $answer"
  stop_image
  mg_expect_stdout_contains "dns: zone disk.test. from zones/disk.test.zone on block device 'storage'"
  mg_pass "dns_tar serves disk.test from a GNU tar on its disk; morgana.test is REFUSED"

  # The issue's acceptance: new content on the disk, a restart, the new answers.
  rm -rf "$disk" && write_zone "$disk/disk.test.zone" 10.79.1.81 2
  write_zone "$disk/second.test.zone" 10.79.2.80 1
  tar --format=pax -C "$disk" -cf "$MG_TMP/zones.tar" .
  start_tar "$MG_TMP/zones.tar"
  answer=$(in_ns dig @"$image_ip" www.disk.test A +short)
  [[ $answer == 10.79.1.81 ]] || mg_fail "after replacing the disk, www.disk.test is '$answer'"
  answer=$(in_ns dig @"$image_ip" www.second.test A +short)
  [[ $answer == 10.79.2.80 ]] || mg_fail "the second zone of the new disk: '$answer'"
  stop_image
  mg_pass "the disk file replaced by a pax tar with two zones: a restart serves both"

  # A zone file that does not parse: its file, line and reason, and the image ends.
  rm -rf "$disk" && write_zone "$disk/bad.test.zone" 10.79.1.80 1
  sed -i 's/^www  IN  A    10.79.1.80$/www  IN  A    10.79.1.800/' "$disk/bad.test.zone"
  tar --format=gnu -C "$disk" -cf "$MG_TMP/bad.tar" .
  mg_run --timeout 60 ip netns exec "$ns" "$MG_HVT_MONITOR" --net:service=tap:$tap \
    --block:storage="$MG_TMP/bad.tar" "$image" --ipv4=$image_ip/24
  mg_expect_status 1 "dns_tar with a zone file that does not parse"
  mg_expect_stdout_contains "dns: block device 'storage': bad.test.zone:6: "
  mg_pass "a bad zone file is refused: $(grep "bad.test.zone:6" <<<"$MG_OUT")"

  # A disk that is not a tar archive.
  head -c 65536 /dev/urandom >"$MG_TMP/garbage.img"
  mg_run --timeout 60 ip netns exec "$ns" "$MG_HVT_MONITOR" --net:service=tap:$tap \
    --block:storage="$MG_TMP/garbage.img" "$image" --ipv4=$image_ip/24
  mg_expect_status 1 "dns_tar with a disk of random bytes"
  mg_expect_stdout_contains "header checksum mismatch (not a tar archive, or corrupt)"
  mg_pass "a disk that is not a tar archive is refused: $(grep "refused" <<<"$MG_OUT")"
}
check_zones_from_disk
mg_done
