#!/usr/bin/env bash
# Run every test of seccbridge on Debian 12: installs the dependencies, builds
# with warnings as errors, runs the unit, tool, Modbus, D-Bus, MQTT and fuzz-replay
# suites natively and the CAN integration suite on a real vcan (natively when
# the kernel has CAN, otherwise inside a throwaway VM booting Debian's
# kernel); then the same again on a clang build with AddressSanitizer and
# UndefinedBehaviorSanitizer (every report fatal, leaks included), where the
# fuzz suite runs each libFuzzer target briefly and the CAN integration suite
# runs the scenarios listed in tests/integration/sanitizer-scenarios (each
# module of the daemon on its paths: sessions, faults, reload, the CAN link,
# Modbus, D-Bus; --sanitize-all: every scenario).  Between the two: the
# arm64 and armhf cross builds with their unit, codec-tool and fuzz-replay
# suites under qemu-user, the s390x (big-endian) core and unit tests, and
# the Debian package built, installed and purged (tests/package).
#
#   scripts/test.sh [--no-install] [--no-sanitize] [--sanitize-all] [--no-cross] [--no-package]
#                   [--build-dir DIR]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

install=1
sanitize=1
sanitize_all=0
cross=1
package=1
build_dir=build-test
while [ $# -gt 0 ]; do
        case "$1" in
        --no-install) install=0 ;;
        --no-sanitize) sanitize=0 ;;
        --sanitize-all) sanitize_all=1 ;;
        --no-cross) cross=0 ;;
        --no-package) package=0 ;;
        --build-dir) build_dir=$2; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
        esac
        shift
done

if [ "$install" = 1 ]; then
        scripts/install-deps.sh
fi

echo "== build ($build_dir: gcc, -Werror)"
if [ -d "$build_dir" ]; then
        meson setup --reconfigure "$build_dir" -Dwerror=true >/dev/null
else
        meson setup "$build_dir" -Dwerror=true >/dev/null
fi
ninja -C "$build_dir"

passed=0
failed=0
skipped=0

# meson_counts DIR MESON_RC: the results in DIR's meson test log added to
# passed/failed/skipped (from meson's own log, so that the summary line adds
# up with the VM suite); a failed run that logged no failure counts as one.
meson_counts() {
        local dir=$1 rc=$2 mp mf ms
        read -r mp mf ms < <(/usr/bin/python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r == "SKIP":
        s += 1
    else:
        f += 1
print(p, f, s)
PY
)
        passed=$((passed + mp)); failed=$((failed + mf)); skipped=$((skipped + ms))
        if [ "$rc" -ne 0 ] && [ "$mf" -eq 0 ]; then
                failed=$((failed + 1))
        fi
}

