/* SPDX-License-Identifier: MIT */
/*
 * The operator interface: a D-Bus service (sd-bus) on the daemon's libev
 * loop, for a charger's HMI, payment terminal or OCPP client, and for
 * seccbridgectl.
 *
 *   bus name   org.seccbridge.pistolN          (N = [can] pistol_index)
 *   object     /org/seccbridge/pistol/N
 *   interface  org.seccbridge.Bridge1
 *
 * so that one process per pistol can share a bus.  The full interface (every
 * property, method and error) is described in doc/seccbridgectl.1.
 *
 * Properties are a snapshot of the session (session_get_status()) and of the
 * shell (CAN, converter, config), taken at every loop iteration.  What
 * changed during an iteration goes out as one PropertiesChanged signal just
 * before the loop sleeps (ev_prepare), so a burst of frames gives one
 * signal.  Counters change all the time and are not signalled
 * (EmitsChangedSignal=false): read them with Get/GetAll.
 *
 * Methods hand operator inputs to the core (session_set_*, session_press_*,
 * session_set_dynamic_limits()).  A flag configured "auto" is refused with
 * org.seccbridge.Error.NotExternal.  Who may call them is decided by the bus
 * policy (systemd/org.seccbridge.conf): root and the seccbridge group; anyone
 * may read properties.
 *
 * The loop never waits for the bus: no synchronous call, no flush.  The
 * connection is made and re-made in the background (backoff from 0.25 s to
 * 10 s); being without a bus is logged when it starts and when it ends,
 * never at every retry.  CAN and the converter never depend on it.
 */
#ifndef SECCBRIDGE_DBUS_SERVICE_H
#define SECCBRIDGE_DBUS_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "seccbridge/session.h"
#include "can.h"
#include "log.h"

#define DBUS_SERVICE_INTERFACE "org.seccbridge.Bridge1"
#define DBUS_SERVICE_NAME_PREFIX "org.seccbridge.pistol"         /* + pistol index */
#define DBUS_SERVICE_PATH_PREFIX "/org/seccbridge/pistol/"       /* + pistol index */
/* Several pistols in one process: one name for all of them (every pistol's
 * object under it) and the arbiter's view (doc/sharing.md). */
#define DBUS_SERVICE_NAME "org.seccbridge"
#define DBUS_SERVICE_SHARING_PATH "/org/seccbridge/sharing"
#define DBUS_SERVICE_SHARING_INTERFACE "org.seccbridge.Sharing1"

#define DBUS_SERVICE_ERROR_NOT_EXTERNAL "org.seccbridge.Error.NotExternal"
#define DBUS_SERVICE_ERROR_INVALID_LIMITS "org.seccbridge.Error.InvalidLimits"
#define DBUS_SERVICE_ERROR_BUSY "org.seccbridge.Error.Busy"
#define DBUS_SERVICE_ERROR_NOT_READY "org.seccbridge.Error.NotReady"
#define DBUS_SERVICE_ERROR_NO_SEQUENCE_FLAGS "org.seccbridge.Error.NoSequenceFlags"
#define DBUS_SERVICE_ERROR_SHUTTING_DOWN "org.seccbridge.Error.ShuttingDown"
#define DBUS_SERVICE_ERROR_NO_OUTPUTS "org.seccbridge.Error.NoOutputs"
#define DBUS_SERVICE_ERROR_INVALID_OUTPUT "org.seccbridge.Error.InvalidOutput"

/* Used when neither the config nor DBUS_SYSTEM_BUS_ADDRESS names a bus. */
#define DBUS_SERVICE_SYSTEM_ADDRESS "unix:path=/run/dbus/system_bus_socket"

#define DBUS_SERVICE_TEXT_MAX 192
/* "AA:BB:CC:DD:EE:FF" and its terminator */
#define DBUS_SERVICE_EVCCID_LEN 18

/* The EV identity of a status as the interface shows it: the six bytes of
 * EV_ID_CCS_Part2_DIN in hexadecimal, first byte first, colons between;
 * "" when there is none. */
void dbus_service_format_evccid(char *buf, size_t len, const struct session_status *st);

/* What the daemon knows beside the session, filled by the bridge. */
struct dbus_service_shell_status {
        const char *can_interface;
        bool can_up;
        struct can_counters can;
        const char *converter_backend;
        char converter_error[DBUS_SERVICE_TEXT_MAX];     /* the backend's account of a problem, "" */
        struct power_limits config_limits;      /* the static limits of the config */
        bool use_sequence_flags;
        enum session_flag_source start_authorisation;
        enum session_flag_source ccs_authorisation;
        enum session_flag_source charge_parameters;
        bool bidirectional;                     /* [v3] bidirectional (B1) */
        enum session_range_policy range_policy; /* [v3] range_policy (V16) */
        bool stopping;                          /* orderly stop under way */
};

