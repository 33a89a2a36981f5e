/* SPDX-License-Identifier: MIT */
/*
 * The metrics text (metrics_format.c), read back by a strict parser of the
 * Prometheus text format written here: every line a HELP, a TYPE or a
 * sample; HELP and TYPE once per family, before its samples, which are
 * contiguous; names and label names well formed, label values quoted and
 * escaped; counters named *_total; a pistol label on every sample; no
 * series twice; values numbers.  Then the values themselves, unknown
 * values left out, the state sets with exactly one 1, and a buffer too
 * small.
 *
 *   test-metrics-format --print    writes the sample text to stdout (for
 *                                  `promtool check metrics`, see meson.build)
 */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics_format.h"
#include "telemetry.h"

static char text[METRICS_TEXT_MAX];
static struct telemetry tele;

/* A daemon in the middle of a charge, with some history. */
static void sample_input(struct metrics_input *in, bool known)
{
        struct telemetry_config cfg = { .pistol = 2, .state_min_interval_us = 1000000, .event_window = 4,
                                        .run_id = "abc", .version = "0.1.0" };
        struct telemetry_input ti;

        memset(in, 0, sizeof(*in));
        in->pistol = 2;
        in->version = "0.1.0";
        in->can_interface = "can1";
        in->converter_backend = "modbus-tcp";
        in->start_wall_us = 1709294400123456ull;
        in->status.controller_alive = true;
        in->status.controller_state = CODEC_STATE_CHARGING;
        in->status.in_session = true;
        in->status.charge_started = true;
        in->status.system_enable = true;
        in->status.ev.ev_maximum_voltage_dv = 5000;
        in->status.ev.ev_maximum_current_da = 2000;
        in->status.ev.battery_capacity_kwh = 60;
        in->status.ev.state_of_charge_pct = 40;
        in->status.charging_loop_soc_pct = known ? 57 : SESSION_NOT_REPORTED;
        in->status.finished_state = SESSION_NOT_REPORTED;
        in->status.request = SESSION_REQUEST_CHARGE;
        in->status.request_voltage_dv = 4500;
        in->status.request_current_da = -3;
        in->status.command = (struct power_command){ .mode = POWER_CHARGE, .voltage_dv = 4500, .current_da = 1000 };
        in->status.measurement = (struct power_measurement){
                .voltage_dv = 4101, .current_da = 998,
                .module_temp_c = known ? -12 : POWER_TEMPERATURE_UNKNOWN,
                .enclosure_temp_c = known ? 31 : POWER_TEMPERATURE_UNKNOWN,
                .insulation_kohm = known ? 510 : POWER_INSULATION_UNKNOWN,
                .link_ok = true, .ready = true,
        };
        in->status.limits = (struct power_limits){ .max_voltage_dv = 10000, .max_current_da = 1250,
                                                   .max_power_w = 50000 };
        in->status.counters = (struct session_counters){ .frames_in = 1001, .frames_out = 1002, .malformed = 3,
                                                         .foreign = 4, .rejected_requests = 5,
                                                         .controller_timeouts = 6, .emergency_stops = 7,
                                                         .other_version = 8, .undefined_power_functions = 9 };
        in->status.interface_version = 2;
        in->can = (struct metrics_can){ .up = true, .rx_frames = 11, .rx_kernel_drops = 12, .error_frames = 13,
                                        .tx_frames = 14, .tx_dropped_overflow = 15, .tx_dropped_down = 16,
                                        .tx_errors = 17, .reopens = 18 };
        in->mqtt = (struct metrics_mqtt){ .enabled = true, .connected = true, .connections = 21,
                                          .connection_failures = 22, .disconnections = 23, .online_published = 24 };

        /* One session of 10 s at 36 kW (100 Wh), a second one running. */
        telemetry_init(&tele, &cfg, NULL, 0);
        memset(&ti, 0, sizeof(ti));
        ti.status = in->status;
        ti.can_up = true;
        ti.can_interface = "can1";
        ti.converter_backend = "modbus-tcp";
        ti.converter_error = "";
        ti.status.measurement.voltage_dv = 3600;
        ti.status.measurement.current_da = 1000;
        for (uint64_t t = 1000000; t <= 11000000; t += 1000000)
                telemetry_observe(&tele, &ti, t, 0);
        ti.status.in_session = false;
        telemetry_observe(&tele, &ti, 11000000, 0);
        ti.status.in_session = true;
        telemetry_observe(&tele, &ti, 12000000, 0);
        telemetry_observe(&tele, &ti, 13000000, 0);     /* 10 Wh so far */
        in->telemetry = &tele;
}

