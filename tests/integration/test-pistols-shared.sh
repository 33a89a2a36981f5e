#!/usr/bin/env bash
# One seccbridge, two pistols sharing one (simulated) converter
# (doc/sharing.md):
#  - pistol 1 charges; pistol 2's controller, started meanwhile, is held
#    with Start_Charge_Authorisation = 0 (seen on the bus) and never gets
#    power while pistol 1 has it; once pistol 1's session ended, pistol 2
#    is released and charges;
#  - a converter fault while pistol 1 owns it: pistol 1 shut down (R22),
#    the converter off; pistol 2, whose controller starts during the fault,
#    held until the fault clears (a faulted converter goes to nobody), then
#    served.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
# shellcheck source-path=SCRIPTDIR source=pistols-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/pistols-lib.sh"
test_begin "$@"
pistols_config "control_path = $TEST_TMP/sim-control" \
        "[sharing]" "offer_ms = 5000" \
        "[pistol one]" "pistol_index = 1" \
        "[pistol two]" "pistol_index = 2"
S_FIFO=$TEST_TMP/sim-control
pistols_daemon_start
assert_file_has "$(bg_log daemon)" "ready: \\[pistol two\\] pistol 2, converter of \\[converter\\] \\(sim\\), shared" "shared"

# Pistol 2 starts once pistol 1 is charging.
p1_charging() {
        wait_for_line "$1" "state Charging \\(7\\)" 60
}

# The two never deliver at once; pistol 2 held meanwhile.
check_one_at_a_time() {
        local t1 t2e t2 both
        t1=$(current_at_least 1 50)
        [ -n "$t1" ] || fail "pistol 1 never charged"
        both=$(both_charging 2)
        [ -z "$both" ] || fail "both pistols delivered current at $both"
        t2e=$(first_after "$t1" "Sequence_Control pistol=2 Start_Charge_Authorisation=Not_Allowed")
        [ -n "$t2e" ] || t2e=$(awk -v t="$t1" '$1 <= t && /Sequence_Control pistol=2 Start_Charge_Authorisation=Not_Allowed/ { x = $1 } END { print x }' "$S_DEC")
        [ -n "$t2e" ] || fail "no Sequence_Control of pistol 2 with Start_Charge_Authorisation=Not_Allowed while pistol 1 charged"
        t1end=$(first_after 0 "Charge_Session_Finished pistol=1 ")
        [ -n "$t1end" ] || fail "pistol 1's session never ended"
        bad=$(awk -v e="$t1end" '$1 < e && /Sequence_Control pistol=2 Start_Charge_Authorisation=Allowed/' "$S_DEC" | \
                awk -v s="$(current_at_least 1 1)" '$1 > s' | head -n 1)
        [ -z "$bad" ] || fail "pistol 2 released while pistol 1 had the converter: $bad"
        t2=$(current_at_least 2 50)
        [ -n "$t2" ] || fail "pistol 2 never charged"
        awk -v a="$t1end" -v b="$t2" 'BEGIN { exit !(b > a) }' || fail "pistol 2 charged at $t2, before pistol 1's end at $t1end"
        note "pistol 2 held from $t2e, pistol 1 ended at $t1end, pistol 2 charging at $t2"
}

# --- the second held, then served
pistols_run shared --gate p1_charging -- --sequence-flags --charge-time 8 \
        -- --sequence-flags --auth-timeout 90 --charge-time 6
pistols_expect 0 0
check_one_at_a_time
assert_file_has "$P2_OUT" "waiting for Start_Charge_Authorisation = 1" "pistol 2's controller held back"

# --- a converter fault while pistol 1 owns it; pistol 2's controller
# starts while the fault lasts: the faulted converter goes to nobody, so
# pistol 2 stays held until the fault clears, then charges
trip() {
        wait_for_line "$1" "state Charging \\(7\\)" 60
        sleep 2
        printf 'fault on\n' >"$S_FIFO"
        echo "$EPOCHREALTIME" >"$TEST_TMP/fault-on"
        {
                sleep 3
                printf 'fault off\n' >"$S_FIFO"
                echo "$EPOCHREALTIME" >"$TEST_TMP/fault-off"
        } &
}
pistols_run fault --gate trip -- --sequence-flags --charge-time 10 --expect-shutdown=Charging \
        -- --sequence-flags --auth-timeout 90 --charge-time 5
pistols_expect 0 0
assert_file_has "$P1_OUT" "System_Enable = Not_Allowed during Charging, as expected" "pistol 1 shut down by the fault"
both=$(both_charging 2)
[ -z "$both" ] || fail "both pistols delivered current at $both"
[ -n "$(current_at_least 2 30)" ] || fail "pistol 2 never charged after the fault"
t_on=$(cat "$TEST_TMP/fault-on")
t_off=$(cat "$TEST_TMP/fault-off")
held=$(awk -v a="$t_on" -v b="$t_off" '$1 > a && $1 < b && /Sequence_Control pistol=2 Start_Charge_Authorisation=Not_Allowed/' "$S_DEC" | wc -l)
[ "$held" -gt 0 ] || fail "no Sequence_Control of pistol 2 held while the converter was faulted ($t_on to $t_off)"
bad=$(awk -v a="$t_on" -v b="$t_off" '$1 > a && $1 < b && /Sequence_Control pistol=2 Start_Charge_Authorisation=Allowed/' "$S_DEC" | head -n 1)
[ -z "$bad" ] || fail "pistol 2 released while the converter reported its fault: $bad"
t2=$(current_at_least 2 30)
awk -v a="$t_off" -v b="$t2" 'BEGIN { exit !(b > a) }' || fail "pistol 2 charged at $t2, before the fault cleared at $t_off"
note "fault $t_on to $t_off: pistol 2 held ($held Sequence_Control), charging at $t2"

pistols_daemon_stop
[ "$S_DRC" = 0 ] || { show_file "$S_DLOG"; fail "the daemon exited with $S_DRC"; }
assert_file_has "$S_DLOG" "bridge: pistol 2: sharing: held" "pistol 2 held"
assert_file_has "$S_DLOG" "bridge: pistol 2: sharing: released" "pistol 2 released"
assert_file_has "$S_DLOG" "counters: \\[converter of \\[converter\\]\\] handovers [1-9]" "handovers counted"
