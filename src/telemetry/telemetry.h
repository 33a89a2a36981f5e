/* SPDX-License-Identifier: MIT */
/*
 * What a pistol publishes, and when: the deciding half of the MQTT
 * publisher (src/mqtt.c is the other half: libmosquitto on the event loop).
 * Pure: no I/O, no clock, no allocation; time comes in as arguments
 * (now_us: CLOCK_MONOTONIC for durations and rates, wall_us: CLOCK_REALTIME
 * for the timestamps written into the messages).
 *
 * Fed with a snapshot of the daemon after every change (the same report
 * path as the log and STATUS=, see bridge.c), it keeps:
 *  - the `state` document: published (retained) when it changed, at most
 *    once per state_min_interval_us, the latest one only, and again after
 *    every reconnection;
 *  - the events (session started/ended, fault started/ended, config
 *    reloaded, events dropped): numbered payloads in a bounded queue
 *    (event_queue.h) until the broker acknowledged them;
 *  - per session: duration, energy delivered and returned (estimated from
 *    V x I, energy.h), peak power, how it ended;
 *  - counters for the metrics file.
 *
 * The shell asks telemetry_next_message() for what to publish now (the
 * count of events dropped while the broker was away, then the events in
 * order, at most event_window in flight; then the state when due and none
 * in flight), reports what it published (telemetry_sent, with the
 * message id) and what the broker acknowledged (telemetry_acked), tells
 * when the connection comes and goes (telemetry_link), and re-arms a timer
 * to telemetry_next_deadline().  The payloads are documented, field by
 * field and with a JSON schema per topic, in doc/mqtt.md.
 */
#ifndef SECCBRIDGE_TELEMETRY_H
#define SECCBRIDGE_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seccbridge/session.h"
#include "energy.h"
#include "event_queue.h"

#define TELEMETRY_NO_DEADLINE UINT64_MAX
#define TELEMETRY_STATE_MAX 3072        /* bytes of a state payload (v3: the EV's information) */
#define TELEMETRY_ONLINE_MAX 256
#define TELEMETRY_TEXT_MAX 192          /* free texts (causes, errors) */
#define TELEMETRY_RUN_ID_MAX 24

struct telemetry_config {
        uint8_t pistol;
        char version[16];                       /* the daemon's, for the online topic */
        uint64_t state_min_interval_us;         /* 0: every change at once */
        uint32_t event_window;                  /* events in flight at most, >= 1 */
        char run_id[TELEMETRY_RUN_ID_MAX];      /* tells this process run from others */
};

/* A snapshot of the daemon, taken by the shell after each change. */
struct telemetry_input {
        struct session_status status;           /* session_get_status() */
        bool can_up;
        const char *can_interface;
        const char *converter_backend;
        const char *converter_error;            /* the backend's account of a problem, or "" */
};

enum telemetry_fault_kind {
        TELEMETRY_FAULT_SESSION,                /* the core's latched fault: converter kept off */
        TELEMETRY_FAULT_CONVERTER_LINK,         /* the backend lost the converter */
        TELEMETRY_FAULT_CONVERTER,              /* the converter reports a fault */
        TELEMETRY_FAULT_CAN,                    /* the CAN interface is down */
        TELEMETRY_FAULT_COUNT
};

enum telemetry_topic {
        TELEMETRY_TOPIC_STATE,
        TELEMETRY_TOPIC_EVENT,
};

/* One message to publish now. */
struct telemetry_message {
        enum telemetry_topic topic;
        const char *payload;
        size_t len;
        bool retain;
        struct event_slot *event;               /* an event of the queue, or NULL: the drop report */
};

/* The state document, plain values: compared to tell a change. */
struct telemetry_state {
        bool controller_alive;
        uint8_t controller_state;
        uint8_t interface_version;
        bool session_active;
        uint64_t session_number;                /* sessions since start; the last one when idle */
        bool charge_started;
        struct codec_new_charge_session ev;
        bool soc_start_known;                   /* v3: false before EV_Information_Battery */
        uint8_t soc_start_pct;
        uint8_t soc_pct;                        /* Charging_Loop (v3: else EV_Information_Battery), SESSION_NOT_REPORTED: none */
        struct session_ev_info ev_info;         /* v3, in a session */
        bool power_control_valid;               /* v3: a DC_Power_Control in this session */
        struct codec_dc_power_control power_control;
        uint64_t delivered_mwh;                 /* this session */
        uint64_t returned_mwh;
        uint64_t peak_delivered_cw;
        enum session_request request;
        uint16_t request_voltage_dv;
        int16_t request_current_da;
        struct power_command command;
        struct power_measurement measurement;
        bool system_enable;
        enum session_fault fault;
        bool emergency_stop;
        bool emergency_stop_active;
        uint8_t emergency_stop_origin;
        struct power_limits limits;
        bool can_up;
        char can_interface[16];
        char converter_backend[32];
        char converter_error[TELEMETRY_TEXT_MAX];
};

struct telemetry_fault {
        bool active;
        uint64_t since_us;
        uint64_t since_wall_us;
        char cause[32];                         /* a token: "emergency-stop", "link_lost" */
        char detail[TELEMETRY_TEXT_MAX];        /* for a person */
};

