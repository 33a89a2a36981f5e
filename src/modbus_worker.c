/* SPDX-License-Identifier: MIT */
/*
 * The bus worker (see modbus_worker.h): the loop thread's side above the
 * "worker thread" line only takes the mutex for a copy; below it, the
 * thread that executes what the device machine says.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "modbus_io.h"
#include "modbus_line.h"
#include "modbus_worker.h"
#include "monotonic.h"

#define LOG_MODULE "modbus"

struct modbus_line_thread;

/* One converter (with a monitor on the same bus, if any): its device
 * machine, in one slot of its bus's line. */
struct modbus_worker {
        struct modbus_line_thread *t;

        /* ---- shared, under t->lock ---- */
        struct power_command wanted;
        uint64_t wanted_seq;
        struct modbus_device_timing timing;
        uint64_t timing_seq;
        bool stop;
        bool finished;                  /* its machine is done and out of the line */
        struct modbus_device_status out[MODBUS_DEVICE_MAX];

        /* ---- set at start, then read-only ---- */
        void (*notify)(void *data);
        void *notify_data;
        size_t n_dev;
        struct modbus_params params[MODBUS_DEVICE_MAX];

        /* ---- worker thread only ---- */
        struct modbus_device_bus machine;
        size_t slot;
        uint64_t cmd_seq;               /* wanted_seq handed to the machine */
        uint64_t timing_seen;
        bool stopping;
        struct log_fault link_log[MODBUS_DEVICE_MAX];
};

/* One bus (a serial port or a TCP endpoint): its thread, its libmodbus
 * context and the line of the converters on it. */
struct modbus_line_thread {
        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock;
        pthread_cond_t cond;

        /* ---- shared, under lock ---- */
        struct modbus_worker *joining[MODBUS_LINE_MAX];
        size_t n_joining;
        uint64_t changes;               /* a command, timing, stop or join of any converter */
        bool end;                       /* every converter gone: exit */
        bool start_done;
        int start_error;

        /* ---- set at start, then read-only ---- */
        pthread_t loop_thread;
        struct modbus_params bus;       /* the bus settings (the first converter's) */
        char bus_name[MODBUS_DEVICE_REASON_MAX];
        char port[PATH_MAX];            /* RTU: the serial port, resolved */

        /* ---- loop thread only ---- */
        struct modbus_worker *members[MODBUS_LINE_MAX];
        size_t n_members;
        struct modbus_line_thread *next;

        /* ---- worker thread only ---- */
        struct modbus_line line;
        struct modbus_worker *slot[MODBUS_LINE_MAX];
        uint64_t changes_seen;
        struct modbus_io *io;
        int unit;                       /* unit id set in the context, -1 = none */
        uint16_t values[MODBUS_PROFILE_MAX_BITS];
};

/* The serial ports in use, so that converters on one RS-485 line share its
 * thread and context (one context, one thread: libmodbus).  Loop thread
 * only. */
static struct modbus_line_thread *modbus_worker_lines;

/* ---- loop thread side ---------------------------------------------------- */

void modbus_worker_command(struct modbus_worker *w, const struct power_command *cmd)
{
        if (!w)
                return;
        pthread_mutex_lock(&w->t->lock);
        w->wanted = *cmd;
        w->wanted_seq++;
        w->t->changes++;
        pthread_cond_broadcast(&w->t->cond);
        pthread_mutex_unlock(&w->t->lock);
}

int modbus_worker_status(struct modbus_worker *w, size_t i, struct modbus_device_status *out)
{
        int r = 0;

        if (!w || i >= w->n_dev)
                return -EINVAL;
        pthread_mutex_lock(&w->t->lock);
        if (w->out[i].updates == 0)
                r = -EAGAIN;
        else
                *out = w->out[i];
        pthread_mutex_unlock(&w->t->lock);
        return r;
}

void modbus_worker_set_timing(struct modbus_worker *w, const struct modbus_device_timing *t)
{
        if (!w)
                return;
        pthread_mutex_lock(&w->t->lock);
        w->timing = *t;
        w->timing_seq++;
        w->t->changes++;
        pthread_cond_broadcast(&w->t->cond);
        pthread_mutex_unlock(&w->t->lock);
}

/* ---- worker thread -------------------------------------------------------- */

/* Before every op: converters that join take a slot; the latest wanted
 * state, timing and stop request of each go to its machine.  false when
 * the thread is to end. */
