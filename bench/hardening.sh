#!/usr/bin/env bash
# The systemd units' exposure rating, plain and with each example drop-in,
# and what remains of the score: writes the "hardening" section of
# BENCHMARKS.md.
#
#   bench/hardening.sh [BUILD_DIR]      (default build-bench-hardening)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BENCH_ROOT"
build=${1:-build-bench-hardening}
[ -d "$build" ] || meson setup "$build" >/dev/null
# The units are generated at configure time.
[ -f "$build/systemd/seccbridge.service" ] || meson setup --reconfigure "$build" >/dev/null

out=$(mktemp)
trap 'rm -f "$out" "$out.md"' EXIT
bash tests/systemd/test-unit-security.sh "$build" . >"$out"
sd_version=$(systemd-analyze --version | head -n 1)

{
        echo "## Hardening (systemd-analyze security)"
        echo
        echo "Command: \`bench/hardening.sh\` (the same check runs in the test suite as"
        echo "\`tests/systemd/test-unit-security.sh\`, limit 2.0). $sd_version, offline"
        echo "rating of the generated units; $(bench_machine)."
        echo
        echo "| unit | exposure |"
        echo "|---|---|"
        sed -nE 's/^ok   (.*): exposure ([0-9.]+) .*/| \1 | \2 |/p' "$out"
        echo
        echo "Capabilities: none in the plain unit (\`CapabilityBoundingSet=\` empty,"
        echo "no ambient set, \`User=seccbridge\`, \`NoNewPrivileges=yes\`);"
        echo "\`drop-ins/can-net-admin.conf\` adds \`CAP_NET_ADMIN\` only, for a daemon that"
        echo "sets the bitrate or restart-ms itself or restarts a bus after bus-off."
        echo "\`tests/integration/test-daemon-unprivileged.sh\` runs a whole charge"
        echo "with the daemon as nobody and every capability set empty."
        echo
        echo "What is left of the plain unit's score:"
        echo
        echo "| setting | exposure | why it stays |"
        echo "|---|---|---|"
        systemd-analyze security --offline=true --no-pager "$build/systemd/seccbridge.service" 2>&1 |
                sed -nE 's/^✗ ([^ ]+) .* ([0-9]+\.[0-9]+)$/\1 \2/p' |
                while read -r setting score; do
                        case "$setting" in
                        PrivateNetwork=) why="the CAN interfaces live in the host's network namespace" ;;
                        RestrictAddressFamilies=~AF_NETLINK) why="interface and bus state (libsocketcan)" ;;
                        RestrictAddressFamilies=~AF_UNIX) why="sd_notify, the journal and the system bus" ;;
                        RestrictAddressFamilies=~…) why="AF_CAN counts as exotic" ;;
                        DeviceAllow=) why="char-rtc:r, added by ProtectClock=yes itself" ;;
                        RootDirectory=/RootImage=) why="the service runs from the host's file system" ;;
                        *) why="(not explained yet)" ;;
                        esac
                        echo "| \`$setting\` | $score | $why |"
                done
} >"$out.md"
if grep -q '^FAIL' "$out"; then
        cat "$out" >&2
        echo "hardening: a unit is above the limit" >&2
        exit 1
fi
bench_write_section hardening "$out.md"
echo "hardening: section written to BENCHMARKS.md"
