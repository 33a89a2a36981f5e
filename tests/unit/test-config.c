/* SPDX-License-Identifier: MIT */
/*
 * One source of defaults: the key table of src/config.c carries the default
 * of every key, and
 *  - a file with nothing but the required [limits] loads to the protocol
 *    core's own defaults (session_config_defaults()) and to those of the
 *    simulated converter and the Modbus settings;
 *  - every default, written out in a file, is a valid value that loads to
 *    the same configuration;
 *  - conf/seccbridge.conf shows every key of the table with the table's
 *    default (seccbridge.conf(5) is held to that file by check_doc_config.py).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

struct log_settings log_settings = { .max_priority = LOG_ERR, .prefix = false };

#define LIMITS "[limits]\nmax_voltage = 1000\nmax_current = 125\nmax_power = 50000\n"

static int load_text(const char *text, struct config *cfg, struct config_error *err)
{
        FILE *f = fmemopen((void *)text, strlen(text), "r");
        int r;

        assert_non_null(f);
        r = config_load_stream(f, "test.conf", cfg, err);
        fclose(f);
        return r;
}

static void load_ok(const char *text, struct config *cfg)
{
        struct config_error err;
        char msg[1024];

        if (load_text(text, cfg, &err) < 0) {
                config_error_format(&err, msg, sizeof(msg));
                fail_msg("%s", msg);
        }
}

/* Every field of the session's configuration that a key sets, and those
 * that no key sets: all of them but the limits and the pistol. */
static void assert_session_equal(const struct session_config *a, const struct session_config *b)
{
        assert_int_equal(a->controller_timeout_us, b->controller_timeout_us);
        assert_int_equal(a->status_period_us, b->status_period_us);
        assert_int_equal(a->limits_min_interval_us, b->limits_min_interval_us);
        assert_int_equal(a->sequence_resend_us, b->sequence_resend_us);
        assert_int_equal(a->button_hold_us, b->button_hold_us);
        assert_int_equal(a->estop_release_us, b->estop_release_us);
        assert_int_equal(a->current_ramp_da_per_s, b->current_ramp_da_per_s);
        assert_int_equal(a->ramp_step_us, b->ramp_step_us);
        assert_int_equal(a->use_sequence_flags, b->use_sequence_flags);
        assert_int_equal(a->start_authorisation, b->start_authorisation);
        assert_int_equal(a->ccs_authorisation, b->ccs_authorisation);
        assert_int_equal(a->charge_parameters, b->charge_parameters);
        assert_int_equal(a->insulation_min_ohm_per_volt, b->insulation_min_ohm_per_volt);
        assert_int_equal(a->ev_overvoltage_margin_dv, b->ev_overvoltage_margin_dv);
        assert_int_equal(a->ev_overvoltage_time_us, b->ev_overvoltage_time_us);
        assert_int_equal(a->interface_version, b->interface_version);
        assert_int_equal(a->has_output_contactors, b->has_output_contactors);
        assert_int_equal(a->bidirectional, b->bidirectional);
        assert_int_equal(a->range_policy, b->range_policy);
        assert_int_equal(a->direction_change_timeout_us, b->direction_change_timeout_us);
}

static void test_empty_config_is_the_core_defaults(void **state)
{
        struct session_config core;
        struct sim_params sim;
        struct modbus_params mb;
        static struct config cfg;

        (void)state;
        session_config_defaults(&core);
        sim_params_defaults(&sim);
        modbus_params_defaults(&mb);
        load_ok(LIMITS, &cfg);

        assert_session_equal(&cfg.session, &core);
        assert_int_equal(cfg.session.pistol, core.pistol);
        assert_int_equal(cfg.can.pistol_index, core.pistol);
        /* The limits are the file's; the caps have defaults of their own. */
        assert_int_equal(cfg.session.limits.max_voltage_dv, 10000);
        assert_int_equal(cfg.session.limits.max_current_da, 1250);
        assert_int_equal(cfg.session.limits.max_power_w, 50000);
        assert_int_equal(cfg.session.limits.precharge_max_current_da, 20);
        assert_int_equal(cfg.session.limits.insulation_max_current_da, 20);

        assert_string_equal(cfg.can.interface, "can0");
        assert_int_equal(cfg.can.bitrate, 0);
        assert_int_equal(cfg.can.restart_ms, 0);
        assert_string_equal(cfg.converter.backend, "sim");
        assert_true(cfg.dbus.enable);
        assert_string_equal(cfg.dbus.address, "");

        assert_memory_equal(&cfg.sim, &sim, sizeof(sim));
        assert_int_equal(cfg.modbus.transport, MODBUS_TRANSPORT_NONE);
        assert_int_equal(cfg.modbus.poll_interval_ms, mb.poll_interval_ms);
        assert_int_equal(cfg.modbus.setpoint_refresh_ms, mb.setpoint_refresh_ms);
        assert_int_equal(cfg.modbus.link_timeout_ms, mb.link_timeout_ms);
        assert_int_equal(cfg.insulation_monitor.transport, MODBUS_TRANSPORT_NONE);
}

/* The whole table written out with its defaults: valid, and the same
 * configuration as the empty file. */
