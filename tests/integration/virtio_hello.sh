#!/usr/bin/env bash
# Integration test of examples/hello on the virtio target: QEMU boots hello.virtio with
# -kernel (PVH) on -M microvm, no devices but the console (a virtio console and the 16550
# on one chardev) and isa-debug-exit, no peer; under KVM when /dev/kvm can be opened, else
# TCG (printed as "virtio: accel=..."). Checks the output, argument quoting, timer,
# clocks, that the output went through the virtio console (its byte count) with at most
# one notify per line, the exit statuses mapped back from QEMU's debug-exit code, a panic
# with a symbolised backtrace, and refused options. tests/guest/panic prints thousands of
# lines before a panic and before a page fault: every line must come out, in order, before
# the report (the virtio console's buffers are written out before the 16550's report). A
# short TCG boot on -M q35 covers the PC machine types (virtio-pci console), a QEMU
# command line without the virtio console the fallback to the 16550, and one on microvm
# without ACPI that QEMU's own words on the command line are dropped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mg_require_commands qemu-system-x86_64 python3 addr2line

morgana=$MG_BUILD/bin/morgana
image=$MG_BUILD/examples/hello/hello.virtio
panic_image=$MG_BUILD/tests/guest/panic/panic.virtio
[[ -x $morgana && -f $image && -f $panic_image ]] ||
  mg_fail "$image, $panic_image or $morgana is not built"
if [[ -e /dev/kvm ]] && (exec 3<>/dev/kvm) 2>/dev/null; then accel=kvm; else accel=tcg; fi
echo "virtio: accel=$accel"

run() { mg_run --timeout 120 "$morgana" run -t virtio "$MG_SOURCE/examples/hello" "$@"; }

# The virtio console's --stats line (its counts stop before the stats lines): every byte
# of stdout before "virtio: stats:" went through it, and no line cost more than one flush,
# nor a flush more than one notify. Sets console_counts.
expect_virtio_console() {
  local counts before lines
  [[ $MG_OUT == *$'\n'"virtio-console: "* ]] || mg_fail "no virtio console (no virtio-console stats line)"
  counts=$(mg_stdout_field "virtio-console: ")
  [[ $counts =~ ^flushes\ ([0-9]+)\ notifies\ ([0-9]+)\ bytes\ ([0-9]+)\ waits\ [0-9]+$ ]] ||
    mg_fail "bad virtio-console line '$counts' (given up on?)"
  local flushes=${BASH_REMATCH[1]} notifies=${BASH_REMATCH[2]} bytes=${BASH_REMATCH[3]}
  before=${MG_OUT%%virtio: stats:*}
  lines=$(grep -c '' <<<"${before%$'\n'}")
  ((bytes == ${#before})) ||
    mg_fail "the virtio console carried $bytes bytes, stdout before the stats has ${#before}"
  ((notifies <= flushes && flushes <= lines)) ||
    mg_fail "$flushes flushes and $notifies notifies for $lines lines"
  console_counts=$counts
}

# panic_run MODE LINES: tests/guest/panic prints LINES numbered lines, then fails by MODE.
panic_run() {
  mg_run --timeout 120 "$morgana" run -t virtio "$MG_SOURCE/tests/guest/panic" "${opts[@]}" -- "$@"
}
# expect_lines_before MARK LINES: every numbered line, in order, all before the line that
# starts with MARK, and nothing twice.
expect_lines_before() {
  python3 - "$1" "$2" "$MG_TMP/stdout" <<'PY' || mg_fail "console output before the failure"
import sys
mark, n, lines = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read().split("\n")
want = [f"line {i} of {n} before the failure" for i in range(1, n + 1)]
got = [l for l in lines if l.startswith("line ")]
if got != want:
    bad = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), n))
    sys.exit(f"{len(got)} of {n} numbered lines, first difference at line {bad + 1}")
at = [i for i, l in enumerate(lines) if l.startswith(mark)]
if not at or at[0] < max(i for i, l in enumerate(lines) if l.startswith("line ")):
    sys.exit(f"no '{mark}' line after the numbered lines")
PY
}

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
  expect_virtio_console
  mg_pass "$tag: output, quoting, timer ($monotonic), wall clock ($wall); $clock; console: $console_counts"

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
  mg_expect_lines_in_order "hello from Morgana" "arg: --quick" "arg: --panic" \
    "virtio: guest panic: hello: panic requested by --panic"
  mg_expect_stderr_contains "app_main"  # symbolised by morgana run from the image
  mg_pass "$tag: panic reported with a symbolised backtrace, status 250"

  # ~100 KB: the virtio console's buffers are all in use more than once, and some lines
  # still wait in the console's buffer when the image fails.
  mg_log "$tag: 3000 lines, then a panic, then a page fault"
  panic_run panic 3000
  mg_expect_status 250 "a panic after 3000 lines"
  expect_lines_before "virtio: guest panic: test panic with value 42" 3000
  mg_expect_stderr_contains "panic_inner"
  panic_run fault 3000
  mg_expect_status 251 "a page fault after 3000 lines"
  expect_lines_before "virtio: unhandled page fault (#PF)" 3000
  mg_expect_stdout_contains "address 0x0000000000000010 (not mapped, write)"
  mg_expect_stderr_contains "touch_unmapped"
  mg_pass "$tag: 3000 lines complete and in order before a panic's and a fault's report"
