/* SPDX-License-Identifier: MIT */
/*
 * One RS-485 line shared by converters at units 1, 2 and 3
 * (src/modbus_line.c above src/modbus_device.c), driven by hand: time
 * advanced explicitly, every op executed against fake converters with the
 * register map of conf/profiles/generic.conf on one fake line.  The line
 * is physical enough to fail: a late answer that is still on the line when
 * another request goes out spoils that request (libmodbus would refuse it
 * as another unit's answer, or worse take it), and counts as a desync.
 *
 * Turns, the off write first, one unit silent or late while the others are
 * served, a garbled (wrong unit) answer, the port gone, one converter
 * stopped while the others run, and a converter alone on its line exactly
 * as without the line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "modbus_device.h"
#include "modbus_line.h"
#include "modbus_params.h"
#include "modbus_profile.h"

#define MS 1000ull
#define SEC 1000000ull
#define REQUEST_US (4 * MS)     /* how long an answered request takes */
#define RESPONSE_TIMEOUT_MS 100
#define LOG_MAX 40000
#define UNITS 3

struct request {
        uint64_t t;                     /* end of the request */
        enum modbus_op_kind kind;
        uint8_t unit;
        int fc;
        uint16_t addr;
        uint16_t value;
        enum modbus_result_kind result;
};

struct fake_unit {
        uint16_t coil[16];
        uint16_t holding[16];
        uint16_t input[128];
        bool silent;                    /* executes nothing, answers nothing */
        uint32_t late_ms;               /* answers this long after the response timeout */
        unsigned garble;                /* the next n answers arrive garbled */
};

struct fx {
        bool bare;                      /* one machine without the line, for comparison */
        size_t n;
        struct modbus_params params[UNITS];
        struct modbus_device_bus m[UNITS];
        struct modbus_line line;
        uint64_t now;
        bool done[UNITS];
        bool all_done;

        bool up;
        bool connected;
        struct fake_unit unit[UNITS];
        bool late_pending;              /* a late answer on the line, not flushed */
        uint64_t late_at;
        unsigned desync;

        struct request log[LOG_MAX];
        size_t n_log;
        unsigned closes;
        unsigned connects;
        unsigned publishes[UNITS];
        unsigned link_problems[UNITS];
};

static struct fx fx_a, fx_b;

/* ---- the fake converters ------------------------------------------------- */

static void fake_update(struct fake_unit *u)
{
        bool remote = u->holding[10] == 1;
        bool running = u->coil[0] == 1 && remote;

        u->input[0] = running ? u->holding[0] : 0;
        u->input[1] = running ? u->holding[1] : 0;
        u->input[2] = 350;
        u->input[3] = 250;
        u->input[4] = (uint16_t)((remote ? 0x01 : 0) | (running ? 0x02 | 0x04 : 0) | (remote ? 0x10 : 0));
        u->input[5] = 0;
        u->input[6] = 0x4479;           /* 1000.0 as a big-endian float */
        u->input[7] = 0;
        u->input[100] = 5000;
        u->input[101] = 1000;
        u->input[102] = 3000;
}

static void fake_execute(struct fake_unit *u, const struct modbus_op *op, uint16_t *out)
{
        for (uint16_t i = 0; op->kind == MODBUS_OP_READ && i < op->count; i++) {
                uint16_t a = (uint16_t)(op->address + i);

                assert_true(a < 128);
                switch (op->area) {
                case MODBUS_AREA_COIL:
                        out[i] = a < 16 ? u->coil[a] : 0;
                        break;
                case MODBUS_AREA_HOLDING:
                        out[i] = a < 16 ? u->holding[a] : 0;
                        break;
                case MODBUS_AREA_INPUT:
                        out[i] = u->input[a];
                        break;
                case MODBUS_AREA_DISCRETE:
                        out[i] = 0;
                        break;
                }
        }
        if (op->kind == MODBUS_OP_WRITE) {
                assert_true(op->address < 16);
                if (op->function == 5)
                        u->coil[op->address] = op->values[0] ? 1 : 0;
                else
                        for (uint16_t i = 0; i < op->count; i++)
                                u->holding[op->address + i] = op->values[i];
        }
        fake_update(u);
}