/* The arbiter's view, for org.seccbridge.Sharing1. */
#define DBUS_SERVICE_SHARING_MAX 8
struct dbus_service_sharing {
        char policy[16];
        uint8_t n_converters;
        struct {
                char name[32];                  /* [converter NAME], "" = [converter] */
                char state[16];                 /* arbiter_converter_state_name() */
                uint8_t owner;                  /* pistol index, 0 = none */
                uint8_t offered;                /* pistol index, 0 = none */
                bool shared;
        } converters[DBUS_SERVICE_SHARING_MAX];
        uint8_t n_pistols;
        struct {
                uint8_t pistol;                 /* index */
                char converter[32];
                bool owner;                     /* may command its converter */
                bool held;                      /* Start_Charge_Authorisation = 0 */
                bool waiting;                   /* wants its converter, does not own it */
        } pistols[DBUS_SERVICE_SHARING_MAX];
};

struct dbus_service_callbacks {
        void (*shell_status)(struct dbus_service_shell_status *out, void *userdata);
        /* Before an operator input: read the clock (once) for the core. */
        uint64_t (*enter)(void *userdata);
        /* After an operator input reached the core: re-arm the core timer,
         * report what changed. */
        void (*after)(void *userdata);
        /* Several pistols, the first pistol's service only: the arbiter's
         * view (NULL otherwise). */
        void (*sharing)(struct dbus_service_sharing *out, void *userdata);
        void *userdata;
};

/* The values behind the properties, in the units of the interface (V, A,
 * W, degC, kOhm).  Private to dbus_service.c; here only to be embedded. */
struct dbus_service_values {
        uint8_t pistol;
        char version[16];
        uint8_t interface_version;              /* 2 or 3 */

        char can_interface[16];
        bool can_up;

        bool controller_alive;
        char controller_state[40];
        bool session_active;
        bool charge_started;
        char protocol[40];
        char plug[40];
        double ev_max_voltage;
        double ev_max_current;
        uint16_t battery_capacity;
        uint8_t state_of_charge;
        char evccid[DBUS_SERVICE_EVCCID_LEN];   /* EV_ID_CCS_Part2_DIN, "" = none */
        bool supervisor;                        /* backend none */

        /* the controller's I/O: inputs (temperatures INT16_MIN until
         * received), line states ("" until received), outputs */
        bool cui1_inputs;
        bool cui1_switch[6];
        int16_t cui1_colibri_temperature;
        int16_t cui1_cpu_temperature;
        int16_t cui1_pistol_ptc1;
        int16_t cui1_pistol_ptc2;
        bool secc_inputs;
        bool secc_input[4];
        int16_t secc_cpu_temperature;
        int16_t secc_pistol_ptc1;
        int16_t secc_pistol_ptc2;
        bool spcc_inputs;
        bool spcc_input[4];
        int16_t spcc_cpu_temperature0;
        int16_t spcc_cpu_temperature1;
        int16_t spcc_pt1k_a;
        int16_t spcc_pt1k_b;
        int16_t spcc_pt1ks_c;
        int16_t spcc_pt1ks_d;
        char cp_state[16];
        double cp_duty_cycle;
        char mcs_ce_state[16];
        char mcs_id_state[16];
        char outputs_board[16];
        bool output[4];
        uint8_t led[3];

        /* v3: what EV_Information_* said in this session (0 until then) */
        double ev_min_voltage;
        double ev_present_voltage;
        double ev_min_charge_current;
        double ev_min_charge_power;             /* W */
        double ev_max_charge_power;
        double ev_min_discharge_current;
        double ev_max_discharge_current;
        double ev_min_discharge_power;
        double ev_max_discharge_power;
        uint8_t min_state_of_charge;
        uint8_t target_state_of_charge;
        uint8_t max_state_of_charge;
        int16_t ev_min_energy_request;          /* kWh, + = the EV absorbs */
        int16_t ev_target_energy_request;
        int16_t ev_max_energy_request;
        bool dynamic_target;                    /* OCPP_Control in this session */
        double dynamic_target_current;

        /* Bidirectional power (B1..B6, V16) */
        bool bidirectional;
        char range_policy[12];
        bool range_target_set;                  /* the operator's Range_Mode target */
        double range_target;                    /* A, signed (B2) */
        bool direction_change_pending;          /* at 0 A, waiting for <= 1 A (B2) */

        /* v3: the last DC_Power_Control of the session ("" before one) */
        char power_function[24];
        char setpoints_mode[16];
        char output_contactors[8];
        bool lower_output_voltage;

