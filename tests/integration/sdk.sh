#!/usr/bin/env bash
# The installed SDK (issue 5). `cmake --install` copies the already built tree into a
# staging prefix, which is then moved (the SDK must not remember where it was installed),
# and from there on only the prefix is used:
# - `morgana new hello-app` writes an application outside the tree; `morgana build`
#   compiles only its two files against the installed headers, libraries and CMake
#   package, for unix (host sockets and Morgana's own stack), hvt and virtio.
# - It runs as a Linux process on the host's sockets bound to 127.0.0.1, and as a
#   unikernel on the installed morgana-hvt with user-mode networking (libslirp, a forward
#   from 127.0.0.1). Peer: a Python TCP client on this host that reads the greeting and
#   checks its echo.
# - A second application written here uses morgana_kv_compiled() and LIBS morgana_kv,
#   morgana_http and morgana_dns, and runs on unix, hvt and (with QEMU) virtio.
# - Bad names, non-empty folders and a folder that is no CMake project are refused.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
mg_require_commands cmake ninja python3

[[ -f $MG_BUILD/cmake_install.cmake ]] || mg_fail "$MG_BUILD is not a configured build tree"
staging=$MG_TMP/staging
prefix=$MG_TMP/sdk
apps=$MG_TMP/apps
mkdir -p "$apps"

# --- Install ----------------------------------------------------------------------------

# Install only copies what the build made; it never builds (the tree is built by now).
mg_run --timeout 120 cmake --install "$MG_BUILD" --prefix "$staging"
mg_expect_status 0 "cmake --install $MG_BUILD --prefix $staging"
mv "$staging" "$prefix"
for file in bin/morgana bin/morgana-hvt lib/cmake/Morgana/MorganaConfig.cmake \
  lib/cmake/Morgana/MorganaConfigVersion.cmake lib/cmake/Morgana/MorganaTargets.cmake \
  lib/cmake/Morgana/MorganaUnikernel.cmake lib/morgana/guest.ld lib/morgana/virtio.ld \
  lib/morgana/libmorgana_rt.a lib/morgana/libmorgana_platform_hvt.a \
  lib/morgana/libmorgana_platform_virtio.a lib/morgana/libmorgana_platform_unix.a \
  lib/morgana/libmorgana_http.a lib/morgana/libmorgana_http_host.a \
  include/morgana/net/app_runner.h include/morgana/internal/platform/abi/hvt_abi.h \
  share/morgana/morgana-virtio.sh share/morgana/skeleton/main.cc.in; do
  [[ -f $prefix/$file ]] || mg_fail "the SDK lacks $file"
done
# The command, the package and the data must not point back into the tree or its build.
if leaks=$(grep -rlF -e "$MG_SOURCE" -e "$MG_BUILD" "$prefix/bin/morgana" "$prefix/lib/cmake" \
  "$prefix/share"); then
  mg_fail "installed files name the source or build tree: $leaks"
fi
mg_pass "installed into a staging prefix and moved: command, monitor, headers, libraries, package"

morgana=$prefix/bin/morgana
mg_run "$morgana" --help
mg_expect_status 0 "installed morgana --help"
mg_expect_stdout_contains "morgana new NAME [DIR]"
mg_expect_stdout_contains "SDK in $prefix"

# --- morgana new ------------------------------------------------------------------------

app=$apps/hello-app
mg_run "$morgana" new hello-app "$app"
mg_expect_status 0 "morgana new hello-app"
for file in CMakeLists.txt main.cc README.md .gitignore; do
  [[ -f $app/$file ]] || mg_fail "morgana new wrote no $file"
done
grep -q 'find_package(Morgana' "$app/CMakeLists.txt" || mg_fail "the skeleton does not find_package(Morgana)"
grep -q 'morgana_unikernel(NAME hello-app ' "$app/CMakeLists.txt" || mg_fail "the skeleton's image is not hello-app"
if grep -rq '%NAME%' "$app"; then mg_fail "a placeholder was left in the skeleton"; fi
mg_pass "morgana new wrote CMakeLists.txt, main.cc, README.md and .gitignore"

mg_run "$morgana" new hello-app "$app"
mg_expect_status 2 "morgana new into a non-empty folder"
mg_expect_stderr_contains "is not empty"
for bad in Hello 9lives "with space" "a/b" -x; do
  mg_run "$morgana" new "$bad" "$apps/bad"
  mg_expect_status 2 "morgana new '$bad'"
  mg_expect_stderr_contains "bad application name"
