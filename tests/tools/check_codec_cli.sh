#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Command-line behaviour of `seccsim encode` / `seccsim decode`: exit codes
# and error texts, output that scripts rely on, and a decoder that never
# stops on bad input.  Needs only the binary.
#
# Usage: check_codec_cli.sh SECCSIM

set -u
LC_ALL=C
export LC_ALL

SECCSIM=${1:?usage: check_codec_cli.sh SECCSIM}
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
failures=0
checks=0

fail() {
        failures=$((failures + 1))
        printf 'FAIL: %s\n' "$*"
}

# expect_ok "FRAME" encode ARGS...
expect_frame() {
        want=$1
        shift
        checks=$((checks + 1))
        got=$("$SECCSIM" "$@" 2>"$TMP/err")
        rc=$?
        if [ "$rc" -ne 0 ] || [ "$got" != "$want" ]; then
                fail "seccsim $*: rc=$rc out='$got' err='$(cat "$TMP/err")', want '$want'"
        fi
}

# expect_error "TEXT" ARGS...: exit 2, nothing on stdout, one stderr line
# containing TEXT.
expect_error() {
        text=$1
        shift
        checks=$((checks + 1))
        "$SECCSIM" "$@" >"$TMP/out" 2>"$TMP/err"
        rc=$?
        if [ "$rc" -ne 2 ]; then
                fail "seccsim $*: exit $rc, want 2"
        elif [ -s "$TMP/out" ]; then
                fail "seccsim $*: wrote to stdout: $(cat "$TMP/out")"
        elif ! grep -qF -- "$text" "$TMP/err"; then
                fail "seccsim $*: stderr '$(cat "$TMP/err")' lacks '$text'"
        fi
}

# ---- encode ----

expect_frame "01068009#07" encode Advantics_Controller_Status State=Charging
expect_frame "01068009#07" encode Advantics_Controller_Status State=7
expect_frame "1F068009#0D" encode --pistol 31 Advantics_Controller_Status State=Charge_Pause
expect_frame "05068009#0D" encode --pistol=5 Advantics_Controller_Status State=Charge_Pause
expect_frame "05068009#0D" encode Advantics_Controller_Status pistol=5 State=Charge_Pause
expect_frame "01060010#A00FE504554601FF" encode Power_Modules_Status Present_Voltage=400.0 \
        Present_Current=125.3 Power_Modules_Temperature=45 Enclosure_Temperature=30 \
        System_Enable=Allowed Insulation_Resistance=510
expect_frame "01060010#0000F1FF28280000" encode Power_Modules_Status Present_Current=-1.5 \
        Power_Modules_Temperature=0 Enclosure_Temperature=0
expect_frame "01068005#9411D00737" encode Charging_Loop Target_Voltage=450 \
        Target_Current=200 State_of_Charge=55
expect_frame "01068005#0000000000" encode Charging_Loop
expect_frame "01068005#000085FF00" encode Charging_Loop Target_Current=-12.3
expect_frame "01060012#010701" encode Sequence_Control Start_Charge_Authorisation=Allowed \
        CCS_Authorisation_Done=Done CCS_Authorisation_Valid=Valid Charge_Parameters_Done=Done \
        User_Stop_Button=Pressed
expect_frame "01068001#0004000000000000" encode New_Charge_Session Plug_and_pins=MCS \
        Communication_Protocol=CCS_DIN_70121_2012_v2
expect_frame "01068001#0300000000000000" encode New_Charge_Session Communication_Protocol=CHAdeMO_v0.9
expect_frame "0106800E#09F4010000000000" encode CCS_Extra_Information CP_State=B CP_Duty_Cycle=50.0

# Rounded to the resolution: a note on stderr, the frame on stdout.
checks=$((checks + 1))
got=$("$SECCSIM" encode New_Charge_Session Battery_Capacity=81 2>"$TMP/err")
if [ "$got" != "01068001#0000000000002900" ] || ! grep -q "note: .*Battery_Capacity=81 sent as 82" "$TMP/err"; then
        fail "rounding note: out='$got' err='$(cat "$TMP/err")'"
fi

expect_error "unknown message 'Charging_Lop'" encode Charging_Lop
expect_error "Charging_Loop has no signal 'Target_Volts'" encode Charging_Loop Target_Volts=1
expect_error "Charging_Loop.State_of_Charge=101 is out of range (allowed: 0 .. 100 %)" \
        encode Charging_Loop State_of_Charge=101
expect_error "Charging_Loop.Target_Voltage=6553.6 is out of range (allowed: 0.0 .. 6553.5 Volts)" \
        encode Charging_Loop Target_Voltage=6553.6
expect_error "Charging_Loop.Target_Current=-3276.9 is out of range (allowed: -3276.8 .. 3276.7 Amps)" \
        encode Charging_Loop Target_Current=-3276.9
expect_error "Power_Modules_Status.Power_Modules_Temperature=-41 is out of range (allowed: -40 .. 215" \
        encode Power_Modules_Status Power_Modules_Temperature=-41
