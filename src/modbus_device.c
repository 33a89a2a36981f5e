/* SPDX-License-Identifier: MIT */
/*
 * The devices of one Modbus bus as a pure state machine (see
 * modbus_device.h).  Time comes in as an argument; requests go out as ops
 * and come back as results; what is worth logging leaves as events.
 *
 * A *pass* serves the bus once: for each device, its start after a connect
 * when it is due (off writes, init sequence, capabilities), then the
 * converter's output writes; then, for each device, its measurement reads
 * when they are due.  A pass is resumable: the cursor (stage, device, index)
 * moves only with results, so modbus_device_next() computes the same op
 * until its result arrives.  A failure ends what it belongs to: a device's
 * start, its writes (and the rest of the pass, but for an exception), its
 * read cycle.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "modbus_device.h"

/* At the stop, a connection that failed is tried again this soon. */
#define MODBUS_DEVICE_STOP_RETRY_US (100 * 1000u)

static uint64_t ms_us(uint32_t ms)
{
        return (uint64_t)ms * 1000u;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
        return a < b ? a : b;
}

static enum modbus_point_id output_point(enum modbus_output out)
{
        switch (out) {
        case MODBUS_OUT_VOLTAGE:
                return MODBUS_POINT_SET_VOLTAGE;
        case MODBUS_OUT_CURRENT:
                return MODBUS_POINT_SET_CURRENT;
        case MODBUS_OUT_SINK_CURRENT:
                return MODBUS_POINT_SET_SINK_CURRENT;
        case MODBUS_OUT_ENABLE:
        case MODBUS_OUT_COUNT:
                break;
        }
        return MODBUS_POINT_OUTPUT_ENABLE;
}

static bool is_converter(const struct modbus_device *d)
{
        return d->role == MODBUS_ROLE_CONVERTER;
}

static bool is_tcp(const struct modbus_device_bus *m)
{
        return m->dev[0].params.transport == MODBUS_TRANSPORT_TCP;
}

/* ---- events ---------------------------------------------------------------- */

__attribute__((format(printf, 4, 5)))
static struct modbus_event *event(struct modbus_device_bus *m, enum modbus_event_kind kind, size_t k,
                                  const char *fmt, ...)
{
        struct modbus_event *e;
        va_list ap;

        if (m->ev_len == MODBUS_DEVICE_EVENTS) {
                /* Nobody drained them: the oldest goes. */
                m->ev_head = (m->ev_head + 1) % MODBUS_DEVICE_EVENTS;
                m->ev_len--;
        }
        e = &m->events[(m->ev_head + m->ev_len) % MODBUS_DEVICE_EVENTS];
        m->ev_len++;
        *e = (struct modbus_event) { .kind = kind, .device = k };
        va_start(ap, fmt);
        vsnprintf(e->text, sizeof(e->text), fmt, ap);
        va_end(ap);
        return e;
}

bool modbus_device_event(struct modbus_device_bus *m, struct modbus_event *ev)
{
        if (m->ev_len == 0)
                return false;
        *ev = m->events[m->ev_head];
        m->ev_head = (m->ev_head + 1) % MODBUS_DEVICE_EVENTS;
        m->ev_len--;
        return true;
}

/* ---- set-up ------------------------------------------------------------------ */

/* What the device holds is unknown again (a (re)connect, a long silence):
 * start it over. */
static void device_reset(struct modbus_device *d, uint64_t now)
{
        d->need_init = true;
        d->init_retry_us = now;
        d->next_poll_us = now;
        d->off_confirmed = false;
        for (int o = 0; o < MODBUS_OUT_COUNT; o++)
                d->written[o].valid = false;
}

int modbus_device_init(struct modbus_device_bus *m, const struct modbus_device_config *devices, size_t n)
{
        if (n == 0 || n > MODBUS_DEVICE_MAX)
                return -EINVAL;
        for (size_t k = 1; k < n; k++)
                if (devices[k].role == MODBUS_ROLE_CONVERTER)
                        return -EINVAL;
        memset(m, 0, sizeof(*m));
        m->n_dev = n;
        for (size_t k = 0; k < n; k++) {
                struct modbus_device *d = &m->dev[k];
                char bus[MODBUS_DEVICE_REASON_MAX / 2];

                d->params = *devices[k].params;
                d->role = devices[k].role;
                modbus_params_describe(&d->params, bus, sizeof(bus));
                snprintf(d->what, sizeof(d->what), "%s (%s)",
                         is_converter(d) ? "converter" : "insulation monitor", bus);
                if (modbus_plan_build(&d->params.profile, false, &d->plan) < 0 ||
                    modbus_plan_build(&d->params.profile, true, &d->cap_plan) < 0)
                        return -E2BIG;  /* refused by the profile check already */
                modbus_caps_from_profile(&d->params.profile, &d->caps);
                device_reset(d, 0);
        }
        m->t = (struct modbus_device_timing) {
                .poll_interval_ms = m->dev[0].params.poll_interval_ms,
                .setpoint_refresh_ms = m->dev[0].params.setpoint_refresh_ms,
                .link_timeout_ms = m->dev[0].params.link_timeout_ms,
                .min_gap_ms = m->dev[0].params.min_gap_ms,
        };
        m->cmd = (struct power_command) { .mode = POWER_OFF, .discharge = true };
        m->backoff_ms = MODBUS_DEVICE_BACKOFF_MIN_MS;
        return 0;
}

void modbus_device_set_timing(struct modbus_device_bus *m, const struct modbus_device_timing *t)
{
        m->t = *t;
}

void modbus_device_command(struct modbus_device_bus *m, const struct power_command *cmd, uint64_t now_us)
{
        bool was_power = power_mode_regulates(m->cmd.mode);

        if (m->stopping)
                return;
        if (m->cmd.mode == cmd->mode && m->cmd.voltage_dv == cmd->voltage_dv &&
            m->cmd.current_da == cmd->current_da && m->cmd.discharge == cmd->discharge)
                return;
        m->cmd = *cmd;
        m->cmd_changed = true;
        /* The disable write goes out next: whatever the pass was doing (a
         * request in flight has ended by now) starts over, with it first. */
        if (was_power && !power_mode_regulates(cmd->mode))
                m->pass = false;
}

/* ---- the pass ---------------------------------------------------------------- */

static void set_problem(struct modbus_device *d, const char *reason)
{
        snprintf(d->problem, sizeof(d->problem), "%s", reason);
}

