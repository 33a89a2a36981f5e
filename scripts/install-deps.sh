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
# for the test CA, and Prometheus' promtool (package prometheus) for the
# metrics file.
test_pkgs=(
        clang libclang-rt-14-dev valgrind
        can-utils iproute2 kmod xz-utils
        qemu-system-x86 linux-image-amd64 busybox-static cpio
        python3 python3-pymodbus python3-serial python3-serial-asyncio socat
        systemd dbus
        mosquitto mosquitto-clients openssl prometheus
)

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
echo "install-deps: apt-get update"
"${sudo[@]}" apt-get update -qq
missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
        echo "install-deps: installing ${missing[*]}"
        "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all dependencies present"
