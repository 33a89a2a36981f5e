/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: 2 or 3 converters (units 1..3, conf/profiles/generic.conf)
 * on one RS-485 line (src/modbus_line.c above src/modbus_device.c), driven
 * as the worker thread drives them, against fake converters on a fake port:
 * commands, stops, units falling silent or answering garbled, exceptions,
 * the port going away, time passing, all chosen by the input.
 *
 * Input: one byte (bit 0: three converters), then events of two bytes, an
 * operation (low 3 bits) and its argument:
 *   0 command converter arg%n: off, charge (400 V / 50 A), standby
 *   1 the next answers of unit arg%n: ok, timeout, garbled, exception (arg/3)
 *   2 time passes: arg ms, ops executed meanwhile
 *   3 stop converter arg%n
 *   4 arg ops
 *   5 unit arg%n silent / answering
 *   6 the port gone / back
 * Checked at every op: no CONNECT while the port is open, no request while
 * it is closed; after a timeout or garbled answer on a shared line no
 * request before a FLUSH one response timeout later (a late answer would be
 * read as another unit's); requests only for units of converters still on
 * the line; no PAUSE or IDLE that has already ended (a busy loop); DONE
 * only when every converter stopped.  At the end, with every unit
 * answering: every running converter's link up within 3 s, and after the
 * stop of all, DONE, the port closed, every output off.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modbus_device.h"
#include "modbus_line.h"
#include "modbus_params.h"
#include "modbus_profile.h"

#ifndef PROFILE_DIR
#define PROFILE_DIR "conf/profiles"
#endif

#define MS 1000ull
#define UNITS 3
#define RESPONSE_TIMEOUT_MS 100

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct modbus_params params[UNITS];
static bool params_ok;

struct fake {
        uint16_t coil[16];
        uint16_t holding[16];
        uint16_t input[128];
        bool silent;
        enum modbus_result_kind next;   /* the next answers */
        unsigned next_n;
};

static struct {
        size_t n;
        struct modbus_device_bus m[UNITS];
        struct modbus_line line;
        struct fake unit[UNITS];
        bool stopped[UNITS];
        bool done[UNITS];
        bool all_done;
        uint64_t now;
        bool port_up;
        bool open;
        bool quiet;                     /* a request failed on a shared line: FLUSH first */
        uint64_t quiet_until;
} w;

static void check(bool ok, const char *what)
{
        if (ok)
                return;
        fprintf(stderr, "fuzz-modbus-line: %s (at %llu us)\n", what, (unsigned long long)w.now);
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *dir = getenv("SECCBRIDGE_PROFILE_DIR");
        char path[512], err[256];

        (void)argc;
        (void)argv;
        snprintf(path, sizeof(path), "%s/generic.conf", dir ? dir : PROFILE_DIR);
        for (size_t i = 0; i < UNITS; i++) {
                struct modbus_params *p = &params[i];

                modbus_params_defaults(p);
                p->transport = MODBUS_TRANSPORT_RTU;
                snprintf(p->device, sizeof(p->device), "/dev/ttyS0");
                p->unit_id = (uint8_t)(i + 1);
                p->response_timeout_ms = RESPONSE_TIMEOUT_MS;
                p->link_timeout_ms = 600;
                p->reconnect_max_ms = 400;
                p->shutdown_timeout_ms = 1000;
                if (modbus_profile_load(path, &p->profile, err, sizeof(err)) < 0) {
                        fprintf(stderr, "fuzz-modbus-line: %s\n", err);
                        return 0;
                }
        }
        params_ok = true;
        return 0;
}

static void fake_update(struct fake *u)
{
        bool remote = u->holding[10] == 1;
        bool running = u->coil[0] == 1 && remote;

        u->input[0] = running ? u->holding[0] : 0;
        u->input[1] = running ? u->holding[1] : 0;
        u->input[2] = 350;
        u->input[3] = 250;
        u->input[4] = (uint16_t)((remote ? 0x01 : 0) | (running ? 0x02 | 0x04 : 0) | (remote ? 0x10 : 0));
        u->input[6] = 0x4479;           /* 1000.0 */
        u->input[100] = 5000;
        u->input[101] = 1000;
        u->input[102] = 3000;
}

static void fake_execute(struct fake *u, const struct modbus_op *op, uint16_t *out)
{
        for (uint16_t i = 0; op->kind == MODBUS_OP_READ && i < op->count; i++) {
                uint16_t a = (uint16_t)(op->address + i);

                switch (op->area) {
                case MODBUS_AREA_COIL:
                        out[i] = a < 16 ? u->coil[a] : 0;
                        break;
                case MODBUS_AREA_HOLDING:
                        out[i] = a < 16 ? u->holding[a] : 0;
                        break;
                case MODBUS_AREA_INPUT:
                        out[i] = a < 128 ? u->input[a] : 0;
                        break;
                case MODBUS_AREA_DISCRETE:
                        out[i] = 0;
                        break;
                }
        }
        if (op->kind == MODBUS_OP_WRITE && op->address < 16) {
                if (op->function == 5)
                        u->coil[op->address] = op->values[0] ? 1 : 0;
                else
                        for (uint16_t i = 0; i < op->count && op->address + i < 16; i++)
                                u->holding[op->address + i] = op->values[i];
        }
        fake_update(u);
}

static void request(const struct modbus_op *op)
{
        struct modbus_result r = { .kind = MODBUS_RESULT_OK };
        uint16_t values[MODBUS_PROFILE_MAX_BITS];
        struct fake *u;
        bool shared = modbus_line_live(&w.line) > 1;

        check(w.open, "a request on a closed port");
        check(!w.quiet, "a request before the flush after a timeout on a shared line");
        check(op->unit >= 1 && op->unit <= w.n, "a request for a unit nobody has");
        check(!w.done[op->unit - 1], "a request for a converter that left the line");
        u = &w.unit[op->unit - 1];
        if (!w.port_up) {
                r = (struct modbus_result) { .kind = MODBUS_RESULT_IO_ERROR, .err = -EIO, .error = "Input/output error" };
                w.now += 1 * MS;
        } else if (u->silent || (u->next_n && u->next == MODBUS_RESULT_TIMEOUT)) {
                r = (struct modbus_result) { .kind = MODBUS_RESULT_TIMEOUT, .err = -ETIMEDOUT, .error = "timed out" };
                w.now += RESPONSE_TIMEOUT_MS * MS;
        } else if (u->next_n && u->next == MODBUS_RESULT_GARBLED) {
                r = (struct modbus_result) { .kind = MODBUS_RESULT_GARBLED, .err = -EIO, .error = "Invalid slave" };
                w.now += 4 * MS;
        } else if (u->next_n && u->next == MODBUS_RESULT_EXCEPTION) {
                r = (struct modbus_result) { .kind = MODBUS_RESULT_EXCEPTION, .err = -EIO, .error = "exception" };
                w.now += 4 * MS;
        } else {
                fake_execute(u, op, values);
                if (op->kind == MODBUS_OP_READ)
                        r.values = values;
                w.now += 4 * MS;
        }
        if (u->next_n)
                u->next_n--;
        if (shared && (r.kind == MODBUS_RESULT_TIMEOUT || r.kind == MODBUS_RESULT_GARBLED)) {
                w.quiet = true;
                w.quiet_until = w.now + RESPONSE_TIMEOUT_MS * MS;
        }
        modbus_line_result(&w.line, &r, w.now);
}

static void step(void)
{
        struct modbus_line_op lop;
        struct modbus_result ok = { .kind = MODBUS_RESULT_OK };

        modbus_line_next(&w.line, w.now, &lop);
        for (size_t i = 0; i < w.n; i++) {
                if (!((lop.done >> i) & 1))
                        continue;
                check(w.stopped[i], "DONE for a converter not stopped");
                w.done[i] = true;
                modbus_line_detach(&w.line, i);
        }
        switch (lop.op.kind) {
        case MODBUS_OP_CONNECT:
                check(!w.open, "a second connect while the port is open");
                w.now += 1 * MS;
                if (!w.port_up) {
                        struct modbus_result r = { .kind = MODBUS_RESULT_IO_ERROR, .err = -ENOENT,
                                                   .error = "No such file or directory", .step = "connect" };

                        modbus_line_result(&w.line, &r, w.now);
                        break;
                }
                w.open = true;
                w.quiet = false;
                modbus_line_result(&w.line, &ok, w.now);
                break;
        case MODBUS_OP_CLOSE:
                w.open = false;
                w.quiet = false;
                break;
        case MODBUS_OP_FLUSH:
                if (w.quiet && w.now >= w.quiet_until)
                        w.quiet = false;
                modbus_line_result(&w.line, &ok, w.now);
                break;
        case MODBUS_OP_READ:
        case MODBUS_OP_WRITE:
                request(&lop.op);
                break;
        case MODBUS_OP_PAUSE:
        case MODBUS_OP_IDLE:
                check(lop.op.until_us > w.now, "a wait that has already ended");
                check(lop.op.until_us - w.now <= 3600 * 1000 * MS, "a wait of more than an hour");
                w.now = lop.op.until_us;
                break;
        case MODBUS_OP_DONE:
                for (size_t i = 0; i < w.n; i++)
                        check(w.done[i], "DONE with a converter still on the line");
                w.all_done = true;
                break;
        }
        for (size_t i = 0; i < w.n; i++) {
                struct modbus_event ev;

                while (!w.done[i] && modbus_device_event(&w.m[i], &ev))
                        ;
        }
}

static void run_for(uint64_t dt)
{
        uint64_t end = w.now + dt;

        for (unsigned guard = 0; w.now < end && !w.all_done; guard++) {
                check(guard < 100000, "no time passes");
                step();
        }
}

static struct modbus_device_status status(size_t i)
{
        struct modbus_device_status st;

        modbus_device_status(&w.m[i], 0, w.now, &st);
        return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        bool running[UNITS];

        if (!params_ok || size < 1)
                return 0;
        memset(&w, 0, sizeof(w));
        w.n = data[0] & 1 ? 3 : 2;
        w.now = 5000 * MS;
        w.port_up = true;
        modbus_line_init(&w.line);
        for (size_t i = 0; i < w.n; i++) {
                const struct modbus_device_config dev = { .params = &params[i], .role = MODBUS_ROLE_CONVERTER };
                size_t slot;

                fake_update(&w.unit[i]);
                check(modbus_device_init(&w.m[i], &dev, 1) == 0, "init");
                check(modbus_line_attach(&w.line, &w.m[i], params[i].min_gap_ms, params[i].response_timeout_ms,
                                         &slot) == 0 && slot == i, "attach");
        }
        for (size_t k = 1; k + 1 < size && k < 1 + 2 * 200 && !w.all_done; k += 2) {
                uint8_t op = data[k] & 7, arg = data[k + 1];
                size_t i = arg % w.n;
                struct power_command c = { .mode = POWER_OFF, .discharge = true };

                switch (op) {
                case 0:
                        if ((arg / 3) % 3 == 1)
                                c = (struct power_command) { .mode = POWER_CHARGE, .voltage_dv = 4000, .current_da = 500 };
                        else if ((arg / 3) % 3 == 2)
                                c = (struct power_command) { .mode = POWER_STANDBY, .discharge = false };
                        modbus_device_command(&w.m[i], &c, w.now);
                        break;
                case 1: {
                        static const enum modbus_result_kind kinds[] = { MODBUS_RESULT_OK, MODBUS_RESULT_TIMEOUT,
                                                                         MODBUS_RESULT_GARBLED, MODBUS_RESULT_EXCEPTION };

                        w.unit[i].next = kinds[(arg / 3) % 4];
                        w.unit[i].next_n = 1 + (arg / 12) % 8;
                        break;
                }
                case 2:
                        run_for((uint64_t)arg * MS);
                        break;
                case 3:
                        if (!w.stopped[i]) {
                                w.stopped[i] = true;
                                modbus_device_stop(&w.m[i], w.now);
                        }
                        break;
                case 4:
                        for (unsigned s = 0; s < arg && !w.all_done; s++)
                                step();
                        break;
                case 5:
                        w.unit[i].silent = !w.unit[i].silent;
                        break;
                case 6:
                        w.port_up = !w.port_up;
                        break;
                default:
                        break;
                }
        }
        /* Everything answering again: every running converter back. */
        w.port_up = true;
        for (size_t i = 0; i < w.n; i++) {
                w.unit[i].silent = false;
                w.unit[i].next_n = 0;
        }
        run_for(3000 * MS);
        for (size_t i = 0; i < w.n; i++)
                if (!w.stopped[i])
                        check(status(i).m.link_ok, "a running converter's link not back within 3 s");
        for (size_t i = 0; i < w.n; i++) {
                running[i] = !w.stopped[i];
                if (running[i]) {
                        w.stopped[i] = true;
                        modbus_device_stop(&w.m[i], w.now);
                }
        }
        run_for(10000 * MS);
        check(w.all_done, "not DONE 10 s after the stop of all");
        check(!w.open, "the port left open");
        /* Stopped with everything answering (an earlier stop may have
         * given up while its unit was silent). */
        for (size_t i = 0; i < w.n; i++)
                check(!running[i] || w.unit[i].coil[0] == 0, "an output left on");
        return 0;
}
