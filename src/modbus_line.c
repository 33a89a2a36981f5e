/* SPDX-License-Identifier: MIT */
/*
 * One RS-485 line shared by several device machines (see modbus_line.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "modbus_line.h"

/* A machine's ops that the line answers itself, in one round, at most:
 * CLOSE, CONNECT, a request on a port closed meanwhile, CLOSE, CONNECT. */
#define MODBUS_LINE_ASK_MAX 8

static uint64_t ms_us(uint32_t ms)
{
        return (uint64_t)ms * 1000;
}

void modbus_line_init(struct modbus_line *l)
{
        memset(l, 0, sizeof(*l));
}

int modbus_line_attach(struct modbus_line *l, struct modbus_device_bus *m, uint32_t min_gap_ms,
                       uint32_t response_timeout_ms, size_t *slot)
{
        for (size_t i = 0; i < MODBUS_LINE_MAX; i++) {
                if (l->slot[i].m)
                        continue;
                l->slot[i] = (struct modbus_line_slot) {
                        .m = m,
                        .min_gap_ms = min_gap_ms,
                        .response_timeout_ms = response_timeout_ms,
                };
                *slot = i;
                return 0;
        }
        return -ENOSPC;
}

void modbus_line_set_gap(struct modbus_line *l, size_t slot, uint32_t min_gap_ms)
{
        if (slot < MODBUS_LINE_MAX)
                l->slot[slot].min_gap_ms = min_gap_ms;
}

void modbus_line_detach(struct modbus_line *l, size_t slot)
{
        if (slot >= MODBUS_LINE_MAX)
                return;
        if (l->purpose == MODBUS_LINE_FOR_SLOT && l->op_slot == slot)
                l->purpose = MODBUS_LINE_FOR_NOTHING;
        l->slot[slot] = (struct modbus_line_slot) { .m = NULL };
}

size_t modbus_line_live(const struct modbus_line *l)
{
        size_t n = 0;

        for (size_t i = 0; i < MODBUS_LINE_MAX; i++)
                n += l->slot[i].m && !l->slot[i].done;
        return n;
}

/* The line's silence between two requests and the time a late answer may
 * take: the largest of the machines'. */
static uint32_t line_gap_ms(const struct modbus_line *l)
{
        uint32_t g = 0;

        for (size_t i = 0; i < MODBUS_LINE_MAX; i++)
                if (l->slot[i].m && !l->slot[i].done && l->slot[i].min_gap_ms > g)
                        g = l->slot[i].min_gap_ms;
        return g;
}

static uint32_t line_response_timeout_ms(const struct modbus_line *l)
{
        uint32_t t = 0;

        for (size_t i = 0; i < MODBUS_LINE_MAX; i++)
                if (l->slot[i].m && !l->slot[i].done && l->slot[i].response_timeout_ms > t)
                        t = l->slot[i].response_timeout_ms;
        return t;
}

/* What the line answers for a machine without any I/O. */
static void tell(struct modbus_line_slot *s, enum modbus_result_kind kind, int err, const char *error,
                 uint64_t now)
{
        struct modbus_result r = { .kind = kind, .err = err, .error = error };

        modbus_device_result(s->m, &r, now);
}

struct round {
        size_t ready;                   /* first slot with a request ready, MODBUS_LINE_MAX: none */
        size_t suspect;                 /* first suspect slot with a request ready */
        size_t off;                     /* first slot with an off write ready */
        struct modbus_op ops[MODBUS_LINE_MAX];
        uint64_t wake_us;
        bool all_pause;
};

/* Ask slot i for its op; the line's own answers given at once.  true when
 * the op must be handed out as it is (CONNECT, CLOSE, FLUSH). */
static bool ask(struct modbus_line *l, size_t i, size_t live, uint64_t now, struct round *rd,
                struct modbus_line_op *out)
{
        struct modbus_line_slot *s = &l->slot[i];
        struct modbus_op *op = &rd->ops[i];
        bool wait;

