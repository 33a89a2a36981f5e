/* SPDX-License-Identifier: MIT */
/*
 * The config file: inih reads key = value pairs into a parser state (text
 * and numbers as written), then config_validate() checks every range and
 * cross-constraint and converts to the core's fixed-point units.  The first
 * error stops everything and is reported as "file:line: section.key: reason".
 *
 * inih is fed through the line reader of ini_reader.h (shared with the Modbus
 * profiles), so that we know the line number of every key and section header
 * (an unknown, empty section is an error too) and refuse a line longer than
 * inih's buffer instead of letting it be split into two lines silently.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ini.h>

#include "build-config.h"
#include "config.h"
#include "converter.h"
#include "ini_reader.h"
#include "textparse.h"

enum config_key_type {
        CONFIG_STRING,
        CONFIG_UINT,            /* non-negative integer */
        CONFIG_DECIMAL,         /* non-negative decimal number */
        CONFIG_BOOL,
        CONFIG_FLAG_SOURCE,     /* auto | external */
        CONFIG_INTERFACE_VERSION,       /* 2 | 3 */
        CONFIG_IO_BOARD,                /* none | adm-cs-secc | adm-cs-spcc */
        CONFIG_OUTPUT_LIST,             /* output and LED names */
        CONFIG_RANGE_POLICY,    /* max | ocpp | operator */
        CONFIG_SHARING_POLICY,  /* first-come | priority */
};

enum config_key_id {
        KEY_CAN_INTERFACE,
        KEY_CAN_PISTOL_INDEX,
        KEY_CAN_BITRATE,
        KEY_CAN_RESTART_MS,
        KEY_CAN_INTERFACE_VERSION,
        KEY_LIMITS_MAX_VOLTAGE,
        KEY_LIMITS_MAX_CURRENT,
        KEY_LIMITS_MAX_POWER,
        KEY_LIMITS_PRECHARGE_MAX_CURRENT,
        KEY_LIMITS_INSULATION_MAX_CURRENT,
        KEY_LIMITS_MAX_DISCHARGE_CURRENT,
        KEY_LIMITS_MAX_DISCHARGE_POWER,
        KEY_SEQUENCE_USE_SEQUENCE_FLAGS,
        KEY_SEQUENCE_START_AUTHORISATION,
        KEY_SEQUENCE_CCS_AUTHORISATION,
        KEY_SEQUENCE_CHARGE_PARAMETERS,
        KEY_SEQUENCE_RESEND_MS,
        KEY_SEQUENCE_BUTTON_HOLD_MS,
        KEY_SAFETY_CONTROLLER_TIMEOUT_MS,
        KEY_SAFETY_ESTOP_RELEASE_MS,
        KEY_SAFETY_INSULATION_MIN_OHM_PER_VOLT,
        KEY_SAFETY_CURRENT_RAMP,
        KEY_SAFETY_RAMP_STEP_MS,
        KEY_SAFETY_EV_OVERVOLTAGE_MARGIN,
        KEY_SAFETY_EV_OVERVOLTAGE_TIME_MS,
        KEY_SAFETY_HAS_OUTPUT_CONTACTORS,
        KEY_V3_BIDIRECTIONAL,
        KEY_V3_RANGE_POLICY,
        KEY_CONVERTER_BACKEND,
        KEY_DBUS_ENABLE,
        KEY_DBUS_ADDRESS,
        KEY_CONTROLLER_IO_BOARD,
        KEY_CONTROLLER_IO_SAFE_ON,
        KEY_SHARING_POLICY,
        KEY_SHARING_OFFER_MS,
        KEY_SHARING_DRAIN_TIMEOUT_MS,
        KEY_SHARING_CLAIM_TIMEOUT_S,
        KEY_SHARING_IDLE_TIMEOUT_S,
        KEY_COUNT
};

struct config_key {
        const char *section;
        const char *name;
        enum config_key_type type;
        bool required;
        double min;             /* numbers: allowed range */
        double max;
        bool zero_allowed;      /* 0 is allowed below min (0 = off/leave) */
        const char *unit;       /* for messages */
        /* The default as it would be written in the file, parsed like a
         * value of the file; NULL for a required key.  The one place a
         * default is written (conf/seccbridge.conf and seccbridge.conf(5)
         * repeat it, tests/unit/test-config.c holds them to it and to the
         * protocol core's own defaults). */
        const char *def;
};

static const struct config_key config_keys[KEY_COUNT] = {
        [KEY_CAN_INTERFACE] = { "can", "interface", CONFIG_STRING, false, 0, 0, false, "", "can0" },
        [KEY_CAN_PISTOL_INDEX] = { "can", "pistol_index", CONFIG_UINT, false, 1, 31, false, "", "1" },
        [KEY_CAN_BITRATE] = { "can", "bitrate", CONFIG_UINT, false, 5000, 1000000, true, " bit/s", "0" },
        [KEY_CAN_RESTART_MS] = { "can", "restart_ms", CONFIG_UINT, false, 1, 60000, true, " ms", "0" },
        [KEY_CAN_INTERFACE_VERSION] = { "can", "interface_version", CONFIG_INTERFACE_VERSION, false, 0, 0, false, "", "2" },
        [KEY_LIMITS_MAX_VOLTAGE] = { "limits", "max_voltage", CONFIG_DECIMAL, true, 1, 6553.5, false, " V", NULL },
        /* Charging_Loop and Power_Modules_Limits carry currents as signed
         * 16-bit 0.1 A: 3276.7 A is the most the protocol can express. */
        [KEY_LIMITS_MAX_CURRENT] = { "limits", "max_current", CONFIG_DECIMAL, true, 0.1, 3276.7, false, " A", NULL },
        [KEY_LIMITS_MAX_POWER] = { "limits", "max_power", CONFIG_DECIMAL, true, 1, 10000000, false, " W", NULL },
        [KEY_LIMITS_PRECHARGE_MAX_CURRENT] = { "limits", "precharge_max_current", CONFIG_DECIMAL, false, 0.1, 3276.7, false, " A", "2" },
        [KEY_LIMITS_INSULATION_MAX_CURRENT] = { "limits", "insulation_max_current", CONFIG_DECIMAL, false, 0.1, 3276.7, false, " A", "2" },
        /* B1: current out of the EV, magnitudes; 0 = no discharge.  Both or
         * neither, and only with [v3] bidirectional = true. */
        [KEY_LIMITS_MAX_DISCHARGE_CURRENT] = { "limits", "max_discharge_current", CONFIG_DECIMAL, false, 0.1, 3276.7, true, " A", "0" },
        [KEY_LIMITS_MAX_DISCHARGE_POWER] = { "limits", "max_discharge_power", CONFIG_DECIMAL, false, 1, 10000000, true, " W", "0" },
        [KEY_SEQUENCE_USE_SEQUENCE_FLAGS] = { "sequence", "use_sequence_flags", CONFIG_BOOL, false, 0, 0, false, "", "true" },
        [KEY_SEQUENCE_START_AUTHORISATION] = { "sequence", "start_authorisation", CONFIG_FLAG_SOURCE, false, 0, 0, false, "", "auto" },
        [KEY_SEQUENCE_CCS_AUTHORISATION] = { "sequence", "ccs_authorisation", CONFIG_FLAG_SOURCE, false, 0, 0, false, "", "auto" },
        [KEY_SEQUENCE_CHARGE_PARAMETERS] = { "sequence", "charge_parameters", CONFIG_FLAG_SOURCE, false, 0, 0, false, "", "auto" },
        [KEY_SEQUENCE_RESEND_MS] = { "sequence", "resend_ms", CONFIG_UINT, false, 100, 60000, true, " ms", "1000" },
        [KEY_SEQUENCE_BUTTON_HOLD_MS] = { "sequence", "button_hold_ms", CONFIG_UINT, false, 100, 10000, false, " ms", "300" },
        /* R1: the controller must be declared lost within 200 ms. */
        [KEY_SAFETY_CONTROLLER_TIMEOUT_MS] = { "safety", "controller_timeout_ms", CONFIG_UINT, false, 20, 200, false, " ms", "200" },
        /* R46: Emergency_Stop repeats every 100 ms; releasing after less
         * than three periods would release between two frames. */
        [KEY_SAFETY_ESTOP_RELEASE_MS] = { "safety", "estop_release_ms", CONFIG_UINT, false, 300, 60000, false, " ms", "1000" },
        /* R40: 100 ohm/V is the protocol's interlock threshold; a lower one
         * would be weaker than the controller's own. */
        [KEY_SAFETY_INSULATION_MIN_OHM_PER_VOLT] = { "safety", "insulation_min_ohm_per_volt", CONFIG_UINT, false, 100, 10000, false, " ohm/V", "100" },
        [KEY_SAFETY_CURRENT_RAMP] = { "safety", "current_ramp", CONFIG_DECIMAL, false, 1, 100000, true, " A/s", "200" },
        /* R37: the current rises by current_ramp x ramp_step_ms at each step. */
        [KEY_SAFETY_RAMP_STEP_MS] = { "safety", "ramp_step_ms", CONFIG_UINT, false, 10, 10000, false, " ms", "100" },
        /* IEC 61851-23 CC.6.2: off within 400 ms of the output exceeding
         * the EV's maximum voltage; only a shorter time is accepted (0 =
         * no check, for a bench supply without a vehicle). */
        [KEY_SAFETY_EV_OVERVOLTAGE_MARGIN] = { "safety", "ev_overvoltage_margin", CONFIG_DECIMAL, false, 0, 100, false, " V", "10" },
        [KEY_SAFETY_EV_OVERVOLTAGE_TIME_MS] = { "safety", "ev_overvoltage_time_ms", CONFIG_UINT, false, 20, 400, true, " ms", "400" },
        /* V21: without output contactors a battery may be on the pins. */
        [KEY_SAFETY_HAS_OUTPUT_CONTACTORS] = { "safety", "has_output_contactors", CONFIG_BOOL, false, 0, 0, false, "", "true" },
        /* B1: vehicle-to-grid on interface v3. */
        [KEY_V3_BIDIRECTIONAL] = { "v3", "bidirectional", CONFIG_BOOL, false, 0, 0, false, "", "false" },
        /* V16: who picks the current of a Range_Mode transfer. */
        [KEY_V3_RANGE_POLICY] = { "v3", "range_policy", CONFIG_RANGE_POLICY, false, 0, 0, false, "", "ocpp" },
        [KEY_CONVERTER_BACKEND] = { "converter", "backend", CONFIG_STRING, false, 0, 0, false, "", "sim" },
        [KEY_DBUS_ENABLE] = { "dbus", "enable", CONFIG_BOOL, false, 0, 0, false, "", "true" },
        [KEY_DBUS_ADDRESS] = { "dbus", "address", CONFIG_STRING, false, 0, 0, false, "", "" },
        /* Whose outputs the power side drives (ADM_CS_SECC_Outputs or
         * ADM_CS_SPCC_Outputs); none sends no outputs frame at all. */
        [KEY_CONTROLLER_IO_BOARD] = { "controller_io", "board", CONFIG_IO_BOARD, false, 0, 0, false, "", "none" },
        /* The outputs on at start and on shutdown (a LED at full brightness);
         * every other one off. */
        [KEY_CONTROLLER_IO_SAFE_ON] = { "controller_io", "safe_on", CONFIG_OUTPUT_LIST, false, 0, 0, false, "", "" },
        /* doc/sharing.md: who gets a converter shared by several pistols
         * next, and the arbiter's bounds. */
        [KEY_SHARING_POLICY] = { "sharing", "policy", CONFIG_SHARING_POLICY, false, 0, 0, false, "", "first-come" },
        /* R9: must cover the controller's reaction to Start_Charge_Authorisation = 1. */
        [KEY_SHARING_OFFER_MS] = { "sharing", "offer_ms", CONFIG_UINT, false, 100, 600000, false, " ms", "5000" },
        [KEY_SHARING_DRAIN_TIMEOUT_MS] = { "sharing", "drain_timeout_ms", CONFIG_UINT, false, 100, 600000, false, " ms", "5000" },
        [KEY_SHARING_CLAIM_TIMEOUT_S] = { "sharing", "claim_timeout_s", CONFIG_UINT, false, 1, 86400, true, " s", "120" },
        [KEY_SHARING_IDLE_TIMEOUT_S] = { "sharing", "idle_timeout_s", CONFIG_UINT, false, 1, 86400, true, " s", "600" },
};

