/* SPDX-License-Identifier: MIT */
/*
 * The Modbus device machine (src/modbus_device.c) driven by hand: time
 * advanced explicitly, every op it hands out executed against a fake
 * converter with the register map of conf/profiles/generic.conf (the one the
 * pymodbus test server implements), answers scripted request by request
 * (timeout, exception, garbled, I/O error; a bus that refuses connections; an
 * output that ignores its disable).  Every path to "off" is here: off first
 * after a (re)connect, current before voltage, the keepalive refresh, off
 * rewritten until confirmed (at the stop and after an emergency stop), fault
 * and status words, timeouts, late replies over TCP and RTU, backoff.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "modbus_device.h"
#include "modbus_pack.h"
#include "modbus_params.h"
#include "modbus_profile.h"

#define MS 1000ull
#define SEC 1000000ull
#define REQUEST_US (4 * MS)     /* how long an answered request takes */
#define LOG_MAX 8192
#define SCRIPT_MAX 64

/* One request as the fake device saw it. */
struct request {
        uint64_t t;                     /* end of the request */
        enum modbus_op_kind kind;       /* CONNECT, CLOSE, FLUSH, READ, WRITE */
        uint8_t unit;
        int fc;                         /* READ: 1..4, WRITE: 5, 6, 15, 16 */
        uint16_t addr;
        uint16_t count;
        uint16_t value;
        enum modbus_result_kind result;
};

/* The answer to a request that matches (fc 0: any request), n times. */
struct scripted {
        int fc;
        int addr;                       /* -1: any */
        enum modbus_result_kind result;
        int times;                      /* -1: for ever */
        bool executed;                  /* TIMEOUT, GARBLED: the device did it (the answer got lost) */
};

struct fx {
        struct modbus_device_bus m;
        struct modbus_params params;
        uint64_t now;
        bool done;

        /* the fake converter (generic.conf) */
        bool up;                        /* accepts connections */
        bool connected;
        uint16_t coil[16];
        uint16_t holding[16];
        uint16_t input[128];
        uint16_t fault;
        bool ignores_disable;           /* the enable stays on whatever is written */
        bool monitor;                   /* unit 3: an insulation monitor (isoCHA425HV) */
        uint16_t monitor_regs[4];       /* holding 1000..1003 */

        struct scripted script[SCRIPT_MAX];
        size_t n_script;

        struct request log[LOG_MAX];
        size_t n_log;
        unsigned closes;
        unsigned flushes;
        unsigned pauses;
        unsigned idles;
        uint64_t idle_until;            /* of the last IDLE */
        unsigned publishes;             /* ops that said: publish first */

        struct modbus_event ev[256];
        size_t n_ev;
};

static struct fx fx_storage;

/* ---- the fake converter --------------------------------------------------- */

static void fake_update(struct fx *f)
{
        bool remote = f->holding[10] == 1;
        bool running = f->coil[0] == 1 && remote && f->fault == 0;
        uint16_t ins[2];

        f->input[0] = running ? f->holding[0] : 0;
        /* generic-bidirectional.conf: sinking (a negative current) while
         * set_current is 0 and set_sink_current (holding 2) is not. */
        f->input[1] = !running ? 0 : f->holding[1] ? f->holding[1] : (uint16_t)-f->holding[2];
        f->input[2] = 350;
        f->input[3] = 250;
        f->input[4] = (uint16_t)((remote && f->fault == 0 ? 0x01 : 0) | (running ? 0x02 | 0x04 : 0) |
                                 (remote ? 0x10 : 0));
        f->input[5] = f->fault;
        assert_int_equal(modbus_pack_encode(MODBUS_TYPE_F32, MODBUS_WORDS_BIG, 1000.0, ins), 0);
        f->input[6] = ins[0];
        f->input[7] = ins[1];
        f->input[100] = 5000;
        f->input[101] = 1000;
        f->input[102] = 3000;
        f->input[103] = 1000;
        f->input[104] = 3000;
}

/* Execute a request on the fake; the values of a read in out. */
static void fake_execute(struct fx *f, const struct modbus_op *op, uint16_t *out)
{
        if (op->kind == MODBUS_OP_READ) {
                for (uint16_t i = 0; i < op->count; i++) {
                        uint16_t a = (uint16_t)(op->address + i);

                        if (op->unit == 3) {
                                assert_true(a >= 1000 && a < 1004);
                                out[i] = f->monitor_regs[a - 1000];
                                continue;
                        }
                        switch (op->area) {
                        case MODBUS_AREA_COIL:
                                assert_true(a < 16);
                                out[i] = f->coil[a];
                                break;
                        case MODBUS_AREA_HOLDING:
                                assert_true(a < 16);
                                out[i] = f->holding[a];
                                break;
                        case MODBUS_AREA_INPUT:
                                assert_true(a < 128);
                                out[i] = f->input[a];
                                break;
                        case MODBUS_AREA_DISCRETE:
                                out[i] = 0;
                                break;
                        }
                }
                return;
        }
        if (op->unit == 3)
                return;         /* the monitor's init sequence */
        assert_true(op->address < 16);
        if (op->function == 5) {
                if (!(f->ignores_disable && op->values[0] == 0))
                        f->coil[op->address] = op->values[0] ? 1 : 0;
        } else {
                for (uint16_t i = 0; i < op->count; i++)
                        f->holding[op->address + i] = op->values[i];
        }
        fake_update(f);
}

