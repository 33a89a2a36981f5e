/* SPDX-License-Identifier: MIT */
/*
 * `seccsim session`: plays the ADVANTICS charge controller on a CAN
 * interface through a whole charge session, at the real rates, and checks
 * the power side's answers the way the controller would (PROTOCOL.md part C).
 * This file, the driver on top of the others (controller_state.h): options,
 * the event loop (received frames to the checks), the summary and the exit
 * code.
 *
 * Exit codes: 0 the session (and any injected fault) went as the protocol
 * wants; 1 a check failed, the reason is printed (after a clean-up:
 * requests stopped, Charge_Session_Finished(Rushed_Stop)); 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "controller_can.h"
#include "controller_check.h"
#include "controller_flow.h"
#include "controller_report.h"
#include "frame_text.h"
#include "seccsim.h"

/* ---- options ---- */

static void usage(FILE *out)
{
        fputs("Usage: seccsim session -i IFACE [OPTIONS]\n"
              "\n"
              "Play the ADVANTICS charge controller through a whole charge session on a\n"
              "CAN interface and check the power side's answers.  Durations take an\n"
              "optional unit, 'ms' or 's' (a bare number is in the unit shown).\n"
              "\n"
              "Session:\n"
              "  -i, --interface IFACE       CAN interface (required)\n"
              "  -p, --pistol N              pistol index 1..31 (1)\n"
              "      --interface-version 2|3 play a v2 controller (database v2.7) or a\n"
              "                              v3 one (database v3.6, DC_Power_Control) (2)\n"
              "      --protocol ccs|chademo  charging protocol (ccs)\n"
              "      --ev-protocol NAME|N    New_Charge_Session.Communication_Protocol\n"
              "                              (CCS_ISO_15118_2013_v2 / CHAdeMO_v1.0-v1.1-v1.2)\n"
              "      --plug NAME|N           Plug_and_pins (CCS_DC_Core / CHAdeMO)\n"
              "      --ev-max-voltage V      (500)     --ev-max-current A  (200)\n"
              "      --capacity KWH          (60)      --soc PCT           (30)\n"
              "      --test-voltage V        Insulation_Test voltage (500)\n"
              "      --battery-voltage V     battery, Precharge target (400)\n"
              "      --precharge-current A   Precharge.Maximum_Current (2)\n"
              "      --charge-voltage V      Charging_Loop voltage (battery + 50)\n"
              "      --profile A,B,C         ramp to A, step to B, end at C (100,150,50)\n"
              "      --charge-time S         time in Charging (20)\n"
              "      --loop-period MS        CCS Charging_Loop pace (250; CHAdeMO: 100)\n"
              "      --ccs-gap MS            one pause of the CCS loop (3000; 0 = none)\n"
              "      --sequence-flags        wait for Sequence_Control flags (R9, R13)\n"
              "      --external-auth         CCS: CCS_Authorisation_Process (R11)\n"
              "      --supervisor            the controller's own modules do the power: no\n"
              "                              power requests, EV_ID sent, and no\n"
              "                              Power_Modules_Status or limits accepted\n"
              "      --ev-id XX:XX:XX:XX:XX:XX  send EV_ID_CCS_Part2_DIN (with --supervisor:\n"
              "                              02:00:00:00:00:01 unless given)\n"
              "      --no-welding            skip Welding_Detection\n"
              "      --init-time MS (500)  --idle-time MS (1000)  --negotiate-time MS (1000)\n"
              "      --wait-charge-time MS (500)  --welding-time MS (1000)\n"
              "      --cooldown MS (2000)  --after-time MS (500)\n"
              "\n", out);
        /* Two strings: C99 compilers need only take 4095 characters. */
        fputs("Bounded waits (failure when exceeded):\n"
              "      --auth-timeout S (20)  --enable-timeout S (20)\n"
              "      --insulation-timeout S (30)  --discharge-timeout S (10)\n"
              "      --precharge-timeout S (10)  --end-timeout S (5)  --unlock-timeout S (10)\n"
              "      --insulation-iterations N   good iterations to pass (10)\n"
              "\n"
              "Checks:\n"
              "      --gap MS                largest Power_Modules_Status gap (300)\n"
              "      --limits-spacing MS     closest two Power_Modules_Limits or\n"
              "                              DC_Power_Parameters accepted (90; 0 = any)\n"
              "      --margin MS             measurement margin of reaction times (100)\n"
              "      --settle MS             current must follow after this (2000)\n"
              "      --current-tolerance A   follow tolerance (5)\n"
              "      --current-margin A      never above the request by more (5)\n"
              "      --off-current A         'off' means |current| at most this (1)\n"
              "      --voltage-tolerance V   (30)\n"
              "      --charger-power KW      the charger's power ceiling, if any\n",
              out);
        fputs("\n"
              "Bidirectional (v3, ISO 15118-20 BPT / CHAdeMO V2G):\n"
              "      --discharge             charge, discharge, charge again; checks the\n"
              "                              sign, the discharge limit and the reversals\n"
              "      --discharge-current A   the discharge asked for (40)\n"
              "      --setpoints-mode target|range  Target_Mode (the EV's target) or\n"
              "                              Range_Mode with OCPP_Control's target\n"
              "                              (CCS: target; CHAdeMO: range, B6)\n",
              out);
        fputs("\n"
              "Faults (exit 0 when the power side reacts correctly, 1 when not):\n"
              "      --fault heartbeat-stop[@STATE]  go silent (Charging)\n"
              "      --fault estop[@STATE]   Emergency_Stop from the EVSE (Charging)\n"
              "      --fault insulation      expect the insulation test to fail\n"
              "      --fault undefined-function  v3: an undefined Power_Function for 1 s\n"
              "                              while charging: no current, no fault (V25)\n"
              "      --fault-delay MS        time in STATE before the fault\n"
              "      --silence MS            heartbeat-stop duration (1000)\n"
              "      --estop-time MS         Emergency_Stop duration (1000)\n"
              "      --expect-shutdown[=STATE]  expect System_Enable = 0 in STATE (Charging)\n"
              "      --wrong-pistol[=N]      fake session of pistol N (next index)\n"
              "      --other-pistol N        pistol N is another session's, on the same\n"
              "                              power side: its frames are not checked\n"
              "                              (repeatable; two seccsim on one bus)\n"
              "      --malformed             short frames of our identifiers\n"
              "      --bus-load[=RATE]       foreign frames per second (3800)\n"
              "\n"
              "Output:\n"
              "  -v, --verbose               print every frame\n"
              "      --log FILE              the traffic in candump -L form\n"
              "      --print-interval MS     measurement lines (1000; 0 = none)\n"
              "  -h, --help                  this text\n"
              "\n"
              "Exit status: 0 session completed cleanly, 1 a check failed, 2 usage error.\n",
              out);
}