expect_error "Charging_Loop.Target_Voltage: 'abc' is not a number" encode Charging_Loop Target_Voltage=abc
expect_error "Charging_Loop.Target_Voltage: '1e3' is not a number" encode Charging_Loop Target_Voltage=1e3
expect_error "Charging_Loop.Target_Voltage: '' is not a number" encode Charging_Loop Target_Voltage=
expect_error "Advantics_Controller_Status.State: 'charging' is not a number or a label" \
        encode Advantics_Controller_Status State=charging
expect_error "Power_Modules_Limits.Reserved is reserved" encode Power_Modules_Limits Reserved=0
expect_error "expected SIGNAL=VALUE" encode Charging_Loop Target_Voltage
expect_error "Charging_Loop.Target_Voltage given twice" encode Charging_Loop Target_Voltage=1 Target_Voltage=2
expect_error "invalid pistol '0' (allowed: 1 .. 31)" encode --pistol 0 Charging_Loop
expect_error "invalid pistol '32'" encode --pistol 32 Charging_Loop
expect_error "invalid pistol 'x'" encode Charging_Loop pistol=x
expect_error "missing MESSAGE" encode
expect_error "unknown option '--bogus'" encode --bogus
expect_error "invalid pistol '0'" decode --pistol 0
expect_error "unexpected argument 'extra'" decode extra

for cmd in encode decode; do
        checks=$((checks + 1))
        "$SECCSIM" $cmd --help >"$TMP/out" 2>&1 && grep -q "Usage: seccsim $cmd" "$TMP/out" ||
                fail "$cmd --help"
done

checks=$((checks + 1))
"$SECCSIM" encode --list >"$TMP/out" && [ "$(grep -c '^[A-Z].* 0x6' "$TMP/out")" -eq 19 ] ||
        fail "encode --list does not list 19 messages"
checks=$((checks + 1))
"$SECCSIM" encode --list Sequence_Control >"$TMP/out" &&
        grep -q 'User_Stop_Button .*bits 16 .*0=Not_Pressed 1=Pressed' "$TMP/out" ||
        fail "encode --list Sequence_Control: $(cat "$TMP/out")"

# ---- interface version 3 (database v3.6) ----

# The appendix frames of v3.6.
expect_frame "0106B003#88130000000042" encode --interface-version 3 DC_Power_Control \
        Target_Voltage=500 Power_Function=Insulation_Test Output_Contactors=Close
expect_frame "0106B003#401FDC0518FC68" encode --interface-version=3 DC_Power_Control Target_Voltage=800 \
        Current_Range_Max=150 Current_Range_Min=-100 Power_Function=Power_Transfer \
        Setpoints_Mode=Range_Mode Output_Contactors=Close
expect_frame "0106B003#00000000000081" encode DC_Power_Control Power_Function=Standby \
        Lower_Output_Voltage=Lowering --interface-version 3
expect_frame "0106B001#0704" encode --interface-version 3 New_Charge_Session \
        Communication_Protocol=CCS_ISO_15118_2022 Plug_and_pins=MCS
expect_frame "01063001#1027B80BE80338FF" encode --interface-version 3 DC_Power_Parameters \
        Maximum_Voltage=1000 Maximum_Charge_Current=300 Maximum_Discharge_Current=100 Range_Target_Current=-20
expect_frame "0106B300#C0FE" encode --interface-version 3 OCPP_Control Dynamic_Target_Current=-32
expect_frame "0106B000#07" encode --interface-version 3 Advantics_Controller_Status State=Charging
expect_frame "01068009#07" encode --interface-version 2 Advantics_Controller_Status State=Charging
expect_error "unknown message 'Charging_Loop' in database v3.6" encode --interface-version 3 Charging_Loop
expect_error "unknown message 'DC_Power_Control' in database v2.7" encode DC_Power_Control
expect_error "invalid interface version '4' (allowed: 2, 3)" encode --interface-version 4 Charging_Loop
expect_error "invalid interface version '' (allowed: 2, 3)" encode --interface-version
expect_error "invalid interface version '2.7'" decode --interface-version 2.7
expect_error "DC_Power_Control.Power_Function=16 is out of range (allowed: 0 .. 15" \
        encode --interface-version 3 DC_Power_Control Power_Function=16
checks=$((checks + 1))
"$SECCSIM" encode --interface-version 3 --list >"$TMP/out" && [ "$(grep -c '^[A-Z].* 0x6' "$TMP/out")" -eq 23 ] &&
        grep -q 'Database v3.6' "$TMP/out" || fail "encode --interface-version 3 --list does not list 23 messages"
checks=$((checks + 1))
got=$(printf '0106B003#94116400640048\n01068005#9411F40128\n0106B003#00000000000041\n' |
        "$SECCSIM" decode --interface-version 3)
want=$(printf '%s\n%s\n%s' \
        "DC_Power_Control pistol=1 Target_Voltage=450.0 Current_Range_Max=10.0 Current_Range_Min=10.0 Power_Function=Power_Transfer Setpoints_Mode=Target_Mode Output_Contactors=Close Lower_Output_Voltage=No_Lowering" \
        "unknown 01068005#9411F40128" \
        "DC_Power_Control pistol=1 Target_Voltage=0.0 Current_Range_Max=0.0 Current_Range_Min=0.0 Power_Function=Standby Setpoints_Mode=Target_Mode Output_Contactors=Close Lower_Output_Voltage=No_Lowering")
