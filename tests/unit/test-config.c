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
        assert_int_equal(a->supervisor, b->supervisor);
        assert_int_equal(a->io.board, b->io.board);
        assert_int_equal(a->io.period_us, b->io.period_us);
        assert_memory_equal(&a->io.safe, &b->io.safe, sizeof(a->io.safe));
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

static void io_load_fails(const char *text, const char *expect)
{
        static struct config cfg;
        struct config_error err;
        char msg[1024];

        assert_int_equal(load_text(text, &cfg, &err), -EINVAL);
        config_error_format(&err, msg, sizeof(msg));
        if (!strstr(msg, expect))
                fail_msg("'%s' does not say '%s'", msg, expect);
}

/* Supervisor mode and the controller's outputs. */
static void test_backend_none_and_controller_io(void **state)
{
        static struct config cfg;

        (void)state;
        load_ok(LIMITS "[converter]\nbackend = none\n", &cfg);
        assert_true(cfg.session.supervisor);
        assert_string_equal(cfg.converter.backend, "none");
        load_ok(LIMITS, &cfg);
        assert_false(cfg.session.supervisor);

        load_ok(LIMITS "[controller_io]\nboard = adm-cs-secc\nsafe_on = output4, LED2\n", &cfg);
        assert_int_equal(cfg.session.io.board, CONTROLLER_IO_BOARD_ADM_CS_SECC);
        assert_true(cfg.session.io.safe.digital[3]);
        assert_false(cfg.session.io.safe.digital[0]);
        assert_int_equal(cfg.session.io.safe.led[1], 100);
        assert_int_equal(cfg.session.io.safe.led[0], 0);

        io_load_fails(LIMITS "[controller_io]\nboard = adm-cs-spcc\nsafe_on = output3\n",
                   "test.conf:7: controller_io.safe_on: output3: board adm-cs-spcc has 2 digital outputs");
        io_load_fails(LIMITS "[controller_io]\nsafe_on = led1\n",
                   "test.conf:6: controller_io.safe_on: no board's outputs are driven");
        io_load_fails(LIMITS "[controller_io]\nsafe_on = output1 relay\n",
                   "test.conf:6: controller_io.safe_on: 'relay' is not an output");
        io_load_fails(LIMITS "[controller_io]\nboard = secc\n", "test.conf:6: controller_io.board: 'secc' is not a board");
        io_load_fails(LIMITS "[converter]\nbackend = nothing\n", "unknown backend 'nothing'");
}

/* ---- [mqtt] and [metrics] ---- */

/* The file is refused with "test.conf:LINE: KEY: ...reason...". */
static void load_fails(const char *text, unsigned line, const char *key, const char *reason)
{
        static struct config cfg;
        struct config_error err;
        char msg[1024], want[128];

        memset(&err, 0, sizeof(err));
        if (load_text(text, &cfg, &err) == 0)
                fail_msg("accepted, expected %s on line %u: %s", key, line, text);
        config_error_format(&err, msg, sizeof(msg));
        snprintf(want, sizeof(want), "test.conf:%u: %s: ", line, key);
        if (strncmp(msg, want, strlen(want)) != 0 || !strstr(err.reason, reason))
                fail_msg("refused with '%s', expected '%s...%s...'", msg, want, reason);
}

/* An empty file: no MQTT, the metrics file in the runtime directory, and
 * the defaults of telemetry_params.c's table, which are those of the key
 * table in seccbridge.conf(5). */
