#!/usr/bin/env bash
# On hardware CAN controllers (the emulated SJA1000 pair of the test VM when
# it provides one): bitrate and restart_ms applied at start, left alone when
# already right, refused with exit 69 and a clear reason without
# CAP_NET_ADMIN; and the daemon talks to the controller across a real
# controller pair.  Skipped elsewhere: it reconfigures can0 and can1, which
# must never happen on a real gateway by accident.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
need_build src/seccbridge src/seccsim/seccsim
need_cmd cansend candump

[ "${SECCBRIDGE_IN_VM:-}" = 1 ] || [ "${SECCBRIDGE_TEST_HW_CAN:-}" = 1 ] \
        || skip "needs the test VM's emulated CAN controllers (or SECCBRIDGE_TEST_HW_CAN=1)"
need_net_admin "setting a bitrate"
for ifc in can0 can1; do
        ip -d link show dev "$ifc" 2>/dev/null | grep -q "can state" \
                || skip "no hardware CAN interface $ifc"
done
VCAN_IF=can0

# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon-lib.sh"

# The other end of the bus: can1, at the controller's 500 kbit/s.
ip link set dev can1 down
ip link set dev can1 type can bitrate 500000
ip link set dev can1 up
at_exit ip link set dev can1 down
at_exit ip link set dev can0 down

# --- without CAP_NET_ADMIN: exit 69, and why
ip link set dev can0 down
ip link set dev can0 type can bitrate 250000
cat >"$TEST_TMP/seccbridge.conf" <<EOC
[can]
interface = can0
bitrate = 500000
restart_ms = 100

[limits]
max_voltage = 1000
max_current = 125
max_power = 50000

[sim]
wakeup_ms = 200
EOC
if command -v setpriv >/dev/null 2>&1; then
        chmod a+rx "$TEST_TMP"
        chmod a+r "$TEST_TMP/seccbridge.conf"
        rc=0
        timeout 10 setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
                "$daemon" -c "$TEST_TMP/seccbridge.conf" >"$TEST_TMP/noadmin.log" 2>&1 || rc=$?
        assert_eq 69 "$rc" "exit status without CAP_NET_ADMIN"
        assert_file_has "$TEST_TMP/noadmin.log" "can0: cannot set bitrate/restart_ms: Operation not permitted \\(needs CAP_NET_ADMIN"
else
        note "setpriv not found: the unprivileged case is not checked"
fi

# --- applied at start
daemon_start
assert_file_has "$log" "can-link: can0: set to 500000 bit/s, restart-ms 100"
ip -d link show dev can0 >"$TEST_TMP/link"
assert_file_has "$TEST_TMP/link" "restart-ms 100"
assert_file_has "$TEST_TMP/link" "bitrate 500000"

# --- and the controller on the other end is answered
candump_start bus can1
VCAN_IF=can1 cyclic_start
cyclic 01068009#03 01068001#02018813D0071E28
wait_for_line "$log" "session: System_Enable Allowed" 15
wait_for_line "$(bg_log bus)" " can1 01060010#[0-9A-F]{12}01[0-9A-F]{2}$"
cyclic 01068009#01
sleep 0.5
rc=0
bg_stop daemon || rc=$?
assert_eq 0 "$rc" "exit status after SIGTERM"
assert_file_lacks "$log" "can-link: can0: (error|bus)" "bus state"

# --- a second start leaves the interface alone
bg_start daemon2 "$daemon" -c "$TEST_TMP/seccbridge.conf"
wait_for_line "$(bg_log daemon2)" "ready: pistol 1 on can0"
assert_file_has "$(bg_log daemon2)" "can-link: can0: already at 500000 bit/s, restart-ms 100"
rc=0
bg_stop daemon2 || rc=$?
assert_eq 0 "$rc" "exit status after SIGTERM"
