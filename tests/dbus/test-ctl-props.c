/* SPDX-License-Identifier: MIT */
/*
 * seccbridgectl's printing of the daemon's properties, without a bus: the
 * text of each kind of value, "not measured" values, JSON escaping and
 * validity, the status screen, watch lines, and replacing values.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_props.h"

static struct ctl_value value_bool(const char *name, bool b)
{
        struct ctl_value v = { .type = CTL_BOOL, .b = b };

        snprintf(v.name, sizeof(v.name), "%s", name);
        return v;
}

static struct ctl_value value_double(const char *name, double d)
{
        struct ctl_value v = { .type = CTL_DOUBLE, .d = d };

        snprintf(v.name, sizeof(v.name), "%s", name);
        return v;
}

static struct ctl_value value_string(const char *name, const char *s)
{
        struct ctl_value v = { .type = CTL_STRING };

        snprintf(v.name, sizeof(v.name), "%s", name);
        snprintf(v.s, sizeof(v.s), "%s", s);
        return v;
}

static struct ctl_value value_unsigned(const char *name, uint64_t u)
{
        struct ctl_value v = { .type = CTL_UNSIGNED, .u = u };

        snprintf(v.name, sizeof(v.name), "%s", name);
        return v;
}

static struct ctl_value value_signed(const char *name, int64_t i)
{
        struct ctl_value v = { .type = CTL_SIGNED, .i = i };

        snprintf(v.name, sizeof(v.name), "%s", name);
        return v;
}

/* What a print function wrote, as a string the caller frees. */
struct capture {
        char *text;
        size_t len;
        FILE *f;
};

static void capture_begin(struct capture *c)
{
        c->text = NULL;
        c->len = 0;
        c->f = open_memstream(&c->text, &c->len);
        assert_non_null(c->f);
}

static char *capture_end(struct capture *c)
{
        assert_int_equal(fclose(c->f), 0);
        return c->text;
}

static void add(struct ctl_props *p, struct ctl_value v)
{
        assert_int_equal(ctl_props_set(p, &v), 0);
}

/* The properties of a daemon in the middle of a CCS charge. */
static void charging(struct ctl_props *p)
{
        memset(p, 0, sizeof(*p));
        add(p, value_unsigned("Pistol", 1));
        add(p, value_string("Version", "0.1.0"));
        add(p, value_string("CANInterface", "can0"));
        add(p, value_bool("CANUp", true));
        add(p, value_bool("ControllerAlive", true));
        add(p, value_string("ControllerState", "Charging"));
        add(p, value_bool("SessionActive", true));
        add(p, value_bool("ChargeStarted", true));
        add(p, value_string("Protocol", "CCS_ISO_15118_2013_v2"));
        add(p, value_string("Plug", "CCS_DC_Extended"));
        add(p, value_double("EVMaximumVoltage", 500));
        add(p, value_double("EVMaximumCurrent", 200));
        add(p, value_unsigned("BatteryCapacity", 60));
        add(p, value_unsigned("StateOfCharge", 30));
        add(p, value_string("Request", "charge"));
        add(p, value_double("RequestVoltage", 450));
        add(p, value_double("RequestCurrent", 100.5));
        add(p, value_string("CommandMode", "charge"));
        add(p, value_double("CommandVoltage", 450));
        add(p, value_double("CommandCurrent", 100.5));
        add(p, value_bool("CommandDischarge", false));
        add(p, value_double("Voltage", 449.9));
        add(p, value_double("Current", 100.4));
        add(p, value_signed("ModuleTemperature", 27));
        add(p, value_signed("EnclosureTemperature", CTL_TEMPERATURE_UNKNOWN));
        add(p, value_unsigned("InsulationResistance", CTL_INSULATION_UNKNOWN));
        add(p, value_bool("SystemEnable", true));
        add(p, value_string("Fault", "none"));
        add(p, value_bool("EmergencyStop", false));
        add(p, value_string("ConverterBackend", "modbus-tcp"));
        add(p, value_bool("ConverterLink", true));
        add(p, value_bool("ConverterReady", true));
        add(p, value_bool("ConverterFault", false));
        add(p, value_string("ConverterError", ""));
        add(p, value_bool("SequenceFlags", true));
        add(p, value_bool("StartAuthorisation", true));
        add(p, value_string("StartAuthorisationSource", "external"));
        add(p, value_bool("CCSAuthorisationDone", true));
        add(p, value_bool("CCSAuthorisationValid", true));
        add(p, value_string("CCSAuthorisationSource", "auto"));
        add(p, value_bool("ChargeParametersDone", true));
        add(p, value_string("ChargeParametersSource", "auto"));
        add(p, value_double("MaxVoltage", 1000));
        add(p, value_double("MaxCurrent", 125));
        add(p, value_double("MaxPower", 50000));
        add(p, value_double("DynamicMaxVoltage", 0));
        add(p, value_double("DynamicMaxCurrent", 0));
        add(p, value_double("DynamicMaxPower", 0));
        add(p, value_unsigned("FramesIn", 1234));
}

