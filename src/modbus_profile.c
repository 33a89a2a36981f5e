/* SPDX-License-Identifier: MIT */
/*
 * Profile files: parsed with inih through the line reader of ini_reader.h
 * (the inih build we link against tells the handler no line number),
 * checked as a whole afterwards, and turned into read plans.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>

#include "ini_reader.h"
#include "modbus_profile.h"
#include "textparse.h"

enum modbus_point_kind {
        KIND_SETPOINT,
        KIND_ENABLE,
        KIND_MEASURE,
        KIND_WORD,
        KIND_CAPABILITY,
};

static const struct {
        const char *name;
        enum modbus_point_kind kind;
} modbus_points[MODBUS_POINT_COUNT] = {
        [MODBUS_POINT_SET_VOLTAGE] = { "set_voltage", KIND_SETPOINT },
        [MODBUS_POINT_SET_CURRENT] = { "set_current", KIND_SETPOINT },
        [MODBUS_POINT_OUTPUT_ENABLE] = { "output_enable", KIND_ENABLE },
        [MODBUS_POINT_PRESENT_VOLTAGE] = { "present_voltage", KIND_MEASURE },
        [MODBUS_POINT_PRESENT_CURRENT] = { "present_current", KIND_MEASURE },
        [MODBUS_POINT_MODULE_TEMPERATURE] = { "module_temperature", KIND_MEASURE },
        [MODBUS_POINT_ENCLOSURE_TEMPERATURE] = { "enclosure_temperature", KIND_MEASURE },
        [MODBUS_POINT_INSULATION_RESISTANCE] = { "insulation_resistance", KIND_MEASURE },
        [MODBUS_POINT_FAULT_WORD] = { "fault_word", KIND_WORD },
        [MODBUS_POINT_STATUS_WORD] = { "status_word", KIND_WORD },
        [MODBUS_POINT_RATED_VOLTAGE] = { "rated_voltage", KIND_CAPABILITY },
        [MODBUS_POINT_RATED_CURRENT] = { "rated_current", KIND_CAPABILITY },
        [MODBUS_POINT_RATED_POWER] = { "rated_power", KIND_CAPABILITY },
        [MODBUS_POINT_RATED_SINK_CURRENT] = { "rated_sink_current", KIND_CAPABILITY },
        [MODBUS_POINT_RATED_SINK_POWER] = { "rated_sink_power", KIND_CAPABILITY },
        [MODBUS_POINT_SET_SINK_CURRENT] = { "set_sink_current", KIND_SETPOINT },
};

static const char *const modbus_flag_names[MODBUS_FLAG_COUNT] = {
        [MODBUS_FLAG_FAULT] = "fault",
        [MODBUS_FLAG_READY] = "ready",
        [MODBUS_FLAG_OUTPUT_ON] = "output_on",
        [MODBUS_FLAG_CC] = "cc",
        [MODBUS_FLAG_CV] = "cv",
        [MODBUS_FLAG_REMOTE] = "remote",
        [MODBUS_FLAG_INVALID] = "invalid",
};

/* Keys of a point section, as bits of a "seen" mask. */
enum modbus_point_key {
        PK_AREA,
        PK_ADDRESS,
        PK_TYPE,
        PK_WORD_ORDER,
        PK_SCALE,
        PK_OFFSET,
        PK_PERCENT_OF,
        PK_WRITE,
        PK_ON,
        PK_OFF,
        PK_READBACK,
        PK_VALUE,
        PK_FLAG0,       /* + flag id */
        PK_BIT0 = PK_FLAG0 + MODBUS_FLAG_COUNT, /* + bit number */
        PK_COUNT = PK_BIT0 + 32
};

static const char *const modbus_point_key_names[PK_FLAG0] = {
        [PK_AREA] = "area",
        [PK_ADDRESS] = "address",
        [PK_TYPE] = "type",
        [PK_WORD_ORDER] = "word_order",
        [PK_SCALE] = "scale",
        [PK_OFFSET] = "offset",
        [PK_PERCENT_OF] = "percent_of",
        [PK_WRITE] = "write",
        [PK_ON] = "on",
        [PK_OFF] = "off",
        [PK_READBACK] = "readback",
        [PK_VALUE] = "value",
};

enum modbus_device_key {
        DK_NAME,
        DK_WORD_ORDER,
        DK_MAX_READ_REGISTERS,
        DK_MAX_READ_BITS,
        DK_MAX_READ_GAP,
        DK_ZERO_SETPOINTS_ON_OFF,
        DK_COUNT
};

static const char *const modbus_device_key_names[DK_COUNT] = {
        [DK_NAME] = "name",
        [DK_WORD_ORDER] = "word_order",
        [DK_MAX_READ_REGISTERS] = "max_read_registers",
        [DK_MAX_READ_BITS] = "max_read_bits",
        [DK_MAX_READ_GAP] = "max_read_gap",
        [DK_ZERO_SETPOINTS_ON_OFF] = "zero_setpoints_on_off",
};

struct modbus_profile_parser {
        struct ini_reader reader;       /* .line: the line being parsed */
        struct modbus_profile *p;
        char *err;
        size_t err_len;
        bool failed;
        unsigned device_line[DK_COUNT];
        unsigned point_line[MODBUS_POINT_COUNT][PK_COUNT];
};

const char *modbus_area_name(enum modbus_area area)
{
        switch (area) {
        case MODBUS_AREA_COIL:
                return "coil";
        case MODBUS_AREA_DISCRETE:
                return "discrete";
        case MODBUS_AREA_INPUT:
                return "input";
        case MODBUS_AREA_HOLDING:
                return "holding";
        }
        return "?";
}

const char *modbus_point_name(enum modbus_point_id id)
{
        if ((unsigned)id >= MODBUS_POINT_COUNT)
                return "?";
        return modbus_points[id].name;
}

const char *modbus_flag_name(enum modbus_flag_id id)
{
        if ((unsigned)id >= MODBUS_FLAG_COUNT)
                return "?";
        return modbus_flag_names[id];
}