        for (unsigned n = 0; n < MODBUS_LINE_ASK_MAX; n++) {
                modbus_device_next(s->m, now, op);
                wait = op->kind == MODBUS_OP_PAUSE || op->kind == MODBUS_OP_IDLE;
                /* A machine that keeps waiting publishes when it starts
                 * to wait and whenever the time it waited for has come
                 * (a link that counts as lost by then); alone on the line,
                 * whenever it says so, as without the line. */
                if (op->publish && (live == 1 || !wait || !s->waiting || now >= s->wait_until_us))
                        out->publish |= 1u << i;
                s->waiting = wait;
                if (wait)
                        s->wait_until_us = op->until_us;
                switch (op->kind) {
                case MODBUS_OP_CLOSE:
                        s->gen = 0;
                        if (l->connected && (l->broken || live == 1)) {
                                l->connected = false;
                                l->broken = false;
                                l->quiet = false;
                                return true;
                        }
                        continue;       /* others still use the port */
                case MODBUS_OP_CONNECT:
                        if (!l->connected)
                                return true;
                        tell(s, MODBUS_RESULT_OK, 0, NULL, now);
                        s->gen = l->gen;
                        continue;
                case MODBUS_OP_FLUSH:
                        return true;
                case MODBUS_OP_READ:
                case MODBUS_OP_WRITE:
                        if (!l->connected || l->broken || s->gen != l->gen) {
                                /* The port failed (and may have been
                                 * opened again) since this machine last
                                 * used it: its link was lost too. */
                                tell(s, MODBUS_RESULT_IO_ERROR, l->err ? l->err : -EIO,
                                     l->error[0] ? l->error : "the serial port was closed", now);
                                continue;
                        }
                        if (s->suspect && live > 1 && s->passed_over < MODBUS_LINE_SUSPECT_TURNS) {
                                /* Not answering: its off writes too would
                                 * cost the others two response timeouts
                                 * each, at every pass until confirmed. */
                                if (rd->suspect == MODBUS_LINE_MAX)
                                        rd->suspect = i;
                        } else {
                                if (op->off && rd->off == MODBUS_LINE_MAX)
                                        rd->off = i;
                                if (rd->ready == MODBUS_LINE_MAX)
                                        rd->ready = i;
                        }
                        return false;
                case MODBUS_OP_PAUSE:
                case MODBUS_OP_IDLE:
                        if (op->until_us < rd->wake_us)
                                rd->wake_us = op->until_us;
                        if (op->kind == MODBUS_OP_IDLE)
                                rd->all_pause = false;
                        return false;
                case MODBUS_OP_DONE:
                        s->done = true;
                        out->done |= 1u << i;
                        return false;
                }
                return false;
        }
        /* Never reached with the machine as it is: wait a little rather
         * than spin. */
        if (now + ms_us(10) < rd->wake_us)
                rd->wake_us = now + ms_us(10);
        return false;
}

static void hand_out(struct modbus_line *l, size_t i, const struct modbus_op *op, struct modbus_line_op *out)
{
        out->op = *op;
        out->slot = i;
        l->purpose = MODBUS_LINE_FOR_SLOT;
        l->op_slot = i;
        l->op_kind = op->kind;
}

/* Nobody left on the line: the port closed first.  Machines that stopped in
 * the same round each asked to close while another still counted as live,
 * and none of them was the last to ask. */
static void nobody_left(struct modbus_line *l, struct modbus_line_op *out)
{
        if (l->connected) {
                l->connected = false;
                l->broken = false;
                l->quiet = false;
                out->op.kind = MODBUS_OP_CLOSE;
                return;
        }
        out->op.kind = MODBUS_OP_DONE;
}

