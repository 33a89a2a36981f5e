#!/usr/bin/env bash
# The daemon under valgrind memcheck through whole sessions (simulated
# converter), one daemon run per case: no memory error, no definite or
# indirect leak, no file descriptor left open at exit besides the standard
# ones, and each session still passes at the protocol's real timing (100 ms
# status, 200 ms controller timeout).  The cases:
#
#   v2-ccs   interface v2: a CCS charge with the sequence flags
#   v3-v2g   interface v3, a bidirectional charger (B1..B6): an ISO 15118-20
#            BPT session that charges, gives energy back and charges again
#   pistols-shared  two pistols of one daemon sharing one converter
#            (doc/sharing.md): pistol 1 charges, pistol 2's controller held
#            meanwhile, then served (two seccsim at once)
#
# Run by `scripts/sanitize.sh valgrind` (tests/integration/run.sh
# tests/integration/valgrind-session.sh: one boot of the VM for every case),
# not by the default suite: the daemon under memcheck in an emulated machine
# keeps the 200 ms timing only on a quiet host.  A case is a name in
# ALL_CASES and a function case_NAME (- as _) that sets up the configuration
# (session_config), runs the session (session_run) with the daemon under
# memcheck (use_memcheck) and checks its own outcome; the memcheck checks
# are common (check_memcheck).  SECCBRIDGE_VALGRIND_CASES picks cases.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
# shellcheck source-path=SCRIPTDIR source=pistols-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/pistols-lib.sh"
test_begin "$@"
need_cmd valgrind

# SECCBRIDGE_VALGRIND_CASES: only these (a rerun of one case).
read -r -a ALL_CASES <<<"${SECCBRIDGE_VALGRIND_CASES:-v2-ccs v3-v2g pistols-shared}"

# valgrind starts and stops slowly (more so in an emulated machine).
export SECCBRIDGE_WAIT_TIMEOUT=60 SECCBRIDGE_STOP_WAIT=60

# The daemon of the next session_run under memcheck, its report in $1.
use_memcheck() {
        S_DAEMON_PREFIX=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect
                --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --track-fds=yes
                --log-file="$1")
}

# check_memcheck NAME LOG: the report of one daemon run.
check_memcheck() {
        local name=$1 vglog=$2 open_fds
        show_file "$vglog"
        assert_file_has "$vglog" "ERROR SUMMARY: 0 errors from 0 contexts" "$name: no memcheck error"
        assert_file_has "$vglog" "definitely lost: 0 bytes in 0 blocks|All heap blocks were freed" "$name: no definite leak"
        assert_file_has "$vglog" "indirectly lost: 0 bytes in 0 blocks|All heap blocks were freed" "$name: no indirect leak"
        # --track-fds: only stdin, stdout, stderr (and valgrind's log) open at exit.
        open_fds=$(sed -nE 's/.*FILE DESCRIPTORS: ([0-9]+) open.*/\1/p' "$vglog" | tail -n 1)
        note "$name: file descriptors open at exit: ${open_fds:-?} (3 standard + valgrind's log)"
        [ -n "$open_fds" ] && [ "$open_fds" -le 4 ] || fail "$name: file descriptors left open at exit: ${open_fds:-unknown}"
}

case_v2_ccs() {
        S_INTERFACE_VERSION=2
        session_config
        use_memcheck "$1"
        session_run valgrind -- --protocol ccs --sequence-flags --charge-time 5
        expect_verdict 0
        expect_daemon_clean
}

case_v3_v2g() {
        S_INTERFACE_VERSION=3
        session_config "[limits]" "max_discharge_current = 80" "max_discharge_power = 30000" \
                "[v3]" "bidirectional = true" "range_policy = ocpp"
        use_memcheck "$1"
        session_run valgrind-v3 -- --protocol ccs --discharge --discharge-current 40 --charge-time 9 --ccs-gap 0
        expect_verdict 0
        expect_daemon_clean
        assert_file_has "$S_OUT" "discharge: peak (3[6-9]|4[0-4])\\.[0-9] A out of the EV \\(limit announced 80.0 A\\), [0-9.]+ kWh out; 2 reversals" "v3-v2g: energy given back and charged again"
        assert_eq 2 "$(daemon_counter "direction changes")" "v3-v2g: daemon's direction changes"
}

# Pistol 2's controller starts once pistol 1 charges.
p1_charging() {
        wait_for_line "$1" "state Charging \\(7\\)" 60
}

case_pistols_shared() {
        S_INTERFACE_VERSION=2
        pistols_config "[sharing]" "[pistol one]" "pistol_index = 1" "[pistol two]" "pistol_index = 2"
        use_memcheck "$1"
        bg_start daemon "${S_DAEMON_PREFIX[@]}" "$SECCBRIDGE" -c "$S_CONF"
        wait_for_line "$(bg_log daemon)" "ready: 2 pistols"
        S_DAEMON_PREFIX=()
        pistols_run valgrind-pistols --gate p1_charging -- --sequence-flags --charge-time 5 \
                -- --sequence-flags --auth-timeout 90 --charge-time 4
        pistols_expect 0 0
        pistols_daemon_stop
        [ "$S_DRC" = 0 ] || { show_file "$S_DLOG"; fail "pistols-shared: the daemon exited with $S_DRC"; }
        assert_file_has "$P2_OUT" "waiting for Start_Charge_Authorisation = 1" "pistols-shared: pistol 2's controller held back"
        [ -z "$(both_charging 2)" ] || fail "pistols-shared: both pistols delivered current at once"
        [ -n "$(current_at_least 2 30)" ] || fail "pistols-shared: pistol 2 never charged"
        assert_file_has "$S_DLOG" "counters: \\[converter of \\[converter\\]\\] handovers [1-9]" "pistols-shared: handovers counted"
}

for c in "${ALL_CASES[@]}"; do
        note "== valgrind case $c"
        "case_${c//-/_}" "$TEST_TMP/valgrind-$c.log"
        check_memcheck "$c" "$TEST_TMP/valgrind-$c.log"
done
