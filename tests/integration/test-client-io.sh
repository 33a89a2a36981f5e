#!/usr/bin/env bash
# The controller's I/O on vcan, interface version 3 (database v3.6) with the
# simulated converter: [controller_io] board = adm-cs-secc, safe_on =
# output4.
#  - the outputs frame (ADM_CS_SECC_Outputs) carries the safe state from the
#    start, then what `seccbridgectl output` sets, at once and every
#    1000 ms after, and the safe state again when the daemon stops;
#  - ADM inputs and the CP line state sent with cansend appear on D-Bus
#    (properties, watch lines), a short ADM frame is counted as malformed
#    I/O and changes nothing;
#  - refusals: an output the board does not have, a digital value of 2.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_begin "$@"
# shellcheck source-path=SCRIPTDIR source=test-dbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/test-dbus-lib.sh"
need_build src/seccbridge src/seccsim/seccsim
need_cmd candump cansend python3
vcan_is_up "$VCAN_IF" || fail "$VCAN_IF is not up"
SECCSIM=$BUILD_DIR/src/seccsim/seccsim

dbus_setup
dbus_bus_start
dbus_daemon_conf "[can]" "interface_version = 3" "[controller_io]" "board = adm-cs-secc" "safe_on = output4"
# (a second [can] header goes on with that section)

candump_start bus "$VCAN_IF"
dbus_daemon_start
bg_start watch "$CTL" --address "$DBUS_ADDR" watch
wait_for_line "$(bg_log watch)" "watching org.seccbridge.pistol1"
assert_eq adm-cs-secc "$(prop OutputsBoard)" "OutputsBoard"
assert_eq yes "$(prop Output4)" "Output4 (safe state)"
assert_eq no "$(prop Output1)" "Output1 (safe state)"

# ---- outputs set over D-Bus
sleep 1.2
# Each change goes out while the daemon handles the call: between the
# start of seccbridgectl and its return.
t_set0=$EPOCHREALTIME
expect_ctl 0 output output1 on
t_set1=$EPOCHREALTIME
assert_file_has "$TEST_TMP/ctl.out" "output1 set to 1" "output"
sleep 0.3
t_led0=$EPOCHREALTIME
expect_ctl 0 output led2 50
t_led1=$EPOCHREALTIME
expect_ctl 1 output output1 2
assert_file_has "$TEST_TMP/ctl.err" "output1 is a digital output: 0 \\(off\\) or 1 \\(on\\), not 2" "output1 2"
expect_ctl 1 output output5 on
assert_file_has "$TEST_TMP/ctl.err" "'output5' is not an output" "output5"
expect_ctl 2 output led2 bright
assert_eq yes "$(prop Output1)" "Output1"
assert_eq 50 "$(prop Led2)" "Led2"
wait_for_line "$(bg_log watch)" " Output1=yes" 5
wait_for_line "$(bg_log watch)" " Led2=50" 5
sleep 3.3

# ---- inputs and the CP line with cansend (v3.6 identifiers, pistol 1)
# ADM_CS_SECC_Inputs: Digital_Input2 and 4, CPU 31 degC, PTC1 50, PTC2 20.
cansend "$VCAN_IF" 0106B201#0A00000000475A3C
# CCS_Extra_Information: CP state B (9), duty 5.3 %.
cansend "$VCAN_IF" 0106B203#0935000000000000
wait_prop SECCInputs yes 5
assert_eq yes "$(prop SECCDigitalInput2)" "SECCDigitalInput2"
assert_eq no "$(prop SECCDigitalInput1)" "SECCDigitalInput1"
assert_eq yes "$(prop SECCDigitalInput4)" "SECCDigitalInput4"
assert_eq 31 "$(prop SECCCPUTemperature)" "SECCCPUTemperature"
assert_eq 50 "$(prop SECCPistolPTC1)" "SECCPistolPTC1"
assert_eq 20 "$(prop SECCPistolPTC2)" "SECCPistolPTC2"
assert_eq n/a "$(prop SPCCCPUTemperature0)" "SPCCCPUTemperature0 (never sent)"
wait_prop CPState B 5
assert_eq 5.3 "$(prop CPDutyCycle)" "CPDutyCycle"
wait_for_line "$(bg_log watch)" " SECCDigitalInput2=yes" 5
wait_for_line "$(bg_log watch)" " CPState=B" 5
expect_ctl 0 status
assert_file_has "$TEST_TMP/ctl.out" "^controller io ADM-CS-SECC inputs 0 1 0 1; CPU 31, PTC1 50, PTC2 20 degC$" "status"
assert_file_has "$TEST_TMP/ctl.out" "^controller io CP state B, duty cycle 5.3 %$" "status"
assert_file_has "$TEST_TMP/ctl.out" "^outputs +adm-cs-secc: outputs 1 0 0 1; LEDs 0 50 0$" "status"