/* ---- the strict reader ---- */

struct family {
        char name[128];
        char type[16];
        bool help;
        bool closed;            /* another family came after it */
        int samples;
};

struct parsed {
        struct family fam[256];
        int n_fam;
        char series[1024][256];
        int n_series;
};

static struct parsed parsed;

static bool valid_name(const char *s, size_t n)
{
        if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
                        return false;
        return true;
}

static struct family *family(struct parsed *p, const char *name, size_t n)
{
        for (int i = 0; i < p->n_fam; i++)
                if (strlen(p->fam[i].name) == n && strncmp(p->fam[i].name, name, n) == 0)
                        return &p->fam[i];
        return NULL;
}

static struct family *new_family(struct parsed *p, const char *name, size_t n)
{
        struct family *f;

        assert_true(p->n_fam < 256);
        assert_null(family(p, name, n));
        for (int i = 0; i < p->n_fam; i++)
                p->fam[i].closed = true;
        f = &p->fam[p->n_fam++];
        memset(f, 0, sizeof(*f));
        assert_true(n < sizeof(f->name));
        memcpy(f->name, name, n);
        return f;
}

/* Check one sample line: name{label="value",...} number */
static void parse_sample(struct parsed *p, const char *line)
{
        const char *c = line, *name = line;
        size_t name_len;
        struct family *f;
        bool pistol = false;
        char *end;
        double v;

        while (*c && *c != '{' && *c != ' ')
                c++;
        name_len = (size_t)(c - name);
        if (!valid_name(name, name_len))
                fail_msg("bad metric name in: %s", line);
        f = family(p, name, name_len);
        if (!f || !f->help || !f->type[0])
                fail_msg("sample before its HELP and TYPE: %s", line);
        if (f->closed)
                fail_msg("samples of %s not together: %s", f->name, line);
        f->samples++;
        assert_int_equal(*c, '{');
        c++;
        while (*c != '}') {
                const char *ln = c;

                while (*c && *c != '=')
                        c++;
                if (!valid_name(ln, (size_t)(c - ln)) || strncmp(ln, "__", 2) == 0)
                        fail_msg("bad label name in: %s", line);
                if ((size_t)(c - ln) == 6 && strncmp(ln, "pistol", 6) == 0)
                        pistol = true;
                c++;
                if (*c != '"')
                        fail_msg("label value not quoted in: %s", line);
                c++;
                while (*c && *c != '"') {
                        if (*c == '\\') {
                                c++;
                                if (*c != '\\' && *c != '"' && *c != 'n')
                                        fail_msg("bad escape in: %s", line);
                        }
                        if (*c == '\n' || *c == '\0')
                                fail_msg("unterminated label value in: %s", line);
                        c++;
                }
                c++;
                if (*c == ',')
                        c++;
                else if (*c != '}')
                        fail_msg("bad label list in: %s", line);
        }
        assert_true(pistol);
        c++;
        assert_int_equal(*c, ' ');
        c++;
        errno = 0;
        v = strtod(c, &end);
        if (end == c || *end != '\0' || errno != 0)
                fail_msg("value not a number in: %s", line);
        (void)v;
        /* One series once. */
        for (int i = 0; i < p->n_series; i++) {
                size_t series_len = (size_t)(c - 1 - line);

                if (strlen(p->series[i]) == series_len && strncmp(p->series[i], line, series_len) == 0)
                        fail_msg("series twice: %s", line);
        }
        assert_true(p->n_series < 1024);
        snprintf(p->series[p->n_series++], sizeof(p->series[0]), "%.*s", (int)(c - 1 - line), line);
}