__attribute__((format(printf, 5, 6)))
static void modbus_profile_fail(struct modbus_profile_parser *ps, unsigned line, const char *section,
                                const char *key, const char *fmt, ...)
{
        char reason[256];
        va_list ap;

        if (ps->failed)
                return;
        ps->failed = true;
        va_start(ap, fmt);
        vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        if (line && section && key)
                snprintf(ps->err, ps->err_len, "%s:%u: %s.%s: %s", ps->p->path, line, section, key, reason);
        else if (line && section)
                snprintf(ps->err, ps->err_len, "%s:%u: [%s]: %s", ps->p->path, line, section, reason);
        else if (line)
                snprintf(ps->err, ps->err_len, "%s:%u: %s", ps->p->path, line, reason);
        else if (section && key)
                snprintf(ps->err, ps->err_len, "%s: %s.%s: %s", ps->p->path, section, key, reason);
        else
                snprintf(ps->err, ps->err_len, "%s: %s", ps->p->path, reason);
}

/* ---- values -------------------------------------------------------------- */

/* A number: decimal (sign, fraction, exponent), 0x hexadecimal, or a
 * fraction "a/b" of two such numbers (102/52428). */
static int modbus_parse_simple(const char *s, double *out)
{
        char *end;
        double v;

        while (isspace((unsigned char)*s))
                s++;
        if (*s == '\0')
                return -EINVAL;
        errno = 0;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                unsigned long long u = strtoull(s + 2, &end, 16);

                if (end == s + 2 || errno != 0 || u > UINT32_MAX)
                        return -EINVAL;
                v = (double)u;
        } else {
                if (!isdigit((unsigned char)*s) && *s != '-' && *s != '+' && *s != '.')
                        return -EINVAL;
                v = strtod(s, &end);
                if (end == s || errno != 0 || !isfinite(v))
                        return -EINVAL;
        }
        while (isspace((unsigned char)*end))
                end++;
        if (*end != '\0')
                return -EINVAL;
        *out = v;
        return 0;
}

static int modbus_parse_number(const char *value, double *out)
{
        char buf[64];
        char *slash;
        double a, b;

        if (strlen(value) >= sizeof(buf))
                return -EINVAL;
        snprintf(buf, sizeof(buf), "%s", value);
        slash = strchr(buf, '/');
        if (!slash)
                return modbus_parse_simple(buf, out);
        *slash = '\0';
        if (modbus_parse_simple(buf, &a) < 0 || modbus_parse_simple(slash + 1, &b) < 0 || b == 0)
                return -EINVAL;
        *out = a / b;
        return 0;
}

static int modbus_parse_uint(const char *value, uint32_t max, uint32_t *out)
{
        double v;

        if (modbus_parse_simple(value, &v) < 0 || v < 0 || v > max || v != floor(v))
                return -EINVAL;
        *out = (uint32_t)v;
        return 0;
}

static int modbus_parse_area(const char *value, enum modbus_area *out)
{
        for (int a = MODBUS_AREA_COIL; a <= MODBUS_AREA_HOLDING; a++) {
                if (strcmp(value, modbus_area_name((enum modbus_area)a)) == 0) {
                        *out = (enum modbus_area)a;
                        return 0;
                }
        }
        return -EINVAL;
}

static int modbus_parse_type(const char *value, enum modbus_type *out)
{
        for (int t = MODBUS_TYPE_U16; t <= MODBUS_TYPE_F32; t++) {
                if (strcmp(value, modbus_pack_type_name((enum modbus_type)t)) == 0) {
                        *out = (enum modbus_type)t;
                        return 0;
                }
        }
        return -EINVAL;
}

static int modbus_parse_word_order(const char *value, enum modbus_word_order *out)
{
        if (strcmp(value, "big") == 0) {
                *out = MODBUS_WORDS_BIG;
                return 0;
        }
        if (strcmp(value, "little") == 0) {
                *out = MODBUS_WORDS_LITTLE;
                return 0;
        }
        return -EINVAL;
}

static int modbus_parse_function(const char *value, uint8_t *out)
{
        uint32_t f;

        if (modbus_parse_uint(value, 99, &f) < 0 || (f != 5 && f != 6 && f != 15 && f != 16))
                return -EINVAL;
        *out = (uint8_t)f;
        return 0;
}

/* "MASK", "!MASK", "MASK == VALUE" or "MASK != VALUE". */
static int modbus_parse_flag(const char *value, struct modbus_flag *out)
{
        char buf[64];
        const char *op;
        double m, v = 0;
        bool equal = false;

        if (strlen(value) >= sizeof(buf))
                return -EINVAL;
        while (isspace((unsigned char)*value))
                value++;
        if (*value == '!') {
                /* Active while every bit of the mask is clear. */
                if (modbus_parse_simple(value + 1, &m) < 0)
                        return -EINVAL;
                equal = true;
        } else if ((op = strstr(value, "==")) || (op = strstr(value, "!="))) {
                size_t n = (size_t)(op - value);

                memcpy(buf, value, n);
                buf[n] = '\0';
                if (modbus_parse_simple(buf, &m) < 0 || modbus_parse_simple(op + 2, &v) < 0)
                        return -EINVAL;
                equal = op[0] == '=';
        } else {
                /* Active while any bit of the mask is set. */
                if (modbus_parse_simple(value, &m) < 0)
                        return -EINVAL;
        }
        if (m <= 0 || m > UINT32_MAX || m != floor(m) || v < 0 || v > UINT32_MAX || v != floor(v))
                return -EINVAL;
        if (((uint32_t)v & ~(uint32_t)m) != 0)
                return -EINVAL; /* the value has bits outside the mask: never equal */
        *out = (struct modbus_flag) { .set = true, .equal = equal, .mask = (uint32_t)m, .value = (uint32_t)v };
        return 0;
}

