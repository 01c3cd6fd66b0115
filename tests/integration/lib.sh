# Helpers shared by the integration tests (tests/integration/*.sh): which targets can run
# here, building an example's command line per target, running it, checking what it did.
#
# Sourced by each test after `set -euo pipefail`. Environment (set by ctest):
#   MORGANA_BUILD   the build directory (default: $MORGANA_SOURCE/build)
#   MORGANA_SOURCE  the source tree (default: two levels above this file)
# A test prints "SKIPPED: <reason>" and exits 77 when a prerequisite is missing; a part
# that cannot run here (hvt without KVM) prints "SKIPPED: hvt: <reason>" and the rest runs.

# shellcheck shell=bash
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  # Run on its own (tests/CMakeLists.txt leaves it out of ctest) it has nothing to test.
  echo "SKIPPED: lib.sh holds the helpers the integration tests source; it is not a test"
  exit 77
fi

MG_SOURCE=${MORGANA_SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MG_BUILD=${MORGANA_BUILD:-$MG_SOURCE/build}
MG_TEST=$(basename "$0" .sh)
MG_HVT_MONITOR=$MG_BUILD/bin/morgana-hvt
MG_SKIPPED_PARTS=()

# --- Reporting --------------------------------------------------------------------------

mg_log() { echo "[$MG_TEST] $*"; }
mg_pass() { echo "ok: $*"; }

# The whole test cannot run here.
mg_skip() {
  echo "SKIPPED: $*"
  exit 77
}

# Prints what the last command did, so a failure in CI explains itself.
mg_fail() {
  {
    echo "FAIL: $*"
    if [[ -n "${MG_LAST_CMD:-}" ]]; then
      echo "  command: $MG_LAST_CMD"
      echo "  status:  ${MG_STATUS:-?}"
      echo "  --- stdout ---"
      printf '%s\n' "${MG_OUT:-}"
      echo "  --- stderr ---"
      printf '%s\n' "${MG_ERR:-}"
    fi
  } >&2
  exit 1
}

# Ends a test whose checks all passed, repeating what was skipped so it is not missed.
mg_done() {
  local part
  for part in "${MG_SKIPPED_PARTS[@]}"; do echo "SKIPPED: $part"; done
  echo "PASS: $MG_TEST"
  exit 0
}

# --- Clean-up -----------------------------------------------------------------------------

# Commands to run at exit, last registered first (so a process is killed before the
# namespace it runs in is deleted).
MG_CLEANUP=()
mg_on_exit() { MG_CLEANUP+=("$1"); }
_mg_run_cleanup() {
  local status=$? i
  for ((i = ${#MG_CLEANUP[@]} - 1; i >= 0; i--)); do
    eval "${MG_CLEANUP[i]}" >/dev/null 2>&1 || true
  done
  exit "$status"
}
trap _mg_run_cleanup EXIT

MG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/morgana-$MG_TEST.XXXXXX")
mg_on_exit "rm -rf '$MG_TMP'"

# --- Prerequisites ------------------------------------------------------------------------

mg_require_root() { [[ $(id -u) -eq 0 ]] || mg_skip "needs root (uid 0), running as uid $(id -u)"; }

mg_require_commands() {
  local command
  for command in "$@"; do
    command -v "$command" >/dev/null 2>&1 || mg_skip "needs '$command', which is not installed"
  done
}

# Why the hvt half of a test cannot run here, or nothing when it can.
mg_hvt_skip_reason() {
  local example=$1
  if [[ ! -e /dev/kvm ]]; then
    echo "/dev/kvm does not exist"
  elif ! (exec 3<>/dev/kvm) 2>/dev/null; then
    echo "/dev/kvm cannot be opened read-write by uid $(id -u)"
  elif [[ ! -x $MG_HVT_MONITOR ]]; then
    echo "the monitor $MG_HVT_MONITOR is not built"
  elif [[ ! -f $MG_BUILD/examples/$example/$example.hvt ]]; then
    echo "the image $MG_BUILD/examples/$example/$example.hvt is not built"
  fi
}

# Sets MG_TARGETS to the targets `example` can be tested on here: unix always (its absence
# is a failure: it is what the build makes first), hvt when KVM and the monitor are there.
mg_targets() {
  local example=$1 reason
  [[ -x $MG_BUILD/examples/$example/$example.unix ]] ||
    mg_fail "$MG_BUILD/examples/$example/$example.unix is not built (target $example.unix)"
  MG_TARGETS=(unix)
  reason=$(mg_hvt_skip_reason "$example")
  if [[ -z $reason ]]; then
    MG_TARGETS+=(hvt)
  else
    echo "SKIPPED: hvt: $reason"
    MG_SKIPPED_PARTS+=("hvt: $reason")
  fi
}

# --- Running ------------------------------------------------------------------------------

# mg_app TARGET EXAMPLE [device options...] -- [app args...]
# Sets MG_CMD to the command line running EXAMPLE on TARGET, in each target's grammar:
#   unix: EXAMPLE.unix [device options] -- [app args]
#   hvt:  morgana-hvt [device options] EXAMPLE.hvt [app args]
# shellcheck disable=SC2034  # MG_CMD is this function's result, used by the caller.
mg_app() {
  local target=$1 example=$2 options=()
  shift 2
  while [[ $# -gt 0 && $1 != "--" ]]; do
    options+=("$1")
    shift
  done
  [[ $# -gt 0 ]] && shift  # the "--"
  case $target in
    unix) MG_CMD=("$MG_BUILD/examples/$example/$example.unix" "${options[@]}" -- "$@") ;;
    hvt) MG_CMD=("$MG_HVT_MONITOR" "${options[@]}" "$MG_BUILD/examples/$example/$example.hvt" "$@") ;;
    *) mg_fail "mg_app: unknown target '$target'" ;;
  esac
}

# mg_start [--timeout S] CMD...: starts CMD in the background (MG_PID), stdin from
# /dev/null, stdout and stderr to files; `timeout` ends it if it hangs (status 124).
mg_start() {
  local seconds=60
  if [[ $1 == --timeout ]]; then
    seconds=$2
    shift 2
  fi
  MG_LAST_CMD=$(printf '%q ' "$@")
  MG_STATUS="" MG_OUT="" MG_ERR=""
  timeout --kill-after=5 "$seconds" "$@" </dev/null >"$MG_TMP/stdout" 2>"$MG_TMP/stderr" &
  MG_PID=$!
}

# Stops the command mg_start began if it still runs (say, after a failed check), by its
# own id; mg_wait clears MG_PID once it is reaped, so a recycled id is never signalled.
MG_PID=""
mg_stop() {
  if [[ -n $MG_PID ]]; then
    kill "$MG_PID" 2>/dev/null || true
    wait "$MG_PID" 2>/dev/null || true
    MG_PID=""
  fi
}
mg_on_exit mg_stop

# Waits for the command mg_start began; sets MG_STATUS, MG_OUT and MG_ERR.
mg_wait() {
  MG_STATUS=0
  wait "$MG_PID" || MG_STATUS=$?
  MG_PID=""
  MG_OUT=$(cat "$MG_TMP/stdout")
  MG_ERR=$(cat "$MG_TMP/stderr")
}

# mg_run [--timeout S] CMD...: runs CMD to completion (see mg_start, mg_wait).
mg_run() {
  mg_start "$@"
  mg_wait
}

# --- Checks on the last command ------------------------------------------------------------

mg_expect_status() {
  [[ $MG_STATUS == "$1" ]] || mg_fail "${2:-exit status}: expected $1, got $MG_STATUS"
}

# Each line must occur in stdout exactly, after the line before it.
mg_expect_lines_in_order() {
  local expected line found
  local -a lines
  mapfile -t lines <<<"$MG_OUT"
  local index=0
  for expected in "$@"; do
    found=0
    while ((index < ${#lines[@]})); do
      line=${lines[index]}
      index=$((index + 1))
      if [[ $line == "$expected" ]]; then
        found=1
        break
      fi
    done
    ((found)) || mg_fail "stdout lacks the line '$expected' (in this order)"
  done
}

# A substring of stdout, stderr, or either.
mg_expect_stdout_contains() { [[ $MG_OUT == *"$1"* ]] || mg_fail "stdout lacks '$1'"; }
mg_expect_stderr_contains() { [[ $MG_ERR == *"$1"* ]] || mg_fail "stderr lacks '$1'"; }
mg_expect_output_contains() {
  [[ $MG_OUT$'\n'$MG_ERR == *"$1"* ]] || mg_fail "output (stdout and stderr) lacks '$1'"
}

# The value after "PREFIX" on the first stdout line that starts with it.
mg_stdout_field() {
  local line
  while IFS= read -r line; do
    if [[ $line == "$1"* ]]; then
      printf '%s\n' "${line#"$1"}"
      return 0
    fi
  done <<<"$MG_OUT"
  mg_fail "stdout has no line starting with '$1'"
}

# --- HTTP checks (the website tests) -------------------------------------------------------

# mg_wait_http URL WHAT: waits up to 20 s until URL answers while the command mg_start
# began is running; fails naming WHAT if it ends first or never answers.
mg_wait_http() {
  for _ in $(seq 200); do
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    kill -0 "$MG_PID" 2>/dev/null || { mg_wait; mg_fail "$2 ended before serving: $(tail -3 "$MG_TMP/stdout")"; }
    sleep 0.1
  done
  mg_fail "$2 did not answer on $1 within 20 s"
}

# mg_expect_site URL DIR [CURL_OPTION...]: GETs every file under DIR as URL/<its path>
# (spaces sent as %20) and requires it byte-identical to the file; CURL_OPTIONs such as
# --compressed are passed to curl. Sets MG_SITE_COUNT to the number of files.
mg_expect_site() {
  local url=$1 dir=$2 file rel
  shift 2
  MG_SITE_COUNT=0
  while IFS= read -r -d '' file; do
    rel=${file#"$dir"/}
    curl -sf --max-time 10 "$@" "$url/${rel// /%20}" -o "$MG_TMP/got" || mg_fail "GET /$rel${*:+ ($*)} failed"
    cmp -s "$file" "$MG_TMP/got" || mg_fail "GET /$rel${*:+ ($*)} is not byte-identical to $file"
    MG_SITE_COUNT=$((MG_SITE_COUNT + 1))
  done < <(find "$dir" -type f -print0)
}