static void pass_start(struct modbus_device_bus *m)
{
        m->pass = true;
        m->stage = MODBUS_STAGE_INIT_OFF;
        m->k = 0;
        m->index = 0;
        m->cmd_changed = false;
        memset(m->done, 0, sizeof(m->done));
        memset(m->output_over, 0, sizeof(m->output_over));
}

/* The next device's start and writes, then the reads. */
static void next_device_start(struct modbus_device_bus *m)
{
        m->index = 0;
        if (++m->k < m->n_dev) {
                m->stage = MODBUS_STAGE_INIT_OFF;
                return;
        }
        m->k = 0;
        m->stage = MODBUS_STAGE_READS;
}

static void next_device_reads(struct modbus_device_bus *m)
{
        m->index = 0;
        if (++m->k >= m->n_dev)
                m->stage = MODBUS_STAGE_END;
}

static void make_write(struct modbus_op *op, const struct modbus_device *d, uint8_t function, uint16_t address,
                       uint16_t count, const uint16_t *values)
{
        *op = (struct modbus_op) {
                .kind = MODBUS_OP_WRITE,
                .unit = d->params.unit_id,
                .function = function,
                .address = address,
                .count = count,
        };
        memcpy(op->values, values, count * sizeof(uint16_t));
}

static void make_read(struct modbus_op *op, const struct modbus_device *d, const struct modbus_block *b)
{
        *op = (struct modbus_op) {
                .kind = MODBUS_OP_READ,
                .unit = d->params.unit_id,
                .area = b->area,
                .address = b->start,
                .count = b->count,
        };
}

/* An output write, if it is due: its value changed, it is not known to be
 * held, its refresh is due, or force (once per pass). */
static bool output_due(struct modbus_device_bus *m, size_t k, enum modbus_output out, const uint16_t *regs,
                       bool force, uint64_t now, struct modbus_op *op, enum modbus_purpose purpose)
{
        struct modbus_device *d = &m->dev[k];
        const struct modbus_point *pt = &d->params.profile.points[output_point(out)];
        const struct modbus_written *wr = &d->written[out];
        unsigned words = modbus_pack_words(pt->type);
        bool refresh = m->t.setpoint_refresh_ms && now >= wr->at_us + ms_us(m->t.setpoint_refresh_ms);

        if (m->done[k] & (1u << out))
                return false;
        if (!force && wr->valid && !refresh && memcmp(wr->regs, regs, words * sizeof(uint16_t)) == 0)
                return false;
        make_write(op, d, pt->write_function, pt->address, (uint16_t)words, regs);
        m->purpose = purpose;
        m->op_dev = k;
        m->op_out = out;
        return true;
}

/* The off writes of a converter: the disable first, then (if the profile
 * says so, or if it has no enable at all) zero setpoints, current first: with
 * no enable, that is what stops the power. */
static bool off_op(struct modbus_device_bus *m, size_t k, bool force, uint64_t now, struct modbus_op *op)
{
        const struct modbus_device *d = &m->dev[k];
        const struct modbus_profile *p = &d->params.profile;
        const struct modbus_point *en = &p->points[MODBUS_POINT_OUTPUT_ENABLE];
        uint16_t regs[2] = { 0, 0 };

        if (en->present) {
                regs[0] = en->off;
                if (output_due(m, k, MODBUS_OUT_ENABLE, regs, force, now, op, MODBUS_FOR_OFF))
                        return true;
        }
        if (!p->zero_setpoints_on_off && en->present)
                return false;
        if (modbus_point_encode(&p->points[MODBUS_POINT_SET_CURRENT], 0, &d->caps, regs) >= 0 &&
            output_due(m, k, MODBUS_OUT_CURRENT, regs, force && !en->present, now, op, MODBUS_FOR_OFF))
                return true;
        if (p->points[MODBUS_POINT_SET_SINK_CURRENT].present &&
            modbus_point_encode(&p->points[MODBUS_POINT_SET_SINK_CURRENT], 0, &d->caps, regs) >= 0 &&
            output_due(m, k, MODBUS_OUT_SINK_CURRENT, regs, force && !en->present, now, op, MODBUS_FOR_OFF))
                return true;
        if (modbus_point_encode(&p->points[MODBUS_POINT_SET_VOLTAGE], 0, &d->caps, regs) >= 0 &&
            output_due(m, k, MODBUS_OUT_VOLTAGE, regs, false, now, op, MODBUS_FOR_OFF))
                return true;
        return false;
}

/* The writes of a power command, as the command says (the limits are the
 * core's): a lower current before a new voltage, the enable last.  B2: a
 * negative current goes to [set_sink_current] as a magnitude (set_current
 * 0) when the profile has it, else into a signed set_current as it is; the
 * core changes the sign only at 0 A, so the two never rise together.
 * false when none is due; *stuck when the setpoints cannot be encoded. */
static bool power_op(struct modbus_device_bus *m, size_t k, uint64_t now, struct modbus_op *op, bool *stuck)
{
        struct modbus_device *d = &m->dev[k];
        const struct modbus_profile *p = &d->params.profile;
        const struct modbus_point *en = &p->points[MODBUS_POINT_OUTPUT_ENABLE];
        const struct modbus_point *sink = &p->points[MODBUS_POINT_SET_SINK_CURRENT];
        uint16_t vregs[2], iregs[2], sregs[2], on[2] = { en->on, 0 };
        double v = m->cmd.voltage_dv / 10.0, i = m->cmd.current_da / 10.0, s = 0, old_i, old_s;
        bool current_first = false, sink_first = false;

        if (sink->present && i < 0) {
                s = -i;
                i = 0;
        }
        if (modbus_point_encode(&p->points[MODBUS_POINT_SET_VOLTAGE], v, &d->caps, vregs) < 0 ||
            modbus_point_encode(&p->points[MODBUS_POINT_SET_CURRENT], i, &d->caps, iregs) < 0 ||
            (sink->present && modbus_point_encode(sink, s, &d->caps, sregs) < 0)) {
                set_problem(d, i < 0 ? "a negative current cannot be encoded (no [set_sink_current], "
                                       "set_current unsigned)"
                                     : "setpoints cannot be encoded (rated values unknown)");
                *stuck = true;
                return false;
        }
        if (sink->present && d->written[MODBUS_OUT_SINK_CURRENT].valid &&
            modbus_point_decode(sink, d->written[MODBUS_OUT_SINK_CURRENT].regs, &d->caps, &old_s) == 0)
                sink_first = s < old_s;
        if (sink_first && output_due(m, k, MODBUS_OUT_SINK_CURRENT, sregs, false, now, op, MODBUS_FOR_POWER))
                return true;
        if (d->written[MODBUS_OUT_CURRENT].valid &&
            modbus_point_decode(&p->points[MODBUS_POINT_SET_CURRENT], d->written[MODBUS_OUT_CURRENT].regs,
                                &d->caps, &old_i) == 0)
                current_first = i < old_i;
        if (current_first && output_due(m, k, MODBUS_OUT_CURRENT, iregs, false, now, op, MODBUS_FOR_POWER))
                return true;
        if (output_due(m, k, MODBUS_OUT_VOLTAGE, vregs, false, now, op, MODBUS_FOR_POWER))
                return true;
        if (output_due(m, k, MODBUS_OUT_CURRENT, iregs, false, now, op, MODBUS_FOR_POWER))
                return true;
        if (sink->present && output_due(m, k, MODBUS_OUT_SINK_CURRENT, sregs, false, now, op, MODBUS_FOR_POWER))
                return true;
        return en->present && output_due(m, k, MODBUS_OUT_ENABLE, on, false, now, op, MODBUS_FOR_POWER);
}