/* "AREA ADDRESS VALUE [FUNCTION]" of an [init] / [shutdown] write. */
static int modbus_parse_step(const char *value, struct modbus_step *out, const char **reason)
{
        char buf[128], *save = NULL, *w[5];
        size_t n = 0;
        uint32_t addr, v;
        struct modbus_step s = { .kind = MODBUS_STEP_WRITE };

        if (strlen(value) >= sizeof(buf)) {
                *reason = "too long";
                return -EINVAL;
        }
        snprintf(buf, sizeof(buf), "%s", value);
        for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
                if (n == 5) {
                        *reason = "expected AREA ADDRESS VALUE [FUNCTION]";
                        return -EINVAL;
                }
                w[n++] = t;
        }
        if (n < 3 || n > 4) {
                *reason = "expected AREA ADDRESS VALUE [FUNCTION]";
                return -EINVAL;
        }
        if (modbus_parse_area(w[0], &s.area) < 0 ||
            (s.area != MODBUS_AREA_COIL && s.area != MODBUS_AREA_HOLDING)) {
                *reason = "area must be coil or holding";
                return -EINVAL;
        }
        if (modbus_parse_uint(w[1], 65535, &addr) < 0) {
                *reason = "address must be 0..65535";
                return -EINVAL;
        }
        if (modbus_parse_uint(w[2], s.area == MODBUS_AREA_COIL ? 1 : 65535, &v) < 0) {
                *reason = s.area == MODBUS_AREA_COIL ? "a coil value is 0 or 1" : "value must be 0..65535";
                return -EINVAL;
        }
        s.function = s.area == MODBUS_AREA_COIL ? 5 : 6;
        if (n == 4 && modbus_parse_function(w[3], &s.function) < 0) {
                *reason = "function must be 05, 06, 15 or 16";
                return -EINVAL;
        }
        if ((s.area == MODBUS_AREA_COIL) != (s.function == 5 || s.function == 15)) {
                *reason = "functions 05 and 15 write coils, 06 and 16 holding registers";
                return -EINVAL;
        }
        s.address = (uint16_t)addr;
        s.value = (uint16_t)v;
        *out = s;
        return 0;
}

/* ---- handler ------------------------------------------------------------- */

static int modbus_point_find(const char *section)
{
        for (int i = 0; i < MODBUS_POINT_COUNT; i++)
                if (strcmp(modbus_points[i].name, section) == 0)
                        return i;
        return -1;
}

static bool modbus_section_known(const char *name)
{
        return strcmp(name, "device") == 0 || strcmp(name, "init") == 0 ||
               strcmp(name, "shutdown") == 0 || modbus_point_find(name) >= 0;
}

static int modbus_point_key_find(const char *name)
{
        for (int k = 0; k < PK_FLAG0; k++)
                if (strcmp(modbus_point_key_names[k], name) == 0)
                        return k;
        for (int f = 0; f < MODBUS_FLAG_COUNT; f++)
                if (strcmp(modbus_flag_names[f], name) == 0)
                        return PK_FLAG0 + f;
        if (strncmp(name, "bit", 3) == 0 && isdigit((unsigned char)name[3])) {
                char *end;
                long b = strtol(name + 3, &end, 10);

                if (*end == '\0' && b >= 0 && b < 32 && (name[3] != '0' || name[4] == '\0'))
                        return PK_BIT0 + (int)b;
        }
        return -1;
}

/* Which keys each kind of point takes. */
static bool modbus_point_key_allowed(enum modbus_point_kind kind, int key)
{
        if (key >= PK_FLAG0)
                return kind == KIND_WORD;
        switch ((enum modbus_point_key)key) {
        case PK_AREA:
        case PK_ADDRESS:
        case PK_TYPE:
        case PK_WORD_ORDER:
                return true;
        case PK_SCALE:
        case PK_OFFSET:
                return kind == KIND_SETPOINT || kind == KIND_MEASURE || kind == KIND_CAPABILITY;
        case PK_PERCENT_OF:
                return kind == KIND_SETPOINT || kind == KIND_MEASURE;
        case PK_WRITE:
                return kind == KIND_SETPOINT || kind == KIND_ENABLE;
        case PK_ON:
        case PK_OFF:
        case PK_READBACK:
                return kind == KIND_ENABLE;
        case PK_VALUE:
                return kind == KIND_CAPABILITY;
        case PK_FLAG0:
        case PK_BIT0:
        case PK_COUNT:
                break;
        }
        return false;
}

