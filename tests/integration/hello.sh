#!/usr/bin/env bash
# Integration test of examples/hello on every target: the image runs with no devices and
# no peer; we check its output lines, its timer, its clocks and its exit statuses, and
# that the platform refuses a bad command line (253) and reports a panic (250).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mg_targets hello
# shellcheck disable=SC2016  # '$' in single quotes is a literal argument on purpose.
for target in "${MG_TARGETS[@]}"; do
  mg_log "$target: arguments in order, timer, clocks"
  mg_app "$target" hello -- first "two words" "" 'sp$cial * chars'
  before=$(date +%s)
  mg_run "${MG_CMD[@]}"
  after=$(date +%s)
  mg_expect_status 0
  mg_expect_lines_in_order "hello from Morgana" "arg: first" "arg: two words" "arg: " \
    'arg: sp$cial * chars' "slept 10 ms" "bye"
  [[ $(printf '%s\n' "$MG_OUT" | tail -n 1) == bye ]] || mg_fail "the last line is not 'bye'"
  # Lengths 0, 5, 9 and 15, once each, in the order std::map keeps them.
  mg_expect_lines_in_order "argument lengths: 0x1 5x1 9x1 15x1"

  monotonic=$(mg_stdout_field "monotonic: ")
  [[ $monotonic =~ ^([0-9]+)\ ns$ ]] || mg_fail "bad monotonic line '$monotonic'"
  ((BASH_REMATCH[1] >= 10000000)) || mg_fail "monotonic ${BASH_REMATCH[1]} ns after a 10 ms sleep"

  wall=$(mg_stdout_field "wall clock: ")
  [[ $wall =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] ||
    mg_fail "wall clock '$wall' is not ISO-8601 UTC"
  wall_seconds=$(date -u -d "$wall" +%s) || mg_fail "date cannot read '$wall'"
  ((wall_seconds >= before - 2 && wall_seconds <= after + 2)) ||
    mg_fail "wall clock $wall is not between $(date -u -d "@$before" +%FT%TZ) and $(date -u -d "@$after" +%FT%TZ)"
  mg_pass "$target: output, timer ($monotonic) and wall clock ($wall)"

  # Each boot gets a new seed from the host: two boots must draw different numbers.
  random1=$(mg_stdout_field "random: ")
  mg_app "$target" hello -- --quick
  mg_run "${MG_CMD[@]}"
  mg_expect_status 0 "hello --quick"
  random2=$(mg_stdout_field "random: ")
  [[ $random1 =~ ^[0-9a-f]{16}$ && $random1 != "$random2" ]] ||
    mg_fail "random numbers of two boots: '$random1' and '$random2'"
  mg_pass "$target: random source differs per boot ($random1, $random2)"

  mg_log "$target: exit statuses"
  mg_app "$target" hello -- --quick --exit=7
  mg_run "${MG_CMD[@]}"
  mg_expect_status 7 "--exit=7"
  mg_expect_lines_in_order "hello from Morgana" "arg: --quick" "arg: --exit=7" \
    "sleep skipped (--quick)" "bye"

  mg_app "$target" hello -- --quick --exit=125
  mg_run "${MG_CMD[@]}"
  mg_expect_status 125 "--exit=125, the largest status a guest may use"

  mg_app "$target" hello -- --exit=999
  mg_run "${MG_CMD[@]}"
  mg_expect_status 2 "--exit=999"
  mg_expect_lines_in_order "hello: --exit needs a number in 0..125, not '999'"
  mg_pass "$target: exit statuses 0, 7, 125 and 2 for a bad --exit"

  mg_log "$target: panic"
  mg_app "$target" hello -- --quick --panic
  mg_run "${MG_CMD[@]}"
  mg_expect_status 250 "a panic"
  mg_expect_output_contains "hello: panic requested by --panic"
  mg_expect_output_contains "app_main"  # the backtrace names the function that panicked
  mg_pass "$target: panic reported with a symbolised backtrace, status 250"

  mg_log "$target: command line refused"
  mg_app "$target" hello --bogus-option --
  mg_run "${MG_CMD[@]}"
  mg_expect_status 253 "an unknown option"
  mg_expect_stderr_contains "--bogus-option"
  [[ -z $MG_OUT ]] || mg_fail "a refused command line still ran the application"

  mg_app "$target" hello --block:storage=/dev/null --
  mg_run "${MG_CMD[@]}"
  mg_expect_status 253 "a device the manifest does not declare"
  mg_expect_stderr_contains "storage"

  mg_app "$target" hello --help --
  mg_run "${MG_CMD[@]}"
  mg_expect_status 0 "--help"
  mg_expect_output_contains "--block:"
  [[ $MG_OUT != *"hello from Morgana"* ]] || mg_fail "--help still ran the application"
  mg_pass "$target: bad options refused with 253, --help"
done
mg_done
