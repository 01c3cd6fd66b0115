#!/usr/bin/env bash
# The `morgana` command (tools/morgana.in): build prints the image path as its last line;
# run builds if needed and runs on hvt and unix, passing monitor options and app args;
# bad usage is refused with status 2 and a message.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

morgana=$MG_BUILD/bin/morgana
[[ -x $morgana ]] || mg_fail "$morgana is not built"
cd "$MG_SOURCE"

mg_run "$morgana" --help
mg_expect_status 0 "morgana --help"
mg_expect_stdout_contains "morgana build -t TARGET DIR"

for target in unix hvt; do
  if [[ $target == hvt ]]; then
    reason=$(mg_hvt_skip_reason hello)
    if [[ -n $reason ]]; then
      echo "SKIPPED: hvt: $reason"
      MG_SKIPPED_PARTS+=("hvt: $reason")
      continue
    fi
  fi
  mg_run "$morgana" build -t "$target" examples/hello
  mg_expect_status 0 "morgana build -t $target"
  image=$(printf '%s\n' "$MG_OUT" | tail -n 1)
  [[ $image == "$MG_BUILD/examples/hello/hello.$target" && -x $image ]] ||
    mg_fail "last line of morgana build is '$image', not the built image"
  mg_run "$morgana" run -t "$target" examples/hello -- --quick "two words" --exit=5
  mg_expect_status 5 "morgana run -t $target ... --exit=5"
  mg_expect_lines_in_order "hello from Morgana" "arg: --quick" "arg: two words" "bye"
  mg_pass "$target: build prints $image; run passes args and the exit status"
done

if [[ -z $(mg_hvt_skip_reason hello) ]]; then
  disk=$MG_TMP/disk.img
  truncate -s 1M "$disk"
  mg_run "$morgana" run -t hvt examples/block --mem=8 --block:storage="$disk"
  mg_expect_status 0 "morgana run -t hvt examples/block with monitor options"
  mg_expect_stdout_contains "verified 2048 blocks"
  mg_pass "hvt: monitor options pass through"
fi

mg_run "$morgana" build -t xen examples/hello
mg_expect_status 2 "unknown target"
mg_expect_stderr_contains "unknown target 'xen'"
mg_run "$morgana" build -t hvt /nonexistent
mg_expect_status 2 "missing folder"
mg_expect_stderr_contains "/nonexistent: no such directory"
mg_run "$morgana" build -t hvt /tmp
mg_expect_status 2 "folder outside the tree"
mg_expect_stderr_contains "outside the Morgana tree"
mg_run "$morgana" frobnicate
mg_expect_status 2 "unknown command"
mg_expect_stderr_contains "unknown command 'frobnicate'"
mg_pass "bad usage refused with status 2 and a message"
mg_done