void modbus_line_next(struct modbus_line *l, uint64_t now_us, struct modbus_line_op *out)
{
        struct round rd = { .ready = MODBUS_LINE_MAX, .suspect = MODBUS_LINE_MAX, .off = MODBUS_LINE_MAX,
                            .wake_us = UINT64_MAX, .all_pause = true };
        size_t live = modbus_line_live(l), pick;
        uint32_t gap;

        *out = (struct modbus_line_op) { .op = { .kind = MODBUS_OP_IDLE }, .slot = MODBUS_LINE_MAX };
        l->purpose = MODBUS_LINE_FOR_NOTHING;
        if (live == 0) {
                nobody_left(l, out);
                return;
        }
        if (l->quiet && l->connected) {
                /* A late answer of one unit ends, then goes. */
                if (now_us < l->quiet_until_us) {
                        out->op = (struct modbus_op) { .kind = MODBUS_OP_PAUSE, .until_us = l->quiet_until_us };
                        return;
                }
                out->op = (struct modbus_op) { .kind = MODBUS_OP_FLUSH };
                l->purpose = MODBUS_LINE_FOR_FLUSH;
                return;
        }
        l->quiet = false;

        for (size_t j = 0; j < MODBUS_LINE_MAX; j++) {
                size_t i = (l->turn + j) % MODBUS_LINE_MAX;

                if (!l->slot[i].m || l->slot[i].done)
                        continue;
                if (ask(l, i, live, now_us, &rd, out)) {
                        hand_out(l, i, &rd.ops[i], out);
                        return;
                }
        }
        pick = rd.off != MODBUS_LINE_MAX ? rd.off : rd.ready != MODBUS_LINE_MAX ? rd.ready : rd.suspect;
        if (pick == MODBUS_LINE_MAX) {
                if (modbus_line_live(l) == 0) {
                        nobody_left(l, out);
                        return;
                }
                out->op = (struct modbus_op) { .kind = rd.all_pause ? MODBUS_OP_PAUSE : MODBUS_OP_IDLE,
                                               .until_us = rd.wake_us };
                return;
        }
        gap = line_gap_ms(l);
        if (live > 1 && gap && l->last_end_us && now_us < l->last_end_us + ms_us(gap)) {
                /* The line's silence, counted from anyone's last request. */
                out->op = (struct modbus_op) { .kind = MODBUS_OP_PAUSE, .until_us = l->last_end_us + ms_us(gap) };
                return;
        }
        hand_out(l, pick, &rd.ops[pick], out);
        l->turn = (pick + 1) % MODBUS_LINE_MAX;
        l->slot[pick].passed_over = 0;
        if (rd.suspect != MODBUS_LINE_MAX && rd.suspect != pick)
                l->slot[rd.suspect].passed_over++;
}

void modbus_line_result(struct modbus_line *l, const struct modbus_result *r, uint64_t now_us)
{
        struct modbus_line_slot *s;
        bool shared = modbus_line_live(l) > 1;

        switch (l->purpose) {
        case MODBUS_LINE_FOR_NOTHING:
                return;
        case MODBUS_LINE_FOR_FLUSH:
                l->quiet = false;
                l->last_end_us = now_us;
                l->purpose = MODBUS_LINE_FOR_NOTHING;
                return;
        case MODBUS_LINE_FOR_SLOT:
                break;
        }
        l->purpose = MODBUS_LINE_FOR_NOTHING;
        s = &l->slot[l->op_slot];
        if (!s->m)
                return;
        switch (l->op_kind) {
        case MODBUS_OP_CONNECT:
                if (r->kind == MODBUS_RESULT_OK) {
                        l->connected = true;
                        l->broken = false;
                        l->quiet = false;
                        l->last_end_us = 0;
                        l->gen++;
                        s->gen = l->gen;
                }
                break;
        case MODBUS_OP_FLUSH:
                l->last_end_us = now_us;
                break;
        case MODBUS_OP_READ:
        case MODBUS_OP_WRITE:
                l->last_end_us = now_us;
                s->suspect = r->kind == MODBUS_RESULT_TIMEOUT || r->kind == MODBUS_RESULT_GARBLED;
                switch (r->kind) {
                case MODBUS_RESULT_OK:
                case MODBUS_RESULT_EXCEPTION:
                        break;
                case MODBUS_RESULT_TIMEOUT:
                case MODBUS_RESULT_GARBLED:
                        if (shared) {
                                l->quiet = true;
                                l->quiet_until_us = now_us + ms_us(line_response_timeout_ms(l));
                        }
                        break;
                case MODBUS_RESULT_IO_ERROR:
                        l->broken = true;
                        l->err = r->err;
                        snprintf(l->error, sizeof(l->error), "%s", r->error ? r->error : "I/O error");
                        break;
                }
                break;
        case MODBUS_OP_CLOSE:
        case MODBUS_OP_PAUSE:
        case MODBUS_OP_IDLE:
        case MODBUS_OP_DONE:
                break;
        }
        modbus_device_result(s->m, r, now_us);
}
