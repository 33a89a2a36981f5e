/* SPDX-License-Identifier: MIT */
/*
 * One RS-485 line shared by several converters (different unit ids), as a
 * pure state machine above their device machines (modbus_device.h): each
 * converter keeps its own machine (its wanted state, passes, link, faults,
 * stop) as if it had the line to itself, and this one decides whose request
 * goes out next and keeps the line's own state.  Like the device machine it
 * reads no clock, sleeps, locks, logs and makes no I/O: the worker thread
 * executes what it says.
 *
 *     for (;;) {
 *             modbus_line_next(l, now, &lop);          whose op, and what
 *             ... publish the slots in lop.publish, let go of those in lop.done,
 *             ... execute lop.op ...
 *             modbus_line_result(l, &result, now);     CONNECT, FLUSH, READ, WRITE
 *     }
 *
 * The decisions:
 * - Turns: every round asks each machine for its next op; among those
 *   with a request ready, the one after the last served goes next, one
 *   request each, so that a converter's status period is bounded by its own
 *   requests plus one request of each of the others per request of its own.
 * - Off first: a converter's off write (modbus_op.off) goes before every
 *   other request that is ready, whoever's turn it is: the very next
 *   request on the line after the one in flight.
 * - One connection: the first machine that asks to connect opens the port;
 *   the others are told at once that it is open.  A machine's CLOSE closes
 *   the port only after a request failed with an I/O error (the port is
 *   gone) or when it is the last machine on the line; the others then find
 *   it closed at their next request, take that as their own link loss (the
 *   error of the port, reported by each machine once) and reconnect with
 *   their own backoff.
 * - One unit's silence is that unit's problem: its machine handles its
 *   timeout (or garbled answer) as alone on the line, and the line itself
 *   stays quiet for one response timeout and flushes before anyone's next
 *   request, so that a late answer is never read as the answer to another
 *   unit's request (libmodbus 3.1.6 would take it; it also refuses, as
 *   garbled, an answer from another unit id than the one asked).  A unit
 *   whose last request failed so costs the line two response timeouts per
 *   request: until it answers again it goes only when nobody else has a
 *   request ready, or after MODBUS_LINE_SUSPECT_TURNS requests of the
 *   others, so that the others keep their poll rate and their links.  Its
 *   off writes wait so too: the first goes first (it is not suspect before
 *   it failed), the ones repeated at every pass until the device confirms
 *   would otherwise hold the line for ever.
 * - The silence between two requests (min_gap_ms) is the line's: the
 *   largest of the machines', counted from the line's last request.
 *
 * With a single machine every op passes through unchanged: a converter
 * alone on its line behaves exactly as without this layer.
 */
#ifndef SECCBRIDGE_MODBUS_LINE_H
#define SECCBRIDGE_MODBUS_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modbus_device.h"

#define MODBUS_LINE_MAX 8               /* machines (converters) on one line */
#define MODBUS_LINE_ERROR_MAX 96
#define MODBUS_LINE_SUSPECT_TURNS 8     /* requests of others before a silent unit's next */

struct modbus_line_slot {
        struct modbus_device_bus *m;    /* NULL: free */
        bool done;                      /* handed out DONE: waits to be detached */
        uint64_t gen;                   /* the connection it was told of; 0: none */
        uint32_t min_gap_ms;
        uint32_t response_timeout_ms;
        bool waiting;                   /* its last op was PAUSE or IDLE, published */
        uint64_t wait_until_us;
        bool suspect;                   /* its last request timed out or came back garbled */
        unsigned passed_over;           /* ready and suspect, others served meanwhile */
};

enum modbus_line_purpose {
        MODBUS_LINE_FOR_NOTHING,
        MODBUS_LINE_FOR_SLOT,           /* a machine's op: its result goes to it */
        MODBUS_LINE_FOR_FLUSH,          /* the line's own flush after a timeout */
};

struct modbus_line {
        struct modbus_line_slot slot[MODBUS_LINE_MAX];
        size_t turn;                    /* the first slot asked in the next round */
        bool connected;
        uint64_t gen;                   /* counts connections */
        bool broken;                    /* a request failed with an I/O error */
        int err;
        char error[MODBUS_LINE_ERROR_MAX];
        uint64_t last_end_us;           /* 0: no request on this connection */
        bool quiet;                     /* no request before quiet_until_us, then FLUSH */
        uint64_t quiet_until_us;

        enum modbus_line_purpose purpose;
        size_t op_slot;
        enum modbus_op_kind op_kind;
};

struct modbus_line_op {
        struct modbus_op op;            /* DONE: no machine left */
        size_t slot;                    /* whose op (CONNECT, CLOSE, FLUSH, READ, WRITE) */
        uint32_t publish;               /* bit per slot: publish its status first */
        uint32_t done;                  /* bit per slot: its machine is done, detach it */
};

void modbus_line_init(struct modbus_line *l);

/* Add a machine (initialised, not connected) with the line's timing from
 * its settings.  0 and *slot, or -ENOSPC. */
int modbus_line_attach(struct modbus_line *l, struct modbus_device_bus *m, uint32_t min_gap_ms,
                       uint32_t response_timeout_ms, size_t *slot);

/* A machine's gap after a reload. */
void modbus_line_set_gap(struct modbus_line *l, size_t slot, uint32_t min_gap_ms);

/* Remove a machine once it handed out DONE (lop.done). */
void modbus_line_detach(struct modbus_line *l, size_t slot);

/* Machines attached and not done yet. */
size_t modbus_line_live(const struct modbus_line *l);

/* What to do now (see above).  Ops not executed are forgotten: ask again. */
void modbus_line_next(struct modbus_line *l, uint64_t now_us, struct modbus_line_op *out);

/* The result of the last CONNECT, FLUSH, READ or WRITE handed out. */
void modbus_line_result(struct modbus_line *l, const struct modbus_result *r, uint64_t now_us);

#endif