static void parse(struct parsed *p, const char *t)
{
        char line[1024];
        const char *nl;

        memset(p, 0, sizeof(*p));
        assert_true(strlen(t) > 0);
        assert_int_equal(t[strlen(t) - 1], '\n');
        for (; *t; t = nl + 1) {
                size_t n;

                nl = strchr(t, '\n');
                assert_non_null(nl);
                n = (size_t)(nl - t);
                assert_true(n > 0 && n < sizeof(line));
                memcpy(line, t, n);
                line[n] = '\0';
                if (strncmp(line, "# HELP ", 7) == 0) {
                        const char *name = line + 7, *sp = strchr(name, ' ');
                        struct family *f;

                        assert_non_null(sp);
                        assert_true(sp[1] != '\0');
                        if (!valid_name(name, (size_t)(sp - name)))
                                fail_msg("bad name in: %s", line);
                        f = new_family(p, name, (size_t)(sp - name));
                        f->help = true;
                } else if (strncmp(line, "# TYPE ", 7) == 0) {
                        const char *name = line + 7, *sp = strchr(name, ' ');
                        struct family *f;

                        assert_non_null(sp);
                        f = family(p, name, (size_t)(sp - name));
                        if (!f || f->closed || f->type[0] || f->samples)
                                fail_msg("TYPE not right after its HELP: %s", line);
                        snprintf(f->type, sizeof(f->type), "%s", sp + 1);
                        if (strcmp(f->type, "counter") != 0 && strcmp(f->type, "gauge") != 0)
                                fail_msg("unexpected type: %s", line);
                        if (strcmp(f->type, "counter") == 0 &&
                            (strlen(f->name) < 7 || strcmp(f->name + strlen(f->name) - 6, "_total") != 0))
                                fail_msg("counter not named *_total: %s", line);
                        if (strcmp(f->type, "gauge") == 0 && strstr(f->name, "_total"))
                                fail_msg("gauge named like a counter: %s", line);
                } else if (line[0] == '#') {
                        fail_msg("unexpected comment: %s", line);
                } else {
                        parse_sample(p, line);
                }
        }
}

/* The value of one series ("name{pistol=\"2\",...}"), or NULL. */
static const char *value_of(const char *t, const char *series)
{
        static char v[64];
        const char *at = strstr(t, series);
        size_t n;

        while (at && !(at == t || at[-1] == '\n'))
                at = strstr(at + 1, series);
        if (!at || at[strlen(series)] != ' ')
                return NULL;
        at += strlen(series) + 1;
        n = strcspn(at, "\n");
        snprintf(v, sizeof(v), "%.*s", (int)n, at);
        return v;
}

/* ---- tests ---- */

static void test_well_formed(void **state)
{
        struct metrics_input in;
        size_t len = 0;

        (void)state;
        sample_input(&in, true);
        assert_int_equal(metrics_format(&in, text, sizeof(text), &len), 0);
        assert_int_equal(len, strlen(text));
        parse(&parsed, text);
        assert_true(parsed.n_fam >= 60);
        for (int i = 0; i < parsed.n_fam; i++)
                if (parsed.fam[i].samples == 0)
                        fail_msg("family %s has no sample although every value is known", parsed.fam[i].name);
}

