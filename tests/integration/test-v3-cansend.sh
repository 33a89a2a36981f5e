#!/usr/bin/env bash
# Interface version 3: the README's cansend walk-through, a whole CCS
# session by hand against the daemon and its simulated converter; what
# crosses the bus is decoded live with seccsim decode -i --interface-version 3.
# The controller's cyclic frames come from daemon-lib.sh's cyclic sender, the
# one-shot frames are cansend lines.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
need_build src/seccbridge src/seccsim/seccsim
need_cmd cansend
seccsim=$BUILD_DIR/src/seccsim/seccsim
vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"
# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"
cyclic_start

bg_start live "$seccsim" decode -i "$VCAN_IF" --pistol 1 --interface-version 3
wait_ready live
live=$(bg_log live)
at_exit sed "s/^/# bus: /" "$live"
# expect REGEX: a frame decoded after the last mark matches REGEX.
mark=0
since() {
        local lines
        mapfile -t lines <"$live"
        mark=${#lines[@]}
}
_live_has() {
        local lines line
        mapfile -t -s "$mark" lines <"$live"
        for line in "${lines[@]}"; do
                [[ ${line#*") $VCAN_IF "} =~ $1 ]] && return 0
        done
        return 1
}
expect() {
        wait_until "${2:-10}" _live_has "$1" || { show_file "$live"; fail "no frame matching /$1/ on the bus"; }
}
status_re() { printf '^Power_Modules_Status pistol=1 %s' "$1"; }

daemon_conf "[can]" "interface_version = 3"
daemon_start

# Waiting_For_PEV: DC_Power_Parameters and Sequence_Control, no status yet.
since
cyclic 0106B000#01
expect "^DC_Power_Parameters pistol=1 Maximum_Voltage=1000\\.0 Maximum_Charge_Current=125\\.0 Maximum_Discharge_Current=0\\.0"
expect "^Sequence_Control pistol=1 Start_Charge_Authorisation=Allowed"

# Connected_With_Full_Info: New_Charge_Session (ISO 15118-2, CCS DC
# extended) until System_Enable = Allowed, the EV's data once.
since
cyclic 0106B000#03 0106B001#0201
cansend "$VCAN_IF" 0106B101#B80B8813A00F
cansend "$VCAN_IF" 0106B102#0000D00700006400
cansend "$VCAN_IF" 0106B100#3C0028006464
expect "$(status_re '.*System_Enable=Allowed')"
wait_for_line "$log" "session: opened \\(protocol 2, plug 1"
cyclic 0106B000#03
cansend "$VCAN_IF" 0106B003#00000000000041

# Insulation test at 500 V, then Standby with Lowering to <= 20 V (V10).
since
cyclic 0106B000#04 0106B003#88130000000042
wait_for_line "$log" "converter: insulation-test 500\\.0 V"
expect "$(status_re 'Present_Voltage=(4[5-9][0-9]|50[0-9])\.[0-9] .*System_Enable=Allowed Insulation_Resistance=510')"
since
cyclic 0106B000#04 0106B003#000000000000C1
expect "$(status_re 'Present_Voltage=([0-9]|1[0-9]|20)\.[0-9] .*System_Enable=Allowed')"

# Precharge to 400 V at 2 A, then one Standby: the battery stays (V13).
since
cyclic 0106B000#05 0106B003#A00F1400000064
wait_for_line "$log" "converter: precharge 400\\.0 V / 2\\.0 A"
expect "$(status_re 'Present_Voltage=(38[0-9]|39[0-9]|40[0-9]|41[0-9])\.[0-9] .*System_Enable=Allowed')"
cyclic 0106B000#05
cansend "$VCAN_IF" 0106B003#00000000000041
wait_for_line "$log" "converter: standby 0\\.0 V / 0\\.0 A$"

# Waiting_For_Charge, then Power_Transfer at 450 V / 50 A.
cyclic 0106B000#06
cansend "$VCAN_IF" 0106B002#01
cansend "$VCAN_IF" 0106B003#00000000000041
since
cyclic 0106B000#07 0106B003#9411F401F40148
expect "$(status_re 'Present_Voltage=[0-9.]+ Present_Current=(4[89]|5[0-1])\.[0-9] .*System_Enable=Allowed')"

# Ending_Charge: current to 0, contactors open, lowering (V20).
since
cyclic 0106B000#08
cansend "$VCAN_IF" 0106B002#00
cansend "$VCAN_IF" 0106B003#00000000000041
expect "$(status_re 'Present_Voltage=(3[5-9][0-9]|4[0-4][0-9])\.[0-9] Present_Current=-?0\.[0-9] ')"
cansend "$VCAN_IF" 0106B003#00000000000001
cansend "$VCAN_IF" 0106B003#00000000000081
expect "$(status_re 'Present_Voltage=([0-9]|1[0-9]|20)\.[0-9] ')"

# Welding_Detection, Closing_Communication, Charge_Session_Finished.
cyclic 0106B000#09
nap 0.3
cyclic 0106B000#0A
cansend "$VCAN_IF" 0106B004#00
wait_for_line "$log" "session: closed"
cyclic 0106B000#01
nap 0.5

assert_file_lacks "$log" "session: fault|controller heartbeat lost|malformed" "daemon log"
rc=0
bg_stop daemon || rc=$?
assert_eq 0 "$rc" "exit status after SIGTERM"
assert_file_has "$log" "counters: frames in [0-9]+, out [0-9]+, malformed 0, foreign 0, rejected requests 0, .*other version 0, undefined power functions 0"