static void test_every_default_is_a_valid_value(void **state)
{
        static char text[8192];
        static struct config empty, full;
        const char *section, *name, *def, *last = "";
        size_t n = 0, keys = 0;

        (void)state;
        load_ok(LIMITS, &empty);
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", LIMITS);
        for (size_t i = 0; config_key_at(i, &section, &name, &def); i++) {
                if (!def)
                        continue;
                /* (a second [limits] header goes on with that section) */
                if (strcmp(section, last) != 0)
                        n += (size_t)snprintf(text + n, sizeof(text) - n, "[%s]\n", section);
                last = section;
                n += (size_t)snprintf(text + n, sizeof(text) - n, "%s = %s\n", name, def);
                keys++;
                assert_true(n < sizeof(text));
        }
        load_ok(text, &full);
        assert_true(keys >= 20);
        assert_session_equal(&full.session, &empty.session);
        assert_memory_equal(&full.session.limits, &empty.session.limits, sizeof(empty.session.limits));
        assert_int_equal(full.session.pistol, empty.session.pistol);
        assert_string_equal(full.can.interface, empty.can.interface);
        assert_string_equal(full.converter.backend, empty.converter.backend);
        assert_int_equal(full.dbus.enable, empty.dbus.enable);
}

/* "#key = value" lines of a section of the shipped file. */
static bool shipped_default(const char *section, const char *name, char *value, size_t len, bool *is_set)
{
        char path[1024], line[512], cur[64] = "";
        bool found = false;
        FILE *f;

        snprintf(path, sizeof(path), "%s/conf/seccbridge.conf", SOURCE_ROOT);
        f = fopen(path, "r");
        assert_non_null(f);
        while (!found && fgets(line, sizeof(line), f)) {
                char key[64], val[256] = "";
                const char *p = line;
                bool commented = false;

                line[strcspn(line, "\n")] = '\0';
                if (sscanf(line, "[%63[a-z_0-9]]", cur) == 1)
                        continue;
                if (*p == '#') {
                        commented = true;
                        p++;
                }
                if (sscanf(p, "%63[a-z_0-9] = %255[^\n]", key, val) < 1 || strcmp(cur, section) != 0 ||
                    strcmp(key, name) != 0 || !strstr(p, " ="))
                        continue;
                snprintf(value, len, "%s", val);
                *is_set = !commented;
                found = true;
        }
        fclose(f);
        return found;
}

static bool same_value(const char *a, const char *b)
{
        char *ea, *eb;
        double x = strtod(a, &ea), y = strtod(b, &eb);

        if (*a && *b && *ea == '\0' && *eb == '\0')
                return x == y;
        return strcmp(a, b) == 0;
}

static void test_shipped_file_shows_the_table_defaults(void **state)
{
        const char *section, *name, *def;
        char value[256];
        bool is_set = false;

        (void)state;
        for (size_t i = 0; config_key_at(i, &section, &name, &def); i++) {
                if (!shipped_default(section, name, value, sizeof(value), &is_set))
                        fail_msg("[%s] %s is not in conf/seccbridge.conf", section, name);
                if (!def) {
                        /* A required key is set in the file, as an example. */
                        assert_true(is_set);
                        continue;
                }
                if (is_set || !same_value(value, def))
                        fail_msg("[%s] %s: the table's default is '%s', conf/seccbridge.conf shows '#%s = %s'",
                                 section, name, def, name, value);
        }
}

static void load_fails(const char *text, const char *expect)
{
        static struct config cfg;
        struct config_error err;
        char msg[1024];

        assert_true(load_text(text, &cfg, &err) < 0);
        config_error_format(&err, msg, sizeof(msg));
        if (strcmp(msg, expect) != 0)
                fail_msg("got '%s', expected '%s'", msg, expect);
}

/* B1: a bidirectional charger: interface v3, the flag, both discharge
 * limits; every mismatch names its key and line. */
static void test_bidirectional_keys(void **state)
{
        static struct config cfg;

        (void)state;
        load_ok("[can]\ninterface_version = 3\n" LIMITS "max_discharge_current = 80\nmax_discharge_power = 30000\n"
                "[v3]\nbidirectional = true\nrange_policy = operator\n", &cfg);
        assert_true(cfg.session.bidirectional);
        assert_int_equal(cfg.session.limits.max_discharge_current_da, 800);
        assert_int_equal(cfg.session.limits.max_discharge_power_w, 30000);
        assert_int_equal(cfg.session.range_policy, SESSION_RANGE_OPERATOR);
        load_ok(LIMITS "[v3]\nrange_policy = max\n", &cfg);
        assert_false(cfg.session.bidirectional);
        assert_int_equal(cfg.session.range_policy, SESSION_RANGE_MAX);

        load_fails(LIMITS "[v3]\nbidirectional = true\n",
                   "test.conf:6: v3.bidirectional: needs can.interface_version = 3 (interface v2 never discharges)");
        load_fails("[can]\ninterface_version = 3\n" LIMITS "max_discharge_current = 80\n[v3]\nbidirectional = true\n",
                   "test.conf:9: v3.bidirectional: needs limits.max_discharge_current and "
                   "limits.max_discharge_power above 0");
        load_fails("[can]\ninterface_version = 3\n" LIMITS "max_discharge_power = 30000\n",
                   "test.conf:7: limits.max_discharge_power: a discharge limit needs v3.bidirectional = true");
        load_fails(LIMITS "max_discharge_current = 4000\n",
                   "test.conf:5: limits.max_discharge_current: 4000 A is out of range (0, or 0.1 to 3276.7)");
        load_fails(LIMITS "[v3]\nrange_policy = min\n",
                   "test.conf:6: v3.range_policy: 'min' is none of max, ocpp, operator");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty_config_is_the_core_defaults),
                cmocka_unit_test(test_every_default_is_a_valid_value),
                cmocka_unit_test(test_shipped_file_shows_the_table_defaults),
                cmocka_unit_test(test_bidirectional_keys),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