static int op_fc(const struct modbus_op *op)
{
        if (op->kind == MODBUS_OP_WRITE)
                return op->function;
        if (op->kind != MODBUS_OP_READ)
                return 0;
        switch (op->area) {
        case MODBUS_AREA_COIL:
                return 1;
        case MODBUS_AREA_DISCRETE:
                return 2;
        case MODBUS_AREA_HOLDING:
                return 3;
        case MODBUS_AREA_INPUT:
                return 4;
        }
        return 0;
}

static void log_request(struct fx *f, const struct modbus_op *op, enum modbus_result_kind result)
{
        assert_true(f->n_log < LOG_MAX);
        f->log[f->n_log++] = (struct request) {
                .t = f->now,
                .kind = op->kind,
                .unit = op->kind == MODBUS_OP_READ || op->kind == MODBUS_OP_WRITE ? op->unit : 0,
                .fc = op_fc(op),
                .addr = op->address,
                .value = op->kind == MODBUS_OP_WRITE ? op->values[0] : 0,
                .result = result,
        };
}

/* ---- driving ------------------------------------------------------------- */

static void to_machine(struct fx *f, const struct modbus_result *r)
{
        if (f->bare)
                modbus_device_result(&f->m[0], r, f->now);
        else
                modbus_line_result(&f->line, r, f->now);
}

/* One request on the fake line: its answer, or what spoiled it. */
static void request(struct fx *f, const struct modbus_op *op)
{
        struct modbus_result r = { .kind = MODBUS_RESULT_OK };
        uint16_t values[MODBUS_PROFILE_MAX_BITS];
        struct fake_unit *u;
        uint64_t start = f->now;

        assert_true(f->connected);
        assert_true(op->unit >= 1 && op->unit <= UNITS);
        u = &f->unit[op->unit - 1];
        if (!f->up) {
                r = (struct modbus_result) { .kind = MODBUS_RESULT_IO_ERROR, .err = -EIO, .error = "Input/output error" };
                f->now += 1 * MS;
        } else if (f->late_pending && f->late_at < start + REQUEST_US) {
                /* Another unit's late answer comes first. */
                f->desync++;
                f->late_pending = false;
                r = (struct modbus_result) { .kind = MODBUS_RESULT_GARBLED, .err = -EIO, .error = "Invalid slave" };
                f->now += REQUEST_US;
        } else if (u->silent || u->late_ms) {
                if (u->late_ms) {
                        fake_execute(u, op, values);
                        f->late_pending = true;
                        f->late_at = start + RESPONSE_TIMEOUT_MS * MS + u->late_ms * MS;
                }
                r = (struct modbus_result) { .kind = MODBUS_RESULT_TIMEOUT, .err = -ETIMEDOUT,
                                             .error = "Connection timed out" };
                f->now += RESPONSE_TIMEOUT_MS * MS;
        } else if (u->garble) {
                u->garble--;
                r = (struct modbus_result) { .kind = MODBUS_RESULT_GARBLED, .err = -EIO, .error = "Invalid slave" };
                f->now += REQUEST_US;
        } else {
                fake_execute(u, op, values);
                if (op->kind == MODBUS_OP_READ)
                        r.values = values;
                f->now += REQUEST_US;
        }
        log_request(f, op, r.kind);
        to_machine(f, &r);
}

static void drain_events(struct fx *f)
{
        struct modbus_event ev;

        for (size_t i = 0; i < f->n; i++)
                while (!f->done[i] && modbus_device_event(&f->m[i], &ev))
                        f->link_problems[i] += ev.kind == MODBUS_EVENT_LINK_PROBLEM;
}

static enum modbus_op_kind step(struct fx *f)
{
        struct modbus_line_op lop = { .slot = 0 };
        struct modbus_result ok = { .kind = MODBUS_RESULT_OK };