static int usage_error(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
        va_list ap;

        fputs("seccsim session: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry 'seccsim session --help'.\n", stderr);
        return -EINVAL;
}

/* A decimal number in [min, max]. */
static int parse_number(const char *opt, const char *s, double min, double max, double *out)
{
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !isfinite(v))
                return usage_error("%s: '%s' is not a number", opt, s);
        if (v < min || v > max)
                return usage_error("%s: %s is outside %g .. %g", opt, s, min, max);
        *out = v;
        return 0;
}

/* A physical value in 0.1 units (V -> dV, A -> dA). */
static int parse_deci(const char *opt, const char *s, double min, double max, uint16_t *out)
{
        double v = 0;
        int r = parse_number(opt, s, min, max, &v);

        if (r < 0)
                return r;
        *out = (uint16_t)lround(v * 10.0);
        return 0;
}

static int parse_uint(const char *opt, const char *s, unsigned long min, unsigned long max,
                      unsigned long *out)
{
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
                return usage_error("%s: '%s' is not a whole number", opt, s);
        if (v < min || v > max)
                return usage_error("%s: %s is outside %lu .. %lu", opt, s, min, max);
        *out = v;
        return 0;
}

/* A duration: a number with an optional unit "ms" or "s"; bare numbers are
 * in `unit_ms` milliseconds.  Result in ms, at most one day. */
static int parse_duration(const char *opt, const char *s, double unit_ms, uint32_t *out_ms)
{
        char *end;
        double v, ms;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || !isfinite(v) || v < 0)
                return usage_error("%s: '%s' is not a duration", opt, s);
        if (*end == '\0')
                ms = v * unit_ms;
        else if (strcmp(end, "ms") == 0)
                ms = v;
        else if (strcmp(end, "s") == 0)
                ms = v * 1000.0;
        else
                return usage_error("%s: '%s': unit must be ms or s", opt, s);
        if (ms > 86400000.0)
                return usage_error("%s: %s is too long", opt, s);
        *out_ms = (uint32_t)lround(ms);
        return 0;
}

/* "02:00:5E:10:00:01": the six bytes of EV_ID_CCS_Part2_DIN. */
static int parse_ev_id(const char *s, uint8_t out[6])
{
        unsigned b[6];
        char tail;

        if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6 ||
            strlen(s) != 17)
                return usage_error("--ev-id: '%s' is not six hexadecimal bytes (02:00:5E:10:00:01)", s);
        for (int i = 0; i < 6; i++)
                out[i] = (uint8_t)b[i];
        return 0;
}

/* A label of a New_Charge_Session signal's value table, or a number. */
static int parse_label(const char *opt, const char *signal, const char *s, uint8_t *out)
{
        const struct codec_msg_info *m = codec_msg_info(&codec_db_v2_7, CODEC_NEW_CHARGE_SESSION);
        const struct codec_signal_info *sig = codec_signal_by_name(m, signal);
        int64_t raw;
        bool rounded;

        if (!sig || frame_text_parse_value(sig, s, &raw, &rounded) < 0 || rounded)
                return usage_error("%s: '%s' is no %s (a label of its value table or 0..255)",
                                   opt, s, signal);
        *out = (uint8_t)raw;
        return 0;
}

/* A controller state by name (case-insensitive) or number. */
static int parse_state(const char *opt, const char *s, uint8_t *out)
{
        unsigned long v;
        char *end;

        for (unsigned st = 0; st <= CODEC_STATE_CHARGE_PAUSE; st++) {
                if (strcasecmp(s, codec_controller_state_name((uint8_t)st)) == 0) {
                        *out = (uint8_t)st;
                        return 0;
                }
        }
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno == 0 && end != s && *end == '\0' && v <= CODEC_STATE_CHARGE_PAUSE) {
                *out = (uint8_t)v;
                return 0;
        }
        return usage_error("%s: '%s' is no controller state (e.g. Charging, Insulation_Test)", opt, s);
}

static void options_defaults(struct ctl_options *o)
{
        *o = (struct ctl_options){
                .pistol = 1,
                .interface_version = 2,
                .protocol = CTL_PROTOCOL_CCS,
                .comm_protocol = 0xFF,          /* from the protocol */
                .plug = 0xFF,
                .ev_max_voltage_dv = 5000,
                .ev_max_current_da = 2000,
                .capacity_kwh = 60,
                .soc_pct = 30,
                .test_voltage_dv = 5000,
                .battery_voltage_dv = 4000,
                .precharge_current_da = 20,
                .charge_voltage_dv = 0,         /* battery + 50 V */
                .profile_da = { 1000, 1500, 500 },
                .charge_ms = 20000,
                .discharge_current_da = 400,
                .loop_period_ms = 250,
                .ccs_gap_ms = 3000,
                .welding = true,
                .init_ms = 500,
                .idle_ms = 1000,
                .negotiate_ms = 1000,
                .wait_charge_ms = 500,
                .welding_ms = 1000,
                .cooldown_ms = 2000,
                .after_ms = 500,
                .auth_timeout_ms = 20000,
                .enable_timeout_ms = 20000,
                .insulation_timeout_ms = 30000,
                .discharge_timeout_ms = 10000,
                .precharge_timeout_ms = 10000,
                .end_timeout_ms = 5000,
                .unlock_timeout_ms = 10000,
                .insulation_iterations = 10,
                .gap_ms = 300,
                .limits_spacing_ms = 90,
                .margin_ms = 100,
                .settle_ms = 2000,
                .current_tolerance_da = 50,
                .current_margin_da = 50,
                .off_current_da = 10,
                .voltage_tolerance_dv = 300,
                .fault = CTL_FAULT_NONE,
                .fault_state = CODEC_STATE_CHARGING,
                .fault_delay_ms = -1,
                .silence_ms = 1000,
                .estop_ms = 1000,
                .shutdown_state = CODEC_STATE_CHARGING,
                .bus_load_rate = 3800,
                .print_ms = 1000,
        };
}

