#!/usr/bin/env bash
# The generated units stay hardened: `systemd-analyze security` rates each of
# them, alone and with each example drop-in of systemd/drop-ins/ applied, at
# an exposure of at most 2.0; the plain unit runs as its own user with an
# empty capability bounding set and no ambient capability.
#
#   test-unit-security.sh BUILD_DIR SOURCE_DIR
set -euo pipefail

build=$1
src=$2
limit=${SECCBRIDGE_EXPOSURE_LIMIT:-2.0}
command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

# exposure UNIT_FILE: the overall exposure level systemd-analyze gives it.
exposure() {
        local out
        out=$(systemd-analyze security --offline=true --no-pager "$1" 2>&1) || true
        sed -nE 's/.*Overall exposure level for [^:]+: ([0-9]+\.[0-9]+) .*/\1/p' <<<"$out" | tail -n 1
}

check() {
        local label=$1 file=$2 e
        e=$(exposure "$file")
        if [ -z "$e" ]; then
                echo "FAIL $label: systemd-analyze gave no exposure level"
                systemd-analyze security --offline=true --no-pager "$file" 2>&1 | tail -n 5
                failed=1
                return
        fi
        if awk -v e="$e" -v l="$limit" 'BEGIN { exit !(e <= l) }'; then
                echo "ok   $label: exposure $e (limit $limit)"
        else
                echo "FAIL $label: exposure $e above $limit"
                failed=1
        fi
}

for unit in seccbridge.service seccbridge@.service; do
        file=$build/systemd/$unit
        [ -f "$file" ] || { echo "FAIL: $file not generated"; exit 1; }
        # Without any drop-in: its own user, no capability at all.
        grep -qx 'User=seccbridge' "$file" || { echo "FAIL $unit: no User=seccbridge"; failed=1; }
        grep -qx 'CapabilityBoundingSet=' "$file" || { echo "FAIL $unit: capability bounding set not emptied"; failed=1; }
        if grep -qE '^AmbientCapabilities=.+' "$file"; then
                echo "FAIL $unit: ambient capabilities granted"
                failed=1
        fi
        mkdir -p "$tmp/plain"
        cp "$file" "$tmp/plain/$unit"
        check "$unit" "$tmp/plain/$unit"
        # Each drop-in, applied as systemd would (its settings after the
        # unit's own).
        for d in "$src"/systemd/drop-ins/*.conf; do
                name=$(basename "$d" .conf)
                mkdir -p "$tmp/$name"
                { cat "$file"; cat "$d"; } >"$tmp/$name/$unit"
                check "$unit + drop-ins/$name.conf" "$tmp/$name/$unit"
        done
done
exit "$failed"
