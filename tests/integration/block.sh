#!/usr/bin/env bash
# Integration test of examples/block on every target: the image gets one block device,
# `storage`, backed by a 4 MiB temporary file; no peer. It must write, flush and verify
# every block, checksum a read-only file without changing it, and be refused (253) when
# the file is missing, too small or not attached.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mg_require_commands python3 sha256sum truncate cmp

readonly size=$((4 * 1024 * 1024)) blocks=8192

# FNV-1a 64 of a file, as examples/block prints it for a read-only device.
fnv1a64() {
  python3 - "$1" <<'EOF'
import sys
h = 0xcbf29ce484222325
for byte in open(sys.argv[1], "rb").read():
    h = ((h ^ byte) * 0x100000001b3) & 0xffffffffffffffff
print(f"{h:016x}")
EOF
}

mg_targets block
for target in "${MG_TARGETS[@]}"; do
  disk=$MG_TMP/disk-$target
  truncate -s "$size" "$disk"

  mg_log "$target: write, flush, verify"
  mg_app "$target" block --block:storage="$disk" --
  mg_run "${MG_CMD[@]}"
  mg_expect_status 0
  mg_expect_lines_in_order "block: verified $blocks blocks of 512 bytes"
  cmp -s -n "$size" "$disk" /dev/zero && mg_fail "the file is still all zeros after a verified write"
  first=$(sha256sum <"$disk")

  # A second run draws a new seed, so it must write different data: a device that
  # ignored writes and returned the old pattern would fail here or in verification.
  mg_run "${MG_CMD[@]}"
  mg_expect_status 0 "second run"
  mg_expect_lines_in_order "block: verified $blocks blocks of 512 bytes"
  [[ $(sha256sum <"$disk") != "$first" ]] || mg_fail "two runs wrote the same data"
  mg_pass "$target: $blocks blocks written and verified, twice with different patterns"

  mg_log "$target: read-only"
  before=$(sha256sum <"$disk")
  expected=$(fnv1a64 "$disk")
  mg_app "$target" block --block:storage="$disk",ro --
  mg_run "${MG_CMD[@]}"
  mg_expect_status 0 "read-only"
  mg_expect_lines_in_order "block: read-only, read $blocks blocks of 512 bytes, fnv1a64 $expected"
  [[ $(sha256sum <"$disk") == "$before" ]] || mg_fail "a read-only run changed the file"
  mg_pass "$target: read-only device read whole, checksum $expected matches, file unchanged"

  mg_log "$target: a partial last block is not part of the device"
  odd=$MG_TMP/odd-$target
  truncate -s $((size + 100)) "$odd"
  mg_app "$target" block --block:storage="$odd" --
  mg_run "${MG_CMD[@]}"
  mg_expect_status 0 "file of 4 MiB + 100 bytes"
  mg_expect_lines_in_order "block: verified $blocks blocks of 512 bytes"
  tail -c 100 "$odd" | cmp -s -n 100 - /dev/zero || mg_fail "the 100 bytes past the last block were written"
  mg_pass "$target: 4 MiB + 100 bytes is $blocks blocks; the tail is untouched"

  mg_log "$target: refusals"
  mg_app "$target" block --
  mg_run "${MG_CMD[@]}"
  mg_expect_status 253 "no --block:storage"
  mg_expect_stderr_contains "storage"

  mg_app "$target" block --block:storage="$MG_TMP/does-not-exist" --
  mg_run "${MG_CMD[@]}"
  mg_expect_status 253 "a file that does not exist"
  mg_expect_stderr_contains "does-not-exist"

  truncate -s 100 "$MG_TMP/tiny"
  mg_app "$target" block --block:storage="$MG_TMP/tiny" --
  mg_run "${MG_CMD[@]}"
  mg_expect_status 253 "a file smaller than one block"
  mg_expect_stderr_contains "storage"

  mg_app "$target" block --block:storage="$disk" --block:extra="$disk" --
  mg_run "${MG_CMD[@]}"
  mg_expect_status 253 "a device the manifest does not declare"
  mg_expect_stderr_contains "extra"
  mg_pass "$target: missing, nonexistent, too small and undeclared devices refused with 253"
done
mg_done
