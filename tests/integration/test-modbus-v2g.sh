#!/usr/bin/env bash
# Interface version 3, a bidirectional charger on Modbus TCP (part D.4): the
# test converter with its sink registers (generic-bidirectional profile),
# seccsim playing an ISO 15118-20 BPT session (charge, discharge, charge
# again): the sink ratings read at connect, the discharge written as a
# magnitude to set_sink_current with set_current at 0, the direction changed
# only at 0 A, and the converter off at the end.
# shellcheck source-path=SCRIPTDIR source=modbus-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/modbus-lib.sh"
test_begin "$@"
S_INTERFACE_VERSION=3
MB_PROFILE=$SECCBRIDGE_ROOT/conf/profiles/generic-bidirectional.conf
MB_SERVER_ARGS=(--bidirectional)
mb_setup tcp "[can]" "interface_version = 3" "[limits]" "max_discharge_current = 50" \
        "max_discharge_power = 20000" "[v3]" "bidirectional = true"

mb_session_run v2g -- --protocol ccs --discharge --discharge-current 30 --charge-time 9 --ccs-gap 0 \
        --profile 40,40,20 --charger-power $(( MB_MAX_P / 1000 ))
expect_verdict 0
expect_daemon_clean
assert_file_has "$S_DLOG" "Generic bidirectional Modbus DC converter, rated 500 V / 100 A / 30000 W / 100 A sink / 30000 W sink" "sink ratings read at connect"
assert_file_lacks "$S_DLOG" "modbus: .*(lost|timed out|refused|failed)" "Modbus errors in a healthy session"
assert_file_has "$S_DEC" "DC_Power_Parameters pistol=1 .*Maximum_Discharge_Current=50.0 " "the discharge limit announced"
assert_file_has "$S_DEC" "Power_Modules_Status pistol=1 Present_Voltage=[0-9.]+ Present_Current=-(2[6-9]|3[0-4])\\.[0-9] " "30 A out of the EV"
assert_file_has "$S_OUT" "discharge: peak (2[6-9]|3[0-4])\\.[0-9] A out of the EV \\(limit announced 50.0 A\\), [0-9.]+ kWh out; 2 reversals" "seccsim's summary"

# The server's view: set_current (holding 1) at 0 before the sink setpoint
# (holding 2) rises to 30 A, and back: the sink at 0 before set_current
# rises again.
seq=$(awk '$2 == "modbus" && $3 == "fc=6" && ($4 == "addr=1" || $4 == "addr=2") {
                split($6, v, "="); print substr($4, 6) ":" v[2] }' "$MB_SLOG" | uniq | tr '\n' ' ')
note "setpoint writes (register:value): $seq"
awk -v s="$seq" 'BEGIN {
        n = split(s, w, " "); i1 = 0; i2 = 0
        for (k = 1; k <= n; k++) {
                split(w[k], rv, ":")
                if (rv[1] == 1) i1 = rv[2] + 0; else i2 = rv[2] + 0
                if (i1 > 0 && i2 > 0) { print "both setpoints non-zero after " w[k]; exit 1 }
        }
        if (s !~ /2:300/) { print "no 30 A sink setpoint"; exit 1 } }' \
        || fail "the source and sink setpoints: $seq"
assert_eq 2 "$(daemon_counter "direction changes")" "daemon's direction changes"
mb_finish
