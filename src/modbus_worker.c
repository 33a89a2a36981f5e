/* SPDX-License-Identifier: MIT */
/*
 * The bus worker (see modbus_worker.h).  Everything below the "worker
 * thread" line runs on the worker only; the functions above it are the
 * loop thread's side and only take the mutex for a copy.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "modbus_io.h"
#include "modbus_worker.h"
#include "monotonic.h"

#define LOG_MODULE "modbus"

#define MODBUS_BACKOFF_MIN_MS 100

/* The points that are written, with their written state. */
enum modbus_out {
        OUT_VOLTAGE,
        OUT_CURRENT,
        OUT_ENABLE,
        OUT_COUNT
};

struct modbus_written {
        bool valid;             /* what the device holds is what we wrote */
        uint16_t regs[2];
        uint64_t at_us;
};

struct modbus_dev {
        struct modbus_params params;    /* profile included */
        enum modbus_role role;
        char what[MODBUS_WORKER_REASON_MAX];    /* "converter (tcp ... unit 1)" */
        struct modbus_plan plan;
        struct modbus_plan cap_plan;
        struct modbus_caps caps;
        bool caps_logged;
        bool need_init;                 /* after a connect: init + capabilities */

        bool ever_ok;
        uint64_t last_ok_us;            /* last complete read cycle */
        uint64_t next_poll_us;

        /* Last decoded values. */
        uint16_t raw[MODBUS_POINT_COUNT][2];
        bool have[MODBUS_POINT_COUNT];
        double value[MODBUS_POINT_COUNT];
        bool flag[MODBUS_FLAG_COUNT];
        uint32_t fault_raw;             /* fault word and status word bits */
        uint32_t status_raw;

        /* Converter: what was written and whether OFF was confirmed. */
        struct modbus_written written[OUT_COUNT];
        bool off_confirmed;

        bool faulted;
        char problem[MODBUS_WORKER_REASON_MAX];
        char fault_reason[MODBUS_WORKER_REASON_MAX];
        struct log_fault link_log;
};

struct modbus_worker {
        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock;
        pthread_cond_t cond;

        /* ---- shared, under lock ---- */
        struct power_command wanted;
        uint64_t wanted_seq;
        bool stop;
        struct modbus_worker_timing timing;
        struct modbus_device_status out[MODBUS_WORKER_MAX_DEVICES];
        bool start_done;
        int start_error;
        /* Bumped (without the lock) on a switch from a power command to a
         * non-power one: checked before every request. */
        atomic_uint urgent;

        /* ---- set at start, then read-only ---- */
        pthread_t loop_thread;
        void (*notify)(void *data);
        void *notify_data;
        size_t n_dev;
        char bus_name[MODBUS_WORKER_REASON_MAX];

        /* ---- worker thread only ---- */
        struct modbus_dev dev[MODBUS_WORKER_MAX_DEVICES];
        struct modbus_io *io;
        bool connected;
        bool ok_since_connect;
        uint64_t next_connect_us;
        uint32_t backoff_ms;
        uint64_t last_request_end_us;
        int unit;                       /* unit id set in the context, -1 = none */
        struct power_command cmd;       /* snapshot of wanted */
        uint64_t cmd_seq;
        unsigned urgent_seen;
        struct modbus_worker_timing t;  /* snapshot of timing */
};

static bool modbus_is_power(enum power_mode mode)
{
        switch (mode) {
        case POWER_OFF:
        case POWER_STANDBY:
                return false;
        case POWER_INSULATION_TEST:
        case POWER_PRECHARGE:
        case POWER_CHARGE:
                return true;
        }
        return false;
}

/* ---- loop thread side ---------------------------------------------------- */

