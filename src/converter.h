/* SPDX-License-Identifier: MIT */
/*
 * Converter backends behind one ops table.  The loop thread hands the
 * backend the latest wanted state (never blocking) and gets measurements back
 * through a callback run on the loop thread.
 */
#ifndef SECCBRIDGE_CONVERTER_H
#define SECCBRIDGE_CONVERTER_H

#include <stdint.h>

#include <ev.h>

#include "seccbridge/power.h"

struct converter;
struct config;

/* Called on the loop thread with each new measurement (link state, readiness
 * and faults included). */
typedef void (*converter_measurement_cb)(const struct power_measurement *m, void *userdata);

/* Each backend is given its own settings only, never the whole config:
 *   "sim"                       const struct sim_params * ([sim])
 *   "modbus-rtu", "modbus-tcp"  const struct modbus_backend_settings *
 *                               ([modbus], [insulation_monitor])
 * converter.c is the one place that knows where they are in the config. */
struct converter_ops {
        const char *name;
        /* Start the backend: 0 or -errno (logged by the backend, once, with
         * the reason).  The settings are copied: they need not outlive the
         * call. */
        int (*open)(struct converter *conv, const void *settings);
        /* The latest wanted state.  Never blocks; an OFF command overtakes
         * anything queued. */
        void (*command)(struct converter *conv, const struct power_command *cmd);
        /* Apply reloaded settings (of the same kind as open's); may be NULL.
         * 0, or -errno and the old settings stay in force. */
        int (*reconfigure)(struct converter *conv, const void *settings);
        /* The backend's own account of the current problem ("" when all is
         * well), for D-Bus; may be NULL (never more than link and fault). */
        void (*last_error)(const struct converter *conv, char *buf, size_t len);
        /* Stop and free everything open() made.  Accepts a never-opened conv. */
        void (*close)(struct converter *conv);
};

struct converter {
        const struct converter_ops *ops;
        struct ev_loop *loop;
        converter_measurement_cb on_measurement;
        void *userdata;
        void *data;                     /* backend private */
};

/* Backend by name ("sim", "modbus-rtu", "modbus-tcp"); NULL if unknown. */
const struct converter_ops *converter_find(const char *name);

/* Open the backend named in cfg with its settings.  0 or -errno. */
int converter_open(struct converter *conv, struct ev_loop *loop, const struct config *cfg,
                   converter_measurement_cb cb, void *userdata);
/* The same for converter `unit` of cfg->units[] (several pistols: a
 * [converter NAME]); its backend and settings are that unit's, with no
 * insulation monitor.  0 or -errno. */
int converter_open_unit(struct converter *conv, struct ev_loop *loop, const struct config *cfg, uint8_t unit,
                        converter_measurement_cb cb, void *userdata);
void converter_command(struct converter *conv, const struct power_command *cmd);
/* Hand the backend its part of a reloaded config.  -EOPNOTSUPP when cfg
 * names another backend (a restart is needed), or the backend's -errno; the
 * running settings stay in force then. */
int converter_reconfigure(struct converter *conv, const struct config *cfg);
/* The same for converter `unit` of cfg->units[]. */
int converter_reconfigure_unit(struct converter *conv, const struct config *cfg, uint8_t unit);
/* The backend's account of the current problem, "" when it has none to give. */
void converter_last_error(const struct converter *conv, char *buf, size_t len);
void converter_close(struct converter *conv);

extern const struct converter_ops converter_sim_ops;

#endif