# run_suites LABEL BUILD_DIR [SCENARIO...]: meson test, then the integration
# suite (only the SCENARIOs when given), both counted into
# passed/failed/skipped.
run_suites() {
        local label=$1 dir=$2 meson_rc=0 integ_rc=0 integ_log line ip if_ is
        shift 2

        echo "== $label: unit, tool, Modbus, D-Bus, MQTT and fuzz tests (meson test)"
        meson test -C "$dir" --print-errorlogs || meson_rc=$?
        meson_counts "$dir" "$meson_rc"

        if [ $# -gt 0 ]; then
                echo "== $label: CAN integration tests (real vcan): $# scenarios"
        else
                echo "== $label: CAN integration tests (real vcan)"
        fi
        integ_log=$(mktemp)
        BUILD_DIR="$dir" bash tests/integration/run.sh "$@" 2>&1 | tee "$integ_log" || integ_rc=$?
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$integ_log" | tail -n 1 || true)
        rm -f "$integ_log"
        if_=0
        if [ -n "$line" ]; then
                ip=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
                if_=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
                is=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line")
                passed=$((passed + ip)); failed=$((failed + if_)); skipped=$((skipped + ${is:-0}))
        fi
        if [ "$integ_rc" -ne 0 ] && { [ -z "$line" ] || [ "$if_" -eq 0 ]; }; then
                failed=$((failed + 1))
        fi
}

run_suites "gcc -Werror" "$build_dir"

# run_cross ARCH [MESON OPTIONS...]: the cross build for ARCH
# (cross/ARCH.ini, gcc -Werror) and its suites that need no vcan, server or
# bus (unit, tools, fuzz replay) under qemu-user; skipped, saying why, when
# the cross compiler or the ARCH -dev packages are missing.
run_cross() {
        local arch=$1 dir=$build_dir-$1 rc=0 t0=$SECONDS cc log
        shift
        cc=$(sed -nE "s/^triplet = '(.*)'/\1/p" "cross/$arch.ini")-gcc
        echo "== cross $arch: build ($dir: $cc, -Werror) and tests under qemu-user"
        if ! command -v "$cc" >/dev/null; then
                echo "SKIP cross $arch: $cc not found (scripts/install-deps.sh)"
                skipped=$((skipped + 1))
                return
        fi
        local setup=(setup "$dir")
        [ ! -d "$dir" ] || setup=(setup --reconfigure "$dir")
        log=$(mktemp)
        if ! meson "${setup[@]}" --cross-file "cross/$arch.ini" -Dwerror=true -Dbench=false "$@" \
                >"$log" 2>&1; then
                tail -n 5 "$log"
                # Missing packages skip (install-deps.sh says why when the
                # foreign archives cannot be installed); anything else fails.
                if grep -qE "Dependency .* not found|not found or was not usable|can not compile programs" "$log"; then
                        echo "SKIP cross $arch: a library or the C library for $arch is missing (scripts/install-deps.sh)"
                        skipped=$((skipped + 1))
                else
                        failed=$((failed + 1))
                fi
                rm -f "$log"
                return
        fi
        rm -f "$log"
        ninja -C "$dir" || { failed=$((failed + 1)); return; }
        meson test -C "$dir" --print-errorlogs --suite unit --suite tools --suite fuzz || rc=$?
        meson_counts "$dir" "$rc"
        echo "== cross $arch: $((SECONDS - t0)) s"
}

if [ "$cross" = 1 ]; then
        run_cross arm64
        run_cross armhf
        run_cross s390x -Dcore_only=true
fi

if [ "$package" = 1 ]; then
        echo "== Debian package: build, lintian, install, systemd-analyze verify, purge (tests/package)"
        t0=$SECONDS
        rc=0
        bash tests/package/test-package.sh || rc=$?
        case "$rc" in
        0) passed=$((passed + 1)) ;;
        77) skipped=$((skipped + 1)) ;;
        *) failed=$((failed + 1)) ;;
        esac
        echo "== Debian package: $((SECONDS - t0)) s"
fi

if [ "$sanitize" = 1 ]; then
        asan_dir=$build_dir-asan
        echo "== build ($asan_dir: clang, -Werror, AddressSanitizer + UndefinedBehaviorSanitizer, libFuzzer targets)"
        # -fno-sanitize-recover: any undefined behaviour aborts like an
        # ASan report; LeakSanitizer runs at every exit (a leak fails it).
        asan_opts=(-Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=true
                   -Dc_args=-fno-sanitize-recover=all -Dc_link_args=-fno-sanitize-recover=all)
        if [ -d "$asan_dir" ]; then
                CC=clang meson setup --reconfigure "$asan_dir" "${asan_opts[@]}" >/dev/null
        else
                CC=clang meson setup "$asan_dir" "${asan_opts[@]}" >/dev/null
        fi
        ninja -C "$asan_dir"
        scenarios=()
        if [ "$sanitize_all" = 0 ]; then
                mapfile -t scenarios < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' \
                                         tests/integration/sanitizer-scenarios)
        fi
        run_suites "ASan+UBSan" "$asan_dir" "${scenarios[@]}"
fi

echo
echo "== summary"
if [ "$skipped" -gt 0 ]; then
        echo "$passed passed, $failed failed, $skipped skipped"
else
        echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
