/* SPDX-License-Identifier: MIT */
/*
 * The glue of the daemon: the protocol core (one session per pistol)
 * between the CAN socket and the converter backends, on one libev loop.
 *
 *  - Pistols (struct bridge_pistol): a session each, with its D-Bus
 *    object, its publisher (MQTT, metrics file) and its reports.  A file
 *    without [pistol NAME] sections has one.  Frames are routed to the
 *    pistol of their identifier (bits 28..24).
 *  - Converters (struct bridge_unit): a backend each; its measurements go
 *    to the sessions of the pistols that use it.
 *  - With several pistols the arbiter (doc/sharing.md) decides which
 *    session may command a converter that pistols share: after every call
 *    into a session its status goes to arbiter_update(), after every
 *    measurement arbiter_converter_report(); a pistol's converter
 *    commands reach the converter only while arbiter_may_command(), a
 *    non-owner gets a "not ready, 0 V / 0 A" measurement; when a decision
 *    changes the holds are applied (until stable), converters without owner
 *    commanded OFF and the new owner's command replayed.
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

#include "seccbridge/arbiter.h"
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

struct bridge;

/* One pistol: its session and what reports it. */
struct bridge_pistol {
        struct bridge *b;
        uint8_t n;                      /* index into cfg->pistols and the arbiter */
        uint8_t index;                  /* the CAN pistol index */
        char module[24];                /* log module: "bridge" alone, "bridge: pistol 2" with several */
        struct session session;
        struct dbus_service dbus;       /* the D-Bus operator interface */
        struct telemetry telemetry;     /* what is published, and when */
        struct event_slot *event_slots; /* its event queue ([mqtt] event_queue_size) */
        struct mqtt mqtt;               /* ... to the MQTT broker */
        struct metrics_file metrics;    /* ... and to the metrics file */

        /* What was last logged / reported, to log changes only. */
        struct session_status last;
        bool last_valid;
        struct power_command command;   /* last converter command of the session */
        bool command_valid;
        bool discharge_refusal_logged;  /* B1: once per session */
        struct log_fault malformed;
        bool held;                      /* the arbiter's hold, as applied to the session */
};

/* One converter and its backend. */
struct bridge_unit {
        struct bridge *b;
        uint8_t n;                      /* index into cfg->units and the arbiter */
        struct converter conv;
        bool ready;                     /* opened */
        struct power_command command;   /* last command given to the backend */
        bool command_valid;
        struct power_measurement meas;  /* latest measurement */
        bool meas_valid;
        /* The arbiter's decision last logged (shared converters). */
        enum arbiter_converter_state logged_state;
        uint8_t logged_owner;
        uint8_t logged_offered;
};

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
        uint8_t n_pistols;
        struct bridge_pistol pistols[CONFIG_MAX_PISTOLS];
        uint8_t n_units;
        struct bridge_unit units[CONFIG_MAX_UNITS];
        /* Several pistols: which session may command which converter. */
        bool arbitrate;
        struct arbiter arbiter;
        uint64_t other_pistol_frames;   /* let in by a mask filter, no pistol of ours */
        uint64_t start_wall_us;

        bool can_ready;
        bool session_ready;
        bool stopping;

        ev_timer core_timer;
        uint64_t last_tick_us;          /* last run of the core timer callback */
        ev_timer stop_timer;            /* bounds the final transmit flush */
        ev_signal sig_term;
        ev_signal sig_int;
        ev_signal sig_hup;
        char status_line[512];          /* last STATUS= */
};

/* Copy the config and prepare every module; no I/O yet.  0 or -errno. */
int bridge_init(struct bridge *b, struct ev_loop *loop, const struct config *cfg);

/* Apply the CAN interface settings and open the socket.  -errno (logged)
 * when the interface is missing or unusable: exit status 69. */
int bridge_open_can(struct bridge *b);

/* Open the converter backends.  0 or -errno (logged by the backend). */
int bridge_open_converter(struct bridge *b);

/* Start the session, the core timer and the signal watchers, then tell
 * systemd we are ready.  0 or -errno (logged). */
int bridge_start(struct bridge *b);

/* Undo everything, in reverse order; safe after a failed start. */
void bridge_finish(struct bridge *b);

#endif
