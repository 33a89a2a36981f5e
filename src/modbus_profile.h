/* SPDX-License-Identifier: MIT */
/*
 * Register-map profiles: which Modbus point holds what, for one model of
 * converter or insulation monitor.  A profile is an INI file (see
 * doc/profiles.md and conf/profiles/generic.conf); this module parses and
 * checks it, plans the reads of a cycle and converts between register
 * contents and engineering values.
 *
 * Pure: no libmodbus, no threads, no clock.  File I/O only in
 * modbus_profile_load().
 *
 * Engineering units: volts, amperes, watts, degrees Celsius, kilo-ohms.
 * A point's value is (raw x scale + offset), and for a percent-of-nominal
 * point that is a percentage of the nominal:
 *     value = (raw x scale + offset) x nominal / 100
 */
#ifndef SECCBRIDGE_MODBUS_PROFILE_H
#define SECCBRIDGE_MODBUS_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "modbus_pack.h"

#define MODBUS_PROFILE_MAX_STEPS 16     /* per [init] / [shutdown] */
#define MODBUS_PROFILE_MAX_BLOCKS 16    /* reads per cycle, at most */
#define MODBUS_PROFILE_BIT_NAME_MAX 32
#define MODBUS_PROFILE_MAX_REGISTERS 125 /* the protocol's limit for one read */
#define MODBUS_PROFILE_MAX_BITS 256     /* our limit for one coil/discrete read */

enum modbus_area {
        MODBUS_AREA_COIL,
        MODBUS_AREA_DISCRETE,
        MODBUS_AREA_INPUT,
        MODBUS_AREA_HOLDING,
};

enum modbus_point_id {
        MODBUS_POINT_SET_VOLTAGE,
        MODBUS_POINT_SET_CURRENT,
        MODBUS_POINT_OUTPUT_ENABLE,
        MODBUS_POINT_PRESENT_VOLTAGE,
        MODBUS_POINT_PRESENT_CURRENT,
        MODBUS_POINT_MODULE_TEMPERATURE,
        MODBUS_POINT_ENCLOSURE_TEMPERATURE,
        MODBUS_POINT_INSULATION_RESISTANCE,
        MODBUS_POINT_FAULT_WORD,
        MODBUS_POINT_STATUS_WORD,
        MODBUS_POINT_RATED_VOLTAGE,
        MODBUS_POINT_RATED_CURRENT,
        MODBUS_POINT_RATED_POWER,
        /* Sinking (B2: current out of the EV), after the three ratings so
         * that the five rated values are contiguous. */
        MODBUS_POINT_RATED_SINK_CURRENT,
        MODBUS_POINT_RATED_SINK_POWER,
        MODBUS_POINT_SET_SINK_CURRENT,
        MODBUS_POINT_COUNT
};

/* What a fault or status word can say. */
enum modbus_flag_id {
        MODBUS_FLAG_FAULT,      /* the device reports a fault */
        MODBUS_FLAG_READY,      /* able to deliver power */
        MODBUS_FLAG_OUTPUT_ON,  /* output enabled (confirms on/off) */
        MODBUS_FLAG_CC,         /* regulating current */
        MODBUS_FLAG_CV,         /* regulating voltage */
        MODBUS_FLAG_REMOTE,     /* under remote (Modbus) control */
        MODBUS_FLAG_INVALID,    /* the measurement is not valid now */
        MODBUS_FLAG_COUNT
};

/* Active when (raw & mask) == value (equal) or != value (!equal). */
struct modbus_flag {
        bool set;
        bool equal;
        uint32_t mask;
        uint32_t value;
};

enum modbus_nominal {
        MODBUS_NOMINAL_NONE,
        MODBUS_NOMINAL_RATED_VOLTAGE,
        MODBUS_NOMINAL_RATED_CURRENT,
        MODBUS_NOMINAL_RATED_POWER,
        MODBUS_NOMINAL_FIXED,
};

struct modbus_point {
        bool present;                   /* section in the profile */
        bool given;                     /* capability given by value, not read */
        bool readback;                  /* output_enable: read back to confirm */
        enum modbus_area area;
        uint16_t address;
        enum modbus_type type;
        enum modbus_word_order word_order;
        uint8_t write_function;         /* 5, 6, 15, 16; 0 = never written */
        double scale;
        double offset;
        enum modbus_nominal percent_of;
        double nominal;                 /* MODBUS_NOMINAL_FIXED */
        double value;                   /* given capability */
        uint16_t on;                    /* output_enable encodings */
        uint16_t off;
        struct modbus_flag flags[MODBUS_FLAG_COUNT];
        unsigned line;                  /* of the section header */
};

enum modbus_step_kind {
        MODBUS_STEP_WRITE,
        MODBUS_STEP_DELAY,
};

struct modbus_step {
        enum modbus_step_kind kind;
        enum modbus_area area;          /* coil or holding */
        uint8_t function;               /* 5, 6, 15 or 16 */
        uint16_t address;
        uint16_t value;
        uint32_t delay_ms;
};