done

mg_log "q35/tcg: the PC machine types boot the same image (through SeaBIOS)"
run --machine=q35 --accel=tcg --stats -- --quick
mg_expect_status 0 "q35"
mg_expect_lines_in_order "hello from Morgana" "arg: --quick" "bye"
expect_virtio_console
mg_pass "q35/tcg: boots and exits with 0; virtio-pci console: $console_counts"

# QEMU command lines of one's own (docs/virtio.md, "By hand").
cpu=max
[[ $accel == kvm ]] && cpu=host,-arch-capabilities
by_hand=(qemu-system-x86_64 -M "microvm,accel=$accel" -cpu "$cpu" -m 32 -smp 1 -nodefaults
  -no-user-config -display none -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04)

if [[ $accel == kvm ]]; then
  # `morgana run` gives an image without devices no ioeventfd, so the console's output is
  # written during its notify; with one (an image with devices, or by hand) QEMU's I/O
  # thread writes it later, and the report must still come after it.
  mg_log "kvm: 3000 lines, then a panic or a page fault, the console on an ioeventfd"
  for mode in panic fault; do
    mg_run --timeout 120 "${by_hand[@]}" -global virtio-mmio.force-legacy=false \
      -device virtio-serial-device,bus=virtio-mmio-bus.0,max_ports=1 \
      -device virtconsole,chardev=console -chardev stdio,id=console,mux=on \
      -serial chardev:console -kernel "$panic_image" -append "-- $mode 3000"
    if [[ $mode == panic ]]; then
      mg_expect_status 253 "QEMU's code for a panic (126)"
      expect_lines_before "virtio: guest panic: test panic with value 42" 3000
    else
      mg_expect_status 255 "QEMU's code for a fault (127)"
      expect_lines_before "virtio: unhandled page fault (#PF)" 3000
    fi
  done
  mg_pass "kvm: 3000 lines complete and in order before the reports, console on an ioeventfd"
fi

mg_log "$accel: without a virtio console the 16550 has it all"
mg_run --timeout 120 "${by_hand[@]}" -serial stdio -kernel "$image" \
  -append "--stats -- --quick --exit=7"
mg_expect_status 15 "QEMU's code for guest status 7"
mg_expect_lines_in_order "hello from Morgana" "arg: --quick" "arg: --exit=7" "bye"
mg_expect_stdout_contains "virtio: stats: cpl0 "
[[ $MG_OUT != *"virtio-console:"* ]] || mg_fail "a virtio console without the device"
mg_pass "$accel: no virtio console device, output complete on the 16550"

# Without ACPI, QEMU's microvm appends `virtio_mmio.device=512@0x...:IRQ` to the command
# line for every transport with a device (auto-kernel-cmdline, for Linux guests), after
# the application's words: they must not reach the application (measured with QEMU 7.2:
# `arg: virtio_mmio.device=512@0xfeb00000:5` before the splitter dropped such words).
mg_log "$accel: microvm,acpi=off: QEMU's virtio_mmio.device= words are not arguments"
mg_run --timeout 120 qemu-system-x86_64 -M "microvm,accel=$accel,acpi=off" "${by_hand[@]:3}" \
  -global virtio-mmio.force-legacy=false \
  -device virtio-serial-device,bus=virtio-mmio-bus.0,max_ports=1 \
  -device virtconsole,chardev=console -chardev stdio,id=console,mux=on \
  -serial chardev:console -kernel "$image" -append "-- --quick --exit=7"
mg_expect_status 15 "QEMU's code for guest status 7"
mg_expect_lines_in_order "hello from Morgana" "arg: --quick" "arg: --exit=7" \
  "argument lengths: 7x1 8x1" "bye"
[[ $MG_OUT != *"virtio_mmio"* ]] || mg_fail "acpi=off: QEMU's words reached the application"
mg_pass "$accel: microvm,acpi=off: the application has its two arguments, not QEMU's words"

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