static bool modbus_worker_take(struct modbus_line_thread *t, uint64_t now)
{
        struct {
                struct power_command cmd;
                struct modbus_device_timing timing;
                uint64_t seq, tseq;
                bool stop;
        } in[MODBUS_LINE_MAX];
        bool end;

        memset(in, 0, sizeof(in));
        pthread_mutex_lock(&t->lock);
        for (size_t j = 0; j < t->n_joining; j++) {
                struct modbus_worker *w = t->joining[j];

                /* Room was checked when it joined. */
                if (modbus_line_attach(&t->line, &w->machine, w->params[0].min_gap_ms,
                                       w->params[0].response_timeout_ms, &w->slot) == 0)
                        t->slot[w->slot] = w;
        }
        t->n_joining = 0;
        for (size_t i = 0; i < MODBUS_LINE_MAX; i++) {
                const struct modbus_worker *w = t->slot[i];

                if (!w)
                        continue;
                in[i].cmd = w->wanted;
                in[i].seq = w->wanted_seq;
                in[i].timing = w->timing;
                in[i].tseq = w->timing_seq;
                in[i].stop = w->stop;
        }
        t->changes_seen = t->changes;
        end = t->end;
        pthread_mutex_unlock(&t->lock);

        for (size_t i = 0; i < MODBUS_LINE_MAX; i++) {
                struct modbus_worker *w = t->slot[i];

                if (!w)
                        continue;
                if (in[i].tseq != w->timing_seen) {
                        w->timing_seen = in[i].tseq;
                        modbus_device_set_timing(&w->machine, &in[i].timing);
                        modbus_line_set_gap(&t->line, i, in[i].timing.min_gap_ms);
                }
                if (in[i].seq != w->cmd_seq) {
                        w->cmd_seq = in[i].seq;
                        modbus_device_command(&w->machine, &in[i].cmd, now);
                }
                if (in[i].stop && !w->stopping) {
                        w->stopping = true;
                        modbus_device_stop(&w->machine, now);
                }
        }
        return !end;
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

static void modbus_worker_publish(struct modbus_line_thread *t, struct modbus_worker *w)
{
        struct modbus_device_status st[MODBUS_DEVICE_MAX];
        uint64_t now = monotonic_now_us();

        for (size_t k = 0; k < w->n_dev; k++)
                modbus_device_status(&w->machine, k, now, &st[k]);
        pthread_mutex_lock(&t->lock);
        for (size_t k = 0; k < w->n_dev; k++) {
                st[k].updates = w->out[k].updates + 1;
                w->out[k] = st[k];
        }
        pthread_mutex_unlock(&t->lock);
        if (w->notify)
                w->notify(w->notify_data);
}

/* A converter's machine is done (output off, bus left): out of the line;
 * its stop() may free it as soon as the lock is let go. */
static void modbus_worker_finish(struct modbus_line_thread *t, struct modbus_worker *w)
{
        modbus_worker_log_events(w);
        modbus_line_detach(&t->line, w->slot);
        t->slot[w->slot] = NULL;
        pthread_mutex_lock(&t->lock);
        w->finished = true;
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);
}

/* Until `until`, a new command, new timing, a stop request, a converter
 * that joins, or the end. */
static void modbus_worker_wait(struct modbus_line_thread *t, uint64_t until)
{
        struct timespec ts = monotonic_timespec(until);

        pthread_mutex_lock(&t->lock);
        while (!t->end && t->changes == t->changes_seen && monotonic_now_us() < until)
                if (pthread_cond_timedwait(&t->cond, &t->lock, &ts) == ETIMEDOUT)
                        break;
        pthread_mutex_unlock(&t->lock);
}

/* What came of a request, in the machine's terms. */
static void modbus_worker_result(struct modbus_line_thread *t, int r, const char *step, const uint16_t *values)
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
        modbus_line_result(&t->line, &res, monotonic_now_us());
}

static int modbus_worker_unit(struct modbus_line_thread *t, uint8_t unit)
{
        int r;

        if (t->unit == unit)
                return 0;
        r = modbus_io_set_unit(t->io, unit);
        if (r == 0)
                t->unit = unit;
        return r;
}

