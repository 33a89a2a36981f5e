#!/usr/bin/env bash
# Sizes of the programs and of the protocol core per architecture: amd64
# (native), arm64 and armhf (cross/*.ini: the whole build), s390x (the core
# only, -Dcore_only=true).  The project's default build type (-O2 -g); the
# sections' sizes (text, data, bss, from binutils' size) and the size of the
# file once stripped, as a package installs it.  Writes the "binary-sizes"
# section of BENCHMARKS.md.
#
#   bench/binary-sizes.sh [--build-prefix DIR]   (builds in DIR-ARCH, default build-sizes-ARCH)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BENCH_ROOT"
prefix=build-sizes
while [ $# -gt 0 ]; do
        case "$1" in
        --build-prefix) prefix=$2; shift ;;
        *) echo "binary-sizes.sh: unknown option $1" >&2; exit 2 ;;
        esac
        shift
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
native=$(dpkg --print-architecture 2>/dev/null || uname -m)
arches=("$native" arm64 armhf s390x)
for arch in "${arches[@]}"; do
        dir=$prefix-$arch
        opts=(-Dbench=false)
        tools=""
        if [ "$arch" != "$native" ]; then
                opts+=(--cross-file "cross/$arch.ini")
                tools=$(sed -nE "s/^triplet = '(.*)'/\\1/p" "cross/$arch.ini")-
        fi
        [ "$arch" != s390x ] || opts+=(-Dcore_only=true)
        [ -d "$dir" ] || meson setup "$dir" "${opts[@]}" >/dev/null
        ninja -C "$dir" >/dev/null
        for f in src/seccbridge src/seccsim/seccsim src/seccbridgectl/seccbridgectl src/core/libseccbridge-core.a; do
                [ -e "$dir/$f" ] || continue
                # text data bss: the totals of size -t (one line per object
                # of the archive, or the program's one line).
                read -r text data bss _ < <("${tools}size" -t "$dir/$f" | tail -n 1)
                stripped=0
                if [[ $f != *.a ]]; then
                        "${tools}strip" --strip-all -o "$out/stripped" "$dir/$f"
                        stripped=$(stat -c %s "$out/stripped")
                fi
                echo "$arch $(basename "$f") $text $data $bss $stripped" >>"$out/sizes"
        done
done

md=$out/section.md
/usr/bin/python3 - "$out/sizes" "$(bench_machine)" "${arches[*]}" >"$md" <<'PY'
import sys
sizes, machine, arches = sys.argv[1], sys.argv[2], sys.argv[3].split()
table = {}
for line in open(sizes):
    arch, name, text, data, bss, stripped = line.split()
    table[(name, arch)] = (int(text), int(data), int(bss), int(stripped))
names = ["seccbridge", "seccsim", "seccbridgectl", "libseccbridge-core.a"]
label = {"seccbridge": "`seccbridge` (daemon)", "seccsim": "`seccsim`",
         "seccbridgectl": "`seccbridgectl`", "libseccbridge-core.a": "protocol core (`libseccbridge-core.a`)"}
def kib(n):
    return f"{n / 1024:.1f}"
print("## Binary sizes per architecture")
print()
print(f"Command: `bench/binary-sizes.sh`; built on {machine}.")
print("The project's default build type (gcc 12, -O2 -g), Debian 12's compilers and libraries")
print("(cross/*.ini for the foreign ones); s390x builds the protocol core alone (`-Dcore_only=true`).")
print("Code (text), initialised data and bss in KiB, from binutils' `size` (for the core: the sum")
print("over its objects, a static library linked into the programs); \"file\": the program's file once")
print("stripped, as the package installs it. Shared")
print("libraries (libev, libsystemd, libmodbus...) are not counted.")
print()
print("| | " + " | ".join(arches) + " |")
print("|---|" + "---|" * len(arches))
for n in names:
    cells = []
    for a in arches:
        v = table.get((n, a))
        if v is None:
            cells.append("—")
        else:
            f = f"; file {kib(v[3])}" if v[3] else ""
            cells.append(f"text {kib(v[0])}, data {kib(v[1])}, bss {kib(v[2])}{f}")
    print(f"| {label[n]} | " + " | ".join(cells) + " |")
PY
cat "$md"
bench_write_section binary-sizes "$md"