static void test_values(void **state)
{
        struct metrics_input in;
        size_t len;

        (void)state;
        sample_input(&in, true);
        assert_int_equal(metrics_format(&in, text, sizeof(text), &len), 0);
        assert_string_equal(value_of(text, "seccbridge_info{pistol=\"2\",version=\"0.1.0\",can_interface=\"can1\","
                                           "converter_backend=\"modbus-tcp\"}"), "1");
        assert_string_equal(value_of(text, "seccbridge_start_time_seconds{pistol=\"2\"}"), "1709294400.123");
        assert_string_equal(value_of(text, "seccbridge_frames_received_total{pistol=\"2\"}"), "1001");
        assert_string_equal(value_of(text, "seccbridge_emergency_stops_total{pistol=\"2\"}"), "7");
        assert_string_equal(value_of(text, "seccbridge_can_send_dropped_frames_total{pistol=\"2\",reason=\"queue_full\"}"), "15");
        assert_string_equal(value_of(text, "seccbridge_can_send_dropped_frames_total{pistol=\"2\",reason=\"interface_down\"}"), "16");
        assert_string_equal(value_of(text, "seccbridge_can_reopens_total{pistol=\"2\"}"), "18");
        assert_string_equal(value_of(text, "seccbridge_controller_state{pistol=\"2\",state=\"Charging\"}"), "1");
        assert_string_equal(value_of(text, "seccbridge_controller_state{pistol=\"2\",state=\"Precharge\"}"), "0");
        assert_string_equal(value_of(text, "seccbridge_command_mode{pistol=\"2\",mode=\"charge\"}"), "1");
        assert_string_equal(value_of(text, "seccbridge_session_fault{pistol=\"2\",fault=\"none\"}"), "1");
        assert_string_equal(value_of(text, "seccbridge_request_current_amperes{pistol=\"2\"}"), "-0.3");
        assert_string_equal(value_of(text, "seccbridge_output_voltage_volts{pistol=\"2\"}"), "410.1");
        assert_string_equal(value_of(text, "seccbridge_output_power_watts{pistol=\"2\"}"), "40927.98");
        assert_string_equal(value_of(text, "seccbridge_module_temperature_celsius{pistol=\"2\"}"), "-12");
        assert_string_equal(value_of(text, "seccbridge_insulation_resistance_ohms{pistol=\"2\"}"), "510000");
        assert_string_equal(value_of(text, "seccbridge_ev_state_of_charge_ratio{pistol=\"2\"}"), "0.57");
        assert_string_equal(value_of(text, "seccbridge_ev_battery_capacity_joules{pistol=\"2\"}"), "216000000");
        assert_string_equal(value_of(text, "seccbridge_max_power_watts{pistol=\"2\"}"), "50000");
        /* 100 Wh + 10 Wh = 110 Wh = 396000 J */
        assert_string_equal(value_of(text, "seccbridge_energy_delivered_joules_total{pistol=\"2\"}"), "396000.0");
        assert_string_equal(value_of(text, "seccbridge_energy_returned_joules_total{pistol=\"2\"}"), "0.0");
        assert_string_equal(value_of(text, "seccbridge_sessions_started_total{pistol=\"2\"}"), "2");
        assert_string_equal(value_of(text, "seccbridge_sessions_ended_total{pistol=\"2\"}"), "1");
        assert_string_equal(value_of(text, "seccbridge_mqtt_connection_failures_total{pistol=\"2\"}"), "22");
        assert_string_equal(value_of(text, "seccbridge_mqtt_published_messages_total{pistol=\"2\",topic=\"online\"}"), "24");
        assert_string_equal(value_of(text, "seccbridge_mqtt_event_queue_capacity{pistol=\"2\"}"), "0");
}

