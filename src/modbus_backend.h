/* SPDX-License-Identifier: MIT */
/*
 * The Modbus converter backends, "modbus-rtu" and "modbus-tcp", behind
 * struct converter_ops.  Their settings are those of the config's [modbus]
 * section, and of an optional insulation monitor in [insulation_monitor]
 * (see modbus_params.h).  One worker thread per bus (modbus_worker.h); the loop
 * thread only posts commands and reads results through ev_async, and never
 * calls libmodbus.
 *
 * What the measurements say:
 * - link_ok: the converter answered a complete read cycle within
 *   [modbus] link_timeout_ms;
 * - fault: the converter's fault or status word says so, or the insulation
 *   monitor (when configured) was lost or reports a device fault;
 * - ready: link up, no fault, init sequence done, the status word's ready
 *   bit (when the profile has one) and the insulation monitor answering;
 * - insulation: from the monitor when one is configured, else from the
 *   converter's own insulation point, else unknown.
 */
#ifndef SECCBRIDGE_MODBUS_BACKEND_H
#define SECCBRIDGE_MODBUS_BACKEND_H

#include <stddef.h>

#include "converter.h"
#include "modbus_params.h"

/* What the Modbus backends are given (struct converter_ops): the
 * converter's settings and the optional insulation monitor's. */
struct modbus_backend_settings {
        const struct modbus_params *converter;  /* [modbus] */
        const struct modbus_params *monitor;    /* [insulation_monitor]; NULL = none */
};

/* last_error(): the current problem of the converter or insulation monitor
 * link ("" when all is well), e.g. "converter (tcp 10.0.0.5:502 unit 1):
 * link lost: read input 0+9: Connection timed out".  Loop thread only. */
extern const struct converter_ops converter_modbus_rtu_ops;
extern const struct converter_ops converter_modbus_tcp_ops;

#endif