struct modbus_profile {
        char path[256];
        char name[64];
        enum modbus_word_order word_order;      /* default of 32-bit points */
        uint16_t max_read_registers;
        uint16_t max_read_bits;
        uint16_t max_read_gap;                  /* unused registers a read may span */
        bool zero_setpoints_on_off;             /* OFF also writes 0 V / 0 A */
        struct modbus_point points[MODBUS_POINT_COUNT];
        /* Names of the bits of the fault word [0] and the status word [1]. */
        char bit_names[2][32][MODBUS_PROFILE_BIT_NAME_MAX];
        struct modbus_step init[MODBUS_PROFILE_MAX_STEPS];
        size_t n_init;
        struct modbus_step shutdown[MODBUS_PROFILE_MAX_STEPS];
        size_t n_shutdown;
};

/* What the profile describes. */
enum modbus_role {
        MODBUS_ROLE_CONVERTER,
        MODBUS_ROLE_MONITOR,
};

/* Rated values (capabilities) as known: given or read at connect. */
#define MODBUS_CAPS 5
struct modbus_caps {
        bool known[MODBUS_CAPS];        /* voltage, current, power, sink current, sink power */
        double value[MODBUS_CAPS];      /* V, A, W, A, W */
};

/* The reads of one cycle (or of the capabilities), grouped. */
struct modbus_block {
        enum modbus_area area;
        uint16_t start;
        uint16_t count;         /* registers or bits */
};

struct modbus_plan {
        struct modbus_block blocks[MODBUS_PROFILE_MAX_BLOCKS];
        size_t n_blocks;
        int block_of[MODBUS_POINT_COUNT];       /* -1 = not in this plan */
        uint16_t offset_of[MODBUS_POINT_COUNT]; /* within its block */
};

const char *modbus_area_name(enum modbus_area area);
const char *modbus_point_name(enum modbus_point_id id);
const char *modbus_flag_name(enum modbus_flag_id id);

/* Read a profile.  0, or -errno with "file:line: section.key: reason" (or
 * "file: reason") in err: -ENOENT/-EACCES... for the file, -EINVAL for its
 * contents. */
int modbus_profile_load(const char *path, struct modbus_profile *out, char *err, size_t err_len);
/* The same from an open stream; `path` names it in errors and in out->path. */
int modbus_profile_load_stream(FILE *f, const char *path, struct modbus_profile *out, char *err,
                               size_t err_len);

/* Whether two profiles describe the same device the same way: every point,
 * flag, bit name and sequence step, the device settings and the name; only
 * where they were read from may differ (the path, the line numbers: a
 * comment added, sections moved).  A reload applies such a profile without
 * a restart. */
bool modbus_profile_same(const struct modbus_profile *a, const struct modbus_profile *b);

/* B2: whether the converter can be told to take current out of the EV:
 * a [set_sink_current] setpoint, or a signed [set_current] (the sign is
 * the direction). */
bool modbus_profile_can_sink(const struct modbus_profile *p);

/* Whether the profile fits the role (a converter needs setpoints and
 * measurements, a monitor an insulation resistance).  0 or -EINVAL with a
 * reason. */
int modbus_profile_check_role(const struct modbus_profile *p, enum modbus_role role, char *err,
                              size_t err_len);

/* The points read every cycle (measurements, words, output read-back), or
 * with capabilities = true the capability registers.  0 or -E2BIG (more
 * blocks than MODBUS_PROFILE_MAX_BLOCKS). */
int modbus_plan_build(const struct modbus_profile *p, bool capabilities, struct modbus_plan *out);

/* Capabilities given by value in the profile. */
void modbus_caps_from_profile(const struct modbus_profile *p, struct modbus_caps *caps);

/* Engineering value of a point from its registers.  0; -EDOM for a float
 * that is not finite; -ENODATA when the point is percent-of-nominal and the
 * nominal is not known (yet). */
int modbus_point_decode(const struct modbus_point *pt, const uint16_t *regs,
                        const struct modbus_caps *caps, double *out);

/* Registers for an engineering value.  0, 1 when it had to be clamped to
 * what the type can hold, -ENODATA (nominal unknown), -EDOM (NaN). */
int modbus_point_encode(const struct modbus_point *pt, double value, const struct modbus_caps *caps,
                        uint16_t *regs);

/* A word's raw bits (1 or 2 registers). */
uint32_t modbus_point_raw(const struct modbus_point *pt, const uint16_t *regs);

bool modbus_flag_active(const struct modbus_flag *f, uint32_t raw);

/* Names of the bits of raw that are set and named in word 0 (fault) or 1
 * (status), comma separated; "" if none is named. */
void modbus_profile_bit_names(const struct modbus_profile *p, int word, uint32_t raw, char *buf,
                              size_t len);

#endif