static void test_telemetry_defaults(void **state)
{
        static struct config cfg;
        struct telemetry_params def;
        const struct mqtt_params *m = &cfg.telemetry.mqtt;

        (void)state;
        load_ok(LIMITS, &cfg);
        assert_false(m->enable);
        assert_string_equal(m->host, "127.0.0.1");
        assert_int_equal(m->port, 1883);
        assert_false(m->host_set);
        assert_false(m->port_set);
        assert_string_equal(m->socket, "");
        assert_string_equal(m->ca_file, "");
        assert_string_equal(m->cert_file, "");
        assert_string_equal(m->key_file, "");
        assert_string_equal(m->username, "");
        assert_string_equal(m->password_file, "");
        assert_string_equal(m->client_id, "");
        assert_string_equal(m->topic_prefix, "");
        assert_int_equal(m->keepalive_s, 30);
        assert_true(m->state_max_per_s == 1.0);
        assert_int_equal(telemetry_params_state_interval_us(m), 1000000);
        assert_int_equal(m->event_queue_size, 256);
        assert_int_equal(m->reconnect_max_ms, 30000);
        assert_string_equal(cfg.telemetry.metrics.path, "/run/seccbridge/metrics.prom");
        assert_int_equal(cfg.telemetry.metrics.interval_ms, 10000);
        telemetry_params_defaults(&def);
        assert_memory_equal(&cfg.telemetry, &def, sizeof(def));

        /* A whole section accepted, the values as written. */
        /* (publishing: the files must be readable; any file will do) */
        load_ok(LIMITS "[mqtt]\nenable = true\nhost = ::1\nport = 8883\nca_file = " SOURCE_ROOT "/LICENSE\n"
                       "cert_file = " SOURCE_ROOT "/LICENSE\nkey_file = " SOURCE_ROOT "/LICENSE\nusername = gw\n"
                       "client_id = gw-1:a.b_c\ntopic_prefix = fleet/site-1/gw\nkeepalive_s = 5\n"
                       "state_max_per_s = 0.5\nevent_queue_size = 10000\nreconnect_max_ms = 600000\n"
                       "[metrics]\npath =\ninterval_ms = 1000\n",
                &cfg);
        assert_true(m->enable);
        assert_string_equal(m->host, "::1");
        assert_int_equal(m->port, 8883);
        assert_true(m->host_set && m->port_set);
        assert_string_equal(m->topic_prefix, "fleet/site-1/gw");
        assert_int_equal(telemetry_params_state_interval_us(m), 2000000);
        assert_int_equal(m->event_queue_size, 10000);
        assert_string_equal(cfg.telemetry.metrics.path, "");
        assert_int_equal(cfg.telemetry.metrics.interval_ms, 1000);
}

/* Every refusal names the file, the line, the key and why.  LIMITS takes
 * lines 1-4: [mqtt] or [metrics] is line 5, its first key line 6. */
