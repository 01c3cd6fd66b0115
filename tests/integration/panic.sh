#!/usr/bin/env bash
# Panics on hvt and unix. VM: tests/guest/panic, no devices. The message, registers and a
# backtrace whose frames name the functions (symbolised by the monitor from the image's
# symbol table on hvt; by glibc's backtrace on unix) must appear, with status 250.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

dir=$MG_BUILD/tests/guest/panic
targets=(unix)
reason=$(mg_hvt_skip_reason hello)
if [[ -z $reason ]]; then targets+=(hvt); else echo "SKIPPED: hvt: $reason"; MG_SKIPPED_PARTS+=("hvt: $reason"); fi

for target in "${targets[@]}"; do
  if [[ $target == hvt ]]; then run=("$MG_HVT_MONITOR" "$dir/panic.hvt"); else run=("$dir/panic.unix" --); fi

  mg_run --timeout 20 "${run[@]}" panic
  mg_expect_status 250 "$target panic"
  mg_expect_stdout_contains "panic test: panic"
  mg_expect_stderr_contains "test panic with value 42"
  mg_expect_stderr_contains "panic_inner"
  mg_expect_stderr_contains "panic_outer"
  mg_expect_stderr_contains "app_main"
  mg_pass "$target: panic message and backtrace"

  mg_run --timeout 20 "${run[@]}" assert
  mg_expect_status 250 "$target assert"
  mg_expect_stderr_contains "assertion failed: value == 0"
  mg_expect_stderr_contains "assert_fails"
  mg_pass "$target: failed assertion"

  if [[ $target == hvt ]]; then
    mg_expect_stderr_contains "rip "
    mg_run --timeout 20 "${run[@]}" smash
    mg_expect_status 250 "hvt stack smash"
    mg_expect_stderr_contains "stack smashing detected"
    mg_pass "hvt: stack protector"

    mg_run --timeout 20 "$MG_HVT_MONITOR" --mem=2 "$dir/panic.hvt" oom
    mg_expect_status 250 "hvt out of memory"
    mg_expect_stderr_contains "out of memory"
    mg_pass "hvt: out of memory is a panic"
  fi
done
mg_done
