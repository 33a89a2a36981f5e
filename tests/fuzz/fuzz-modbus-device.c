/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the Modbus device machine (src/modbus_device.c) fed as the
 * bus worker feeds it: before every op the latest command, timing and stop
 * request, then the op executed with whatever the input says came of it
 * (an answer with arbitrary register words, a timeout, a garbled answer, an
 * exception, a failed port or connection; a connection refused), taking the
 * time the input says; a pause or an idle wait passes time (an idle cut
 * short by a command).  The converter uses one of the shipped profiles
 * (conf/profiles/, loaded once), over TCP or RTU, alone or with the
 * insulation monitor on the same bus.
 *
 * Invariants, checked after every call (abort() with a message when
 * violated), the harness's own reading of the contract (modbus_device.h):
 *  - requests of the right shape: a read of 1..125 registers or 1..256 bits
 *    (the plan's limits), a write with function 5, 6, 15 or 16 of one or
 *    two words (one for 5 and 6), to the unit of one of the devices;
 *  - while OFF or STANDBY is wanted, no write to the converter but the off
 *    writes (the enable's off value, zero setpoints) and the profile's init
 *    and shutdown steps: no power request;
 *  - a switch from power to OFF or STANDBY after an enable (or, with no
 *    enable, a current) that may have reached the converter, and that the
 *    converter has not reported off since, makes the off write the next
 *    request on the bus (the next one of the converter when the monitor
 *    shares the bus: a start of the monitor may come first); so does the
 *    stop;
 *  - every PAUSE and IDLE ends after the time given (no busy loop), and no
 *    IDLE after the stop;
 *  - told to stop, the machine says "stopped, off" or "stopped, NOT off"
 *    within shutdown_timeout_ms plus one attempt (every request of the
 *    converter's start, off writes and read-back, each with its gap and a
 *    flush), then ends (DONE) after at most the shutdown sequences and a
 *    close; nothing after DONE;
 *  - what a device says: link up only with an answered read of that device
 *    within link_timeout_ms, seen only after one, ready only with the link
 *    up and no fault; a present voltage or current only after an answered
 *    read of the converter; temperatures within +-1000 C or unknown.
 *
 * Input layout: see tests/fuzz/README.md.  SECCBRIDGE_FUZZ_TRACE=1 prints
 * every op and its outcome.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modbus_device.h"
#include "modbus_params.h"
#include "modbus_profile.h"

#ifndef PROFILE_DIR
#define PROFILE_DIR "conf/profiles"
#endif

#define MS 1000ull
#define MAX_PROFILES 32
#define MAX_OPS 400000u         /* per input: a machine that never ends is a finding */
#define CONVERTER_UNIT 1
#define MONITOR_UNIT 3
#define IMAGE_MAX 32            /* registers written and read back */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct modbus_profile converters[MAX_PROFILES], monitors[MAX_PROFILES];
static size_t n_converters, n_monitors;

struct input {
        const uint8_t *p;
        size_t n;
};

static uint8_t in_u8(struct input *in)
{
        uint8_t v;

        if (in->n == 0)
                return 0;
        v = *in->p++;
        in->n--;
        return v;
}

static uint16_t in_u16(struct input *in)
{
        uint16_t lo = in_u8(in);

        return (uint16_t)(lo | (uint16_t)in_u8(in) << 8);
}

struct written {
        uint8_t unit;
        enum modbus_area area;
        uint16_t address;
        uint16_t value;
};

struct harness {
        struct modbus_device_bus m;
        struct modbus_params params[MODBUS_DEVICE_MAX];
        size_t n_dev;
        struct modbus_device_timing t;
        uint64_t now;
        struct power_command cmd;       /* the wanted state, as the machine has it */

        bool connected;
        bool maybe_on;                  /* an enable (a current) may have reached the converter */
        int off_next;                   /* 0, 1: next converter request is an off write, 2: next request */
        bool ever_read[MODBUS_DEVICE_MAX];
        uint64_t last_read_ok[MODBUS_DEVICE_MAX];

        bool stopping;
        uint64_t stop_bound_us;         /* the stop's outcome by then (and one attempt) */
        uint64_t attempt_us;
        uint32_t max_poll_ms;           /* since the stop */
        bool stopped;                   /* STOPPED_OFF or STOPPED_NOT_OFF seen */
        unsigned ops_after_stopped;
        bool done;
        struct written image[IMAGE_MAX];
        size_t n_image;
        struct modbus_plan caps[MODBUS_DEVICE_MAX];
};

static struct harness h;
static int trace = -1;

static void violation(const char *what)
{
        fprintf(stderr, "invariant violated at t=%llu us: %s (profile %s%s)\n", (unsigned long long)h.now, what,
                h.params[0].profile.name, h.n_dev > 1 ? " with a monitor" : "");
        abort();
}

static int load_dir(const char *dir)
{
        struct dirent **list;
        int n = scandir(dir, &list, NULL, alphasort);

        if (n < 0)
                return -1;
        for (int i = 0; i < n; i++) {
                char path[512], err[512];
                size_t len = strlen(list[i]->d_name);
                struct modbus_profile *p;

                if (len > 5 && strcmp(list[i]->d_name + len - 5, ".conf") == 0 && n_converters < MAX_PROFILES &&
                    n_monitors < MAX_PROFILES) {
                        snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
                        p = &converters[n_converters];
                        if (modbus_profile_load(path, p, err, sizeof(err)) != 0) {
                                fprintf(stderr, "fuzz-modbus-device: %s\n", err);
                                exit(1);
                        }
                        if (modbus_profile_check_role(p, MODBUS_ROLE_CONVERTER, err, sizeof(err)) == 0)
                                n_converters++;
                        else if (modbus_profile_check_role(p, MODBUS_ROLE_MONITOR, err, sizeof(err)) == 0)
                                monitors[n_monitors++] = *p;
                }
                free(list[i]);
        }
        free(list);
        return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *dir = getenv("SECCBRIDGE_PROFILE_DIR");

        (void)argc;
        (void)argv;
        if (load_dir(dir ? dir : PROFILE_DIR) < 0 || n_converters == 0) {
                fprintf(stderr, "fuzz-modbus-device: no converter profile in %s\n", dir ? dir : PROFILE_DIR);
                exit(1);
        }
        return 0;
}

/* ---- the contract, as the harness reads it ---------------------------------- */

static const struct modbus_point *point(size_t k, enum modbus_point_id id)
{
        return &h.params[k].profile.points[id];
}

static bool step_matches(const struct modbus_step *s, size_t n, const struct modbus_op *op)
{
        for (size_t i = 0; i < n; i++)
                if (s[i].kind == MODBUS_STEP_WRITE && s[i].address == op->address &&
                    s[i].function == op->function && op->count == 1 && op->values[0] == s[i].value)
                        return true;
        return false;
}

/* A write to point id of the converter that sets it to zero. */
static bool zero_setpoint(const struct modbus_op *op, enum modbus_point_id id)
{
        const struct modbus_point *pt = point(0, id);
        struct modbus_caps caps = { .known = { true, true, true, true, true },
                                    .value = { 1000, 1000, 1000, 1000, 1000 } };
        double v;

        if (!pt->present || pt->address != op->address || pt->write_function != op->function)
                return false;
        return modbus_point_decode(pt, op->values, &caps, &v) == 0 && fabs(v) < 1e-6;
}

static bool is_setpoint(const struct modbus_op *op, enum modbus_point_id id)
{
        const struct modbus_point *pt = point(0, id);

        return pt->present && pt->address == op->address && pt->write_function == op->function;
}

/* An off write: the enable's off value, or a zero setpoint. */
static bool is_off_write(const struct modbus_op *op)
{
        const struct modbus_point *en = point(0, MODBUS_POINT_OUTPUT_ENABLE);

        if (op->kind != MODBUS_OP_WRITE || op->unit != CONVERTER_UNIT)
                return false;
        if (en->present && en->address == op->address && en->write_function == op->function)
                return op->values[0] == en->off;
        return zero_setpoint(op, MODBUS_POINT_SET_CURRENT) || zero_setpoint(op, MODBUS_POINT_SET_VOLTAGE) ||
               zero_setpoint(op, MODBUS_POINT_SET_SINK_CURRENT);
}

/* A write that may switch the converter's output on: the enable's on value,
 * or (no enable) a current that is not zero. */
static bool is_on_write(const struct modbus_op *op)
{
        const struct modbus_point *en = point(0, MODBUS_POINT_OUTPUT_ENABLE);

        if (op->kind != MODBUS_OP_WRITE || op->unit != CONVERTER_UNIT)
                return false;
        if (en->present)
                return en->address == op->address && en->write_function == op->function && op->values[0] == en->on &&
                       en->on != en->off;
        return (is_setpoint(op, MODBUS_POINT_SET_CURRENT) && !zero_setpoint(op, MODBUS_POINT_SET_CURRENT)) ||
               (is_setpoint(op, MODBUS_POINT_SET_SINK_CURRENT) && !zero_setpoint(op, MODBUS_POINT_SET_SINK_CURRENT));
}

static void check_request(const struct modbus_op *op)
{
        const struct modbus_profile *p = &h.params[0].profile;
        bool conv = op->unit == CONVERTER_UNIT;

        if (op->unit != CONVERTER_UNIT && !(h.n_dev > 1 && op->unit == MONITOR_UNIT))
                violation("a request to a unit of no device");
        if (op->kind == MODBUS_OP_READ) {
                bool bits = op->area == MODBUS_AREA_COIL || op->area == MODBUS_AREA_DISCRETE;

                if (op->count == 0 || op->count > (bits ? MODBUS_PROFILE_MAX_BITS : MODBUS_PROFILE_MAX_REGISTERS))
                        violation("a read of a count the protocol does not allow");
        } else {
                if (op->function != 5 && op->function != 6 && op->function != 15 && op->function != 16)
                        violation("a write with a function that is not a write");
                if (op->count == 0 || op->count > 2 || ((op->function == 5 || op->function == 6) && op->count != 1))
                        violation("a write of a count its function does not take");
        }
        if (h.off_next && (conv || h.off_next == 2)) {
                if (!is_off_write(op))
                        violation(conv ? "OFF wanted: the next request of the converter is not the off write"
                                       : "OFF wanted: the next request on the bus is not the converter's off write");
                h.off_next = 0;
        }
        if (op->kind == MODBUS_OP_WRITE && conv && !power_mode_regulates(h.cmd.mode)) {
                if (is_on_write(op))
                        violation("OFF wanted: the output switched on");
                if (!is_off_write(op) && !step_matches(p->init, p->n_init, op) &&
                    !step_matches(p->shutdown, p->n_shutdown, op))
                        violation("OFF wanted: a write that is neither an off write nor an init or shutdown step");
        }
}

static void check_status(void)
{
        for (size_t k = 0; k < h.n_dev; k++) {
                struct modbus_device_status st;

                modbus_device_status(&h.m, k, h.now, &st);
                if (st.m.link_ok && (!h.ever_read[k] || h.now >= h.last_read_ok[k] + h.t.link_timeout_ms * MS))
                        violation("link up without an answered read within link_timeout_ms");
                if (st.seen && !h.ever_read[k])
                        violation("seen without an answered read");
                if (st.m.ready && (!st.m.link_ok || st.m.fault))
                        violation("ready with the link down or a fault");
                if ((st.m.voltage_dv || st.m.current_da) && !h.ever_read[k])
                        violation("a measurement without an answered read");
                if ((st.m.module_temp_c != POWER_TEMPERATURE_UNKNOWN &&
                     (st.m.module_temp_c < -1000 || st.m.module_temp_c > 1000)) ||
                    (st.m.enclosure_temp_c != POWER_TEMPERATURE_UNKNOWN &&
                     (st.m.enclosure_temp_c < -1000 || st.m.enclosure_temp_c > 1000)))
                        violation("a temperature out of range");
                if (!memchr(st.reason, '\0', sizeof(st.reason)))
                        violation("reason not terminated");
        }
}

static void drain_events(void)
{
        struct modbus_event ev;

        while (modbus_device_event(&h.m, &ev)) {
                if (ev.device >= h.n_dev || !memchr(ev.text, '\0', sizeof(ev.text)))
                        violation("an event of no device, or its text not terminated");
                switch (ev.kind) {
                case MODBUS_EVENT_STOPPED_OFF:
                case MODBUS_EVENT_STOPPED_NOT_OFF:
                        if (!h.stopping || h.stopped)
                                violation("a stop outcome without a stop, or twice");
                        h.stopped = true;
                        break;
                case MODBUS_EVENT_OFF_CONFIRMED:
                        /* The device itself says its output is off. */
                        if (ev.device == 0)
                                h.maybe_on = false;
                        break;
                case MODBUS_EVENT_LINK_PROBLEM:
                case MODBUS_EVENT_LINK_OK:
                case MODBUS_EVENT_RATED:
                case MODBUS_EVENT_FAULT:
                case MODBUS_EVENT_FAULT_CLEARED:
                case MODBUS_EVENT_SHUTDOWN_FAILED:
                        break;
                }
        }
}

/* ---- the worker's side --------------------------------------------------------- */

static void command(const struct power_command *c)
{
        bool was_power = power_mode_regulates(h.cmd.mode);

        if (trace)
                fprintf(stderr, "%10llu command %s %u dV %d dA\n", (unsigned long long)h.now, power_mode_name(c->mode),
                        c->voltage_dv, c->current_da);
        modbus_device_command(&h.m, c, h.now);
        if (h.stopping)
                return;
        h.cmd = *c;
        if (was_power && !power_mode_regulates(c->mode) && h.maybe_on)
                h.off_next = h.n_dev == 1 ? 2 : 1;
        else if (power_mode_regulates(c->mode))
                h.off_next = 0;         /* power again before anything went out */
}

/* Longest time one attempt of the stop can take: every request of the
 * converter's start, its off writes and read-back, each after its gap and
 * followed by a flush, the init sequence's delays, the connect, a pause. */
static uint64_t attempt_us(void)
{
        const struct modbus_profile *p = &h.params[0].profile;
        struct modbus_plan plan, caps;
        /* A request: up to 61 ms answered (or the response timeout), after
         * a gap of up to 20 ms, then a flush after the response timeout. */
        uint64_t per_request = (64 + 20 + 2 * h.params[0].response_timeout_ms) * MS;
        uint64_t delays = 0;
        size_t requests;

        if (modbus_plan_build(p, false, &plan) != 0 || modbus_plan_build(p, true, &caps) != 0)
                violation("a shipped profile without a plan");
        for (size_t i = 0; i < p->n_init; i++)
                if (p->init[i].kind == MODBUS_STEP_DELAY)
                        delays += p->init[i].delay_ms * MS;
        requests = 2 + 2 * MODBUS_OUT_COUNT + plan.n_blocks + caps.n_blocks + p->n_init;
        return requests * per_request + delays + 200 * MS;
}

static void stop(void)
{
        if (h.stopping)
                return;
        if (trace)
                fprintf(stderr, "%10llu stop\n", (unsigned long long)h.now);
        modbus_device_stop(&h.m, h.now);
        h.stopping = true;
        h.cmd = (struct power_command) { .mode = POWER_OFF, .discharge = true };
        h.off_next = h.n_dev == 1 ? 2 : 1;
        h.max_poll_ms = h.t.poll_interval_ms;
        h.stop_bound_us = h.now + h.params[0].shutdown_timeout_ms * MS;
}

static void timing(struct input *in)
{
        uint32_t poll = 10 + 8u * in_u8(in);
        uint8_t r = in_u8(in);

        h.t = (struct modbus_device_timing) {
                .poll_interval_ms = poll,
                .setpoint_refresh_ms = r ? 100 + 40u * r : 0,
                .link_timeout_ms = (poll < 50 ? 50 : poll) + 20u * in_u8(in),
                .min_gap_ms = in_u8(in) % 21,
        };
        if (h.t.poll_interval_ms > h.max_poll_ms)
                h.max_poll_ms = h.t.poll_interval_ms;
        modbus_device_set_timing(&h.m, &h.t);
}

static void read_command(struct input *in, uint8_t b)
{
        struct power_command c = { .mode = (enum power_mode)(b & 7) };

        if (power_mode_regulates(c.mode)) {
                c.voltage_dv = in_u16(in);
                c.current_da = (int16_t)in_u16(in);
        }
        c.discharge = c.mode == POWER_OFF || (b & 0x08);
        command(&c);
}

static const char *const kind_name[] = { "connect", "close", "flush", "read", "write", "pause", "idle", "done" };
static const char *const result_name[] = { "ok", "timeout", "garbled", "exception", "io error" };

/* The device's registers as far as they were written (the rest reads 0). */
static bool image_area(const struct modbus_op *op, size_t i, enum modbus_area area)
{
        return h.image[i].unit == op->unit && h.image[i].area == area;
}

/* A read of a capability block: it reads 1000 (a rating of some sort),
 * measurements and words read 0. */
static bool is_cap_read(const struct modbus_op *op)
{
        size_t k = op->unit == CONVERTER_UNIT ? 0 : 1;

        for (size_t b = 0; b < h.caps[k].n_blocks; b++)
                if (h.caps[k].blocks[b].area == op->area && h.caps[k].blocks[b].start == op->address &&
                    h.caps[k].blocks[b].count == op->count)
                        return true;
        return false;
}

static uint16_t image_get(const struct modbus_op *op, uint16_t offset)
{
        uint16_t address = (uint16_t)(op->address + offset);

        for (size_t i = 0; i < h.n_image; i++)
                if (image_area(op, i, op->area) && h.image[i].address == address)
                        return h.image[i].value;
        return is_cap_read(op) ? 1000 : 0;
}

static void image_put(const struct modbus_op *op)
{
        enum modbus_area area = op->function == 5 || op->function == 15 ? MODBUS_AREA_COIL : MODBUS_AREA_HOLDING;

        for (uint16_t k = 0; k < op->count; k++) {
                uint16_t address = (uint16_t)(op->address + k);
                size_t i;

                for (i = 0; i < h.n_image; i++)
                        if (image_area(op, i, area) && h.image[i].address == address)
                                break;
                if (i == h.n_image) {
                        if (h.n_image == IMAGE_MAX)
                                return;
                        h.n_image++;
                }
                h.image[i] = (struct written) { .unit = op->unit, .area = area, .address = address,
                                                .value = op->values[k] };
        }
}

/* Execute op with what the input says came of it. */
static void execute(struct input *in, const struct modbus_op *op)
{
        static uint16_t values[MODBUS_PROFILE_MAX_BITS];
        struct modbus_result r = { .kind = MODBUS_RESULT_OK };
        uint8_t b;
        bool conv;

        switch (op->kind) {
        case MODBUS_OP_CONNECT:
                b = in_u8(in);
                h.now += (1 + (b >> 2)) * MS;
                if ((b & 3) == 3)
                        r = (struct modbus_result) { .kind = MODBUS_RESULT_IO_ERROR, .err = b & 4 ? -ENOTTY : -ECONNREFUSED,
                                                     .error = "Connection refused", .step = "connect" };
                else
                        h.connected = true;
                if (trace)
                        fprintf(stderr, "%10llu connect: %s\n", (unsigned long long)h.now, result_name[r.kind]);
                modbus_device_result(&h.m, &r, h.now);
                break;
        case MODBUS_OP_CLOSE:
                h.connected = false;
                break;
        case MODBUS_OP_FLUSH:
                h.now += 1 * MS;
                modbus_device_result(&h.m, &r, h.now);
                break;
        case MODBUS_OP_READ:
        case MODBUS_OP_WRITE:
                if (!h.connected)
                        violation("a request without a connection");
                check_request(op);
                b = in_u8(in);
                conv = op->unit == CONVERTER_UNIT;
                switch (b & 7) {
                case 4:
                        r.kind = MODBUS_RESULT_TIMEOUT;
                        break;
                case 5:
                        r.kind = MODBUS_RESULT_GARBLED;
                        break;
                case 6:
                        r.kind = MODBUS_RESULT_EXCEPTION;
                        break;
                case 7:
                        r.kind = MODBUS_RESULT_IO_ERROR;
                        break;
                default:
                        break;
                }
                h.now += r.kind == MODBUS_RESULT_TIMEOUT ? h.params[0].response_timeout_ms * MS
                                                           : (1 + 4 * ((b >> 3) & 15)) * MS;
                if (r.kind != MODBUS_RESULT_OK) {
                        r.err = -EIO;
                        r.error = result_name[r.kind];
                } else if (op->kind == MODBUS_OP_READ) {
                        bool bits = op->area == MODBUS_AREA_COIL || op->area == MODBUS_AREA_DISCRETE;

                        /* 0, 1: what the device holds (what was written
                         * to it, else 0); 2, 3: words from the input. */
                        for (uint16_t i = 0; i < op->count; i++) {
                                uint16_t v = (b & 7) < 2 ? image_get(op, i) : bits ? in_u8(in) : in_u16(in);

                                values[i] = bits ? v & 1 : v;
                        }
                        r.values = values;
                        h.ever_read[conv ? 0 : 1] = true;
                        h.last_read_ok[conv ? 0 : 1] = h.now;
                }
                if (op->kind == MODBUS_OP_WRITE && r.kind != MODBUS_RESULT_EXCEPTION &&
                    r.kind != MODBUS_RESULT_IO_ERROR)
                        image_put(op);
                if (conv) {
                        /* A write that got no answer may have been executed. */
                        if (is_on_write(op) && r.kind != MODBUS_RESULT_EXCEPTION)
                                h.maybe_on = true;
                        else if (r.kind == MODBUS_RESULT_OK && is_off_write(op) &&
                                 (point(0, MODBUS_POINT_OUTPUT_ENABLE)->present
                                          ? op->address == point(0, MODBUS_POINT_OUTPUT_ENABLE)->address
                                          : zero_setpoint(op, MODBUS_POINT_SET_CURRENT)))
                                h.maybe_on = false;
                }
                if (trace)
                        fprintf(stderr, "%10llu %s unit %u fc %u/area %d addr %u count %u value %u: %s\n",
                                (unsigned long long)h.now, kind_name[op->kind], op->unit, op->function, op->area,
                                op->address, op->count, op->values[0], result_name[r.kind]);
                modbus_device_result(&h.m, &r, h.now);
                break;
        case MODBUS_OP_PAUSE:
                if (op->until_us <= h.now)
                        violation("a pause that ends before it begins");
                h.now = op->until_us;
                break;
        case MODBUS_OP_IDLE:
                if (op->until_us <= h.now)
                        violation("an idle wait that ends before it begins (a busy loop)");
                if (h.stopping)
                        violation("an idle wait after the stop");
                b = in_u8(in);
                /* Cut short: a command, timing or the stop comes next. */
                if (b & 0x40)
                        h.now += (op->until_us - h.now) * (b & 0x3f) / 64;
                else
                        h.now = op->until_us;
                break;
        case MODBUS_OP_DONE:
                h.done = true;
                break;
        }
        if (trace && op->kind != MODBUS_OP_READ && op->kind != MODBUS_OP_WRITE && op->kind != MODBUS_OP_CONNECT)
                fprintf(stderr, "%10llu %s\n", (unsigned long long)h.now, kind_name[op->kind]);
}

/* One turn of the worker's loop. */
static void turn(struct input *in)
{
        struct modbus_op op;

        modbus_device_next(&h.m, h.now, &op);
        if (h.stopped)
                h.ops_after_stopped++;
        execute(in, &op);
        drain_events();
        check_status();
        if (h.stopping && !h.stopped && h.now > h.stop_bound_us + h.attempt_us + 2 * h.max_poll_ms * MS)
                violation("no outcome of the stop within shutdown_timeout_ms and one attempt");
        if (h.stopped && !h.done) {
                const struct modbus_profile *p = &h.params[0].profile;
                size_t steps = p->n_shutdown + (h.n_dev > 1 ? h.params[1].profile.n_shutdown : 0);

                if (h.ops_after_stopped > 5 * steps + 6)
                        violation("not done after the shutdown sequences and a close");
        }
}

static void setup(struct input *in)
{
        struct modbus_device_config dev[MODBUS_DEVICE_MAX];
        uint8_t b = in_u8(in), t;

        memset(&h, 0, sizeof(h));
        h.now = 1000 * MS;
        h.n_dev = (b & 0x40) && n_monitors ? 2 : 1;
        for (size_t k = 0; k < h.n_dev; k++) {
                struct modbus_params *p = &h.params[k];

                modbus_params_defaults(p);
                p->transport = b & 0x80 ? MODBUS_TRANSPORT_RTU : MODBUS_TRANSPORT_TCP;
                snprintf(p->host, sizeof(p->host), "192.0.2.1");
                snprintf(p->device, sizeof(p->device), "/dev/ttyS0");
                p->unit_id = k ? MONITOR_UNIT : CONVERTER_UNIT;
                p->profile = k ? monitors[(b >> 3) % n_monitors] : converters[(b & 0x3f) % n_converters];
                dev[k] = (struct modbus_device_config) { .params = p,
                                                         .role = k ? MODBUS_ROLE_MONITOR : MODBUS_ROLE_CONVERTER };
        }
        t = in_u8(in);
        h.params[0].poll_interval_ms = 10 + 8u * t;
        t = in_u8(in);
        h.params[0].setpoint_refresh_ms = t ? 100 + 40u * t : 0;
        h.params[0].link_timeout_ms = (h.params[0].poll_interval_ms < 50 ? 50 : h.params[0].poll_interval_ms) +
                                      20u * in_u8(in);
        h.params[0].min_gap_ms = in_u8(in) % 21;
        h.params[0].response_timeout_ms = 10 + 4u * in_u8(in);
        h.params[0].reconnect_max_ms = 100 + 100u * in_u8(in);
        h.params[0].shutdown_timeout_ms = 20u * in_u8(in);
        if (h.n_dev > 1) {
                h.params[1].response_timeout_ms = h.params[0].response_timeout_ms;
                h.params[1].min_gap_ms = h.params[0].min_gap_ms;
        }
        if (modbus_device_init(&h.m, dev, h.n_dev) != 0)
                violation("a shipped profile refused by modbus_device_init");
        for (size_t k = 0; k < h.n_dev; k++)
                if (modbus_plan_build(&h.params[k].profile, true, &h.caps[k]) != 0)
                        violation("a shipped profile without a capability plan");
        h.t = (struct modbus_device_timing) {
                .poll_interval_ms = h.params[0].poll_interval_ms,
                .setpoint_refresh_ms = h.params[0].setpoint_refresh_ms,
                .link_timeout_ms = h.params[0].link_timeout_ms,
                .min_gap_ms = h.params[0].min_gap_ms,
        };
        h.cmd = (struct power_command) { .mode = POWER_OFF, .discharge = true };
        h.attempt_us = attempt_us();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct input in = { data, size };
        unsigned ops = 0;

        if (trace < 0)
                trace = getenv("SECCBRIDGE_FUZZ_TRACE") != NULL;
        setup(&in);
        /* Events: a byte with bit 7 set is one for the machine before the
         * next op (low bits: 0-4 a command of that mode, 5 timing, 6 the
         * stop, 7 nothing); otherwise the next op runs with it as its
         * outcome. */
        while (in.n > 0 && !h.done) {
                uint8_t b = in.p[0];

                if (++ops > MAX_OPS)
                        violation("the machine never ends (too many ops)");
                if (b & 0x80) {
                        in_u8(&in);
                        switch (b & 7) {
                        case 5:
                                timing(&in);
                                break;
                        case 6:
                                stop();
                                break;
                        case 7:
                                break;
                        default:
                                read_command(&in, b & 0x7f);
                                break;
                        }
                        continue;
                }
                turn(&in);
        }
        /* The end: the stop, the device answering with zeros. */
        stop();
        while (!h.done) {
                if (++ops > MAX_OPS)
                        violation("the machine never ends after the stop (too many ops)");
                turn(&in);
        }
        return 0;
}
