#!/usr/bin/env bash
# `seccsim monitor`, the CAN-side companion of the operator interface: both
# sides of the interface are played by hand (a stand-in sending cyclic
# frames, plus cansend), and the monitor's plain-line output must tell the
# events, the periods and each warning when it starts and when it ends;
# --log must be candump -L.  No daemon, no bus.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"
need_build src/seccsim/seccsim
need_cmd cansend
vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"
SECCSIM=$BUILD_DIR/src/seccsim/seccsim

# ---- the command line
for args in "" "-i" "-i $VCAN_IF --pistol 0" "-i $VCAN_IF --log" "-i $VCAN_IF extra"; do
        rc=0
        # shellcheck disable=SC2086  # word splitting wanted
        "$SECCSIM" monitor $args >/dev/null 2>"$TEST_TMP/usage.err" || rc=$?
        assert_eq 2 "$rc" "seccsim monitor $args: exit status"
        assert_file_has "$TEST_TMP/usage.err" "^seccsim monitor: " "seccsim monitor $args: message"
done
rc=0
"$SECCSIM" monitor -i no-such-can0 >/dev/null 2>"$TEST_TMP/nodev.err" || rc=$?
assert_eq 1 "$rc" "seccsim monitor on a missing interface"
assert_file_has "$TEST_TMP/nodev.err" "no CAN interface 'no-such-can0'" "missing interface"

# The frames (seccsim encode): the controller charging at 450 V / 100 A,
# our status at 400 V with 10 A, then with 100 A.
heartbeat=01068009#07
request=01068005#9411E80328
status_10a=01060010#A00F6400464101FA
status_100a=01060010#A00FE803464101FA

bg_start monitor "$SECCSIM" monitor -i "$VCAN_IF" --log "$TEST_TMP/monitor.can"
wait_ready monitor
m=$(bg_log monitor)
cyclic_start

# ---- a session whose current does not follow the request
cyclic "$heartbeat"
wait_for_line "$m" "controller Charging$"
cansend "$VCAN_IF" 01068001#02018813D0071E28
wait_for_line "$m" "New_Charge_Session pistol=1 Communication_Protocol=CCS_ISO_15118_2013_v2"
cyclic "$heartbeat" "$request" "$status_10a"
wait_for_line "$m" "System_Enable Allowed$"
wait_for_line "$m" "warning: current not following request: 100.0 A asked, 10.0 A for [0-9.]+ s" 15
cyclic "$heartbeat" "$request" "$status_100a"
wait_for_line "$m" "warning over: current not following request" 5

# ---- our status stops while the session is open
cyclic "$heartbeat" "$request"
wait_for_line "$m" "warning: status period late: no Power_Modules_Status for [0-9]+ ms in a session" 5
cyclic "$heartbeat" "$request" "$status_100a"
wait_for_line "$m" "status period late: [0-9]+ ms between two Power_Modules_Status" 5
wait_for_line "$m" "warning over: status period late" 5

# ---- the controller goes silent
cyclic
wait_for_line "$m" "warning: controller heartbeat late: no Advantics_Controller_Status for [0-9]+ ms" 5
cyclic "$heartbeat"
wait_for_line "$m" "controller heartbeat gap of [0-9]+ ms" 5
wait_for_line "$m" "warning over: controller heartbeat late" 5

# ---- a malformed frame, the end of the session
cansend "$VCAN_IF" 01068009#
wait_for_line "$m" "malformed Advantics_Controller_Status 01068009#" 5
cansend "$VCAN_IF" 01068007#00
wait_for_line "$m" "Charge_Session_Finished pistol=1 State=Clean_Stop" 5
sleep 1.2       # one more summary line

rc=0
bg_stop monitor TERM || rc=$?
assert_eq 0 "$rc" "seccsim monitor exit status on SIGTERM"
# The stand-in sends every 50 ms.
last=$(grep " summary: " "$m" | tail -n 1)
assert_match "state Charging, answer 400.0 V 100.0 A System_Enable Allowed" "$last" "summary (no request after the end of the session)"
mean=$(sed -nE 's/.*Advantics_Controller_Status last +[0-9]+ ms, mean +([0-9]+) ms.*/\1/p' <<<"$last")
if [ -z "$mean" ] || [ "$mean" -lt 40 ] || [ "$mean" -gt 120 ]; then
        fail "mean heartbeat period '$mean' ms for a stand-in sending every 50 ms: $last"
fi

# --log: candump -L lines that decode to the same frames.
assert_file_has "$TEST_TMP/monitor.can" "^\\([0-9]+\\.[0-9]{6}\\) $VCAN_IF 01068009#07$" "--log"
assert_file_has "$TEST_TMP/monitor.can" "^\\([0-9]+\\.[0-9]{6}\\) $VCAN_IF 01068009#$" "--log (empty frame)"
assert_file_lacks "$TEST_TMP/monitor.can" "^[^(]|^\\([0-9.]+\\) $VCAN_IF [^ ]+ " "--log format"
"$SECCSIM" decode <"$TEST_TMP/monitor.can" >"$TEST_TMP/monitor.decoded"
assert_file_lacks "$TEST_TMP/monitor.decoded" "^invalid " "--log decoded"
assert_file_has "$TEST_TMP/monitor.decoded" "^Power_Modules_Status pistol=1 Present_Voltage=400.0 Present_Current=100.0" \
        "--log decoded"