static bool can_confirm_off(const struct modbus_device *d)
{
        const struct modbus_profile *p = &d->params.profile;

        return p->points[MODBUS_POINT_STATUS_WORD].flags[MODBUS_FLAG_OUTPUT_ON].set ||
               p->points[MODBUS_POINT_FAULT_WORD].flags[MODBUS_FLAG_OUTPUT_ON].set ||
               (p->points[MODBUS_POINT_OUTPUT_ENABLE].present && p->points[MODBUS_POINT_OUTPUT_ENABLE].readback);
}

/* The off writes went through: either read back at once, or (nothing to
 * read back) acknowledged is all we can know. */
static void off_written(struct modbus_device *d, uint64_t now)
{
        if (can_confirm_off(d))
                d->next_poll_us = now;
        else
                d->off_confirmed = true;
}

/* The converter's output stage of this pass: OFF wanted and not confirmed
 * (force: rewritten at every pass), or its refresh due; or the power
 * command's writes. */
static bool output_op(struct modbus_device_bus *m, size_t k, uint64_t now, struct modbus_op *op)
{
        struct modbus_device *d = &m->dev[k];
        bool stuck = false;

        if (!power_mode_regulates(m->cmd.mode)) {
                bool refresh = m->t.setpoint_refresh_ms &&
                               now >= d->written[MODBUS_OUT_ENABLE].at_us + ms_us(m->t.setpoint_refresh_ms);

                if (!m->done[k] && d->off_confirmed && !refresh)
                        return false;
                if (off_op(m, k, !d->off_confirmed, now, op))
                        return true;
                off_written(d, now);
                return false;
        }
        if (power_op(m, k, now, op, &stuck))
                return true;
        if (!stuck)
                d->off_confirmed = false;
        return false;
}

/* The step of a sequence (init or shutdown) at index: a write op, or a
 * pause (the index moves on at once: a pause takes no result). */
static void step_op(struct modbus_device_bus *m, size_t k, const struct modbus_step *s, uint64_t now,
                    struct modbus_op *op, enum modbus_purpose purpose)
{
        if (s->kind == MODBUS_STEP_DELAY) {
                *op = (struct modbus_op) { .kind = MODBUS_OP_PAUSE, .until_us = now + ms_us(s->delay_ms) };
                m->index++;
                return;
        }
        make_write(op, &m->dev[k], s->function, s->address, 1, &s->value);
        m->purpose = purpose;
        m->op_dev = k;
}

static void init_done(struct modbus_device_bus *m, size_t k, uint64_t now)
{
        struct modbus_device *d = &m->dev[k];
        static const char *const unit[MODBUS_CAPS] = { "V", "A", "W", "A sink", "W sink" };
        char text[128] = "";
        size_t n = 0;

        d->need_init = false;
        d->next_poll_us = now;
        if (d->rated_told)
                return;
        d->rated_told = true;
        for (int c = 0; c < MODBUS_CAPS && n < sizeof(text); c++)
                if (d->caps.known[c])
                        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%.10g %s", n ? " / " : "",
                                              d->caps.value[c], unit[c]);
        event(m, MODBUS_EVENT_RATED, k, "%s%s%s", d->params.profile.name, text[0] ? ", rated " : "", text);
}

/* The start of device k after a connect, at the cursor (stages INIT_OFF,
 * INIT_STEPS, CAPS): true and an op, or false once it is complete. */
static bool start_op(struct modbus_device_bus *m, uint64_t now, struct modbus_op *op)
{
        struct modbus_device *d = &m->dev[m->k];
        const struct modbus_profile *p = &d->params.profile;

        for (;;) {
                switch (m->stage) {
                case MODBUS_STAGE_INIT_OFF:
                        /* The OFF wanted while the link was down goes
                         * first; a device that refuses it before its init
                         * sequence gets it again right after. */
                        if (is_converter(d) && !power_mode_regulates(m->cmd.mode) && off_op(m, m->k, true, now, op))
                                return true;
                        m->stage = MODBUS_STAGE_INIT_STEPS;
                        m->index = 0;
                        continue;
                case MODBUS_STAGE_INIT_STEPS:
                        if (m->index < p->n_init) {
                                step_op(m, m->k, &p->init[m->index], now, op, MODBUS_FOR_INIT_STEP);
                                return true;
                        }
                        m->stage = MODBUS_STAGE_CAPS;
                        m->index = 0;
                        continue;
                case MODBUS_STAGE_CAPS:
                        if (m->index < d->cap_plan.n_blocks) {
                                make_read(op, d, &d->cap_plan.blocks[m->index]);
                                m->purpose = MODBUS_FOR_CAPS;
                                m->op_dev = m->k;
                                return true;
                        }
                        init_done(m, m->k, now);
                        m->stage = MODBUS_STAGE_OUTPUT;
                        return false;
                case MODBUS_STAGE_OUTPUT:
                case MODBUS_STAGE_READS:
                case MODBUS_STAGE_END:
                        break;
                }
                return false;
        }
}

