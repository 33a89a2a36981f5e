#!/usr/bin/env bash
# The daemon and a bus that comes and goes: absent at start, killed,
# stopped, frozen.  CAN never waits for the bus; the daemon connects and
# reconnects by itself (backoff), takes its name again, keeps its state, and
# logs an outage when it starts and when it ends, not at every retry.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
# shellcheck source-path=SCRIPTDIR source=test-dbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-dbus-lib.sh"
# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"
need_build src/seccbridge src/seccsim/seccsim
need_cmd candump
vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"
SECCSIM=$BUILD_DIR/src/seccsim/seccsim

dbus_setup
dbus_daemon_conf "[sequence]" "start_authorisation = external"
candump_start bus "$VCAN_IF"
cyclic_start
cyclic 01068009#01

# frames_between T0 T1 MESSAGE: how many MESSAGE frames of pistol 1 the
# capture holds between the two times.
frames_between() {
        paste -d ' ' <(sed -E 's/^\(([0-9]+\.[0-9]+)\).*/\1/' "$(bg_log bus)") \
                <("$SECCSIM" decode --pistol 1 <"$(bg_log bus)") |
                awk -v t0="$1" -v t1="$2" -v m="$3" '$1 >= t0 && $1 <= t1 && $2 == m { n++ } END { print n + 0 }'
}
owned() { ctl list 2>/dev/null | grep -q "^pistol 1 "; }
log=
lines() { count_lines "$log" "$1"; }

# ---- no bus at start: the daemon starts, serves CAN, logs it once
bg_start daemon "$BUILD_DIR/src/seccbridge" -c "$D_CONF"
log=$(bg_log daemon)
at_exit sed "s/^/# daemon: /" "$log"
wait_for_line "$log" "ready: pistol 1 on $VCAN_IF" 20
wait_for_line "$log" "bus: D-Bus: cannot connect to $DBUS_ADDR" 10
wait_for_line "$log" "controller: heartbeat present" 20
t0=$EPOCHREALTIME
sleep 4         # retries at 0.25, 0.5, 1 and 2 s
t1=$EPOCHREALTIME
assert_eq 1 "$(lines "bus: D-Bus")" "D-Bus lines while the bus is absent"
n=$(frames_between "$t0" "$t1" Sequence_Control)
[ "$n" -ge 2 ] || fail "only $n Sequence_Control frames in 4 s without a bus (resent every second)"

# ---- the bus appears: the daemon takes its name within the backoff
dbus_bus_start
calm_until 20 owned || fail "the daemon did not take its name once the bus was there"
wait_for_line "$log" "bus: D-Bus: back to normal after" 5
wait_for_line "$log" "bus: org.seccbridge.pistol1 on $DBUS_ADDR" 5
expect_ctl 0 authorize
assert_eq yes "$(prop StartAuthorisation)" "StartAuthorisation"
bg_start watch "$CTL" --address "$DBUS_ADDR" watch
wait_for_line "$(bg_log watch)" "watching org.seccbridge.pistol1"

# ---- the bus dies (SIGKILL: its socket file stays): CAN goes on, and the
# daemon is back on the new bus at the same address, state kept
dbus_bus_stop KILL
rc=0
bg_wait watch 10 || rc=$?
assert_eq 69 "$rc" "watch when the bus dies"
t0=$EPOCHREALTIME
cyclic 01068009#02
wait_for_line "$log" "controller: Waiting_For_PEV -> Negotiating_Connection" 5
sleep 2
t1=$EPOCHREALTIME
n=$(frames_between "$t0" "$t1" Sequence_Control)
[ "$n" -ge 1 ] || fail "no Sequence_Control frame while the bus was dead"
dbus_bus_start
calm_until 20 owned || fail "the daemon did not come back on the restarted bus"
assert_eq "$(printf 'yes\nNegotiating_Connection')" "$(ctl get StartAuthorisation ControllerState)" \
        "state after the bus restart"
assert_eq 1 "$(lines "bus: D-Bus: connection to $DBUS_ADDR lost")" "'lost' lines"

# ---- the bus stops cleanly (SIGTERM: no socket file for a while)
dbus_bus_stop TERM
sleep 3
dbus_bus_start
calm_until 20 owned || fail "the daemon did not come back after a clean bus stop"
assert_eq 2 "$(lines "bus: D-Bus: connection to $DBUS_ADDR lost")" "'lost' lines"
assert_eq 3 "$(lines "bus: D-Bus: back to normal after")" "'back' lines"
# Each outage: when it starts and when its reason changes, not per retry.
[ "$(lines "bus: D-Bus")" -le 8 ] || { show_file "$log"; fail "the D-Bus outages flooded the log"; }

# ---- a frozen bus: the daemon never waits for it
kill -STOP "$(bg_pid dbus)"
at_exit kill -CONT "$(bg_pid dbus)"
t0=$EPOCHREALTIME
for state in 01 02 01 02 01; do
        cyclic "01068009#$state"
        sleep 0.5
        # Each state change is a PropertiesChanged queued for the frozen bus.
done
wait_for_line "$log" "controller: Negotiating_Connection -> Waiting_For_PEV" 5
t1=$EPOCHREALTIME
kill -CONT "$(bg_pid dbus)"
n=$(frames_between "$t0" "$t1" Sequence_Control)
[ "$n" -ge 1 ] || fail "no Sequence_Control frame while the bus was frozen"
assert_eq 6 "$(count_lines "$log" "controller: (Waiting_For_PEV -> Negotiating_Connection|Negotiating_Connection -> Waiting_For_PEV)$")" \
        "controller state changes (one before, five while the bus was frozen)"
wait_prop ControllerState Waiting_For_PEV 10
expect_ctl 0 status

rc=0
bg_stop daemon TERM || rc=$?
assert_eq 0 "$rc" "daemon exit status"
