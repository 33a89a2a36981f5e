/* SPDX-License-Identifier: MIT */
/*
 * The loop thread's side of the Modbus backends: start the workers, hand
 * them commands, merge their statuses into one measurement on ev_async.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "modbus_backend.h"
#include "modbus_params.h"
#include "modbus_worker.h"

#define LOG_MODULE "modbus"

struct modbus_backend {
        struct converter *conv;
        ev_async async;
        struct modbus_worker *workers[2];
        size_t n_workers;
        struct modbus_worker *conv_worker;
        size_t conv_index;
        struct modbus_worker *mon_worker;       /* NULL: no insulation monitor */
        size_t mon_index;
        struct modbus_params conv_params;       /* as started, for reloads */
        struct modbus_params mon_params;
        char last_error[2 * MODBUS_DEVICE_REASON_MAX];
};

static void modbus_backend_notify(void *data)
{
        struct modbus_backend *b = data;

        /* Worker thread: the one libev call that is safe from another
         * thread. */
        ev_async_send(b->conv->loop, &b->async);
}

static void modbus_backend_on_async(struct ev_loop *loop, ev_async *w, int revents)
{
        struct modbus_backend *b = w->data;
        struct converter *conv = b->conv;
        struct modbus_device_status cs, ms;
        struct power_measurement m;
        bool mon_have = false;

        if (modbus_worker_status(b->conv_worker, b->conv_index, &cs) < 0)
                return;
        if (b->mon_worker)
                mon_have = modbus_worker_status(b->mon_worker, b->mon_index, &ms) == 0;
        modbus_device_merge(&cs, b->mon_worker ? &ms : NULL, mon_have, &m, b->last_error, sizeof(b->last_error));
        /* Last: the callback may command or even close the converter. */
        if (conv->on_measurement)
                conv->on_measurement(&m, conv->userdata);
}

static void modbus_backend_free(struct modbus_backend *b)
{
        for (size_t k = 0; k < b->n_workers; k++)
                modbus_worker_stop(b->workers[k]);
        b->n_workers = 0;
        ev_async_stop(b->conv->loop, &b->async);
        free(b);
}

static int modbus_backend_open(struct converter *conv, const struct modbus_backend_settings *settings,
                               enum modbus_transport transport)
{
        const struct modbus_params *cp = settings->converter;
        const struct modbus_params *mp = settings->monitor;
        struct modbus_device_config devs[2];
        struct modbus_backend *b;
        pthread_t self = pthread_self();
        char bus[128];
        int r;

        if (cp->transport != transport) {
                /* config_load() sets it from [converter] backend. */
                log_err("[modbus] settings are not for modbus-%s", transport == MODBUS_TRANSPORT_RTU ? "rtu" : "tcp");
                return -EINVAL;
        }
        b = calloc(1, sizeof(*b));
        if (!b) {
                log_err("out of memory");
                return -ENOMEM;
        }
        b->conv = conv;
        b->conv_params = *cp;
        if (mp)
                b->mon_params = *mp;
        ev_async_init(&b->async, modbus_backend_on_async);
        b->async.data = b;
        ev_async_start(conv->loop, &b->async);

        devs[0] = (struct modbus_device_config) { .params = cp, .role = MODBUS_ROLE_CONVERTER };
        if (mp && modbus_params_same_bus(cp, mp)) {
                devs[1] = (struct modbus_device_config) { .params = mp, .role = MODBUS_ROLE_MONITOR };
                r = modbus_worker_start(&b->workers[0], devs, 2, self, modbus_backend_notify, b);
                if (r < 0)
                        goto fail;
                b->n_workers = 1;
                b->mon_worker = b->workers[0];
                b->mon_index = 1;
        } else {
                r = modbus_worker_start(&b->workers[0], devs, 1, self, modbus_backend_notify, b);
                if (r < 0)
                        goto fail;
                b->n_workers = 1;
                if (mp) {
                        devs[1] = (struct modbus_device_config) { .params = mp, .role = MODBUS_ROLE_MONITOR };
                        r = modbus_worker_start(&b->workers[1], &devs[1], 1, self, modbus_backend_notify, b);
                        if (r < 0)
                                goto fail;
                        b->n_workers = 2;
                        b->mon_worker = b->workers[1];
                        b->mon_index = 0;
                }
        }
        b->conv_worker = b->workers[0];
        b->conv_index = 0;
        conv->data = b;

        modbus_params_describe(cp, bus, sizeof(bus));
        log_info("converter on %s, profile %s, poll %u ms", bus, cp->profile.path, cp->poll_interval_ms);
        if (mp) {
                modbus_params_describe(mp, bus, sizeof(bus));
                log_info("insulation monitor on %s, profile %s", bus, mp->profile.path);
        }
        return 0;

fail:
        /* Logged by the worker. */
        modbus_backend_free(b);
        return r;
}