static void test_telemetry_refusals(void **state)
{
        (void)state;
        /* Names are not looked up: a DNS query would hold up the CAN side. */
        load_fails(LIMITS "[mqtt]\nenable = true\nhost = broker.example.com\n", 7, "mqtt.host",
                   "'broker.example.com' is not a numeric IPv4 or IPv6 address");
        load_fails(LIMITS "[mqtt]\nhost = localhost\n", 6, "mqtt.host", "not a numeric");
        load_fails(LIMITS "[mqtt]\nhost = 127.0.0.1\nsocket = /run/mosquitto/mosquitto.sock\n", 7, "mqtt.socket",
                   "either socket or host and port, not both");
        load_fails(LIMITS "[mqtt]\nsocket = /run/mosquitto/mosquitto.sock\nport = 1883\n", 6, "mqtt.socket",
                   "either socket or host and port, not both");
        load_fails(LIMITS "[mqtt]\nsocket = mosquitto.sock\n", 6, "mqtt.socket", "is not an absolute path");
        /* A key not in the file is named with its section's line. */
        load_fails(LIMITS "[mqtt]\nca_file = /etc/ca.crt\ncert_file = /etc/c.crt\n", 5, "mqtt.key_file",
                   "cert_file and key_file go together");
        load_fails(LIMITS "[mqtt]\nca_file = /etc/ca.crt\nkey_file = /etc/c.key\n", 5, "mqtt.cert_file",
                   "cert_file and key_file go together");
        load_fails(LIMITS "[mqtt]\ncert_file = /etc/c.crt\nkey_file = /etc/c.key\n", 6, "mqtt.cert_file",
                   "needs TLS: set ca_file");
        load_fails(LIMITS "[mqtt]\npassword_file = /etc/seccbridge/mqtt-password\n", 6, "mqtt.password_file",
                   "a password needs a username");
        /* Files are read only when publishing, and then must be readable. */
        load_fails(LIMITS "[mqtt]\nenable = true\nusername = gw\npassword_file = /nonexistent/mqtt-password\n", 8,
                   "mqtt.password_file", "cannot read /nonexistent/mqtt-password");
        load_fails(LIMITS "[mqtt]\ntopic_prefix = fleet/+/gw\n", 6, "mqtt.topic_prefix",
                   "contains an MQTT wildcard (+ or #)");
        load_fails(LIMITS "[mqtt]\ntopic_prefix = fleet/#\n", 6, "mqtt.topic_prefix", "MQTT wildcard");
        load_fails(LIMITS "[mqtt]\ntopic_prefix = $SYS/gw\n", 6, "mqtt.topic_prefix", "reserved for the broker");
        load_fails(LIMITS "[mqtt]\ntopic_prefix = fleet//gw\n", 6, "mqtt.topic_prefix", "empty topic level");
        load_fails(LIMITS "[mqtt]\nclient_id = gw 1\n", 6, "mqtt.client_id", "letters, digits and - _ . : only");
        /* Out of range, below and above, and what is not a number. */
        load_fails(LIMITS "[mqtt]\nport = 0\n", 6, "mqtt.port", "0 is out of range (1 to 65535)");
        load_fails(LIMITS "[mqtt]\nport = 65536\n", 6, "mqtt.port", "65536 is out of range (1 to 65535)");
        load_fails(LIMITS "[mqtt]\nkeepalive_s = 4\n", 6, "mqtt.keepalive_s", "4 s is out of range (5 to 3600)");
        load_fails(LIMITS "[mqtt]\nstate_max_per_s = 21\n", 6, "mqtt.state_max_per_s",
                   "21 per second is out of range (0.01 to 20)");
        load_fails(LIMITS "[mqtt]\nstate_max_per_s = 0\n", 6, "mqtt.state_max_per_s", "is out of range");
        load_fails(LIMITS "[mqtt]\nevent_queue_size = 0\n", 6, "mqtt.event_queue_size",
                   "0 events is out of range (1 to 10000)");
        load_fails(LIMITS "[mqtt]\nevent_queue_size = 10001\n", 6, "mqtt.event_queue_size", "is out of range");
        load_fails(LIMITS "[mqtt]\nreconnect_max_ms = 999\n", 6, "mqtt.reconnect_max_ms",
                   "999 ms is out of range (1000 to 600000)");
        load_fails(LIMITS "[mqtt]\nkeepalive_s = -30\n", 6, "mqtt.keepalive_s", "negative values are not allowed");
        load_fails(LIMITS "[mqtt]\nport = 18.5\n", 6, "mqtt.port", "'18.5' is not a whole number");
        load_fails(LIMITS "[mqtt]\nenable = yes please\n", 6, "mqtt.enable", "is not a boolean");
        load_fails(LIMITS "[metrics]\ninterval_ms = 999\n", 6, "metrics.interval_ms",
                   "999 ms is out of range (1000 to 3600000)");
        load_fails(LIMITS "[metrics]\npath = metrics.prom\n", 6, "metrics.path", "is not an absolute path");
        load_fails(LIMITS "[metrics]\npath = /run/seccbridge/\n", 6, "metrics.path", "names a directory");
        /* Unknown keys, and a key set twice. */
        load_fails(LIMITS "[mqtt]\nenable = false\nhots = 192.0.2.1\n", 7, "mqtt.hots", "unknown key");
        load_fails(LIMITS "[metrics]\nfile = /run/m.prom\n", 6, "metrics.file", "unknown key");
        load_fails(LIMITS "[mqtt]\nport = 1883\nenable = true\nport = 8883\n", 8, "mqtt.port",
                   "set twice (first on line 6)");
        load_fails(LIMITS "[metrics]\ninterval_ms = 1000\n[mqtt]\nenable = false\n[metrics]\ninterval_ms = 2000\n",
                   10, "metrics.interval_ms", "set twice (first on line 6)");
}

