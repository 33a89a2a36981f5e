/* SPDX-License-Identifier: MIT */
/*
 * The bus worker (see modbus_worker.h): the loop thread's side above the
 * "worker thread" line only takes the mutex for a copy; below it, the
 * thread that executes what the device machine says.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "modbus_io.h"
#include "modbus_worker.h"
#include "monotonic.h"

#define LOG_MODULE "modbus"

struct modbus_worker {
        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock;
        pthread_cond_t cond;

        /* ---- shared, under lock ---- */
        struct power_command wanted;
        uint64_t wanted_seq;
        struct modbus_device_timing timing;
        uint64_t timing_seq;
        bool stop;
        struct modbus_device_status out[MODBUS_DEVICE_MAX];
        bool start_done;
        int start_error;

        /* ---- set at start, then read-only ---- */
        pthread_t loop_thread;
        void (*notify)(void *data);
        void *notify_data;
        struct modbus_params bus;       /* the bus settings (devices[0]) */
        char bus_name[MODBUS_DEVICE_REASON_MAX];
        size_t n_dev;

        /* ---- worker thread only ---- */
        struct modbus_device_bus machine;
        struct modbus_io *io;
        int unit;                       /* unit id set in the context, -1 = none */
        uint64_t cmd_seq;               /* wanted_seq handed to the machine */
        uint64_t timing_seen;
        bool stopping;
        struct log_fault link_log[MODBUS_DEVICE_MAX];
        uint16_t values[MODBUS_PROFILE_MAX_BITS];
};

/* ---- loop thread side ---------------------------------------------------- */

void modbus_worker_command(struct modbus_worker *w, const struct power_command *cmd)
{
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->wanted = *cmd;
        w->wanted_seq++;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

int modbus_worker_status(struct modbus_worker *w, size_t i, struct modbus_device_status *out)
{
        int r = 0;

        if (!w || i >= w->n_dev)
                return -EINVAL;
        pthread_mutex_lock(&w->lock);
        if (w->out[i].updates == 0)
                r = -EAGAIN;
        else
                *out = w->out[i];
        pthread_mutex_unlock(&w->lock);
        return r;
}

void modbus_worker_set_timing(struct modbus_worker *w, const struct modbus_device_timing *t)
{
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->timing = *t;
        w->timing_seq++;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

/* ---- worker thread -------------------------------------------------------- */

/* Before every op: the latest wanted state, timing and stop request go to
 * the machine. */
static void modbus_worker_take(struct modbus_worker *w, uint64_t now)
{
        struct power_command cmd;
        struct modbus_device_timing t;
        uint64_t seq, tseq;
        bool stop;

        pthread_mutex_lock(&w->lock);
        cmd = w->wanted;
        seq = w->wanted_seq;
        t = w->timing;
        tseq = w->timing_seq;
        stop = w->stop;
        pthread_mutex_unlock(&w->lock);

        if (tseq != w->timing_seen) {
                w->timing_seen = tseq;
                modbus_device_set_timing(&w->machine, &t);
        }
        if (seq != w->cmd_seq) {
                w->cmd_seq = seq;
                modbus_device_command(&w->machine, &cmd, now);
        }
        if (stop && !w->stopping) {
                w->stopping = true;
                modbus_device_stop(&w->machine, now);
        }
}

static void modbus_worker_log_events(struct modbus_worker *w)
{
        struct modbus_event ev;
        uint64_t now = monotonic_now_us();

        while (modbus_device_event(&w->machine, &ev)) {
                const char *what = modbus_device_name(&w->machine, ev.device);

                switch (ev.kind) {
                case MODBUS_EVENT_LINK_PROBLEM:
                        log_fault_raise(&w->link_log[ev.device], ev.settings_error ? LOG_ERR : LOG_WARNING, now,
                                        "%s", ev.text);
                        break;
                case MODBUS_EVENT_LINK_OK:
                        log_fault_clear(&w->link_log[ev.device], now);
                        break;
                case MODBUS_EVENT_RATED:
                        log_info("%s: %s", what, ev.text);
                        break;
                case MODBUS_EVENT_FAULT:
                        log_warning("%s: %s", what, ev.text);
                        break;
                case MODBUS_EVENT_FAULT_CLEARED:
                        log_notice("%s: %s", what, ev.text);
                        break;
                case MODBUS_EVENT_OFF_CONFIRMED:
                        log_debug("%s: %s", what, ev.text);
                        break;
                case MODBUS_EVENT_STOPPED_OFF:
                        log_info("%s: %s", what, ev.text);
                        break;
                case MODBUS_EVENT_STOPPED_NOT_OFF:
                        log_err("%s: %s", what, ev.text);
                        break;
                case MODBUS_EVENT_SHUTDOWN_FAILED:
                        log_warning("%s: %s", what, ev.text);
                        break;
                }
        }
}

static void modbus_worker_publish(struct modbus_worker *w)
{
        struct modbus_device_status st[MODBUS_DEVICE_MAX];
        uint64_t now = monotonic_now_us();

        for (size_t k = 0; k < w->n_dev; k++)
                modbus_device_status(&w->machine, k, now, &st[k]);
        pthread_mutex_lock(&w->lock);
        for (size_t k = 0; k < w->n_dev; k++) {
                st[k].updates = w->out[k].updates + 1;
                w->out[k] = st[k];
        }
        pthread_mutex_unlock(&w->lock);
        if (w->notify)
                w->notify(w->notify_data);
}

/* Until `until`, a new command, new timing or the stop request. */
static void modbus_worker_wait(struct modbus_worker *w, uint64_t until)
{
        struct timespec ts = monotonic_timespec(until);

        pthread_mutex_lock(&w->lock);
        while (!w->stop && w->wanted_seq == w->cmd_seq && w->timing_seq == w->timing_seen &&
               monotonic_now_us() < until)
                if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) == ETIMEDOUT)
                        break;
        pthread_mutex_unlock(&w->lock);
}

