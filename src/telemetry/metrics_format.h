/* SPDX-License-Identifier: MIT */
/*
 * Every counter and gauge of the daemon as a Prometheus text exposition
 * (the format node_exporter's textfile collector reads, version 0.0.4):
 * a HELP and a TYPE line per family, names with the unit and counters
 * ending in _total (Prometheus naming conventions), base units (volts,
 * amperes, watts, joules, ohms, celsius, seconds, ratio), one `pistol`
 * label on every sample so that the files of several pistols merge.
 * Enumerations (controller state, converter command, latched fault) are
 * state sets: one sample per value, 1 for the current one.  A value that
 * is not known (a temperature not measured, no SoC outside a session) has
 * no sample.  Pure: the caller gathers the values and writes the file.
 */
#ifndef SECCBRIDGE_METRICS_FORMAT_H
#define SECCBRIDGE_METRICS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seccbridge/session.h"
#include "telemetry.h"

#define METRICS_TEXT_MAX (32 * 1024)

/* The CAN socket's counters (see can.h). */
struct metrics_can {
        bool up;
        uint64_t rx_frames;
        uint64_t rx_kernel_drops;
        uint64_t error_frames;
        uint64_t tx_frames;
        uint64_t tx_dropped_overflow;
        uint64_t tx_dropped_down;
        uint64_t tx_errors;
        uint64_t reopens;
};

/* The MQTT connection's counters (see mqtt.h). */
struct metrics_mqtt {
        bool enabled;
        bool connected;
        uint64_t connections;           /* accepted by the broker */
        uint64_t connection_failures;   /* attempts that ended before that */
        uint64_t disconnections;        /* accepted connections that broke */
        uint64_t online_published;
};

struct metrics_input {
        uint8_t pistol;
        const char *version;
        const char *can_interface;
        const char *converter_backend;
        uint64_t start_wall_us;         /* process start, us since the epoch */
        struct session_status status;
        struct metrics_can can;
        const struct telemetry *telemetry;
        struct metrics_mqtt mqtt;
};

/* The text into buf: 0 with its length in *len, or -ENOSPC. */
int metrics_format(const struct metrics_input *in, char *buf, size_t cap, size_t *len);

#endif
