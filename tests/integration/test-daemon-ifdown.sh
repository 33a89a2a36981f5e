#!/usr/bin/env bash
# The CAN interface goes down during a session and comes back; later it is
# deleted and created again.  Each time the daemon notices, switches the
# converter off (no heartbeat can arrive: the controller timeout, R1), says
# so once, reopens its socket by itself and answers the controller again,
# without restarting.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
need_build src/seccbridge src/seccsim/seccsim
need_cmd cansend candump
need_net_admin "taking $VCAN_IF down"
vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"

# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"

cyclic_start
daemon_conf
daemon_start
pid=$(bg_pid daemon)
at_exit sh -c 'ip link show dev "$1" >/dev/null 2>&1 || ip link add dev "$1" type vcan; ip link set dev "$1" up' - "$VCAN_IF"

# in_session NAME: the controller, back in Waiting_For_PEV (as after the
# emergency stop it makes when our Power_Modules_Status stays away), opens a
# new session; wait until the daemon answers with System_Enable = Allowed on
# a fresh capture NAME.
in_session() {
        candump_start "$1" "$VCAN_IF"
        cyclic 01068009#01
        sleep 0.5
        cyclic 01068009#03 01068001#02018813D0071E28
        local deadline=$(( ${EPOCHREALTIME/./} + 15000000 ))
        until decoded "$(bg_log "$1")" | grep -q "^Power_Modules_Status pistol=1 .*System_Enable=Allowed"; do
                [ "${EPOCHREALTIME/./}" -lt "$deadline" ] || { show_file "$(bg_log "$1")"; fail "no answer on $VCAN_IF ($1)"; }
                sleep 0.25
        done
        candump_stop "$1"
}

in_session before

# --- down and up again
vcan_down "$VCAN_IF"
wait_for_line "$log" "can: $VCAN_IF: interface is down; retrying every second"
wait_for_line "$log" "controller heartbeat lost"
wait_for_line "$log" "converter: off "
sleep 2.5
vcan_up "$VCAN_IF"
wait_for_line "$log" "can: $VCAN_IF: back to normal after"
in_session after_up

# --- deleted and created again
ip link delete dev "$VCAN_IF"
wait_until 10 at_least 2 "$log" "controller heartbeat lost" \
        || { show_file "$log"; fail "no controller timeout after the interface was deleted"; }
sleep 2
ip link add dev "$VCAN_IF" type vcan
ip link set dev "$VCAN_IF" up
wait_until 10 at_least 2 "$log" "can: $VCAN_IF: back to normal after" \
        || { show_file "$log"; fail "the daemon did not come back on the new $VCAN_IF"; }
in_session after_recreate

# Same process all along, and the outage was logged per episode, not per
# retry (one line when it started, at most one when its reason changed, one
# when it ended).
assert_eq "$pid" "$(bg_pid daemon)" "daemon PID"
bg_running daemon || fail "the daemon is gone"
n=$(count_lines "$log" "can: $VCAN_IF: ")
[ "$n" -le 6 ] || { show_file "$log"; fail "$n log lines about $VCAN_IF for two outages"; }

rc=0
bg_stop daemon || rc=$?
assert_eq 0 "$rc" "exit status after SIGTERM"
assert_file_has "$log" "reopens 2$"