static const char *const config_sections[] = {
        "can", "limits", "sequence", "safety", "v3", "converter", "sim", "modbus", "insulation_monitor", "dbus",
        "controller_io",
        "mqtt", "metrics", "sharing",
};
#define CONFIG_N_SECTIONS (sizeof(config_sections) / sizeof(config_sections[0]))
#define CONFIG_SIM_MAX_KEYS 64
#define CONFIG_MODBUS_MAX_KEYS 32
#define CONFIG_TELEMETRY_MAX_KEYS 32

/* [pistol NAME], [converter NAME], [modbus-line NAME]: their keys are kept
 * as written (with their lines) and applied once the whole file is read,
 * on top of the process-wide sections wherever those come in the file. */
enum config_named_kind {
        CONFIG_NAMED_PISTOL,
        CONFIG_NAMED_CONVERTER,
        CONFIG_NAMED_LINE,
        CONFIG_NAMED_KIND_COUNT
};
static const char *const config_named_prefix[CONFIG_NAMED_KIND_COUNT] = { "pistol", "converter", "modbus-line" };
#define CONFIG_MAX_NAMED 8
#define CONFIG_MAX_ENTRIES 256

struct config_named {
        char name[CONFIG_NAME_MAX];
        unsigned line;                  /* its header */
};

struct config_entry {
        enum config_named_kind kind;
        uint8_t idx;                    /* which section of its kind */
        char name[48];
        char value[512];
        unsigned line;
};

struct config_parser {
        struct ini_reader reader;               /* .line: the line being parsed */
        struct config *cfg;
        struct config_error *err;
        bool failed;

        unsigned section_line[CONFIG_N_SECTIONS];       /* first header line, 0 = absent */

        unsigned key_line[KEY_COUNT];           /* 0 = not set in the file */
        double number[KEY_COUNT];               /* CONFIG_UINT / CONFIG_DECIMAL as read */

        struct {
                char name[48];
                unsigned line;
        } sim_keys[CONFIG_SIM_MAX_KEYS];
        size_t n_sim_keys;

        struct {                                /* [modbus], [insulation_monitor] */
                char name[48];
                unsigned line;
        } modbus_keys[2][CONFIG_MODBUS_MAX_KEYS];
        size_t n_modbus_keys[2];

        struct {                                /* [mqtt], [metrics] */
                char name[48];
                unsigned line;
        } telemetry_keys[TELEMETRY_SECTION_COUNT][CONFIG_TELEMETRY_MAX_KEYS];
        size_t n_telemetry_keys[TELEMETRY_SECTION_COUNT];

        struct config_named named[CONFIG_NAMED_KIND_COUNT][CONFIG_MAX_NAMED];
        size_t n_named[CONFIG_NAMED_KIND_COUNT];
        struct config_entry entries[CONFIG_MAX_ENTRIES];
        size_t n_entries;
};

static void config_fail(struct config_parser *p, unsigned line, const char *section,
                        const char *key, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static void config_fail(struct config_parser *p, unsigned line, const char *section,
                        const char *key, const char *fmt, ...)
{
        va_list ap;

        if (p->failed)
                return;         /* the first error is the one reported */
        p->failed = true;
        p->err->line = line;
        if (section && key)
                snprintf(p->err->key, sizeof(p->err->key), "%s.%s", section, key);
        else if (section)
                snprintf(p->err->key, sizeof(p->err->key), "[%s]", section);
        else if (key)
                snprintf(p->err->key, sizeof(p->err->key), "%s", key);
        else
                p->err->key[0] = '\0';
        va_start(ap, fmt);
        vsnprintf(p->err->reason, sizeof(p->err->reason), fmt, ap);
        va_end(ap);
}

static int config_section_index(const char *name)
{
        for (size_t i = 0; i < CONFIG_N_SECTIONS; i++)
                if (strcmp(config_sections[i], name) == 0)
                        return (int)i;
        return -1;
}

/* Section headers are looked at here, where the line number is known:
 * inih only reports keys to the handler. */
static bool config_name_valid(const char *name)
{
        if (name[0] == '\0' || strlen(name) >= CONFIG_NAME_MAX)
                return false;
        for (const char *c = name; *c; c++)
                if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
                        return false;
        return true;
}

/* "pistol NAME" and the like: 1 when it is one (failed or recorded). */
static int config_on_named_section(struct config_parser *p, const char *header, unsigned line)
{
        const char *space = strchr(header, ' ');
        const char *name;
        size_t plen;

        if (!space)
                return 0;
        plen = (size_t)(space - header);
        name = space + 1;
        for (int k = 0; k < CONFIG_NAMED_KIND_COUNT; k++) {
                struct config_named *n = p->named[k];
                size_t *count = &p->n_named[k];

                if (strlen(config_named_prefix[k]) != plen || strncmp(header, config_named_prefix[k], plen) != 0)
                        continue;
                if (!config_name_valid(name)) {
                        config_fail(p, line, header, NULL,
                                    "'%s' is not a name (letters, digits, '_' and '-', at most %d characters)",
                                    name, CONFIG_NAME_MAX - 1);
                        return 1;
                }
                for (size_t i = 0; i < *count; i++) {
                        if (strcmp(n[i].name, name) == 0) {
                                config_fail(p, line, header, NULL, "declared twice (first on line %u)", n[i].line);
                                return 1;
                        }
                }
                if (*count >= CONFIG_MAX_NAMED) {
                        config_fail(p, line, header, NULL, "more than %d [%s NAME] sections", CONFIG_MAX_NAMED,
                                    config_named_prefix[k]);
                        return 1;
                }
                snprintf(n[*count].name, sizeof(n[0].name), "%s", name);
                n[*count].line = line;
                (*count)++;
                return 1;
        }
        return 0;
}

static void config_on_section(const char *name, unsigned line, void *userdata)
{
        struct config_parser *p = userdata;
        int idx;

        if (config_on_named_section(p, name, line))
                return;
        idx = config_section_index(name);
        if (idx < 0) {
                config_fail(p, line, name, NULL,
                            "unknown section (known: [can], [limits], [sequence], [safety], [v3], [converter], "
                            "[sim], [modbus], [insulation_monitor], [dbus], [controller_io], [mqtt], [metrics], [sharing], "
                            "[pistol NAME], [converter NAME], [modbus-line NAME])");
                return;
        }
        if (p->section_line[idx] == 0)
                p->section_line[idx] = line;
}

/* A line the reader refused (NUL byte, too long). */
static void config_on_bad_line(unsigned line, const char *reason, void *userdata)
{
        config_fail(userdata, line, NULL, NULL, "%s", reason);
}

static int config_find_key(const char *section, const char *name, const char **hint)
{
        *hint = NULL;
        for (int i = 0; i < KEY_COUNT; i++) {
                if (strcmp(config_keys[i].section, section) != 0)
                        continue;
                if (strcmp(config_keys[i].name, name) == 0)
                        return i;
                if (strcasecmp(config_keys[i].name, name) == 0)
                        *hint = config_keys[i].name;
        }
        return -1;
}

/* A number as a person writes it: optional '+', digits, optional fraction.
 * No sign for negatives (no key takes one), no exponent, no hex, no "inf". */
static int config_parse_number(const char *value, bool integer, double *out)
{
        const char *s = value;
        char *end;
        double v;
        bool digits = false;

        if (*s == '+')
                s++;
        for (const char *c = s; *c; c++) {
                if (isdigit((unsigned char)*c))
                        digits = true;
                else if (*c != '.' || integer)
                        return -EINVAL;
        }
        if (!digits)
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !isfinite(v))
                return -EINVAL;
        *out = v;
        return 0;
}