/* Each state set has exactly one series at 1. */
static void test_state_sets_have_one_current_value(void **state)
{
        static const char *const sets[] = {
                "seccbridge_controller_state{", "seccbridge_command_mode{", "seccbridge_session_fault{",
        };
        struct metrics_input in;
        size_t len;

        (void)state;
        sample_input(&in, true);
        /* Every fault of the enum (more of them than modes), each the one
         * at 1 in its turn. */
        assert_true((int)SESSION_FAULT_COUNT > (int)POWER_CHARGE);
        for (int i = 0; i < SESSION_FAULT_COUNT; i++) {
                char current[128];

                in.status.command.mode = (enum power_mode)(i % (POWER_CHARGE + 1));
                in.status.fault = (enum session_fault)i;
                in.status.controller_state = (uint8_t)((i * 3) % (CODEC_STATE_CHARGE_PAUSE + 1));
                assert_int_equal(metrics_format(&in, text, sizeof(text), &len), 0);
                snprintf(current, sizeof(current), "seccbridge_session_fault{pistol=\"2\",fault=\"%s\"}",
                         session_fault_name((enum session_fault)i));
                assert_string_equal(value_of(text, current), "1");
                for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
                        int ones = 0, zeros = 0;

                        for (const char *l = text; (l = strstr(l, sets[s])) != NULL; l++) {
                                if (l != text && l[-1] != '\n')
                                        continue;
                                const char *v = strchr(l, '}') + 2;

                                if (strncmp(v, "1\n", 2) == 0)
                                        ones++;
                                else if (strncmp(v, "0\n", 2) == 0)
                                        zeros++;
                                else
                                        fail_msg("state set value not 0 or 1: %.40s", l);
                        }
                        assert_int_equal(ones, 1);
                        assert_true(zeros >= 4);
                        if (s == 2)
                                assert_int_equal(ones + zeros, SESSION_FAULT_COUNT);
                }
        }
}

/* The counters of the operator interface (D-Bus) that are not the core's
 * own: interface version, frames of the other version, undefined
 * Power_Functions, converter errors (each loss of the link once it was
 * up, each new converter fault). */
static void test_operator_interface_counters(void **state)
{
        struct telemetry_config cfg = { .pistol = 2, .event_window = 1, .run_id = "abc", .version = "0.1.0" };
        struct telemetry_input ti;
        struct metrics_input in;
        size_t len;
        uint64_t t = 0;

        (void)state;
        sample_input(&in, true);
        in.status.interface_version = 3;
        assert_int_equal(metrics_format(&in, text, sizeof(text), &len), 0);
        assert_string_equal(value_of(text, "seccbridge_interface_version{pistol=\"2\"}"), "3");
        assert_string_equal(value_of(text, "seccbridge_frames_other_version_total{pistol=\"2\"}"), "8");
        assert_string_equal(value_of(text, "seccbridge_undefined_power_functions_total{pistol=\"2\"}"), "9");
        assert_string_equal(value_of(text, "seccbridge_converter_errors_total{pistol=\"2\"}"), "0");
        /* v3 before EV_Information_*: the vehicle's values not known,
         * no sample; nor the core's Charging_Loop SoC, 0 in v3. */
        assert_null(strstr(text, "\nseccbridge_ev_max_voltage_volts{"));
        assert_null(strstr(text, "\nseccbridge_ev_max_current_amperes{"));
        assert_null(strstr(text, "\nseccbridge_ev_battery_capacity_joules{"));
        assert_null(strstr(text, "\nseccbridge_ev_state_of_charge_ratio{"));
        in.status.ev_info.voltages_valid = true;
        in.status.ev_info.charge_limits_valid = true;
        in.status.ev_info.battery_valid = true;
        in.status.charging_loop_soc_pct = 0;
        assert_int_equal(metrics_format(&in, text, sizeof(text), &len), 0);
        assert_string_equal(value_of(text, "seccbridge_ev_state_of_charge_ratio{pistol=\"2\"}"), "0.40");
        assert_string_equal(value_of(text, "seccbridge_ev_max_voltage_volts{pistol=\"2\"}"), "500.0");
        assert_string_equal(value_of(text, "seccbridge_ev_max_current_amperes{pistol=\"2\"}"), "200.0");
        assert_string_equal(value_of(text, "seccbridge_ev_battery_capacity_joules{pistol=\"2\"}"), "216000000");

        /* Down before it was ever up: no error; then two losses and a
         * fault. */
        telemetry_init(&tele, &cfg, NULL, 0);
        memset(&ti, 0, sizeof(ti));
        ti.status = in.status;
        ti.can_up = true;
        ti.can_interface = "can1";
        ti.converter_backend = "sim";
        ti.converter_error = "";
        ti.status.measurement.link_ok = false;
        telemetry_observe(&tele, &ti, t += 1000, 0);
        for (int loss = 0; loss < 2; loss++) {
                ti.status.measurement.link_ok = true;
                telemetry_observe(&tele, &ti, t += 1000, 0);
                ti.status.measurement.link_ok = false;
                telemetry_observe(&tele, &ti, t += 1000, 0);
                telemetry_observe(&tele, &ti, t += 1000, 0);
        }
        ti.status.measurement.link_ok = true;
        ti.status.measurement.fault = true;
        telemetry_observe(&tele, &ti, t += 1000, 0);
        telemetry_observe(&tele, &ti, t += 1000, 0);
        in.telemetry = &tele;
        assert_int_equal(metrics_format(&in, text, sizeof(text), &len), 0);
        assert_string_equal(value_of(text, "seccbridge_converter_errors_total{pistol=\"2\"}"), "3");
        parse(&parsed, text);
}

