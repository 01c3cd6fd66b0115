#!/usr/bin/env bash
# Hostile guest vs morgana-hvt. VM: tests/guest/hostile (NET service on user-mode
# networking, BLOCK storage on a temporary 64 KiB file, 4 MiB RAM). Each case makes one
# bad request; the monitor must stop the guest with the right status (252 hostile call,
# 251 fault) and a message naming the problem, and must itself survive (no crash, no
# signal, no host memory touched — the test runs the monitor under its own seccomp).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

image=$MG_BUILD/tests/guest/hostile/hostile.hvt
reason=$(mg_hvt_skip_reason hello)
[[ -z $reason ]] || mg_skip "hvt: $reason"
[[ -f $image ]] || mg_fail "$image is not built"
disk=$MG_TMP/disk.img
truncate -s 64K "$disk"

# case  expected-status  expected message (substring of stderr)
cases=(
  "console_args_outside 252 console_write: argument struct at"
  "console_args_straddle 252 console_write: argument struct at"
  "console_data_wraps 252 console_write: buffer"
  "console_data_outside 252 is outside guest memory"
  "console_len_huge 252 console_write: length"
  "wall_clock_outside 252 wall_clock: argument struct"
  "yield_outside 252 yield: argument struct"
  "net_write_wraps 252 net_write: buffer"
  "net_write_too_long 252 exceeds the MTU"
  "net_read_outside 252 net_read: buffer"
  "net_bad_handle 252 handle 99 is not a network device"
  "net_handle_is_block 252 handle 1 is not a network device"
  "block_offset_wraps 252 block_read: offset"
  "block_beyond_capacity 252 block_write: offset"
  "block_buffer_outside 252 block_read: buffer"
  "block_misaligned 252 not a block-aligned range"
  "block_len_huge 252 not a block-aligned range"
  "block_flush_bad_handle 252 handle 0 is not a block device"
  "halt_bad_status 252 status 1000 is outside 0..125"
  "halt_panic_outside 252 panic report at"
  "panic_message_huge 252 exceeds the limits"
  "unknown_call 252 call on unknown port"
  "port_straddles_bitmap 251 general protection (#GP)"
  "console_ring_corrupt 252 console ring head"
  "closed_port 251 general protection (#GP)"
  "write_gdt 251 page fault (#PF)"
  "write_page_tables 251 page fault (#PF)"
  "write_boot_info 251 protection violation"
  "write_text 251 protection violation"
  "exec_data 251 instruction fetch"
  "null_deref 251 address 0x8"
  "hlt 251 general protection (#GP)"
  "outside_ram 251 page not mapped"
)

# Controls first: the console's plain call path, and 160,000 bytes through a 16 KiB ring.
mg_run --timeout 20 "$MG_HVT_MONITOR" --mem=4 --net:service=user --block:storage="$disk" "$image" console_plain
mg_expect_status 0 "console_plain"
mg_expect_stdout_contains "console: plain call path"
mg_run --timeout 20 "$MG_HVT_MONITOR" --mem=4 --stats --net:service=user --block:storage="$disk" "$image" console_flood
mg_expect_status 0 "console_flood"
bytes=$(grep -c '^x\{79\}$' "$MG_TMP/stdout") || true
[[ $bytes -eq 2000 ]] || mg_fail "console_flood: $bytes of 2000 lines arrived intact"
mg_pass "console: plain call, and 2000 lines through the ring without loss"

for entry in "${cases[@]}"; do
  read -r name status message <<<"$entry"
  mg_run --timeout 20 "$MG_HVT_MONITOR" --mem=4 --net:service=user --block:storage="$disk" "$image" "$name"
  mg_expect_status "$status" "case $name: exit status"
  mg_expect_stderr_contains "$message"
  [[ $MG_ERR != *"came back"* && $MG_OUT != *"came back"* ]] || mg_fail "case $name: the guest continued"
  mg_pass "$name -> $status ($message)"
done
mg_done