enum {
        OPT_PROTOCOL = 0x100, OPT_EV_PROTOCOL, OPT_PLUG, OPT_EV_MAX_VOLTAGE, OPT_EV_MAX_CURRENT,
        OPT_CAPACITY, OPT_SOC, OPT_TEST_VOLTAGE, OPT_BATTERY_VOLTAGE, OPT_PRECHARGE_CURRENT,
        OPT_CHARGE_VOLTAGE, OPT_PROFILE, OPT_CHARGE_TIME, OPT_LOOP_PERIOD, OPT_CCS_GAP,
        OPT_SEQUENCE_FLAGS, OPT_EXTERNAL_AUTH, OPT_SUPERVISOR, OPT_EV_ID, OPT_NO_WELDING, OPT_INIT_TIME, OPT_IDLE_TIME,
        OPT_NEGOTIATE_TIME, OPT_WAIT_CHARGE_TIME, OPT_WELDING_TIME, OPT_COOLDOWN, OPT_AFTER_TIME,
        OPT_AUTH_TIMEOUT, OPT_ENABLE_TIMEOUT, OPT_INSULATION_TIMEOUT, OPT_DISCHARGE_TIMEOUT,
        OPT_PRECHARGE_TIMEOUT, OPT_END_TIMEOUT, OPT_UNLOCK_TIMEOUT, OPT_INSULATION_ITERATIONS,
        OPT_GAP, OPT_LIMITS_SPACING, OPT_MARGIN, OPT_SETTLE, OPT_CURRENT_TOLERANCE, OPT_CURRENT_MARGIN,
        OPT_OFF_CURRENT, OPT_VOLTAGE_TOLERANCE, OPT_CHARGER_POWER, OPT_FAULT, OPT_FAULT_DELAY,
        OPT_SILENCE, OPT_ESTOP_TIME, OPT_EXPECT_SHUTDOWN, OPT_WRONG_PISTOL, OPT_OTHER_PISTOL, OPT_MALFORMED,
        OPT_BUS_LOAD, OPT_LOG, OPT_PRINT_INTERVAL, OPT_INTERFACE_VERSION,
        OPT_DISCHARGE, OPT_DISCHARGE_CURRENT, OPT_SETPOINTS_MODE,
};

static const struct option long_options[] = {
        { "interface", required_argument, NULL, 'i' },
        { "pistol", required_argument, NULL, 'p' },
        { "interface-version", required_argument, NULL, OPT_INTERFACE_VERSION },
        { "protocol", required_argument, NULL, OPT_PROTOCOL },
        { "ev-protocol", required_argument, NULL, OPT_EV_PROTOCOL },
        { "plug", required_argument, NULL, OPT_PLUG },
        { "ev-max-voltage", required_argument, NULL, OPT_EV_MAX_VOLTAGE },
        { "ev-max-current", required_argument, NULL, OPT_EV_MAX_CURRENT },
        { "capacity", required_argument, NULL, OPT_CAPACITY },
        { "soc", required_argument, NULL, OPT_SOC },
        { "test-voltage", required_argument, NULL, OPT_TEST_VOLTAGE },
        { "battery-voltage", required_argument, NULL, OPT_BATTERY_VOLTAGE },
        { "precharge-current", required_argument, NULL, OPT_PRECHARGE_CURRENT },
        { "charge-voltage", required_argument, NULL, OPT_CHARGE_VOLTAGE },
        { "profile", required_argument, NULL, OPT_PROFILE },
        { "charge-time", required_argument, NULL, OPT_CHARGE_TIME },
        { "loop-period", required_argument, NULL, OPT_LOOP_PERIOD },
        { "ccs-gap", required_argument, NULL, OPT_CCS_GAP },
        { "sequence-flags", no_argument, NULL, OPT_SEQUENCE_FLAGS },
        { "external-auth", no_argument, NULL, OPT_EXTERNAL_AUTH },
        { "supervisor", no_argument, NULL, OPT_SUPERVISOR },
        { "ev-id", required_argument, NULL, OPT_EV_ID },
        { "no-welding", no_argument, NULL, OPT_NO_WELDING },
        { "init-time", required_argument, NULL, OPT_INIT_TIME },
        { "idle-time", required_argument, NULL, OPT_IDLE_TIME },
        { "negotiate-time", required_argument, NULL, OPT_NEGOTIATE_TIME },
        { "wait-charge-time", required_argument, NULL, OPT_WAIT_CHARGE_TIME },
        { "welding-time", required_argument, NULL, OPT_WELDING_TIME },
        { "cooldown", required_argument, NULL, OPT_COOLDOWN },
        { "after-time", required_argument, NULL, OPT_AFTER_TIME },
        { "auth-timeout", required_argument, NULL, OPT_AUTH_TIMEOUT },
        { "enable-timeout", required_argument, NULL, OPT_ENABLE_TIMEOUT },
        { "insulation-timeout", required_argument, NULL, OPT_INSULATION_TIMEOUT },
        { "discharge-timeout", required_argument, NULL, OPT_DISCHARGE_TIMEOUT },
        { "precharge-timeout", required_argument, NULL, OPT_PRECHARGE_TIMEOUT },
        { "end-timeout", required_argument, NULL, OPT_END_TIMEOUT },
        { "unlock-timeout", required_argument, NULL, OPT_UNLOCK_TIMEOUT },
        { "insulation-iterations", required_argument, NULL, OPT_INSULATION_ITERATIONS },
        { "gap", required_argument, NULL, OPT_GAP },
        { "limits-spacing", required_argument, NULL, OPT_LIMITS_SPACING },
        { "margin", required_argument, NULL, OPT_MARGIN },
        { "settle", required_argument, NULL, OPT_SETTLE },
        { "current-tolerance", required_argument, NULL, OPT_CURRENT_TOLERANCE },
        { "current-margin", required_argument, NULL, OPT_CURRENT_MARGIN },
        { "off-current", required_argument, NULL, OPT_OFF_CURRENT },
        { "voltage-tolerance", required_argument, NULL, OPT_VOLTAGE_TOLERANCE },
        { "charger-power", required_argument, NULL, OPT_CHARGER_POWER },
        { "discharge", no_argument, NULL, OPT_DISCHARGE },
        { "discharge-current", required_argument, NULL, OPT_DISCHARGE_CURRENT },
        { "setpoints-mode", required_argument, NULL, OPT_SETPOINTS_MODE },
        { "fault", required_argument, NULL, OPT_FAULT },
        { "fault-delay", required_argument, NULL, OPT_FAULT_DELAY },
        { "silence", required_argument, NULL, OPT_SILENCE },
        { "estop-time", required_argument, NULL, OPT_ESTOP_TIME },
        { "expect-shutdown", optional_argument, NULL, OPT_EXPECT_SHUTDOWN },
        { "wrong-pistol", optional_argument, NULL, OPT_WRONG_PISTOL },
        { "other-pistol", required_argument, NULL, OPT_OTHER_PISTOL },
        { "malformed", no_argument, NULL, OPT_MALFORMED },
        { "bus-load", optional_argument, NULL, OPT_BUS_LOAD },
        { "verbose", no_argument, NULL, 'v' },
        { "log", required_argument, NULL, OPT_LOG },
        { "print-interval", required_argument, NULL, OPT_PRINT_INTERVAL },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
};

