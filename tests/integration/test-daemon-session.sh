#!/usr/bin/env bash
# A whole CCS charging session played by hand with cansend lines, as in the
# README, against the daemon and its simulated converter; what crosses the
# bus is captured with candump -L and decoded with seccsim decode.
#
# The controller's cyclic frames (the 100 ms heartbeat, and the requests it
# repeats while a phase lasts) come from a small sender that repeats the
# current set of frames; the one-shot frames are plain cansend lines.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
need_build src/seccbridge src/seccsim/seccsim
need_cmd cansend candump
seccsim=$BUILD_DIR/src/seccsim/seccsim
vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"

# ---- the controller's cyclic frames ------------------------------------
# The heartbeat and the requests the controller repeats while a phase lasts
# come from daemon-lib.sh's cyclic sender (every 50 ms, twice the
# controller's rate, so that a slow machine never leaves 200 ms without a
# heartbeat); the one-shot frames are plain cansend lines.
# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"
cyclic_start

# ---- what crosses the bus ----------------------------------------------
# A raw capture (candump -L, decoded into the test's log at the end) and a
# live one decoded as it comes (seccsim decode -i), which the checks read
# with shell builtins only (see wait_for_line in lib.sh).
candump_start bus "$VCAN_IF"
dump=$(bg_log bus)
bg_start live "$seccsim" decode -i "$VCAN_IF" --pistol 1
wait_ready live
live=$(bg_log live)
decoded=$TEST_TMP/decoded
mark=0
# since: remember where the capture is now; later waits look only after it.
since() {
        local lines
        mapfile -t lines <"$live"
        mark=${#lines[@]}
}
# The frames decoded after the mark, without time and interface, into
# $decoded; true when one matches REGEX.
_decoded_has() {
        local lines line re=$1
        mapfile -t -s "$mark" lines <"$live"
        lines=("${lines[@]#*") $VCAN_IF "}")
        printf '%s\n' "${lines[@]}" >"$decoded"
        for line in "${lines[@]}"; do
                [[ $line =~ $re ]] && return 0
        done
        return 1
}
# expect REGEX [SECONDS]: a decoded frame after the mark matches REGEX.
expect() {
        local deadline=$(( ${EPOCHREALTIME/./} + ${2:-10} * 1000000 ))
        until _decoded_has "$1"; do
                if [ "${EPOCHREALTIME/./}" -ge "$deadline" ]; then
                        show_file "$decoded"
                        fail "no frame matching /$1/ on the bus"
                fi
                nap 0.1
        done
}
status_re() { printf 'Power_Modules_Status pistol=1 %s' "$1"; }

# ---- the daemon --------------------------------------------------------
cat >"$TEST_TMP/seccbridge.conf" <<EOF
[can]
interface = $VCAN_IF
pistol_index = 1

[limits]
max_voltage = 1000
max_current = 125
max_power = 50000

[sim]
wakeup_ms = 200
EOF
bg_start daemon "$daemon" -v -c "$TEST_TMP/seccbridge.conf"
log=$(bg_log daemon)
# In the test's log: the daemon's own log and the decoded capture.
at_exit sh -c 'sed "s/^/# bus: /" "$1"; sed "s/^/# daemon: /" "$2"' - "$TEST_TMP/bus.decoded" "$log"
at_exit sh -c '"$1" decode <"$2" | paste -d " " - "$2" >"$3"' - "$seccsim" "$dump" "$TEST_TMP/bus.decoded"
wait_for_line "$log" "ready: pistol 1 on $VCAN_IF"

# --- Waiting_For_PEV: the daemon sends its limits and the initial flags (R7,
# R17), but no Power_Modules_Status before a session (R2).
since
cyclic 01068009#01
expect "^Power_Modules_Limits pistol=1 Maximum_Voltage=1000\\.0 Maximum_Current=125\\.0"
expect "^Sequence_Control pistol=1 Start_Charge_Authorisation=Allowed"
assert_file_lacks "$decoded" "Power_Modules_Status" "frames before New_Charge_Session"