static int config_parse_flag_source(const char *value, enum session_flag_source *out)
{
        if (strcmp(value, "auto") == 0) {
                *out = SESSION_FLAG_AUTO;
                return 0;
        }
        if (strcmp(value, "external") == 0) {
                *out = SESSION_FLAG_EXTERNAL;
                return 0;
        }
        return -EINVAL;
}

/* "output1, led2": the outputs on in the safe state (a LED at full
 * brightness).  Whether the board has them is checked with the board. */
static int config_parse_output_list(const char *value, struct controller_io_outputs *out, char *bad, size_t bad_len)
{
        struct controller_io_outputs o;
        const char *c = value;

        memset(&o, 0, sizeof(o));
        while (*c) {
                char name[16];
                size_t n = 0;
                enum controller_io_output which;

                while (*c == ' ' || *c == '\t' || *c == ',')
                        c++;
                if (!*c)
                        break;
                while (*c && *c != ',' && *c != ' ' && *c != '\t') {
                        if (n + 1 < sizeof(name))
                                name[n++] = *c;
                        c++;
                }
                name[n] = '\0';
                if (controller_io_output_by_name(name, &which) < 0) {
                        snprintf(bad, bad_len, "%s", name);
                        return -EINVAL;
                }
                if (which >= CONTROLLER_IO_LED1)
                        o.led[which - CONTROLLER_IO_LED1] = 100;
                else
                        o.digital[which - CONTROLLER_IO_OUTPUT1] = true;
        }
        *out = o;
        return 0;
}

static void config_set_sim(struct config_parser *p, const char *name, const char *value)
{
        char reason[sizeof(p->err->reason)] = "";
        int r;

        for (size_t i = 0; i < p->n_sim_keys; i++) {
                if (strcmp(p->sim_keys[i].name, name) == 0) {
                        config_fail(p, p->reader.line, "sim", name, "set twice (first on line %u)",
                                    p->sim_keys[i].line);
                        return;
                }
        }
        r = sim_params_set(&p->cfg->sim, name, value, reason, sizeof(reason));
        if (r == -ENOENT) {
                config_fail(p, p->reader.line, "sim", name, "unknown key");
                return;
        }
        if (r < 0) {
                config_fail(p, p->reader.line, "sim", name, "%s", reason[0] ? reason : "invalid value");
                return;
        }
        if (p->n_sim_keys < CONFIG_SIM_MAX_KEYS) {
                snprintf(p->sim_keys[p->n_sim_keys].name, sizeof(p->sim_keys[0].name), "%s", name);
                p->sim_keys[p->n_sim_keys].line = p->reader.line;
                p->n_sim_keys++;
        }
}

/* [modbus] (which 0) and [insulation_monitor] (which 1), like [sim]. */
static void config_set_modbus(struct config_parser *p, int which, const char *name, const char *value)
{
        static const char *const sections[2] = { "modbus", "insulation_monitor" };
        struct modbus_params *mp = which == 0 ? &p->cfg->modbus : &p->cfg->insulation_monitor;
        char reason[sizeof(p->err->reason)] = "";
        size_t *n = &p->n_modbus_keys[which];
        int r;

        for (size_t i = 0; i < *n; i++) {
                if (strcmp(p->modbus_keys[which][i].name, name) == 0) {
                        config_fail(p, p->reader.line, sections[which], name, "set twice (first on line %u)",
                                    p->modbus_keys[which][i].line);
                        return;
                }
        }
        r = modbus_params_set(mp, name, value, reason, sizeof(reason));
        if (r == -ENOENT) {
                config_fail(p, p->reader.line, sections[which], name, "unknown key");
                return;
        }
        if (r < 0) {
                config_fail(p, p->reader.line, sections[which], name, "%s", reason[0] ? reason : "invalid value");
                return;
        }
        if (*n < CONFIG_MODBUS_MAX_KEYS) {
                snprintf(p->modbus_keys[which][*n].name, sizeof(p->modbus_keys[0][0].name), "%s", name);
                p->modbus_keys[which][*n].line = p->reader.line;
                (*n)++;
        }
}

/* One value of the key table, from the file (on `line`) or its default
 * (line 0). */
static void config_set_key(struct config_parser *p, int idx, const char *value, unsigned line)
{
        const struct config_key *k = &config_keys[idx];
        enum session_flag_source src;
        enum controller_io_board board;
        char bad[64];
        bool b;

        switch (k->type) {
        case CONFIG_STRING:
                if (idx == KEY_CAN_INTERFACE) {
                        if (strlen(value) >= sizeof(p->cfg->can.interface)) {
                                config_fail(p, line, k->section, k->name, "too long");
                                return;
                        }
                        strcpy(p->cfg->can.interface, value);
                } else if (idx == KEY_DBUS_ADDRESS) {
                        if (strlen(value) >= sizeof(p->cfg->dbus.address)) {
                                config_fail(p, line, k->section, k->name, "longer than %zu characters",
                                            sizeof(p->cfg->dbus.address) - 1);
                                return;
                        }
                        strcpy(p->cfg->dbus.address, value);
                } else {
                        if (strlen(value) >= sizeof(p->cfg->converter.backend)) {
                                config_fail(p, line, k->section, k->name, "unknown backend '%s'", value);
                                return;
                        }
                        strcpy(p->cfg->converter.backend, value);
                }
                break;
        case CONFIG_UINT:
        case CONFIG_DECIMAL:
                if (value[0] == '-') {
                        config_fail(p, line, k->section, k->name, "'%s': negative values are not allowed", value);
                        return;
                }
                if (config_parse_number(value, k->type == CONFIG_UINT, &p->number[idx]) < 0) {
                        config_fail(p, line, k->section, k->name, "'%s' is not %s", value,
                                    k->type == CONFIG_UINT ? "a whole number" : "a number");
                        return;
                }
                break;
        case CONFIG_BOOL:
                if (textparse_bool(value, &b) < 0) {
                        config_fail(p, line, k->section, k->name, "'%s' is not a boolean (true or false)", value);
                        return;
                }
                if (idx == KEY_DBUS_ENABLE)
                        p->cfg->dbus.enable = b;
                else if (idx == KEY_SAFETY_HAS_OUTPUT_CONTACTORS)
                        p->cfg->session.has_output_contactors = b;
                else if (idx == KEY_V3_BIDIRECTIONAL)
                        p->cfg->session.bidirectional = b;
                else
                        p->cfg->session.use_sequence_flags = b;
                break;
        case CONFIG_INTERFACE_VERSION:
                /* The database the controller is configured for: v2.7
                 * (charger type of the generic interface v2) or v3.6
                 * (Advantics_Generic_DC_v3). */
                if (strcmp(value, "2") == 0) {
                        p->cfg->session.interface_version = 2;
                } else if (strcmp(value, "3") == 0) {
                        p->cfg->session.interface_version = 3;
                } else {
                        config_fail(p, line, k->section, k->name,
                                    "'%s' is not an interface version (2: database v2.7, 3: database v3.6)",
                                    value);
                        return;
                }
                break;
        case CONFIG_IO_BOARD:
                if (controller_io_board_by_name(value, &board) < 0) {
                        config_fail(p, line, k->section, k->name,
                                    "'%s' is not a board (none, adm-cs-secc, adm-cs-spcc)", value);
                        return;
                }
                p->cfg->session.io.board = board;
                break;
        case CONFIG_OUTPUT_LIST:
                if (config_parse_output_list(value, &p->cfg->session.io.safe, bad, sizeof(bad)) < 0) {
                        config_fail(p, line, k->section, k->name,
                                    "'%s' is not an output (output1 to output4, led1 to led3)", bad);
                        return;
                }
                break;
        case CONFIG_RANGE_POLICY:
                if (strcmp(value, "max") == 0) {
                        p->cfg->session.range_policy = SESSION_RANGE_MAX;
                } else if (strcmp(value, "ocpp") == 0) {
                        p->cfg->session.range_policy = SESSION_RANGE_OCPP;
                } else if (strcmp(value, "operator") == 0) {
                        p->cfg->session.range_policy = SESSION_RANGE_OPERATOR;
                } else {
                        config_fail(p, line, k->section, k->name, "'%s' is none of max, ocpp, operator", value);
                        return;
                }
                break;
        case CONFIG_SHARING_POLICY:
                if (strcmp(value, "first-come") == 0) {
                        p->cfg->sharing.policy = ARBITER_POLICY_FIRST_COME;
                } else if (strcmp(value, "priority") == 0) {
                        p->cfg->sharing.policy = ARBITER_POLICY_PRIORITY;
                } else {
                        config_fail(p, line, k->section, k->name, "'%s' is neither first-come nor priority", value);
                        return;
                }
                break;
        case CONFIG_FLAG_SOURCE:
                if (config_parse_flag_source(value, &src) < 0) {
                        config_fail(p, line, k->section, k->name, "'%s' is neither auto nor external", value);
                        return;
                }
                if (idx == KEY_SEQUENCE_START_AUTHORISATION)
                        p->cfg->session.start_authorisation = src;
                else if (idx == KEY_SEQUENCE_CCS_AUTHORISATION)
                        p->cfg->session.ccs_authorisation = src;
                else
                        p->cfg->session.charge_parameters = src;
                break;
        }
}


