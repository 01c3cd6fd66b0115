#!/usr/bin/env bash
# Integration test of examples/timers on every target: the image runs concurrent tasks on
# the async runtime (tickers, a timeout, a race, a channel, a scope) with no devices and
# no peer. We check every output line in order, that the run took about as long as its
# timers say (virtual time is for unit tests; here the clock is real), and on hvt that
# the loop slept in yield rather than spinning (one exit per distinct timer deadline).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

expected=(
  "timers: start"
  "fast: tick 1 at 30 ms"
  "medium: tick 1 at 50 ms"
  "fast: tick 2 at 60 ms"
  "slow: tick 1 at 70 ms"
  "fast: tick 3 at 90 ms"
  "medium: tick 2 at 100 ms"
  "fast: tick 4 at 120 ms"
  "slow: tick 2 at 140 ms"
  "medium: tick 3 at 150 ms"
  "fast: tick 5 at 150 ms"
  "slow job: interrupted (cancelled)"
  "timeout: timed out after 25 ms (waited long enough: yes)"
  "tortoise: stopped (cancelled)"
  "race: hare won (argument 1)"
  "producer: sent 1"
  "producer: sent 2"
  "consumer: got 1"
  "producer: sent 3"
  "consumer: got 2"
  "producer: sent 4"
  "consumer: got 3"
  "producer: sent 5"
  "consumer: got 4"
  "consumer: got 5"
  "consumer: channel closed"
  "async: a spawned task failed: I/O error: the demo's deliberately failing worker"
  "worker 1: done"
  "worker 2: done"
  "worker 3: done"
  "scope: closed (ok), 1 failure(s) reported"
  "timers: done"
)

mg_targets timers
for target in "${MG_TARGETS[@]}"; do
  mg_log "$target: concurrent tasks on the event loop"
  if [[ $target == hvt ]]; then
    mg_app "$target" timers --stats --
  else
    mg_app "$target" timers --
  fi
  start_ns=$(date +%s%N)
  mg_run "${MG_CMD[@]}"
  elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
  mg_expect_status 0
  # Exactly these lines, in this order, and nothing else.
  [[ $MG_OUT == "$(printf '%s\n' "${expected[@]}")" ]] || {
    diff <(printf '%s\n' "${expected[@]}") <(printf '%s\n' "$MG_OUT") >&2 || true
    mg_fail "output differs from the expected lines (diff above: < expected, > actual)"
  }
  # Timers in sequence: 150 ms of tickers, 25 ms timeout, 20 ms race, 40 ms of channel,
  # 45 ms of workers = 280 ms at least; well under a second unless the loop misbehaves.
  ((elapsed_ms >= 280)) || mg_fail "ran in $elapsed_ms ms: timers fired early (at least 280 ms)"
  ((elapsed_ms < 5000)) || mg_fail "ran in $elapsed_ms ms: far longer than its timers"
  mg_pass "$target: ${#expected[@]} lines in order, $elapsed_ms ms"

  if [[ $target == hvt ]]; then
    # One yield per distinct deadline (19 here); a spinning loop would make thousands.
    exits=$(grep -o 'exits: yield [0-9]*' <<<"$MG_ERR" | grep -o '[0-9]*$' || true)
    [[ -n $exits ]] || mg_fail "no exit statistics from --stats"
    ((exits <= 40)) || mg_fail "$exits yields: the loop polls instead of sleeping to its deadline"
    mg_pass "hvt: the loop slept in $exits yields"
  fi
done
mg_done
