#!/usr/bin/env bash
# The virtio target on QEMU's PC machines, whose devices are modern virtio-pci (found on
# PCI bus 0, configured through memory BARs, MSI-X). VMs: examples/hello on -M q35 with no
# devices; examples/block on -M q35 with one virtio-blk-pci device backed by a 4 MiB
# temporary file (write, flush, verify; the virtio-serial-pci console after it found),
# and on -M pc under TCG read-only (checksum).
# KVM when /dev/kvm can be opened, else TCG (printed as "virtio: accel=..."); no peer.
# virtio-net over virtio-pci is in virtio_echo.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mg_require_commands qemu-system-x86_64 python3 truncate cmp sha256sum

morgana=$MG_BUILD/bin/morgana
for example in hello block; do
  [[ -f $MG_BUILD/examples/$example/$example.virtio ]] ||
    mg_fail "$MG_BUILD/examples/$example/$example.virtio is not built"
done
if [[ -e /dev/kvm ]] && (exec 3<>/dev/kvm) 2>/dev/null; then accel=kvm; else accel=tcg; fi
echo "virtio: accel=$accel"
readonly size=$((4 * 1024 * 1024)) blocks=8192

run() {
  local example=$1
  shift
  mg_run --timeout 240 "$morgana" run -t virtio "$MG_SOURCE/examples/$example" "$@"
}

mg_log "q35/$accel: hello"
run hello --machine=q35 --accel=$accel -- --quick --exit=7
mg_expect_status 7 "hello on q35"
mg_expect_lines_in_order "hello from Morgana" "arg: --quick" "bye"
mg_pass "q35/$accel: hello boots and exits with its status"

mg_log "q35/$accel: virtio-blk-pci, write, flush, verify"
disk=$MG_TMP/disk
truncate -s "$size" "$disk"
run block --machine=q35 --accel=$accel --stats --block:storage="$disk" --
mg_expect_status 0
mg_expect_lines_in_order "block: verified $blocks blocks of 512 bytes"
[[ $MG_OUT != *"virtio: virtio-"*" device at"* ]] || mg_fail "the guest reported a device problem"
cmp -s -n "$size" "$disk" /dev/zero && mg_fail "the file is still all zeros after a verified write"
# The console's virtio-serial-pci sits after the disk (PCI slot 9), found by the scan.
mg_expect_stdout_contains $'\nvirtio-console: flushes '
mg_pass "q35/$accel: $blocks blocks written and verified over virtio-pci;" \
  "$(grep -m1 '^virtio: stats:' <<<"$MG_OUT" | sed 's/^virtio: stats: //');" \
  "$(grep -m1 '^virtio-console:' <<<"$MG_OUT")"

mg_log "pc/tcg: virtio-blk-pci, read-only"
before=$(sha256sum <"$disk")
expected=$(python3 - "$disk" <<'PY'
import sys
h = 0xcbf29ce484222325
for byte in open(sys.argv[1], "rb").read():
    h = ((h ^ byte) * 0x100000001b3) & 0xffffffffffffffff
print(f"{h:016x}")
PY
)
run block --machine=pc --accel=tcg --block:storage="$disk",ro --
mg_expect_status 0 "read-only on pc"
mg_expect_lines_in_order "block: read-only, read $blocks blocks of 512 bytes, fnv1a64 $expected"
[[ $(sha256sum <"$disk") == "$before" ]] || mg_fail "a read-only run changed the file"
mg_pass "pc/tcg: read-only device read whole, checksum $expected matches, file unchanged"
mg_done