/* [mqtt] and [metrics], like [modbus]: their keys are in telemetry_params.c. */
static void config_set_telemetry(struct config_parser *p, enum telemetry_section which, const char *name,
                                 const char *value)
{
        const char *section = telemetry_section_name(which);
        char reason[sizeof(p->err->reason)] = "";
        size_t *n = &p->n_telemetry_keys[which];
        int r;

        for (size_t i = 0; i < *n; i++) {
                if (strcmp(p->telemetry_keys[which][i].name, name) == 0) {
                        config_fail(p, p->reader.line, section, name, "set twice (first on line %u)",
                                    p->telemetry_keys[which][i].line);
                        return;
                }
        }
        r = telemetry_params_set(&p->cfg->telemetry, which, name, value, reason, sizeof(reason));
        if (r == -ENOENT) {
                config_fail(p, p->reader.line, section, name, "unknown key");
                return;
        }
        if (r < 0) {
                config_fail(p, p->reader.line, section, name, "%s", reason[0] ? reason : "invalid value");
                return;
        }
        if (*n < CONFIG_TELEMETRY_MAX_KEYS) {
                snprintf(p->telemetry_keys[which][*n].name, sizeof(p->telemetry_keys[0][0].name), "%s", name);
                p->telemetry_keys[which][*n].line = p->reader.line;
                (*n)++;
        }
}

/* A key of a [pistol NAME], [converter NAME] or [modbus-line NAME]: kept
 * as written, applied by config_build_several().  true when it was one. */
static bool config_keep_named(struct config_parser *p, const char *section, const char *name, const char *value)
{
        const char *space = strchr(section, ' ');
        struct config_entry *e;

        if (!space)
                return false;
        for (int k = 0; k < CONFIG_NAMED_KIND_COUNT; k++) {
                size_t plen = (size_t)(space - section);

                if (strlen(config_named_prefix[k]) != plen || strncmp(section, config_named_prefix[k], plen) != 0)
                        continue;
                for (size_t i = 0; i < p->n_named[k]; i++) {
                        if (strcmp(p->named[k][i].name, space + 1) != 0)
                                continue;
                        for (size_t j = 0; j < p->n_entries; j++) {
                                e = &p->entries[j];
                                if (e->kind == (enum config_named_kind)k && e->idx == i && strcmp(e->name, name) == 0) {
                                        config_fail(p, p->reader.line, section, name, "set twice (first on line %u)",
                                                    e->line);
                                        return true;
                                }
                        }
                        if (p->n_entries >= CONFIG_MAX_ENTRIES) {
                                config_fail(p, p->reader.line, section, name,
                                            "more than %d keys in named sections", CONFIG_MAX_ENTRIES);
                                return true;
                        }
                        if (strlen(name) >= sizeof(e->name) || strlen(value) >= sizeof(e->value)) {
                                config_fail(p, p->reader.line, section, name, "too long");
                                return true;
                        }
                        e = &p->entries[p->n_entries++];
                        e->kind = (enum config_named_kind)k;
                        e->idx = (uint8_t)i;
                        strcpy(e->name, name);
                        strcpy(e->value, value);
                        e->line = p->reader.line;
                        return true;
                }
        }
        /* A header the section callback refused: it failed there already. */
        return false;
}

/* inih handler: 1 to go on, 0 on error (the reason is in the parser). */
static int config_handle_key(void *user, const char *section, const char *name, const char *value)
{
        struct config_parser *p = user;
        const char *hint;
        int idx;

        if (p->failed)
                return 0;
        if (!value)
                value = "";
        if (section[0] == '\0') {
                config_fail(p, p->reader.line, NULL, name, "key outside a section");
                return 0;
        }
        if (config_keep_named(p, section, name, value))
                return p->failed ? 0 : 1;
        if (strcmp(section, "sim") == 0) {
                config_set_sim(p, name, value);
                return p->failed ? 0 : 1;
        }
        if (strcmp(section, "modbus") == 0 || strcmp(section, "insulation_monitor") == 0) {
                config_set_modbus(p, strcmp(section, "modbus") == 0 ? 0 : 1, name, value);
                return p->failed ? 0 : 1;
        }
        if (strcmp(section, "mqtt") == 0 || strcmp(section, "metrics") == 0) {
                config_set_telemetry(p, strcmp(section, "mqtt") == 0 ? TELEMETRY_SECTION_MQTT
                                                                     : TELEMETRY_SECTION_METRICS,
                                     name, value);
                return p->failed ? 0 : 1;
        }

        idx = config_find_key(section, name, &hint);
        if (idx < 0) {
                if (hint)
                        config_fail(p, p->reader.line, section, name, "unknown key (keys are lower case: %s)", hint);
                else
                        config_fail(p, p->reader.line, section, name, "unknown key");
                return 0;
        }
        if (p->key_line[idx] != 0) {
                config_fail(p, p->reader.line, section, name, "set twice (first on line %u)", p->key_line[idx]);
                return 0;
        }
        p->key_line[idx] = p->reader.line;
        config_set_key(p, idx, value, p->reader.line);
        return p->failed ? 0 : 1;
}

/* Where to point at for a key: its own line, else its section header. */
static unsigned config_key_where(const struct config_parser *p, int idx)
{
        int s;

        if (p->key_line[idx])
                return p->key_line[idx];
        s = config_section_index(config_keys[idx].section);
        return s >= 0 ? p->section_line[s] : 0;
}

static void config_check_range(struct config_parser *p, int idx)
{
        const struct config_key *k = &config_keys[idx];
        double v = p->number[idx];

        if (p->failed || !p->key_line[idx])
                return;         /* defaults are in range by construction */
        if (k->zero_allowed && v == 0)
                return;
        if (v >= k->min && v <= k->max)
                return;
        if (k->zero_allowed)
                config_fail(p, p->key_line[idx], k->section, k->name,
                            "%.10g%s is out of range (0, or %.10g to %.10g)", v, k->unit, k->min, k->max);
        else
                config_fail(p, p->key_line[idx], k->section, k->name,
                            "%.10g%s is out of range (%.10g to %.10g)", v, k->unit, k->min, k->max);
}

static uint32_t config_round(double v, double scale)
{
        return (uint32_t)lround(v * scale);
}

static void config_check_interface(struct config_parser *p)
{
        const char *name = p->cfg->can.interface;
        int idx = KEY_CAN_INTERFACE;

        if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
                config_fail(p, config_key_where(p, idx), "can", "interface", "not an interface name");
                return;
        }
        if (strlen(name) > 15) {
                config_fail(p, config_key_where(p, idx), "can", "interface",
                            "'%s' is longer than 15 characters", name);
                return;
        }
        for (const char *c = name; *c; c++) {
                if (*c == '/' || *c == ':' || isspace((unsigned char)*c) || !isprint((unsigned char)*c)) {
                        config_fail(p, config_key_where(p, idx), "can", "interface",
                                    "'%s' is not a valid interface name", name);
                        return;
                }
        }
}

static void config_check_backend(struct config_parser *p)
{
        const char *name = p->cfg->converter.backend;
        unsigned line = config_key_where(p, KEY_CONVERTER_BACKEND);

        /* none: supervisor mode, the controller's own modules do the power. */
        if (converter_find(name) || strcmp(name, CONFIG_BACKEND_NONE) == 0)
                return;
        config_fail(p, line, "converter", "backend",
                    "unknown backend '%s' (known: sim, modbus-rtu, modbus-tcp)", name);
}

/* A D-Bus address is "transport:key=value,..."; sd-bus checks the rest
 * when it connects.  An empty one means the system bus. */
static void config_check_dbus_address(struct config_parser *p)
{
        const char *a = p->cfg->dbus.address;

        if (a[0] == '\0' || strchr(a, ':'))
                return;
        config_fail(p, config_key_where(p, KEY_DBUS_ADDRESS), "dbus", "address",
                    "'%s' is not a D-Bus address (e.g. unix:path=/run/dbus/system_bus_socket)", a);
}