static void modbus_handle_point(struct modbus_profile_parser *ps, const char *section, int id,
                                const char *name, const char *value)
{
        struct modbus_point *pt = &ps->p->points[id];
        enum modbus_point_kind kind = modbus_points[id].kind;
        int key = modbus_point_key_find(name);
        uint32_t u = 0;
        double d;

        if (key < 0 || !modbus_point_key_allowed(kind, key)) {
                modbus_profile_fail(ps, ps->reader.line, section, name, "unknown key for this point");
                return;
        }
        if (ps->point_line[id][key]) {
                modbus_profile_fail(ps, ps->reader.line, section, name, "set twice (first on line %u)",
                                    ps->point_line[id][key]);
                return;
        }
        ps->point_line[id][key] = ps->reader.line;
        pt->present = true;
        if (!pt->line)
                pt->line = ps->reader.line;

        if (key >= PK_BIT0) {
                int word = id == MODBUS_POINT_FAULT_WORD ? 0 : 1;

                if (strlen(value) >= MODBUS_PROFILE_BIT_NAME_MAX || value[0] == '\0') {
                        modbus_profile_fail(ps, ps->reader.line, section, name, "a bit name is 1..%d characters",
                                            MODBUS_PROFILE_BIT_NAME_MAX - 1);
                        return;
                }
                snprintf(ps->p->bit_names[word][key - PK_BIT0], MODBUS_PROFILE_BIT_NAME_MAX, "%s", value);
                return;
        }
        if (key >= PK_FLAG0) {
                if (modbus_parse_flag(value, &pt->flags[key - PK_FLAG0]) < 0)
                        modbus_profile_fail(ps, ps->reader.line, section, name,
                                            "'%s' is not MASK, !MASK, MASK == VALUE or MASK != VALUE "
                                            "(VALUE within MASK)", value);
                return;
        }
        switch ((enum modbus_point_key)key) {
        case PK_AREA:
                if (modbus_parse_area(value, &pt->area) < 0)
                        modbus_profile_fail(ps, ps->reader.line, section, name,
                                            "'%s' is not coil, discrete, input or holding", value);
                break;
        case PK_ADDRESS:
                if (modbus_parse_uint(value, 65535, &u) < 0)
                        modbus_profile_fail(ps, ps->reader.line, section, name, "'%s' is not an address 0..65535 "
                                            "(the protocol address, counted from 0)", value);
                pt->address = (uint16_t)u;
                break;
        case PK_TYPE:
                if (modbus_parse_type(value, &pt->type) < 0)
                        modbus_profile_fail(ps, ps->reader.line, section, name, "'%s' is not u16, s16, u32, s32 or f32",
                                            value);
                break;
        case PK_WORD_ORDER:
                if (modbus_parse_word_order(value, &pt->word_order) < 0)
                        modbus_profile_fail(ps, ps->reader.line, section, name, "'%s' is neither big nor little", value);
                break;
        case PK_SCALE:
                if (modbus_parse_number(value, &pt->scale) < 0 || pt->scale == 0)
                        modbus_profile_fail(ps, ps->reader.line, section, name, "'%s' is not a non-zero number", value);
                break;
        case PK_OFFSET:
                if (modbus_parse_number(value, &pt->offset) < 0)
                        modbus_profile_fail(ps, ps->reader.line, section, name, "'%s' is not a number", value);
                break;
        case PK_PERCENT_OF:
                if (strcmp(value, "rated_voltage") == 0)
                        pt->percent_of = MODBUS_NOMINAL_RATED_VOLTAGE;
                else if (strcmp(value, "rated_current") == 0)
                        pt->percent_of = MODBUS_NOMINAL_RATED_CURRENT;
                else if (strcmp(value, "rated_power") == 0)
                        pt->percent_of = MODBUS_NOMINAL_RATED_POWER;
                else if (modbus_parse_number(value, &d) == 0 && d > 0) {
                        pt->percent_of = MODBUS_NOMINAL_FIXED;
                        pt->nominal = d;
                } else
                        modbus_profile_fail(ps, ps->reader.line, section, name,
                                            "'%s' is not rated_voltage, rated_current, rated_power or a "
                                            "positive number", value);
                break;
        case PK_WRITE:
                if (modbus_parse_function(value, &pt->write_function) < 0)
                        modbus_profile_fail(ps, ps->reader.line, section, name, "'%s' is not 05, 06, 15 or 16", value);
                break;
        case PK_ON:
        case PK_OFF:
                if (modbus_parse_uint(value, 65535, &u) < 0)
                        modbus_profile_fail(ps, ps->reader.line, section, name, "'%s' is not a value 0..65535", value);
                if (key == PK_ON)
                        pt->on = (uint16_t)u;
                else
                        pt->off = (uint16_t)u;
                break;
        case PK_READBACK:
                if (textparse_bool(value, &pt->readback) < 0)
                        modbus_profile_fail(ps, ps->reader.line, section, name, "'%s' is not true or false", value);
                break;
        case PK_VALUE:
                if (modbus_parse_number(value, &pt->value) < 0 || pt->value <= 0)
                        modbus_profile_fail(ps, ps->reader.line, section, name, "'%s' is not a positive number", value);
                pt->given = true;
                break;
        case PK_FLAG0:
        case PK_BIT0:
        case PK_COUNT:
                break;
        }
}

static void modbus_handle_device(struct modbus_profile_parser *ps, const char *name, const char *value)
{
        struct modbus_profile *p = ps->p;
        int key = -1;
        uint32_t u = 0;

        for (int k = 0; k < DK_COUNT; k++)
                if (strcmp(modbus_device_key_names[k], name) == 0)
                        key = k;
        if (key < 0) {
                modbus_profile_fail(ps, ps->reader.line, "device", name, "unknown key");
                return;
        }
        if (ps->device_line[key]) {
                modbus_profile_fail(ps, ps->reader.line, "device", name, "set twice (first on line %u)",
                                    ps->device_line[key]);
                return;
        }
        ps->device_line[key] = ps->reader.line;
        switch ((enum modbus_device_key)key) {
        case DK_NAME:
                if (strlen(value) >= sizeof(p->name))
                        modbus_profile_fail(ps, ps->reader.line, "device", name, "longer than %zu characters",
                                            sizeof(p->name) - 1);
                else
                        snprintf(p->name, sizeof(p->name), "%s", value);
                break;
        case DK_WORD_ORDER:
                if (modbus_parse_word_order(value, &p->word_order) < 0)
                        modbus_profile_fail(ps, ps->reader.line, "device", name, "'%s' is neither big nor little", value);
                break;
        case DK_MAX_READ_REGISTERS:
                if (modbus_parse_uint(value, MODBUS_PROFILE_MAX_REGISTERS, &u) < 0 || u == 0)
                        modbus_profile_fail(ps, ps->reader.line, "device", name, "'%s' is not 1..%d", value,
                                            MODBUS_PROFILE_MAX_REGISTERS);
                p->max_read_registers = (uint16_t)u;
                break;
        case DK_MAX_READ_BITS:
                if (modbus_parse_uint(value, MODBUS_PROFILE_MAX_BITS, &u) < 0 || u == 0)
                        modbus_profile_fail(ps, ps->reader.line, "device", name, "'%s' is not 1..%d", value,
                                            MODBUS_PROFILE_MAX_BITS);
                p->max_read_bits = (uint16_t)u;
                break;
        case DK_MAX_READ_GAP:
                if (modbus_parse_uint(value, 100, &u) < 0)
                        modbus_profile_fail(ps, ps->reader.line, "device", name, "'%s' is not 0..100", value);
                p->max_read_gap = (uint16_t)u;
                break;
        case DK_ZERO_SETPOINTS_ON_OFF:
                if (textparse_bool(value, &p->zero_setpoints_on_off) < 0)
                        modbus_profile_fail(ps, ps->reader.line, "device", name, "'%s' is not true or false", value);
                break;
        case DK_COUNT:
                break;
        }
}

