#!/usr/bin/env bash
# Runs on a real vcan (inside the VM): the daemon on its simulated converter
# through one seccsim charge session per LOAD, the bus captured with kernel
# timestamps (candump -L) to OUTDIR/LOAD.log and the daemon's log with
# receive times to OUTDIR/LOAD.daemon.log.
#
#   session-capture.sh BUILD_DIR OUTDIR CHARGE_S LOAD...
#
# LOAD: none, full (foreign frames filling a 500 kbit/s bus: 3800 extended
# 8-byte frames per second, from seccsim), flood (cangen as fast as the
# kernel takes them, besides the controller's traffic).
# shellcheck source=../../tests/integration/test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/integration/test-session-lib.sh"
test_begin "$1"
out=$2
charge_s=$3
shift 3
mkdir -p "$out"
session_config

flood() { exec cangen "$VCAN_IF" -g 0 -i -e -L 8 -I 1F334455 -D 1122334455667788; }

for load in "$@"; do
        args=(--protocol ccs --charge-time "$charge_s" --ccs-gap 0 --loop-period 100
              --profile 100,150,50)
        hook=()
        case "$load" in
        none) ;;
        full) args+=(--bus-load=3800) ;;
        flood) hook=(--hook flood) ;;
        *) fail "unknown load $load" ;;
        esac
        session_run "$load" "${hook[@]}" -- "${args[@]}"
        cp "$S_BUS" "$out/$load.log"
        cp "$S_OUT" "$out/$load.seccsim"
        cp "$S_DLOG" "$out/$load.daemon.log"
        note "$load: seccsim exit $S_RC"
done
