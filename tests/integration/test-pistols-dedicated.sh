#!/usr/bin/env bash
# One seccbridge, two pistols, each with its own (simulated) converter:
#  - both charge at the same time, each session passing seccsim's checks;
#  - Emergency_Stop on pistol 2 while pistol 1 charges: pistol 2 off,
#    pistol 1's charge goes on (R45 touches only the pistol it names);
#  - pistol 2's controller goes silent while pistol 1 charges: pistol 2
#    off (R1), pistol 1 goes on;
#  - SIGHUP: a pistol's new limit applies, a new pistol index is refused.
# One daemon for the three runs.
# shellcheck source-path=SCRIPTDIR source=test-session-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-session-lib.sh"
# shellcheck source-path=SCRIPTDIR source=pistols-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/pistols-lib.sh"
test_begin "$@"
pistols_config "[converter left]" "backend = sim" "[converter right]" "backend = sim" \
        "[pistol one]" "pistol_index = 1" "converter = left" \
        "[pistol two]" "pistol_index = 2" "converter = right"
pistols_daemon_start

# --- both at once
pistols_run both -- --charge-time 8 --profile 100,120,60 -- --charge-time 8 --profile 80,90,40
pistols_expect 0 0
t=$(both_charging 50)
[ -n "$t" ] || fail "the two pistols never delivered 50 A each at the same time"
note "both pistols at >= 50 A at $t"
for p in 1 2; do
        assert_file_has "$S_DEC" "Charge_Session_Finished pistol=$p " "pistol $p's session ended"
done

# --- Emergency_Stop on pistol 2 while pistol 1 charges
pistols_run estop -- --charge-time 10 -- --charge-time 8 --fault estop@Charging --estop-time 1s
pistols_expect 0 0
t_es=$(first_after 0 "Emergency_Stop pistol=2 Origin=EVSE")
[ -n "$t_es" ] || fail "no Emergency_Stop of pistol 2 on the bus"
c1=$(current_of 1 "$t_es")
note "pistol 1 at $c1 A when pistol 2 stopped"
awk -v c="$c1" 'BEGIN { exit !(c >= 50) }' || fail "pistol 1 was not charging when pistol 2's Emergency_Stop came ($c1 A)"
# Pistol 1 after pistol 2's stop: still delivering, and never refused.
c1b=$(current_of 1 "$(awk -v t="$t_es" 'BEGIN { printf "%.6f", t + 1.0 }')")
awk -v c="$c1b" 'BEGIN { exit !(c >= 50) }' || fail "pistol 1 at $c1b A one second after pistol 2's Emergency_Stop"
bad=$(awk -v a="$t_es" '$1 > a && /Power_Modules_Status pistol=1 .*System_Enable=Not_Allowed/' "$S_DEC" | head -n 1)
p1end=$(first_after 0 "Charge_Session_Finished pistol=1 ")
if [ -n "$bad" ] && awk -v b="${bad%% *}" -v e="$p1end" 'BEGIN { exit !(b < e) }'; then
        fail "pistol 1 lost System_Enable after pistol 2's Emergency_Stop: $bad"
fi

# --- pistol 2's controller silent while pistol 1 charges
pistols_run silence -- --charge-time 10 -- --charge-time 8 --fault heartbeat-stop@Charging --silence 1000
pistols_expect 0 0
p1end=$(first_after 0 "Charge_Session_Finished pistol=1 ")
[ -n "$p1end" ] || fail "pistol 1's session did not end normally"

# --- SIGHUP: a pistol's limits apply at once; its index needs a restart.
printf 'max_current = 150\n' >>"$S_CONF"
kill -HUP "$(bg_pid daemon)"
wait_for_line "$(bg_log daemon)" "reload: applied" 20
sed -i 's/^pistol_index = 2$/pistol_index = 3/' "$S_CONF"
kill -HUP "$(bg_pid daemon)"
wait_for_line "$(bg_log daemon)" "reload: .*\\[pistol two\\]: its name, pistol_index or converter cannot change while running.*keeping the running config" 20

pistols_daemon_stop
[ "$S_DRC" = 0 ] || { show_file "$S_DLOG"; fail "the daemon exited with $S_DRC"; }
assert_file_has "$S_DLOG" "bridge: pistol 2: session: Emergency_Stop from the charger" "pistol 2's stop, logged as pistol 2's"
assert_file_has "$S_DLOG" "bridge: pistol 2: session: controller heartbeat lost" "pistol 2's silence, logged as pistol 2's"
assert_file_lacks "$S_DLOG" "bridge: pistol 1: session: Emergency_Stop" "no Emergency_Stop on pistol 1"
# Pistol 1's controller stops after each run: its heartbeat is lost then,
# after its session closed; never inside one.
bad=$(awk '/bridge: pistol 1: session: closed/ { open = 0 }
        /bridge: pistol 1: controller: .* -> (Negotiating_Connection|Insulation_Test|Precharge|Charging)$/ { open = 1 }
        /bridge: pistol 1: session: controller heartbeat lost/ && open { print; exit }' "$S_DLOG")
[ -z "$bad" ] || fail "pistol 1 lost its controller inside a session: $bad"
assert_file_has "$S_DLOG" "bridge: pistol 1: counters: frames in" "pistol 1's counters"
assert_file_has "$S_DLOG" "bridge: pistol 2: counters: frames in" "pistol 2's counters"
