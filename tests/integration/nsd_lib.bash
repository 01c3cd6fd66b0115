# NSD 4 as the reference peer of the DNS tests (dns.sh, dns_client.sh), sourced after
# lib.sh: one server process in the caller's network namespace, answering on one address,
# response rate limiting off (Debian's default RRL would throttle a test's bursts), its
# files in $MG_TMP. It is stopped (before the namespace goes, as mg_on_exit runs in
# reverse order) when the test ends.
#
# The file is named .bash, not .sh, so ctest's glob of tests/integration/*.sh skips it.

# shellcheck shell=bash

# nsd_start NS ADDRESS ZONE ZONEFILE [SERVER_OPTION...] [-- ZONE_OPTION...]
# Starts NSD for ZONE (a name such as morgana.test) from ZONEFILE, with extra `server:`
# lines (e.g. "refuse-any: yes") and extra `zone:` lines (e.g. "provide-xfr: ...").
nsd_start() {
  local nsd_ns=$1 nsd_address=$2 nsd_zone=$3 nsd_zonefile=$4
  shift 4
  local server_options=() zone_options=() in_zone=0 option
  for option in "$@"; do
    if [[ $option == -- ]]; then
      in_zone=1
    elif ((in_zone)); then
      zone_options+=("  $option")
    else
      server_options+=("  $option")
    fi
  done
  {
    cat <<CONF
server:
  ip-address: $nsd_address
  port: 53
  server-count: 1
  username: ""
  chroot: ""
  database: ""
  zonelistfile: "$MG_TMP/zone.list"
  xfrdfile: "$MG_TMP/xfrd.state"
  xfrdir: "$MG_TMP"
  pidfile: "$MG_TMP/nsd.pid"
  logfile: "$MG_TMP/nsd.log"
  rrl-ratelimit: 0
CONF
    ((${#server_options[@]})) && printf '%s\n' "${server_options[@]}"
    cat <<CONF
remote-control:
  control-enable: no
zone:
  name: $nsd_zone
  zonefile: "$nsd_zonefile"
CONF
    ((${#zone_options[@]})) && printf '%s\n' "${zone_options[@]}"
  } >"$MG_TMP/nsd.conf"
  mg_on_exit nsd_stop
  ip netns exec "$nsd_ns" nsd -c "$MG_TMP/nsd.conf" ||
    mg_fail "nsd did not start: $(cat "$MG_TMP/nsd.log" 2>/dev/null)"
}

# nsd_stop: stops the NSD nsd_start started and waits (up to 5 s) until it is gone.
nsd_stop() {
  local pid
  [[ -s $MG_TMP/nsd.pid ]] || return 0
  pid=$(cat "$MG_TMP/nsd.pid")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}