/* What came of a request, in the machine's terms. */
static void modbus_worker_result(struct modbus_worker *w, int r, const char *step, const uint16_t *values)
{
        struct modbus_result res = { .kind = MODBUS_RESULT_OK, .values = values, .step = step };

        if (r < 0) {
                res.err = r;
                res.error = modbus_io_strerror(r);
                if (modbus_io_error_is_exception(r))
                        res.kind = MODBUS_RESULT_EXCEPTION;
                else if (modbus_io_error_is_timeout(r))
                        res.kind = MODBUS_RESULT_TIMEOUT;
                else if (modbus_io_error_is_garbled(r))
                        res.kind = MODBUS_RESULT_GARBLED;
                else
                        res.kind = MODBUS_RESULT_IO_ERROR;
        }
        modbus_device_result(&w->machine, &res, monotonic_now_us());
}

static int modbus_worker_unit(struct modbus_worker *w, uint8_t unit)
{
        int r;

        if (w->unit == unit)
                return 0;
        r = modbus_io_set_unit(w->io, unit);
        if (r == 0)
                w->unit = unit;
        return r;
}

static void modbus_worker_execute(struct modbus_worker *w, const struct modbus_op *op)
{
        const char *step = "connect";
        int r;

        if (op->publish)
                modbus_worker_publish(w);
        switch (op->kind) {
        case MODBUS_OP_CONNECT:
                r = modbus_io_connect(w->io, &step);
                w->unit = -1;
                modbus_worker_result(w, r, step, NULL);
                break;
        case MODBUS_OP_CLOSE:
                modbus_io_close(w->io);
                break;
        case MODBUS_OP_FLUSH:
                modbus_worker_result(w, modbus_io_flush(w->io), NULL, NULL);
                break;
        case MODBUS_OP_READ:
                r = modbus_worker_unit(w, op->unit);
                if (r == 0)
                        r = modbus_io_read(w->io, op->area, op->address, op->count, w->values);
                modbus_worker_result(w, r, NULL, w->values);
                break;
        case MODBUS_OP_WRITE:
                r = modbus_worker_unit(w, op->unit);
                if (r == 0)
                        r = modbus_io_write(w->io, op->function, op->address, op->count, op->values);
                modbus_worker_result(w, r, NULL, NULL);
                break;
        case MODBUS_OP_PAUSE:
                monotonic_sleep_until(op->until_us);
                break;
        case MODBUS_OP_IDLE:
                modbus_worker_wait(w, op->until_us);
                break;
        case MODBUS_OP_DONE:
                break;
        }
}

static void *modbus_worker_main(void *arg)
{
        struct modbus_worker *w = arg;
        struct modbus_op op;
        int r;

        r = modbus_io_new(&w->bus, w->loop_thread, &w->io);
        pthread_mutex_lock(&w->lock);
        w->start_done = true;
        w->start_error = r;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        if (r < 0)
                return NULL;

        do {
                uint64_t now = monotonic_now_us();

                modbus_worker_take(w, now);
                modbus_device_next(&w->machine, now, &op);
                modbus_worker_execute(w, &op);
                modbus_worker_log_events(w);
        } while (op.kind != MODBUS_OP_DONE);
        modbus_io_free(w->io);
        w->io = NULL;
        return NULL;
}

int modbus_worker_start(struct modbus_worker **out, const struct modbus_device_config *devices, size_t n,
                        pthread_t loop_thread, void (*notify)(void *data), void *data)
{
        struct modbus_worker *w;
        pthread_condattr_t ca;
        int r;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        r = modbus_device_init(&w->machine, devices, n);
        if (r < 0) {
                free(w);
                return r;       /* refused by the profile check already */
        }
        w->loop_thread = loop_thread;
        w->notify = notify;
        w->notify_data = data;
        w->unit = -1;
        w->n_dev = n;
        w->bus = *devices[0].params;
        w->wanted = (struct power_command) { .mode = POWER_OFF, .discharge = true };
        modbus_params_describe(&w->bus, w->bus_name, sizeof(w->bus_name));
        for (size_t k = 0; k < n; k++)
                log_fault_init(&w->link_log[k], LOG_MODULE, modbus_device_name(&w->machine, k));

        pthread_mutex_init(&w->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&w->cond, &ca);
        pthread_condattr_destroy(&ca);

        r = -pthread_create(&w->thread, NULL, modbus_worker_main, w);
        if (r < 0) {
                log_err("%s: cannot start the worker thread: %s", w->bus_name, strerror(-r));
                goto fail;
        }
        w->thread_started = true;
        /* Wait only for the context to exist (no I/O happens before). */
        pthread_mutex_lock(&w->lock);
        while (!w->start_done)
                pthread_cond_wait(&w->cond, &w->lock);
        r = w->start_error;
        pthread_mutex_unlock(&w->lock);
        if (r < 0) {
                log_err("%s: cannot set up the Modbus context: %s", w->bus_name, strerror(-r));
                pthread_join(w->thread, NULL);
                goto fail;
        }
        *out = w;
        return 0;

fail:
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return r;
}

void modbus_worker_stop(struct modbus_worker *w)
{
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        if (w->thread_started)
                pthread_join(w->thread, NULL);
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
}
