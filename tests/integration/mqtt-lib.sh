# shellcheck shell=bash
# Helpers shared by the MQTT tests (test-mqtt-*.sh), sourced after lib.sh
# and test_begin: a real broker (Debian's mosquitto) started by the test on
# loopback TCP and a Unix socket, mosquitto_sub as the reader, and the
# checks of what it read (mqtt-check.py: every message against the schemas
# of doc/mqtt.md).
#
#       mqtt_broker_start [CONF LINES...]   start (or restart) the broker
#       mqtt_broker_stop [SIGNAL]           stop it (TERM: a clean stop)
#       mqtt_reader_start [ARGS...]         mosquitto_sub -v on PREFIX/#
#       mqtt_daemon_lines                   [mqtt] lines for the daemon
#       mqtt_check [--json OUT]             validate what the reader got
#
# MQTT_DIR holds the broker's files; MQTT_SOCK is its Unix socket,
# MQTT_PORT its loopback port.  The broker keeps its state on disk
# (persistence), as a real one does across a restart.

MQTT_PREFIX=test/gw/pistol1
MQTT_PORT=${SECCBRIDGE_MQTT_PORT:-18831}
MQTT_DIR=
MQTT_SOCK=

# mqtt_broker_start [CONF LINES...]: the broker with these extra lines;
# returns once it listens.  Again after a stop: the same files and port.
mqtt_broker_start() {
        need_cmd mosquitto mosquitto_sub
        if [ -z "$MQTT_DIR" ]; then
                MQTT_DIR=$TEST_TMP/broker
                MQTT_SOCK=$MQTT_DIR/sock
                mkdir -p "$MQTT_DIR"
        fi
        {
                # The test runs as root: the broker too, so that it can use
                # the test's directory.
                printf 'user root\n'
                printf 'persistence true\npersistence_location %s/\n' "$MQTT_DIR"
                printf 'listener 0 %s\n' "$MQTT_SOCK"
                printf 'listener %s 127.0.0.1\n' "$MQTT_PORT"
                # Anyone, unless the test says otherwise (mosquitto 2
                # refuses anonymous clients by default).
                [[ " $* " == *" allow_anonymous "* ]] || printf 'allow_anonymous true\n'
                printf '%s\n' "$@"
        } >"$MQTT_DIR/broker.conf"
        [ -n "${MQTT_BROKER_LOG:-}" ] || MQTT_BROKER_LOG=$TEST_TMP/broker-earlier.log
        # bg_start truncates its log: keep the earlier runs in a file of our own.
        [ ! -s "$(bg_log broker)" ] || cat "$(bg_log broker)" >>"$MQTT_BROKER_LOG"
        bg_start broker mosquitto -c "$MQTT_DIR/broker.conf"
        wait_for_line "$(bg_log broker)" "mosquitto version .* running" 10
}

# mqtt_broker_stop [SIGNAL]: TERM is a clean stop (the broker publishes its
# clients' wills and saves its state), KILL a crash.
mqtt_broker_stop() {
        bg_stop broker "${1:-TERM}" || true
        cat "$(bg_log broker)" >>"$MQTT_BROKER_LOG"
        : >"$(bg_log broker)"
}

# mqtt_reader_start [ARGS...]: mosquitto_sub on everything under the
# prefix, QoS 1, "topic payload" lines in $(bg_log reader); extra
# arguments (a persistent session: -c -i NAME) go to mosquitto_sub.
mqtt_reader_start() {
        bg_start reader mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -v -t "$MQTT_PREFIX/#" "$@"
        wait_for_line "$(bg_log broker)" "New client connected .* as " 10
}

# mqtt_daemon_lines [KEY=VALUE...]: the [mqtt] section for the daemon,
# with the test's prefix and quick reconnection; extra lines after.
mqtt_daemon_lines() {
        printf '[mqtt]\nenable = true\ntopic_prefix = %s\nreconnect_max_ms = 2000\nkeepalive_s = 5\n' "$MQTT_PREFIX"
        [ $# -eq 0 ] || printf '%s\n' "$@"
}

# mqtt_check [--json OUT]: every message the reader got, against the
# schemas of doc/mqtt.md; its report in $TEST_TMP/mqtt-check.out.
mqtt_check() {
        local rc=0
        /usr/bin/python3 "$SECCBRIDGE_ROOT/tests/integration/mqtt-check.py" "$SECCBRIDGE_ROOT/doc/mqtt.md" \
                "$(bg_log reader)" "$MQTT_PREFIX" "$@" >"$TEST_TMP/mqtt-check.out" 2>&1 || rc=$?
        if [ "$rc" -ne 0 ]; then
                show_file "$TEST_TMP/mqtt-check.out"
                fail "the messages do not match the schemas of doc/mqtt.md"
        fi
        note "$(tail -n 1 "$TEST_TMP/mqtt-check.out")"
}

# promtool_check FILE: Prometheus' own parser and linter accept the file.
promtool_check() {
        need_cmd promtool
        promtool check metrics <"$1" >"$TEST_TMP/promtool.out" 2>&1 || {
                show_file "$TEST_TMP/promtool.out"
                fail "promtool check metrics refuses $1"
        }
}