done
[[ ! -e $apps/bad ]] || mg_fail "a refused morgana new left $apps/bad behind"
touch "$apps/file"
mg_run "$morgana" new other "$apps/file"
mg_expect_status 2 "morgana new over a file"
mg_expect_stderr_contains "is not a directory"
mg_pass "bad names, a non-empty folder and a file are refused with status 2"

# --- Build ------------------------------------------------------------------------------

# morgana_build DIR TARGET [--stack=socket]: the image path, from build's last line.
morgana_build() {
  local dir=$1 target=$2
  shift 2
  mg_run --timeout 240 "$morgana" build -t "$target" "$@" "$dir"
  mg_expect_status 0 "morgana build -t $target $* $dir"
  image=$(printf '%s\n' "$MG_OUT" | tail -n 1)
  [[ -x $image && $image == "$dir"/build/* ]] || mg_fail "morgana build printed '$image', not an image in $dir/build"
}

morgana_build "$app" unix --stack=socket
socket_image=$image
morgana_build "$app" unix
device_image=$image
morgana_build "$app" hvt
hvt_image=$image
morgana_build "$app" virtio
[[ $socket_image == "$app/build/stack-socket/hello-app.unix" && $device_image == "$app/build/hello-app.unix" &&
  $hvt_image == "$app/build/hello-app.hvt" && $image == "$app/build/hello-app.virtio" ]] ||
  mg_fail "unexpected image paths: $socket_image $device_image $hvt_image $image"
# Only the application's sources and its generated manifest were compiled: everything
# else came from the SDK's libraries.
objects=$(cd "$app/build" && find . -name '*.o' | sed 's|.*/||' | LC_ALL=C sort -u | tr '\n' ' ')
[[ $objects == "hello-app.virtio_image_name.cc.o hello-app_manifest.cc.o hello-app_manifest_socket.cc.o main.cc.o " ]] ||
  mg_fail "the application's build compiled more than its own files: $objects"
mg_pass "hello-app built for unix (socket and device stacks), hvt and virtio from its own sources only"

# --- Run --------------------------------------------------------------------------------

# client.py PORT SECONDS: connects (again until SECONDS pass, while the server comes up),
# prints the greeting line, sends a line, closes its side and checks the echo.
cat >"$MG_TMP/client.py" <<'PY'
import socket, sys, time
port, deadline = int(sys.argv[1]), time.time() + float(sys.argv[2])
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        greeting = s.makefile("rb").readline()
        if greeting:
            break
        s.close()  # accepted by a forward, then closed: the guest is not listening yet
    except OSError:
        pass  # not listening yet
    if time.time() > deadline:
        sys.exit("client: no greeting on 127.0.0.1:%d" % port)
    time.sleep(0.2)
payload = b"echo me, %d\n" % port
s.sendall(payload)
s.shutdown(socket.SHUT_WR)
echoed = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    echoed += chunk
if echoed != payload:
    sys.exit("client: echo %r, expected %r" % (echoed, payload))
print("client: greeting " + greeting.decode().strip())
PY
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# check_client HOSTPORT SERVERPORT: runs the client against the server mg_start began, then
# waits for the server (--connections=1) to exit 0.
check_client() {
  local port=$1 server_port=$2 client_out
  if ! client_out=$(python3 "$MG_TMP/client.py" "$port" 60 2>&1); then
    mg_stop
    MG_OUT=$(cat "$MG_TMP/stdout") MG_ERR=$(cat "$MG_TMP/stderr")
    mg_fail "$client_out"
  fi
  [[ $client_out == "client: greeting hello from hello-app on Morgana" ]] || mg_fail "unexpected: $client_out"
  mg_wait
  mg_expect_status 0 "hello-app after one connection"
  mg_expect_lines_in_order "hello-app: serving TCP port $server_port" "hello-app: 1 connections served"
}

port=$(free_port)
mg_start --timeout 120 "$morgana" run -t unix --stack=socket "$app" -- --ipv4=127.0.0.1/8 \
  --port="$port" --connections=1
check_client "$port" "$port"
mg_pass "unix (host sockets): greeted and echoed on 127.0.0.1:$port"

# Morgana's own stack needs its device: the manifest built from the SDK names it.
mg_run --timeout 30 "$device_image" -- --ipv4=10.0.0.2/24
mg_expect_status 253 "hello-app.unix without --net"
mg_expect_stderr_contains "service"
mg_pass "unix (Morgana's stack): the manifest's device 'service' must be attached"

# The hvt part needs KVM only: the monitor is the SDK's (lib.sh's check wants the tree's).
reason=""
if [[ ! -e /dev/kvm ]]; then
  reason="/dev/kvm does not exist"
elif ! (exec 3<>/dev/kvm) 2>/dev/null; then
  reason="/dev/kvm cannot be opened read-write by uid $(id -u)"
fi
if [[ -n $reason ]]; then
  echo "SKIPPED: hvt: $reason"
  MG_SKIPPED_PARTS+=("hvt: $reason")
else
  port=$(free_port)
  mg_start --timeout 120 "$morgana" run -t hvt "$app" \
    --net:service=user,forward=tcp:127.0.0.1:"$port"-:8080 -- --dhcp --connections=1
  check_client "$port" 8080
  mg_pass "hvt (installed morgana-hvt, user networking): greeted and echoed through 127.0.0.1:$port"
fi

# --- Compiled KV store and LIBS ---------------------------------------------------------

kv=$apps/kvlibs
mkdir -p "$kv/files"
echo "hello from a compiled store" >"$kv/files/greeting.txt"
cat >"$kv/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(kvlibs LANGUAGES CXX)
find_package(Morgana REQUIRED)
morgana_kv_compiled(files ${CMAKE_CURRENT_SOURCE_DIR}/files files_cc)
morgana_unikernel(NAME kvlibs SOURCES main.cc ${files_cc} LIBS morgana_kv morgana_http morgana_dns)
CMAKE
cat >"$kv/main.cc" <<'CC'
// kvlibs: one call into each library named by LIBS, over a store compiled into the image.
#include <cstdio>
#include <string_view>

#include "morgana/app.h"
#include "morgana/proto/dns/name.h"
#include "morgana/proto/http/mime.h"
#include "morgana/storage/kv_compiled.h"

extern const morgana::kv::CompiledTable morgana_kv_files;

int app_main(int, char**) {
  morgana::kv::CompiledStore store(morgana_kv_files);
  auto bytes = store.view("greeting.txt");
  if (!bytes) return 1;
  std::printf("kv: %.*s", int(bytes->size()), reinterpret_cast<const char*>(bytes->data()));
  std::string_view type = morgana::http::content_type_for("greeting.txt");
  std::printf("http: %.*s\n", int(type.size()), type.data());
  auto name = morgana::dns::Name::parse("www.Example.org");
  if (!name) return 1;
  std::printf("dns: %s\n", name->to_string().c_str());
  return 7;
}
CC
kv_targets=(unix)
[[ -z $reason ]] && kv_targets+=(hvt)
if command -v qemu-system-x86_64 >/dev/null; then
  kv_targets+=(virtio)
else
  echo "SKIPPED: virtio: qemu-system-x86_64 is not installed"
  MG_SKIPPED_PARTS+=("virtio: qemu-system-x86_64 is not installed")
fi
for target in "${kv_targets[@]}"; do
  morgana_build "$kv" "$target"
  mg_run --timeout 120 "$morgana" run -t "$target" "$kv"
  mg_expect_status 7 "kvlibs on $target"
  mg_expect_lines_in_order "kv: hello from a compiled store" "http: text/plain; charset=utf-8" \
    "dns: www.Example.org."
  mg_pass "$target: morgana_kv_compiled and LIBS morgana_kv, morgana_http, morgana_dns"
done

# --- Folders that are not applications ----------------------------------------------------

mkdir -p "$apps/noproject"
echo 'morgana_unikernel(NAME noproject SOURCES main.cc)' >"$apps/noproject/CMakeLists.txt"
mg_run --timeout 60 "$morgana" build -t unix "$apps/noproject"
mg_expect_status 2 "a folder without project() and find_package(Morgana)"
mg_expect_stderr_contains "calls find_package(Morgana)"
mg_run "$morgana" build -t unix "$apps/file"
mg_expect_status 2 "a file as DIR"
mg_expect_stderr_contains "no such directory"
mg_pass "folders that are not Morgana projects are refused with status 2"
mg_done