static void modbus_handle_steps(struct modbus_profile_parser *ps, const char *section, const char *name,
                                const char *value)
{
        bool init = strcmp(section, "init") == 0;
        struct modbus_step *steps = init ? ps->p->init : ps->p->shutdown;
        size_t *n = init ? &ps->p->n_init : &ps->p->n_shutdown;
        const char *reason = NULL;
        uint32_t ms;

        if (*n == MODBUS_PROFILE_MAX_STEPS) {
                modbus_profile_fail(ps, ps->reader.line, section, name, "more than %d steps", MODBUS_PROFILE_MAX_STEPS);
                return;
        }
        if (strcmp(name, "write") == 0) {
                if (modbus_parse_step(value, &steps[*n], &reason) < 0) {
                        modbus_profile_fail(ps, ps->reader.line, section, name, "'%s': %s", value, reason);
                        return;
                }
        } else if (strcmp(name, "delay_ms") == 0) {
                if (modbus_parse_uint(value, 10000, &ms) < 0) {
                        modbus_profile_fail(ps, ps->reader.line, section, name, "'%s' is not 0..10000 ms", value);
                        return;
                }
                steps[*n] = (struct modbus_step) { .kind = MODBUS_STEP_DELAY, .delay_ms = ms };
        } else {
                modbus_profile_fail(ps, ps->reader.line, section, name, "unknown key (write, delay_ms)");
                return;
        }
        (*n)++;
}

static int modbus_profile_handler(void *user, const char *section, const char *name, const char *value)
{
        struct modbus_profile_parser *ps = user;
        int id;

        if (ps->failed)
                return 0;
        if (!value)
                value = "";
        if (section[0] == '\0')
                modbus_profile_fail(ps, ps->reader.line, NULL, NULL, "key '%s' outside a section", name);
        else if (strcmp(section, "device") == 0)
                modbus_handle_device(ps, name, value);
        else if (strcmp(section, "init") == 0 || strcmp(section, "shutdown") == 0)
                modbus_handle_steps(ps, section, name, value);
        else if ((id = modbus_point_find(section)) >= 0)
                modbus_handle_point(ps, section, id, name, value);
        else
                modbus_profile_fail(ps, ps->reader.line, section, NULL, "unknown section");
        return ps->failed ? 0 : 1;
}

/* Section headers, seen here where the line number is known. */
static void modbus_profile_on_section(const char *name, unsigned line, void *userdata)
{
        struct modbus_profile_parser *ps = userdata;
        int id;

        if (!modbus_section_known(name)) {
                modbus_profile_fail(ps, line, name, NULL,
                                    "unknown section (see doc/profiles.md for the point names)");
                return;
        }
        id = modbus_point_find(name);
        if (id >= 0) {
                /* A section with no key at all still declares the point,
                 * so that the whole-profile check can name it. */
                ps->p->points[id].present = true;
                if (!ps->p->points[id].line)
                        ps->p->points[id].line = line;
        }
}

/* A line the reader refused (NUL byte, too long). */
static void modbus_profile_on_bad_line(unsigned line, const char *reason, void *userdata)
{
        modbus_profile_fail(userdata, line, NULL, NULL, "%s", reason);
}

/* ---- whole-profile checks ------------------------------------------------ */

static bool modbus_area_is_bits(enum modbus_area a)
{
        return a == MODBUS_AREA_COIL || a == MODBUS_AREA_DISCRETE;
}