static int parse_fault(const char *s, struct ctl_options *o)
{
        const char *at = strchr(s, '@');
        size_t n = at ? (size_t)(at - s) : strlen(s);

        if (o->fault != CTL_FAULT_NONE)
                return usage_error("--fault: one fault at a time");
        if (n == strlen("heartbeat-stop") && strncmp(s, "heartbeat-stop", n) == 0)
                o->fault = CTL_FAULT_HEARTBEAT_STOP;
        else if (n == strlen("estop") && strncmp(s, "estop", n) == 0)
                o->fault = CTL_FAULT_ESTOP;
        else if (n == strlen("insulation") && strncmp(s, "insulation", n) == 0)
                o->fault = CTL_FAULT_INSULATION;
        else if (n == strlen("undefined-function") && strncmp(s, "undefined-function", n) == 0)
                o->fault = CTL_FAULT_UNDEFINED_FUNCTION;
        else
                return usage_error("--fault: '%.*s' is none of heartbeat-stop, estop, insulation, undefined-function",
                                   (int)n, s);
        if (!at)
                return 0;
        if (o->fault == CTL_FAULT_INSULATION)
                return usage_error("--fault insulation takes no state (it is the insulation test)");
        if (o->fault == CTL_FAULT_UNDEFINED_FUNCTION)
                return usage_error("--fault undefined-function takes no state (it is sent while charging)");
        return parse_state("--fault", at + 1, &o->fault_state);
}

static int parse_profile(const char *s, struct ctl_options *o)
{
        char buf[64];
        char *save = NULL, *tok;
        int n = 0;

        snprintf(buf, sizeof(buf), "%s", s);
        for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                int r;

                if (n == 3)
                        return usage_error("--profile: three currents, A,B,C");
                r = parse_deci("--profile", tok, 0, 3276.7, &o->profile_da[n]);
                if (r < 0)
                        return r;
                n++;
        }
        if (n != 3)
                return usage_error("--profile: three currents, A,B,C");
        return 0;
}

