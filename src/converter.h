/* SPDX-License-Identifier: MIT */
/*
 * Converter backends behind one ops table.  The loop thread hands the
 * backend the latest wanted state (never blocking) and gets measurements back
 * through a callback run on the loop thread.
 */
#ifndef SECCBRIDGE_CONVERTER_H
#define SECCBRIDGE_CONVERTER_H

#include <ev.h>

#include "seccbridge/power.h"

struct converter;
struct config;

/* Called on the loop thread with each new measurement (link state, readiness
 * and faults included). */
typedef void (*converter_measurement_cb)(const struct power_measurement *m, void *userdata);

struct converter_ops {
        const char *name;
        /* Start the backend from conv->cfg: 0 or -errno (logged by the
         * backend, once, with the reason). */
        int (*open)(struct converter *conv);
        /* The latest wanted state.  Never blocks; an OFF command overtakes
         * anything queued. */
        void (*command)(struct converter *conv, const struct power_command *cmd);
        /* Apply a reloaded config; may be NULL.  0 or -errno. */
        int (*reconfigure)(struct converter *conv, const struct config *cfg);
        /* Stop and free everything open() made.  Accepts a never-opened conv. */
        void (*close)(struct converter *conv);
};

struct converter {
        const struct converter_ops *ops;
        struct ev_loop *loop;
        const struct config *cfg;
        converter_measurement_cb on_measurement;
        void *userdata;
        void *data;                     /* backend private */
};

/* Backend by name ("sim", later "modbus-rtu", "modbus-tcp"); NULL if unknown. */
const struct converter_ops *converter_find(const char *name);

/* Open the backend named in cfg.  0 or -errno. */
int converter_open(struct converter *conv, struct ev_loop *loop, const struct config *cfg,
                   converter_measurement_cb cb, void *userdata);
void converter_command(struct converter *conv, const struct power_command *cmd);
int converter_reconfigure(struct converter *conv, const struct config *cfg);
void converter_close(struct converter *conv);

extern const struct converter_ops converter_sim_ops;

#endif
