/* SPDX-License-Identifier: MIT */
/*
 * One worker thread per Modbus bus (a serial port or a TCP endpoint): the
 * executor of the device machines on it (modbus_device.h), one per
 * converter, taking turns on the line (modbus_line.h).  It owns the bus's
 * libmodbus context (modbus_io.h), reads the clock, sleeps and waits; every
 * decision (what to ask the bus, whose turn it is, what an answer means) is
 * the machines'.
 *
 * A struct modbus_worker is one converter (and a monitor on its bus).
 * Converters started for the same serial port share its thread and context
 * (libmodbus: one context, one thread), each with its own machine, wanted
 * state, statuses and timing; their line settings (baud rate, parity, data
 * and stop bits, RS-485 mode, response and byte timeouts, min_gap_ms) must
 * agree and their unit ids differ.  A TCP converter keeps a connection of
 * its own, also when another one has the same endpoint (a gateway takes
 * several).
 *
 * The loop thread talks to it through two small mutex-protected slots and
 * never waits for the bus:
 * - in: the latest wanted converter state (modbus_worker_command()) and the
 *   timing, with a condition variable to wake the worker; the worker hands
 *   both to the machine before every request it makes, so an OFF that
 *   follows a power command is the very next request on the bus (a request
 *   in flight ends first, within its response timeout);
 * - out: the latest status of each device (modbus_worker_status()); after
 *   each update the worker calls the notify callback (the backend hands it
 *   ev_async_send(), so the loop reads the slot on its own thread).
 *
 * The machine's events become log lines here: a link problem once when it
 * starts (or its reason changes) and once when it ends, never at every retry.
 */
#ifndef SECCBRIDGE_MODBUS_WORKER_H
#define SECCBRIDGE_MODBUS_WORKER_H

#include <pthread.h>
#include <stddef.h>

#include "modbus_device.h"
#include "seccbridge/power.h"

struct modbus_worker;

/* Start a worker for devices on one bus (see modbus_device_init()): a new
 * thread, or a turn on the thread of the serial port when another converter
 * uses it already.  Runs on the loop thread (only), which the worker's
 * context will refuse to be called from.  notify(data) is called on the
 * worker thread after each status update.  0 or -errno (logged): -EINVAL
 * for a serial port in use with other line settings or a unit id taken. */
int modbus_worker_start(struct modbus_worker **out, const struct modbus_device_config *devices, size_t n,
                        pthread_t loop_thread, void (*notify)(void *data), void *data);

/* The latest wanted converter state.  Never blocks on the bus. */
void modbus_worker_command(struct modbus_worker *w, const struct power_command *cmd);

/* Copy the latest status of device i.  0, or -EAGAIN before the first. */
int modbus_worker_status(struct modbus_worker *w, size_t i, struct modbus_device_status *out);

void modbus_worker_set_timing(struct modbus_worker *w, const struct modbus_device_timing *t);

/* Ask the worker to stop: its machine switches the converter output off
 * (insisting up to shutdown_timeout_ms until the device confirms), runs the
 * profiles' shutdown sequences and leaves the bus; the last one on a bus
 * closes it and ends the thread.  Waits for all that, then frees.  Accepts
 * NULL. */
void modbus_worker_stop(struct modbus_worker *w);

#endif
