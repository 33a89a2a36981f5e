/* SPDX-License-Identifier: MIT */
/*
 * The glue of the daemon: the protocol core (session) between the CAN
 * socket and the converter backend, on one libev loop.
 *
 *  - CAN frames -> session_on_frame(); converter measurements ->
 *    session_on_measurement(); the session's frames -> can_send(), its
 *    converter command -> converter_command().
 *  - One ev_timer, re-armed after every core call to session_next_deadline()
 *    (never left disarmed: see notify.h for the idle tick and the watchdog).
 *  - CLOCK_MONOTONIC is read once at the start of each callback.
 *  - SIGTERM/SIGINT: orderly stop.  SIGHUP: reload the config file, keeping
 *    the running config when the new one is invalid or cannot be applied.
 *  - State changes are logged and sent as sd_notify STATUS= when they
 *    happen, never at every tick; the same report feeds the publisher
 *    (telemetry -> MQTT) and the metrics file.
 *
 * Start-up is split in steps so that main() can map each failure to its exit
 * status; bridge_finish() undoes whatever was done, in reverse order.
 */
#ifndef SECCBRIDGE_BRIDGE_H
#define SECCBRIDGE_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "seccbridge/session.h"
#include "dbus_service.h"
#include "can.h"
#include "can_link.h"
#include "config.h"
#include "converter.h"
#include "log.h"
#include "metrics_file.h"
#include "mqtt.h"
#include "notify.h"
#include "telemetry.h"

struct bridge {
        struct ev_loop *loop;
        uint64_t now_us;                /* read at the start of the running callback */

        /* The running config and a spare one for the next reload: the
         * converter may keep a pointer to the running one. */
        struct config cfgs[2];
        struct config *cfg;

        struct notify notify;
        struct can_link link;
        struct can can;
        struct converter conv;
        struct session session;
        struct dbus_service dbus;       /* the D-Bus operator interface */
        struct telemetry telemetry;     /* what is published, and when */
        struct event_slot *event_slots; /* its event queue ([mqtt] event_queue_size) */
        struct mqtt mqtt;               /* ... to the MQTT broker */
        struct metrics_file metrics;    /* ... and to the metrics file */
        uint64_t start_wall_us;

        bool can_ready;
        bool converter_ready;
        bool session_ready;
        bool stopping;

        ev_timer core_timer;
        uint64_t last_tick_us;          /* last run of the core timer callback */
        ev_timer stop_timer;            /* bounds the final transmit flush */
        ev_signal sig_term;
        ev_signal sig_int;
        ev_signal sig_hup;

        /* What was last logged / reported, to log changes only. */
        struct session_status last;
        bool last_valid;
        struct power_command command;   /* last converter command */
        bool command_valid;
        bool discharge_refusal_logged;  /* B1: once per session */
        struct log_fault malformed;
};

/* Copy the config and prepare every module; no I/O yet.  0 or -errno. */
int bridge_init(struct bridge *b, struct ev_loop *loop, const struct config *cfg);

/* Apply the CAN interface settings and open the socket.  -errno (logged)
 * when the interface is missing or unusable: exit status 69. */
int bridge_open_can(struct bridge *b);

/* Open the converter backend.  0 or -errno (logged by the backend). */
int bridge_open_converter(struct bridge *b);

/* Start the session, the core timer and the signal watchers, then tell
 * systemd we are ready.  0 or -errno (logged). */
int bridge_start(struct bridge *b);

/* Undo everything, in reverse order; safe after a failed start. */
void bridge_finish(struct bridge *b);

#endif
