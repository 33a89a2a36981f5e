#!/usr/bin/env bash
# Run one command on a real vcan inside a throwaway VM.
#
#   tests/vm/run-in-vm.sh [--timeout SECONDS] [--mem MB] [--cpus N] -- COMMAND [ARGS...]
#
# For machines whose running kernel has no CAN at all.  Boots the newest
# installed Debian kernel that ships the vcan module in QEMU (software
# emulation, no network), from a small busybox initramfs that this script
# builds and caches.  The guest loads the virtio, 9p and CAN modules, mounts
# the host's root file system over 9p, chroots into it (fresh proc, sys, dev,
# and tmpfs on /tmp, /run and /var/tmp), creates and raises vcan0 and runs
# COMMAND in the host's current directory with the host's PATH, CI, BUILD_DIR,
# SECCBRIDGE_* and a few more variables.  COMMAND therefore runs the very
# binaries built on the host, against a real SocketCAN stack.
#
# The guest caches what it reads of the host's file system, except in the
# working directory, BUILD_DIR and SECCBRIDGE_VM_SHARE: there it sees every
# change the host makes at once, and the host sees its writes at once.
# Elsewhere, files the host changes while the VM runs may look stale to the
# guest, and the guest's writes reach the host by the time the VM is off.
#
# COMMAND's stdout and stderr are streamed to this script's stdout and
# stderr; its exit status is this script's exit status.  Harness failures:
#   124  COMMAND did not finish within the timeout (the VM is killed)
#   125  the VM could not be started or did not report a status
#
# Environment:
#   SECCBRIDGE_VM_TIMEOUT   default for --timeout (600)
#   SECCBRIDGE_VM_MEM       default for --mem (1024)
#   SECCBRIDGE_VM_CPUS      default for --cpus (2)
#   SECCBRIDGE_VM_CACHE     cache directory (default
#                           ${XDG_CACHE_HOME:-$HOME/.cache}/seccbridge-vm)
#   SECCBRIDGE_VM_KVER      kernel version to boot (default: newest with vcan)
#   SECCBRIDGE_VM_KERNEL    kernel image (default /boot/vmlinuz-KVER)
#   SECCBRIDGE_VM_MODULES   extra modules to load, e.g. "vxcan can-gw"
#   SECCBRIDGE_VM_CAN_PAIR  1: also two emulated SJA1000 CAN controllers
#                           (Kvaser PCI) on one emulated bus, can0 <-> can1,
#                           for tests of real controller settings (bitrate,
#                           restart-ms, bus state)
#   SECCBRIDGE_VM_QEMU_ARGS extra QEMU arguments (split on white space)
#   SECCBRIDGE_VM_ENV       extra variable names to pass into the guest
#   SECCBRIDGE_VM_SHARE     extra host paths (colon separated) that the guest
#                           must see uncached, as the host does (see below)
#   SECCBRIDGE_VCAN_IF      name of the vcan interface to create (vcan0)
#   SECCBRIDGE_VM_ACCEL     QEMU accelerator (default tcg,thread=multi: software
#                           emulation, which works where KVM does not)
#   SECCBRIDGE_VM_CPU       QEMU CPU model (default max)
#   SECCBRIDGE_VM_VERBOSE   1: print the guest console and QEMU log at the end
#   SECCBRIDGE_VM_KEEP      1: keep the run directory (for debugging)
#   QEMU                    QEMU binary (qemu-system-x86_64)
#   BUSYBOX                 statically linked busybox for the initramfs
#                           (/bin/busybox)
set -euo pipefail

prog="run-in-vm"
say() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { say "$*"; exit 125; }

usage() {
        sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
}

timeout_s=${SECCBRIDGE_VM_TIMEOUT:-600}
mem_mb=${SECCBRIDGE_VM_MEM:-1024}
cpus=${SECCBRIDGE_VM_CPUS:-2}

while [ $# -gt 0 ]; do
        case "$1" in
        --timeout) [ $# -ge 2 ] || die "--timeout needs a value"; timeout_s=$2; shift 2 ;;
        --timeout=*) timeout_s=${1#*=}; shift ;;
        --mem) [ $# -ge 2 ] || die "--mem needs a value"; mem_mb=$2; shift 2 ;;
        --mem=*) mem_mb=${1#*=}; shift ;;
        --cpus) [ $# -ge 2 ] || die "--cpus needs a value"; cpus=$2; shift 2 ;;
        --cpus=*) cpus=${1#*=}; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; break ;;
        -*) usage >&2; die "unknown option $1" ;;
        *) break ;;
        esac