static void exact_load_fails(const char *text, const char *expect)
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

        exact_load_fails(LIMITS "[v3]\nbidirectional = true\n",
                   "test.conf:6: v3.bidirectional: needs can.interface_version = 3 (interface v2 never discharges)");
        exact_load_fails("[can]\ninterface_version = 3\n" LIMITS "max_discharge_current = 80\n[v3]\nbidirectional = true\n",
                   "test.conf:9: v3.bidirectional: needs limits.max_discharge_current and "
                   "limits.max_discharge_power above 0");
        exact_load_fails("[can]\ninterface_version = 3\n" LIMITS "max_discharge_power = 30000\n",
                   "test.conf:7: limits.max_discharge_power: a discharge limit needs v3.bidirectional = true");
        exact_load_fails(LIMITS "max_discharge_current = 4000\n",
                   "test.conf:5: limits.max_discharge_current: 4000 A is out of range (0, or 0.1 to 3276.7)");
        exact_load_fails(LIMITS "[v3]\nrange_policy = min\n",
                   "test.conf:6: v3.range_policy: 'min' is none of max, ocpp, operator");
}

/* ---- several pistols: [pistol NAME], [converter NAME], [modbus-line NAME] ---- */

/* The one-pistol format is pistols[0] on units[0], from the process-wide
 * sections. */
static void test_one_pistol_format_is_one_pistol(void **state)
{
        static struct config cfg;

        (void)state;
        load_ok("[can]\npistol_index = 4\n" LIMITS "[converter]\nbackend = sim\n", &cfg);
        assert_false(cfg.several);
        assert_int_equal(cfg.n_pistols, 1);
        assert_int_equal(cfg.n_units, 1);
        assert_int_equal(cfg.pistols[0].session.pistol, 4);
        assert_memory_equal(&cfg.pistols[0].session, &cfg.session, sizeof(cfg.session));
        assert_string_equal(cfg.units[0].backend, "sim");
        assert_int_equal(cfg.sharing.pistols, 1);
        assert_int_equal(cfg.sharing.converters, 1);
        assert_int_equal(cfg.sharing.offer_us, 5000000);
        assert_int_equal(cfg.sharing.claim_timeout_us, 120000000ull);
}

#define TWO_SIMS "[converter a]\nbackend = sim\n[converter b]\nbackend = sim\nmax_current_a = 50\n"

static void test_two_pistols_two_converters(void **state)
{
        static struct config cfg;

        (void)state;
        load_ok(LIMITS TWO_SIMS
                "[pistol ccs]\npistol_index = 1\nconverter = a\n"
                "[pistol chademo]\npistol_index = 2\nconverter = b\nmax_current = 100\nstart_authorisation = external\n",
                &cfg);
        assert_true(cfg.several);
        assert_int_equal(cfg.n_pistols, 2);
        assert_int_equal(cfg.n_units, 2);
        assert_string_equal(cfg.pistols[0].name, "ccs");
        assert_string_equal(cfg.pistols[1].name, "chademo");
        assert_int_equal(cfg.pistols[0].session.pistol, 1);
        assert_int_equal(cfg.pistols[1].session.pistol, 2);
        assert_int_equal(cfg.pistols[0].session.limits.max_current_da, 1250);
        assert_int_equal(cfg.pistols[1].session.limits.max_current_da, 1000);
        assert_int_equal(cfg.pistols[1].session.limits.max_voltage_dv, 10000);
        assert_int_equal(cfg.pistols[0].session.start_authorisation, SESSION_FLAG_AUTO);
        assert_int_equal(cfg.pistols[1].session.start_authorisation, SESSION_FLAG_EXTERNAL);
        assert_int_equal(cfg.pistols[0].unit, 0);
        assert_int_equal(cfg.pistols[1].unit, 1);
        assert_string_equal(cfg.units[1].name, "b");
        assert_true(cfg.units[1].sim.max_current_a == 50.0);
        assert_true(cfg.units[0].sim.max_current_a == cfg.sim.max_current_a);
        assert_int_equal(cfg.sharing.pistols, 2);
        assert_int_equal(cfg.sharing.converters, 2);
        assert_int_equal(cfg.sharing.converter_of[1], 1);
        /* The one-pistol fields show the first pistol. */
        assert_int_equal(cfg.can.pistol_index, 1);
}

