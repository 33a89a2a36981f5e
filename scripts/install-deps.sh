#!/usr/bin/env bash
# Install everything seccbridge needs to build, test and run its demo on
# Debian 12 (bookworm).  Needs root (or sudo).  Safe to run again.
#
#   scripts/install-deps.sh            build + test + demo dependencies
#   scripts/install-deps.sh --build    only what building needs
set -euo pipefail

build_pkgs=(
        gcc libc6-dev meson ninja-build pkg-config
        libev-dev libsystemd-dev libsocketcan-dev libinih-dev libmodbus-dev
        libmosquitto-dev libcmocka-dev
)
# Real parts for the tests: can-utils and iproute2 on a real vcan; when the
# running kernel has no CAN, a throwaway VM booting Debian's own kernel
# (qemu, linux-image-amd64, busybox-static, cpio, kmod); a real Modbus server
# (python3-pymodbus) over TCP and over a socat pty pair; systemd-analyze;
# clang with its sanitizer and libFuzzer runtimes for the ASan+UBSan build and
# the fuzz targets; valgrind for memcheck and the instruction-count benchmark;
# a real MQTT broker and its clients (mosquitto, mosquitto-clients), openssl
# for the test CA, python3-jsonschema for the schemas of doc/mqtt.md that
# every message read is checked against (tests/integration/mqtt-check.py),
# and Prometheus' promtool (package prometheus) for the metrics file.
test_pkgs=(
        clang libclang-rt-14-dev valgrind
        can-utils iproute2 kmod xz-utils
        qemu-system-x86 linux-image-amd64 busybox-static cpio
        python3 python3-pymodbus python3-serial python3-serial-asyncio socat
        systemd dbus
        mosquitto mosquitto-clients openssl python3-jsonschema prometheus
)

# The Debian package (tests/package/test-package.sh) and the real-time bench
# (bench/realtime.sh: stress-ng loads every core).
test_pkgs+=(dpkg-dev debhelper lintian stress-ng)
# The foreign-architecture builds of scripts/test.sh (cross/*.ini): Debian's
# cross compilers with their C libraries, and qemu-user for meson's
# exe_wrapper.  The arm64 and armhf -dev packages of our libraries (and
# cmocka for s390x) come from those architectures' own archives, installed
# beside the native ones (multiarch): see cross_arch_pkgs below.
test_pkgs+=(gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf gcc-s390x-linux-gnu
        libc6-dev-arm64-cross libc6-dev-armhf-cross libc6-dev-s390x-cross qemu-user)
cross_arches=(arm64 armhf s390x)
cross_arch_pkgs=()
for a in arm64 armhf; do
        for p in libev-dev libsystemd-dev libsocketcan-dev libinih-dev libmodbus-dev libmosquitto-dev libcmocka-dev; do
                cross_arch_pkgs+=("$p:$a")
        done
done
cross_arch_pkgs+=(libcmocka-dev:s390x)

pkgs=("${build_pkgs[@]}")
if [ "${1:-}" != "--build" ]; then
        pkgs+=("${test_pkgs[@]}")
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
                sudo=(sudo)
        else
                echo "install-deps: run as root (or install sudo)" >&2
                exit 1
        fi
fi

export DEBIAN_FRONTEND=noninteractive
if [ "${1:-}" != "--build" ]; then
        for a in "${cross_arches[@]}"; do
                if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
                        echo "install-deps: dpkg --add-architecture $a (cross builds)"
                        "${sudo[@]}" dpkg --add-architecture "$a"
                fi
        done
fi
echo "install-deps: apt-get update"
# A mirror caught in its sync fails the update for a while (index files of
# unexpected size): tried again with a growing pause, then the package lists
# already there are used (an install that needs a newer one fails on its own).
tries=1
until "${sudo[@]}" apt-get update -qq; do
        if [ "$tries" -ge 4 ]; then
                echo "install-deps: apt-get update failed $tries times; going on with the package lists there are" >&2
                break
        fi
        echo "install-deps: apt-get update failed; again in $(( tries * 15 )) s" >&2
        sleep $(( tries * 15 ))
        tries=$(( tries + 1 ))
done
missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
        echo "install-deps: installing ${missing[*]}"
        "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "${1:-}" != "--build" ]; then
        missing=()
        for p in "${cross_arch_pkgs[@]}"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
        done
        if [ ${#missing[@]} -gt 0 ]; then
                echo "install-deps: installing ${missing[*]}"
                # A Multi-Arch: same package (libc6, libsystemd0...) must have
                # the same version for every architecture; when a foreign
                # archive lags behind the native one, apt refuses.  The
                # cross phases of scripts/test.sh then skip, saying why.
                if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
                        echo "install-deps: warning: the foreign -dev packages cannot be installed beside the native ones" >&2
                        echo "install-deps: (versions of a Multi-Arch: same package differ between the archives); cross builds will be skipped" >&2
                fi
        fi
fi
echo "install-deps: all dependencies present"