        if (f->bare) {
                modbus_device_next(&f->m[0], f->now, &lop.op);
                lop.publish = lop.op.publish;
                lop.done = lop.op.kind == MODBUS_OP_DONE;
        } else {
                modbus_line_next(&f->line, f->now, &lop);
        }
        for (size_t i = 0; i < f->n; i++) {
                f->publishes[i] += (lop.publish >> i) & 1;
                if ((lop.done >> i) & 1) {
                        drain_events(f);
                        f->done[i] = true;
                        if (!f->bare)
                                modbus_line_detach(&f->line, i);
                }
        }
        switch (lop.op.kind) {
        case MODBUS_OP_CONNECT:
                f->now += 1 * MS;
                f->connects++;
                if (!f->up) {
                        struct modbus_result r = { .kind = MODBUS_RESULT_IO_ERROR, .err = -ENOENT,
                                                   .error = "No such file or directory", .step = "connect" };

                        log_request(f, &lop.op, r.kind);
                        to_machine(f, &r);
                        break;
                }
                f->connected = true;
                log_request(f, &lop.op, MODBUS_RESULT_OK);
                to_machine(f, &ok);
                break;
        case MODBUS_OP_CLOSE:
                f->connected = false;
                f->closes++;
                log_request(f, &lop.op, MODBUS_RESULT_OK);
                break;
        case MODBUS_OP_FLUSH:
                if (f->late_pending && f->late_at <= f->now)
                        f->late_pending = false;
                log_request(f, &lop.op, MODBUS_RESULT_OK);
                to_machine(f, &ok);
                break;
        case MODBUS_OP_READ:
        case MODBUS_OP_WRITE:
                request(f, &lop.op);
                break;
        case MODBUS_OP_PAUSE:
                assert_true(lop.op.until_us > f->now);
                f->now = lop.op.until_us;
                break;
        case MODBUS_OP_IDLE:
                assert_true(lop.op.until_us > f->now);
                f->now = lop.op.until_us;
                break;
        case MODBUS_OP_DONE:
                f->all_done = true;
                break;
        }
        drain_events(f);
        return lop.op.kind;
}

static void run_for(struct fx *f, uint64_t dt)
{
        uint64_t end = f->now + dt;

        for (unsigned guard = 0; f->now < end && !f->all_done; guard++) {
                assert_true(guard < 400000);
                step(f);
        }
}

static void command(struct fx *f, size_t i, enum power_mode mode, uint16_t dv, int32_t da)
{
        struct power_command c = { .mode = mode, .voltage_dv = dv, .current_da = da, .discharge = mode == POWER_OFF };

        modbus_device_command(&f->m[i], &c, f->now);
}

static struct modbus_device_status status(struct fx *f, size_t i)
{
        struct modbus_device_status st;

        modbus_device_status(&f->m[i], 0, f->now, &st);
        return st;
}

/* ---- fixture --------------------------------------------------------------- */

static void fx_init(struct fx *f, size_t n, bool bare, uint32_t poll_ms)
{
        char err[512];

        memset(f, 0, sizeof(*f));
        f->bare = bare;
        f->n = n;
        f->now = 7 * SEC;
        f->up = true;
        modbus_line_init(&f->line);
        for (size_t i = 0; i < n; i++) {
                struct modbus_params *p = &f->params[i];
                const struct modbus_device_config dev = { .params = p, .role = MODBUS_ROLE_CONVERTER };
                size_t slot;

                fake_update(&f->unit[i]);
                modbus_params_defaults(p);
                p->transport = MODBUS_TRANSPORT_RTU;
                snprintf(p->device, sizeof(p->device), "/dev/ttyUSB0");
                p->unit_id = (uint8_t)(i + 1);
                p->response_timeout_ms = RESPONSE_TIMEOUT_MS;
                p->poll_interval_ms = poll_ms;
                p->link_timeout_ms = 600;
                if (modbus_profile_load(PROFILE_DIR "/generic.conf", &p->profile, err, sizeof(err)) < 0)
                        fail_msg("%s", err);
                assert_int_equal(modbus_device_init(&f->m[i], &dev, 1), 0);
                if (!bare) {
                        assert_int_equal(modbus_line_attach(&f->line, &f->m[i], p->min_gap_ms, p->response_timeout_ms,
                                                            &slot), 0);
                        assert_int_equal(slot, i);
                }
        }
}