static void modbus_profile_check_point(struct modbus_profile_parser *ps, int id)
{
        struct modbus_point *pt = &ps->p->points[id];
        enum modbus_point_kind kind = modbus_points[id].kind;
        const char *sec = modbus_points[id].name;
        unsigned *lines = ps->point_line[id];
        unsigned words;

        if (!pt->present)
                return;
        if (!lines[PK_WORD_ORDER])
                pt->word_order = ps->p->word_order;
        if (kind == KIND_CAPABILITY && pt->given) {
                for (int k = 0; k < PK_COUNT; k++)
                        if (k != PK_VALUE && lines[k])
                                modbus_profile_fail(ps, lines[k], sec, k < PK_FLAG0 ? modbus_point_key_names[k] : "?",
                                                    "a capability is either given (value) or read, not both");
                return;
        }
        if (!lines[PK_AREA]) {
                modbus_profile_fail(ps, pt->line, sec, "area", "required");
                return;
        }
        if (!lines[PK_ADDRESS]) {
                modbus_profile_fail(ps, pt->line, sec, "address", "required");
                return;
        }
        words = modbus_pack_words(pt->type);
        if ((unsigned)pt->address + words - 1 > 65535) {
                modbus_profile_fail(ps, lines[PK_ADDRESS], sec, "address", "the value runs past register 65535");
                return;
        }
        if (modbus_area_is_bits(pt->area) && (pt->type != MODBUS_TYPE_U16 || lines[PK_WORD_ORDER])) {
                modbus_profile_fail(ps, lines[PK_TYPE] ? lines[PK_TYPE] : lines[PK_AREA], sec, "type",
                                    "a coil or discrete input is one bit: no type or word order");
                return;
        }
        switch (kind) {
        case KIND_SETPOINT:
                if (pt->area != MODBUS_AREA_HOLDING) {
                        modbus_profile_fail(ps, lines[PK_AREA], sec, "area", "a setpoint is a holding register");
                        return;
                }
                if (!pt->write_function)
                        pt->write_function = words == 1 ? 6 : 16;
                if (pt->write_function != 6 && pt->write_function != 16) {
                        modbus_profile_fail(ps, lines[PK_WRITE], sec, "write", "a register is written with 06 or 16");
                        return;
                }
                if (pt->write_function == 6 && words != 1) {
                        modbus_profile_fail(ps, lines[PK_WRITE], sec, "write",
                                            "06 writes one register; a 32-bit value needs 16");
                        return;
                }
                break;
        case KIND_ENABLE:
                if (pt->area != MODBUS_AREA_COIL && pt->area != MODBUS_AREA_HOLDING) {
                        modbus_profile_fail(ps, lines[PK_AREA], sec, "area", "output_enable is a coil or a holding register");
                        return;
                }
                if (pt->type != MODBUS_TYPE_U16) {
                        modbus_profile_fail(ps, lines[PK_TYPE], sec, "type", "output_enable is one register (u16)");
                        return;
                }
                if (!lines[PK_ON])
                        pt->on = 1;
                if (pt->area == MODBUS_AREA_COIL && (pt->on > 1 || pt->off > 1)) {
                        modbus_profile_fail(ps, lines[PK_ON] ? lines[PK_ON] : lines[PK_OFF], sec,
                                            lines[PK_ON] ? "on" : "off", "a coil is 0 or 1");
                        return;
                }
                if (pt->on == pt->off) {
                        modbus_profile_fail(ps, pt->line, sec, "on", "on and off must differ");
                        return;
                }
                if (!pt->write_function)
                        pt->write_function = pt->area == MODBUS_AREA_COIL ? 5 : 6;
                if ((pt->area == MODBUS_AREA_COIL) != (pt->write_function == 5 || pt->write_function == 15)) {
                        modbus_profile_fail(ps, lines[PK_WRITE], sec, "write",
                                            "functions 05 and 15 write coils, 06 and 16 holding registers");
                        return;
                }
                if (!lines[PK_READBACK])
                        pt->readback = true;
                break;
        case KIND_MEASURE:
        case KIND_CAPABILITY:
                if (modbus_area_is_bits(pt->area)) {
                        modbus_profile_fail(ps, lines[PK_AREA], sec, "area", "a value is an input or holding register");
                        return;
                }
                break;
        case KIND_WORD:
                if (pt->type != MODBUS_TYPE_U16 && pt->type != MODBUS_TYPE_U32) {
                        modbus_profile_fail(ps, lines[PK_TYPE], sec, "type", "a bit field is u16 or u32");
                        return;
                }
                if (id == MODBUS_POINT_FAULT_WORD && !pt->flags[MODBUS_FLAG_FAULT].set)
                        /* A fault word without a mask: any bit is a fault. */
                        pt->flags[MODBUS_FLAG_FAULT] = (struct modbus_flag) {
                                .set = true, .equal = false, .mask = UINT32_MAX, .value = 0 };
                break;
        }
        if (pt->percent_of >= MODBUS_NOMINAL_RATED_VOLTAGE && pt->percent_of <= MODBUS_NOMINAL_RATED_POWER) {
                int cap = MODBUS_POINT_RATED_VOLTAGE + (pt->percent_of - MODBUS_NOMINAL_RATED_VOLTAGE);

                if (!ps->p->points[cap].present)
                        modbus_profile_fail(ps, lines[PK_PERCENT_OF], sec, "percent_of",
                                            "needs a [%s] section (read or given)", modbus_points[cap].name);
        }
}

static void modbus_profile_defaults(struct modbus_profile *p)
{
        memset(p, 0, sizeof(*p));
        p->word_order = MODBUS_WORDS_BIG;
        p->max_read_registers = MODBUS_PROFILE_MAX_REGISTERS;
        p->max_read_bits = 64;
        p->max_read_gap = 0;
        p->zero_setpoints_on_off = true;
        for (int i = 0; i < MODBUS_POINT_COUNT; i++) {
                p->points[i].scale = 1.0;
                p->points[i].type = MODBUS_TYPE_U16;
        }
}

int modbus_profile_load_stream(FILE *f, const char *path, struct modbus_profile *out, char *err,
                               size_t err_len)
{
        struct modbus_profile_parser *ps;
        struct modbus_plan plan;
        int r;

        if (strlen(path) >= sizeof(out->path)) {
                /* Only its start: a path this long says nothing more, and
                 * an unbounded %s trips -Wformat-truncation on 32-bit. */
                snprintf(err, err_len, "%.64s...: path longer than %zu characters", path,
                         sizeof(out->path) - 1);
                return -ENAMETOOLONG;
        }
        ps = calloc(1, sizeof(*ps) + sizeof(struct modbus_profile));
        if (!ps) {
                snprintf(err, err_len, "%s: out of memory", path);
                return -ENOMEM;
        }
        ps->p = (struct modbus_profile *)(ps + 1);
        modbus_profile_defaults(ps->p);
        snprintf(ps->p->path, sizeof(ps->p->path), "%s", path);
        ps->err = err;
        ps->err_len = err_len;
        ps->reader = (struct ini_reader) {
                .file = f,
                .stop = &ps->failed,
                .section = modbus_profile_on_section,
                .error = modbus_profile_on_bad_line,
                .userdata = ps,
        };
        r = ini_parse_stream(ini_reader_line, &ps->reader, modbus_profile_handler, ps);
        if (!ps->failed && ferror(f))
                modbus_profile_fail(ps, 0, NULL, NULL, "read error");
        else if (!ps->failed && r > 0)
                modbus_profile_fail(ps, (unsigned)r, NULL, NULL, "syntax error (expected [section] or key = value)");
        else if (!ps->failed && r < 0)
                modbus_profile_fail(ps, 0, NULL, NULL, "cannot parse (inih error %d)", r);

        for (int i = 0; i < MODBUS_POINT_COUNT && !ps->failed; i++)
                modbus_profile_check_point(ps, i);
        if (!ps->failed) {
                if (modbus_plan_build(ps->p, false, &plan) < 0 || modbus_plan_build(ps->p, true, &plan) < 0)
                        modbus_profile_fail(ps, 0, NULL, NULL, "the points need more than %d reads per cycle; "
                                            "allow a larger device.max_read_gap",
                                            MODBUS_PROFILE_MAX_BLOCKS);
        }
        if (ps->failed) {
                free(ps);
                return -EINVAL;
        }
        if (!ps->p->name[0])
                snprintf(ps->p->name, sizeof(ps->p->name), "%s", path);
        memcpy(out, ps->p, sizeof(*out));
        free(ps);
        return 0;
}