# --- Connected_With_Full_Info + New_Charge_Session (ISO 15118-2, CCS DC
# extended, EV 500 V / 200 A, 60 kWh, SoC 40 %), repeated until the power
# side says System_Enable = Allowed (R19, R20).
since
cyclic 01068009#03 01068001#02018813D0071E28
expect "$(status_re 'Present_Voltage=0\.0 .*System_Enable=Not_Allowed')"
expect "$(status_re '.*System_Enable=Allowed')"
wait_for_line "$log" "session: opened \\(protocol 2, plug 1, EV max 500\\.0 V / 200\\.0 A, SoC 40 %\\)"
cyclic 01068009#03
cansend "$VCAN_IF" 01068005#0000000000

# --- Insulation_Test at 500 V (R25..R27): the output rises, the insulation
# resistance is reported.
since
cyclic 01068009#04 01068002#8813
wait_for_line "$log" "converter: insulation-test 500\\.0 V"
expect "$(status_re 'Present_Voltage=(4[5-9][0-9]|50[0-9])\.[0-9] .*System_Enable=Allowed Insulation_Resistance=510')"
# End of the test: Test_Voltage 0 and Charging_Loop(0, 0) until <= 20 V (R29).
since
cyclic 01068009#04 01068002#0000 01068005#0000000000
expect "$(status_re 'Present_Voltage=([0-9]|1[0-9]|20)\.[0-9] .*System_Enable=Allowed')"
wait_for_line "$log" "converter: standby 0\\.0 V / 0\\.0 A, discharge"

# --- Precharge to the battery voltage (400 V), 2 A at most (R31, R32).
since
cyclic 01068009#05 01068003#A00F1400
wait_for_line "$log" "converter: precharge 400\\.0 V / 2\\.0 A"
expect "$(status_re 'Present_Voltage=(38[0-9]|39[0-9]|40[0-9]|41[0-9])\.[0-9] .*System_Enable=Allowed')"
# The EV's first non-precharge request: one Precharge with Maximum_Current
# 0 and one Charging_Loop(0, 0): standby without pulling the battery down
# (R33, R34).
cyclic 01068009#05
cansend "$VCAN_IF" 01068003#A00F0000
cansend "$VCAN_IF" 01068005#0000000000
wait_for_line "$log" "converter: standby 0\\.0 V / 0\\.0 A$"

# --- Waiting_For_Charge: Charge_Status_Change(Charge_Started) and
# Charging_Loop(0, 0), once each (R35).
cyclic 01068009#06
cansend "$VCAN_IF" 01068004#01
cansend "$VCAN_IF" 01068005#0000000000

# --- Charging at 450 V / 50 A (R36): the current ramps up to the request.
since
cyclic 01068009#07 01068005#9411F40128
wait_for_line "$log" "converter: charge "
expect "$(status_re 'Present_Voltage=[0-9.]+ Present_Current=(4[89]|5[0-1])\.[0-9] .*System_Enable=Allowed')"

# --- Ending_Charge: Charge_Status_Change(Charge_Stopped) and
# Charging_Loop(0, 0), the current goes to 0 (R41).
since
cyclic 01068009#08
cansend "$VCAN_IF" 01068004#00
cansend "$VCAN_IF" 01068005#0000000000
expect "$(status_re 'Present_Voltage=[0-9.]+ Present_Current=-?0\.[0-9] .*System_Enable=Allowed')"

# --- Welding_Detection, Closing_Communication, Charge_Session_Finished:
# the session window closes, the converter goes off (R42..R44).
cyclic 01068009#09
sleep 0.3
cyclic 01068009#0A
cansend "$VCAN_IF" 01068007#00
wait_for_line "$log" "session: closed"
wait_for_line "$log" "converter: off "
cyclic 01068009#01
sleep 1
since
sleep 1
_decoded_has . || true
assert_file_lacks "$decoded" "Power_Modules_Status" "frames after Charge_Session_Finished"

# --- nothing went wrong on the way
assert_file_lacks "$log" "session: fault|controller heartbeat lost|malformed" "daemon log"
rc=0
bg_stop daemon || rc=$?
assert_eq 0 "$rc" "exit status after SIGTERM"
assert_file_has "$log" "counters: frames in [0-9]+, out [0-9]+, malformed 0, foreign 0, rejected requests 0"