static void test_value_text(void **state)
{
        char buf[CTL_TEXT_MAX];
        struct ctl_value v;

        (void)state;
        v = value_bool("SystemEnable", true);
        ctl_props_text(&v, buf, sizeof(buf));
        assert_string_equal(buf, "yes");
        v = value_bool("SystemEnable", false);
        ctl_props_text(&v, buf, sizeof(buf));
        assert_string_equal(buf, "no");
        /* Volts and amps at the 0.1 of the CAN interface, watts whole. */
        v = value_double("Voltage", 449.94);
        ctl_props_text(&v, buf, sizeof(buf));
        assert_string_equal(buf, "449.9");
        v = value_double("MaxPower", 50000);
        ctl_props_text(&v, buf, sizeof(buf));
        assert_string_equal(buf, "50000");
        v = value_unsigned("FramesIn", UINT64_MAX);
        ctl_props_text(&v, buf, sizeof(buf));
        assert_string_equal(buf, "18446744073709551615");
        v = value_signed("ModuleTemperature", -40);
        ctl_props_text(&v, buf, sizeof(buf));
        assert_string_equal(buf, "-40");
}

static void test_not_measured(void **state)
{
        char buf[CTL_TEXT_MAX];
        struct capture c;
        struct ctl_value v;
        char *out;

        (void)state;
        v = value_signed("EnclosureTemperature", CTL_TEMPERATURE_UNKNOWN);
        ctl_props_text(&v, buf, sizeof(buf));
        assert_string_equal(buf, "n/a");
        capture_begin(&c);
        ctl_props_json_value(c.f, &v);
        out = capture_end(&c);
        assert_string_equal(out, "null");
        free(out);

        v = value_unsigned("InsulationResistance", CTL_INSULATION_UNKNOWN);
        ctl_props_text(&v, buf, sizeof(buf));
        assert_string_equal(buf, "n/a");
        /* The sentinels mean nothing for other properties. */
        v = value_unsigned("FramesIn", CTL_INSULATION_UNKNOWN);
        ctl_props_text(&v, buf, sizeof(buf));
        assert_string_equal(buf, "65535");
}

static void test_json_string_escapes(void **state)
{
        struct capture c;
        char *out;

        (void)state;
        capture_begin(&c);
        ctl_props_json_string(c.f, "link lost: \"read\" \\ tab\there\nnext\x01");
        out = capture_end(&c);
        assert_string_equal(out, "\"link lost: \\\"read\\\" \\\\ tab\\there\\nnext\\u0001\"");
        free(out);
}

static void test_json_object(void **state)
{
        static struct ctl_props p;
        struct capture c;
        char *out;

        (void)state;
        memset(&p, 0, sizeof(p));
        add(&p, value_unsigned("Pistol", 1));
        add(&p, value_bool("SystemEnable", false));
        add(&p, value_double("Voltage", 400.5));
        add(&p, value_string("ControllerState", "Charging"));
        add(&p, value_signed("ModuleTemperature", CTL_TEMPERATURE_UNKNOWN));
        capture_begin(&c);
        ctl_props_print_json(c.f, &p);
        out = capture_end(&c);
        assert_string_equal(out, "{\"Pistol\": 1, \"SystemEnable\": false, \"Voltage\": 400.5, "
                                 "\"ControllerState\": \"Charging\", \"ModuleTemperature\": null}\n");
        free(out);
}