/* The safe state names only outputs the board has. */
static void config_check_controller_io(struct config_parser *p)
{
        const struct controller_io_config *io = &p->cfg->session.io;
        unsigned digital = io->board == CONTROLLER_IO_BOARD_ADM_CS_SECC   ? 4
                           : io->board == CONTROLLER_IO_BOARD_ADM_CS_SPCC ? 2
                                                                          : 0;
        bool any = false;

        for (unsigned i = 0; i < CONTROLLER_IO_DIGITAL_OUTPUTS; i++) {
                if (io->safe.digital[i] && i >= digital) {
                        config_fail(p, config_key_where(p, KEY_CONTROLLER_IO_SAFE_ON), "controller_io", "safe_on",
                                    "output%u: board %s has %u digital outputs", i + 1,
                                    controller_io_board_name(io->board), digital);
                        return;
                }
        }
        for (unsigned i = 0; i < CONTROLLER_IO_LEDS; i++)
                any = any || io->safe.led[i] != 0;
        if (any && io->board == CONTROLLER_IO_BOARD_NONE)
                config_fail(p, config_key_where(p, KEY_CONTROLLER_IO_SAFE_ON), "controller_io", "safe_on",
                            "no board's outputs are driven (controller_io.board = none)");
}

static void config_check_sim(struct config_parser *p)
{
        char reason[sizeof(p->err->reason)] = "";
        const char *key = NULL;
        unsigned line;

        if (sim_params_validate(&p->cfg->sim, &key, reason, sizeof(reason)) == 0)
                return;
        line = p->section_line[config_section_index("sim")];
        for (size_t i = 0; key && i < p->n_sim_keys; i++)
                if (strcmp(p->sim_keys[i].name, key) == 0)
                        line = p->sim_keys[i].line;
        config_fail(p, line, "sim", key ? key : NULL, "%s", reason[0] ? reason : "invalid");
}

/* [modbus] and [insulation_monitor] with a Modbus backend: every key, then
 * the profile (its errors name the profile file and line). */
static void config_check_modbus(struct config_parser *p)
{
        static const char *const sections[2] = { "modbus", "insulation_monitor" };
        struct config *cfg = p->cfg;
        const char *backend = cfg->converter.backend;
        enum modbus_transport t = strcmp(backend, "modbus-rtu") == 0   ? MODBUS_TRANSPORT_RTU
                                  : strcmp(backend, "modbus-tcp") == 0 ? MODBUS_TRANSPORT_TCP
                                                                       : MODBUS_TRANSPORT_NONE;
        char reason[sizeof(p->err->reason)] = "";
        const char *key = NULL;
        int which = 0;
        unsigned line;

        if (p->failed || t == MODBUS_TRANSPORT_NONE)
                return;         /* the sections are only read by the Modbus backends */
        if (modbus_params_validate(&cfg->modbus, t, MODBUS_ROLE_CONVERTER, cfg->path, &key, reason,
                                   sizeof(reason)) < 0)
                goto fail;
        /* B2: a bidirectional charger's converter must be able to sink. */
        if (cfg->session.bidirectional && !modbus_profile_can_sink(&cfg->modbus.profile)) {
                key = "profile";
                snprintf(reason, sizeof(reason),
                         "%s cannot take current out of the vehicle (no [set_sink_current], set_current "
                         "unsigned), but v3.bidirectional = true", cfg->modbus.profile.path);
                goto fail;
        }
        if (!p->section_line[config_section_index("insulation_monitor")]) {
                cfg->insulation_monitor.transport = MODBUS_TRANSPORT_NONE;
                return;
        }
        which = 1;
        if (modbus_params_validate(&cfg->insulation_monitor, MODBUS_TRANSPORT_NONE, MODBUS_ROLE_MONITOR,
                                   cfg->path, &key, reason, sizeof(reason)) < 0 ||
            modbus_params_check_pair(&cfg->modbus, &cfg->insulation_monitor, &key, reason, sizeof(reason)) < 0)
                goto fail;
        return;

fail:
        line = p->section_line[config_section_index(sections[which])];
        for (size_t i = 0; key && i < p->n_modbus_keys[which]; i++)
                if (strcmp(p->modbus_keys[which][i].name, key) == 0)
                        line = p->modbus_keys[which][i].line;
        config_fail(p, line, sections[which], key, "%s", reason[0] ? reason : "invalid");
}

static void config_check_telemetry(struct config_parser *p)
{
        char reason[sizeof(p->err->reason)] = "";
        enum telemetry_section which;
        const char *key = NULL;
        unsigned line;

        if (p->failed || telemetry_params_validate(&p->cfg->telemetry, &which, &key, reason, sizeof(reason)) == 0)
                return;
        line = p->section_line[config_section_index(telemetry_section_name(which))];
        for (size_t i = 0; key && i < p->n_telemetry_keys[which]; i++)
                if (strcmp(p->telemetry_keys[which][i].name, key) == 0)
                        line = p->telemetry_keys[which][i].line;
        config_fail(p, line, telemetry_section_name(which), key, "%s", reason[0] ? reason : "invalid");
}

/* B1: discharge takes interface v3, the flag, and both of its limits; a
 * limit without the flag would be announced nowhere and is refused rather
 * than ignored. */
static void config_check_discharge(struct config_parser *p)
{
        bool bidir = p->cfg->session.bidirectional;
        double i = p->number[KEY_LIMITS_MAX_DISCHARGE_CURRENT], w = p->number[KEY_LIMITS_MAX_DISCHARGE_POWER];

        if (p->failed)
                return;
        if (bidir && p->cfg->session.interface_version != 3) {
                config_fail(p, config_key_where(p, KEY_V3_BIDIRECTIONAL), "v3", "bidirectional",
                            "needs can.interface_version = 3 (interface v2 never discharges)");
                return;
        }
        if (bidir && (i == 0 || w == 0)) {
                config_fail(p, config_key_where(p, KEY_V3_BIDIRECTIONAL), "v3", "bidirectional",
                            "needs limits.max_discharge_current and limits.max_discharge_power above 0");
                return;
        }
        if (!bidir && (i != 0 || w != 0)) {
                int idx = i != 0 ? KEY_LIMITS_MAX_DISCHARGE_CURRENT : KEY_LIMITS_MAX_DISCHARGE_POWER;

                config_fail(p, config_key_where(p, idx), "limits", config_keys[idx].name,
                            "a discharge limit needs v3.bidirectional = true");
        }
}

/* The [limits] of a session from the numbers as read (the process-wide
 * ones, or a pistol's merged over them). */
static void config_session_limits(const double *number, struct session_config *s)
{
        s->limits.max_voltage_dv = (uint16_t)config_round(number[KEY_LIMITS_MAX_VOLTAGE], 10);
        s->limits.max_current_da = (uint16_t)config_round(number[KEY_LIMITS_MAX_CURRENT], 10);
        s->limits.max_power_w = config_round(number[KEY_LIMITS_MAX_POWER], 1);
        s->limits.precharge_max_current_da = (uint16_t)config_round(number[KEY_LIMITS_PRECHARGE_MAX_CURRENT], 10);
        s->limits.insulation_max_current_da =
                (uint16_t)config_round(number[KEY_LIMITS_INSULATION_MAX_CURRENT], 10);
}

/* The arbiter's view of the pistols and converters, with [sharing]. */
static void config_sharing_map(struct config *cfg)
{
        cfg->sharing.pistols = cfg->n_pistols;
        cfg->sharing.converters = cfg->n_units;
        for (uint8_t i = 0; i < cfg->n_pistols; i++)
                cfg->sharing.converter_of[i] = cfg->pistols[i].unit;
}

/* The one-pistol format: one pistol on the one converter of the
 * process-wide sections. */
static void config_build_one(struct config_parser *p)
{
        struct config *cfg = p->cfg;

        cfg->several = false;
        cfg->n_pistols = 1;
        cfg->pistols[0].session = cfg->session;
        cfg->n_units = 1;
        snprintf(cfg->units[0].backend, sizeof(cfg->units[0].backend), "%s", cfg->converter.backend);
        cfg->units[0].sim = cfg->sim;
        cfg->units[0].modbus = cfg->modbus;
        config_sharing_map(cfg);
}

static const struct config_entry *config_entry_find(const struct config_parser *p, enum config_named_kind kind,
                                                    size_t idx, const char *name)
{
        for (size_t j = 0; j < p->n_entries; j++) {
                const struct config_entry *e = &p->entries[j];

                if (e->kind == kind && e->idx == idx && strcmp(e->name, name) == 0)
                        return e;
        }
        return NULL;
}

/* "pistol NAME" as a section for messages. */
static void config_named_section(const struct config_parser *p, enum config_named_kind kind, size_t idx, char *buf,
                                 size_t len)
{
        snprintf(buf, len, "%s %s", config_named_prefix[kind], p->named[kind][idx].name);
}

/* The serial line settings a [modbus-line NAME] holds for all its
 * converters (one port, one worker: doc/sharing.md). */