static void modbus_worker_execute(struct modbus_line_thread *t, const struct modbus_op *op)
{
        const char *step = "connect";
        int r;

        switch (op->kind) {
        case MODBUS_OP_CONNECT:
                r = modbus_io_connect(t->io, &step);
                t->unit = -1;
                modbus_worker_result(t, r, step, NULL);
                break;
        case MODBUS_OP_CLOSE:
                modbus_io_close(t->io);
                break;
        case MODBUS_OP_FLUSH:
                modbus_worker_result(t, modbus_io_flush(t->io), NULL, NULL);
                break;
        case MODBUS_OP_READ:
                r = modbus_worker_unit(t, op->unit);
                if (r == 0)
                        r = modbus_io_read(t->io, op->area, op->address, op->count, t->values);
                modbus_worker_result(t, r, NULL, t->values);
                break;
        case MODBUS_OP_WRITE:
                r = modbus_worker_unit(t, op->unit);
                if (r == 0)
                        r = modbus_io_write(t->io, op->function, op->address, op->count, op->values);
                modbus_worker_result(t, r, NULL, NULL);
                break;
        case MODBUS_OP_PAUSE:
                monotonic_sleep_until(op->until_us);
                break;
        case MODBUS_OP_IDLE:
                modbus_worker_wait(t, op->until_us);
                break;
        case MODBUS_OP_DONE:
                /* Nobody on the line: until one joins or the end. */
                modbus_worker_wait(t, monotonic_now_us() + 3600ull * 1000000);
                break;
        }
}

static void *modbus_worker_main(void *arg)
{
        struct modbus_line_thread *t = arg;
        struct modbus_line_op lop;
        int r;

        r = modbus_io_new(&t->bus, t->loop_thread, &t->io);
        pthread_mutex_lock(&t->lock);
        t->start_done = true;
        t->start_error = r;
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);
        if (r < 0)
                return NULL;

        while (modbus_worker_take(t, monotonic_now_us())) {
                modbus_line_next(&t->line, monotonic_now_us(), &lop);
                for (size_t i = 0; i < MODBUS_LINE_MAX; i++)
                        if (((lop.publish >> i) & 1) && t->slot[i])
                                modbus_worker_publish(t, t->slot[i]);
                for (size_t i = 0; i < MODBUS_LINE_MAX; i++)
                        if (((lop.done >> i) & 1) && t->slot[i])
                                modbus_worker_finish(t, t->slot[i]);
                modbus_worker_execute(t, &lop.op);
                for (size_t i = 0; i < MODBUS_LINE_MAX; i++)
                        if (t->slot[i])
                                modbus_worker_log_events(t->slot[i]);
        }
        modbus_io_free(t->io);
        t->io = NULL;
        return NULL;
}

/* The port's own name: /dev/serial/by-id/... and /dev/ttyUSB0 may be one
 * port.  As written when it cannot be resolved (not plugged in yet). */
static void modbus_worker_port(const struct modbus_params *p, char *buf, size_t len)
{
        char real[PATH_MAX];

        snprintf(buf, len, "%s", realpath(p->device, real) ? real : p->device);
}

static struct modbus_line_thread *modbus_worker_find_line(const struct modbus_params *p)
{
        char port[PATH_MAX];

        if (p->transport != MODBUS_TRANSPORT_RTU)
                return NULL;    /* one connection per TCP converter, as a gateway allows */
        modbus_worker_port(p, port, sizeof(port));
        for (struct modbus_line_thread *t = modbus_worker_lines; t; t = t->next)
                if (strcmp(t->port, port) == 0)
                        return t;
        return NULL;
}

/* A converter for a serial port in use: its line settings must be the
 * line's and its unit ids free.  0 or -EINVAL (logged, naming both). */
static int modbus_worker_check_join(const struct modbus_line_thread *t, const struct modbus_worker *w)
{
        char name[MODBUS_DEVICE_REASON_MAX], other[MODBUS_DEVICE_REASON_MAX], err[256];
        const char *key = NULL;

        modbus_params_describe(&w->params[0], name, sizeof(name));
        if (t->n_members >= MODBUS_LINE_MAX) {
                log_err("%s: %s already serves %d converters, the most one line takes", name, t->bus.device,
                        MODBUS_LINE_MAX);
                return -EINVAL;
        }
        for (size_t i = 0; i < t->n_members; i++) {
                const struct modbus_worker *o = t->members[i];

                for (size_t a = 0; a < o->n_dev; a++) {
                        for (size_t b = 0; b < w->n_dev; b++) {
                                struct modbus_params pa = o->params[a], pb = w->params[b];

                                /* One port, perhaps by two names. */
                                snprintf(pa.device, sizeof(pa.device), "%.*s", (int)sizeof(pa.device) - 1, t->port);
                                snprintf(pb.device, sizeof(pb.device), "%.*s", (int)sizeof(pb.device) - 1, t->port);
                                if (modbus_params_check_pair(&pa, &pb, &key, err, sizeof(err)) == 0)
                                        continue;
                                modbus_params_describe(&o->params[a], other, sizeof(other));
                                log_err("%s: cannot share the serial port with %s: %s: %s", name, other,
                                        key ? key : "settings", err);
                                return -EINVAL;
                        }
                }
        }
        return 0;
}