/* Every converter on the line charging at 400 V, 50 A. */
static void all_charging(struct fx *f)
{
        run_for(f, 1 * SEC);
        for (size_t i = 0; i < f->n; i++) {
                assert_true(status(f, i).m.link_ok);
                assert_true(status(f, i).m.ready);
                command(f, i, POWER_CHARGE, (uint16_t)(4000 + 100 * i), 500);
        }
        run_for(f, 500 * MS);
        for (size_t i = 0; i < f->n; i++) {
                assert_int_equal(f->unit[i].coil[0], 1);
                assert_int_equal(f->unit[i].holding[0], 4000 + 100 * i);
                assert_int_equal(status(f, i).m.voltage_dv, 4000 + 100 * i);
        }
}

static bool is_request(const struct request *r)
{
        return r->kind == MODBUS_OP_READ || r->kind == MODBUS_OP_WRITE;
}

/* The longest time between two consecutive reads of input 0 (the start of
 * a measurement) of a unit, from log index `from`. */
static uint64_t longest_measurement_gap(const struct fx *f, size_t from, uint8_t unit)
{
        uint64_t last = 0, longest = 0;

        for (size_t i = from; i < f->n_log; i++) {
                const struct request *r = &f->log[i];

                if (r->kind != MODBUS_OP_READ || r->unit != unit || r->fc != 4 || r->addr != 0 ||
                    r->result != MODBUS_RESULT_OK)
                        continue;
                if (last && r->t - last > longest)
                        longest = r->t - last;
                last = r->t;
        }
        return longest;
}

static unsigned count_requests(const struct fx *f, size_t from, uint8_t unit)
{
        unsigned n = 0;

        for (size_t i = from; i < f->n_log; i++)
                n += is_request(&f->log[i]) && f->log[i].unit == unit;
        return n;
}

/* ==================================================================== */

/* Alone on its line, a converter gets exactly the ops it gets without the
 * line: the same requests at the same times, the same publications, through
 * a start, a charge, an off, a timeout and the stop. */
static void test_alone_exactly_as_without_the_line(void **state)
{
        struct fx *a = &fx_a, *b = &fx_b;

        (void)state;
        fx_init(a, 1, false, 100);
        fx_init(b, 1, true, 100);
        for (int k = 0; k < 2; k++) {
                struct fx *f = k ? b : a;

                run_for(f, 1 * SEC);
                command(f, 0, POWER_CHARGE, 4000, 500);
                run_for(f, 1 * SEC);
                f->unit[0].late_ms = 30;
                run_for(f, 300 * MS);
                f->unit[0].late_ms = 0;
                command(f, 0, POWER_OFF, 0, 0);
                run_for(f, 1 * SEC);
                modbus_device_stop(&f->m[0], f->now);
                run_for(f, 3 * SEC);
                assert_true(f->all_done);
        }
        assert_int_equal(a->n_log, b->n_log);
        for (size_t i = 0; i < a->n_log; i++) {
                assert_int_equal(a->log[i].t, b->log[i].t);
                assert_int_equal(a->log[i].kind, b->log[i].kind);
                assert_int_equal(a->log[i].fc, b->log[i].fc);
                assert_int_equal(a->log[i].addr, b->log[i].addr);
                assert_int_equal(a->log[i].value, b->log[i].value);
                assert_int_equal(a->log[i].result, b->log[i].result);
        }
        assert_int_equal(a->publishes[0], b->publishes[0]);
        assert_int_equal(a->closes, b->closes);
        assert_true(a->closes >= 1);
        assert_int_equal(a->now, b->now);
}

/* Three converters on a saturated line (a 10 ms poll wants more than the
 * line can carry): one request each in turn, none starved; each one's
 * measurement period is bounded by its own requests and one request of each
 * of the others per request of its own. */