        char request[24];
        double request_voltage;
        double request_current;

        char command_mode[24];
        double command_voltage;
        double command_current;
        bool command_discharge;

        double voltage;
        double current;
        int16_t module_temperature;             /* INT16_MIN: not measured */
        int16_t enclosure_temperature;          /* INT16_MIN: not measured */
        uint16_t insulation_resistance;         /* UINT16_MAX: not measured */

        bool system_enable;
        char fault[32];
        bool emergency_stop;
        bool emergency_stop_active;
        char emergency_stop_origin[16];

        char converter_backend[32];
        bool converter_link;
        bool converter_ready;
        bool converter_fault;
        char converter_error[DBUS_SERVICE_TEXT_MAX];

        bool sequence_flags;
        bool start_authorisation;
        bool ccs_authorisation_done;
        bool ccs_authorisation_valid;
        bool charge_parameters_done;
        bool user_stop_button;
        bool chademo_start_button;
        char start_authorisation_source[12];
        char ccs_authorisation_source[12];
        char charge_parameters_source[12];

        double max_voltage;
        double max_current;
        double max_power;
        double precharge_max_current;
        double insulation_max_current;
        double config_max_voltage;
        double config_max_current;
        double config_max_power;
        double dynamic_max_voltage;
        double dynamic_max_current;
        double dynamic_max_power;
        double max_discharge_current;           /* in force; 0 = no discharge */
        double max_discharge_power;

        uint64_t frames_in;
        uint64_t frames_out;
        uint64_t frames_malformed;
        uint64_t frames_foreign;
        uint64_t rejected_requests;
        uint64_t controller_timeouts;
        uint64_t emergency_stops;
        uint64_t frames_other_version;
        uint64_t undefined_power_functions;
        uint64_t frames_malformed_io;
        uint64_t discharges_refused;
        uint64_t mode_changes_refused;
        uint64_t direction_changes;
        uint64_t can_rx_frames;
        uint64_t can_tx_frames;
        uint64_t can_tx_dropped;
        uint64_t can_tx_errors;
        uint64_t can_rx_kernel_drops;
        uint64_t can_error_frames;
        uint64_t can_reopens;
        uint64_t converter_errors;
};

struct sd_bus;

struct dbus_service {
        struct ev_loop *loop;
        struct session *session;
        struct dbus_service_callbacks cb;
        bool enabled;
        char address[512];
        char name[48];
        char path[48];

        struct sd_bus *bus;             /* NULL while not connected */
        bool name_owned;
        ev_io io;
        int io_events;                  /* EV_READ/EV_WRITE armed on io */
        ev_timer timeout;               /* sd_bus_get_timeout() */
        ev_timer retry;                 /* reconnect backoff */
        double backoff_s;
        ev_prepare prepare;             /* snapshot, coalesced signals */
        bool started;

        struct dbus_service_values now;          /* the current values */
        struct dbus_service_values sent;         /* as last signalled */
        struct power_limits dynamic;    /* the operator's limits (0 = none) */
        bool have_previous;
        bool previous_link_ok;
        bool previous_fault;

        struct log_fault down;          /* no connection to the bus */
        struct log_fault name_fault;    /* the name cannot be owned */

        /* Several pistols: the first pistol's service also owns
         * DBUS_SERVICE_NAME and serves the other pistols' objects (peers)
         * and the sharing view on its connection; a peer signals its
         * changes there too (primary). */
        struct dbus_service *peers[DBUS_SERVICE_SHARING_MAX];
        size_t n_peers;
        struct dbus_service *primary;
};

/* Prepare, no I/O.  address: "" = the system bus.  0 or -EINVAL. */
int dbus_service_init(struct dbus_service *b, struct ev_loop *loop, bool enabled, const char *address, uint8_t pistol,
             struct session *session, const struct dbus_service_callbacks *cb);

/* Several pistols, before dbus_service_start(): primary (the first pistol's
 * service, with the sharing callback) also owns DBUS_SERVICE_NAME and serves
 * the peers' objects and the sharing view.  0 or -EINVAL (too many). */
int dbus_service_set_peers(struct dbus_service *primary, struct dbus_service *const *peers, size_t n);

/* The arbiter's view changed: PropertiesChanged (invalidated) for
 * org.seccbridge.Sharing1 on the primary's connection. */
void dbus_service_sharing_changed(struct dbus_service *primary);

/* Start offering the interface (the session must be initialised).  Never
 * fails for want of a bus: it connects in the background.  Returns 0. */
int dbus_service_start(struct dbus_service *b);

/* Stop everything; accepts a never-started bus. */
void dbus_service_finish(struct dbus_service *b);

#endif
