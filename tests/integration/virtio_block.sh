#!/usr/bin/env bash
# Integration test of examples/block on the virtio target: QEMU -M microvm boots
# block.virtio with one virtio-blk device over virtio-mmio, `storage`, backed by a 4 MiB
# temporary file, and the virtio console after it; no peer; KVM when /dev/kvm can be
# opened, else TCG (printed). It must write, flush and verify every block, find the
# console, checksum a read-only file without changing it, and be refused (253) when the
# file is missing, too small, not attached or undeclared.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mg_require_commands qemu-system-x86_64 python3 sha256sum truncate cmp

morgana=$MG_BUILD/bin/morgana
[[ -x $morgana && -f $MG_BUILD/examples/block/block.virtio ]] || mg_fail "block.virtio is not built"
if [[ -e /dev/kvm ]] && (exec 3<>/dev/kvm) 2>/dev/null; then accel=kvm; else accel=tcg; fi
echo "virtio: accel=$accel"
readonly size=$((4 * 1024 * 1024)) blocks=8192

run() { mg_run --timeout 120 "$morgana" run -t virtio "$MG_SOURCE/examples/block" "$@"; }

fnv1a64() {
  python3 - "$1" <<'PY'
import sys
h = 0xcbf29ce484222325
for byte in open(sys.argv[1], "rb").read():
    h = ((h ^ byte) * 0x100000001b3) & 0xffffffffffffffff
print(f"{h:016x}")
PY
}

disk=$MG_TMP/disk
truncate -s "$size" "$disk"
mg_log "write, flush, verify"
run --stats --block:storage="$disk" --
mg_expect_status 0
mg_expect_lines_in_order "block: verified $blocks blocks of 512 bytes"
# The console's virtio-mmio transport comes after the disk's (slot 1), found by the scan.
[[ $MG_OUT != *"virtio: virtio-"*" device at"* ]] || mg_fail "the guest reported a device problem"
mg_expect_stdout_contains $'\nvirtio-console: flushes '
cmp -s -n "$size" "$disk" /dev/zero && mg_fail "the file is still all zeros after a verified write"
first=$(sha256sum <"$disk")
run --block:storage="$disk" --
mg_expect_status 0 "second run"
[[ $(sha256sum <"$disk") != "$first" ]] || mg_fail "two runs wrote the same data"
mg_pass "$blocks blocks written and verified, twice with different patterns"

mg_log "read-only"
before=$(sha256sum <"$disk")
expected=$(fnv1a64 "$disk")
run --block:storage="$disk",ro --
mg_expect_status 0 "read-only"
mg_expect_lines_in_order "block: read-only, read $blocks blocks of 512 bytes, fnv1a64 $expected"
[[ $(sha256sum <"$disk") == "$before" ]] || mg_fail "a read-only run changed the file"
mg_pass "read-only device read whole, checksum $expected matches, file unchanged"

mg_log "refusals"
run --
mg_expect_status 253 "no --block:storage"
mg_expect_stderr_contains "storage"
run --block:storage="$MG_TMP/does-not-exist" --
mg_expect_status 253 "a file that does not exist"
mg_expect_stderr_contains "does-not-exist"
truncate -s 100 "$MG_TMP/tiny"
run --block:storage="$MG_TMP/tiny" --
mg_expect_status 253 "a file smaller than one block"
run --block:storage="$disk" --block:extra="$disk" --
mg_expect_status 253 "a device the manifest does not declare"
mg_expect_stderr_contains "extra"
mg_pass "missing, nonexistent, too small and undeclared devices refused with 253"
mg_done