int modbus_profile_load(const char *path, struct modbus_profile *out, char *err, size_t err_len)
{
        struct stat st;
        FILE *f;
        int r;

        if (strlen(path) >= sizeof(out->path)) {
                /* Only its start: a path this long says nothing more, and
                 * an unbounded %s trips -Wformat-truncation on 32-bit. */
                snprintf(err, err_len, "%.64s...: path longer than %zu characters", path,
                         sizeof(out->path) - 1);
                return -ENAMETOOLONG;
        }
        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                snprintf(err, err_len, "%s: cannot open: %s", path, strerror(-r));
                return r;
        }
        if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
                snprintf(err, err_len, "%s: cannot open: %s", path, strerror(EISDIR));
                fclose(f);
                return -EISDIR;
        }
        r = modbus_profile_load_stream(f, path, out, err, err_len);
        fclose(f);
        return r;
}

static bool modbus_flag_same(const struct modbus_flag *a, const struct modbus_flag *b)
{
        return a->set == b->set && a->equal == b->equal && a->mask == b->mask && a->value == b->value;
}

static bool modbus_point_same(const struct modbus_point *a, const struct modbus_point *b)
{
        for (int f = 0; f < MODBUS_FLAG_COUNT; f++)
                if (!modbus_flag_same(&a->flags[f], &b->flags[f]))
                        return false;
        /* Not the line: where it was written is not what it says. */
        return a->present == b->present && a->given == b->given && a->readback == b->readback &&
               a->area == b->area && a->address == b->address && a->type == b->type &&
               a->word_order == b->word_order && a->write_function == b->write_function &&
               a->scale == b->scale && a->offset == b->offset && a->percent_of == b->percent_of &&
               a->nominal == b->nominal && a->value == b->value && a->on == b->on && a->off == b->off;
}

static bool modbus_steps_same(const struct modbus_step *a, size_t na, const struct modbus_step *b, size_t nb)
{
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (a[i].kind != b[i].kind || a[i].area != b[i].area || a[i].function != b[i].function ||
                    a[i].address != b[i].address || a[i].value != b[i].value || a[i].delay_ms != b[i].delay_ms)
                        return false;
        return true;
}

bool modbus_profile_same(const struct modbus_profile *a, const struct modbus_profile *b)
{
        if (strcmp(a->name, b->name) != 0 || a->word_order != b->word_order ||
            a->max_read_registers != b->max_read_registers || a->max_read_bits != b->max_read_bits ||
            a->max_read_gap != b->max_read_gap || a->zero_setpoints_on_off != b->zero_setpoints_on_off)
                return false;
        for (int i = 0; i < MODBUS_POINT_COUNT; i++)
                if (!modbus_point_same(&a->points[i], &b->points[i]))
                        return false;
        for (int w = 0; w < 2; w++)
                for (int bit = 0; bit < 32; bit++)
                        if (strcmp(a->bit_names[w][bit], b->bit_names[w][bit]) != 0)
                                return false;
        return modbus_steps_same(a->init, a->n_init, b->init, b->n_init) &&
               modbus_steps_same(a->shutdown, a->n_shutdown, b->shutdown, b->n_shutdown);
}

bool modbus_profile_can_sink(const struct modbus_profile *p)
{
        enum modbus_type t = p->points[MODBUS_POINT_SET_CURRENT].type;

        return p->points[MODBUS_POINT_SET_SINK_CURRENT].present ||
               (p->points[MODBUS_POINT_SET_CURRENT].present &&
                (t == MODBUS_TYPE_S16 || t == MODBUS_TYPE_S32 || t == MODBUS_TYPE_F32));
}

int modbus_profile_check_role(const struct modbus_profile *p, enum modbus_role role, char *err,
                              size_t err_len)
{
        static const enum modbus_point_id converter_needs[] = {
                MODBUS_POINT_SET_VOLTAGE, MODBUS_POINT_SET_CURRENT,
                MODBUS_POINT_PRESENT_VOLTAGE, MODBUS_POINT_PRESENT_CURRENT,
        };
        static const enum modbus_point_id monitor_refuses[] = {
                MODBUS_POINT_SET_VOLTAGE, MODBUS_POINT_SET_CURRENT, MODBUS_POINT_OUTPUT_ENABLE,
                MODBUS_POINT_SET_SINK_CURRENT,
        };

        switch (role) {
        case MODBUS_ROLE_CONVERTER:
                for (size_t i = 0; i < sizeof(converter_needs) / sizeof(converter_needs[0]); i++) {
                        if (!p->points[converter_needs[i]].present) {
                                snprintf(err, err_len, "%s: a converter profile needs a [%s] section", p->path,
                                         modbus_points[converter_needs[i]].name);
                                return -EINVAL;
                        }
                }
                return 0;
        case MODBUS_ROLE_MONITOR:
                if (!p->points[MODBUS_POINT_INSULATION_RESISTANCE].present) {
                        snprintf(err, err_len, "%s: an insulation monitor profile needs an [insulation_resistance] section",
                                 p->path);
                        return -EINVAL;
                }
                for (size_t i = 0; i < sizeof(monitor_refuses) / sizeof(monitor_refuses[0]); i++) {
                        if (p->points[monitor_refuses[i]].present) {
                                snprintf(err, err_len, "%s:%u: [%s]: an insulation monitor profile has no setpoints "
                                         "or output", p->path, p->points[monitor_refuses[i]].line,
                                         modbus_points[monitor_refuses[i]].name);
                                return -EINVAL;
                        }
                }
                return 0;
        }
        return -EINVAL;
}

/* ---- read plans ---------------------------------------------------------- */

