/* SPDX-License-Identifier: MIT */
/*
 * The only door to libmodbus: every libmodbus call of the daemon is made
 * in modbus_io.c, and nowhere else includes <modbus.h> (a test checks the
 * objects' symbols).  A context is made, used and freed by one worker
 * thread; in builds with assertions every call checks that it runs on that
 * thread and not on the loop thread, and aborts otherwise, so that a
 * blocking Modbus request on the loop thread cannot go unnoticed in tests.
 *
 * libmodbus 3.1.6 behaviour this wrapper relies on or avoids:
 * - the error recovery mode stays MODBUS_ERROR_RECOVERY_NONE (LINK recovery
 *   can block for ever);
 * - the response and byte timeouts bound every call;
 * - floats are not packed here (see modbus_pack.h).
 *
 * Return codes: 0 or the count, or -errno; libmodbus's own codes
 * (exceptions, bad CRC...) come back as their negative values and are
 * told apart with the predicates below.
 */
#ifndef SECCBRIDGE_MODBUS_IO_H
#define SECCBRIDGE_MODBUS_IO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modbus_params.h"
#include "modbus_profile.h"

struct modbus_io;

/* Make a context for the bus described by p (nothing is opened yet).  Must
 * be called on the thread that will use it; loop_thread is the thread that
 * must never use it.  0 or -errno. */
int modbus_io_new(const struct modbus_params *p, pthread_t loop_thread, struct modbus_io **out);
void modbus_io_free(struct modbus_io *io);

/* Open the serial port (and its RS-485 mode) or the TCP connection.  0 or
 * -errno; *what names the step that failed ("rs485 mode", "connect"). */
int modbus_io_connect(struct modbus_io *io, const char **what);
void modbus_io_close(struct modbus_io *io);

int modbus_io_set_unit(struct modbus_io *io, uint8_t unit_id);

/* Read count registers (input/holding) or bits (coil/discrete, one 0/1 per
 * element of dst). */
int modbus_io_read(struct modbus_io *io, enum modbus_area area, uint16_t address, uint16_t count,
                   uint16_t *dst);

/* Write with function 05/15 (coil, value 0/1) or 06/16 (holding). */
int modbus_io_write(struct modbus_io *io, uint8_t function, uint16_t address, uint16_t count,
                    const uint16_t *values);

/* Drop whatever the device sent that nobody read. */
int modbus_io_flush(struct modbus_io *io);

/* Error classes, for the values returned above. */
bool modbus_io_error_is_exception(int err);     /* the device answered with an exception */
bool modbus_io_error_is_timeout(int err);
/* A reply that was not a valid answer (CRC, length, unit, function). */
bool modbus_io_error_is_garbled(int err);
const char *modbus_io_strerror(int err);

#endif