static bool config_line_key(const char *name)
{
        static const char *const keys[] = {
                "device", "baudrate", "parity", "data_bits", "stop_bits", "rs485",
                "response_timeout_ms", "byte_timeout_ms", "min_gap_ms", "reconnect_max_ms",
        };

        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                if (strcmp(keys[i], name) == 0)
                        return true;
        return false;
}

static int config_named_find(const struct config_parser *p, enum config_named_kind kind, const char *name)
{
        for (size_t i = 0; i < p->n_named[kind]; i++)
                if (strcmp(p->named[kind][i].name, name) == 0)
                        return (int)i;
        return -1;
}

/* [converter NAME] i into units[i]: the process-wide [converter], [sim]
 * and [modbus] as its defaults, then its line's keys, then its own. */
static void config_build_unit(struct config_parser *p, size_t i)
{
        struct config *cfg = p->cfg;
        struct config_unit *u = &cfg->units[i];
        const struct config_entry *backend = config_entry_find(p, CONFIG_NAMED_CONVERTER, i, "backend");
        const struct config_entry *line = config_entry_find(p, CONFIG_NAMED_CONVERTER, i, "line");
        char section[64], reason[sizeof(p->err->reason)] = "";
        const char *bname;
        enum modbus_transport t;
        const char *key = NULL;
        int li = -1;
        int r;

        config_named_section(p, CONFIG_NAMED_CONVERTER, i, section, sizeof(section));
        memset(u, 0, sizeof(*u));
        snprintf(u->name, sizeof(u->name), "%s", p->named[CONFIG_NAMED_CONVERTER][i].name);
        bname = backend ? backend->value : cfg->converter.backend;
        if (strcmp(bname, CONFIG_BACKEND_NONE) == 0 || !converter_find(bname)) {
                config_fail(p, backend ? backend->line : p->named[CONFIG_NAMED_CONVERTER][i].line, section, "backend",
                            strcmp(bname, CONFIG_BACKEND_NONE) == 0
                                    ? "none (supervisor mode) takes the one-pistol format"
                                    : "unknown backend '%s' (known: sim, modbus-rtu, modbus-tcp)",
                            bname);
                return;
        }
        /* A known backend's name fits. */
        memcpy(u->backend, bname, strlen(bname) + 1);
        t = strcmp(u->backend, "modbus-rtu") == 0   ? MODBUS_TRANSPORT_RTU
            : strcmp(u->backend, "modbus-tcp") == 0 ? MODBUS_TRANSPORT_TCP
                                                    : MODBUS_TRANSPORT_NONE;
        if (line) {
                li = config_named_find(p, CONFIG_NAMED_LINE, line->value);
                if (li < 0) {
                        config_fail(p, line->line, section, "line", "no [modbus-line %s] in this file", line->value);
                        return;
                }
                if (t != MODBUS_TRANSPORT_RTU) {
                        config_fail(p, line->line, section, "line", "a Modbus line takes backend = modbus-rtu, not %s",
                                    u->backend);
                        return;
                }
                snprintf(u->line, sizeof(u->line), "%s", p->named[CONFIG_NAMED_LINE][li].name);
        }
        u->sim = cfg->sim;
        u->modbus = cfg->modbus;
        /* The line's settings first: the converter's own keys may not
         * repeat them (one port, one set of serial settings). */
        for (size_t j = 0; li >= 0 && j < p->n_entries; j++) {
                const struct config_entry *e = &p->entries[j];

                if (e->kind != CONFIG_NAMED_LINE || e->idx != li)
                        continue;
                r = modbus_params_set(&u->modbus, e->name, e->value, reason, sizeof(reason));
                if (r < 0) {
                        char ls[64];

                        config_named_section(p, CONFIG_NAMED_LINE, (size_t)li, ls, sizeof(ls));
                        config_fail(p, e->line, ls, e->name, "%s", reason[0] ? reason : "invalid value");
                        return;
                }
        }
        for (size_t j = 0; j < p->n_entries; j++) {
                const struct config_entry *e = &p->entries[j];

                if (e->kind != CONFIG_NAMED_CONVERTER || e->idx != i || e == backend || e == line)
                        continue;
                if (li >= 0 && config_line_key(e->name)) {
                        config_fail(p, e->line, section, e->name, "set by [modbus-line %s] for all its converters",
                                    u->line);
                        return;
                }
                r = t == MODBUS_TRANSPORT_NONE ? sim_params_set(&u->sim, e->name, e->value, reason, sizeof(reason))
                                               : modbus_params_set(&u->modbus, e->name, e->value, reason,
                                                                   sizeof(reason));
                if (r == -ENOENT) {
                        config_fail(p, e->line, section, e->name, "unknown key for backend %s", u->backend);
                        return;
                }
                if (r < 0) {
                        config_fail(p, e->line, section, e->name, "%s", reason[0] ? reason : "invalid value");
                        return;
                }
        }
        if (t == MODBUS_TRANSPORT_NONE)
                r = sim_params_validate(&u->sim, &key, reason, sizeof(reason));
        else
                r = modbus_params_validate(&u->modbus, t, MODBUS_ROLE_CONVERTER, cfg->path, &key, reason,
                                           sizeof(reason));
        if (r == 0 && t != MODBUS_TRANSPORT_NONE && cfg->session.bidirectional &&
            !modbus_profile_can_sink(&u->modbus.profile)) {
                key = "profile";
                snprintf(reason, sizeof(reason),
                         "%s cannot take current out of the vehicle, but v3.bidirectional = true",
                         u->modbus.profile.path);
                r = -EINVAL;
        }
        if (r < 0) {
                const struct config_entry *e = key ? config_entry_find(p, CONFIG_NAMED_CONVERTER, i, key) : NULL;

                if (!e && key && li >= 0)
                        e = config_entry_find(p, CONFIG_NAMED_LINE, (size_t)li, key);
                config_fail(p, e ? e->line : p->named[CONFIG_NAMED_CONVERTER][i].line, section, key, "%s",
                            reason[0] ? reason : "invalid");
        }
}

/* A limit of a [pistol NAME], over the process-wide [limits]. */
static const struct {
        const char *name;
        int key;
} config_pistol_limits[] = {
        { "max_voltage", KEY_LIMITS_MAX_VOLTAGE },
        { "max_current", KEY_LIMITS_MAX_CURRENT },
        { "max_power", KEY_LIMITS_MAX_POWER },
        { "precharge_max_current", KEY_LIMITS_PRECHARGE_MAX_CURRENT },
        { "insulation_max_current", KEY_LIMITS_INSULATION_MAX_CURRENT },
};
#define CONFIG_N_PISTOL_LIMITS (sizeof(config_pistol_limits) / sizeof(config_pistol_limits[0]))

/* [pistol NAME] i into pistols[i]: the process-wide sections, then its own
 * keys.  *unit_line: where its converter is named (0: not named). */
static void config_build_pistol(struct config_parser *p, size_t i, unsigned *unit_line, int *unit)
{
        struct config *cfg = p->cfg;
        struct config_pistol *pi = &cfg->pistols[i];
        unsigned header = p->named[CONFIG_NAMED_PISTOL][i].line;
        double number[KEY_COUNT];
        bool set[CONFIG_N_PISTOL_LIMITS] = { false };
        bool has_index = false;
        char section[64];
        double v;

        config_named_section(p, CONFIG_NAMED_PISTOL, i, section, sizeof(section));
        memcpy(number, p->number, sizeof(number));
        memset(pi, 0, sizeof(*pi));
        snprintf(pi->name, sizeof(pi->name), "%s", p->named[CONFIG_NAMED_PISTOL][i].name);
        pi->session = cfg->session;
        *unit = -1;
        *unit_line = 0;
        for (size_t j = 0; j < p->n_entries && !p->failed; j++) {
                const struct config_entry *e = &p->entries[j];
                bool known = false;

                if (e->kind != CONFIG_NAMED_PISTOL || e->idx != i)
                        continue;
                for (size_t l = 0; l < CONFIG_N_PISTOL_LIMITS; l++) {
                        const struct config_key *k = &config_keys[config_pistol_limits[l].key];

                        if (strcmp(e->name, config_pistol_limits[l].name) != 0)
                                continue;
                        known = true;
                        if (config_parse_number(e->value, false, &v) < 0) {
                                config_fail(p, e->line, section, e->name, "'%s' is not a number", e->value);
                                break;
                        }
                        if (v < k->min || v > k->max) {
                                config_fail(p, e->line, section, e->name, "%.10g%s is out of range (%.10g to %.10g)",
                                            v, k->unit, k->min, k->max);
                                break;
                        }
                        number[config_pistol_limits[l].key] = v;
                        set[l] = true;
                }
                if (known)
                        continue;
                if (strcmp(e->name, "pistol_index") == 0) {
                        if (config_parse_number(e->value, true, &v) < 0 || v < 1 || v > 31) {
                                config_fail(p, e->line, section, e->name, "'%s' is not a pistol index (1 to 31)",
                                            e->value);
                                break;
                        }
                        pi->session.pistol = (uint8_t)v;
                        has_index = true;
                } else if (strcmp(e->name, "converter") == 0) {
                        *unit = config_named_find(p, CONFIG_NAMED_CONVERTER, e->value);
                        *unit_line = e->line;
                        if (*unit < 0) {
                                config_fail(p, e->line, section, e->name, "no [converter %s] in this file", e->value);
                                break;
                        }
                } else if (strcmp(e->name, "priority") == 0) {
                        if (config_parse_number(e->value, true, &v) < 0 || v > 255) {
                                config_fail(p, e->line, section, e->name, "'%s' is not a priority (0 to 255)",
                                            e->value);
                                break;
                        }
                        cfg->sharing.priority[i] = (uint8_t)v;
                } else if (strcmp(e->name, "start_authorisation") == 0) {
                        if (config_parse_flag_source(e->value, &pi->session.start_authorisation) < 0) {
                                config_fail(p, e->line, section, e->name, "'%s' is neither auto nor external",
                                            e->value);
                                break;
                        }
                } else {
                        config_fail(p, e->line, section, e->name,
                                    "unknown key (a pistol takes pistol_index, converter, priority, "
                                    "start_authorisation, max_voltage, max_current, max_power, "
                                    "precharge_max_current, insulation_max_current)");
                        break;
                }
        }
        if (p->failed)
                return;
        if (!has_index) {
                config_fail(p, header, section, "pistol_index", "required key missing in this section");
                return;
        }
        for (size_t l = 0; l < CONFIG_N_PISTOL_LIMITS; l++) {
                int k = config_pistol_limits[l].key;

                if (config_keys[k].required && !set[l] && !p->key_line[k]) {
                        config_fail(p, header, section, config_pistol_limits[l].name,
                                    "required key missing (in this section or in [limits]; power limits have no default)");
                        return;
                }
        }
        for (int k = KEY_LIMITS_PRECHARGE_MAX_CURRENT; k <= KEY_LIMITS_INSULATION_MAX_CURRENT; k++) {
                if (number[k] > number[KEY_LIMITS_MAX_CURRENT]) {
                        const struct config_entry *e = config_entry_find(p, CONFIG_NAMED_PISTOL, i, config_keys[k].name);

                        config_fail(p, e ? e->line : header, section, config_keys[k].name,
                                    "%.10g A is above this pistol's max_current (%.10g A)", number[k],
                                    number[KEY_LIMITS_MAX_CURRENT]);
                        return;
                }
        }
        config_session_limits(number, &pi->session);
        if (session_config_check(&pi->session) < 0)
                config_fail(p, header, section, NULL, "limits, sequence or safety settings refused by the protocol core");
}

