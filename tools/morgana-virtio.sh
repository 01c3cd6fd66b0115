# `morgana run -t virtio`: boots an image under QEMU and turns QEMU's exit code back
# into the guest's status. Sourced by tools/morgana.in (bash, set -euo pipefail).
#
# QEMU's isa-debug-exit makes QEMU exit with (value << 1) | 1, and an exit status has 8
# bits, so the guest writes 0..125 for its own status, 126 for a panic and 127 for an
# unhandled fault (src/platform/virtio/virtio.h); we map those to 0..125, 250 and 251 as
# on hvt (DESIGN.md §4). QEMU's own failures also exit 1 (= guest status 0), so its
# stderr decides: an error line there means QEMU failed (253).
# shellcheck shell=bash

virtio_die() {
  echo "morgana: virtio: $*" >&2
  exit 253
}

# Quotes one argument for the guest's command-line splitter (cmdline.h): inside double
# quotes only " and \ need a backslash.
virtio_quote() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

# The image's manifest entries as "type name" lines (net|block), from its ELF note.
virtio_manifest() {
  python3 - "$1" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
shoff, = struct.unpack_from("<Q", data, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
def section(i):
    return struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
names = section(shstrndx)
for i in range(shnum):
    s = section(i)
    start = names[4] + s[0]
    if data[start:data.index(b"\0", start)] != b".note.morgana":
        continue
    desc = s[4] + 20  # namesz, descsz, type, "MORGANA\0"
    version, count = struct.unpack_from("<II", data, desc)
    for e in range(min(count, 16)):
        name, kind = struct.unpack_from("<32sI", data, desc + 8 + 40 * e)
        print({1: "net", 2: "block"}.get(kind, "unknown"), name.rstrip(b"\0").decode())
EOF
}

# virtio_netdev NAME SPEC: the -netdev value for --net:NAME=SPEC. `tap:IFNAME` opens an
# existing tap; QEMU gives it a vnet header whenever the host's tap driver has one
# (vnet_hdr's default; not forced on, so a tap without one still works), and with it its
# virtio-net device offers checksum offload and TSO, which the guest negotiates unless the
# application says --net-no-offloads. `user[,forward=tcp:HOSTADDR:HOSTPORT-:GUESTPORT]...`
# is QEMU's slirp, restricted like morgana-hvt's (DESIGN.md §4: the guest reaches nothing
# outside slirp's own services; forwards still come in), IPv4 only, the guest at
# 10.0.2.15 by DHCP; slirp has no vnet header, so QEMU's device offers no offloads there.
virtio_netdev() {
  local dev=$1 spec=$2 forward rest
  case $spec in
    tap:?*)
      local ifname=${spec#tap:}
      [[ $ifname =~ ^[A-Za-z0-9_.-]{1,15}$ ]] ||
        virtio_die "--net:$dev=$spec: bad interface name '$ifname'"
      printf 'tap,id=%s,ifname=%s,script=no,downscript=no' "$dev" "$ifname"
      ;;
    user | user,*)
      local netdev="user,id=$dev,restrict=on,ipv6=off,net=10.0.2.0/24,host=10.0.2.2"
      netdev+=",dhcpstart=10.0.2.15"
      rest=${spec#user}
      while [[ -n $rest ]]; do
        rest=${rest#,}
        forward=${rest%%,*}
        rest=${rest#"$forward"}
        [[ $forward =~ ^forward=tcp:([0-9.]*):([0-9]{1,5})-:([0-9]{1,5})$ ]] ||
          virtio_die "--net:$dev: '$forward' is not forward=tcp:HOSTADDR:HOSTPORT-:GUESTPORT"
        ((BASH_REMATCH[2] >= 1 && BASH_REMATCH[2] <= 65535 && BASH_REMATCH[3] >= 1 &&
          BASH_REMATCH[3] <= 65535)) ||
          virtio_die "--net:$dev: a port of '$forward' is out of range"
        netdev+=",hostfwd=tcp:${BASH_REMATCH[1]}:${BASH_REMATCH[2]}-:${BASH_REMATCH[3]}"
      done
      printf '%s' "$netdev"
      ;;
    *)
      virtio_die "--net:$dev=$spec: give tap:IFNAME or" \
        "user[,forward=tcp:HOSTADDR:HOSTPORT-:GUESTPORT]"
      ;;
  esac
}

virtio_kvm_usable() {
  [[ -e /dev/kvm ]] && (exec 3<>/dev/kvm) 2>/dev/null
}

# virtio_run IMAGE [options] -- [app args]
virtio_run() {
  local image=$1 mem=32 machine=microvm accel="" stats=0 print_command=0 option
  shift
  local -a app_args=()
  local -A blocks=()  # NAME -> FILE[,ro]
  local -A nets=()    # NAME -> tap:IFNAME | user[,forward=...]...
  local -A macs=()    # NAME -> MAC
  while [[ $# -gt 0 ]]; do
    option=$1
    shift
    case $option in
      --) app_args=("$@"); break ;;
      --mem=*) mem=${option#--mem=} ;;
      --machine=*) machine=${option#--machine=} ;;
      --accel=*) accel=${option#--accel=} ;;
      --stats) stats=1 ;;
      --print-command) print_command=1 ;;
      --block:*=*)
        local dev=${option#--block:}
        dev=${dev%%=*}
        [[ -z ${blocks[$dev]+set} ]] || virtio_die "--block:$dev given twice"
        blocks[$dev]=${option#--block:*=} ;;
      --net:*=*)
        local dev=${option#--net:}
        dev=${dev%%=*}
        [[ -z ${nets[$dev]+set} ]] || virtio_die "--net:$dev given twice"
        nets[$dev]=${option#--net:*=} ;;
      --net-mac:*=*)
        local dev=${option#--net-mac:}
        dev=${dev%%=*}
        macs[$dev]=${option#--net-mac:*=}
        [[ ${macs[$dev]} =~ ^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$ ]] ||
          virtio_die "--net-mac:$dev=${macs[$dev]}: give a MAC address like 02:00:00:00:00:01"
        ((0x${macs[$dev]:0:2} % 2 == 0)) ||
          virtio_die "--net-mac:$dev=${macs[$dev]}: a multicast address cannot be a device's" ;;
      *) virtio_die "unknown option '$option' (see morgana --help)" ;;
    esac
  done
  [[ $mem =~ ^[0-9]+$ ]] && ((mem >= 16 && mem <= 3072)) ||
    virtio_die "--mem=$mem: give MiB between 16 and 3072"
  case $machine in microvm | q35 | pc) ;; *) virtio_die "--machine=$machine: microvm, q35 or pc" ;; esac
  if [[ -z $accel ]]; then
    if virtio_kvm_usable; then accel=kvm; else accel=tcg; fi
  fi
  case $accel in kvm | tcg) ;; *) virtio_die "--accel=$accel: kvm or tcg" ;; esac
  command -v qemu-system-x86_64 >/dev/null ||
    virtio_die "qemu-system-x86_64 is not installed (scripts/install-deps)"

  # The manifest's devices become virtio devices in manifest order, entry k in slot k:
  # on microvm virtio-mmio transport k (bus virtio-mmio-bus.k; QEMU would otherwise fill
  # them from the highest address down), on q35 and pc PCI slot 8 + k, modern-only
  # virtio-pci without option ROMs. The guest matches the i-th block entry to the i-th
  # virtio-blk device in slot order and the i-th net entry to the i-th virtio-net device
  # (src/platform/virtio/devices.cc), so this order is what names them.
  local kind dev spec file size slot=0 place transport
  local -a devices=()
  local -A declared=()
  while read -r kind dev; do
    [[ -n $kind ]] || continue
    declared[$dev]=1
    if [[ $machine == microvm ]]; then
      transport=device place="bus=virtio-mmio-bus.$slot"
    else
      transport=pci place="disable-legacy=on,addr=$(printf %x $((8 + slot)))"
    fi
    case $kind in
      block)
        [[ -n ${blocks[$dev]+set} ]] || virtio_die "block device '$dev' is not attached (--block:$dev=FILE)"
        spec=${blocks[$dev]}
        file=${spec%,ro}
        [[ -f $file ]] || virtio_die "--block:$dev: $file does not exist"
        size=$(stat -c %s "$file")
        ((size >= 512)) || virtio_die "--block:$dev: $file is smaller than one 512-byte block"
        local drive="id=$dev,file=$file,format=raw,if=none"
        [[ $spec == *,ro ]] && drive+=",readonly=on"
        devices+=(-drive "$drive" -device "virtio-blk-$transport,drive=$dev,$place")
        ;;
      net)
        [[ -n ${nets[$dev]+set} ]] ||
          virtio_die "net device '$dev' is not attached (--net:$dev=tap:IFNAME or --net:$dev=user)"
        local netdev
        netdev=$(virtio_netdev "$dev" "${nets[$dev]}") || exit 253  # it said why
        devices+=(-netdev "$netdev")
        local nic="virtio-net-$transport,netdev=$dev,$place"
        [[ $transport == pci ]] && nic+=",romfile="  # no iPXE: the image boots with -kernel
        [[ -n ${macs[$dev]+set} ]] && nic+=",mac=${macs[$dev]}"
        devices+=(-device "$nic")
        ;;
      *) virtio_die "the image declares a device '$dev' of unknown type" ;;
    esac
    slot=$((slot + 1))
  done < <(virtio_manifest "$image")
  for dev in "${!blocks[@]}"; do
    [[ -n ${declared[$dev]+set} ]] || virtio_die "--block:$dev: the image declares no device '$dev'"
  done
  for dev in "${!nets[@]}" "${!macs[@]}"; do
    [[ -n ${declared[$dev]+set} ]] || virtio_die "--net:$dev: the image declares no device '$dev'"
  done

  # The console: a virtio console takes the guest's output (a buffer per exit instead of
  # the 16550's exit per byte on kvm-pvm), the 16550 keeps what must not depend on a
  # device (boot failures, device reports, panics, faults); both share one stdio chardev
  # through QEMU's multiplexer (mux=on), in the order the guest wrote. The console sits
  # right after the manifest's devices (slot k for k devices), the one slot an image
  # without devices looks at (src/platform/virtio/devices.cc). One port (max_ports=1: no
  # multiport protocol). Its notify is handled in the vCPU's exit rather than by an ioeventfd where
  # that can be chosen for it alone (virtio-pci) or it is the only device (microvm's
  # -global covers every transport): the output is then written when the notify returns,
  # and QEMU exits ~10 ms sooner on kvm-pvm, where tearing down a VM with ioeventfds
  # registered takes that long (docs/virtio.md).
  local -a globals=()
  if [[ $machine == microvm ]]; then
    # QEMU 7.2's virtio-mmio transports default to the legacy layout; the drivers speak 1.x.
    globals+=(-global virtio-mmio.force-legacy=false)
    ((slot == 0)) && globals+=(-global virtio-mmio.ioeventfd=off)
    devices+=(-device "virtio-serial-device,bus=virtio-mmio-bus.$slot,max_ports=1")
  else
    devices+=(-device
      "virtio-serial-pci,disable-legacy=on,addr=$(printf %x $((8 + slot))),max_ports=1,ioeventfd=off")
  fi
  devices+=(-device "virtconsole,chardev=console")

  # `[platform options --] app args` (docs/virtio.md): the -- is always there, so an
  # application argument can never be taken for a platform option.
  local append="" arg
  ((stats)) && append="--stats "
  append+="--"
  for arg in "${app_args[@]}"; do append+=" $(virtio_quote "$arg")"; done

  local cpu=max
  [[ $accel == kvm ]] && cpu=host,-arch-capabilities  # kvm-pvm refuses that MSR
  local -a qemu=(qemu-system-x86_64 -M "$machine,accel=$accel" -cpu "$cpu" -m "$mem" -smp 1
    -nodefaults -no-user-config -display none -no-reboot
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$image" -append "$append")
  qemu+=(${globals[@]+"${globals[@]}"} "${devices[@]}")
  if ((print_command)); then
    printf '%q ' "${qemu[@]}" -chardev stdio,id=console,mux=on -serial chardev:console
    echo
    return 0
  fi
  # The console goes into a file that `tail` streams to stdout. QEMU makes a stdio
  # chardev's stdout non-blocking, and its virtconsole drops what the chardev does not
  # take at once (hw/char/virtio-console.c throttles serial ports, not consoles): a pipe
  # or terminal more than its buffer behind would lose output (measured: a reader that
  # waited 2 s got 64 KiB of 180). A file takes everything, and is also the log a panic's
  # frames are symbolised from. QEMU reads no stdin then.
  local tmp
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/morgana-virtio.XXXXXX")
  : >"$tmp/console"
  qemu+=(-chardev "file,id=console,mux=on,append=on,path=$tmp/console" -serial chardev:console)

  local start_ns status=0 signal=0 pid relay
  start_ns=$(date +%s%N)
  "${qemu[@]}" </dev/null 2>"$tmp/stderr" &
  pid=$!
  # It follows the file (inotify) until QEMU has exited, then copies the rest and ends;
  # -s: how often it looks whether QEMU is still there.
  tail -c +1 -s 0.02 --pid="$pid" -f "$tmp/console" &
  relay=$!
  trap 'signal=2; kill -INT $pid 2>/dev/null' INT
  trap 'signal=15; kill -TERM $pid 2>/dev/null' TERM
  while :; do
    status=0
    wait "$pid" || status=$?
    kill -0 "$pid" 2>/dev/null || break
  done
  local elapsed_us=$((($(date +%s%N) - start_ns) / 1000))
  wait "$relay" || true
  trap - INT TERM
  grep -v "^qemu-system-x86_64: terminating on signal" "$tmp/stderr" >&2 || true

  local guest
  if ((signal)); then
    guest=$((128 + signal))
  elif ((status % 2 == 1)); then
    guest=$(((status - 1) / 2))
    if ((status == 1)) && grep -v "warning:" "$tmp/stderr" | grep -q "^qemu-system-x86_64:"; then
      echo "morgana: virtio: QEMU failed (above)" >&2
      guest=253
    fi
    ((guest == 126)) && guest=250
    ((guest == 127)) && guest=251
  else
    echo "morgana: virtio: QEMU exited with $status without a guest status (reset or triple fault)" >&2
    guest=251
  fi
  if ((guest == 250 || guest == 251)); then
    virtio_symbolise "$image" "$tmp/console"
  fi
  ((stats)) && echo "morgana: virtio: stats: accel=$accel machine=$machine, exec to exit ${elapsed_us} us" >&2
  rm -rf "$tmp"
  return "$guest"
}

# Names the frames of a panic or fault report (the guest prints only addresses).
virtio_symbolise() {
  local image=$1 console=$2 address
  command -v addr2line >/dev/null || return 0
  local -a addresses=()
  while read -r address; do addresses+=("$address"); done < <(
    sed -n '/^backtrace\|backtrace (addr2line/,$ s/^ *#[0-9]* *\(0x[0-9a-f]*\).*/\1/p' "$console")
  ((${#addresses[@]})) || return 0
  # A return address is the instruction after the call: look up the byte before it (the
  # first frame of a fault report is the faulting rip itself, but one byte back stays in
  # the same function unless it is the function's first byte).
  local -a lookups=()
  for address in "${addresses[@]}"; do lookups+=("$(printf '0x%x' $((address - 1)))"); done
  echo "morgana: virtio: backtrace, symbolised:" >&2
  local i=0 line
  while read -r line; do
    echo "  #$i ${addresses[i]} $line" >&2
    i=$((i + 1))
  done < <(addr2line -C -f -p -s -e "$image" "${lookups[@]}")
}