static int op_fc(const struct modbus_op *op)
{
        if (op->kind == MODBUS_OP_WRITE)
                return op->function;
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

static const struct scripted *script_match(struct fx *f, const struct modbus_op *op)
{
        for (size_t i = 0; i < f->n_script; i++) {
                struct scripted *s = &f->script[i];

                if (s->times == 0 || (s->fc && s->fc != op_fc(op)) || (s->addr >= 0 && s->addr != op->address))
                        continue;
                if (s->times > 0)
                        s->times--;
                return s;
        }
        return NULL;
}

/* Answer fc at addr (-1: any) with result, n times (-1: for ever). */
static void script(struct fx *f, int fc, int addr, enum modbus_result_kind result, int n, bool executed)
{
        assert_true(f->n_script < SCRIPT_MAX);
        f->script[f->n_script++] = (struct scripted) { .fc = fc, .addr = addr, .result = result, .times = n,
                                                        .executed = executed };
}

static void script_clear(struct fx *f)
{
        f->n_script = 0;
}

static void log_request(struct fx *f, const struct modbus_op *op, enum modbus_result_kind result)
{
        struct request *r;

        assert_true(f->n_log < LOG_MAX);
        r = &f->log[f->n_log++];
        *r = (struct request) {
                .t = f->now,
                .kind = op->kind,
                .unit = op->unit,
                .fc = op->kind == MODBUS_OP_READ || op->kind == MODBUS_OP_WRITE ? op_fc(op) : 0,
                .addr = op->address,
                .count = op->count,
                .value = op->kind == MODBUS_OP_WRITE ? op->values[0] : 0,
                .result = result,
        };
}

static void drain_events(struct fx *f)
{
        struct modbus_event ev;

        while (modbus_device_event(&f->m, &ev)) {
                if (f->n_ev < sizeof(f->ev) / sizeof(f->ev[0]))
                        f->ev[f->n_ev++] = ev;
        }
}

static const char *result_text(enum modbus_result_kind k)
{
        switch (k) {
        case MODBUS_RESULT_OK:
                return NULL;
        case MODBUS_RESULT_TIMEOUT:
                return "Connection timed out";
        case MODBUS_RESULT_GARBLED:
                return "Invalid CRC";
        case MODBUS_RESULT_EXCEPTION:
                return "Slave device or server failure";
        case MODBUS_RESULT_IO_ERROR:
                return "Connection reset by peer";
        }
        return "?";
}

/* ---- driving the machine ---------------------------------------------------- */

/* One op: asked for, executed, answered.  Returns its kind. */
static enum modbus_op_kind step(struct fx *f)
{
        struct modbus_op op;
        struct modbus_result r = { .kind = MODBUS_RESULT_OK };
        uint16_t values[MODBUS_PROFILE_MAX_BITS];
        const struct scripted *s;

        modbus_device_next(&f->m, f->now, &op);
        f->publishes += op.publish;
        switch (op.kind) {
        case MODBUS_OP_CONNECT:
                f->now += 1 * MS;
                if (!f->up) {
                        r = (struct modbus_result) { .kind = MODBUS_RESULT_IO_ERROR, .err = -ECONNREFUSED,
                                                     .error = "Connection refused", .step = "connect" };
                } else {
                        f->connected = true;
                }
                log_request(f, &op, r.kind);
                modbus_device_result(&f->m, &r, f->now);
                break;
        case MODBUS_OP_CLOSE:
                f->connected = false;
                f->closes++;
                log_request(f, &op, MODBUS_RESULT_OK);
                break;
        case MODBUS_OP_FLUSH:
                f->flushes++;
                log_request(f, &op, MODBUS_RESULT_OK);
                modbus_device_result(&f->m, &r, f->now);
                break;
        case MODBUS_OP_READ:
        case MODBUS_OP_WRITE:
                assert_true(f->connected);
                s = script_match(f, &op);
                if (!f->up) {
                        r.kind = MODBUS_RESULT_IO_ERROR;
                } else if (s) {
                        r.kind = s->result;
                        if ((r.kind == MODBUS_RESULT_TIMEOUT || r.kind == MODBUS_RESULT_GARBLED) && s->executed)
                                fake_execute(f, &op, values);
                } else {
                        fake_execute(f, &op, values);
                }
                f->now += r.kind == MODBUS_RESULT_TIMEOUT ? f->params.response_timeout_ms * MS : REQUEST_US;
                if (r.kind != MODBUS_RESULT_OK) {
                        r.err = -EIO;
                        r.error = result_text(r.kind);
                } else if (op.kind == MODBUS_OP_READ) {
                        r.values = values;
                }
                log_request(f, &op, r.kind);
                modbus_device_result(&f->m, &r, f->now);
                break;
        case MODBUS_OP_PAUSE:
                assert_true(op.until_us > f->now);
                f->pauses++;
                f->now = op.until_us;
                break;
        case MODBUS_OP_IDLE:
                /* Idle until a time that has come is a busy loop. */
                assert_true(op.until_us > f->now);
                f->idles++;
                f->idle_until = op.until_us;
                f->now = op.until_us;
                break;
        case MODBUS_OP_DONE:
                f->done = true;
                break;
        }
        drain_events(f);
        return op.kind;
}

/* Ops until time t (the one under way ends past it). */
static void run_until(struct fx *f, uint64_t t)
{
        for (unsigned guard = 0; f->now < t && !f->done; guard++) {
                assert_true(guard < 200000);
                step(f);
        }
}

static void run_for(struct fx *f, uint64_t dt)
{
        run_until(f, f->now + dt);
}

static void command(struct fx *f, enum power_mode mode, uint16_t dv, int32_t da)
{
        struct power_command c = { .mode = mode, .voltage_dv = dv, .current_da = da, .discharge = mode == POWER_OFF };

        modbus_device_command(&f->m, &c, f->now);
}

static struct modbus_device_status status(struct fx *f)
{
        struct modbus_device_status st;

        modbus_device_status(&f->m, 0, f->now, &st);
        return st;
}

/* ---- reading the log ----------------------------------------------------- */

static size_t mark(const struct fx *f)
{
        return f->n_log;
}

static bool is_write(const struct request *r, int fc, uint16_t addr, int value)
{
        return r->kind == MODBUS_OP_WRITE && r->fc == fc && r->addr == addr && (value < 0 || r->value == value);
}

/* The index of the first write fc/addr(/value) from index `from`, or -1. */
static long find_write(const struct fx *f, size_t from, int fc, uint16_t addr, int value)
{
        for (size_t i = from; i < f->n_log; i++)
                if (is_write(&f->log[i], fc, addr, value))
                        return (long)i;
        return -1;
}

static unsigned count_writes(const struct fx *f, size_t from, int fc, uint16_t addr, int value)
{
        unsigned n = 0;

        for (size_t i = from; i < f->n_log; i++)
                n += is_write(&f->log[i], fc, addr, value);
        return n;
}

static unsigned count_kind(const struct fx *f, size_t from, enum modbus_op_kind kind)
{
        unsigned n = 0;

        for (size_t i = from; i < f->n_log; i++)
                n += f->log[i].kind == kind;
        return n;
}

/* The first request (READ or WRITE) from index `from`. */
static const struct request *first_request(const struct fx *f, size_t from)
{
        for (size_t i = from; i < f->n_log; i++)
                if (f->log[i].kind == MODBUS_OP_READ || f->log[i].kind == MODBUS_OP_WRITE)
                        return &f->log[i];
        return NULL;
}

static unsigned count_events(const struct fx *f, enum modbus_event_kind kind)
{
        unsigned n = 0;

        for (size_t i = 0; i < f->n_ev; i++)
                n += f->ev[i].kind == kind;
        return n;
}

static const struct modbus_event *last_event(const struct fx *f, enum modbus_event_kind kind)
{
        for (size_t i = f->n_ev; i > 0; i--)
                if (f->ev[i - 1].kind == kind)
                        return &f->ev[i - 1];
        return NULL;
}

/* ---- fixture -------------------------------------------------------------- */

static void fx_params(struct fx *f, enum modbus_transport transport)
{
        char err[512];

        modbus_params_defaults(&f->params);
        f->params.transport = transport;
        snprintf(f->params.host, sizeof(f->params.host), "127.0.0.1");
        snprintf(f->params.device, sizeof(f->params.device), "/dev/ttyUSB0");
        if (modbus_profile_load(PROFILE_DIR "/generic.conf", &f->params.profile, err, sizeof(err)) < 0)
                fail_msg("%s", err);
}

static void fx_start(struct fx *f)
{
        const struct modbus_device_config dev = { .params = &f->params, .role = MODBUS_ROLE_CONVERTER };

        assert_int_equal(modbus_device_init(&f->m, &dev, 1), 0);
}

static int fx_setup(void **state)
{
        struct fx *f = &fx_storage;

        memset(f, 0, sizeof(*f));
        f->now = 7 * SEC;
        f->up = true;
        fake_update(f);
        fx_params(f, MODBUS_TRANSPORT_TCP);
        fx_start(f);
        *state = f;
        return 0;
}

static int fx_teardown(void **state)
{
        (void)state;
        return 0;
}

/* Connected, started, measured: link up and ready. */
static void up_and_ready(struct fx *f)
{
        run_for(f, 500 * MS);
        assert_true(status(f).m.link_ok);
        assert_true(status(f).m.ready);
}

/* Charging at 400 V / 50 A, as the server holds it. */
static void charging(struct fx *f)
{
        up_and_ready(f);
        command(f, POWER_CHARGE, 4000, 500);
        run_for(f, 300 * MS);
        assert_int_equal(f->coil[0], 1);
        assert_int_equal(f->holding[0], 4000);
        assert_int_equal(f->holding[1], 500);
        assert_int_equal(status(f).m.voltage_dv, 4000);
}

/* ==================================================================== */

/* After the connect: the OFF wanted goes first (disable, then zero current,
 * zero voltage), then the init sequence (remote control, a 20 ms delay),
 * then the capabilities, then the measurements; the rating is reported. */
static void test_off_first_after_connect(void **state)
{
        struct fx *f = *state;
        const struct modbus_event *rated;
        long off, cur, volt, remote;

        run_for(f, 500 * MS);
        assert_int_equal(f->log[0].kind, MODBUS_OP_CONNECT);
        assert_true(is_write(first_request(f, 0), 5, 0, 0));
        off = find_write(f, 0, 5, 0, 0);
        cur = find_write(f, 0, 6, 1, 0);
        volt = find_write(f, 0, 6, 0, 0);
        remote = find_write(f, 0, 6, 10, 1);
        assert_true(off >= 0 && off < cur && cur < volt && volt < remote);
        /* The init delay, then the capabilities before any measurement
         * (the output read back, then input 0..7 in one read). */
        assert_true(f->log[remote + 1].kind == MODBUS_OP_READ && f->log[remote + 1].fc == 4 &&
                    f->log[remote + 1].addr == 100 && f->log[remote + 1].count == 3);
        assert_true(f->log[remote + 1].t >= f->log[remote].t + 20 * MS);
        assert_true(f->log[remote + 2].kind == MODBUS_OP_READ && f->log[remote + 2].fc == 1 &&
                    f->log[remote + 2].addr == 0 && f->log[remote + 2].count == 1);
        assert_true(f->log[remote + 3].kind == MODBUS_OP_READ && f->log[remote + 3].fc == 4 &&
                    f->log[remote + 3].addr == 0 && f->log[remote + 3].count == 8);
        rated = last_event(f, MODBUS_EVENT_RATED);
        assert_non_null(rated);
        assert_string_equal(rated->text, "Generic Modbus DC converter, rated 500 V / 100 A / 30000 W");
        assert_int_equal(count_events(f, MODBUS_EVENT_RATED), 1);
        assert_true(status(f).m.link_ok);
        assert_true(status(f).m.ready);
        assert_int_equal(status(f).m.rating.max_voltage_dv, 5000);
        assert_int_equal(status(f).m.rating.max_current_da, 1000);
        assert_int_equal(status(f).m.rating.max_power_w, 30000);
        assert_int_equal(status(f).m.insulation_kohm, 1000);
        assert_int_equal(status(f).m.module_temp_c, 35);
        /* The readback confirmed the output off (OFF wanted). */
        assert_int_equal(count_events(f, MODBUS_EVENT_OFF_CONFIRMED), 1);
}

/* The machine writes what the command says: the clamp is the core's, and
 * the rating goes to the core with the measurement. */
static void test_setpoints_as_commanded_rating_reported(void **state)
{
        struct fx *f = *state;

        up_and_ready(f);
        command(f, POWER_CHARGE, 8000, 2000);
        run_for(f, 200 * MS);
        assert_int_equal(f->holding[0], 8000);
        assert_int_equal(f->holding[1], 2000);
        assert_int_equal(f->coil[0], 1);
        assert_int_equal(status(f).m.rating.max_voltage_dv, 5000);
}

/* The converter was charging, the server went away; the core commanded OFF
 * meanwhile; when the server is back the very first request after the
 * connect is the disable write, and the output is never enabled again. */
static void test_off_first_after_reconnect(void **state)
{
        struct fx *f = *state;
        size_t from;

        charging(f);
        f->up = false;
        run_for(f, 300 * MS);
        assert_true(!f->connected);
        command(f, POWER_OFF, 0, 0);
        run_for(f, 2 * SEC);
        assert_false(status(f).m.link_ok);
        from = mark(f);
        f->up = true;
        run_for(f, 2 * SEC);
        assert_true(status(f).m.link_ok);
        assert_true(is_write(first_request(f, from), 5, 0, 0));
        assert_int_equal(count_writes(f, from, 5, 0, 1), 0);
        assert_int_equal(f->coil[0], 0);
        assert_int_equal(f->holding[0], 0);
        assert_int_equal(f->holding[1], 0);
}

/* Lowering: the current goes out before the voltage; raising: the voltage
 * first.  Nothing else is written. */
static void test_current_before_voltage_when_lowering(void **state)
{
        struct fx *f = *state;
        size_t from;
        long v, i;

        charging(f);
        from = mark(f);
        command(f, POWER_CHARGE, 3000, 200);
        run_for(f, 100 * MS);
        i = find_write(f, from, 6, 1, 200);
        v = find_write(f, from, 6, 0, 3000);
        assert_true(i >= 0 && v >= 0 && i < v);
        assert_int_equal(count_writes(f, from, 5, 0, -1), 0);

        from = mark(f);
        command(f, POWER_CHARGE, 4500, 600);
        run_for(f, 100 * MS);
        i = find_write(f, from, 6, 1, 600);
        v = find_write(f, from, 6, 0, 4500);
        assert_true(i >= 0 && v >= 0 && v < i);
}

/* Unchanged setpoints are written again every setpoint_refresh_ms (a
 * keepalive), not more often; with the refresh off, never. */
static void test_keepalive_refresh(void **state)
{
        struct fx *f = *state;
        size_t from;
        long first, second;

        charging(f);
        from = mark(f);
        run_for(f, 2500 * MS);
        assert_int_equal(count_writes(f, from, 6, 0, 4000), 2);
        assert_int_equal(count_writes(f, from, 6, 1, 500), 2);
        assert_int_equal(count_writes(f, from, 5, 0, 1), 2);
        first = find_write(f, from, 6, 0, 4000);
        second = find_write(f, (size_t)first + 1, 6, 0, 4000);
        assert_true(f->log[second].t - f->log[first].t >= 1000 * MS);
        assert_true(f->log[second].t - f->log[first].t <= 1000 * MS + 150 * MS);

        modbus_device_set_timing(&f->m, &(struct modbus_device_timing) {
                .poll_interval_ms = 100, .setpoint_refresh_ms = 0, .link_timeout_ms = 1000, .min_gap_ms = 5 });
        run_for(f, 200 * MS);
        from = mark(f);
        run_for(f, 3 * SEC);
        assert_int_equal(count_writes(f, from, 6, 0, -1), 0);
        assert_true(status(f).m.link_ok);
}

/* An output that ignores its disable: the disable is written again at every
 * pass until the device confirms it; confirmed, only at the refresh. */
static void test_off_rewritten_until_confirmed(void **state)
{
        struct fx *f = *state;
        size_t from;
        unsigned n;

        charging(f);
        f->ignores_disable = true;
        from = mark(f);
        command(f, POWER_OFF, 0, 0);
        run_for(f, 1 * SEC);
        n = count_writes(f, from, 5, 0, 0);
        assert_true(n >= 8);
        assert_int_equal(count_events(f, MODBUS_EVENT_OFF_CONFIRMED), 1);      /* the one at the start */
        f->ignores_disable = false;
        run_for(f, 200 * MS);
        assert_int_equal(f->coil[0], 0);
        assert_int_equal(count_events(f, MODBUS_EVENT_OFF_CONFIRMED), 2);
        from = mark(f);
        run_for(f, 900 * MS);
        assert_true(count_writes(f, from, 5, 0, 0) <= 1);
}

/* An emergency stop while a read cycle is under way: the cycle is dropped,
 * the disable is the very next request (and is written again until the
 * readback confirms it). */
static void test_estop_off_is_the_next_request(void **state)
{
        struct fx *f = *state;
        struct modbus_op op;

        charging(f);
        /* Into the middle of a read cycle: its first block (the output
         * read back) has been read, input 0..7 would be next. */
        for (unsigned guard = 0;; guard++) {
                assert_true(guard < 1000);
                if (step(f) == MODBUS_OP_READ && f->log[f->n_log - 1].fc == 1)
                        break;
        }
        command(f, POWER_OFF, 0, 0);
        modbus_device_next(&f->m, f->now, &op);
        if (op.kind == MODBUS_OP_PAUSE) {       /* the bus's minimum gap */
                f->now = op.until_us;
                modbus_device_next(&f->m, f->now, &op);
        }
        assert_int_equal(op.kind, MODBUS_OP_WRITE);
        assert_int_equal(op.function, 5);
        assert_int_equal(op.address, 0);
        assert_int_equal(op.values[0], 0);
}

/* An OFF right after the enable of a power command went through, before
 * the pass that follows it: the output is on although the OFF confirmed
 * before the command is still the last thing read back, so the disable is
 * the very next request (found by fuzz-modbus-device). */
static void test_off_right_after_the_enable_is_the_next_request(void **state)
{
        struct fx *f = *state;
        struct modbus_op op;

        up_and_ready(f);
        assert_int_equal(count_events(f, MODBUS_EVENT_OFF_CONFIRMED), 1);
        command(f, POWER_CHARGE, 4000, 500);
        for (unsigned guard = 0;; guard++) {
                assert_true(guard < 1000);
                if (step(f) == MODBUS_OP_WRITE && is_write(&f->log[f->n_log - 1], 5, 0, 1))
                        break;
        }
        assert_int_equal(f->coil[0], 1);
        command(f, POWER_OFF, 0, 0);
        modbus_device_next(&f->m, f->now, &op);
        if (op.kind == MODBUS_OP_PAUSE) {       /* the bus's minimum gap */
                f->now = op.until_us;
                modbus_device_next(&f->m, f->now, &op);
        }
        assert_int_equal(op.kind, MODBUS_OP_WRITE);
        assert_int_equal(op.function, 5);
        assert_int_equal(op.address, 0);
        assert_int_equal(op.values[0], 0);
        run_for(f, 300 * MS);
        assert_int_equal(f->coil[0], 0);
        assert_int_equal(count_events(f, MODBUS_EVENT_OFF_CONFIRMED), 2);
}

/* The stop: the disable and zero setpoints, read back until confirmed (an
 * output that takes 500 ms to obey), then the shutdown sequence (remote
 * control released), then close. */
static void test_stop_insists_until_confirmed(void **state)
{
        struct fx *f = *state;
        size_t from;
        long off, release;

        charging(f);
        f->ignores_disable = true;
        from = mark(f);
        modbus_device_stop(&f->m, f->now);
        command(f, POWER_CHARGE, 4000, 500);    /* ignored from now on */
        run_for(f, 500 * MS);
        assert_false(f->done);
        assert_true(count_writes(f, from, 5, 0, 0) >= 4);
        assert_int_equal(count_writes(f, from, 5, 0, 1), 0);
        f->ignores_disable = false;
        run_for(f, 1 * SEC);
        assert_true(f->done);
        assert_int_equal(f->coil[0], 0);
        assert_int_equal(f->holding[10], 0);
        off = find_write(f, from, 5, 0, 0);
        release = find_write(f, from, 6, 10, 0);
        assert_true(off >= 0 && off < release);
        assert_int_equal(f->log[f->n_log - 1].kind, MODBUS_OP_CLOSE);
        assert_int_equal(count_events(f, MODBUS_EVENT_STOPPED_OFF), 1);
        assert_int_equal(count_events(f, MODBUS_EVENT_STOPPED_NOT_OFF), 0);
}

/* An output that never confirms: the stop insists for shutdown_timeout_ms
 * (2 s), says so, and still runs the shutdown sequence. */
static void test_stop_gives_up_at_shutdown_timeout(void **state)
{
        struct fx *f = *state;
        const struct modbus_event *e;
        uint64_t t0;

        charging(f);
        f->ignores_disable = true;
        t0 = f->now;
        modbus_device_stop(&f->m, f->now);
        run_for(f, 1900 * MS);
        assert_false(f->done);
        run_for(f, 500 * MS);
        assert_true(f->done);
        assert_true(f->now >= t0 + 2 * SEC);
        e = last_event(f, MODBUS_EVENT_STOPPED_NOT_OFF);
        assert_non_null(e);
        assert_string_equal(e->text, "output NOT confirmed off at exit: no confirmation from the device");
        assert_int_equal(f->holding[10], 0);
}

/* A stop while the bus is down: connections tried every 100 ms; the server
 * back, the disable goes out and is confirmed. */
static void test_stop_while_down_connects_first(void **state)
{
        struct fx *f = *state;
        size_t from;

        charging(f);
        f->up = false;
        run_for(f, 300 * MS);
        from = mark(f);
        modbus_device_stop(&f->m, f->now);
        run_for(f, 500 * MS);
        assert_true(count_kind(f, from, MODBUS_OP_CONNECT) >= 4);
        f->up = true;
        run_for(f, 1 * SEC);
        assert_true(f->done);
        assert_int_equal(f->coil[0], 0);
        assert_int_equal(count_events(f, MODBUS_EVENT_STOPPED_OFF), 1);
}

/* The fault word: a fault (named by its bits) once, not at every cycle; not
 * ready meanwhile; cleared once. */
static void test_fault_word(void **state)
{
        struct fx *f = *state;
        const struct modbus_event *e;
        struct modbus_device_status st;

        charging(f);
        f->fault = 0x0004;
        fake_update(f);
        run_for(f, 500 * MS);
        st = status(f);
        assert_true(st.m.fault);
        assert_false(st.m.ready);
        assert_true(st.m.link_ok);
        assert_non_null(strstr(st.reason, "over-temperature"));
        assert_int_equal(count_events(f, MODBUS_EVENT_FAULT), 1);
        e = last_event(f, MODBUS_EVENT_FAULT);
        assert_string_equal(e->text, "converter reports a fault: over-temperature (fault word 0x0004, status word 0x0010)");
        /* Another bit: another event. */
        f->fault = 0x0006;
        fake_update(f);
        run_for(f, 300 * MS);
        assert_int_equal(count_events(f, MODBUS_EVENT_FAULT), 2);
        f->fault = 0;
        fake_update(f);
        run_for(f, 300 * MS);
        assert_false(status(f).m.fault);
        assert_int_equal(count_events(f, MODBUS_EVENT_FAULT_CLEARED), 1);
        assert_string_equal(status(f).reason, "");
}

/* The status word: ready only with its ready bit (here: under remote
 * control); the output_on bit is what confirms an OFF. */
static void test_status_word_ready_and_output_on(void **state)
{
        struct fx *f = *state;

        up_and_ready(f);
        f->holding[10] = 0;     /* the converter left remote control */
        fake_update(f);
        run_for(f, 300 * MS);
        assert_true(status(f).m.link_ok);
        assert_false(status(f).m.ready);
        f->holding[10] = 1;
        fake_update(f);
        run_for(f, 300 * MS);
        assert_true(status(f).m.ready);
}

/* TCP: a read that times out is followed by a new connection at once (a
 * late answer would be taken for the next one); no value is taken from it;
 * one event with the reason. */
static void test_tcp_timeout_reconnects(void **state)
{
        struct fx *f = *state;
        const struct modbus_event *e;
        size_t from;

        charging(f);
        from = mark(f);
        script(f, 4, 0, MODBUS_RESULT_TIMEOUT, 1, true);
        run_for(f, 1 * SEC);
        assert_int_equal(f->closes, 1);
        assert_int_equal(count_kind(f, from, MODBUS_OP_CONNECT), 1);
        e = last_event(f, MODBUS_EVENT_LINK_PROBLEM);
        assert_non_null(e);
        assert_string_equal(e->text, "read input 0+8: Connection timed out");
        assert_int_equal(count_events(f, MODBUS_EVENT_LINK_OK), 1);
        /* The link was never lost (one cycle missed of a 1 s timeout). */
        assert_true(status(f).m.link_ok);
        /* Back to charging: power wanted, so no disable after the connect. */
        assert_int_equal(count_writes(f, from, 5, 0, 0), 0);
        assert_int_equal(f->coil[0], 1);
}

/* RTU: a late reply is waited out (one response timeout), the line
 * flushed, and the bus goes on without closing. */
static void test_rtu_late_reply_waits_then_flushes(void **state)
{
        struct fx *f = *state;
        size_t from;
        long t_req = -1;

        fx_params(f, MODBUS_TRANSPORT_RTU);
        fx_start(f);
        charging(f);
        from = mark(f);
        script(f, 4, 0, MODBUS_RESULT_GARBLED, 1, true);
        run_for(f, 1500 * MS);
        assert_int_equal(f->closes, 0);
        assert_int_equal(f->flushes, 1);
        for (size_t i = from; i < f->n_log; i++) {
                if (f->log[i].result == MODBUS_RESULT_GARBLED)
                        t_req = (long)i;
                if (f->log[i].kind == MODBUS_OP_FLUSH) {
                        assert_true(t_req >= 0);
                        assert_true(f->log[i].t >= f->log[t_req].t + 500 * MS);
                }
        }
        assert_true(status(f).m.link_ok);
        assert_int_equal(f->coil[0], 1);
}

/* RTU: silent for longer than link_timeout_ms, the device counts as
 * restarted: when it answers again, OFF first (the core wants OFF by then),
 * init sequence, capabilities. */
static void test_rtu_silence_restarts_the_device(void **state)
{
        struct fx *f = *state;
        size_t from;
        long off, remote, caps;
        unsigned published;

        fx_params(f, MODBUS_TRANSPORT_RTU);
        fx_start(f);
        charging(f);
        script(f, 0, -1, MODBUS_RESULT_TIMEOUT, -1, false);
        published = f->publishes;
        run_for(f, 1500 * MS);
        assert_false(status(f).m.link_ok);
        /* Nothing answers, every read takes a timeout and a pause: the
         * status is still published after every pass (the loss on time). */
        assert_true(f->publishes - published >= 1);
        command(f, POWER_OFF, 0, 0);
        run_for(f, 1 * SEC);
        script_clear(f);
        from = mark(f);
        run_for(f, 2 * SEC);
        off = find_write(f, from, 5, 0, 0);
        remote = find_write(f, from, 6, 10, 1);
        caps = -1;
        for (size_t i = from; i < f->n_log && caps < 0; i++)
                if (f->log[i].kind == MODBUS_OP_READ && f->log[i].addr == 100 && f->log[i].result == MODBUS_RESULT_OK)
                        caps = (long)i;
        assert_true(off >= 0 && remote > off && caps > remote);
        assert_true(status(f).m.link_ok);
        assert_int_equal(f->coil[0], 0);
        assert_int_equal(f->closes, 0);
}

/* Exceptions are answers: no reconnect, but without a complete read cycle
 * the link counts as lost after link_timeout_ms; the disable still goes
 * out. */
static void test_exceptions_keep_the_connection(void **state)
{
        struct fx *f = *state;
        const struct modbus_event *e;
        size_t from;

        charging(f);
        from = mark(f);
        script(f, 4, 0, MODBUS_RESULT_EXCEPTION, -1, false);
        run_for(f, 1100 * MS);
        assert_false(status(f).m.link_ok);
        assert_int_equal(f->closes, 0);
        assert_int_equal(count_kind(f, from, MODBUS_OP_CONNECT), 0);
        e = last_event(f, MODBUS_EVENT_LINK_PROBLEM);
        assert_string_equal(e->text, "read input 0+8: Slave device or server failure");
        assert_non_null(strstr(status(f).reason, "link lost: read input 0+8"));
        command(f, POWER_OFF, 0, 0);
        run_for(f, 200 * MS);
        assert_int_equal(f->coil[0], 0);
        script_clear(f);
        run_for(f, 300 * MS);
        assert_true(status(f).m.link_ok);
        assert_string_equal(status(f).reason, "");
}

/* The link counts as lost exactly link_timeout_ms after the last complete
 * cycle, and the machine idles no longer than that (published on time). */
static void test_link_lost_on_time(void **state)
{
        struct fx *f = *state;
        struct modbus_device_status st;
        uint64_t last_ok = 0, expiry;

        charging(f);
        script(f, 4, 0, MODBUS_RESULT_EXCEPTION, -1, false);
        for (size_t i = f->n_log; i > 0; i--)
                if (f->log[i - 1].kind == MODBUS_OP_READ && f->log[i - 1].result == MODBUS_RESULT_OK &&
                    f->log[i - 1].fc == 4 && f->log[i - 1].addr == 0) {
                        /* the last block of the last complete cycle */
                        last_ok = f->log[i - 1].t;
                        break;
                }
        assert_true(last_ok > 0);
        expiry = last_ok + 1 * SEC;
        for (unsigned guard = 0; f->now < expiry; guard++) {
                assert_true(guard < 10000);
                if (step(f) == MODBUS_OP_IDLE)
                        assert_true(f->idle_until <= expiry);
        }
        modbus_device_status(&f->m, 0, expiry - 1, &st);
        assert_true(st.m.link_ok);
        modbus_device_status(&f->m, 0, expiry, &st);
        assert_false(st.m.link_ok);
        assert_false(st.m.ready);
}

/* Connections refused: tried again after 100, 200, 400 ... ms, never more
 * than reconnect_max_ms (5 s) apart; a good cycle brings the backoff back to
 * 100 ms.  One event per attempt, the same reason. */
static void test_backoff_doubles_then_resets(void **state)
{
        struct fx *f = *state;
        uint64_t t[12];
        size_t n = 0;

        f->up = false;
        run_for(f, 30 * SEC);
        for (size_t i = 0; i < f->n_log && n < 12; i++)
                if (f->log[i].kind == MODBUS_OP_CONNECT)
                        t[n++] = f->log[i].t;
        assert_true(n >= 8);
        for (size_t i = 1; i < n; i++) {
                uint64_t want = (100ull << (i - 1)) * MS;

                if (want > 5 * SEC)
                        want = 5 * SEC;
                /* (each attempt takes 1 ms here) */
                assert_true(t[i] - t[i - 1] >= want && t[i] - t[i - 1] <= want + 2 * MS);
        }
        assert_string_equal(last_event(f, MODBUS_EVENT_LINK_PROBLEM)->text, "connect: Connection refused");
        assert_false(last_event(f, MODBUS_EVENT_LINK_PROBLEM)->settings_error);

        f->up = true;
        run_for(f, 6 * SEC);
        assert_true(status(f).m.link_ok);
        /* The connection breaks: reconnected at once (a good cycle on it),
         * then refused: 100 ms again. */
        f->up = false;
        n = 0;
        {
                size_t from = mark(f);

                run_for(f, 1 * SEC);
                for (size_t i = from; i < f->n_log && n < 4; i++)
                        if (f->log[i].kind == MODBUS_OP_CONNECT)
                                t[n++] = f->log[i].t;
        }
        assert_true(n >= 3);
        assert_true(t[1] - t[0] >= 100 * MS && t[1] - t[0] <= 102 * MS);
}

/* A write that got no answer (RTU) is tried again before any read. */
static void test_unanswered_write_retried_before_reads(void **state)
{
        struct fx *f = *state;
        size_t from;
        long w1, w2;

        fx_params(f, MODBUS_TRANSPORT_RTU);
        fx_start(f);
        charging(f);
        from = mark(f);
        script(f, 6, 0, MODBUS_RESULT_TIMEOUT, 1, false);
        command(f, POWER_CHARGE, 4500, 500);
        run_for(f, 1500 * MS);
        w1 = -1;
        for (size_t i = from; i < f->n_log; i++)
                if (f->log[i].kind == MODBUS_OP_WRITE && f->log[i].result == MODBUS_RESULT_TIMEOUT)
                        w1 = (long)i;
        assert_true(w1 >= 0);
        w2 = find_write(f, (size_t)w1 + 1, 6, 0, 4500);
        assert_true(w2 > w1);
        for (long i = w1 + 1; i < w2; i++)
                assert_true(f->log[i].kind != MODBUS_OP_READ);
        assert_int_equal(f->holding[0], 4500);
}

/* The init sequence refused (an exception): the start is tried again at
 * the poll rate, not in a loop; nothing is read meanwhile. */
static void test_failed_start_retried_at_poll_rate(void **state)
{
        struct fx *f = *state;
        unsigned n = 0;
        uint64_t t[4];

        script(f, 6, 10, MODBUS_RESULT_EXCEPTION, 3, false);
        run_for(f, 1 * SEC);
        for (size_t i = 0; i < f->n_log && n < 4; i++)
                if (is_write(&f->log[i], 6, 10, 1))
                        t[n++] = f->log[i].t;
        assert_int_equal(n, 4);
        for (size_t i = 1; i < n; i++)
                assert_true(t[i] - t[i - 1] >= 100 * MS && t[i] - t[i - 1] <= 120 * MS);
        assert_true(status(f).m.ready);
}

/* Requests are at least min_gap_ms apart. */
static void test_min_gap_between_requests(void **state)
{
        struct fx *f = *state;
        uint64_t last_end = 0;

        modbus_device_set_timing(&f->m, &(struct modbus_device_timing) {
                .poll_interval_ms = 100, .setpoint_refresh_ms = 1000, .link_timeout_ms = 1000, .min_gap_ms = 20 });
        charging(f);
        for (size_t i = 0; i < f->n_log; i++) {
                if (f->log[i].kind == MODBUS_OP_CONNECT) {
                        last_end = 0;
                        continue;
                }
                if (f->log[i].kind != MODBUS_OP_READ && f->log[i].kind != MODBUS_OP_WRITE)
                        continue;
                if (last_end)
                        assert_true(f->log[i].t - REQUEST_US >= last_end + 20 * MS);
                last_end = f->log[i].t;
        }
}

/* A new setpoint that comes after the pass's writes goes out in another
 * pass at once, not a poll interval later. */
static void test_new_setpoint_mid_pass_goes_out_at_once(void **state)
{
        struct fx *f = *state;
        uint64_t t0;
        long w;

        charging(f);
        for (unsigned guard = 0;; guard++) {
                assert_true(guard < 1000);
                if (step(f) == MODBUS_OP_READ && f->log[f->n_log - 1].fc == 4)
                        break;
        }
        t0 = f->now;
        command(f, POWER_CHARGE, 4100, 500);
        run_for(f, 50 * MS);
        w = find_write(f, 0, 6, 0, 4100);
        assert_true(w >= 0);
        assert_true(f->log[w].t - t0 < 20 * MS);
}

/* A monitor on the converter's bus: its resistance replaces the
 * converter's; lost after it answered, it is a fault; never heard from, the
 * converter is not ready. */
static void test_merge_with_the_insulation_monitor(void **state)
{
        struct modbus_device_status conv = { .m = { .link_ok = true, .ready = true, .insulation_kohm = 1000,
                                                    .voltage_dv = 4000 } };
        struct modbus_device_status mon = { .m = { .link_ok = true, .insulation_kohm = 150 }, .seen = true };
        struct power_measurement m;
        char why[256];

        (void)state;
        modbus_device_merge(&conv, NULL, false, &m, why, sizeof(why));
        assert_int_equal(m.insulation_kohm, 1000);
        assert_true(m.ready);
        modbus_device_merge(&conv, &mon, true, &m, why, sizeof(why));
        assert_int_equal(m.insulation_kohm, 150);
        assert_int_equal(m.voltage_dv, 4000);
        assert_true(m.ready);
        assert_false(m.fault);
        mon.m.link_ok = false;
        snprintf(mon.reason, sizeof(mon.reason), "insulation monitor (tcp x unit 3): link lost: no answer");
        modbus_device_merge(&conv, &mon, true, &m, why, sizeof(why));
        assert_true(m.fault);
        assert_false(m.ready);
        assert_int_equal(m.insulation_kohm, POWER_INSULATION_UNKNOWN);
        assert_string_equal(why, mon.reason);
        mon.seen = false;
        modbus_device_merge(&conv, &mon, true, &m, why, sizeof(why));
        assert_false(m.fault);
        assert_false(m.ready);
        modbus_device_merge(&conv, &mon, false, &m, why, sizeof(why));
        assert_string_equal(why, "insulation monitor: no answer yet");
}

/* The machine with both devices on one bus: each read with its own unit
 * id; the monitor's fault bits make its status a fault. */
static void test_monitor_on_the_same_bus(void **state)
{
        struct fx *f = *state;
        struct modbus_params mon;
        struct modbus_device_config devs[2];
        struct modbus_device_status st;
        char err[512];
        uint16_t r[2];
        bool conv_read = false, mon_read = false;

        modbus_params_defaults(&mon);
        mon.transport = MODBUS_TRANSPORT_TCP;
        mon.unit_id = 3;
        if (modbus_profile_load(PROFILE_DIR "/bender-isocha425hv.conf", &mon.profile, err, sizeof(err)) < 0)
                fail_msg("%s", err);
        devs[0] = (struct modbus_device_config) { .params = &f->params, .role = MODBUS_ROLE_CONVERTER };
        devs[1] = (struct modbus_device_config) { .params = &mon, .role = MODBUS_ROLE_MONITOR };
        assert_int_equal(modbus_device_init(&f->m, devs, 2), 0);
        assert_int_equal(modbus_pack_encode(MODBUS_TYPE_F32, MODBUS_WORDS_BIG, 2000.0 * 1000.0, r), 0);
        f->monitor_regs[0] = r[0];
        f->monitor_regs[1] = r[1];
        f->monitor_regs[2] = 0x0002;
        f->monitor_regs[3] = 71;
        run_for(f, 500 * MS);
        for (size_t i = 0; i < f->n_log; i++) {
                conv_read |= f->log[i].kind == MODBUS_OP_READ && f->log[i].unit == 1;
                mon_read |= f->log[i].kind == MODBUS_OP_READ && f->log[i].unit == 3;
        }
        assert_true(conv_read && mon_read);
        modbus_device_status(&f->m, 1, f->now, &st);
        assert_true(st.m.link_ok);
        assert_int_equal(st.m.insulation_kohm, 2000);
        f->monitor_regs[2] = 0x0202;
        run_for(f, 300 * MS);
        modbus_device_status(&f->m, 1, f->now, &st);
        assert_true(st.m.fault);
        assert_non_null(strstr(st.reason, "insulation monitor"));
        /* A stop: the converter's off, both shutdown sequences, one close. */
        modbus_device_stop(&f->m, f->now);
        run_for(f, 3 * SEC);
        assert_true(f->done);
        assert_int_equal(f->closes, 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

/* B2, generic-bidirectional.conf: the sink ratings read at connect and
 * reported; a negative current written as a magnitude to set_sink_current
 * with set_current at 0, and back; OFF zeroes both.  generic.conf cannot
 * sink. */
static void test_bidirectional_sink_setpoint_and_rating(void **state)
{
        struct fx *f = *state;
        const struct modbus_event *rated;
        char err[512];
        size_t from;

        assert_false(modbus_profile_can_sink(&f->params.profile));
        if (modbus_profile_load(PROFILE_DIR "/generic-bidirectional.conf", &f->params.profile, err, sizeof(err)) < 0)
                fail_msg("%s", err);
        assert_true(modbus_profile_can_sink(&f->params.profile));
        fx_start(f);
        charging(f);
        rated = last_event(f, MODBUS_EVENT_RATED);
        assert_non_null(rated);
        assert_string_equal(rated->text,
                            "Generic bidirectional Modbus DC converter, rated 500 V / 100 A / 30000 W / 100 A sink / "
                            "30000 W sink");
        assert_int_equal(status(f).m.rating.max_sink_current_da, 1000);
        assert_int_equal(status(f).m.rating.max_sink_power_w, 30000);
        assert_int_equal(f->holding[2], 0);

        command(f, POWER_CHARGE, 4000, 0);
        run_for(f, 300 * MS);
        assert_int_equal(f->holding[1], 0);
        from = mark(f);
        command(f, POWER_CHARGE, 4000, -300);
        run_for(f, 300 * MS);
        assert_int_equal(f->holding[1], 0);
        assert_int_equal(f->holding[2], 300);
        assert_int_equal(f->coil[0], 1);
        assert_int_equal(status(f).m.current_da, -300);
        assert_int_equal(count_writes(f, from, 6, 1, 500), 0);
        /* A smaller discharge goes out before anything else of the pass. */
        from = mark(f);
        command(f, POWER_CHARGE, 4100, -100);
        run_for(f, 300 * MS);
        assert_true(find_write(f, from, 6, 2, 100) >= 0 && find_write(f, from, 6, 2, 100) < find_write(f, from, 6, 0, 4100));
        command(f, POWER_CHARGE, 4000, 0);
        run_for(f, 300 * MS);
        assert_int_equal(f->holding[2], 0);
        command(f, POWER_CHARGE, 4000, 200);
        run_for(f, 300 * MS);
        assert_int_equal(f->holding[1], 200);
        assert_int_equal(f->holding[2], 0);
        assert_int_equal(status(f).m.current_da, 200);

        command(f, POWER_CHARGE, 4000, 0);
        run_for(f, 300 * MS);
        command(f, POWER_CHARGE, 4000, -300);
        run_for(f, 300 * MS);
        assert_int_equal(f->holding[2], 300);
        command(f, POWER_OFF, 0, 0);
        run_for(f, 300 * MS);
        assert_int_equal(f->coil[0], 0);
        assert_int_equal(f->holding[1], 0);
        assert_int_equal(f->holding[2], 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_off_first_after_connect),
                T(test_setpoints_as_commanded_rating_reported),
                T(test_off_first_after_reconnect),
                T(test_current_before_voltage_when_lowering),
                T(test_keepalive_refresh),
                T(test_off_rewritten_until_confirmed),
                T(test_estop_off_is_the_next_request),
                T(test_off_right_after_the_enable_is_the_next_request),
                T(test_stop_insists_until_confirmed),
                T(test_stop_gives_up_at_shutdown_timeout),
                T(test_stop_while_down_connects_first),
                T(test_fault_word),
                T(test_status_word_ready_and_output_on),
                T(test_tcp_timeout_reconnects),
                T(test_rtu_late_reply_waits_then_flushes),
                T(test_rtu_silence_restarts_the_device),
                T(test_exceptions_keep_the_connection),
                T(test_link_lost_on_time),
                T(test_backoff_doubles_then_resets),
                T(test_unanswered_write_retried_before_reads),
                T(test_failed_start_retried_at_poll_rate),
                T(test_min_gap_between_requests),
                T(test_new_setpoint_mid_pass_goes_out_at_once),
                T(test_merge_with_the_insulation_monitor),
                T(test_monitor_on_the_same_bus),
                T(test_bidirectional_sink_setpoint_and_rating),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