void modbus_worker_command(struct modbus_worker *w, const struct power_command *cmd)
{
        bool was_power;

        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        was_power = modbus_is_power(w->wanted.mode);
        w->wanted = *cmd;
        w->wanted_seq++;
        if (was_power && !modbus_is_power(cmd->mode))
                atomic_fetch_add(&w->urgent, 1);
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

void modbus_worker_set_timing(struct modbus_worker *w, const struct modbus_worker_timing *t)
{
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->timing = *t;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

/* ---- worker thread -------------------------------------------------------- */

static void modbus_sleep_ms(uint32_t ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static bool modbus_worker_urgent(struct modbus_worker *w)
{
        return atomic_load(&w->urgent) != w->urgent_seen;
}

static void modbus_worker_set_problem(struct modbus_dev *d, const char *reason)
{
        snprintf(d->problem, sizeof(d->problem), "%s", reason);
}

/* What the device holds is unknown again (after a (re)connect or a long
 * silence): start it over. */
static void modbus_dev_reset(struct modbus_dev *d, uint64_t now)
{
        d->need_init = true;
        d->next_poll_us = now;
        d->off_confirmed = false;
        for (int o = 0; o < OUT_COUNT; o++)
                d->written[o].valid = false;
}

/* The bus misbehaved on a request for d: record and log the reason (once
 * per episode, see log_fault), then bring the bus back into a known state.
 * Returns err. */
static int modbus_worker_failed(struct modbus_worker *w, struct modbus_dev *d, int err, const char *what)
{
        char reason[MODBUS_WORKER_REASON_MAX];
        uint64_t now = monotonic_now_us();

        snprintf(reason, sizeof(reason), "%s: %s", what, modbus_io_strerror(err));
        modbus_worker_set_problem(d, reason);
        log_fault_raise(&d->link_log, LOG_WARNING, now, "%s", reason);

        if (modbus_io_error_is_exception(err))
                return err;     /* the device answered: the link is fine */
        if (d->params.transport == MODBUS_TRANSPORT_TCP) {
                /* A late reply would be taken for the answer to the next
                 * request: start over on a new connection. */
                modbus_io_close(w->io);
                w->connected = false;
                w->next_connect_us = now + (w->ok_since_connect ? 0 : (uint64_t)w->backoff_ms * 1000);
                return err;
        }
        if (modbus_io_error_is_timeout(err) || modbus_io_error_is_garbled(err)) {
                /* RTU: let a late or garbled reply end, then drop it. */
                modbus_sleep_ms(d->params.response_timeout_ms);
                (void)modbus_io_flush(w->io);
                w->last_request_end_us = monotonic_now_us();
                /* Silent for the whole link timeout: when it answers again
                 * it is treated like a reconnect (it may have restarted):
                 * OFF first if wanted, init sequence, capabilities. */
                if (!d->ever_ok || now >= d->last_ok_us + (uint64_t)w->t.link_timeout_ms * 1000)
                        modbus_dev_reset(d, now);
                return err;
        }
        /* The serial port itself failed (adapter unplugged...). */
        modbus_io_close(w->io);
        w->connected = false;
        w->next_connect_us = now + (uint64_t)w->backoff_ms * 1000;
        return err;
}

/* Gap between requests, unit id, and the OFF check before every request:
 * -ECANCELED when an OFF arrived and this request may wait for it. */
static int modbus_worker_prepare(struct modbus_worker *w, struct modbus_dev *d, bool cancellable)
{
        uint64_t now;
        int r;

        if (cancellable && modbus_worker_urgent(w))
                return -ECANCELED;
        if (!w->connected)
                return -ENOTCONN;
        now = monotonic_now_us();
        if (w->t.min_gap_ms && w->last_request_end_us) {
                uint64_t ready = w->last_request_end_us + (uint64_t)w->t.min_gap_ms * 1000;

                if (now < ready)
                        modbus_sleep_ms((uint32_t)((ready - now + 999) / 1000));
        }
        if (w->unit != d->params.unit_id) {
                r = modbus_io_set_unit(w->io, d->params.unit_id);
                if (r < 0)
                        return r;
                w->unit = d->params.unit_id;
        }
        return 0;
}

static int modbus_worker_write(struct modbus_worker *w, struct modbus_dev *d, bool cancellable,
                               uint8_t function, uint16_t address, uint16_t count, const uint16_t *regs,
                               const char *name)
{
        char what[96];
        int r;

        r = modbus_worker_prepare(w, d, cancellable);
        if (r < 0)
                return r;
        r = modbus_io_write(w->io, function, address, count, regs);
        w->last_request_end_us = monotonic_now_us();
        if (r < 0) {
                snprintf(what, sizeof(what), "write %s (function %02u, address %u)", name, function, address);
                return modbus_worker_failed(w, d, r, what);
        }
        return 0;
}

static int modbus_worker_read(struct modbus_worker *w, struct modbus_dev *d, bool cancellable,
                              const struct modbus_block *b, uint16_t *dst)
{
        char what[96];
        int r;

        r = modbus_worker_prepare(w, d, cancellable);
        if (r < 0)
                return r;
        r = modbus_io_read(w->io, b->area, b->start, b->count, dst);
        w->last_request_end_us = monotonic_now_us();
        if (r < 0) {
                snprintf(what, sizeof(what), "read %s %u+%u", modbus_area_name(b->area), b->start, b->count);
                return modbus_worker_failed(w, d, r, what);
        }
        return 0;
}

/* Write a point if it changed or its refresh is due (or always with force). */
static int modbus_worker_put(struct modbus_worker *w, struct modbus_dev *d, enum modbus_out out,
                             enum modbus_point_id id, const uint16_t *regs, bool cancellable, bool force,
                             uint64_t now)
{
        const struct modbus_point *pt = &d->params.profile.points[id];
        struct modbus_written *wr = &d->written[out];
        unsigned words = modbus_pack_words(pt->type);
        bool due = w->t.setpoint_refresh_ms && now >= wr->at_us + (uint64_t)w->t.setpoint_refresh_ms * 1000;
        int r;

        if (!force && wr->valid && !due && memcmp(wr->regs, regs, words * sizeof(uint16_t)) == 0)
                return 0;
        /* From here the device may hold the old or the new value. */
        wr->valid = false;
        r = modbus_worker_write(w, d, cancellable, pt->write_function, pt->address, (uint16_t)words, regs,
                                modbus_point_name(id));
        if (r < 0)
                return r;
        wr->valid = true;
        memcpy(wr->regs, regs, words * sizeof(uint16_t));
        wr->at_us = monotonic_now_us();
        return 0;
}

static bool modbus_dev_can_confirm_off(const struct modbus_dev *d)
{
        const struct modbus_profile *p = &d->params.profile;

        return p->points[MODBUS_POINT_STATUS_WORD].flags[MODBUS_FLAG_OUTPUT_ON].set ||
               p->points[MODBUS_POINT_FAULT_WORD].flags[MODBUS_FLAG_OUTPUT_ON].set ||
               (p->points[MODBUS_POINT_OUTPUT_ENABLE].present && p->points[MODBUS_POINT_OUTPUT_ENABLE].readback);
}

/* Output off: the disable write first, then (if the profile says so, or if
 * it has no enable at all) zero setpoints.  Never cancelled. */
static int modbus_worker_write_off(struct modbus_worker *w, struct modbus_dev *d, bool force, uint64_t now)
{
        const struct modbus_profile *p = &d->params.profile;
        const struct modbus_point *en = &p->points[MODBUS_POINT_OUTPUT_ENABLE];
        uint16_t regs[2];
        int r;

        if (en->present) {
                regs[0] = en->off;
                r = modbus_worker_put(w, d, OUT_ENABLE, MODBUS_POINT_OUTPUT_ENABLE, regs, false, force, now);
                if (r < 0)
                        return r;
        }
        if (p->zero_setpoints_on_off || !en->present) {
                /* Current first: with no enable, that is what stops the power. */
                if (modbus_point_encode(&p->points[MODBUS_POINT_SET_CURRENT], 0, &d->caps, regs) >= 0) {
                        r = modbus_worker_put(w, d, OUT_CURRENT, MODBUS_POINT_SET_CURRENT, regs, false,
                                              force && !en->present, now);
                        if (r < 0)
                                return r;
                }
                if (modbus_point_encode(&p->points[MODBUS_POINT_SET_VOLTAGE], 0, &d->caps, regs) >= 0) {
                        r = modbus_worker_put(w, d, OUT_VOLTAGE, MODBUS_POINT_SET_VOLTAGE, regs, false, false, now);
                        if (r < 0)
                                return r;
                }
        }
        if (!modbus_dev_can_confirm_off(d))
                d->off_confirmed = true;        /* acknowledged is all we can know */
        else
                d->next_poll_us = now;          /* read it back at once */
        return 0;
}

/* The setpoints of a power command, clamped to the device's ratings. */
static void modbus_worker_setpoints(const struct modbus_dev *d, const struct power_command *cmd, double *v,
                                    double *i)
{
        const struct modbus_caps *c = &d->caps;

        *v = cmd->voltage_dv / 10.0;
        *i = cmd->current_da / 10.0;
        if (c->known[0] && *v > c->value[0])
                *v = c->value[0];
        if (c->known[1] && *i > c->value[1])
                *i = c->value[1];
        if (c->known[2] && *v > 0 && *i * *v > c->value[2])
                *i = floor(c->value[2] / *v * 10.0) / 10.0;
}

static int modbus_worker_apply_power(struct modbus_worker *w, struct modbus_dev *d, uint64_t now)
{
        const struct modbus_profile *p = &d->params.profile;
        const struct modbus_point *en = &p->points[MODBUS_POINT_OUTPUT_ENABLE];
        uint16_t vregs[2], iregs[2], on[1];
        double v, i, old_i = 0;
        bool current_first = false;
        int r;

        modbus_worker_setpoints(d, &w->cmd, &v, &i);
        if (modbus_point_encode(&p->points[MODBUS_POINT_SET_VOLTAGE], v, &d->caps, vregs) < 0 ||
            modbus_point_encode(&p->points[MODBUS_POINT_SET_CURRENT], i, &d->caps, iregs) < 0) {
                modbus_worker_set_problem(d, "setpoints cannot be encoded (rated values unknown)");
                return -ENODATA;
        }
        /* A lower current limit goes out before a new voltage. */
        if (d->written[OUT_CURRENT].valid &&
            modbus_point_decode(&p->points[MODBUS_POINT_SET_CURRENT], d->written[OUT_CURRENT].regs, &d->caps,
                                &old_i) == 0)
                current_first = i < old_i;
        if (current_first) {
                r = modbus_worker_put(w, d, OUT_CURRENT, MODBUS_POINT_SET_CURRENT, iregs, true, false, now);
                if (r == 0)
                        r = modbus_worker_put(w, d, OUT_VOLTAGE, MODBUS_POINT_SET_VOLTAGE, vregs, true, false, now);
        } else {
                r = modbus_worker_put(w, d, OUT_VOLTAGE, MODBUS_POINT_SET_VOLTAGE, vregs, true, false, now);
                if (r == 0)
                        r = modbus_worker_put(w, d, OUT_CURRENT, MODBUS_POINT_SET_CURRENT, iregs, true, false, now);
        }
        if (r < 0)
                return r;
        if (en->present) {
                on[0] = en->on;
                r = modbus_worker_put(w, d, OUT_ENABLE, MODBUS_POINT_OUTPUT_ENABLE, on, true, false, now);
                if (r < 0)
                        return r;
        }
        d->off_confirmed = false;
        return 0;
}

static void modbus_worker_log_caps(struct modbus_dev *d)
{
        char text[128] = "";
        size_t n = 0;
        static const char *const unit[3] = { "V", "A", "W" };

        for (int c = 0; c < 3; c++) {
                if (!d->caps.known[c])
                        continue;
                n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%.10g %s", n ? " / " : "", d->caps.value[c],
                                      unit[c]);
                if (n >= sizeof(text))
                        break;
        }
        if (!d->caps_logged)
                log_info("%s: %s%s%s", d->what, d->params.profile.name, text[0] ? ", rated " : "", text);
        d->caps_logged = true;
}

static int modbus_worker_run_steps(struct modbus_worker *w, struct modbus_dev *d, const struct modbus_step *steps,
                                   size_t n, bool cancellable, const char *name)
{
        int r;

        for (size_t k = 0; k < n; k++) {
                const struct modbus_step *s = &steps[k];

                if (s->kind == MODBUS_STEP_DELAY) {
                        modbus_sleep_ms(s->delay_ms);
                        continue;
                }
                r = modbus_worker_write(w, d, cancellable, s->function, s->address, 1, &s->value, name);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* After a connect: OFF first if it is wanted, the init sequence, the
 * capabilities. */
static int modbus_worker_start_device(struct modbus_worker *w, struct modbus_dev *d, uint64_t now)
{
        uint16_t buf[MODBUS_PROFILE_MAX_BITS];
        int r;

        if (d->role == MODBUS_ROLE_CONVERTER && !modbus_is_power(w->cmd.mode)) {
                /* The OFF wanted while the link was down goes first; a
                 * device that refuses it before the init sequence gets it
                 * again right after. */
                r = modbus_worker_write_off(w, d, true, now);
                if (r < 0 && !modbus_io_error_is_exception(r))
                        return r;
        }
        r = modbus_worker_run_steps(w, d, d->params.profile.init, d->params.profile.n_init, true, "init");
        if (r < 0)
                return r;
        modbus_caps_from_profile(&d->params.profile, &d->caps);
        for (size_t b = 0; b < d->cap_plan.n_blocks; b++) {
                r = modbus_worker_read(w, d, true, &d->cap_plan.blocks[b], buf);
                if (r < 0)
                        return r;
                for (int id = MODBUS_POINT_RATED_VOLTAGE; id <= MODBUS_POINT_RATED_POWER; id++) {
                        const struct modbus_point *pt = &d->params.profile.points[id];
                        int c = id - MODBUS_POINT_RATED_VOLTAGE;
                        double v;

                        if (d->cap_plan.block_of[id] != (int)b)
                                continue;
                        if (modbus_point_decode(pt, &buf[d->cap_plan.offset_of[id]], NULL, &v) < 0 || !(v > 0)) {
                                char reason[MODBUS_WORKER_REASON_MAX];

                                snprintf(reason, sizeof(reason), "%s reads as an invalid value",
                                         modbus_point_name((enum modbus_point_id)id));
                                modbus_worker_set_problem(d, reason);
                                return -EINVAL;
                        }
                        d->caps.known[c] = true;
                        d->caps.value[c] = v;
                }
        }
        modbus_worker_log_caps(d);
        d->need_init = false;
        return 0;
}

static void modbus_worker_evaluate(struct modbus_worker *w, struct modbus_dev *d)
{
        const struct modbus_profile *p = &d->params.profile;
        bool fault = false;
        char names[128], reason[MODBUS_WORKER_REASON_MAX];

        for (int f = 0; f < MODBUS_FLAG_COUNT; f++) {
                d->flag[f] = false;
                for (int k = 0; k < 2; k++) {
                        int id = k == 0 ? MODBUS_POINT_FAULT_WORD : MODBUS_POINT_STATUS_WORD;
                        uint32_t raw = k == 0 ? d->fault_raw : d->status_raw;

                        if (d->have[id] && modbus_flag_active(&p->points[id].flags[f], raw))
                                d->flag[f] = true;
                }
        }
        fault = d->flag[MODBUS_FLAG_FAULT];
        if (fault) {
                char fn[96] = "", sn[96] = "";

                if (d->have[MODBUS_POINT_FAULT_WORD])
                        modbus_profile_bit_names(p, 0, d->fault_raw & p->points[MODBUS_POINT_FAULT_WORD].flags[MODBUS_FLAG_FAULT].mask,
                                                 fn, sizeof(fn));
                if (d->have[MODBUS_POINT_STATUS_WORD] && p->points[MODBUS_POINT_STATUS_WORD].flags[MODBUS_FLAG_FAULT].set)
                        modbus_profile_bit_names(p, 1, d->status_raw & p->points[MODBUS_POINT_STATUS_WORD].flags[MODBUS_FLAG_FAULT].mask,
                                                 sn, sizeof(sn));
                snprintf(names, sizeof(names), "%s%s%s", fn, fn[0] && sn[0] ? ", " : "", sn);
                snprintf(reason, sizeof(reason), "%s reports a fault%s%.100s (fault word 0x%04x, status word 0x%04x)",
                         d->role == MODBUS_ROLE_CONVERTER ? "converter" : "insulation monitor",
                         names[0] ? ": " : "", names, d->fault_raw, d->status_raw);
        }
        if (fault && (!d->faulted || strcmp(reason, d->fault_reason) != 0))
                log_warning("%s: %s", d->what, reason);
        else if (!fault && d->faulted)
                log_notice("%s: fault cleared", d->what);
        if (fault)
                snprintf(d->fault_reason, sizeof(d->fault_reason), "%s", reason);
        else
                d->fault_reason[0] = '\0';
        d->faulted = fault;

        /* Output state confirmed off by the device itself. */
        if (d->role == MODBUS_ROLE_CONVERTER && !modbus_is_power(w->cmd.mode) && !d->off_confirmed) {
                const struct modbus_point *en = &p->points[MODBUS_POINT_OUTPUT_ENABLE];
                bool flag_known = p->points[MODBUS_POINT_STATUS_WORD].flags[MODBUS_FLAG_OUTPUT_ON].set ||
                                  p->points[MODBUS_POINT_FAULT_WORD].flags[MODBUS_FLAG_OUTPUT_ON].set;
                bool off;

                if (flag_known)
                        off = !d->flag[MODBUS_FLAG_OUTPUT_ON];
                else if (en->present && en->readback && d->have[MODBUS_POINT_OUTPUT_ENABLE])
                        off = d->raw[MODBUS_POINT_OUTPUT_ENABLE][0] == en->off;
                else
                        off = false;
                if (off) {
                        d->off_confirmed = true;
                        log_debug("%s: output off confirmed", d->what);
                }
        }
}

/* One read cycle of a device.  0 or -errno. */
static int modbus_worker_read_cycle(struct modbus_worker *w, struct modbus_dev *d)
{
        uint16_t buf[MODBUS_PROFILE_MAX_BITS];
        const struct modbus_profile *p = &d->params.profile;
        uint64_t now;
        int r;

        for (size_t b = 0; b < d->plan.n_blocks; b++) {
                r = modbus_worker_read(w, d, true, &d->plan.blocks[b], buf);
                if (r < 0)
                        return r;
                for (int id = 0; id < MODBUS_POINT_COUNT; id++) {
                        const struct modbus_point *pt = &p->points[id];
                        double v;

                        if (d->plan.block_of[id] != (int)b)
                                continue;
                        memcpy(d->raw[id], &buf[d->plan.offset_of[id]],
                               modbus_pack_words(pt->type) * sizeof(uint16_t));
                        d->have[id] = true;
                        if (id == MODBUS_POINT_FAULT_WORD)
                                d->fault_raw = modbus_point_raw(pt, d->raw[id]);
                        else if (id == MODBUS_POINT_STATUS_WORD)
                                d->status_raw = modbus_point_raw(pt, d->raw[id]);
                        else if (id != MODBUS_POINT_OUTPUT_ENABLE) {
                                if (modbus_point_decode(pt, d->raw[id], &d->caps, &v) == 0)
                                        d->value[id] = v;
                                else
                                        d->have[id] = false;
                        }
                }
        }
        now = monotonic_now_us();
        d->ever_ok = true;
        d->last_ok_us = now;
        w->ok_since_connect = true;
        w->backoff_ms = MODBUS_BACKOFF_MIN_MS;
        d->problem[0] = '\0';
        log_fault_clear(&d->link_log, now);
        modbus_worker_evaluate(w, d);
        return 0;
}

/* One pass over the bus.  -ECANCELED when an OFF must go first. */
static int modbus_worker_service(struct modbus_worker *w)
{
        uint64_t now = monotonic_now_us();
        int r;

        for (size_t k = 0; k < w->n_dev && w->connected; k++) {
                struct modbus_dev *d = &w->dev[k];

                if (d->need_init) {
                        if (now < d->next_poll_us)
                                continue;       /* a failed start is retried at the poll rate */
                        d->next_poll_us = now + (uint64_t)w->t.poll_interval_ms * 1000;
                        r = modbus_worker_start_device(w, d, now);
                        if (r == -ECANCELED)
                                return r;
                        if (r < 0)
                                continue;
                        d->next_poll_us = now;
                }
                if (d->role == MODBUS_ROLE_CONVERTER) {
                        if (!modbus_is_power(w->cmd.mode)) {
                                if (!d->off_confirmed || (w->t.setpoint_refresh_ms &&
                                    now >= d->written[OUT_ENABLE].at_us + (uint64_t)w->t.setpoint_refresh_ms * 1000))
                                        r = modbus_worker_write_off(w, d, !d->off_confirmed, now);
                                else
                                        r = 0;
                        } else {
                                r = modbus_worker_apply_power(w, d, now);
                        }
                        /* A write that got no answer is retried before
                         * anything else: no reads until it went through
                         * (an exception is an answer: go on). */
                        if (r < 0 && !modbus_io_error_is_exception(r))
                                return r;
                }
        }
        now = monotonic_now_us();
        for (size_t k = 0; k < w->n_dev && w->connected; k++) {
                struct modbus_dev *d = &w->dev[k];

                if (d->need_init || now < d->next_poll_us)
                        continue;
                d->next_poll_us = now + (uint64_t)w->t.poll_interval_ms * 1000;
                r = modbus_worker_read_cycle(w, d);
                if (r == -ECANCELED)
                        return r;
        }
        return 0;
}

static void modbus_worker_connect(struct modbus_worker *w, uint64_t now)
{
        const char *what = "connect";
        char reason[MODBUS_WORKER_REASON_MAX];
        int r;

        r = modbus_io_connect(w->io, &what);
        if (r < 0) {
                snprintf(reason, sizeof(reason), "%s: %.100s", what, modbus_io_strerror(r));
                for (size_t k = 0; k < w->n_dev; k++) {
                        modbus_worker_set_problem(&w->dev[k], reason);
                        log_fault_raise(&w->dev[k].link_log, r == -ENOTTY || r == -EINVAL ? LOG_ERR : LOG_WARNING,
                                        now, "%s", reason);
                }
                w->next_connect_us = now + (uint64_t)w->backoff_ms * 1000;
                w->backoff_ms = w->backoff_ms * 2 > w->dev[0].params.reconnect_max_ms
                                        ? w->dev[0].params.reconnect_max_ms : w->backoff_ms * 2;
                return;
        }
        w->connected = true;
        w->ok_since_connect = false;
        w->unit = -1;
        w->last_request_end_us = 0;
        for (size_t k = 0; k < w->n_dev; k++)
                modbus_dev_reset(&w->dev[k], now);
        /* Next failure without a good cycle in between waits longer. */
        w->backoff_ms = w->backoff_ms * 2 > w->dev[0].params.reconnect_max_ms
                                ? w->dev[0].params.reconnect_max_ms : w->backoff_ms * 2;
}

static int16_t modbus_temperature(const struct modbus_dev *d, enum modbus_point_id id)
{
        double v;

        if (!d->have[id])
                return POWER_TEMPERATURE_UNKNOWN;
        v = nearbyint(d->value[id]);
        if (v < -1000)
                v = -1000;
        if (v > 1000)
                v = 1000;
        return (int16_t)v;
}

static uint16_t modbus_insulation(const struct modbus_dev *d)
{
        double v;

        if (!d->have[MODBUS_POINT_INSULATION_RESISTANCE] || d->flag[MODBUS_FLAG_INVALID])
                return POWER_INSULATION_UNKNOWN;
        v = floor(d->value[MODBUS_POINT_INSULATION_RESISTANCE]);
        if (v < 0)
                v = 0;
        if (v >= POWER_INSULATION_UNKNOWN)
                v = POWER_INSULATION_UNKNOWN - 1;
        return (uint16_t)v;
}

static void modbus_worker_measure(struct modbus_worker *w, struct modbus_dev *d, uint64_t now,
                                  struct modbus_device_status *st)
{
        const struct modbus_profile *p = &d->params.profile;
        struct power_measurement *m = &st->m;
        bool link = d->ever_ok && now < d->last_ok_us + (uint64_t)w->t.link_timeout_ms * 1000;
        double v;

        m->voltage_dv = 0;
        m->current_da = 0;
        if (d->have[MODBUS_POINT_PRESENT_VOLTAGE]) {
                v = nearbyint(d->value[MODBUS_POINT_PRESENT_VOLTAGE] * 10.0);
                m->voltage_dv = (uint16_t)(v < 0 ? 0 : v > UINT16_MAX ? UINT16_MAX : v);
        }
        if (d->have[MODBUS_POINT_PRESENT_CURRENT]) {
                v = nearbyint(d->value[MODBUS_POINT_PRESENT_CURRENT] * 10.0);
                m->current_da = (int16_t)(v < -32767 ? -32767 : v > 32767 ? 32767 : v);
        }
        m->module_temp_c = modbus_temperature(d, MODBUS_POINT_MODULE_TEMPERATURE);
        m->enclosure_temp_c = modbus_temperature(d, MODBUS_POINT_ENCLOSURE_TEMPERATURE);
        m->insulation_kohm = modbus_insulation(d);
        m->link_ok = link;
        m->fault = d->faulted;
        st->seen = d->ever_ok;
        m->ready = link && !d->faulted && !d->need_init &&
                   ((p->points[MODBUS_POINT_STATUS_WORD].flags[MODBUS_FLAG_READY].set ||
                     p->points[MODBUS_POINT_FAULT_WORD].flags[MODBUS_FLAG_READY].set)
                            ? d->flag[MODBUS_FLAG_READY] : true);
        if (!link)
                snprintf(st->reason, sizeof(st->reason), "%s: link lost: %s", d->what,
                         d->problem[0] ? d->problem : "no answer yet");
        else if (d->faulted)
                snprintf(st->reason, sizeof(st->reason), "%s: %s", d->what, d->fault_reason);
        else
                st->reason[0] = '\0';
}

static void modbus_worker_publish(struct modbus_worker *w)
{
        struct modbus_device_status st[MODBUS_WORKER_MAX_DEVICES];
        uint64_t now = monotonic_now_us();

        for (size_t k = 0; k < w->n_dev; k++)
                modbus_worker_measure(w, &w->dev[k], now, &st[k]);
        pthread_mutex_lock(&w->lock);
        for (size_t k = 0; k < w->n_dev; k++) {
                st[k].updates = w->out[k].updates + 1;
                w->out[k] = st[k];
        }
        pthread_mutex_unlock(&w->lock);
        if (w->notify)
                w->notify(w->notify_data);
}

/* When the worker must look again, at the latest. */
static uint64_t modbus_worker_deadline(struct modbus_worker *w, uint64_t now)
{
        uint64_t t = now + (uint64_t)w->t.poll_interval_ms * 1000;

        if (!w->connected) {
                if (w->next_connect_us < t)
                        t = w->next_connect_us;
                return t;
        }
        for (size_t k = 0; k < w->n_dev; k++) {
                const struct modbus_dev *d = &w->dev[k];
                uint64_t expiry = d->last_ok_us + (uint64_t)w->t.link_timeout_ms * 1000;

                if (d->next_poll_us < t)
                        t = d->next_poll_us;
                if (d->ever_ok && expiry > now && expiry < t)
                        t = expiry;     /* publish the loss on time */
        }
        return t;
}

static void modbus_worker_wait(struct modbus_worker *w, uint64_t until_us)
{
        struct timespec ts = { .tv_sec = (time_t)(until_us / 1000000u),
                               .tv_nsec = (long)(until_us % 1000000u) * 1000L };

        pthread_mutex_lock(&w->lock);
        while (!w->stop && w->wanted_seq == w->cmd_seq && monotonic_now_us() < until_us)
                if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) == ETIMEDOUT)
                        break;
        pthread_mutex_unlock(&w->lock);
}

/* Take the latest wanted state.  false when asked to stop. */
static bool modbus_worker_snapshot(struct modbus_worker *w)
{
        bool stop;

        pthread_mutex_lock(&w->lock);
        stop = w->stop;
        w->cmd = w->wanted;
        w->cmd_seq = w->wanted_seq;
        w->t = w->timing;
        pthread_mutex_unlock(&w->lock);
        /* Everything up to this command has been seen. */
        w->urgent_seen = atomic_load(&w->urgent);
        return !stop;
}

/* Exit: output off, insisting until confirmed or shutdown_timeout_ms, then
 * the shutdown sequences. */
static void modbus_worker_shutdown(struct modbus_worker *w)
{
        struct modbus_dev *conv = w->dev[0].role == MODBUS_ROLE_CONVERTER ? &w->dev[0] : NULL;
        uint64_t now = monotonic_now_us();
        uint64_t deadline = now + (uint64_t)w->dev[0].params.shutdown_timeout_ms * 1000;
        bool tried = false;

        w->cmd = (struct power_command) { .mode = POWER_OFF, .discharge = true };
        /* The stop bumped the OFF counter (before it set the flag) to cut
         * short what was under way; from here every request is part of
         * the shutdown. */
        w->urgent_seen = atomic_load(&w->urgent);
        while (conv && (!tried || now < deadline)) {
                tried = true;
                if (!w->connected) {
                        modbus_worker_connect(w, now);
                        if (!w->connected) {
                                modbus_sleep_ms(100);
                                now = monotonic_now_us();
                                continue;
                        }
                }
                if (modbus_worker_write_off(w, conv, true, now) == 0) {
                        if (!conv->off_confirmed)
                                (void)modbus_worker_read_cycle(w, conv);
                        if (conv->off_confirmed)
                                break;
                        if (conv->need_init)
                                (void)modbus_worker_start_device(w, conv, now);
                } else if (w->connected && conv->need_init) {
                        /* A device that takes commands only after its init
                         * sequence (remote control). */
                        (void)modbus_worker_start_device(w, conv, now);
                }
                modbus_sleep_ms(w->t.poll_interval_ms);
                now = monotonic_now_us();
        }
        if (conv) {
                if (conv->off_confirmed)
                        log_info("%s: output off", conv->what);
                else
                        log_err("%s: output NOT confirmed off at exit: %s", conv->what,
                                conv->problem[0] ? conv->problem : "no confirmation from the device");
        }
        for (size_t k = 0; k < w->n_dev && w->connected; k++) {
                struct modbus_dev *d = &w->dev[k];

                if (d->params.profile.n_shutdown &&
                    modbus_worker_run_steps(w, d, d->params.profile.shutdown, d->params.profile.n_shutdown,
                                            false, "shutdown") < 0)
                        log_warning("%s: shutdown sequence failed: %s", d->what, d->problem);
        }
        modbus_io_close(w->io);
        w->connected = false;
}

static void *modbus_worker_main(void *arg)
{
        struct modbus_worker *w = arg;
        uint64_t now;
        int r;

        r = modbus_io_new(&w->dev[0].params, w->loop_thread, &w->io);
        pthread_mutex_lock(&w->lock);
        w->start_done = true;
        w->start_error = r;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        if (r < 0)
                return NULL;

        while (modbus_worker_snapshot(w)) {
                now = monotonic_now_us();
                if (!w->connected && now >= w->next_connect_us)
                        modbus_worker_connect(w, now);
                r = w->connected ? modbus_worker_service(w) : 0;
                modbus_worker_publish(w);
                if (r == -ECANCELED)
                        continue;       /* the OFF goes out at once */
                now = monotonic_now_us();
                modbus_worker_wait(w, modbus_worker_deadline(w, now));
        }
        modbus_worker_shutdown(w);
        modbus_worker_publish(w);
        modbus_io_free(w->io);
        w->io = NULL;
        return NULL;
}

int modbus_worker_start(struct modbus_worker **out, const struct modbus_worker_device *devices, size_t n,
                        pthread_t loop_thread, void (*notify)(void *data), void *data)
{
        struct modbus_worker *w;
        pthread_condattr_t ca;
        int r;

        if (n == 0 || n > MODBUS_WORKER_MAX_DEVICES)
                return -EINVAL;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->loop_thread = loop_thread;
        w->notify = notify;
        w->notify_data = data;
        w->n_dev = n;
        w->backoff_ms = MODBUS_BACKOFF_MIN_MS;
        w->unit = -1;
        w->wanted = (struct power_command) { .mode = POWER_OFF, .discharge = true };
        atomic_init(&w->urgent, 0);
        modbus_params_describe(devices[0].params, w->bus_name, sizeof(w->bus_name));
        for (size_t k = 0; k < n; k++) {
                struct modbus_dev *d = &w->dev[k];
                char bus[MODBUS_WORKER_REASON_MAX / 2];

                d->params = *devices[k].params;
                d->role = devices[k].role;
                modbus_params_describe(&d->params, bus, sizeof(bus));
                snprintf(d->what, sizeof(d->what), "%s (%s)",
                         d->role == MODBUS_ROLE_CONVERTER ? "converter" : "insulation monitor", bus);
                log_fault_init(&d->link_log, LOG_MODULE, d->what);
                if (modbus_plan_build(&d->params.profile, false, &d->plan) < 0 ||
                    modbus_plan_build(&d->params.profile, true, &d->cap_plan) < 0) {
                        free(w);
                        return -E2BIG;  /* refused by the profile check already */
                }
                modbus_caps_from_profile(&d->params.profile, &d->caps);
        }
        w->timing = (struct modbus_worker_timing) {
                .poll_interval_ms = devices[0].params->poll_interval_ms,
                .setpoint_refresh_ms = devices[0].params->setpoint_refresh_ms,
                .link_timeout_ms = devices[0].params->link_timeout_ms,
                .min_gap_ms = devices[0].params->min_gap_ms,
        };
        w->t = w->timing;

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
        /* Cut short what is under way (a request in flight still ends
         * within its timeout); the shutdown starts from a clean count. */
        atomic_fetch_add(&w->urgent, 1);
        w->stop = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        if (w->thread_started)
                pthread_join(w->thread, NULL);
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
}