/* Cross-checks once every option is known. */
static int options_check(struct ctl_options *o, bool loop_period_given)
{
        bool chademo = o->protocol == CTL_PROTOCOL_CHADEMO;
        uint64_t hb_deadline_ms;

        if (!o->ifname)
                return usage_error("-i IFACE is required");
        if (o->discharge && o->interface_version != 3)
                return usage_error("--discharge needs --interface-version 3 (v2 never discharges, E.1)");
        if (o->discharge && o->discharge_current_da > o->ev_max_current_da)
                return usage_error("--discharge-current is above --ev-max-current");
        /* B1: bidirectional transfer is ISO 15118-20 BPT or CHAdeMO V2G
         * (CHAdeMO 2.0). */
        if (o->comm_protocol == 0xFF && o->discharge)
                o->comm_protocol = chademo ? CODEC_PROTOCOL_CHADEMO_V2_0 : CODEC_PROTOCOL_CCS_ISO_15118_2022;
        if (o->comm_protocol == 0xFF)
                o->comm_protocol = chademo ? CODEC_PROTOCOL_CHADEMO_V1_0_V1_1_V1_2
                                           : CODEC_PROTOCOL_CCS_ISO_15118_2013_V2;
        if (o->plug == 0xFF)
                o->plug = chademo ? CODEC_PLUG_CHADEMO : CODEC_PLUG_CCS_DC_CORE;
        if (o->charge_voltage_dv == 0)
                o->charge_voltage_dv = (uint16_t)(o->battery_voltage_dv + 500);
        if (chademo) {
                /* CHAdeMO paces the loop at 100 ms (R38). */
                if (loop_period_given && o->loop_period_ms != 100)
                        return usage_error("--loop-period is for CCS; CHAdeMO requests every 100 ms");
                o->loop_period_ms = 100;
                o->ccs_gap_ms = 0;
                if (o->external_auth)
                        return usage_error("--external-auth is a CCS feature (R11)");
        }
        if (o->external_auth && !o->sequence_flags)
                return usage_error("--external-auth needs --sequence-flags (R11)");
        if (o->supervisor) {
                /* The faults are about the power side's reaction with a
                 * converter; in supervisor mode there is none to check. */
                if (o->fault != CTL_FAULT_NONE || o->expect_shutdown || o->malformed || o->wrong_pistol)
                        return usage_error("--supervisor goes with none of --fault, --expect-shutdown, --malformed, --wrong-pistol");
                if (!o->send_ev_id) {
                        static const uint8_t id[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

                        memcpy(o->ev_id, id, sizeof(id));
                        o->send_ev_id = true;
                }
        }
        if (o->loop_period_ms < 100)
                return usage_error("--loop-period: at least 100 ms");
        if (o->charge_voltage_dv > o->ev_max_voltage_dv)
                return usage_error("--charge-voltage is above --ev-max-voltage");
        if (o->battery_voltage_dv >= o->charge_voltage_dv)
                return usage_error("--charge-voltage must be above --battery-voltage");
        for (int i = 0; i < 3; i++)
                if (o->profile_da[i] > o->ev_max_current_da)
                        return usage_error("--profile: %.1f A is above --ev-max-current",
                                           o->profile_da[i] / 10.0);
        if (o->test_voltage_dv < 100)
                return usage_error("--test-voltage: at least 10 V");
        if (o->charge_ms < 1000)
                return usage_error("--charge-time: at least 1 s");
        if (o->insulation_iterations == 0)
                return usage_error("--insulation-iterations: at least 1");
        if (o->gap_ms < 100)
                return usage_error("--gap: at least one status period (100 ms)");
        if (o->limits_spacing_ms > 100)
                return usage_error("--limits-spacing: at most 100 ms (R15, V4 allow one every 100 ms)");

        if (o->fault == CTL_FAULT_HEARTBEAT_STOP || o->fault == CTL_FAULT_ESTOP) {
                /* The status window must be open (R2) for the reaction to
                 * be seen. */
                if (o->fault_state < CODEC_STATE_CONNECTED_WITH_FULL_INFO ||
                    o->fault_state > CODEC_STATE_CLOSING_COMMUNICATION)
                        return usage_error("--fault: the state must be one of Connected_With_Full_Info .. Closing_Communication");
                if (chademo && o->fault_state == CODEC_STATE_PRECHARGE)
                        return usage_error("--fault: CHAdeMO has no Precharge (R30)");
                if (!o->welding && o->fault_state == CODEC_STATE_WELDING_DETECTION)
                        return usage_error("--fault: Welding_Detection is skipped (--no-welding)");
        }
        if (o->fault == CTL_FAULT_HEARTBEAT_STOP) {
                /* R1 200 ms + one status period + the margin, and some time
                 * to see the converter stay off. */
                hb_deadline_ms = 200 + 100 + (uint64_t)o->margin_ms;
                if (o->silence_ms < hb_deadline_ms + 200)
                        return usage_error("--silence: at least %llu ms (R1 timeout + status period + margin + 200 ms)",
                                           (unsigned long long)(hb_deadline_ms + 200));
        }
        if (o->fault == CTL_FAULT_UNDEFINED_FUNCTION && o->interface_version != 3)
                return usage_error("--fault undefined-function needs --interface-version 3 (DC_Power_Control)");
        if (o->fault != CTL_FAULT_NONE && o->estop_ms < 100 + o->margin_ms + 100)
                return usage_error("--estop-time: at least %u ms", 100 + o->margin_ms + 100);
        if (o->expect_shutdown) {
                if (o->fault != CTL_FAULT_NONE)
                        return usage_error("--expect-shutdown cannot be combined with --fault");
                if (o->shutdown_state < CODEC_STATE_INSULATION_TEST ||
                    o->shutdown_state > CODEC_STATE_ENDING_CHARGE)
                        return usage_error("--expect-shutdown: the state must be one of Insulation_Test .. Ending_Charge");
                if (chademo && o->shutdown_state == CODEC_STATE_PRECHARGE)
                        return usage_error("--expect-shutdown: CHAdeMO has no Precharge (R30)");
        }
        if (o->wrong_pistol) {
                if (o->other_pistol == 0)
                        o->other_pistol = (uint8_t)(o->pistol % CODEC_PISTOL_MAX + 1);
                if (o->other_pistol == o->pistol)
                        return usage_error("--wrong-pistol: the other pistol must differ from --pistol");
                if (o->other_pistols & (1u << o->other_pistol))
                        return usage_error("--wrong-pistol: that pistol is --other-pistol, whose answers are not checked");
        }
        if (o->other_pistols & (1u << o->pistol))
                return usage_error("--other-pistol: the other pistol must differ from --pistol");
        if (o->bus_load && o->bus_load_rate == 0)
                return usage_error("--bus-load: the rate must be above 0");
        return 0;
}

/* 0, -EINVAL (usage error, reported), or 1 for --help. */
static int parse_options(int argc, char **argv, struct ctl_options *o)
{
        bool loop_period_given = false, setpoints_mode_given = false;
        unsigned long u;
        uint32_t ms;
        int opt, r = 0;

        options_defaults(o);
        optind = 1;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":i:p:vh", long_options, NULL)) != -1) {
                const char *a = optarg;

                switch (opt) {
                case 'i':
                        if (!a || *a == '\0')
                                return usage_error("-i needs an interface name");
                        o->ifname = a;
                        break;
                case 'p':
                        r = parse_uint("--pistol", a, CODEC_PISTOL_MIN, CODEC_PISTOL_MAX, &u);
                        o->pistol = (uint8_t)u;
                        break;
                case OPT_INTERFACE_VERSION:
                        if (!frame_text_parse_interface_version(a))
                                return usage_error("--interface-version: '%s' is not 2 or 3", a);
                        o->interface_version = (uint8_t)(a[0] - '0');
                        break;
                case OPT_PROTOCOL:
                        if (strcasecmp(a, "ccs") == 0)
                                o->protocol = CTL_PROTOCOL_CCS;
                        else if (strcasecmp(a, "chademo") == 0)
                                o->protocol = CTL_PROTOCOL_CHADEMO;
                        else
                                return usage_error("--protocol: ccs or chademo");
                        break;
                case OPT_EV_PROTOCOL:
                        r = parse_label("--ev-protocol", "Communication_Protocol", a, &o->comm_protocol);
                        break;
                case OPT_PLUG:
                        r = parse_label("--plug", "Plug_and_pins", a, &o->plug);
                        break;
                case OPT_EV_MAX_VOLTAGE:
                        r = parse_deci("--ev-max-voltage", a, 1, 6553.5, &o->ev_max_voltage_dv);
                        break;
                case OPT_EV_MAX_CURRENT:
                        r = parse_deci("--ev-max-current", a, 1, 3276.7, &o->ev_max_current_da);
                        break;
                case OPT_CAPACITY:
                        r = parse_uint("--capacity", a, 0, 510, &u);
                        o->capacity_kwh = (uint16_t)u;
                        break;
                case OPT_SOC:
                        r = parse_uint("--soc", a, 0, 100, &u);
                        o->soc_pct = (uint8_t)u;
                        break;
                case OPT_TEST_VOLTAGE:
                        r = parse_deci("--test-voltage", a, 10, 6553.5, &o->test_voltage_dv);
                        break;
                case OPT_BATTERY_VOLTAGE:
                        r = parse_deci("--battery-voltage", a, 21, 6000, &o->battery_voltage_dv);
                        break;
                case OPT_PRECHARGE_CURRENT:
                        r = parse_deci("--precharge-current", a, 0.1, 6553.5, &o->precharge_current_da);
                        break;
                case OPT_CHARGE_VOLTAGE:
                        r = parse_deci("--charge-voltage", a, 1, 6553.5, &o->charge_voltage_dv);
                        break;
                case OPT_PROFILE:
                        r = parse_profile(a, o);
                        break;
                case OPT_CHARGE_TIME:
                        r = parse_duration("--charge-time", a, 1000, &o->charge_ms);
                        break;
                case OPT_LOOP_PERIOD:
                        r = parse_duration("--loop-period", a, 1, &o->loop_period_ms);
                        loop_period_given = true;
                        break;
                case OPT_CCS_GAP:
                        r = parse_duration("--ccs-gap", a, 1, &o->ccs_gap_ms);
                        break;
                case OPT_SEQUENCE_FLAGS:
                        o->sequence_flags = true;
                        break;
                case OPT_EXTERNAL_AUTH:
                        o->external_auth = true;
                        break;
                case OPT_SUPERVISOR:
                        o->supervisor = true;
                        break;
                case OPT_EV_ID:
                        r = parse_ev_id(a, o->ev_id);
                        o->send_ev_id = true;
                        break;
                case OPT_NO_WELDING:
                        o->welding = false;
                        break;
                case OPT_INIT_TIME:
                        r = parse_duration("--init-time", a, 1, &o->init_ms);
                        break;
                case OPT_IDLE_TIME:
                        r = parse_duration("--idle-time", a, 1, &o->idle_ms);
                        break;
                case OPT_NEGOTIATE_TIME:
                        r = parse_duration("--negotiate-time", a, 1, &o->negotiate_ms);
                        break;
                case OPT_WAIT_CHARGE_TIME:
                        r = parse_duration("--wait-charge-time", a, 1, &o->wait_charge_ms);
                        break;
                case OPT_WELDING_TIME:
                        r = parse_duration("--welding-time", a, 1, &o->welding_ms);
                        break;
                case OPT_COOLDOWN:
                        r = parse_duration("--cooldown", a, 1, &o->cooldown_ms);
                        break;
                case OPT_AFTER_TIME:
                        r = parse_duration("--after-time", a, 1, &o->after_ms);
                        break;
                case OPT_AUTH_TIMEOUT:
                        r = parse_duration("--auth-timeout", a, 1000, &o->auth_timeout_ms);
                        break;
                case OPT_ENABLE_TIMEOUT:
                        r = parse_duration("--enable-timeout", a, 1000, &o->enable_timeout_ms);
                        break;
                case OPT_INSULATION_TIMEOUT:
                        r = parse_duration("--insulation-timeout", a, 1000, &o->insulation_timeout_ms);
                        break;
                case OPT_DISCHARGE_TIMEOUT:
                        r = parse_duration("--discharge-timeout", a, 1000, &o->discharge_timeout_ms);
                        break;
                case OPT_PRECHARGE_TIMEOUT:
                        r = parse_duration("--precharge-timeout", a, 1000, &o->precharge_timeout_ms);
                        break;
                case OPT_END_TIMEOUT:
                        r = parse_duration("--end-timeout", a, 1000, &o->end_timeout_ms);
                        break;
                case OPT_UNLOCK_TIMEOUT:
                        r = parse_duration("--unlock-timeout", a, 1000, &o->unlock_timeout_ms);
                        break;
                case OPT_INSULATION_ITERATIONS:
                        r = parse_uint("--insulation-iterations", a, 1, 10000, &u);
                        o->insulation_iterations = (unsigned)u;
                        break;
                case OPT_GAP:
                        r = parse_duration("--gap", a, 1, &o->gap_ms);
                        break;
                case OPT_LIMITS_SPACING:
                        r = parse_duration("--limits-spacing", a, 1, &o->limits_spacing_ms);
                        break;
                case OPT_MARGIN:
                        r = parse_duration("--margin", a, 1, &o->margin_ms);
                        break;
                case OPT_SETTLE:
                        r = parse_duration("--settle", a, 1, &o->settle_ms);
                        break;
                case OPT_CURRENT_TOLERANCE:
                        r = parse_deci("--current-tolerance", a, 0, 3276.7, &o->current_tolerance_da);
                        break;
                case OPT_CURRENT_MARGIN:
                        r = parse_deci("--current-margin", a, 0, 3276.7, &o->current_margin_da);
                        break;
                case OPT_OFF_CURRENT:
                        r = parse_deci("--off-current", a, 0, 3276.7, &o->off_current_da);
                        break;
                case OPT_VOLTAGE_TOLERANCE:
                        r = parse_deci("--voltage-tolerance", a, 0, 6553.5, &o->voltage_tolerance_dv);
                        break;
                case OPT_CHARGER_POWER: {
                        double kw = 0;

                        r = parse_number("--charger-power", a, 0, 4000000, &kw);
                        if (r == 0)
                                o->charger_power_w = (uint32_t)lround(kw * 1000.0);
                        break;
                }
                case OPT_DISCHARGE:
                        o->discharge = true;
                        break;
                case OPT_DISCHARGE_CURRENT:
                        r = parse_deci("--discharge-current", a, 0.1, 3276.7, &o->discharge_current_da);
                        break;
                case OPT_SETPOINTS_MODE:
                        if (strcmp(a, "target") == 0) {
                                o->range_mode = false;
                        } else if (strcmp(a, "range") == 0) {
                                o->range_mode = true;
                        } else {
                                r = usage_error("--setpoints-mode: '%s' is neither target nor range", a);
                                break;
                        }
                        setpoints_mode_given = true;
                        break;
                case OPT_FAULT:
                        r = parse_fault(a, o);
                        break;
                case OPT_FAULT_DELAY:
                        r = parse_duration("--fault-delay", a, 1, &ms);
                        o->fault_delay_ms = ms;
                        break;
                case OPT_SILENCE:
                        r = parse_duration("--silence", a, 1, &o->silence_ms);
                        break;
                case OPT_ESTOP_TIME:
                        r = parse_duration("--estop-time", a, 1, &o->estop_ms);
                        break;
                case OPT_EXPECT_SHUTDOWN:
                        o->expect_shutdown = true;
                        if (a)
                                r = parse_state("--expect-shutdown", a, &o->shutdown_state);
                        break;
                case OPT_WRONG_PISTOL:
                        o->wrong_pistol = true;
                        if (a) {
                                r = parse_uint("--wrong-pistol", a, CODEC_PISTOL_MIN, CODEC_PISTOL_MAX, &u);
                                o->other_pistol = (uint8_t)u;
                        }
                        break;
                case OPT_OTHER_PISTOL:
                        r = parse_uint("--other-pistol", a, CODEC_PISTOL_MIN, CODEC_PISTOL_MAX, &u);
                        if (r == 0)
                                o->other_pistols |= 1u << u;
                        break;
                case OPT_MALFORMED:
                        o->malformed = true;
                        break;
                case OPT_BUS_LOAD:
                        o->bus_load = true;
                        if (a) {
                                r = parse_uint("--bus-load", a, 1, 100000, &u);
                                o->bus_load_rate = (uint32_t)u;
                        }
                        break;
                case 'v':
                        o->verbose = true;
                        break;
                case OPT_LOG:
                        o->log_path = a;
                        break;
                case OPT_PRINT_INTERVAL:
                        r = parse_duration("--print-interval", a, 1, &o->print_ms);
                        break;
                case 'h':
                        usage(stdout);
                        return 1;
                case ':':
                        return usage_error("option '%s' needs a value", argv[optind - 1]);
                default:
                        return usage_error("unknown option '%s'", argv[optind - 1]);
                }
                if (r < 0)
                        return r;
        }
        if (optind < argc)
                return usage_error("unexpected argument '%s'", argv[optind]);
        /* B6: a V2G CHAdeMO vehicle runs in Range_Mode. */
        if (!setpoints_mode_given)
                o->range_mode = o->discharge && o->protocol == CTL_PROTOCOL_CHADEMO;
        if (setpoints_mode_given && !o->discharge)
                return usage_error("--setpoints-mode goes with --discharge");
        return options_check(o, loop_period_given);
}

