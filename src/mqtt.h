/* SPDX-License-Identifier: MIT */
/*
 * Publishing to the operator's MQTT broker (libmosquitto) from the daemon's
 * libev loop: the only file that includes mosquitto.h.  What is published
 * and when is decided by the telemetry module (src/telemetry/telemetry.h);
 * this file connects, publishes and keeps the connection.  Topics, under
 * [mqtt] topic_prefix (default seccbridge/HOSTNAME/pistolN):
 *
 *   PREFIX/state    retained, QoS 1: the pistol's state, on change, rate-limited
 *   PREFIX/event    QoS 1: sessions, faults, reloads, drops (queued while away)
 *   PREFIX/online   retained, QoS 1: online, offline at a clean stop, and the
 *                   last will (offline, connection_lost) when the link drops
 *
 * doc/mqtt.md documents every field.  Nothing here may delay the CAN side:
 *  - no thread (never mosquitto_loop_start): the socket sits in an ev_io
 *    (read always, write while libmosquitto has something to write), the
 *    housekeeping (keepalive) on a 1 s timer, watchers at a lower priority
 *    than CAN and the core timer;
 *  - the socket is non-blocking and the connection is made with
 *    mosquitto_connect_async() to a numeric address or a Unix socket: no
 *    DNS lookup (config.c refuses names), a TLS handshake that proceeds as
 *    the socket becomes ready;
 *  - what libmosquitto holds is bounded: one state and event_window events
 *    in flight at most, the rest waits in the telemetry module's bounded
 *    queue (drops counted and reported);
 *  - reconnection after a jittered, doubling backoff (1 s up to
 *    reconnect_max_ms), a connection attempt bounded to 10 s, a refusal or
 *    an outage logged once with the broker's reason and once when it ends.
 * Design notes and the measured cost: doc/mqtt.md.
 *
 * One struct mqtt per pistol: several pistols in one process would each
 * have their own connection, client id, prefix and last will.
 */
#ifndef SECCBRIDGE_MQTT_H
#define SECCBRIDGE_MQTT_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "backoff.h"
#include "log.h"
#include "telemetry.h"
#include "telemetry_params.h"

#define MQTT_TOPIC_MAX 160
#define MQTT_EVENT_WINDOW 8             /* events in flight at most */
/* At stop, how long the broker gets to acknowledge the last messages. */
#define MQTT_STOP_WAIT_S 1.0

struct mosquitto;

struct mqtt_counters {
        uint64_t connections;           /* accepted by the broker */
        uint64_t connection_failures;   /* attempts that ended before that */
        uint64_t disconnections;        /* accepted connections that broke */
        uint64_t online_published;
};

enum mqtt_link_state {
        MQTT_IDLE,                      /* disabled, or not started */
        MQTT_WAITING,                   /* backoff before the next attempt */
        MQTT_CONNECTING,                /* socket opened, no CONNACK yet */
        MQTT_UP,                        /* the broker accepted the connection */
        MQTT_STOPPING,                  /* stop: offline published, waiting for the acknowledgements */
        MQTT_STOPPED,                   /* stop: DISCONNECT queued or written */
};

struct mqtt {
        struct ev_loop *loop;
        struct telemetry *telemetry;    /* the deciding half, owned by the caller */
        struct mqtt_params params;
        bool enabled;
        enum mqtt_link_state state;

        char client_id[128];
        char topic_state[MQTT_TOPIC_MAX];
        char topic_event[MQTT_TOPIC_MAX];
        char topic_online[MQTT_TOPIC_MAX];
        char broker[160];               /* for the log: host:port or the socket */

        struct mosquitto *mosq;         /* NULL unless CONNECTING, UP or STOPPED */
        ev_io io;
        int io_events;
        unsigned write_spins;           /* see MQTT_MAX_WRITE_SPINS */
        ev_timer misc;                  /* housekeeping, 1 s, while a socket is open */
        ev_timer retry;                 /* backoff, and the connection attempt's bound */
        ev_timer due;                   /* the telemetry module's next deadline */
        struct backoff backoff;
        uint64_t rng;
        uint64_t attempt_started_us;

        /* set by libmosquitto's callbacks, handled after each call into it */
        bool cb_connected;
        int cb_connack;                 /* -1: none yet */
        bool cb_disconnected;
        int cb_disconnect_rc;
        int cb_errno;
        char last_lib_error[160];       /* libmosquitto's last error log line (TLS) */

        int online_mid;
        bool online_acked;
        bool flushed;                   /* at stop: everything written */
        void (*on_flushed)(void *userdata);
        void *userdata;

        struct mqtt_counters counters;
        struct log_fault down;          /* the broker unreachable or refusing */
};

/* Prepare, no I/O: topics and client id (pistol and host name when the
 * config leaves them empty).  0 or -errno. */
int mqtt_init(struct mqtt *m, struct ev_loop *loop, const struct mqtt_params *params, uint8_t pistol,
              struct telemetry *telemetry);

/* Start connecting (in the background).  Never fails for want of a
 * broker.  0, or -errno when libmosquitto cannot be set up. */
int mqtt_start(struct mqtt *m);

/* The telemetry module may have something new to publish (after a
 * telemetry_observe()): publish what is due, re-arm the timer. */
void mqtt_kick(struct mqtt *m);

/* Orderly stop: what is due and "offline" are published; once the broker
 * has acknowledged everything (at most MQTT_STOP_WAIT_S later), DISCONNECT.
 * on_flushed is called once that is written (not when there is no
 * connection: check mqtt_flushed()).  Never waits. */
void mqtt_stop(struct mqtt *m, void (*on_flushed)(void *userdata), void *userdata);

/* Written everything at stop (true when nothing is connected). */
bool mqtt_flushed(const struct mqtt *m);

bool mqtt_connected(const struct mqtt *m);
const struct mqtt_counters *mqtt_counters(const struct mqtt *m);

/* Undo everything; accepts a never-started one. */
void mqtt_finish(struct mqtt *m);

#endif