static bool modbus_plan_wants(const struct modbus_profile *p, int id, bool capabilities)
{
        const struct modbus_point *pt = &p->points[id];
        enum modbus_point_kind kind = modbus_points[id].kind;

        if (!pt->present)
                return false;
        if (capabilities)
                return kind == KIND_CAPABILITY && !pt->given;
        switch (kind) {
        case KIND_MEASURE:
        case KIND_WORD:
                return true;
        case KIND_ENABLE:
                return pt->readback;
        case KIND_SETPOINT:
        case KIND_CAPABILITY:
                return false;
        }
        return false;
}

int modbus_plan_build(const struct modbus_profile *p, bool capabilities, struct modbus_plan *out)
{
        int order[MODBUS_POINT_COUNT];
        int n = 0;
        struct modbus_plan plan = { .n_blocks = 0 };

        for (int i = 0; i < MODBUS_POINT_COUNT; i++) {
                plan.block_of[i] = -1;
                if (modbus_plan_wants(p, i, capabilities))
                        order[n++] = i;
        }
        /* By area, then address (insertion sort: a dozen points). */
        for (int i = 1; i < n; i++) {
                int v = order[i], j = i - 1;
                const struct modbus_point *pv = &p->points[v];

                while (j >= 0 && (p->points[order[j]].area > pv->area ||
                                  (p->points[order[j]].area == pv->area &&
                                   p->points[order[j]].address > pv->address))) {
                        order[j + 1] = order[j];
                        j--;
                }
                order[j + 1] = v;
        }
        for (int i = 0; i < n; i++) {
                const struct modbus_point *pt = &p->points[order[i]];
                unsigned words = modbus_pack_words(pt->type);
                unsigned limit = modbus_area_is_bits(pt->area) ? p->max_read_bits : p->max_read_registers;
                struct modbus_block *b = plan.n_blocks ? &plan.blocks[plan.n_blocks - 1] : NULL;
                unsigned end = (unsigned)pt->address + words;

                if (b && b->area == pt->area &&
                    (unsigned)pt->address <= (unsigned)b->start + b->count + p->max_read_gap &&
                    (end <= (unsigned)b->start + b->count || end - b->start <= limit)) {
                        if (end > (unsigned)b->start + b->count)
                                b->count = (uint16_t)(end - b->start);
                } else {
                        if (plan.n_blocks == MODBUS_PROFILE_MAX_BLOCKS)
                                return -E2BIG;
                        b = &plan.blocks[plan.n_blocks++];
                        *b = (struct modbus_block) { .area = pt->area, .start = pt->address, .count = (uint16_t)words };
                }
                plan.block_of[order[i]] = (int)plan.n_blocks - 1;
                plan.offset_of[order[i]] = (uint16_t)(pt->address - b->start);
        }
        *out = plan;
        return 0;
}

/* ---- values -------------------------------------------------------------- */

void modbus_caps_from_profile(const struct modbus_profile *p, struct modbus_caps *caps)
{
        *caps = (struct modbus_caps) { .known = { false } };
        for (int c = 0; c < MODBUS_CAPS; c++) {
                const struct modbus_point *pt = &p->points[MODBUS_POINT_RATED_VOLTAGE + c];

                if (pt->present && pt->given) {
                        caps->known[c] = true;
                        caps->value[c] = pt->value;
                }
        }
}

static int modbus_point_nominal(const struct modbus_point *pt, const struct modbus_caps *caps, double *nominal)
{
        switch (pt->percent_of) {
        case MODBUS_NOMINAL_NONE:
                *nominal = 0;
                return 0;
        case MODBUS_NOMINAL_FIXED:
                *nominal = pt->nominal;
                return 0;
        case MODBUS_NOMINAL_RATED_VOLTAGE:
        case MODBUS_NOMINAL_RATED_CURRENT:
        case MODBUS_NOMINAL_RATED_POWER: {
                int c = pt->percent_of - MODBUS_NOMINAL_RATED_VOLTAGE;

                if (!caps || !caps->known[c] || !(caps->value[c] > 0))
                        return -ENODATA;
                *nominal = caps->value[c];
                return 0;
        }
        }
        return -ENODATA;
}

int modbus_point_decode(const struct modbus_point *pt, const uint16_t *regs,
                        const struct modbus_caps *caps, double *out)
{
        double raw, nominal, v;
        int r;

        r = modbus_point_nominal(pt, caps, &nominal);
        if (r < 0)
                return r;
        r = modbus_pack_decode(pt->type, pt->word_order, regs, &raw);
        if (r < 0)
                return r;
        v = raw * pt->scale + pt->offset;
        if (pt->percent_of != MODBUS_NOMINAL_NONE)
                v = v * nominal / 100.0;
        if (!isfinite(v))
                return -EDOM;
        *out = v;
        return 0;
}

int modbus_point_encode(const struct modbus_point *pt, double value, const struct modbus_caps *caps,
                        uint16_t *regs)
{
        double nominal;
        int r;

        r = modbus_point_nominal(pt, caps, &nominal);
        if (r < 0)
                return r;
        if (pt->percent_of != MODBUS_NOMINAL_NONE)
                value = value * 100.0 / nominal;
        return modbus_pack_encode(pt->type, pt->word_order, (value - pt->offset) / pt->scale, regs);
}

uint32_t modbus_point_raw(const struct modbus_point *pt, const uint16_t *regs)
{
        return modbus_pack_raw(pt->type, pt->word_order, regs);
}

bool modbus_flag_active(const struct modbus_flag *f, uint32_t raw)
{
        if (!f->set)
                return false;
        return ((raw & f->mask) == f->value) == f->equal;
}

void modbus_profile_bit_names(const struct modbus_profile *p, int word, uint32_t raw, char *buf,
                              size_t len)
{
        size_t n = 0;

        if (len == 0)
                return;
        buf[0] = '\0';
        for (int b = 0; b < 32 && n < len; b++) {
                const char *name = p->bit_names[word & 1][b];
                int w;

                if (!(raw & (UINT32_C(1) << b)) || !name[0])
                        continue;
                w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "", name);
                if (w < 0)
                        break;
                n += (size_t)w;
        }
}