done
[ $# -gt 0 ] || { usage >&2; die "no command given"; }
for n in "$timeout_s" "$mem_mb" "$cpus"; do
        case "$n" in
        ''|*[!0-9]*|0) die "--timeout, --mem and --cpus take a positive integer (got '$n')" ;;
        esac
done

# ---------------------------------------------------------------- host checks

PATH=$PATH:/usr/sbin:/sbin
qemu=${QEMU:-qemu-system-x86_64}
if ! command -v "$qemu" >/dev/null 2>&1; then
        die "$qemu not found: install the Debian package qemu-system-x86"
fi
for tool in modinfo timeout tail ip; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool not found (packages kmod, coreutils, iproute2)"
done

# The newest installed kernel whose modules include vcan.
find_kver() {
        local img kver best=
        while IFS= read -r img; do
                kver=${img#/boot/vmlinuz-}
                if modinfo -k "$kver" -n vcan >/dev/null 2>&1; then
                        best=$kver
                fi
        done < <(printf '%s\n' /boot/vmlinuz-* | grep -v '\*$' | sort -V)
        printf '%s' "$best"
}

kver=${SECCBRIDGE_VM_KVER:-}
if [ -z "$kver" ] && [ -n "${SECCBRIDGE_VM_KERNEL:-}" ]; then
        kver=$(basename "$SECCBRIDGE_VM_KERNEL")
        kver=${kver#vmlinuz-}
fi
[ -n "$kver" ] || kver=$(find_kver)
if [ -z "$kver" ]; then
        die "no installed kernel with the vcan module (looked for /boot/vmlinuz-* with vcan under /lib/modules): install the Debian package linux-image-amd64"
fi
kernel=${SECCBRIDGE_VM_KERNEL:-/boot/vmlinuz-$kver}
[ -e "$kernel" ] || die "kernel image $kernel not found: install linux-image-amd64"
[ -r "$kernel" ] || die "kernel image $kernel is not readable (some distributions install it mode 0600): run as root or point SECCBRIDGE_VM_KERNEL at a readable copy"
modinfo -k "$kver" -n vcan >/dev/null 2>&1 || die "kernel $kver has no vcan module under /lib/modules/$kver"

cache=${SECCBRIDGE_VM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/seccbridge-vm}
mkdir -p "$cache/runs"
cache=$(cd "$cache" && pwd -P)
case "$cache" in
*[[:space:]]*) die "cache directory '$cache' contains white space: set SECCBRIDGE_VM_CACHE" ;;
esac

# ---------------------------------------------------------------- initramfs

# Modules to load, dependencies first, resolved with modinfo.
module_order=()
declare -A module_seen=()
add_module() {
        local name=$1 deps dep
        [ -z "${module_seen[$name]:-}" ] || return 0
        module_seen[$name]=1
        deps=$(modinfo -k "$kver" -F depends "$name" 2>/dev/null) \
                || die "module $name not found for kernel $kver"
        for dep in ${deps//,/ }; do
                add_module "$dep"
        done
        module_order+=("$name")
}
# virtio_pci + 9pnet_virtio + 9p: the shared root; the rest: SocketCAN.
read -r -a extra_modules <<<"${SECCBRIDGE_VM_MODULES:-}"
if [ "${SECCBRIDGE_VM_CAN_PAIR:-0}" = 1 ]; then
        extra_modules+=(can-dev sja1000 kvaser_pci)
fi
for m in virtio_pci 9pnet_virtio 9p vcan can-raw can-bcm "${extra_modules[@]}"; do
        add_module "$m"
done
module_files=()
for m in "${module_order[@]}"; do
        f=$(modinfo -k "$kver" -n "$m")
        case "$f" in
        /*) module_files+=("$f") ;;
        *) ;; # built into the kernel
        esac
done

busybox=${BUSYBOX:-}
if [ -z "$busybox" ]; then
        for b in /bin/busybox /usr/bin/busybox; do
                [ -x "$b" ] && { busybox=$b; break; }
        done
fi
[ -n "$busybox" ] || die "busybox not found: install the Debian package busybox-static"

# The guest's /init.  It knows nothing about a particular run: the run
# directory comes on the kernel command line, everything else is in there.
read -r -d '' init_script <<'INIT' || true
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
msg() { echo "seccbridge-vm: $*" >/dev/console; }
halt() { msg "$*"; sync; poweroff -f; sleep 10; }
hostname seccbridge-vm
for m in /modules/*.ko; do
        insmod "$m" || halt "insmod $m failed"
done
run=
for w in $(cat /proc/cmdline); do
        case "$w" in seccbridge.run=*) run=${w#*=} ;; esac
done
[ -n "$run" ] || halt "no seccbridge.run= on the kernel command line"
# The host's root twice: "host", cached by the guest (starting programs from
# it is about twice as fast), becomes the root of the chroot; "tree",
# uncached and so always as the host sees it, supplies the working
# directory, the build directory and the run directory, bound over the
# cached view.
mkdir -p /host /tree
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose host /host \
        || halt "cannot mount the host root over 9p"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=mmap tree /tree \
        || halt "cannot mount the host tree over 9p"
[ -f "/tree$run/guest.sh" ] || halt "run directory $run not visible in the guest"
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /host/dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /host/dev/shm
ln -sfn /proc/self/fd /host/dev/fd
ln -sfn /proc/self/fd/0 /host/dev/stdin
ln -sfn /proc/self/fd/1 /host/dev/stdout
ln -sfn /proc/self/fd/2 /host/dev/stderr
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /host/tmp
[ ! -d /host/var/tmp ] || mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /host/var/tmp
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /host/run
mkdir -p /host/run/lock /host/run/seccbridge-vm
mount -o bind "/tree$run" /host/run/seccbridge-vm || halt "cannot bind $run"
# Also brings back what lies under the fresh tmpfs mounts above.
if [ -f "/tree$run/binds" ]; then
        while IFS= read -r p; do
                [ -n "$p" ] || continue
                mkdir -p "/host$p" && mount -o bind "/tree$p" "/host$p" \
                        || halt "cannot bind $p"
        done < "/tree$run/binds"
fi
chroot /host /usr/bin/env -i /bin/bash /run/seccbridge-vm/guest.sh \
        </dev/null >/dev/console 2>&1 || msg "guest script failed"
sync
poweroff -f
sleep 10
INIT

init_hash=$( {
        printf '%s\n' "format 1" "$kver" "$init_script"
        stat -L -c '%n %s %Y' "$kernel" "$busybox" "${module_files[@]}"
} | sha256sum | cut -c1-16)
initrd=$cache/initrd-$kver-$init_hash.cpio

build_initrd() {
        local stage n=0 f dst
        command -v cpio >/dev/null 2>&1 || die "cpio not found: install the Debian package cpio"
        if ldd "$busybox" >/dev/null 2>&1; then
                die "$busybox is dynamically linked: install the Debian package busybox-static"
        fi
        stage=$(mktemp -d "$cache/stage.XXXXXX")
        mkdir -p "$stage/bin" "$stage/dev" "$stage/proc" "$stage/sys" \
                "$stage/modules" "$stage/host" "$stage/tree"
        cp "$busybox" "$stage/bin/busybox"
        ln -s busybox "$stage/bin/sh"
        printf '%s\n' "$init_script" >"$stage/init"
        chmod 755 "$stage/init"
        for f in "${module_files[@]}"; do
                n=$((n + 1))
                dst=$stage/modules/$(printf '%02d' "$n")-$(basename "${f%%.ko*}").ko
                case "$f" in
                *.ko) cp "$f" "$dst" ;;
                *.ko.xz) xz -dc "$f" >"$dst" ;;
                *.ko.zst) zstd -qdc "$f" >"$dst" ;;
                *.ko.gz) gzip -dc "$f" >"$dst" ;;
                *) rm -rf "$stage"; die "unknown module format: $f" ;;
                esac
        done
        (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort \
                | cpio --quiet -o -H newc -R 0:0) >"$stage.cpio"
        rm -rf "$stage"
        # Drop images for kernels or formats no longer in use (not those a
        # concurrent run may have just built), then publish atomically so
        # that concurrent runs never see a half-written file.
        find "$cache" -maxdepth 1 -name 'initrd-*.cpio' ! -name "$(basename "$initrd")" \
                -mmin +60 -delete
        mv -f "$stage.cpio" "$initrd"
}

if [ ! -s "$initrd" ]; then
        say "building the guest initramfs for kernel $kver (cached in $cache)"
        build_initrd
fi

# ---------------------------------------------------------------- kernel

# Under software emulation, decompressing the kernel takes the guest about
# two seconds of every boot.  A kernel built with PVH support can be booted
# straight from its uncompressed ELF image, so unpack it once and cache it.
is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; }

unpack_kernel() {
        local out=$1 magic tool off tmp
        tmp=$(mktemp "$cache/vmlinux.XXXXXX")
        for pair in $'\xfd7zXZ:xz' $'\x28\xb5\x2f\xfd:zstd' $'\x1f\x8b\x08:gzip'; do
                magic=${pair%:*}
                tool=${pair##*:}
                command -v "$tool" >/dev/null 2>&1 || continue
                while IFS=: read -r off _; do
                        tail -c "+$((off + 1))" "$kernel" | "$tool" -dc 2>/dev/null >"$tmp" || true
                        if is_elf "$tmp"; then
                                mv -f "$tmp" "$out"
                                return 0
                        fi
                done < <(LC_ALL=C grep -abo "$magic" "$kernel" | head -n 4)
        done
        rm -f "$tmp"
        return 1
}

boot_kernel=$kernel
if ! is_elf "$kernel" && grep -qs '^CONFIG_PVH=y' "/boot/config-$kver"; then
        kernel_hash=$(stat -L -c '%n %s %Y' "$kernel" | sha256sum | cut -c1-16)
        vmlinux=$cache/vmlinux-$kver-$kernel_hash
        if [ ! -s "$vmlinux" ]; then
                find "$cache" -maxdepth 1 -name 'vmlinux-*' -mmin +60 -delete
                unpack_kernel "$vmlinux" || say "cannot unpack $kernel; booting it compressed (slower)"
        fi
        [ ! -s "$vmlinux" ] || boot_kernel=$vmlinux
fi

# ---------------------------------------------------------------- the run

# Leftovers of runs that were killed hard.
find "$cache/runs" -mindepth 1 -maxdepth 1 -mmin +1440 -exec rm -rf {} + 2>/dev/null || true

run=$(mktemp -d "$cache/runs/run.XXXXXX")
qemu_pid=
tail_pids=()
# shellcheck disable=SC2317  # called through the traps below
cleanup() {
        local rc=$?
        trap - EXIT INT TERM HUP
        if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
                # timeout(1) leads its own process group, QEMU is in it.
                kill -TERM -- "-$qemu_pid" 2>/dev/null || true
                sleep 1
                kill -KILL -- "-$qemu_pid" 2>/dev/null || true
        fi
        if [ ${#tail_pids[@]} -gt 0 ]; then
                kill "${tail_pids[@]}" 2>/dev/null || true
                wait "${tail_pids[@]}" 2>/dev/null || true
        fi
        if [ "${SECCBRIDGE_VM_KEEP:-0}" = 1 ]; then
                say "run directory kept: $run"
        else
                rm -rf "$run"
        fi
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

cwd=$(pwd -P)
vcan_if=${SECCBRIDGE_VCAN_IF:-vcan0}

# Host paths the guest must see exactly as the host does, also while the
# host changes them, and also when they lie under /tmp, /run or /var/tmp:
# the working directory, the build directory, extra ones.  Parents first;
# paths inside one already listed are left out.
binds=()
want_bind() {
        local p q
        p=$(cd "$1" 2>/dev/null && pwd -P) || return 0
        case "$p" in
        *$'\n'*) die "path with a newline cannot be shared: $p" ;;
        esac
        for q in "${binds[@]}"; do
                case "$p/" in "${q%/}/"*) return 0 ;; esac
        done
        binds+=("$p")
}
bind_candidates=("$cwd")
[ -z "${BUILD_DIR:-}" ] || bind_candidates+=("$BUILD_DIR")
IFS=: read -r -a extra_share <<<"${SECCBRIDGE_VM_SHARE:-}"
bind_candidates+=("${extra_share[@]}")
while IFS= read -r p; do
        [ -z "$p" ] || want_bind "$p"
done < <(for p in "${bind_candidates[@]}"; do
                [ -z "$p" ] || (cd "$p" 2>/dev/null && pwd -P)
        done | awk '{ print length($0) "\t" $0 }' | sort -n | cut -f2-)
: >"$run/binds"
[ ${#binds[@]} -eq 0 ] || printf '%s\n' "${binds[@]}" >"$run/binds"

# Variables that matter to the command, quoted for bash.
env_lines=()
add_env() {
        local name=$1
        env_lines+=("export $name=$(printf '%q' "${!name}")")
}
read -r -a extra_env <<<"${SECCBRIDGE_VM_ENV:-}"
while IFS= read -r name; do
        case "$name" in
        PATH|HOME|USER|LOGNAME|LANG|LANGUAGE|LC_*|TZ|TERM|CI|BUILD_DIR|PYTHONPATH|SECCBRIDGE_*)
                add_env "$name" ;;
        *)
                for e in "${extra_env[@]}"; do
                        [ "$e" != "$name" ] || add_env "$name"
                done ;;
        esac
done < <(compgen -e)
cmdline=$(printf ' %q' "$@")

{
        cat <<'HEAD'
# Generated by run-in-vm; runs inside the guest chroot.
run=/run/seccbridge-vm
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
fail() {
        echo "run-in-vm (guest): $*" >>"$run/stderr"
        echo 125 >"$run/status.new" && mv "$run/status.new" "$run/status"
        exit 0
}
# The guest clock comes from the emulated RTC (whole seconds): take the host
# time from the mtime of a file that the host's file system stamps for us.
: >"$run/clock" && date -s "@$(stat -c %.9Y "$run/clock")" >/dev/null 2>&1
ip link set dev lo up || fail "cannot raise lo"
HEAD
        printf 'ip link add dev %q type vcan || fail "cannot create %q"\n' "$vcan_if" "$vcan_if"
        printf 'ip link set dev %q up || fail "cannot raise %q"\n' "$vcan_if" "$vcan_if"
        printf 'cd -- %q || fail "the working directory is not visible in the guest"\n' "$cwd"
        printf '%s\n' "${env_lines[@]}"
        echo 'export SECCBRIDGE_IN_VM=1'
        printf 'export SECCBRIDGE_VCAN_IF=%q\n' "$vcan_if"
        # shellcheck disable=SC2016  # $run is the guest script's variable
        printf '(%s) </dev/null >"$run/stdout" 2>>"$run/stderr"\n' "$cmdline"
        cat <<'TAIL'
echo $? >"$run/status.new" && mv "$run/status.new" "$run/status"
TAIL
} >"$run/guest.sh"

: >"$run/stdout"
: >"$run/stderr"
: >"$run/console.log"

if [ "$(id -u)" -eq 0 ]; then
        security_model=passthrough
else
        security_model=none
fi

qemu_args=(
        -name seccbridge-vm
        -nodefaults -no-user-config
        -accel "${SECCBRIDGE_VM_ACCEL:-tcg,thread=multi}" -cpu "${SECCBRIDGE_VM_CPU:-max}"
        -m "$mem_mb" -smp "$cpus"
        -display none -monitor none
        -serial "file:$run/console.log"
        -nic none
        -no-reboot
        -kernel "$boot_kernel"
        -initrd "$initrd"
        -append "console=ttyS0 quiet panic=-1 seccbridge.run=$run"
        -virtfs "local,path=/,mount_tag=host,security_model=$security_model,id=host0,multidevs=remap"
        -virtfs "local,path=/,mount_tag=tree,security_model=$security_model,id=tree0,multidevs=remap"
)
if [ "${SECCBRIDGE_VM_CAN_PAIR:-0}" = 1 ]; then
        qemu_args+=(-object can-bus,id=canbus0
                    -device kvaser_pci,canbus=canbus0
                    -device kvaser_pci,canbus=canbus0)
fi
read -r -a extra_qemu <<<"${SECCBRIDGE_VM_QEMU_ARGS:-}"
qemu_args+=("${extra_qemu[@]}")

start=$SECONDS
# timeout(1) puts itself and QEMU into a process group of their own, so the
# cleanup above can take the whole group down.
timeout --kill-after=5 "$timeout_s" "$qemu" "${qemu_args[@]}" \
        </dev/null >"$run/qemu.log" 2>&1 &
qemu_pid=$!
tail -n +1 -f --pid="$qemu_pid" -s 0.2 "$run/stdout" </dev/null &
tail_pids+=($!)
tail -n +1 -f --pid="$qemu_pid" -s 0.2 "$run/stderr" </dev/null >&2 &
tail_pids+=($!)

qrc=0
wait "$qemu_pid" || qrc=$?
qemu_pid=
wait "${tail_pids[@]}" 2>/dev/null || true
tail_pids=()

show_logs() {
        if [ -s "$run/console.log" ]; then
                say "guest console:"
                sed 's/^/  | /' "$run/console.log" >&2
        fi
        if [ -s "$run/qemu.log" ]; then
                say "QEMU:"
                sed 's/^/  | /' "$run/qemu.log" >&2
        fi
}

if [ "${SECCBRIDGE_VM_VERBOSE:-0}" = 1 ]; then
        show_logs
        say "VM ran for $((SECONDS - start)) s"
fi

if [ -s "$run/status" ]; then
        read -r status <"$run/status"
        exit "$status"
fi
if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
        say "timed out after ${timeout_s} s: VM killed (use --timeout to allow more)"
        exit 124
fi
[ "${SECCBRIDGE_VM_VERBOSE:-0}" = 1 ] || show_logs
die "the VM exited (QEMU status $qrc) without reporting the command's status"