/* The op of the pass at its cursor, or false when the pass is over. */
static bool pass_op(struct modbus_device_bus *m, uint64_t now, struct modbus_op *op)
{
        for (;;) {
                struct modbus_device *d = &m->dev[m->k];

                switch (m->stage) {
                case MODBUS_STAGE_INIT_OFF:
                        if (!d->need_init) {
                                m->stage = MODBUS_STAGE_OUTPUT;
                                continue;
                        }
                        if (now < d->init_retry_us) {
                                next_device_start(m);
                                continue;
                        }
                        /* fall through */
                case MODBUS_STAGE_INIT_STEPS:
                case MODBUS_STAGE_CAPS:
                        if (start_op(m, now, op))
                                return true;
                        continue;
                case MODBUS_STAGE_OUTPUT:
                        if (is_converter(d) && !d->need_init && !m->output_over[m->k] && output_op(m, m->k, now, op))
                                return true;
                        next_device_start(m);
                        continue;
                case MODBUS_STAGE_READS:
                        if (d->need_init || d->plan.n_blocks == 0 || (m->index == 0 && now < d->next_poll_us)) {
                                next_device_reads(m);
                                continue;
                        }
                        make_read(op, d, &d->plan.blocks[m->index]);
                        m->purpose = MODBUS_FOR_READ;
                        m->op_dev = m->k;
                        return true;
                case MODBUS_STAGE_END:
                        return false;
                }
                return false;
        }
}

/* When the bus needs looking at again, at the latest: a poll, a start to
 * retry, or a link that is about to count as lost (published on time). */
static uint64_t idle_until(const struct modbus_device_bus *m, uint64_t now)
{
        uint64_t t = now + ms_us(m->t.poll_interval_ms);

        if (!m->connected)
                t = min_u64(t, m->next_connect_us);
        for (size_t k = 0; k < m->n_dev; k++) {
                const struct modbus_device *d = &m->dev[k];
                uint64_t expiry = d->last_ok_us + ms_us(m->t.link_timeout_ms);

                if (m->connected)
                        t = min_u64(t, d->need_init ? d->init_retry_us : d->next_poll_us);
                if (d->ever_ok && expiry > now)
                        t = min_u64(t, expiry);
        }
        return t;
}

/* ---- the stop ---------------------------------------------------------------- */

static struct modbus_device *stop_converter(struct modbus_device_bus *m)
{
        return is_converter(&m->dev[0]) ? &m->dev[0] : NULL;
}

static void stop_pause(struct modbus_device_bus *m, uint64_t until)
{
        m->stop_stage = MODBUS_STOP_PAUSE;
        m->stop_resume_us = until;
}

static void stop_off_over(struct modbus_device_bus *m)
{
        struct modbus_device *conv = stop_converter(m);

        if (conv && conv->off_confirmed)
                event(m, MODBUS_EVENT_STOPPED_OFF, 0, "output off");
        else if (conv)
                event(m, MODBUS_EVENT_STOPPED_NOT_OFF, 0, "output NOT confirmed off at exit: %s",
                      conv->problem[0] ? conv->problem : "no confirmation from the device");
        m->stop_stage = MODBUS_STOP_SEQUENCES;
        m->k = 0;
        m->index = 0;
}

void modbus_device_stop(struct modbus_device_bus *m, uint64_t now_us)
{
        if (m->stopping)
                return;
        m->stopping = true;
        m->pass = false;
        m->cmd = (struct power_command) { .mode = POWER_OFF, .discharge = true };
        m->stop_deadline_us = now_us + ms_us(m->dev[0].params.shutdown_timeout_ms);
        m->stop_tried = false;
        m->stop_stage = stop_converter(m) ? MODBUS_STOP_ATTEMPT : MODBUS_STOP_SEQUENCES;
        m->k = 0;
        m->index = 0;
}

/* After the off writes or the read-back of an attempt: done when confirmed;
 * else the start of a converter that needs one (it may take commands only
 * after its init sequence), else a pause of one poll interval. */
static void stop_decide(struct modbus_device_bus *m, uint64_t now)
{
        struct modbus_device *conv = &m->dev[0];

        if (conv->off_confirmed) {
                stop_off_over(m);
        } else if (conv->need_init && m->connected && !m->must_close) {
                m->stop_stage = MODBUS_STOP_START;
                m->stage = MODBUS_STAGE_INIT_OFF;
                m->k = 0;
                m->index = 0;
        } else {
                stop_pause(m, now + ms_us(m->t.poll_interval_ms));
        }
}

/* Attempts, one poll interval apart, until the output is confirmed off or
 * shutdown_timeout_ms: connect if need be, the off writes (forced), the
 * read-back; then the shutdown sequences, then close. */
static void stop_next(struct modbus_device_bus *m, uint64_t now, struct modbus_op *op)
{
        struct modbus_device *conv = &m->dev[0];

        for (;;) {
                switch (m->stop_stage) {
                case MODBUS_STOP_ATTEMPT:
                        if (m->stop_tried && now >= m->stop_deadline_us) {
                                stop_off_over(m);
                                continue;
                        }
                        m->stop_tried = true;
                        if (!m->connected) {
                                *op = (struct modbus_op) { .kind = MODBUS_OP_CONNECT };
                                m->purpose = MODBUS_FOR_CONNECT;
                                return;
                        }
                        m->stop_stage = MODBUS_STOP_OFF_WRITES;
                        m->k = 0;
                        m->done[0] = 0;
                        continue;
                case MODBUS_STOP_OFF_WRITES:
                        if (off_op(m, 0, true, now, op))
                                return;
                        off_written(conv, now);
                        if (conv->off_confirmed || conv->plan.n_blocks == 0) {
                                stop_decide(m, now);
                                continue;
                        }
                        m->stop_stage = MODBUS_STOP_READ_BACK;
                        m->index = 0;
                        continue;
                case MODBUS_STOP_READ_BACK:
                        make_read(op, conv, &conv->plan.blocks[m->index]);
                        m->purpose = MODBUS_FOR_READ;
                        m->op_dev = 0;
                        return;
                case MODBUS_STOP_START:
                        if (start_op(m, now, op))
                                return;
                        stop_pause(m, now + ms_us(m->t.poll_interval_ms));
                        continue;
                case MODBUS_STOP_PAUSE:
                        if (now < m->stop_resume_us) {
                                *op = (struct modbus_op) { .kind = MODBUS_OP_PAUSE, .until_us = m->stop_resume_us };
                                return;
                        }
                        m->stop_stage = MODBUS_STOP_ATTEMPT;
                        continue;
                case MODBUS_STOP_SEQUENCES: {
                        const struct modbus_profile *p;

                        if (!m->connected || m->k >= m->n_dev) {
                                m->stop_stage = MODBUS_STOP_CLOSE;
                                continue;
                        }
                        p = &m->dev[m->k].params.profile;
                        if (m->index >= p->n_shutdown) {
                                m->k++;
                                m->index = 0;
                                continue;
                        }
                        step_op(m, m->k, &p->shutdown[m->index], now, op, MODBUS_FOR_SHUTDOWN_STEP);
                        return;
                }
                case MODBUS_STOP_CLOSE:
                        m->stop_stage = MODBUS_STOP_DONE;
                        if (m->connected) {
                                m->connected = false;
                                *op = (struct modbus_op) { .kind = MODBUS_OP_CLOSE };
                                return;
                        }
                        continue;
                case MODBUS_STOP_DONE:
                        *op = (struct modbus_op) { .kind = MODBUS_OP_DONE };
                        return;
                }
                return;
        }
}