static void test_turns_nobody_starves(void **state)
{
        struct fx *f = &fx_a;
        size_t from;
        unsigned n[UNITS];

        (void)state;
        fx_init(f, 3, false, 10);
        all_charging(f);
        from = f->n_log;
        run_for(f, 2 * SEC);
        for (uint8_t u = 1; u <= 3; u++) {
                n[u - 1] = count_requests(f, from, u);
                /* a pass is 2 reads (coil 0, input 0+8), with the
                 * setpoint refresh 5 requests: 3 units x 5 requests x
                 * (4 ms + 5 ms gap) = 135 ms at worst */
                assert_true(longest_measurement_gap(f, from, u) <= 135 * MS);
                assert_true(status(f, u - 1).m.link_ok);
        }
        assert_true(n[0] > 50);
        assert_true(n[0] * 10 >= n[1] * 9 && n[0] * 10 <= n[1] * 11);
        assert_true(n[0] * 10 >= n[2] * 9 && n[0] * 10 <= n[2] * 11);
        /* One each in turn: never the same unit twice in a row. */
        for (size_t i = from + 1, prev = from; i < f->n_log; i++) {
                if (!is_request(&f->log[i]))
                        continue;
                if (is_request(&f->log[prev]))
                        assert_int_not_equal(f->log[i].unit, f->log[prev].unit);
                prev = i;
        }
        assert_int_equal(f->desync, 0);
}

/* An OFF for any converter goes before everything that waits on the line:
 * it is the very next request after the one in flight, whoever's turn it
 * was. */
static void test_off_overtakes_the_others(void **state)
{
        struct fx *f = &fx_a;

        (void)state;
        fx_init(f, 3, false, 10);
        all_charging(f);
        for (int round = 0; round < 6; round++) {
                size_t who = (size_t)round % 3, from;
                const struct request *next = NULL;

                /* Into the line's traffic: after a request of another unit. */
                run_for(f, 37 * MS);
                for (unsigned guard = 0;; guard++) {
                        assert_true(guard < 100);
                        if (step(f) == MODBUS_OP_READ && f->log[f->n_log - 1].unit != who + 1)
                                break;
                }
                from = f->n_log;
                command(f, who, round < 3 ? POWER_OFF : POWER_STANDBY, 0, 0);
                while (!next) {
                        step(f);
                        for (size_t i = from; i < f->n_log && !next; i++)
                                if (is_request(&f->log[i]))
                                        next = &f->log[i];
                }
                assert_int_equal(next->unit, who + 1);
                assert_int_equal(next->fc, 5);
                assert_int_equal(next->addr, 0);
                assert_int_equal(next->value, 0);
                run_for(f, 100 * MS);
                assert_int_equal(f->unit[who].coil[0], 0);
                command(f, who, POWER_CHARGE, 4000, 500);
                run_for(f, 200 * MS);
                assert_int_equal(f->unit[who].coil[0], 1);
        }
}

/* One unit silent: its link is lost, its own; the others keep being
 * served at their poll rate, with the line quiet for one response timeout
 * and flushed after each of its timeouts. */
static void test_one_unit_silent_the_others_served(void **state)
{
        struct fx *f = &fx_a;
        size_t from;

        (void)state;
        fx_init(f, 3, false, 100);
        all_charging(f);
        memset(f->link_problems, 0, sizeof(f->link_problems));
        from = f->n_log;
        f->unit[1].silent = true;
        run_for(f, 1 * SEC);
        /* As the core does on a lost link: OFF, rewritten at every pass
         * while it is not confirmed, and never confirmed here. */
        assert_false(status(f, 1).m.link_ok);
        command(f, 1, POWER_OFF, 0, 0);
        run_for(f, 3 * SEC);
        assert_false(status(f, 1).m.link_ok);
        assert_true(status(f, 0).m.link_ok);
        assert_true(status(f, 2).m.link_ok);
        assert_true(f->link_problems[1] > 0);
        assert_int_equal(f->link_problems[0], 0);
        assert_int_equal(f->link_problems[2], 0);
        assert_int_equal(f->unit[0].coil[0], 1);
        /* poll 100 ms, and a timeout of the silent unit (100 ms) with the
         * quiet time after it (100 ms) at most once in a pass of the others
         * (at most 8 requests), or twice when the pass began just before */
        assert_true(longest_measurement_gap(f, from, 1) <= 100 * MS + 4 * RESPONSE_TIMEOUT_MS * MS + 30 * MS);
        assert_true(longest_measurement_gap(f, from, 3) <= 100 * MS + 4 * RESPONSE_TIMEOUT_MS * MS + 30 * MS);
        /* and it is still tried, so that it is found when it answers */
        assert_true(count_requests(f, from, 2) >= 10);
        /* After each timeout, a flush before anyone's next request. */
        for (size_t i = from; i < f->n_log; i++) {
                if (f->log[i].result != MODBUS_RESULT_TIMEOUT)
                        continue;
                for (size_t j = i + 1; j < f->n_log && !is_request(&f->log[j]); j++)
                        if (f->log[j].kind == MODBUS_OP_FLUSH)
                                goto flushed;
                if (i + 1 < f->n_log)
                        fail_msg("request %zu after a timeout without a flush", i + 1);
flushed:;
        }
        /* The others' commands still go out. */
        command(f, 2, POWER_OFF, 0, 0);
        run_for(f, 300 * MS);
        assert_int_equal(f->unit[2].coil[0], 0);
        /* It answers again: started again, off first (its wanted state is
         * still the charge here: the core would have sent OFF). */
        f->unit[1].silent = false;
        run_for(f, 1 * SEC);
        assert_true(status(f, 1).m.link_ok);
        assert_int_equal(f->desync, 0);
}