/* Unknown values have no sample (not a made-up 0), and outside a session
 * neither have the vehicle's. */
static void test_unknown_values_left_out(void **state)
{
        struct metrics_input in;
        size_t len;

        (void)state;
        sample_input(&in, false);
        assert_int_equal(metrics_format(&in, text, sizeof(text), &len), 0);
        parse(&parsed, text);
        assert_null(value_of(text, "seccbridge_module_temperature_celsius{pistol=\"2\"}"));
        assert_null(value_of(text, "seccbridge_enclosure_temperature_celsius{pistol=\"2\"}"));
        assert_null(value_of(text, "seccbridge_insulation_resistance_ohms{pistol=\"2\"}"));
        /* No Charging_Loop SoC: New_Charge_Session's. */
        assert_string_equal(value_of(text, "seccbridge_ev_state_of_charge_ratio{pistol=\"2\"}"), "0.40");
        in.status.in_session = false;
        assert_int_equal(metrics_format(&in, text, sizeof(text), &len), 0);
        parse(&parsed, text);
        assert_null(value_of(text, "seccbridge_ev_state_of_charge_ratio{pistol=\"2\"}"));
        assert_null(value_of(text, "seccbridge_ev_max_voltage_volts{pistol=\"2\"}"));
        assert_string_equal(value_of(text, "seccbridge_session_active{pistol=\"2\"}"), "0");
}

static void test_label_values_escaped(void **state)
{
        struct metrics_input in;
        size_t len;

        (void)state;
        sample_input(&in, true);
        in.version = "1.0 \"beta\"\\x\nz";
        assert_int_equal(metrics_format(&in, text, sizeof(text), &len), 0);
        parse(&parsed, text);
        assert_non_null(strstr(text, "version=\"1.0 \\\"beta\\\"\\\\x\\nz\""));
}

static void test_too_small(void **state)
{
        struct metrics_input in;
        size_t len = 0, full;

        (void)state;
        sample_input(&in, true);
        assert_int_equal(metrics_format(&in, text, sizeof(text), &full), 0);
        assert_int_equal(metrics_format(&in, text, full, &len), -ENOSPC);
        assert_int_equal(metrics_format(&in, text, full + 1, &len), 0);
        assert_int_equal(len, full);
}

int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_well_formed),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_state_sets_have_one_current_value),
                cmocka_unit_test(test_operator_interface_counters),
                cmocka_unit_test(test_unknown_values_left_out),
                cmocka_unit_test(test_label_values_escaped),
                cmocka_unit_test(test_too_small),
        };

        if (argc == 2 && strcmp(argv[1], "--print") == 0) {
                struct metrics_input in;
                size_t len;

                sample_input(&in, true);
                if (metrics_format(&in, text, sizeof(text), &len) < 0)
                        return 1;
                fwrite(text, 1, len, stdout);
                return 0;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