/* ---- what to do next ----------------------------------------------------------- */

/* Before a request: the silence the bus wants between two. */
static bool gap_pause(const struct modbus_device_bus *m, uint64_t now, struct modbus_op *op)
{
        uint64_t ready;

        if (!m->t.min_gap_ms || !m->last_request_end_us)
                return false;
        ready = m->last_request_end_us + ms_us(m->t.min_gap_ms);
        if (now >= ready)
                return false;
        *op = (struct modbus_op) { .kind = MODBUS_OP_PAUSE, .until_us = ready };
        return true;
}

/* The op at now, before the publish flag of what waits. */
static void decide(struct modbus_device_bus *m, uint64_t now_us, struct modbus_op *op)
{
        bool pass_over = false;

        if (m->must_close) {
                /* A late answer would be taken for the answer to the next
                 * request: start over on a new connection. */
                m->must_close = false;
                m->must_flush = false;
                m->connected = false;
                m->pass = false;
                m->next_connect_us = m->reconnect_at_us;
                *op = (struct modbus_op) { .kind = MODBUS_OP_CLOSE };
                return;
        }
        if (m->must_flush) {
                /* RTU: let a late or garbled answer end, then drop it. */
                if (now_us < m->flush_at_us) {
                        *op = (struct modbus_op) { .kind = MODBUS_OP_PAUSE, .until_us = m->flush_at_us };
                        return;
                }
                *op = (struct modbus_op) { .kind = MODBUS_OP_FLUSH };
                m->purpose = MODBUS_FOR_FLUSH;
                return;
        }
        if (m->stopping) {
                stop_next(m, now_us, op);
        } else if (!m->connected) {
                if (now_us >= m->next_connect_us) {
                        *op = (struct modbus_op) { .kind = MODBUS_OP_CONNECT };
                        m->purpose = MODBUS_FOR_CONNECT;
                        return;
                }
                *op = (struct modbus_op) { .kind = MODBUS_OP_IDLE, .until_us = idle_until(m, now_us) };
                return;
        } else {
                if (!m->pass)
                        pass_start(m);
                for (int again = 0; !pass_op(m, now_us, op); again++) {
                        uint64_t until = idle_until(m, now_us);

                        m->pass = false;
                        pass_over = true;
                        /* Another pass at once when something fell due
                         * during this one (a poll after a slow answer, a
                         * command after the writes); else idle. */
                        if (again == 2 || (!m->cmd_changed && until > now_us)) {
                                if (until <= now_us)
                                        until = now_us + ms_us(m->t.poll_interval_ms);
                                *op = (struct modbus_op) { .kind = MODBUS_OP_IDLE, .until_us = until };
                                return;
                        }
                        pass_start(m);
                }
        }
        if ((op->kind == MODBUS_OP_READ || op->kind == MODBUS_OP_WRITE) && gap_pause(m, now_us, op)) {
                /* The same request is computed again after the pause. */
                m->purpose = MODBUS_FOR_NOTHING;
        } else {
                m->op = *op;
                m->op_at_us = now_us;
        }
        op->publish = pass_over;
}

void modbus_device_next(struct modbus_device_bus *m, uint64_t now_us, struct modbus_op *op)
{
        m->purpose = MODBUS_FOR_NOTHING;
        decide(m, now_us, op);
        /* The status changes with every pass (a poll, a failure): what
         * ends one, or waits, publishes. */
        if (op->kind == MODBUS_OP_IDLE || op->kind == MODBUS_OP_DONE || op->kind == MODBUS_OP_CLOSE)
                op->publish = true;
        op->off = op->kind == MODBUS_OP_WRITE && m->purpose == MODBUS_FOR_OFF;
}

/* ---- what came of it ---------------------------------------------------------- */

static bool is_settings_error(int err)
{
        /* A serial port that is not one, an RS-485 mode it lacks: retrying
         * quietly will not help. */
        return err == -ENOTTY || err == -EINVAL;
}

static void connected(struct modbus_device_bus *m, uint64_t now)
{
        m->connected = true;
        m->ok_since_connect = false;
        m->last_request_end_us = 0;
        m->pass = false;
        for (size_t k = 0; k < m->n_dev; k++)
                device_reset(&m->dev[k], now);
        /* The next failure without a good cycle in between waits longer. */
        m->backoff_ms = m->backoff_ms * 2 > m->dev[0].params.reconnect_max_ms ? m->dev[0].params.reconnect_max_ms
                                                                               : m->backoff_ms * 2;
}

static void connect_failed(struct modbus_device_bus *m, const struct modbus_result *r, uint64_t now)
{
        char reason[MODBUS_DEVICE_REASON_MAX];

        snprintf(reason, sizeof(reason), "%s: %.100s", r->step ? r->step : "connect",
                 r->error ? r->error : "failed");
        for (size_t k = 0; k < m->n_dev; k++) {
                set_problem(&m->dev[k], reason);
                event(m, MODBUS_EVENT_LINK_PROBLEM, k, "%s", reason)->settings_error = is_settings_error(r->err);
        }
        m->next_connect_us = now + ms_us(m->backoff_ms);
        m->backoff_ms = m->backoff_ms * 2 > m->dev[0].params.reconnect_max_ms ? m->dev[0].params.reconnect_max_ms
                                                                               : m->backoff_ms * 2;
}

/* The request for device k failed: the reason for the status and the log,
 * then what brings the bus back into a known state. */
