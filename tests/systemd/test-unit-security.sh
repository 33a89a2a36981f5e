#!/usr/bin/env bash
# The generated units stay hardened: `systemd-analyze security` rates each of
# them, alone and with each example drop-in of systemd/drop-ins/ applied, at
# an exposure of at most 2.0; the plain unit runs as its own user with an
# empty capability bounding set and no ambient capability, under a real-time
# policy that systemd sets (the daemon may not change it) and with a memory
# lock limit.
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
        # Real-time scheduling set by systemd, never by the daemon itself,
        # with a memory lock limit for its mlockall.
        grep -qx 'CPUSchedulingPolicy=fifo' "$file" || { echo "FAIL $unit: no CPUSchedulingPolicy=fifo"; failed=1; }
        grep -qE '^CPUSchedulingPriority=[0-9]+$' "$file" || { echo "FAIL $unit: no CPUSchedulingPriority="; failed=1; }
        grep -qx 'RestrictRealtime=yes' "$file" || { echo "FAIL $unit: the daemon may change its own scheduling"; failed=1; }
        grep -qE '^LimitMEMLOCK=[0-9]+[KMG]$' "$file" || { echo "FAIL $unit: no LimitMEMLOCK= for the memory lock"; failed=1; }
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