/* A unit that answers late (after its response timeout): the late answer
 * is flushed before another unit's request goes out, never read as that
 * unit's answer. */
static void test_late_answer_never_taken_for_another_unit(void **state)
{
        struct fx *f = &fx_a;

        (void)state;
        fx_init(f, 2, false, 20);
        all_charging(f);
        memset(f->link_problems, 0, sizeof(f->link_problems));
        f->unit[1].late_ms = 60;
        run_for(f, 2 * SEC);
        f->unit[1].late_ms = 0;
        run_for(f, 1 * SEC);
        assert_int_equal(f->desync, 0);
        assert_int_equal(f->link_problems[0], 0);
        assert_true(f->link_problems[1] > 0);
        assert_true(status(f, 0).m.link_ok);
        assert_true(status(f, 1).m.link_ok);
}

/* A garbled answer (another unit's, a bad CRC) to one unit's request: that
 * unit's problem only, its values not taken; the line flushes before the
 * next request. */
static void test_wrong_unit_answer_dropped(void **state)
{
        struct fx *f = &fx_a;
        size_t from;
        uint16_t before;

        (void)state;
        fx_init(f, 2, false, 100);
        all_charging(f);
        memset(f->link_problems, 0, sizeof(f->link_problems));
        before = status(f, 0).m.voltage_dv;
        f->unit[0].garble = 3;
        from = f->n_log;
        for (unsigned guard = 0; f->unit[0].garble; guard++) {
                assert_true(guard < 10000);
                step(f);
                assert_int_equal(status(f, 0).m.voltage_dv, before);
        }
        assert_int_equal(f->link_problems[0], 3);
        assert_int_equal(f->link_problems[1], 0);
        for (size_t i = from; i < f->n_log; i++) {
                if (f->log[i].result != MODBUS_RESULT_GARBLED)
                        continue;
                for (size_t j = i + 1; j < f->n_log; j++) {
                        if (is_request(&f->log[j]))
                                fail_msg("request %zu after a garbled answer without a flush", j);
                        if (f->log[j].kind == MODBUS_OP_FLUSH)
                                break;
                }
        }
        run_for(f, 500 * MS);
        assert_true(status(f, 0).m.link_ok);
        assert_true(status(f, 1).m.link_ok);
        assert_int_equal(f->desync, 0);
}

/* The port gone: every converter's link is lost, each reported, the port
 * reopened with backoff (not at every turn), everyone started again (off
 * first) once it is back. */