/* ---- the loop ---- */

/* Every frame waiting, to the checks. */
static void drain(struct ctl *c)
{
        struct codec_frame f;
        uint64_t t;

        while (ctl_can_receive(c, &f, &t) > 0)
                ctl_check_frame(c, &f, t);
}

static void rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        drain(w->data);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct ctl *c = w->data;
        uint64_t now;

        /* Frames already received count before any deadline is judged. */
        drain(c);
        now = ctl_now_us();
        if (c->last_tick_us > 0) {
                uint64_t gap = now - c->last_tick_us;

                if (gap > c->worst_tick_gap_us)
                        c->worst_tick_gap_us = gap;
                if (gap >= CTL_STALL_US) {
                        c->stalls++;
                        c->last_stall_us = now;
                        c->last_stall_gap_us = gap;
                        ctl_log(c, "warning: this machine stalled the controller for %.0f ms (heartbeat late)",
                                (double)gap / 1000.0);
                }
        }
        c->last_tick_us = now;
        ctl_check_tick(c, now);
        ctl_flow_tick(c, now);
        if (ctl_flow_finished(c))
                ev_break(loop, EVBREAK_ALL);
}

static void load_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct ctl *c = w->data;

        if (c->failed || ctl_flow_finished(c)) {
                ev_timer_stop(loop, w);
                return;
        }
        ctl_can_load(c, ctl_now_us());
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
        struct ctl *c = w->data;

        if (c->failed) {
                /* A second signal: leave now, the clean-up is cut short. */
                ev_break(loop, EVBREAK_ALL);
                return;
        }
        c->interrupted = true;
        ctl_fail(c, "interrupted by signal %d", w->signum);
}

