#!/usr/bin/env bash
# Exit status 69 when the CAN interface is missing or unusable at start:
# an interface that does not exist, one that is not CAN, a bitrate asked of
# a virtual CAN interface (which has none).  An interface that exists but is
# down is not an error: the daemon waits for it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
need_build src/seccbridge
daemon=$BUILD_DIR/src/seccbridge

write_conf() {
        cat >"$TEST_TMP/$1.conf" <<EOF
[can]
interface = $2
$3

[limits]
max_voltage = 1000
max_current = 125
max_power = 50000
EOF
}

# start NAME: run the daemon on NAME.conf, expect exit 69 within 10 s.
expect_69() {
        local name=$1 re=$2 rc=0
        timeout 10 "$daemon" -c "$TEST_TMP/$name.conf" >"$TEST_TMP/$name.log" 2>&1 || rc=$?
        [ "$rc" -ne 124 ] || fail "$name: the daemon did not exit"
        assert_eq 69 "$rc" "$name: exit status"
        assert_file_has "$TEST_TMP/$name.log" "$re" "$name"
        assert_file_has "$TEST_TMP/$name.log" "exiting with status 69"
}

write_conf missing nosuchcan7 ""
expect_69 missing "nosuchcan7: (no such interface|this kernel has no CAN support)"

vcan_exists "$VCAN_IF" || skip "no $VCAN_IF here"

write_conf notcan lo ""
expect_69 notcan "lo: not a CAN interface"

write_conf bitrate "$VCAN_IF" "bitrate = 500000"
expect_69 bitrate "$VCAN_IF: not a hardware CAN interface"

# --- down at start: waits, then listens once it is up
need_net_admin "interface down at start"
write_conf down "$VCAN_IF" ""
vcan_down "$VCAN_IF"
at_exit vcan_up "$VCAN_IF"
bg_start daemon "$daemon" -c "$TEST_TMP/down.conf"
log=$(bg_log daemon)
wait_for_line "$log" "$VCAN_IF: interface is down; waiting for it to come up"
wait_for_line "$log" "ready: pistol 1 on $VCAN_IF"
bg_running daemon || fail "the daemon exited while the interface was down"
vcan_up "$VCAN_IF"
wait_for_line "$log" "$VCAN_IF: back to normal after"
rc=0
bg_stop daemon || rc=$?
assert_eq 0 "$rc" "exit status after SIGTERM"