static void test_set_replaces_and_finds(void **state)
{
        static struct ctl_props p;
        struct ctl_value v;

        (void)state;
        memset(&p, 0, sizeof(p));
        add(&p, value_double("Voltage", 1));
        add(&p, value_double("Current", 2));
        add(&p, value_double("Voltage", 3));
        assert_int_equal(p.n, 2);
        assert_true(ctl_props_find(&p, "Voltage")->d == 3);
        assert_null(ctl_props_find(&p, "Power"));
        for (int k = 0; p.n < CTL_PROPS_MAX; k++) {
                char name[16];

                snprintf(name, sizeof(name), "P%d", k);
                add(&p, value_bool(name, true));
        }
        v = value_bool("OneTooMany", true);
        assert_int_equal(ctl_props_set(&p, &v), -ENOSPC);

        v = value_double("Voltage", 3);
        assert_true(ctl_props_equal(&v, ctl_props_find(&p, "Voltage")));
        v = value_double("Voltage", 3.1);
        assert_false(ctl_props_equal(&v, ctl_props_find(&p, "Voltage")));
        v = value_string("Voltage", "3");
        assert_false(ctl_props_equal(&v, ctl_props_find(&p, "Voltage")));
}

static void test_status_screen(void **state)
{
        static struct ctl_props p;
        struct capture c;
        char *out;

        (void)state;
        charging(&p);
        capture_begin(&c);
        ctl_props_print_status(c.f, "org.seccbridge.pistol1", &p);
        out = capture_end(&c);
        assert_non_null(strstr(out, "seccbridge 0.1.0, pistol 1 (org.seccbridge.pistol1)\n"));
        assert_non_null(strstr(out, "\ncontroller    Charging\n"));
        assert_non_null(strstr(out, "\nsession       open, charge started; CCS_ISO_15118_2013_v2, CCS_DC_Extended; "
                                    "EV max 500.0 V 200.0 A, 60 kWh, SoC 30 %\n"));
        assert_non_null(strstr(out, "\nrequest       charge 450.0 V 100.5 A\n"));
        assert_non_null(strstr(out, "\nconverter     modbus-tcp: charge 450.0 V 100.5 A; link up, ready, no fault\n"));
        assert_non_null(strstr(out, "\nmeasured      449.9 V 100.4 A; module 27 degC, enclosure n/a degC; "
                                    "insulation n/a kOhm\n"));
        assert_non_null(strstr(out, "\nSystem_Enable Allowed; fault none; emergency stop none\n"));
        assert_non_null(strstr(out, "Start_Charge_Authorisation 1 (external), CCS_Authorisation_Done 1 Valid 1 (auto)"));
        assert_non_null(strstr(out, "\nlimits        1000.0 V 125.0 A 50000 W in force; operator none\n"));
        /* Missing properties (an older daemon) print as "?". */
        assert_non_null(strstr(out, "frames        in 1234, out ?,"));
        free(out);

        /* A converter problem and an operator limit show. */
        add(&p, value_bool("ConverterLink", false));
        add(&p, value_string("ConverterError", "converter (tcp 10.0.0.5:502 unit 1): link lost"));
        add(&p, value_double("DynamicMaxCurrent", 80));
        add(&p, value_bool("ControllerAlive", false));
        capture_begin(&c);
        ctl_props_print_status(c.f, "org.seccbridge.pistol1", &p);
        out = capture_end(&c);
        assert_non_null(strstr(out, "link down, ready, no fault - converter (tcp 10.0.0.5:502 unit 1): link lost\n"));
        assert_non_null(strstr(out, "in force; operator 0.0 V 80.0 A 0 W\n"));
        assert_non_null(strstr(out, "\ncontroller    absent (no heartbeat; last state Charging)\n"));
        free(out);
}

/* Interface version 3: the power control, the EV information, the CSMS's
 * setpoint and the v3 counters. */