static void modbus_worker_free_line(struct modbus_line_thread *t)
{
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
        free(t);
}

/* A new bus thread with w as its first converter. */
static int modbus_worker_new_line(struct modbus_worker *w, pthread_t loop_thread)
{
        struct modbus_line_thread *t;
        pthread_condattr_t ca;
        int r;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->loop_thread = loop_thread;
        t->unit = -1;
        t->bus = w->params[0];
        modbus_params_describe(&t->bus, t->bus_name, sizeof(t->bus_name));
        modbus_worker_port(&t->bus, t->port, sizeof(t->port));
        modbus_line_init(&t->line);
        t->joining[t->n_joining++] = w;
        w->t = t;

        pthread_mutex_init(&t->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&t->cond, &ca);
        pthread_condattr_destroy(&ca);

        r = -pthread_create(&t->thread, NULL, modbus_worker_main, t);
        if (r < 0) {
                log_err("%s: cannot start the worker thread: %s", t->bus_name, strerror(-r));
                modbus_worker_free_line(t);
                return r;
        }
        t->thread_started = true;
        /* Wait only for the context to exist (no I/O happens before). */
        pthread_mutex_lock(&t->lock);
        while (!t->start_done)
                pthread_cond_wait(&t->cond, &t->lock);
        r = t->start_error;
        pthread_mutex_unlock(&t->lock);
        if (r < 0) {
                log_err("%s: cannot set up the Modbus context: %s", t->bus_name, strerror(-r));
                pthread_join(t->thread, NULL);
                modbus_worker_free_line(t);
                return r;
        }
        t->members[t->n_members++] = w;
        if (t->bus.transport == MODBUS_TRANSPORT_RTU) {
                t->next = modbus_worker_lines;
                modbus_worker_lines = t;
        }
        return 0;
}

int modbus_worker_start(struct modbus_worker **out, const struct modbus_device_config *devices, size_t n,
                        pthread_t loop_thread, void (*notify)(void *data), void *data)
{
        struct modbus_line_thread *t;
        struct modbus_worker *w;
        int r;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        r = modbus_device_init(&w->machine, devices, n);
        if (r < 0) {
                free(w);
                return r;       /* refused by the profile check already */
        }
        w->notify = notify;
        w->notify_data = data;
        w->n_dev = n;
        for (size_t k = 0; k < n; k++)
                w->params[k] = *devices[k].params;
        w->wanted = (struct power_command) { .mode = POWER_OFF, .discharge = true };
        for (size_t k = 0; k < n; k++)
                log_fault_init(&w->link_log[k], LOG_MODULE, modbus_device_name(&w->machine, k));

        t = modbus_worker_find_line(&w->params[0]);
        if (!t) {
                r = modbus_worker_new_line(w, loop_thread);
                if (r < 0) {
                        free(w);
                        return r;
                }
                *out = w;
                return 0;
        }
        r = modbus_worker_check_join(t, w);
        if (r < 0) {
                free(w);
                return r;
        }
        /* Served in turn with the others from the next op on. */
        w->t = t;
        t->members[t->n_members++] = w;
        pthread_mutex_lock(&t->lock);
        t->joining[t->n_joining++] = w;
        t->changes++;
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);
        *out = w;
        return 0;
}

void modbus_worker_stop(struct modbus_worker *w)
{
        struct modbus_line_thread *t;

        if (!w)
                return;
        t = w->t;
        /* Its machine switches the output off and leaves the line; the
         * others on it go on. */
        pthread_mutex_lock(&t->lock);
        w->stop = true;
        t->changes++;
        pthread_cond_broadcast(&t->cond);
        while (!w->finished)
                pthread_cond_wait(&t->cond, &t->lock);
        pthread_mutex_unlock(&t->lock);

        for (size_t i = 0; i < t->n_members; i++) {
                if (t->members[i] != w)
                        continue;
                t->members[i] = t->members[--t->n_members];
                break;
        }
        free(w);
        if (t->n_members > 0)
                return;
        for (struct modbus_line_thread **p = &modbus_worker_lines; *p; p = &(*p)->next) {
                if (*p == t) {
                        *p = t->next;
                        break;
                }
        }
        pthread_mutex_lock(&t->lock);
        t->end = true;
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->thread, NULL);
        modbus_worker_free_line(t);
}