/* [pistol NAME] sections: every pistol, every converter, the sharing map. */
static void config_build_several(struct config_parser *p)
{
        struct config *cfg = p->cfg;
        size_t np = p->n_named[CONFIG_NAMED_PISTOL], nc = p->n_named[CONFIG_NAMED_CONVERTER];
        unsigned unit_line[CONFIG_MAX_PISTOLS];
        unsigned users[CONFIG_MAX_UNITS + 1] = { 0 };
        int unit[CONFIG_MAX_PISTOLS];
        int default_unit = -1;
        int s;

        cfg->several = true;
        if (p->key_line[KEY_CAN_PISTOL_INDEX]) {
                config_fail(p, p->key_line[KEY_CAN_PISTOL_INDEX], "can", "pistol_index",
                            "with [pistol NAME] sections each pistol names its own pistol_index");
                return;
        }
        s = config_section_index("insulation_monitor");
        if (p->section_line[s]) {
                config_fail(p, p->section_line[s], "insulation_monitor", NULL,
                            "takes the one-pistol format (no [pistol NAME] sections)");
                return;
        }
        if (np > 1 && cfg->session.io.board != CONTROLLER_IO_BOARD_NONE) {
                config_fail(p, config_key_where(p, KEY_CONTROLLER_IO_BOARD), "controller_io", "board",
                            "with several [pistol NAME] sections no board's outputs are driven (none)");
                return;
        }
        for (size_t j = 0; j < p->n_entries; j++) {
                const struct config_entry *e = &p->entries[j];
                char section[64];

                if (e->kind != CONFIG_NAMED_LINE || config_line_key(e->name))
                        continue;
                config_named_section(p, CONFIG_NAMED_LINE, e->idx, section, sizeof(section));
                config_fail(p, e->line, section, e->name,
                            "not a setting of the line (device, baudrate, parity, data_bits, stop_bits, rs485, "
                            "response_timeout_ms, byte_timeout_ms, min_gap_ms, reconnect_max_ms)");
                return;
        }
        for (size_t i = 0; i < nc && !p->failed; i++)
                config_build_unit(p, i);
        for (size_t i = 0; i < np && !p->failed; i++)
                config_build_pistol(p, i, &unit_line[i], &unit[i]);
        if (p->failed)
                return;
        cfg->n_pistols = (uint8_t)np;
        cfg->n_units = (uint8_t)nc;
        for (size_t i = 0; i < np; i++) {
                if (unit[i] >= 0)
                        continue;
                /* No converter named: the process-wide [converter]. */
                if (default_unit < 0) {
                        if (cfg->session.supervisor) {
                                config_fail(p, config_key_where(p, KEY_CONVERTER_BACKEND), "converter", "backend",
                                            "none (supervisor mode) takes the one-pistol format");
                                return;
                        }
                        if (nc >= CONFIG_MAX_UNITS) {
                                config_fail(p, p->named[CONFIG_NAMED_PISTOL][i].line, NULL, NULL,
                                            "more than %d converters", CONFIG_MAX_UNITS);
                                return;
                        }
                        default_unit = cfg->n_units++;
                        memset(&cfg->units[default_unit], 0, sizeof(cfg->units[0]));
                        snprintf(cfg->units[default_unit].backend, sizeof(cfg->units[0].backend), "%s",
                                 cfg->converter.backend);
                        cfg->units[default_unit].sim = cfg->sim;
                        cfg->units[default_unit].modbus = cfg->modbus;
                }
                unit[i] = default_unit;
        }
        for (size_t i = 0; i < np; i++) {
                char section[64];

                config_named_section(p, CONFIG_NAMED_PISTOL, i, section, sizeof(section));
                for (size_t k = 0; k < i; k++) {
                        if (cfg->pistols[k].session.pistol != cfg->pistols[i].session.pistol)
                                continue;
                        config_fail(p, config_entry_find(p, CONFIG_NAMED_PISTOL, i, "pistol_index")->line, section,
                                    "pistol_index", "%u is also the index of [pistol %s]",
                                    cfg->pistols[i].session.pistol, cfg->pistols[k].name);
                        return;
                }
                cfg->pistols[i].unit = (uint8_t)unit[i];
                users[unit[i]]++;
                /* A shared converter holds the pistols it does not serve
                 * with Start_Charge_Authorisation = 0 (R9), which takes
                 * Sequence_Control (R6); without it a held pistol could only
                 * refuse with System_Enable = 0, which ends its session
                 * (R21). */
                if (users[unit[i]] > 1 && !cfg->session.use_sequence_flags) {
                        config_fail(p, unit_line[i] ? unit_line[i] : p->named[CONFIG_NAMED_PISTOL][i].line, section,
                                    "converter",
                                    "shares a converter, which needs sequence.use_sequence_flags = true (R6, R9)");
                        return;
                }
        }
        for (size_t i = 0; i < nc; i++) {
                char section[64];

                config_named_section(p, CONFIG_NAMED_CONVERTER, i, section, sizeof(section));
                if (users[i] == 0) {
                        config_fail(p, p->named[CONFIG_NAMED_CONVERTER][i].line, section, NULL,
                                    "no pistol uses this converter");
                        return;
                }
                for (size_t k = 0; k < i; k++) {
                        const struct config_unit *a = &cfg->units[k], *b = &cfg->units[i];

                        if (strcmp(a->backend, "modbus-rtu") != 0 || strcmp(b->backend, "modbus-rtu") != 0 ||
                            strcmp(a->modbus.device, b->modbus.device) != 0 || a->modbus.unit_id != b->modbus.unit_id)
                                continue;
                        config_fail(p, p->named[CONFIG_NAMED_CONVERTER][i].line, section, "unit_id",
                                    "%u on %s is also [converter %s]'s", b->modbus.unit_id, b->modbus.device,
                                    a->name);
                        return;
                }
        }
        for (size_t l = 0; l < p->n_named[CONFIG_NAMED_LINE]; l++) {
                bool used = false;

                for (size_t i = 0; i < nc; i++)
                        used = used || strcmp(cfg->units[i].line, p->named[CONFIG_NAMED_LINE][l].name) == 0;
                if (!used) {
                        char section[64];

                        config_named_section(p, CONFIG_NAMED_LINE, l, section, sizeof(section));
                        config_fail(p, p->named[CONFIG_NAMED_LINE][l].line, section, NULL,
                                    "no converter is on this line");
                        return;
                }
        }
        /* What reads the one-pistol fields sees the first pistol. */
        cfg->session = cfg->pistols[0].session;
        cfg->can.pistol_index = cfg->session.pistol;
        config_sharing_map(cfg);
        if (arbiter_config_check(&cfg->sharing) < 0)
                config_fail(p, 0, "sharing", NULL, "refused by the arbiter");
}

/* The validation pass: required keys, ranges, cross-checks, then the
 * conversion into the core's units (0.1 V, 0.1 A, W, us). */
