#!/usr/bin/env bash
# Integration test of examples/hello on the virtio target: QEMU boots hello.virtio with
# -kernel (PVH) on -M microvm, no devices but the serial console and isa-debug-exit, no
# peer; under KVM when /dev/kvm can be opened, else TCG (printed as "virtio: accel=...").
# Checks the output, argument quoting, timer, clocks, the exit statuses mapped back from
# QEMU's debug-exit code, a panic with a symbolised backtrace, and refused options. A
# short TCG boot on -M q35 covers the PC machine types.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mg_require_commands qemu-system-x86_64 python3 addr2line

morgana=$MG_BUILD/bin/morgana
image=$MG_BUILD/examples/hello/hello.virtio
[[ -x $morgana && -f $image ]] || mg_fail "$image or $morgana is not built"
if [[ -e /dev/kvm ]] && (exec 3<>/dev/kvm) 2>/dev/null; then accel=kvm; else accel=tcg; fi
echo "virtio: accel=$accel"

run() { mg_run --timeout 120 "$morgana" run -t virtio "$MG_SOURCE/examples/hello" "$@"; }

# shellcheck disable=SC2016  # '$' in single quotes is a literal argument on purpose.
# Under KVM, TCG runs too: both accelerations must work.
combos=("microvm $accel")
[[ $accel == kvm ]] && combos+=("microvm tcg")
for combo in "${combos[@]}"; do
  read -r machine acc <<<"$combo"
  tag="$machine/$acc"
  opts=(--machine="$machine" --accel="$acc")

  mg_log "$tag: arguments in order, timer, clocks"
  before=$(date +%s)
  run "${opts[@]}" --stats -- first "two words" "" 'sp$cial * chars' 'quote" and \back'
  after=$(date +%s)
  mg_expect_status 0
  mg_expect_lines_in_order "hello from Morgana" "arg: first" "arg: two words" "arg: " \
    'arg: sp$cial * chars' 'arg: quote" and \back' "slept 10 ms" "bye"
  mg_expect_stdout_contains "virtio: stats: cpl0 "
  monotonic=$(mg_stdout_field "monotonic: ")
  [[ $monotonic =~ ^([0-9]+)\ ns$ ]] || mg_fail "bad monotonic line '$monotonic'"
  ((BASH_REMATCH[1] >= 10000000)) || mg_fail "monotonic ${BASH_REMATCH[1]} ns after a 10 ms sleep"
  wall=$(mg_stdout_field "wall clock: ")
  wall_seconds=$(date -u -d "$wall" +%s) || mg_fail "date cannot read '$wall'"
  ((wall_seconds >= before - 2 && wall_seconds <= after + 2)) ||
    mg_fail "wall clock $wall is not between $(date -u -d "@$before" +%FT%TZ) and $(date -u -d "@$after" +%FT%TZ)"
  clock=$(mg_stdout_field "virtio: stats: ")
  mg_pass "$tag: output, quoting, timer ($monotonic), wall clock ($wall); $clock"

  random1=$(mg_stdout_field "random: ")
  run "${opts[@]}" -- --quick
  mg_expect_status 0 "hello --quick"
  random2=$(mg_stdout_field "random: ")
  [[ $random1 =~ ^[0-9a-f]{16}$ && $random1 != "$random2" ]] ||
    mg_fail "random numbers of two boots: '$random1' and '$random2'"

  mg_log "$tag: exit statuses"
  for status in 7 125; do
    run "${opts[@]}" -- --quick --exit=$status
    mg_expect_status $status "--exit=$status"
    mg_expect_lines_in_order "arg: --exit=$status" "bye"
  done
  run "${opts[@]}" -- --exit=999
  mg_expect_status 2 "--exit=999"
  mg_expect_lines_in_order "hello: --exit needs a number in 0..125, not '999'"
  mg_pass "$tag: exit statuses 0, 7, 125 and 2 come back through isa-debug-exit"

  mg_log "$tag: panic"
  run "${opts[@]}" -- --quick --panic
  mg_expect_status 250 "a panic"
  mg_expect_stdout_contains "virtio: guest panic: hello: panic requested by --panic"
  mg_expect_stderr_contains "app_main"  # symbolised by morgana run from the image
  mg_pass "$tag: panic reported with a symbolised backtrace, status 250"
done

mg_log "q35/tcg: the PC machine types boot the same image (through SeaBIOS)"
run --machine=q35 --accel=tcg -- --quick
mg_expect_status 0 "q35"
mg_expect_lines_in_order "hello from Morgana" "arg: --quick" "bye"
mg_pass "q35/tcg: boots and exits with 0"

mg_log "refusals before boot"
run --bogus-option --
mg_expect_status 253 "an unknown option"
mg_expect_stderr_contains "--bogus-option"
run --block:storage=/dev/null --
mg_expect_status 253 "a device on virtio (not supported yet)"
mg_expect_stderr_contains "--block:storage"
[[ -z $MG_OUT ]] || mg_fail "a refused command line still ran the application"
mg_pass "unknown options and devices refused with 253"
mg_done