static void print_summary(struct ctl *c)
{
        const struct ctl_period_stats *p = &c->period;
        const char *proto = codec_signal_label(
                codec_signal_by_name(codec_msg_info(&codec_db_v2_7, CODEC_NEW_CHARGE_SESSION), "Communication_Protocol"),
                c->o.comm_protocol);
        uint64_t end = ctl_now_us();

        printf("\nsummary: %s\n", c->failed ? "FAIL" : "PASS");
        if (c->failed)
                printf("  reason: %s\n", c->reason);
        printf("  pistol %u on %s, %s (%s), %u session(s) finished, %.1f s\n", c->o.pistol,
               c->o.ifname, c->o.protocol == CTL_PROTOCOL_CCS ? "CCS" : "CHAdeMO",
               proto ? proto : "?", c->sessions_done, ctl_rel_s(c, end));
        if (p->count > 0) {
                printf("  Power_Modules_Status: %llu in the session window; first %.1f ms after New_Charge_Session",
                       (unsigned long long)p->count, (double)p->first_latency_us / 1000.0);
                if (p->periods > 0)
                        printf("; period mean %.1f ms, min %.1f, max %.1f (at %.1f s, %s), %llu over 150 ms (limit %u ms)",
                               (double)p->sum_us / (double)p->periods / 1000.0,
                               (double)p->min_us / 1000.0, (double)p->max_us / 1000.0,
                               ctl_rel_s(c, p->max_at_us), ctl_state_name(p->max_state),
                               (unsigned long long)p->over_150ms, c->o.gap_ms);
                putchar('\n');
        } else {
                printf("  Power_Modules_Status: none in a session window\n");
        }
        if (c->first_enable_us > 0)
                printf("  System_Enable = Allowed %.2f s after New_Charge_Session\n",
                       (double)c->first_enable_us / 1e6);
        if (c->ins_reached_us > 0)
                printf("  insulation test: 90 %% of %.1f V after %.2f s, lowest resistance %u kOhm (threshold %u kOhm)\n",
                       c->o.test_voltage_dv / 10.0, (double)c->ins_reached_us / 1e6,
                       c->ins_min_kohm, ctl_insulation_threshold_kohm(c));
        if (c->charge_time_us > 0)
                printf("  charging: %.1f s, peak %.1f A, worst deviation from the expected current %.1f A (tolerance %.1f A), %.3f kWh\n",
                       (double)c->charge_time_us / 1e6, c->peak_current_da / 10.0,
                       c->worst_follow_da / 10.0, c->o.current_tolerance_da / 10.0,
                       c->energy_wh / 1000.0);
        if (c->o.discharge)
                printf("  discharge: peak %.1f A out of the EV (limit announced %.1f A), %.3f kWh out; "
                       "%u reversals, %u with a status at <= %.1f A in between\n",
                       -c->peak_discharge_da / 10.0, c->discharge_limit_da / 10.0, c->energy_out_wh / 1000.0,
                       c->reversals, c->reversals_through_zero, c->o.off_current_da / 10.0);
        if (c->reaction_report[0])
                printf("  fault: %s\n", c->reaction_report);
        printf("  frames: sent %llu, received %llu", (unsigned long long)c->tx_frames,
               (unsigned long long)c->rx_frames);
        if (c->o.wrong_pistol)
                printf("; pistol %u (fake) %llu", c->o.other_pistol,
                       (unsigned long long)c->tx_other_pistol);
        if (c->o.malformed)
                printf("; malformed %llu", (unsigned long long)c->tx_malformed);
        putchar('\n');
        if (c->o.bus_load) {
                double span = c->load_stopped_us > c->load_started_us
                                      ? (double)(c->load_stopped_us - c->load_started_us) / 1e6
                                      : 0.0;

                printf("  bus load: %llu foreign frames in %.1f s (%.0f/s, target %u/s), %llu deferred\n",
                       (unsigned long long)c->load_frames, span,
                       span > 0 ? (double)c->load_frames / span : 0.0, c->o.bus_load_rate,
                       (unsigned long long)c->load_deferred);
        }
        printf("  controller ticks: worst gap %.1f ms, %u stall(s) of %.0f ms or more\n",
               (double)c->worst_tick_gap_us / 1000.0, c->stalls, CTL_STALL_US / 1000.0);
        printf("verdict: %s\n", c->failed ? "FAIL" : "PASS");
        fflush(stdout);
}