static void config_validate(struct config_parser *p)
{
        struct config *cfg = p->cfg;
        struct session_config *s = &cfg->session;
        bool several = p->n_named[CONFIG_NAMED_PISTOL] > 0;
        double max_current;

        for (int i = 0; i < KEY_COUNT; i++) {
                /* With [pistol NAME] sections a limit may be each pistol's
                 * own: checked per pistol (config_build_pistol()). */
                if (several && strcmp(config_keys[i].section, "limits") == 0)
                        continue;
                if (config_keys[i].required && !p->key_line[i] && !p->failed) {
                        int sec = config_section_index(config_keys[i].section);

                        config_fail(p, p->section_line[sec], config_keys[i].section, config_keys[i].name,
                                    p->section_line[sec] ? "required key missing in this section (power limits have no default)"
                                                         : "required key missing (power limits have no default)");
                }
        }
        for (int i = 0; i < KEY_COUNT; i++)
                if (config_keys[i].type == CONFIG_UINT || config_keys[i].type == CONFIG_DECIMAL)
                        config_check_range(p, i);
        if (p->failed)
                return;

        max_current = p->number[KEY_LIMITS_MAX_CURRENT];
        if (several) {
                /* per pistol, in config_build_pistol() */
        } else if (p->number[KEY_LIMITS_PRECHARGE_MAX_CURRENT] > max_current) {
                config_fail(p, config_key_where(p, KEY_LIMITS_PRECHARGE_MAX_CURRENT), "limits",
                            "precharge_max_current", "%.10g A is above limits.max_current (%.10g A)",
                            p->number[KEY_LIMITS_PRECHARGE_MAX_CURRENT], max_current);
                return;
        }
        if (!several && p->number[KEY_LIMITS_INSULATION_MAX_CURRENT] > max_current) {
                config_fail(p, config_key_where(p, KEY_LIMITS_INSULATION_MAX_CURRENT), "limits",
                            "insulation_max_current", "%.10g A is above limits.max_current (%.10g A)",
                            p->number[KEY_LIMITS_INSULATION_MAX_CURRENT], max_current);
                return;
        }
        config_check_discharge(p);
        config_check_interface(p);
        config_check_backend(p);
        config_check_controller_io(p);
        config_check_dbus_address(p);
        config_check_sim(p);
        config_check_modbus(p);
        config_check_telemetry(p);
        if (p->failed)
                return;

        cfg->can.pistol_index = (uint8_t)p->number[KEY_CAN_PISTOL_INDEX];
        cfg->can.bitrate = (uint32_t)p->number[KEY_CAN_BITRATE];
        cfg->can.restart_ms = (uint32_t)p->number[KEY_CAN_RESTART_MS];

        s->pistol = cfg->can.pistol_index;
        config_session_limits(p->number, s);
        s->limits.max_discharge_current_da =
                (uint16_t)config_round(p->number[KEY_LIMITS_MAX_DISCHARGE_CURRENT], 10);
        s->limits.max_discharge_power_w = config_round(p->number[KEY_LIMITS_MAX_DISCHARGE_POWER], 1);
        s->sequence_resend_us = (uint64_t)p->number[KEY_SEQUENCE_RESEND_MS] * 1000;
        s->button_hold_us = (uint64_t)p->number[KEY_SEQUENCE_BUTTON_HOLD_MS] * 1000;
        s->controller_timeout_us = (uint64_t)p->number[KEY_SAFETY_CONTROLLER_TIMEOUT_MS] * 1000;
        s->estop_release_us = (uint64_t)p->number[KEY_SAFETY_ESTOP_RELEASE_MS] * 1000;
        s->insulation_min_ohm_per_volt = (uint16_t)p->number[KEY_SAFETY_INSULATION_MIN_OHM_PER_VOLT];
        s->current_ramp_da_per_s = config_round(p->number[KEY_SAFETY_CURRENT_RAMP], 10);
        s->ramp_step_us = (uint64_t)p->number[KEY_SAFETY_RAMP_STEP_MS] * 1000;
        s->ev_overvoltage_margin_dv = (uint16_t)config_round(p->number[KEY_SAFETY_EV_OVERVOLTAGE_MARGIN], 10);
        s->ev_overvoltage_time_us = (uint64_t)p->number[KEY_SAFETY_EV_OVERVOLTAGE_TIME_MS] * 1000;
        s->supervisor = strcmp(cfg->converter.backend, CONFIG_BACKEND_NONE) == 0;

        cfg->sharing.offer_us = (uint64_t)p->number[KEY_SHARING_OFFER_MS] * 1000;
        cfg->sharing.drain_timeout_us = (uint64_t)p->number[KEY_SHARING_DRAIN_TIMEOUT_MS] * 1000;
        cfg->sharing.claim_timeout_us = (uint64_t)p->number[KEY_SHARING_CLAIM_TIMEOUT_S] * 1000000;
        cfg->sharing.idle_timeout_us = (uint64_t)p->number[KEY_SHARING_IDLE_TIMEOUT_S] * 1000000;
        if (several) {
                config_build_several(p);
                return;
        }
        for (int k = CONFIG_NAMED_CONVERTER; k <= CONFIG_NAMED_LINE; k++) {
                char section[64];

                if (!p->n_named[k])
                        continue;
                config_named_section(p, (enum config_named_kind)k, 0, section, sizeof(section));
                config_fail(p, p->named[k][0].line, section, NULL,
                            "named converters and lines are for [pistol NAME] sections (none in this file)");
                return;
        }
        if (session_config_check(s) < 0) {
                config_fail(p, 0, NULL, NULL, "limits, sequence or safety settings refused by the protocol core");
                return;
        }
        config_build_one(p);
}

/* Before the file: every key at its default, through the same parsing as a
 * value of the file; what has no key (the status period, the limits'
 * minimum interval) at the protocol core's own default. */
static void config_parser_defaults(struct config_parser *p)
{
        struct config *cfg = p->cfg;

        memset(cfg, 0, sizeof(*cfg));
        session_config_defaults(&cfg->session);
        sim_params_defaults(&cfg->sim);
        modbus_params_defaults(&cfg->modbus);
        modbus_params_defaults(&cfg->insulation_monitor);
        telemetry_params_defaults(&cfg->telemetry);
        arbiter_config_defaults(&cfg->sharing);
        for (int i = 0; i < KEY_COUNT; i++)
                if (config_keys[i].def)
                        config_set_key(p, i, config_keys[i].def, 0);
}

bool config_key_at(size_t i, const char **section, const char **name, const char **def)
{
        if (i >= KEY_COUNT)
                return false;
        *section = config_keys[i].section;
        *name = config_keys[i].name;
        *def = config_keys[i].def;
        return true;
}

int config_load_stream(FILE *f, const char *name, struct config *cfg, struct config_error *err)
{
        struct config_parser *p;
        int r;

        memset(err, 0, sizeof(*err));
        snprintf(err->file, sizeof(err->file), "%s", name);

        /* About 1 KiB of parser state plus a whole config: keep it off the
         * stack of a signal-driven reload. */
        p = calloc(1, sizeof(*p) + sizeof(struct config));
        if (!p) {
                snprintf(err->reason, sizeof(err->reason), "out of memory");
                return -ENOMEM;
        }
        p->reader = (struct ini_reader) {
                .file = f,
                .stop = &p->failed,
                .section = config_on_section,
                .error = config_on_bad_line,
                .userdata = p,
        };
        p->err = err;
        p->cfg = (struct config *)(p + 1);
        config_parser_defaults(p);
        snprintf(p->cfg->path, sizeof(p->cfg->path), "%s", name);

        r = ini_parse_stream(ini_reader_line, &p->reader, config_handle_key, p);
        if (ferror(f) && !p->failed) {
                config_fail(p, 0, NULL, NULL, "read error: %s", strerror(errno));
        } else if (r > 0 && !p->failed) {
                /* inih found a line that is neither a section, a key = value
                 * pair nor a comment (the handler never saw it). */
                config_fail(p, (unsigned)r, NULL, NULL, "syntax error (expected [section] or key = value)");
        } else if (r < 0 && !p->failed) {
                config_fail(p, 0, NULL, NULL, "cannot parse (inih error %d)", r);
        }
        if (!p->failed)
                config_validate(p);

        if (p->failed) {
                free(p);
                return -EINVAL;
        }
        *cfg = *p->cfg;
        free(p);
        return 0;
}

int config_load(const char *path, struct config *cfg, struct config_error *err)
{
        struct stat st;
        FILE *f;
        int r;

        memset(err, 0, sizeof(*err));
        snprintf(err->file, sizeof(err->file), "%s", path);

        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                snprintf(err->reason, sizeof(err->reason), "cannot open: %s", strerror(-r));
                return r;
        }
        if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
                fclose(f);
                snprintf(err->reason, sizeof(err->reason), "cannot open: %s", strerror(EISDIR));
                return -EISDIR;
        }
        r = config_load_stream(f, path, cfg, err);
        fclose(f);
        return r;
}

void config_error_format(const struct config_error *err, char *buf, size_t len)
{
        if (err->line > 0 && err->key[0])
                snprintf(buf, len, "%s:%u: %s: %s", err->file, err->line, err->key, err->reason);
        else if (err->line > 0)
                snprintf(buf, len, "%s:%u: %s", err->file, err->line, err->reason);
        else if (err->key[0])
                snprintf(buf, len, "%s: %s: %s", err->file, err->key, err->reason);
        else
                snprintf(buf, len, "%s: %s", err->file, err->reason);
}