static void request_failed(struct modbus_device_bus *m, size_t k, const struct modbus_result *r, uint64_t now)
{
        struct modbus_device *d = &m->dev[k];
        const struct modbus_op *op = &m->op;
        const char *name = "";
        char what[96], reason[MODBUS_DEVICE_REASON_MAX];

        switch (m->purpose) {
        case MODBUS_FOR_OFF:
        case MODBUS_FOR_POWER:
                name = modbus_point_name(output_point(m->op_out));
                break;
        case MODBUS_FOR_INIT_STEP:
                name = "init";
                break;
        case MODBUS_FOR_SHUTDOWN_STEP:
                name = "shutdown";
                break;
        case MODBUS_FOR_NOTHING:
        case MODBUS_FOR_CONNECT:
        case MODBUS_FOR_CLOSE:
        case MODBUS_FOR_FLUSH:
        case MODBUS_FOR_CAPS:
        case MODBUS_FOR_READ:
                break;
        }
        if (op->kind == MODBUS_OP_READ)
                snprintf(what, sizeof(what), "read %s %u+%u", modbus_area_name(op->area), op->address, op->count);
        else
                snprintf(what, sizeof(what), "write %s (function %02u, address %u)", name, op->function,
                         op->address);
        snprintf(reason, sizeof(reason), "%s: %s", what, r->error ? r->error : "failed");
        set_problem(d, reason);
        event(m, MODBUS_EVENT_LINK_PROBLEM, k, "%s", reason);

        switch (r->kind) {
        case MODBUS_RESULT_EXCEPTION:
                return;         /* the device answered: the link is fine */
        case MODBUS_RESULT_TIMEOUT:
        case MODBUS_RESULT_GARBLED:
                if (is_tcp(m)) {
                        m->must_close = true;
                        m->reconnect_at_us = now + (m->ok_since_connect ? 0 : ms_us(m->backoff_ms));
                        return;
                }
                m->must_flush = true;
                m->flush_at_us = now + ms_us(d->params.response_timeout_ms);
                /* Silent for the whole link timeout: when it answers again
                 * it is treated like a reconnect (it may have restarted):
                 * OFF first if wanted, init sequence, capabilities. */
                if (!d->ever_ok || now >= d->last_ok_us + ms_us(m->t.link_timeout_ms))
                        device_reset(d, now);
                return;
        case MODBUS_RESULT_OK:
        case MODBUS_RESULT_IO_ERROR:
                break;
        }
        /* The port or connection itself failed (adapter unplugged...). */
        m->must_close = true;
        m->reconnect_at_us = now + (is_tcp(m) && m->ok_since_connect ? 0 : ms_us(m->backoff_ms));
}

/* Fault and status words: the fault flag and the reason with the bits'
 * names; the output confirmed off by the device itself. */
static void evaluate(struct modbus_device_bus *m, size_t k)
{
        struct modbus_device *d = &m->dev[k];
        const struct modbus_profile *p = &d->params.profile;
        const struct modbus_point *fw = &p->points[MODBUS_POINT_FAULT_WORD];
        const struct modbus_point *sw = &p->points[MODBUS_POINT_STATUS_WORD];
        char reason[MODBUS_DEVICE_REASON_MAX] = "";
        bool fault;

        for (int f = 0; f < MODBUS_FLAG_COUNT; f++)
                d->flag[f] = (d->have[MODBUS_POINT_FAULT_WORD] && modbus_flag_active(&fw->flags[f], d->fault_raw)) ||
                             (d->have[MODBUS_POINT_STATUS_WORD] && modbus_flag_active(&sw->flags[f], d->status_raw));
        fault = d->flag[MODBUS_FLAG_FAULT];
        if (fault) {
                char fn[96] = "", sn[96] = "", names[128];

                if (d->have[MODBUS_POINT_FAULT_WORD])
                        modbus_profile_bit_names(p, 0, d->fault_raw & fw->flags[MODBUS_FLAG_FAULT].mask, fn,
                                                 sizeof(fn));
                if (d->have[MODBUS_POINT_STATUS_WORD] && sw->flags[MODBUS_FLAG_FAULT].set)
                        modbus_profile_bit_names(p, 1, d->status_raw & sw->flags[MODBUS_FLAG_FAULT].mask, sn,
                                                 sizeof(sn));
                snprintf(names, sizeof(names), "%s%s%s", fn, fn[0] && sn[0] ? ", " : "", sn);
                snprintf(reason, sizeof(reason), "%s reports a fault%s%.100s (fault word 0x%04x, status word 0x%04x)",
                         is_converter(d) ? "converter" : "insulation monitor", names[0] ? ": " : "", names,
                         d->fault_raw, d->status_raw);
        }
        if (fault && (!d->faulted || strcmp(reason, d->fault_reason) != 0))
                event(m, MODBUS_EVENT_FAULT, k, "%s", reason);
        else if (!fault && d->faulted)
                event(m, MODBUS_EVENT_FAULT_CLEARED, k, "fault cleared");
        snprintf(d->fault_reason, sizeof(d->fault_reason), "%s", reason);
        d->faulted = fault;

        if (is_converter(d) && !power_mode_regulates(m->cmd.mode) && !d->off_confirmed) {
                const struct modbus_point *en = &p->points[MODBUS_POINT_OUTPUT_ENABLE];
                bool off;

                if (sw->flags[MODBUS_FLAG_OUTPUT_ON].set || fw->flags[MODBUS_FLAG_OUTPUT_ON].set)
                        off = !d->flag[MODBUS_FLAG_OUTPUT_ON];
                else if (en->present && en->readback && d->have[MODBUS_POINT_OUTPUT_ENABLE])
                        off = d->raw[MODBUS_POINT_OUTPUT_ENABLE][0] == en->off;
                else
                        off = false;
                if (off) {
                        d->off_confirmed = true;
                        event(m, MODBUS_EVENT_OFF_CONFIRMED, k, "output off confirmed");
                }
        }
}

