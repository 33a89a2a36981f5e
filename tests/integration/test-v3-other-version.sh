#!/usr/bin/env bash
# Frames of the other interface version are ignored and counted.  A v3
# daemon under a v2 controller's whole session (heartbeats,
# New_Charge_Session, Insulation_Test, Charging_Loop), then a v2 daemon
# under a v3 controller's (DC_Power_Control): neither answers, powers up or
# takes the controller for alive; both count the frames as "other version".
# A reload cannot switch the version of a running daemon.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
need_build src/seccbridge src/seccsim/seccsim
need_cmd candump
vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"

# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"

# Frames the power side sends, of either version: v2 0x60010..0x60014,
# v3 0x63000..0x63002, 0x63201..0x63202 (pistol 1).
POWER_SIDE=' 0106(001[0-4]|300[0-2]|320[12])#'

cyclic_start
candump_start bus "$VCAN_IF"
dump=$(bg_log bus)

# --- a v3 daemon, a v2 controller
daemon_conf "[can]" "interface_version = 3"
daemon_start
cyclic 01068009#01
nap 1
cyclic 01068009#03 01068001#02018813D0071E28
nap 1
cyclic 01068009#04 01068002#8813
nap 1
cyclic 01068009#07 01068005#9411F40128
nap 1
cyclic 01068009#01
# A reload that would switch the version is refused; the daemon goes on.
sed -i 's/^interface_version = 3$/interface_version = 2/' "$TEST_TMP/seccbridge.conf"
kill -HUP "$(bg_pid daemon)"
wait_for_line "$log" "can.interface_version cannot change while running \\(3 -> 2\\)"
nap 0.5
grep -E "$POWER_SIDE" "$dump" >"$TEST_TMP/ours" || true
if [ -s "$TEST_TMP/ours" ]; then
        show_file "$TEST_TMP/ours"
        fail "the v3 daemon answered a v2 controller"
fi
assert_file_lacks "$log" "controller: heartbeat present|session: opened" "v3 daemon log"
assert_file_lacks "$log" "converter: (standby|insulation-test|precharge|charge) " "v3 daemon log"
bg_stop daemon || fail "the v3 daemon did not stop cleanly"
other=$(sed -nE 's/.*counters: frames in 0, .* other version ([0-9]+),.*/\1/p' "$log")
note "v3 daemon: ${other:-?} v2 frames counted"
[ "${other:-0}" -ge 60 ] || { show_file "$log"; fail "the v3 daemon counted ${other:-no} v2 frames"; }
# Its last word: one Power_Modules_Status with the v3 identifier.
n=$(grep -cE " 01063000#" "$dump" || true)
assert_eq 1 "$n" "v3 statuses sent (the last one at the stop)"

# --- a v2 daemon, a v3 controller
cyclic
nap 0.3
cp "$dump" "$TEST_TMP/bus-part1"
daemon_conf
daemon_start
cyclic 0106B000#01
nap 1
cyclic 0106B000#03 0106B001#0200
nap 1
cyclic 0106B000#04 0106B003#88130000000042
nap 1
cyclic 0106B000#07 0106B003#9411E803E80348 0106B300#E803
nap 1
cyclic
bg_stop daemon || fail "the v2 daemon did not stop cleanly"
candump_stop bus
tail -n +"$(( $(wc -l <"$TEST_TMP/bus-part1") + 1 ))" "$dump" >"$TEST_TMP/bus-part2"
grep -E "$POWER_SIDE" "$TEST_TMP/bus-part2" >"$TEST_TMP/ours" || true
assert_eq 1 "$(count_lines "$TEST_TMP/ours" .)" "frames sent by the v2 daemon (the last status at the stop)"
assert_file_has "$TEST_TMP/ours" " 01060010#" "the v2 daemon's last status"
assert_file_lacks "$log" "controller: heartbeat present|session: opened" "v2 daemon log"
other=$(sed -nE 's/.*counters: frames in 0, .* other version ([0-9]+),.*/\1/p' "$log")
note "v2 daemon: ${other:-?} v3 frames counted"
[ "${other:-0}" -ge 60 ] || { show_file "$log"; fail "the v2 daemon counted ${other:-no} v3 frames"; }