static void test_status_screen_v3(void **state)
{
        static struct ctl_props p;
        struct capture c;
        char *out;

        (void)state;
        charging(&p);
        add(&p, value_unsigned("InterfaceVersion", 3));
        add(&p, value_string("PowerFunction", "Power_Transfer"));
        add(&p, value_string("SetpointsMode", "Range_Mode"));
        add(&p, value_string("OutputContactors", "Close"));
        add(&p, value_bool("LowerOutputVoltage", false));
        add(&p, value_double("EVMinimumVoltage", 250));
        add(&p, value_double("EVPresentVoltage", 398.7));
        add(&p, value_double("EVMinimumChargeCurrent", 1));
        add(&p, value_double("EVMinimumChargePower", 0));
        add(&p, value_double("EVMaximumChargePower", 150000));
        add(&p, value_double("EVMinimumDischargeCurrent", 0));
        add(&p, value_double("EVMaximumDischargeCurrent", 0));
        add(&p, value_double("EVMinimumDischargePower", 0));
        add(&p, value_double("EVMaximumDischargePower", 0));
        add(&p, value_unsigned("MinimumStateOfCharge", 20));
        add(&p, value_unsigned("TargetStateOfCharge", 80));
        add(&p, value_unsigned("MaximumStateOfCharge", 100));
        add(&p, value_signed("EVMinimumEnergyRequest", 5));
        add(&p, value_signed("EVTargetEnergyRequest", 30));
        add(&p, value_signed("EVMaximumEnergyRequest", -12));
        add(&p, value_bool("DynamicTarget", true));
        add(&p, value_double("DynamicTargetCurrent", -32));
        add(&p, value_unsigned("FramesOtherVersion", 7));
        add(&p, value_unsigned("UndefinedPowerFunctions", 2));
        capture_begin(&c);
        ctl_props_print_status(c.f, "org.seccbridge.pistol1", &p);
        out = capture_end(&c);
        assert_non_null(strstr(out, "\ninterface     version 3\n"));
        assert_non_null(strstr(out, "\npower control Power_Transfer, Range_Mode; output contactors Close, lowering no\n"));
        assert_non_null(strstr(out, "\nEV            voltage min 250.0 present 398.7 V; charge min 1.0 A, 0..150000 W; "
                                    "discharge 0.0..0.0 A, 0..0 W\n"));
        assert_non_null(strstr(out, "SoC min 20 target 80 max 100 %; energy request min 5 target 30 max -12 kWh\n"));
        assert_non_null(strstr(out, "\nOCPP          dynamic target -32.0 A\n"));
        assert_non_null(strstr(out, "other interface version 7, undefined power functions 2\n"));
        free(out);

        /* A v2 daemon (no such properties, or empty ones): no v3 lines. */
        charging(&p);
        capture_begin(&c);
        ctl_props_print_status(c.f, "org.seccbridge.pistol1", &p);
        out = capture_end(&c);
        assert_null(strstr(out, "power control"));
        assert_null(strstr(out, "\nEV "));
        assert_null(strstr(out, "OCPP"));
        free(out);
}

static void test_change_lines(void **state)
{
        struct capture c;
        struct ctl_value v;
        char *out;

        (void)state;
        capture_begin(&c);
        v = value_string("ControllerState", "Ending_Charge");
        ctl_props_print_change(c.f, "12:00:01.250", &v);
        v = value_bool("UserStopButton", true);
        ctl_props_print_change(c.f, "12:00:01.250", &v);
        v = value_string("EmergencyStopOrigin", "");
        ctl_props_print_change(c.f, "12:00:01.300", &v);
        out = capture_end(&c);
        assert_string_equal(out, "12:00:01.250 ControllerState=Ending_Charge\n"
                                 "12:00:01.250 UserStopButton=yes\n"
                                 "12:00:01.300 EmergencyStopOrigin=\"\"\n");
        free(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_value_text),
                cmocka_unit_test(test_not_measured),
                cmocka_unit_test(test_json_string_escapes),
                cmocka_unit_test(test_json_object),
                cmocka_unit_test(test_set_replaces_and_finds),
                cmocka_unit_test(test_status_screen),
                cmocka_unit_test(test_status_screen_v3),
                cmocka_unit_test(test_change_lines),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