static void test_shared_converter_and_sharing(void **state)
{
        static struct config cfg;

        (void)state;
        /* Without [converter NAME]: both on the converter of [converter]. */
        load_ok("[sharing]\npolicy = priority\noffer_ms = 2000\nidle_timeout_s = 0\n"
                "[pistol a]\npistol_index = 1\nmax_voltage = 500\nmax_current = 50\nmax_power = 20000\n"
                "[pistol b]\npistol_index = 2\npriority = 7\nmax_voltage = 920\nmax_current = 200\nmax_power = 150000\n",
                &cfg);
        assert_int_equal(cfg.n_units, 1);
        assert_int_equal(cfg.pistols[0].unit, 0);
        assert_int_equal(cfg.pistols[1].unit, 0);
        assert_int_equal(cfg.sharing.policy, ARBITER_POLICY_PRIORITY);
        assert_int_equal(cfg.sharing.priority[0], 0);
        assert_int_equal(cfg.sharing.priority[1], 7);
        assert_int_equal(cfg.sharing.offer_us, 2000000);
        assert_int_equal(cfg.sharing.idle_timeout_us, 0);
        assert_int_equal(cfg.pistols[0].session.limits.max_voltage_dv, 5000);
        assert_int_equal(cfg.pistols[1].session.limits.max_power_w, 150000);
        assert_int_equal(arbiter_config_check(&cfg.sharing), 0);
}

static void test_two_converters_on_one_modbus_line(void **state)
{
        static struct config cfg;
        char text[2048];

        (void)state;
        snprintf(text, sizeof(text),
                 LIMITS "[modbus]\nprofile = %s/conf/profiles/generic.conf\npoll_interval_ms = 200\n"
                 "[modbus-line bus]\ndevice = /dev/ttyS7\nbaudrate = 19200\nparity = even\n"
                 "[converter left]\nbackend = modbus-rtu\nline = bus\nunit_id = 3\n"
                 "[converter right]\nbackend = modbus-rtu\nline = bus\nunit_id = 4\n"
                 "[pistol one]\npistol_index = 1\nconverter = left\n"
                 "[pistol two]\npistol_index = 2\nconverter = right\n",
                 SOURCE_ROOT);
        load_ok(text, &cfg);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(cfg.units[i].modbus.transport, MODBUS_TRANSPORT_RTU);
                assert_string_equal(cfg.units[i].modbus.device, "/dev/ttyS7");
                assert_int_equal(cfg.units[i].modbus.baudrate, 19200);
                assert_int_equal(cfg.units[i].modbus.poll_interval_ms, 200);
                assert_string_equal(cfg.units[i].line, "bus");
        }
        assert_int_equal(cfg.units[0].modbus.unit_id, 3);
        assert_int_equal(cfg.units[1].modbus.unit_id, 4);
}

static void several_fails(const char *text, const char *expect)
{
        io_load_fails(text, expect);
}