int seccsim_session_main(int argc, char **argv)
{
        struct ctl *c;
        int r, code;

        c = calloc(1, sizeof(*c));
        if (!c) {
                fprintf(stderr, "seccsim session: out of memory\n");
                return CTL_EXIT_FAIL;
        }
        r = parse_options(argc, argv, &c->o);
        if (r != 0) {
                free(c);
                return r > 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
        }
        /* The progress log is watched live and read by scripts: one line
         * at a time, as it happens. */
        setvbuf(stdout, NULL, _IOLBF, 0);

        c->loop = ev_default_loop(EVFLAG_AUTO);
        if (!c->loop) {
                fprintf(stderr, "seccsim session: cannot create the event loop\n");
                free(c);
                return CTL_EXIT_FAIL;
        }
        c->db = codec_db_for_version(c->o.interface_version);
        c->t0_us = ctl_now_us();
        /* A failed check, wherever it is found, ends the sequence with the
         * flow's clean-up. */
        c->on_failure = ctl_flow_abort;
        if (ctl_can_open(c) < 0) {
                ev_loop_destroy(c->loop);
                free(c);
                return CTL_EXIT_FAIL;
        }

        ev_io_init(&c->rx, rx_cb, ctl_can_rx_fd(c), EV_READ);
        c->rx.data = c;
        ev_io_start(c->loop, &c->rx);

        ev_timer_init(&c->tick, tick_cb, 0.0, CTL_TICK_US / 1e6);
        c->tick.data = c;
        ev_timer_start(c->loop, &c->tick);
        if (c->o.bus_load) {
                /* 5 ms slices: about 19 frames each at 3800 frames/s. */
                ev_timer_init(&c->load_timer, load_cb, 0.0, 0.005);
                c->load_timer.data = c;
                ev_timer_start(c->loop, &c->load_timer);
        }
        ev_signal_init(&c->sig_int, signal_cb, SIGINT);
        c->sig_int.data = c;
        ev_signal_start(c->loop, &c->sig_int);
        ev_signal_init(&c->sig_term, signal_cb, SIGTERM);
        c->sig_term.data = c;
        ev_signal_start(c->loop, &c->sig_term);

        ctl_flow_start(c);
        ev_run(c->loop, 0);

        ev_io_stop(c->loop, &c->rx);
        ev_timer_stop(c->loop, &c->tick);
        ev_timer_stop(c->loop, &c->load_timer);
        ev_signal_stop(c->loop, &c->sig_int);
        ev_signal_stop(c->loop, &c->sig_term);
        print_summary(c);
        ctl_can_close(c);
        ev_loop_destroy(c->loop);
        code = c->failed ? CTL_EXIT_FAIL : CTL_EXIT_OK;
        free(c);
        return code;
}