static void test_port_gone_every_converter_lost(void **state)
{
        struct fx *f = &fx_a;
        size_t from;
        unsigned connects;

        (void)state;
        fx_init(f, 3, false, 100);
        all_charging(f);
        memset(f->link_problems, 0, sizeof(f->link_problems));
        for (size_t i = 0; i < 3; i++)
                command(f, i, POWER_OFF, 0, 0);
        f->up = false;
        connects = f->connects;
        run_for(f, 3 * SEC);
        for (size_t i = 0; i < 3; i++) {
                assert_false(status(f, i).m.link_ok);
                assert_true(f->link_problems[i] > 0);
        }
        assert_true(f->closes >= 1);
        /* backoff 100, 200, 400.. up to reconnect_max_ms (5 s by default),
         * per converter: a handful in 3 s, not one per turn */
        assert_true(f->connects - connects >= 3);
        assert_true(f->connects - connects <= 3 * 6);
        f->up = true;
        from = f->n_log;
        run_for(f, 6 * SEC);
        for (size_t i = 0; i < 3; i++) {
                assert_true(status(f, i).m.link_ok);
                assert_int_equal(f->unit[i].coil[0], 0);
        }
        /* One open port, no second connect while it is open. */
        for (size_t i = from, open = 0; i < f->n_log; i++) {
                if (f->log[i].kind == MODBUS_OP_CONNECT && f->log[i].result == MODBUS_RESULT_OK)
                        assert_int_equal(open++, 0);
                if (f->log[i].kind == MODBUS_OP_CLOSE)
                        open = 0;
        }
}

/* One converter stopped: its off written and confirmed, it leaves the
 * line; the others keep running and the port stays open until the last
 * one stops. */
static void test_stop_one_the_others_run(void **state)
{
        struct fx *f = &fx_a;
        size_t from;

        (void)state;
        fx_init(f, 2, false, 100);
        all_charging(f);
        from = f->n_log;
        modbus_device_stop(&f->m[0], f->now);
        run_for(f, 1 * SEC);
        assert_true(f->done[0]);
        assert_false(f->all_done);
        assert_int_equal(f->unit[0].coil[0], 0);
        assert_int_equal(f->closes, 0);
        assert_int_equal(f->unit[1].coil[0], 1);
        run_for(f, 1 * SEC);
        assert_true(count_requests(f, from, 2) > 10);
        assert_true(status(f, 1).m.link_ok);
        command(f, 1, POWER_CHARGE, 4200, 300);
        run_for(f, 300 * MS);
        assert_int_equal(f->unit[1].holding[0], 4200);
        modbus_device_stop(&f->m[1], f->now);
        run_for(f, 2 * SEC);
        assert_true(f->all_done);
        assert_int_equal(f->unit[1].coil[0], 0);
        assert_int_equal(f->closes, 1);
        assert_false(f->connected);
}

/* A converter that joins a line already open is told so and starts (off
 * first) without a second connect. */
static void test_join_an_open_line(void **state)
{
        struct fx *f = &fx_a;
        const struct modbus_device_config dev = { .params = &f->params[1], .role = MODBUS_ROLE_CONVERTER };
        size_t slot;

        (void)state;
        fx_init(f, 1, false, 100);
        run_for(f, 500 * MS);
        assert_true(status(f, 0).m.link_ok);
        f->params[1] = f->params[0];
        f->params[1].unit_id = 2;
        fake_update(&f->unit[1]);
        assert_int_equal(modbus_device_init(&f->m[1], &dev, 1), 0);
        assert_int_equal(modbus_line_attach(&f->line, &f->m[1], 5, RESPONSE_TIMEOUT_MS, &slot), 0);
        assert_int_equal(slot, 1);
        f->n = 2;
        run_for(f, 500 * MS);
        assert_int_equal(f->connects, 1);
        assert_true(status(f, 1).m.link_ok);
        assert_true(status(f, 0).m.link_ok);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_alone_exactly_as_without_the_line),
                cmocka_unit_test(test_turns_nobody_starves),
                cmocka_unit_test(test_off_overtakes_the_others),
                cmocka_unit_test(test_one_unit_silent_the_others_served),
                cmocka_unit_test(test_late_answer_never_taken_for_another_unit),
                cmocka_unit_test(test_wrong_unit_answer_dropped),
                cmocka_unit_test(test_port_gone_every_converter_lost),
                cmocka_unit_test(test_stop_one_the_others_run),
                cmocka_unit_test(test_join_an_open_line),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
