#!/usr/bin/env bash
# Two pistols sharing one converter, on a private system bus
# (test-dbus-lib.sh): each pistol keeps its own name (seccbridgectl --pistol
# N as with one process per pistol), org.seccbridge serves both pistols'
# objects and the arbiter's view (org.seccbridge.Sharing1): while pistol 1
# charges it owns the converter and pistol 2 is held.
# shellcheck source-path=SCRIPTDIR source=test-dbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-dbus-lib.sh"
test_begin "$@"
need_cmd busctl
need_build src/seccsim/seccsim
dbus_bus_start
D_CONF=$TEST_TMP/seccbridge.conf
{
        printf '[can]\ninterface = %s\n' "$VCAN_IF"
        printf '[limits]\nmax_voltage = 1000\nmax_current = 200\nmax_power = 100000\n'
        printf '[dbus]\naddress = %s\n' "$DBUS_ADDR"
        printf '[sim]\nmax_current_a = 250\nmax_power_kw = 150\n'
        printf '[pistol ccs]\npistol_index = 1\n[pistol chademo]\npistol_index = 2\n'
} >"$D_CONF"
bg_start daemon "$BUILD_DIR/src/seccbridge" -c "$D_CONF"
wait_for_line "$(bg_log daemon)" "ready: 2 pistols" 20
two_owned() { ctl list 2>/dev/null | grep -q "^pistol 1 " && ctl list 2>/dev/null | grep -q "^pistol 2 "; }
calm_until 20 two_owned || { show_file "$(bg_log daemon)"; fail "the pistols' names were not taken"; }
wait_for_line "$(bg_log daemon)" "org.seccbridge: every pistol's object" 20

sharing() {
        busctl --address="$DBUS_ADDR" get-property org.seccbridge /org/seccbridge/sharing org.seccbridge.Sharing1 "$1"
}
assert_eq 's "first-come"' "$(sharing Policy)" "Policy"
# Under the one name: both pistols' objects.
assert_eq "y 2" "$(busctl --address="$DBUS_ADDR" get-property org.seccbridge /org/seccbridge/pistol/2 \
        org.seccbridge.Bridge1 Pistol)" "pistol 2's object under org.seccbridge"
assert_eq 2 "$(ctl --pistol 2 get Pistol)" "seccbridgectl --pistol 2"

"${CONTROLLER_NICE[@]}" "$BUILD_DIR/src/seccsim/seccsim" session -i "$VCAN_IF" -p 1 --other-pistol 2 --sequence-flags \
        --charge-time 8 --print-interval 500 >"$TEST_TMP/p1.out" 2>&1 &
p1=$!
wait_for_line "$TEST_TMP/p1.out" "state Charging \\(7\\)" 60
conv=$(sharing Converters)
pist=$(sharing Pistols)
note "Converters: $conv"
note "Pistols: $pist"
assert_match '^a\(ssyyb\) 1 "" "owned" 1 0 true$' "$conv" "the converter owned by pistol 1"
assert_match '^a\(ysbbb\) 2 1 "" true false false 2 "" false true false$' "$pist" "pistol 1 owner, pistol 2 held"
assert_eq no "$(ctl --pistol 2 get SystemEnable)" "pistol 2 not enabled"
rc=0
wait "$p1" || rc=$?
[ "$rc" = 0 ] || { show_file "$TEST_TMP/p1.out"; fail "seccsim for pistol 1 exited with $rc"; }
bg_stop daemon TERM || fail "the daemon did not stop cleanly"
