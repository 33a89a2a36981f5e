#!/usr/bin/env bash
# Runs on a real vcan (inside the VM): the daemon on its simulated converter
# through one seccsim charge session per MODE, the bus captured with kernel
# timestamps to OUTDIR/MODE.log, the daemon's log to OUTDIR/MODE.daemon.log
# and what a reader got from the broker to OUTDIR/MODE.mqtt.
#
#   mqtt-capture.sh BUILD_DIR OUTDIR CHARGE_S MODE...
#
# MODE: off (no [mqtt]), publishing (a local mosquitto on a Unix socket, the
# state at its highest rate, 20 a second, a reader subscribed), down (the
# broker not running: connection refused, backoff), frozen (the broker
# stopped with SIGSTOP after the daemon connected: nothing acknowledged,
# keepalive).
# shellcheck source=../../tests/integration/test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/integration/test-session-lib.sh"
test_begin "$1"
# shellcheck source=../../tests/integration/mqtt-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/integration/mqtt-lib.sh"
out=$2
charge_s=$3
shift 3
mkdir -p "$out"

freeze_broker() {
        wait_for_line "$1" "state Charging " 60
        kill -STOP "$(bg_pid broker)"
}

for mode in "$@"; do
        session_config "[dbus]" "enable = false" "[metrics]" "path ="
        hook=()
        case "$mode" in
        off) ;;
        publishing|frozen)
                mqtt_broker_start
                bg_start reader mosquitto_sub --unix "$MQTT_SOCK" -q 1 -v -t "$MQTT_PREFIX/#"
                mqtt_daemon_lines "socket = $MQTT_SOCK" "state_max_per_s = 20" >>"$S_CONF"
                [ "$mode" = publishing ] || hook=(--hook freeze_broker)
                ;;
        down)
                mqtt_daemon_lines "host = 127.0.0.1" "port = $MQTT_PORT" "state_max_per_s = 20" >>"$S_CONF"
                ;;
        *) fail "unknown mode $mode" ;;
        esac
        session_run "$mode" "${hook[@]}" -- --protocol ccs --charge-time "$charge_s" --ccs-gap 0 \
                --loop-period 100 --profile 100,150,50
        cp "$S_BUS" "$out/$mode.log"
        cp "$S_OUT" "$out/$mode.seccsim"
        cp "$S_DLOG" "$out/$mode.daemon.log"
        if bg_running reader; then
                bg_stop reader TERM || true
                cp "$(bg_log reader)" "$out/$mode.mqtt"
        fi
        if [ -n "${BG_PID[broker]:-}" ]; then
                kill -CONT "$(bg_pid broker)" 2>/dev/null || true
                mqtt_broker_stop TERM
        fi
        note "$mode: seccsim exit $S_RC"
done