static void test_several_pistols_refusals(void **state)
{
        (void)state;
        several_fails(LIMITS "[pistol a]\npistol_index = 1\n[pistol b]\npistol_index = 1\n",
                      "test.conf:8: pistol b.pistol_index: 1 is also the index of [pistol a]");
        several_fails(LIMITS "[pistol a]\npistol_index = 1\nconverter = nope\n",
                      "test.conf:7: pistol a.converter: no [converter nope] in this file");
        several_fails(LIMITS "[sequence]\nuse_sequence_flags = false\n"
                      "[pistol a]\npistol_index = 1\n[pistol b]\npistol_index = 2\n",
                      "test.conf:9: pistol b.converter: shares a converter, which needs sequence.use_sequence_flags = true");
        several_fails(LIMITS "[pistol a]\n", "test.conf:5: pistol a.pistol_index: required key missing");
        several_fails("[limits]\nmax_voltage = 1000\nmax_power = 50000\n[pistol a]\npistol_index = 1\n",
                      "test.conf:4: pistol a.max_current: required key missing");
        several_fails(LIMITS "[pistol a]\npistol_index = 1\n[pistol a]\n",
                      "test.conf:7: [pistol a]: declared twice (first on line 5)");
        several_fails(LIMITS "[pistol a b]\n", "test.conf:5: [pistol a b]: 'a b' is not a name");
        several_fails("[can]\npistol_index = 2\n" LIMITS "[pistol a]\npistol_index = 1\n",
                      "test.conf:2: can.pistol_index: with [pistol NAME] sections");
        several_fails(LIMITS "[pistol a]\npistol_index = 1\ncolour = red\n",
                      "test.conf:7: pistol a.colour: unknown key");
        several_fails(LIMITS "[pistol a]\npistol_index = 1\nmax_current = 4000\n",
                      "test.conf:7: pistol a.max_current: 4000 A is out of range");
        several_fails(LIMITS "[pistol a]\npistol_index = 1\nmax_current = 1\n",
                      "pistol a.precharge_max_current: 2 A is above this pistol's max_current");
        several_fails(LIMITS TWO_SIMS "[pistol a]\npistol_index = 1\nconverter = a\n",
                      "test.conf:7: [converter b]: no pistol uses this converter");
        several_fails(LIMITS "[converter a]\nbackend = sim\nunit_id = 3\n[pistol a]\npistol_index = 1\nconverter = a\n",
                      "test.conf:7: converter a.unit_id: unknown key for backend sim");
        several_fails(LIMITS "[converter a]\nbackend = modbus-tcp\nline = x\n[pistol a]\npistol_index = 1\nconverter = a\n",
                      "test.conf:7: converter a.line: no [modbus-line x] in this file");
        several_fails(LIMITS "[converter a]\nbackend = sim\n",
                      "test.conf:5: [converter a]: named converters and lines are for [pistol NAME] sections");
        several_fails(LIMITS "[modbus-line x]\ndevice = /dev/ttyS1\nunit_id = 2\n[pistol a]\npistol_index = 1\n",
                      "test.conf:7: modbus-line x.unit_id: not a setting of the line");
        several_fails(LIMITS "[modbus-line x]\ndevice = /dev/ttyS1\n[converter a]\nbackend = modbus-rtu\nline = x\n"
                      "device = /dev/ttyS2\n[pistol a]\npistol_index = 1\nconverter = a\n",
                      "test.conf:10: converter a.device: set by [modbus-line x]");
        several_fails(LIMITS "[insulation_monitor]\ntransport = rtu\n[pistol a]\npistol_index = 1\n",
                      "test.conf:5: [insulation_monitor]: takes the one-pistol format");
        several_fails(LIMITS "[controller_io]\nboard = adm-cs-secc\n[pistol a]\npistol_index = 1\n"
                      "[pistol b]\npistol_index = 2\n",
                      "test.conf:6: controller_io.board: with several [pistol NAME] sections");
        several_fails(LIMITS "[sharing]\npolicy = loudest\n", "test.conf:6: sharing.policy: 'loudest' is neither");
        several_fails(LIMITS "[sharing]\noffer_ms = 10\n", "test.conf:6: sharing.offer_ms: 10 ms is out of range");
        several_fails(LIMITS "[piston a]\n", "test.conf:5: [piston a]: unknown section");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty_config_is_the_core_defaults),
                cmocka_unit_test(test_every_default_is_a_valid_value),
                cmocka_unit_test(test_shipped_file_shows_the_table_defaults),
                cmocka_unit_test(test_backend_none_and_controller_io),
                cmocka_unit_test(test_bidirectional_keys),
                cmocka_unit_test(test_telemetry_defaults),
                cmocka_unit_test(test_telemetry_refusals),
                cmocka_unit_test(test_one_pistol_format_is_one_pistol),
                cmocka_unit_test(test_two_pistols_two_converters),
                cmocka_unit_test(test_shared_converter_and_sharing),
                cmocka_unit_test(test_two_converters_on_one_modbus_line),
                cmocka_unit_test(test_several_pistols_refusals),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