struct telemetry_counters {
        uint64_t sessions_started;
        uint64_t sessions_ended;
        uint64_t faults[TELEMETRY_FAULT_COUNT];         /* episodes started */
        uint64_t reloads;
        uint64_t reloads_refused;
        uint64_t states_published;
        uint64_t events_published;                      /* handed to the broker, repeats included */
};

/* Private state: embed it, use the functions below. */
struct telemetry {
        struct telemetry_config cfg;
        struct event_queue queue;
        uint64_t now_us;
        uint64_t wall_us;
        bool observed;                          /* a snapshot came in */

        /* state topic */
        struct telemetry_state cur;
        struct telemetry_state sent;
        bool sent_valid;                        /* `sent` is on the broker (this connection) */
        bool state_in_flight;
        int state_mid;
        bool ever_published;
        uint64_t last_state_us;
        char state_payload[TELEMETRY_STATE_MAX];

        /* the broker connection, as the shell reports it */
        bool link_up;

        /* "events_dropped": kept apart from the queue (it must not push an
         * event out of it), sent first once connected, until acknowledged */
        bool report_pending;
        bool report_in_flight;
        int report_mid;
        uint64_t report_seq;
        uint64_t report_count;
        uint16_t report_len;
        char report_payload[256];

        /* the session in progress (or the last one) */
        bool in_session;
        uint64_t session_start_us;
        uint64_t session_start_wall_us;
        bool soc_start_known;                   /* v3: false until EV_Information_Battery */
        uint8_t soc_start_pct;
        uint8_t soc_end_pct;                    /* the latest seen in it, SESSION_NOT_REPORTED: none */
        enum session_fault session_fault;       /* the first fault latched in it */
        bool session_charge_started;
        struct energy energy;
        uint64_t total_delivered_mwh;           /* sessions that ended */
        uint64_t total_returned_mwh;

        /* faults */
        struct telemetry_fault faults[TELEMETRY_FAULT_COUNT];
        bool converter_link_seen;               /* the link was up once */

        struct telemetry_counters counters;
};

/* slots/n_slots: storage for the event queue (n_slots 0: events are
 * counted, not kept, e.g. without MQTT).  cfg->event_window 0 counts as 1. */
void telemetry_init(struct telemetry *t, const struct telemetry_config *cfg, struct event_slot *slots,
                    uint32_t n_slots);

/* A snapshot after a change. */
void telemetry_observe(struct telemetry *t, const struct telemetry_input *in, uint64_t now_us, uint64_t wall_us);

/* A reload was applied (applied true) or refused, with the reason. */
void telemetry_config_reloaded(struct telemetry *t, bool applied, const char *path, const char *reason,
                               uint64_t now_us, uint64_t wall_us);

/* The connection to the broker is up (CONNACK accepted) or gone.  Up: the
 * state goes out again, and dropped events are reported.  Down: messages
 * in flight are taken back. */
void telemetry_link(struct telemetry *t, bool up, uint64_t now_us, uint64_t wall_us);

/* What to publish now: true with *out filled (valid until the next call
 * into this module), false when nothing is due. */
bool telemetry_next_message(struct telemetry *t, uint64_t now_us, uint64_t wall_us,
                            struct telemetry_message *out);
/* The message just returned was published with this message id. */
void telemetry_sent(struct telemetry *t, const struct telemetry_message *m, int mid, uint64_t now_us);
/* The broker acknowledged message mid. */
void telemetry_acked(struct telemetry *t, int mid);

/* Messages published and not yet acknowledged. */
unsigned telemetry_in_flight(const struct telemetry *t);

/* When telemetry_next_message() will have something that it does not have
 * now (a rate-limited state), or TELEMETRY_NO_DEADLINE. */
uint64_t telemetry_next_deadline(const struct telemetry *t);

const struct telemetry_counters *telemetry_counters(const struct telemetry *t);
const struct event_queue *telemetry_queue(const struct telemetry *t);
bool telemetry_fault_active(const struct telemetry *t, enum telemetry_fault_kind kind);

/* Energy of the sessions that ended plus the one in progress, mWh. */
void telemetry_energy_totals(const struct telemetry *t, uint64_t *delivered_mwh, uint64_t *returned_mwh);

/* The payload of the online topic: online, or offline with a reason
 * ("stopped", or "connection_lost" for the last will).  Its length, or
 * -ENOSPC. */
int telemetry_online_payload(const struct telemetry *t, bool online, const char *reason, uint64_t wall_us,
                             char *buf, size_t cap);

/* Names used in the payloads and the metrics. */
const char *telemetry_fault_kind_name(enum telemetry_fault_kind kind);
/* A value-table label of New_Charge_Session / Charge_Session_Finished
 * ("CCS_ISO_15118_2013_v2"), or NULL when the table has none. */
const char *telemetry_protocol_name(uint8_t protocol);
const char *telemetry_plug_name(uint8_t plug);
const char *telemetry_finished_name(uint8_t state);

#endif