/* A measurement block read: decode its points. */
static void take_block(struct modbus_device *d, size_t b, const uint16_t *values)
{
        const struct modbus_profile *p = &d->params.profile;

        for (int id = 0; id < MODBUS_POINT_COUNT; id++) {
                const struct modbus_point *pt = &p->points[id];
                double v;

                if (d->plan.block_of[id] != (int)b)
                        continue;
                memcpy(d->raw[id], &values[d->plan.offset_of[id]], modbus_pack_words(pt->type) * sizeof(uint16_t));
                d->have[id] = true;
                if (id == MODBUS_POINT_FAULT_WORD)
                        d->fault_raw = modbus_point_raw(pt, d->raw[id]);
                else if (id == MODBUS_POINT_STATUS_WORD)
                        d->status_raw = modbus_point_raw(pt, d->raw[id]);
                else if (id != MODBUS_POINT_OUTPUT_ENABLE && modbus_point_decode(pt, d->raw[id], &d->caps, &v) == 0)
                        d->value[id] = v;
                else if (id != MODBUS_POINT_OUTPUT_ENABLE)
                        d->have[id] = false;
        }
}

/* A capability block read: 0, or -EINVAL when a rated value makes no sense
 * (the device's start fails). */
static int take_caps(struct modbus_device *d, size_t b, const uint16_t *values)
{
        for (int id = MODBUS_POINT_RATED_VOLTAGE; id <= MODBUS_POINT_RATED_SINK_POWER; id++) {
                const struct modbus_point *pt = &d->params.profile.points[id];
                int c = id - MODBUS_POINT_RATED_VOLTAGE;
                char reason[MODBUS_DEVICE_REASON_MAX];
                double v;

                if (d->cap_plan.block_of[id] != (int)b)
                        continue;
                if (modbus_point_decode(pt, &values[d->cap_plan.offset_of[id]], NULL, &v) < 0 || !(v > 0)) {
                        snprintf(reason, sizeof(reason), "%s reads as an invalid value",
                                 modbus_point_name((enum modbus_point_id)id));
                        set_problem(d, reason);
                        return -EINVAL;
                }
                d->caps.known[c] = true;
                d->caps.value[c] = v;
        }
        return 0;
}

/* A complete read cycle: the link is good. */
static void cycle_complete(struct modbus_device_bus *m, size_t k, uint64_t now)
{
        struct modbus_device *d = &m->dev[k];

        d->ever_ok = true;
        d->last_ok_us = now;
        m->ok_since_connect = true;
        m->backoff_ms = MODBUS_DEVICE_BACKOFF_MIN_MS;
        if (d->problem[0])
                event(m, MODBUS_EVENT_LINK_OK, k, "answering");
        d->problem[0] = '\0';
        evaluate(m, k);
}

/* The start of device k failed: tried again at the poll rate, the rest of
 * the pass goes on without it. */
static void start_failed(struct modbus_device_bus *m, size_t k, uint64_t now)
{
        m->dev[k].init_retry_us = now + ms_us(m->t.poll_interval_ms);
        if (m->stopping)
                stop_pause(m, now + ms_us(m->t.poll_interval_ms));
        else
                next_device_start(m);
}

/* Where the pass (or the stop) goes after a request's result.  ok: it
 * succeeded; exception: it failed with an exception. */
static void advance(struct modbus_device_bus *m, size_t k, bool ok, bool exception, uint64_t now)
{
        struct modbus_device *d = &m->dev[k];
        bool starting = m->stopping ? m->stop_stage == MODBUS_STOP_START
                                    : m->stage == MODBUS_STAGE_INIT_OFF || m->stage == MODBUS_STAGE_INIT_STEPS ||
                                              m->stage == MODBUS_STAGE_CAPS;

        switch (m->purpose) {
        case MODBUS_FOR_OFF:
        case MODBUS_FOR_POWER:
                if (ok)
                        return;
                if (starting) {
                        /* Off first before the init sequence: an exception
                         * is an answer, the sequence goes on. */
                        if (exception) {
                                m->stage = MODBUS_STAGE_INIT_STEPS;
                                m->index = 0;
                        } else {
                                start_failed(m, k, now);
                        }
                } else if (m->stopping) {
                        stop_decide(m, now);
                } else if (exception) {
                        m->output_over[k] = true;
                } else {
                        /* A write that got no answer is tried again before
                         * anything else: no reads until it went through. */
                        m->stage = MODBUS_STAGE_END;
                }
                return;
        case MODBUS_FOR_INIT_STEP:
                if (ok)
                        m->index++;
                else
                        start_failed(m, k, now);
                return;
        case MODBUS_FOR_CAPS:
                if (ok)
                        m->index++;
                else
                        start_failed(m, k, now);
                return;
        case MODBUS_FOR_READ:
                if (ok && ++m->index < d->plan.n_blocks)
                        return;
                if (ok)
                        cycle_complete(m, k, now);
                if (m->stopping)
                        stop_decide(m, now);
                else
                        next_device_reads(m);
                return;
        case MODBUS_FOR_SHUTDOWN_STEP:
                if (ok) {
                        m->index++;
                        return;
                }
                event(m, MODBUS_EVENT_SHUTDOWN_FAILED, k, "shutdown sequence failed: %s", d->problem);
                m->k++;
                m->index = 0;
                return;
        case MODBUS_FOR_NOTHING:
        case MODBUS_FOR_CONNECT:
        case MODBUS_FOR_CLOSE:
        case MODBUS_FOR_FLUSH:
                return;
        }
}