[ "$got" = "$want" ] || fail "decode --interface-version 3: '$got'"
# A v3 frame is unknown to the default database, and an undefined
# Power_Function prints as its number (V25).
checks=$((checks + 1))
got=$(printf '0106B003#00000000000043\n' | "$SECCSIM" decode --interface-version 3)
[ "$got" = "DC_Power_Control pistol=1 Target_Voltage=0.0 Current_Range_Max=0.0 Current_Range_Min=0.0 Power_Function=3 Setpoints_Mode=Target_Mode Output_Contactors=Close Lower_Output_Voltage=No_Lowering" ] ||
        fail "decode of Power_Function 3: '$got'"
checks=$((checks + 1))
got=$(printf '0106B003#00000000000043\n' | "$SECCSIM" decode)
[ "$got" = "unknown 0106B003#00000000000043" ] || fail "v3 frame with the default database: '$got'"

# ---- decode: never stops, one line out per line in ----

{
        printf '(1700000000.000000) vcan0 01068009#07\n'
        printf 'this is not a frame\n'
        printf '\n'
        printf '\001\002\377 binary junk\n'
        printf '01068009#07\000\n'       # a NUL must not cut the line short
        head -c 100000 /dev/zero | tr '\0' 'x'
        printf '\n'
        printf '01068005#9411\n'
        printf '123#0102\n'
        printf '01999999#00\n'
        printf '  vcan0  01060010   [8]  A0 0F E5 04 55 46 01 FF\n'
        printf '01068009#07\r\n'
        printf '01068009#0E'            # no newline at the end
} >"$TMP/in"
"$SECCSIM" decode <"$TMP/in" >"$TMP/out" 2>"$TMP/err"
rc=$?
checks=$((checks + 1))
[ "$rc" -eq 0 ] || fail "decode exit $rc on bad input"
cat >"$TMP/want" <<'EOF'
Advantics_Controller_Status pistol=1 State=Charging
invalid
invalid
invalid
invalid
malformed Charging_Loop 01068005#9411
unknown 123#0102
unknown 01999999#00
Power_Modules_Status pistol=1 Present_Voltage=400.0 Present_Current=125.3 Power_Modules_Temperature=45 Enclosure_Temperature=30 System_Enable=Allowed Insulation_Resistance=510
Advantics_Controller_Status pistol=1 State=Charging
Advantics_Controller_Status pistol=1 State=14
EOF
# "invalid" lines echo the input (binary, 100000 characters): compare the
# verdict only.
sed -e 's/^invalid .*/invalid/' "$TMP/out" >"$TMP/got"
checks=$((checks + 1))
if ! cmp -s "$TMP/got" "$TMP/want"; then
        fail "decode of mixed input differs:"
        diff "$TMP/want" "$TMP/got" | head -20
fi
checks=$((checks + 1))
grep -q '^invalid this is not a frame$' "$TMP/out" || fail "invalid line not echoed"
checks=$((checks + 1))
grep -q '^invalid 01068009#07?$' "$TMP/out" || fail "line with a NUL byte not reported"

# Output is flushed per line: a reader sees the answer before EOF.
checks=$((checks + 1))
mkfifo "$TMP/fifo"
("$SECCSIM" decode <"$TMP/fifo" >"$TMP/live" 2>&1 &)
exec 3>"$TMP/fifo"
printf '01068009#07\n' >&3
seen=no
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        if grep -q 'State=Charging' "$TMP/live" 2>/dev/null; then
                seen=yes
                break
        fi
        sleep 0.1
done
exec 3>&-
[ "$seen" = yes ] || fail "decode did not flush its line before EOF"

# --pistol filter.
checks=$((checks + 1))
got=$(printf '02068009#07\n03068009#07\n' | "$SECCSIM" decode --pistol 3)
want=$(printf 'foreign 02068009#07\nAdvantics_Controller_Status pistol=3 State=Charging')
[ "$got" = "$want" ] || fail "decode --pistol 3: '$got'"

# encode | decode round trip, and decode | encode back.
checks=$((checks + 1))
frame=$("$SECCSIM" encode --pistol 9 ADM_CS_SPCC_Inputs Digital_Input3=1 CPU_Temperature0=-12 PT1KS_D=215)
line=$(printf '%s\n' "$frame" | "$SECCSIM" decode)
# shellcheck disable=SC2086
again=$("$SECCSIM" encode $line)
[ "$line" = "ADM_CS_SPCC_Inputs pistol=9 Digital_Input1=0 Digital_Input2=0 Digital_Input3=1 Digital_Input4=0 CPU_Temperature0=-12 CPU_Temperature1=-40 PT1K_A=-40 PT1K_B=-40 PT1KS_C=-40 PT1KS_D=215" ] &&
        [ "$again" = "$frame" ] || fail "round trip: '$frame' -> '$line' -> '$again'"

printf '%d checks, %d failed\n' "$checks" "$failures"
[ "$failures" -eq 0 ]
