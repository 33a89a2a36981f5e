/* SPDX-License-Identifier: MIT */
/*
 * Daemon configuration: INI text (inih) parsed into a plain struct, then a
 * separate validation pass.  Every error names file, line, key and reason.
 * Every key is documented with its default and unit in conf/seccbridge.conf.
 */
#ifndef SECCBRIDGE_CONFIG_H
#define SECCBRIDGE_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include "modbus_params.h"
#include "seccbridge/arbiter.h"
#include "seccbridge/session.h"
#include "sim_model.h"
#include "telemetry_params.h"

#define CONFIG_DEFAULT_PATH SECCBRIDGE_SYSCONFDIR "/seccbridge/seccbridge.conf"
#define CONFIG_EXIT_BAD 78      /* EX_CONFIG */

struct config_can {
        char interface[32];             /* IFNAMSIZ-bounded */
        uint8_t pistol_index;           /* 1..31 */
        uint32_t bitrate;               /* bit/s; 0 = leave as configured */
        uint32_t restart_ms;            /* bus-off auto restart; 0 = leave */
};

/* No converter: supervisor mode (the controller's own modules do the power). */
#define CONFIG_BACKEND_NONE "none"

struct config_converter {
        char backend[32];               /* "sim" (default), "modbus-rtu", "modbus-tcp", "none" */
};

struct config_dbus {
        bool enable;                    /* offer the D-Bus interface (default true) */
        char address[512];              /* bus address; "" = the system bus */
};

/* Several pistols in one process (doc/sharing.md): [pistol NAME],
 * [converter NAME] and [modbus-line NAME] sections.  A file without
 * [pistol NAME] is one pistol on one converter, as always: pistols[0] and
 * units[0] are then built from the process-wide sections. */
#define CONFIG_MAX_PISTOLS ARBITER_MAX_PISTOLS
#define CONFIG_MAX_UNITS ARBITER_MAX_CONVERTERS
#define CONFIG_NAME_MAX 32

struct config_pistol {
        char name[CONFIG_NAME_MAX];     /* [pistol NAME]; "" in the one-pistol format */
        uint8_t unit;                   /* index into units[] */
        /* [limits], [sequence], [safety], [v3], [controller_io], then the
         * pistol's own keys; pistol = its pistol_index */
        struct session_config session;
};

/* One converter (a power stage) as its backend gets it. */
struct config_unit {
        char name[CONFIG_NAME_MAX];     /* [converter NAME]; "" = the process-wide [converter] */
        char line[CONFIG_NAME_MAX];     /* [modbus-line NAME] it sits on, or "" */
        char backend[32];
        struct sim_params sim;
        struct modbus_params modbus;
};

struct config {
        char path[4096];                /* file it was read from */
        struct config_can can;
        struct session_config session;  /* [limits], [sequence], [safety], [v3], [controller_io],
                                         * [can] interface_version, [converter] backend = none */
        struct config_converter converter;
        struct config_dbus dbus;        /* [dbus] */
        struct sim_params sim;          /* [sim] */
        struct modbus_params modbus;    /* [modbus] */
        struct modbus_params insulation_monitor; /* [insulation_monitor]; transport NONE = none */
        struct telemetry_params telemetry;      /* [mqtt], [metrics] */

        /* Every pistol and converter of the process (one each in the
         * one-pistol format, where pistols[0].session == session).
         * sharing: which pistol uses which converter, [sharing] and each
         * pistol's priority, for the arbiter. */
        bool several;                   /* the file has [pistol NAME] sections */
        uint8_t n_pistols;
        struct config_pistol pistols[CONFIG_MAX_PISTOLS];
        uint8_t n_units;
        struct config_unit units[CONFIG_MAX_UNITS];
        struct arbiter_config sharing;
};

/* Where a config error was found (line 0 = whole file / missing key). */
struct config_error {
        char file[4096];
        unsigned line;
        char key[64];                   /* "section.key" or "" */
        char reason[256];
};

/* The i-th key of [can], [limits], [sequence], [safety], [v3], [converter],
 * [dbus], [controller_io] and [sharing] (from 0), with its default as it would be written in the file (NULL
 * for a required key).  false past the last one.  ([sim], [modbus] and
 * [insulation_monitor] have their own tables: sim_model.h, modbus_params.h.) */
bool config_key_at(size_t i, const char **section, const char **name, const char **def);

/* Read and validate a file.  0, or -errno with *err filled in:
 * -ENOENT/-EACCES... for the file itself, -EINVAL for a bad key or value. */
int config_load(const char *path, struct config *cfg, struct config_error *err);
/* The same from an open stream; `name` stands for the file in errors and in
 * cfg->path (relative profile paths resolve against its directory). */
int config_load_stream(FILE *f, const char *name, struct config *cfg, struct config_error *err);

/* "file:line: key: reason" (or "file: reason" for file errors). */
void config_error_format(const struct config_error *err, char *buf, size_t len);

#endif
