#!/usr/bin/env bash
# The daemon on a broker that wants TLS (a test CA made here with openssl;
# the broker checks a client certificate too) and a password: connected,
# its messages read by mosquitto_sub, "offline" at the stop.  Then with a
# wrong password: the broker refuses, the log says so once with the
# broker's reason, the daemon tries again with backoff (a handful of
# attempts in 10 s, no busy loop) and CAN goes on all the while.  The
# metrics file of both runs is accepted by promtool.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"
# shellcheck source-path=SCRIPTDIR source=mqtt-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/mqtt-lib.sh"
need_build src/seccbridge
need_cmd openssl mosquitto_passwd

certs=$TEST_TMP/certs
sh "$SECCBRIDGE_ROOT/tests/mqtt/make-certs.sh" "$certs" || fail "cannot make the test CA"
tls_port=$((MQTT_PORT + 1))
: >"$TEST_TMP/users"
mosquitto_passwd -b "$TEST_TMP/users" seccbridge right-secret
mosquitto_passwd -b "$TEST_TMP/users" reader reader-secret
mqtt_broker_start "allow_anonymous false" "password_file $TEST_TMP/users" \
        "listener $tls_port 127.0.0.1" "cafile $certs/ca.crt" "certfile $certs/server.crt" \
        "keyfile $certs/server.key" "require_certificate true"
mqtt_reader_start -u reader -P reader-secret

metrics=$TEST_TMP/metrics.prom
printf 'right-secret\n' >"$TEST_TMP/password"
tls_conf() {
        daemon_conf "[metrics]" "path = $metrics" "interval_ms = 1000" \
                "$(mqtt_daemon_lines "port = $tls_port" "ca_file = $certs/ca.crt" "cert_file = $certs/client.crt" \
                        "key_file = $certs/client.key" "username = seccbridge" "password_file = $TEST_TMP/password")"
}
cyclic_start
cyclic 01068009#01

# ---- the right password, over TLS with a client certificate
tls_conf
daemon_start
wait_for_line "$log" "mqtt: connected to 127.0.0.1:$tls_port as " 15
wait_for_line "$(bg_log reader)" "^$MQTT_PREFIX/online \\{\"online\":true," 10
wait_for_line "$(bg_log reader)" "^$MQTT_PREFIX/state \\{.*\"state\":\"Waiting_For_PEV\"" 10
# Polled: shell builtins only (see wait_for_line in lib.sh).
connected_in_metrics() {
        local -a lines
        local line
        { mapfile -t lines <"$metrics"; } 2>/dev/null || return 1
        for line in "${lines[@]}"; do
                [ "$line" != "seccbridge_mqtt_connected{pistol=\"1\"} $1" ] || return 0
        done
        return 1
}
wait_until 5 connected_in_metrics 1 || { show_file "$metrics"; fail "the metrics file does not say connected"; }
promtool_check "$metrics"
rc=0
bg_stop daemon TERM || rc=$?
assert_eq 0 "$rc" "daemon exit status"
wait_for_line "$(bg_log reader)" "^$MQTT_PREFIX/online \\{\"online\":false,.*\"reason\":\"stopped\"" 10
assert_file_lacks "$log" "mqtt: broker:" "daemon log (no broker trouble)"
cp "$log" "$TEST_TMP/daemon-1.log"

# ---- a wrong password: refused, said once, retried with backoff
printf 'wrong-secret\n' >"$TEST_TMP/password"
rm -f "$metrics"
tls_conf
daemon_start
wait_for_line "$log" "mqtt: broker: 127.0.0.1:$tls_port: refused by the broker: Connection Refused: not authorised\\." 15
pid=$(bg_pid daemon)
read -r -a st <"/proc/$pid/stat"
ticks0=$(( st[13] + st[14] ))
failures0=$(count_lines "$(bg_log broker)" "not authorised")
t0=$EPOCHREALTIME
sleep 10
t1=$EPOCHREALTIME
read -r -a st <"/proc/$pid/stat"
ticks=$(( st[13] + st[14] - ticks0 ))
failures=$(( $(count_lines "$(bg_log broker)" "not authorised") - failures0 ))
note "in 10 s: $failures refused attempts, $ticks clock ticks of CPU"
assert_eq 1 "$(count_lines "$log" "refused by the broker")" "refusals logged"
# Backoff: 0.5..1 s, 1..2 s, then 1..2 s each (reconnect_max_ms = 2000):
# five to fourteen attempts in 10 s.  A busy loop would make thousands.
[ "$failures" -ge 4 ] && [ "$failures" -le 14 ] || { show_file "$(bg_log broker)"; fail "$failures attempts in 10 s"; }
[ "$ticks" -lt 200 ] || fail "$ticks ticks of CPU in 10 s of refusals: a busy loop?"
# CAN went on: the daemon answered the controller all along.
assert_file_lacks "$log" "controller: heartbeat lost" "daemon log"
wait_until 5 connected_in_metrics 0 || { show_file "$metrics"; fail "no metrics file, or it says connected"; }
promtool_check "$metrics"
n=$(sed -nE 's/^seccbridge_mqtt_connection_failures_total\{pistol="1"\} ([0-9]+)$/\1/p' "$metrics")
[ "${n:-0}" -ge 4 ] || fail "seccbridge_mqtt_connection_failures_total is '$n'"

# ---- the password file is read again at every attempt: fixed, it connects
printf 'right-secret\n' >"$TEST_TMP/password"
wait_for_line "$log" "mqtt: broker: back to normal after" 10
wait_for_line "$log" "mqtt: connected to 127.0.0.1:$tls_port as " 5
rc=0
bg_stop daemon TERM || rc=$?
assert_eq 0 "$rc" "daemon exit status"
bg_stop reader TERM || true
mqtt_check
