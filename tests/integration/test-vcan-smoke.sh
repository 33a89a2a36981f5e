#!/usr/bin/env bash
# The integration harness itself, with real parts: candump -L captures what
# cansend sends on the vcan interface, standard and extended identifiers
# round-trip through a capture and canplayer, and the interface can be set
# down and up again (the daemon's tests need that).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
need_cmd ip candump cansend canplayer

vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"

# --- candump -L captures what cansend sends
candump_start first
cansend "$VCAN_IF" 01068009#07
cansend "$VCAN_IF" 123#DEADBEEF
cansend "$VCAN_IF" 1FFFFFFF#0011223344556677
cansend "$VCAN_IF" 00000123#AA
cansend "$VCAN_IF" 7FF#
first=$(bg_log first)
wait_for_line "$first" " $VCAN_IF 7FF#\$"
candump_stop first

assert_file_has "$first" "^\\([0-9]+\\.[0-9]{6}\\) $VCAN_IF 01068009#07\$" "capture"
cat >"$TEST_TMP/expected" <<EOF
$VCAN_IF 01068009#07
$VCAN_IF 123#DEADBEEF
$VCAN_IF 1FFFFFFF#0011223344556677
$VCAN_IF 00000123#AA
$VCAN_IF 7FF#
EOF
frames "$first" >"$TEST_TMP/got"
diff -u "$TEST_TMP/expected" "$TEST_TMP/got" >&2 \
        || fail "candump did not capture exactly the frames sent"

# Timestamps: this machine's wall clock, in order.
stamps=$(sed -E 's/^\(([0-9]+)\.([0-9]+)\).*/\1\2/' "$first")
sorted=$(sort -n <<<"$stamps")
assert_eq "$sorted" "$stamps" "capture timestamps in order"
first_s=$(sed -nE '1s/^\(([0-9]+)\..*/\1/p' "$first")
now=$(date +%s)
skew=$(( now > first_s ? now - first_s : first_s - now ))
[ "$skew" -le 60 ] || fail "capture timestamp $first_s is $skew s away from the clock ($now)"

# --- the capture replays to the same frames: the 29-bit identifiers stay
# extended (00000123 is not 123) and the data survive
candump_start second
canplayer -t -I "$first"
second=$(bg_log second)
wait_for_line "$second" " $VCAN_IF 7FF#\$"
candump_stop second
frames "$second" >"$TEST_TMP/replayed"
diff -u "$TEST_TMP/expected" "$TEST_TMP/replayed" >&2 \
        || fail "replayed frames differ from the captured ones"

# --- down and up again
if [ "$(id -u)" -ne 0 ]; then
        note "not root: interface down/up not checked"
        exit 0
fi
vcan_down "$VCAN_IF"
if vcan_is_up "$VCAN_IF"; then
        fail "$VCAN_IF still up after ip link set down"
fi
if cansend "$VCAN_IF" 01068009#07 2>"$TEST_TMP/down.err"; then
        fail "cansend succeeded on $VCAN_IF while it was down"
fi
assert_file_has "$TEST_TMP/down.err" "Network is down" "cansend on a down interface"
vcan_up "$VCAN_IF"
vcan_is_up "$VCAN_IF" || fail "$VCAN_IF not up after ip link set up"

candump_start third
cansend "$VCAN_IF" 01068009#07
third=$(bg_log third)
wait_for_line "$third" " $VCAN_IF 01068009#07\$"
candump_stop third
assert_eq 1 "$(count_lines "$third" .)" "frames captured after up"
