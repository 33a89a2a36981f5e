/* SPDX-License-Identifier: MIT */
/*
 * One worker thread per Modbus bus (a serial port or a TCP endpoint).  It
 * owns the bus's libmodbus context (modbus_io.h) and serves the devices on
 * that bus: the converter, the insulation monitor, or both when they share
 * one RS-485 line.
 *
 * The loop thread talks to it through two small mutex-protected slots and
 * never waits for the bus:
 * - in: the latest wanted converter state (modbus_worker_command()), with
 *   a condition variable to wake the worker; a switch from a power command
 *   to OFF/STANDBY also bumps an atomic counter that the worker checks
 *   before every request, so the output-disable write is the very next
 *   request on the bus, whatever the worker was doing;
 * - out: the latest status of each device (modbus_worker_status()); after
 *   each update the worker calls the notify callback (the backend hands it
 *   ev_async_send(), so the loop reads the slot on its own thread).
 *
 * Each cycle, per device: (after a (re)connect: the output-disable write if
 * OFF is wanted, the profile's init sequence, the capability reads), the
 * writes that changed or whose refresh is due, then the measurements in as
 * few reads as the profile's plan allows.  See doc/profiles.md.
 */
#ifndef SECCBRIDGE_MODBUS_WORKER_H
#define SECCBRIDGE_MODBUS_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modbus_params.h"
#include "modbus_profile.h"
#include "seccbridge/power.h"

#define MODBUS_WORKER_MAX_DEVICES 2
#define MODBUS_WORKER_REASON_MAX 192

struct modbus_worker;

/* What a device last said, as the loop reads it. */
struct modbus_device_status {
        /* The converter fills everything; a monitor only insulation_kohm,
         * link_ok and fault. */
        struct power_measurement m;
        char reason[MODBUS_WORKER_REASON_MAX];  /* current problem, "" if none */
        bool seen;                              /* a complete cycle ever since start */
        uint64_t updates;                       /* counts publications */
};

struct modbus_worker_device {
        const struct modbus_params *params;     /* copied at start */
        enum modbus_role role;
};

/* Timing that a reload may change without a restart. */
struct modbus_worker_timing {
        uint32_t poll_interval_ms;
        uint32_t setpoint_refresh_ms;
        uint32_t link_timeout_ms;
        uint32_t min_gap_ms;
};

/* Start a worker for devices on one bus (the bus settings are those of
 * devices[0]; a converter, if any, must be devices[0]).  Runs on the loop
 * thread, which the worker's context will refuse to be called from.
 * notify(data) is called on the worker thread after each status update.
 * 0 or -errno (logged). */
int modbus_worker_start(struct modbus_worker **out, const struct modbus_worker_device *devices, size_t n,
                        pthread_t loop_thread, void (*notify)(void *data), void *data);

/* The latest wanted converter state.  Never blocks on the bus. */
void modbus_worker_command(struct modbus_worker *w, const struct power_command *cmd);

/* Copy the latest status of device i.  0, or -EAGAIN before the first. */
int modbus_worker_status(struct modbus_worker *w, size_t i, struct modbus_device_status *out);

void modbus_worker_set_timing(struct modbus_worker *w, const struct modbus_worker_timing *t);

/* Ask the worker to stop: it switches the converter output off (insisting
 * up to shutdown_timeout_ms until the device confirms), runs the profile's
 * shutdown sequence, closes the bus and exits; then join and free.
 * Accepts NULL. */
void modbus_worker_stop(struct modbus_worker *w);

#endif