static int modbus_backend_open_rtu(struct converter *conv, const void *settings)
{
        return modbus_backend_open(conv, settings, MODBUS_TRANSPORT_RTU);
}

static int modbus_backend_open_tcp(struct converter *conv, const void *settings)
{
        return modbus_backend_open(conv, settings, MODBUS_TRANSPORT_TCP);
}

static void modbus_backend_command(struct converter *conv, const struct power_command *cmd)
{
        struct modbus_backend *b = conv->data;

        if (!b)
                return;
        modbus_worker_command(b->conv_worker, cmd);
}

/* Everything but the timing needs a restart: a new bus, unit or profile
 * means a new worker, and a reload must never leave the output in doubt.  A
 * profile file that only moved or got comments is the same profile. */
static bool modbus_backend_same(const struct modbus_params *a, const struct modbus_params *b)
{
        return a->transport == b->transport && strcmp(a->device, b->device) == 0 &&
               a->baudrate == b->baudrate && a->parity == b->parity && a->data_bits == b->data_bits &&
               a->stop_bits == b->stop_bits && a->rs485 == b->rs485 && strcmp(a->host, b->host) == 0 &&
               a->port == b->port && a->unit_id == b->unit_id &&
               a->response_timeout_ms == b->response_timeout_ms && a->byte_timeout_ms == b->byte_timeout_ms &&
               a->reconnect_max_ms == b->reconnect_max_ms && a->shutdown_timeout_ms == b->shutdown_timeout_ms &&
               modbus_profile_same(&a->profile, &b->profile);
}

static int modbus_backend_reconfigure(struct converter *conv, const void *settings)
{
        const struct modbus_backend_settings *set = settings;
        const struct modbus_params *cp = set->converter;
        const struct modbus_params *mp = set->monitor;
        struct modbus_backend *b = conv->data;
        struct modbus_device_timing t;

        if (!b)
                return -EINVAL;
        if (!modbus_backend_same(cp, &b->conv_params)) {
                log_warning("[modbus] bus, unit or profile changed: restart the service to apply it");
                return -EOPNOTSUPP;
        }
        if ((mp != NULL) != (b->mon_worker != NULL) || (mp && !modbus_backend_same(mp, &b->mon_params))) {
                log_warning("[insulation_monitor] changed: restart the service to apply it");
                return -EOPNOTSUPP;
        }
        t = (struct modbus_device_timing) {
                .poll_interval_ms = cp->poll_interval_ms,
                .setpoint_refresh_ms = cp->setpoint_refresh_ms,
                .link_timeout_ms = cp->link_timeout_ms,
                .min_gap_ms = cp->min_gap_ms,
        };
        modbus_worker_set_timing(b->conv_worker, &t);
        b->conv_params = *cp;
        if (mp && b->mon_worker != b->conv_worker) {
                t = (struct modbus_device_timing) {
                        .poll_interval_ms = mp->poll_interval_ms,
                        .setpoint_refresh_ms = mp->setpoint_refresh_ms,
                        .link_timeout_ms = mp->link_timeout_ms,
                        .min_gap_ms = mp->min_gap_ms,
                };
                modbus_worker_set_timing(b->mon_worker, &t);
        }
        if (mp)
                b->mon_params = *mp;
        return 0;
}

static void modbus_backend_close(struct converter *conv)
{
        struct modbus_backend *b = conv->data;

        if (!b)
                return;
        /* Each worker switches the output off (bounded by
         * shutdown_timeout_ms) before it exits: a stop is never a reason
         * to leave power on the cable. */
        modbus_backend_free(b);
        conv->data = NULL;
}

static void modbus_backend_last_error(const struct converter *conv, char *buf, size_t len)
{
        const struct modbus_backend *b = conv->data;

        snprintf(buf, len, "%s", b ? b->last_error : "");
}

const struct converter_ops converter_modbus_rtu_ops = {
        .name = "modbus-rtu",
        .open = modbus_backend_open_rtu,
        .command = modbus_backend_command,
        .reconfigure = modbus_backend_reconfigure,
        .last_error = modbus_backend_last_error,
        .close = modbus_backend_close,
};

const struct converter_ops converter_modbus_tcp_ops = {
        .name = "modbus-tcp",
        .open = modbus_backend_open_tcp,
        .command = modbus_backend_command,
        .reconfigure = modbus_backend_reconfigure,
        .last_error = modbus_backend_last_error,
        .close = modbus_backend_close,
};
