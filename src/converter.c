/* SPDX-License-Identifier: MIT */
/*
 * Converter backends by name, and the calls that dispatch to them through
 * struct converter_ops.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "config.h"
#include "converter.h"
#include "log.h"
#include "modbus_backend.h"

#define LOG_MODULE "converter"

/* Backends built in, by the name [converter] backend gives. */
static const struct converter_ops *const converter_backends[] = {
        &converter_sim_ops,
        &converter_modbus_rtu_ops,
        &converter_modbus_tcp_ops,
};

const struct converter_ops *converter_find(const char *name)
{
        if (!name)
                return NULL;
        for (size_t i = 0; i < sizeof(converter_backends) / sizeof(converter_backends[0]); i++)
                if (strcmp(converter_backends[i]->name, name) == 0)
                        return converter_backends[i];
        return NULL;
}

int converter_open(struct converter *conv, struct ev_loop *loop, const struct config *cfg,
                   converter_measurement_cb cb, void *userdata)
{
        const struct converter_ops *ops = converter_find(cfg->converter.backend);
        int r;

        if (!ops) {
                /* config_load() already refuses unknown names. */
                log_err("unknown backend '%s'", cfg->converter.backend);
                return -ENOENT;
        }
        *conv = (struct converter) {
                .ops = ops,
                .loop = loop,
                .cfg = cfg,
                .on_measurement = cb,
                .userdata = userdata,
        };
        r = ops->open(conv);
        if (r < 0) {
                /* Logged by the backend.  Leave conv as never opened, so
                 * converter_close() on it is harmless. */
                *conv = (struct converter) { 0 };
                return r;
        }
        return 0;
}

void converter_command(struct converter *conv, const struct power_command *cmd)
{
        if (!conv || !conv->ops)
                return;
        conv->ops->command(conv, cmd);
}

/* A reloaded config.  The backend itself cannot change without a restart:
 * -EOPNOTSUPP if [converter] backend names another one, and the old config
 * stays in force.  On success conv->cfg points to cfg. */
int converter_reconfigure(struct converter *conv, const struct config *cfg)
{
        int r;

        if (!conv || !conv->ops)
                return -EINVAL;
        if (strcmp(cfg->converter.backend, conv->ops->name) != 0) {
                log_warning("backend '%s' needs a restart, '%s' stays in use",
                              cfg->converter.backend, conv->ops->name);
                return -EOPNOTSUPP;
        }
        if (conv->ops->reconfigure) {
                r = conv->ops->reconfigure(conv, cfg);
                if (r < 0)
                        return r;
        }
        conv->cfg = cfg;
        return 0;
}

void converter_close(struct converter *conv)
{
        if (!conv || !conv->ops)
                return;
        conv->ops->close(conv);
        conv->ops = NULL;
        conv->data = NULL;
}
