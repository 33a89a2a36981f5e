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

/* The part of the config a backend is given (see converter.h).  modbus is
 * room for the Modbus backends' pair of settings. */
static const void *converter_settings(const struct converter_ops *ops, const struct config *cfg,
                                      struct modbus_backend_settings *modbus)
{
        if (ops == &converter_sim_ops)
                return &cfg->sim;
        *modbus = (struct modbus_backend_settings) {
                .converter = &cfg->modbus,
                .monitor = cfg->insulation_monitor.transport != MODBUS_TRANSPORT_NONE ? &cfg->insulation_monitor
                                                                                       : NULL,
        };
        return modbus;
}

const struct converter_ops *converter_find(const char *name)
{
        if (!name)
                return NULL;
        for (size_t i = 0; i < sizeof(converter_backends) / sizeof(converter_backends[0]); i++)
                if (strcmp(converter_backends[i]->name, name) == 0)
                        return converter_backends[i];
        return NULL;
}

/* The settings of cfg->units[unit] (no insulation monitor with several
 * pistols: config_load() refuses one). */
static const void *converter_unit_settings(const struct converter_ops *ops, const struct config *cfg, uint8_t unit,
                                           struct modbus_backend_settings *modbus)
{
        if (ops == &converter_sim_ops)
                return &cfg->units[unit].sim;
        *modbus = (struct modbus_backend_settings) {
                .converter = &cfg->units[unit].modbus,
                .monitor = NULL,
        };
        return modbus;
}

static int converter_start(struct converter *conv, struct ev_loop *loop, const struct converter_ops *ops,
                           const void *settings, converter_measurement_cb cb, void *userdata)
{
        int r;

        *conv = (struct converter) {
                .ops = ops,
                .loop = loop,
                .on_measurement = cb,
                .userdata = userdata,
        };
        r = ops->open(conv, settings);
        if (r < 0) {
                /* Logged by the backend.  Leave conv as never opened, so
                 * converter_close() on it is harmless. */
                *conv = (struct converter) { 0 };
                return r;
        }
        return 0;
}

int converter_open_unit(struct converter *conv, struct ev_loop *loop, const struct config *cfg, uint8_t unit,
                        converter_measurement_cb cb, void *userdata)
{
        const struct converter_ops *ops = unit < cfg->n_units ? converter_find(cfg->units[unit].backend) : NULL;
        struct modbus_backend_settings modbus;

        if (!ops) {
                log_err("no backend for converter %u", (unsigned)unit);
                return -ENOENT;
        }
        return converter_start(conv, loop, ops, converter_unit_settings(ops, cfg, unit, &modbus), cb, userdata);
}

int converter_reconfigure_unit(struct converter *conv, const struct config *cfg, uint8_t unit)
{
        struct modbus_backend_settings modbus;

        if (!conv || !conv->ops || unit >= cfg->n_units)
                return -EINVAL;
        if (strcmp(cfg->units[unit].backend, conv->ops->name) != 0) {
                log_warning("backend '%s' needs a restart, '%s' stays in use", cfg->units[unit].backend,
                            conv->ops->name);
                return -EOPNOTSUPP;
        }
        if (!conv->ops->reconfigure)
                return 0;
        return conv->ops->reconfigure(conv, converter_unit_settings(conv->ops, cfg, unit, &modbus));
}

int converter_open(struct converter *conv, struct ev_loop *loop, const struct config *cfg,
                   converter_measurement_cb cb, void *userdata)
{
        const struct converter_ops *ops = converter_find(cfg->converter.backend);
        struct modbus_backend_settings modbus;
        int r;

        if (!ops) {
                /* config_load() already refuses unknown names. */
                log_err("unknown backend '%s'", cfg->converter.backend);
                return -ENOENT;
        }
        *conv = (struct converter) {
                .ops = ops,
                .loop = loop,
                .on_measurement = cb,
                .userdata = userdata,
        };
        r = ops->open(conv, converter_settings(ops, cfg, &modbus));
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

int converter_reconfigure(struct converter *conv, const struct config *cfg)
{
        struct modbus_backend_settings modbus;

        if (!conv || !conv->ops)
                return -EINVAL;
        if (strcmp(cfg->converter.backend, conv->ops->name) != 0) {
                log_warning("backend '%s' needs a restart, '%s' stays in use",
                              cfg->converter.backend, conv->ops->name);
                return -EOPNOTSUPP;
        }
        if (!conv->ops->reconfigure)
                return 0;
        return conv->ops->reconfigure(conv, converter_settings(conv->ops, cfg, &modbus));
}

void converter_last_error(const struct converter *conv, char *buf, size_t len)
{
        if (len == 0)
                return;
        buf[0] = '\0';
        if (conv && conv->ops && conv->ops->last_error)
                conv->ops->last_error(conv, buf, len);
}

void converter_close(struct converter *conv)
{
        if (!conv || !conv->ops)
                return;
        conv->ops->close(conv);
        conv->ops = NULL;
        conv->data = NULL;
}