# ---- a short ADM frame: malformed, counted, nothing changes
cansend "$VCAN_IF" 0106B201#01
wait_prop FramesMalformedIO 1 5
assert_eq 1 "$(prop FramesMalformed)" "FramesMalformed"
assert_eq no "$(prop SECCDigitalInput1)" "SECCDigitalInput1 after the short frame"

# ---- stop: the safe state goes out last
t_stop=$EPOCHREALTIME
bg_stop daemon TERM
bg_stop watch INT || true
candump_stop bus
paste -d ' ' <(sed -E 's/^\(([0-9]+\.[0-9]+)\).*/\1/' "$(bg_log bus)") \
        <("$SECCSIM" decode --pistol 1 --interface-version 3 <"$(bg_log bus)") >"$TEST_TMP/decoded"
python3 - "$TEST_TMP/decoded" "$t_set0" "$t_set1" "$t_led0" "$t_led1" "$t_stop" <<'PY' || fail "the outputs frames on the bus"
import sys
t_set0, t_set1, t_led0, t_led1, t_stop = map(float, sys.argv[2:7])
out = []
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) > 2 and p[1] == "ADM_CS_SECC_Outputs":
        out.append((float(p[0]), dict(s.split("=", 1) for s in p[3:])))
if len(out) < 6:
    sys.exit("only %d outputs frames" % len(out))
def bits(sig):
    return "".join(sig["Digital_Output%d" % i] for i in range(1, 5)) + " %s %s %s" % (
        sig["Led1"], sig["Led2"], sig["Led3"])
errors = []
# The safe state first: output4 only.
if bits(out[0][1]) != "0001 0 0 0":
    errors.append("first frame %s, the safe state is 0001 0 0 0" % bits(out[0][1]))
# Each change at once, during its call (candump's clock, 50 ms of slack).
for what, pattern, t0, t1 in (("output1 on", "1001 0 0 0", t_set0, t_set1),
                              ("led2 50", "1001 0 50 0", t_led0, t_led1)):
    first = [t for t, s in out if bits(s) == pattern]
    if not first or not t0 - 0.05 <= first[0] <= t1 + 0.05:
        errors.append("%s: first frame at %s, the call ran from %.3f to %.3f" % (
            what, "%.3f" % first[0] if first else "never", t0, t1))
# At the database's period while nothing changes (before the first change,
# and after the last one).
after = [t for t, s in out if bits(s) == "1001 0 50 0"]
if len(after) < 3:
    errors.append("%d frames with output1 on and led2 at 50" % len(after))
# Never early; typically 1.0 s; late only by what an emulated machine's
# stall takes (the daemon's timer fires late, the next period counts from
# the frame).
def periods(what, times):
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    if gaps and (gaps[0] < 0.9 or gaps[-1] > 1.6 or not 0.97 <= gaps[len(gaps) // 2] <= 1.05):
        errors.append("periods %s %s: expected 1.0 s (never below 0.9, median 0.97..1.05, at most 1.6)" % (
            what, ["%.3f" % g for g in gaps]))
periods("after the changes", after)
periods("before the changes", [t for t, s in out if t < t_set0])
# The safe state last, at the stop.
if bits(out[-1][1]) != "0001 0 0 0" or out[-1][0] < t_stop - 0.5:
    errors.append("last frame %s at %.3f (stop at %.3f)" % (bits(out[-1][1]), out[-1][0], t_stop))
print("\n".join(errors) or "%d outputs frames: safe state, change, %d at 1 s, safe state" % (len(out), len(after)))
sys.exit(1 if errors else 0)
PY
assert_file_has "$(bg_log daemon)" "operator \\(:[0-9.]+\\): adm-cs-secc output1 1" "daemon log"
assert_file_has "$(bg_log daemon)" "malformed I/O 1(,|$)" "daemon log counters"