void modbus_device_result(struct modbus_device_bus *m, const struct modbus_result *r, uint64_t now_us)
{
        size_t k = m->op_dev;
        struct modbus_device *d = &m->dev[k];
        bool ok = r->kind == MODBUS_RESULT_OK;

        switch (m->purpose) {
        case MODBUS_FOR_NOTHING:
        case MODBUS_FOR_CLOSE:
                return;
        case MODBUS_FOR_CONNECT:
                if (ok)
                        connected(m, now_us);
                else
                        connect_failed(m, r, now_us);
                if (m->stopping && ok) {
                        m->stop_stage = MODBUS_STOP_OFF_WRITES;
                        m->done[0] = 0;
                } else if (m->stopping) {
                        stop_pause(m, now_us + MODBUS_DEVICE_STOP_RETRY_US);
                }
                m->purpose = MODBUS_FOR_NOTHING;
                return;
        case MODBUS_FOR_FLUSH:
                m->must_flush = false;
                m->last_request_end_us = now_us;
                m->purpose = MODBUS_FOR_NOTHING;
                return;
        case MODBUS_FOR_OFF:
        case MODBUS_FOR_POWER:
        case MODBUS_FOR_INIT_STEP:
        case MODBUS_FOR_CAPS:
        case MODBUS_FOR_READ:
        case MODBUS_FOR_SHUTDOWN_STEP:
                break;
        }
        m->last_request_end_us = now_us;
        if (m->purpose == MODBUS_FOR_OFF || m->purpose == MODBUS_FOR_POWER) {
                struct modbus_written *wr = &d->written[m->op_out];

                /* After a failure the device may hold the old value or
                 * the new one. */
                wr->valid = ok;
                if (ok) {
                        memcpy(wr->regs, m->op.values, sizeof(wr->regs));
                        wr->at_us = now_us;
                        m->done[k] |= (uint8_t)(1u << m->op_out);
                }
                /* A power write the device may have taken (all but an
                 * exception): the OFF confirmed before no longer holds, so
                 * an OFF that comes before the pass is over writes the
                 * disable again. */
                if (m->purpose == MODBUS_FOR_POWER && r->kind != MODBUS_RESULT_EXCEPTION)
                        d->off_confirmed = false;
        }
        if (ok && m->purpose == MODBUS_FOR_READ) {
                /* The next cycle one interval after this one began. */
                if (m->index == 0)
                        d->next_poll_us = m->op_at_us + ms_us(m->t.poll_interval_ms);
                take_block(d, m->index, r->values);
        } else if (!ok && m->purpose == MODBUS_FOR_READ && m->index == 0) {
                d->next_poll_us = m->op_at_us + ms_us(m->t.poll_interval_ms);
        }
        if (ok && m->purpose == MODBUS_FOR_CAPS) {
                if (m->index == 0)
                        modbus_caps_from_profile(&d->params.profile, &d->caps);
                if (take_caps(d, m->index, r->values) < 0)
                        ok = false;
        }
        if (!ok && (r->kind != MODBUS_RESULT_OK))
                request_failed(m, k, r, now_us);
        advance(m, k, ok, r->kind == MODBUS_RESULT_EXCEPTION, now_us);
        m->purpose = MODBUS_FOR_NOTHING;
}

/* ---- what a device says -------------------------------------------------------- */

const char *modbus_device_name(const struct modbus_device_bus *m, size_t i)
{
        return m->dev[i].what;
}

static int16_t temperature(const struct modbus_device *d, enum modbus_point_id id)
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

static uint16_t insulation(const struct modbus_device *d)
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

/* A rated value in the core's units, rounded down (the rating is a
 * ceiling); 0 when not known. */
static uint32_t rated(const struct modbus_caps *caps, int c, double scale, uint32_t max)
{
        double v;

        if (!caps->known[c] || !(caps->value[c] > 0))
                return 0;
        v = floor(caps->value[c] * scale);
        if (v < 1)
                return 1;
        return v > max ? max : (uint32_t)v;
}

void modbus_device_status(const struct modbus_device_bus *m, size_t i, uint64_t now_us,
                          struct modbus_device_status *out)
{
        const struct modbus_device *d = &m->dev[i];
        const struct modbus_profile *p = &d->params.profile;
        struct power_measurement *pm = &out->m;
        bool link = d->ever_ok && now_us < d->last_ok_us + ms_us(m->t.link_timeout_ms);
        bool ready_flag = p->points[MODBUS_POINT_STATUS_WORD].flags[MODBUS_FLAG_READY].set ||
                          p->points[MODBUS_POINT_FAULT_WORD].flags[MODBUS_FLAG_READY].set;
        double v;

        memset(out, 0, sizeof(*out));
        if (d->have[MODBUS_POINT_PRESENT_VOLTAGE]) {
                v = nearbyint(d->value[MODBUS_POINT_PRESENT_VOLTAGE] * 10.0);
                pm->voltage_dv = (uint16_t)(v < 0 ? 0 : v > UINT16_MAX ? UINT16_MAX : v);
        }
        if (d->have[MODBUS_POINT_PRESENT_CURRENT]) {
                v = nearbyint(d->value[MODBUS_POINT_PRESENT_CURRENT] * 10.0);
                pm->current_da = (int16_t)(v < -32767 ? -32767 : v > 32767 ? 32767 : v);
        }
        pm->module_temp_c = temperature(d, MODBUS_POINT_MODULE_TEMPERATURE);
        pm->enclosure_temp_c = temperature(d, MODBUS_POINT_ENCLOSURE_TEMPERATURE);
        pm->insulation_kohm = insulation(d);
        pm->link_ok = link;
        pm->fault = d->faulted;
        pm->ready = link && !d->faulted && !d->need_init && (!ready_flag || d->flag[MODBUS_FLAG_READY]);
        if (is_converter(d))
                pm->rating = (struct power_rating) {
                        .max_voltage_dv = (uint16_t)rated(&d->caps, 0, 10.0, UINT16_MAX),
                        .max_current_da = (uint16_t)rated(&d->caps, 1, 10.0, UINT16_MAX),
                        .max_power_w = rated(&d->caps, 2, 1.0, UINT32_MAX),
                        .max_sink_current_da = (uint16_t)rated(&d->caps, 3, 10.0, UINT16_MAX),
                        .max_sink_power_w = rated(&d->caps, 4, 1.0, UINT32_MAX),
                };
        out->seen = d->ever_ok;
        if (!link)
                snprintf(out->reason, sizeof(out->reason), "%s: link lost: %s", d->what,
                         d->problem[0] ? d->problem : "no answer yet");
        else if (d->faulted)
                snprintf(out->reason, sizeof(out->reason), "%s: %s", d->what, d->fault_reason);
}

void modbus_device_merge(const struct modbus_device_status *conv, const struct modbus_device_status *mon,
                         bool mon_have, struct power_measurement *out, char *reason, size_t reason_len)
{
        *out = conv->m;
        snprintf(reason, reason_len, "%s", conv->reason);
        if (!mon)
                return;
        out->insulation_kohm = POWER_INSULATION_UNKNOWN;
        if (mon_have && mon->m.link_ok && !mon->m.fault) {
                out->insulation_kohm = mon->m.insulation_kohm;
        } else if (mon_have && mon->seen) {
                /* A monitor that was there and is gone or broken: nothing
                 * may be charged without it. */
                out->fault = true;
                out->ready = false;
                if (!reason[0])
                        snprintf(reason, reason_len, "%s", mon->reason);
        } else {
                /* Not heard from yet: not ready, not a fault. */
                out->ready = false;
                if (!reason[0])
                        snprintf(reason, reason_len, "%s",
                                 mon_have && mon->reason[0] ? mon->reason : "insulation monitor: no answer yet");
        }
}
