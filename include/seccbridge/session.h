/* SPDX-License-Identifier: MIT */
/*
 * Power-side session state machine for the ADVANTICS Generic EVSE CAN
 * interface, version 2 (database v2.7, rules R1..R47 of the protocol
 * summary) or version 3 (database v3.6, rules V1..V25): one state machine,
 * with a thin front end per version that maps the power requests onto the
 * same phases, limits and ramp (doc/session.md).
 *
 * Pure: no I/O, no clock, no allocation.  Every entry point takes the current
 * time (CLOCK_MONOTONIC in microseconds, read once by the caller).  Output goes
 * through the callbacks given at init: frames to transmit, and the converter
 * command whenever it changes (already clamped to the limits in force).
 * After every call the shell re-arms one timer to session_next_deadline().
 */
#ifndef SECCBRIDGE_SESSION_H
#define SECCBRIDGE_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "seccbridge/codec.h"
#include "seccbridge/controller_io.h"
#include "seccbridge/power.h"

#define SESSION_NO_DEADLINE UINT64_MAX
/* A reported-only value that the controller has not sent (yet). */
#define SESSION_NOT_REPORTED UINT8_MAX

/* Where a Sequence_Control level flag comes from. */
enum session_flag_source {
        SESSION_FLAG_AUTO,      /* the session sets it by itself */
        SESSION_FLAG_EXTERNAL,  /* an operator sets it through the API */
};

/* V16: who picks the current of a Range_Mode power transfer inside
 * [Current_Range_Min, Current_Range_Max]. */
enum session_range_policy {
        SESSION_RANGE_MAX,              /* always Current_Range_Max */
        SESSION_RANGE_OCPP,             /* OCPP_Control.Dynamic_Target_Current, else Max */
        SESSION_RANGE_OPERATOR,         /* session_set_range_target(), else Max */
};

struct session_config {
        uint8_t pistol;                         /* 1..31 */
        uint8_t interface_version;              /* 2 (database v2.7) or 3 (v3.6); default 2 */
        struct power_limits limits;             /* static limits, never exceeded */

        uint64_t controller_timeout_us;         /* R1; default 200 ms */
        uint64_t status_period_us;              /* R2; default 100 ms */
        uint64_t limits_min_interval_us;        /* R15; default 100 ms */
        uint64_t sequence_resend_us;            /* E.8 periodic re-send; 0 = on change only; default 1 s */
        uint64_t button_hold_us;                /* R10 how long an edge flag stays 1; default 300 ms */
        uint64_t estop_release_us;              /* R46 E-stop gone after this much silence; default 1 s */
        uint32_t current_ramp_da_per_s;         /* R37 ramp-up rate of the current setpoint, 0.1 A/s; 0 = step; default 2000 (200 A/s) */
        uint64_t ramp_step_us;                  /* R37 interval between ramp steps; default 100 ms */

        bool use_sequence_flags;                /* send Sequence_Control at all (R6); default true */
        enum session_flag_source start_authorisation;   /* R9 */
        enum session_flag_source ccs_authorisation;     /* R11 */
        enum session_flag_source charge_parameters;     /* R13 */

        uint16_t insulation_min_ohm_per_volt;   /* R40 interlock threshold; default 100 */
        /* V21: the charger can disconnect its output from the pistol.  A v3
         * Lower_Output_Voltage while a battery may be on the pins is
         * honoured only then (with the contactors commanded open); default
         * true. */
        bool has_output_contactors;

        /* IEC 61851-23 CC.6.2: the output above the EV's maximum voltage by
         * more than ev_overvoltage_margin_dv for longer than
         * ev_overvoltage_time_us switches the converter off.  Defaults 10 V
         * and 400 ms; a time of 0 switches the check off. */
        uint16_t ev_overvoltage_margin_dv;
        uint64_t ev_overvoltage_time_us;

        /* Supervisor mode: the controller's own power modules do the power
         * (converter backend "none").  The session follows the whole
         * sequence and sends Sequence_Control, but no Power_Modules_Status,
         * no Power_Modules_Limits / DC_Power_Parameters and no converter
         * command; faults are reported, there is nothing to switch off.
         * Default false. */
        bool supervisor;

        /* The controller's I/O: which board's outputs are driven, their
         * safe state (controller_io.h). */
        struct controller_io_config io;
        /* B1: the power side may take energy out of the EV (v3 only; the
         * discharge limits of `limits` must then be non-zero).  false: every
         * negative current is refused (E.1), default. */
        bool bidirectional;
        enum session_range_policy range_policy;         /* V16; default OCPP */
        /* B2: before the sign of the current changes, the command stays at
         * 0 A until the converter measures |I| <= 1 A; no confirmation
         * within this time is a converter fault.  Default 2 s. */
        uint64_t direction_change_timeout_us;
};

struct session_callbacks {
        /* A frame to transmit now.  Must not call back into the session. */
        void (*tx_frame)(const struct codec_frame *frame, void *userdata);
        /* The converter command changed (or must be re-issued).  Must not
         * call back into the session. */
        void (*power_command)(const struct power_command *cmd, void *userdata);
        void *userdata;
};

/* Why System_Enable is Not_Allowed / the converter was forced off. */
enum session_fault {
        SESSION_FAULT_NONE,
        SESSION_FAULT_CONTROLLER_TIMEOUT,       /* R1 */
        SESSION_FAULT_CONTROLLER_RESTART,       /* controller back in a pre-session state mid-session */
        SESSION_FAULT_EMERGENCY_STOP,           /* R45 */
        SESSION_FAULT_INSULATION,               /* R40 */
        SESSION_FAULT_CONVERTER_LINK,           /* backend lost the converter */
        SESSION_FAULT_CONVERTER,                /* converter reports a fault */
        SESSION_FAULT_EV_OVERVOLTAGE,           /* output above the EV's maximum (IEC 61851-23 CC.6.2) */
        SESSION_FAULT_DIRECTION_CHANGE,         /* converter never reached <= 1 A before a sign change (B2) */
        SESSION_FAULT_SHUTDOWN,                 /* daemon stopping */
        SESSION_FAULT_COUNT                     /* not a fault: how many there are (metrics, docs) */
};

/* The last power request received from the controller. */
enum session_request {
        SESSION_REQUEST_NONE,
        SESSION_REQUEST_INSULATION_TEST,
        SESSION_REQUEST_PRECHARGE,
        SESSION_REQUEST_CHARGE,
        SESSION_REQUEST_STANDBY,
        SESSION_REQUEST_OFF,                    /* v3 Power_Function Off */
        SESSION_REQUEST_INVALID,                /* v3 undefined Power_Function (V25) */
        SESSION_REQUEST_COUNT                   /* not a request: how many there are */
};

struct session_counters {
        uint64_t frames_in;             /* frames of ours decoded */
        uint64_t frames_out;            /* frames handed to tx_frame */
        uint64_t malformed;             /* -EBADMSG */
        uint64_t foreign;               /* -ENOMSG: other pistol, unknown ID */
        uint64_t rejected_requests;     /* power requests refused (wrong state, fault, invalid values) */
        uint64_t controller_timeouts;
        uint64_t emergency_stops;
        uint64_t other_version;         /* this pistol's frames of the other interface version: ignored */
        uint64_t undefined_power_functions;     /* v3 DC_Power_Control with an undefined Power_Function (V25) */
        uint64_t malformed_io;          /* of the malformed: ADM I/O and extra information frames */
        uint64_t discharges_refused;    /* v3 requests for a negative current without discharge configured (B1) */
        uint64_t mode_changes_refused;  /* v3 Setpoints_Mode changed inside a power transfer (V17) */
        uint64_t direction_changes;     /* current reversed, after a confirmed pass through 0 A (B2) */
};

/* What a v3 controller said about the vehicle in this session
 * (EV_Information_*, OCPP_Control): kept per session, cleared at its start
 * and end.  `valid` tells whether the message came in this session. */
struct session_ev_info {
        bool battery_valid;
        struct codec_ev_information_battery battery;
        bool voltages_valid;
        struct codec_ev_information_voltages voltages;
        bool charge_limits_valid;
        struct codec_ev_information_charge_limits charge_limits;
        bool discharge_limits_valid;
        struct codec_ev_information_discharge_limits discharge_limits;
        bool energy_valid;
        struct codec_ev_information_energy energy;
        bool dynamic_target_valid;              /* OCPP_Control (V16) */
        int16_t dynamic_target_current_da;
};

/* A snapshot for status reporting (sd_notify STATUS=, D-Bus). */
struct session_status {
        bool controller_alive;
        uint8_t controller_state;               /* last Advantics_Controller_Status.State */
        bool in_session;                        /* Power_Modules_Status window open (R2) */
        bool system_enable;                     /* value currently reported */
        enum session_fault fault;               /* NONE when healthy */
        bool emergency_stop_latched;
        bool emergency_stop_active;             /* Emergency_Stop frames still coming (R46) */
        uint8_t emergency_stop_origin;
        bool charge_started;                    /* Charge_Status_Change seen in this session */
        /* Reported only, never decided on (R39, R44): the latest
         * State_of_Charge of a Charging_Loop and the State of the
         * Charge_Session_Finished of the latest session, or
         * SESSION_NOT_REPORTED when none came since New_Charge_Session. */
        uint8_t charging_loop_soc_pct;
        uint8_t finished_state;                 /* enum codec_session_finished_state */
        /* The vehicle in v2 terms: v2, the last New_Charge_Session of this
         * session; v3, protocol and plug of New_Charge_Session, the EV's
         * maximum voltage (EV_Information_Voltages), maximum current
         * (EV_Information_Charge_Limits), capacity and state of charge
         * (EV_Information_Battery), 0 until they arrive. */
        struct codec_new_charge_session ev;
        /* The EV's maximum voltage in this session (v2 New_Charge_Session,
         * v3 EV_Information_Voltages), 0 = not known */
        uint16_t ev_max_voltage_dv;
        uint8_t interface_version;              /* 2 or 3 */
        struct session_ev_info ev_info;         /* v3 */
        bool power_control_valid;               /* a DC_Power_Control in this session (v3) */
        struct codec_dc_power_control power_control;    /* the last one */
        enum session_request request;
        uint16_t request_voltage_dv;
        int16_t request_current_da;
        struct power_command command;           /* what the converter was told */
        struct power_measurement measurement;   /* last converter measurement */
        struct codec_sequence_control flags;    /* last Sequence_Control content */
        struct power_limits limits;             /* limits in force (config, operator, converter rating) */
        struct session_counters counters;

        bool supervisor;                        /* no converter, no power-side frames */
        /* EV_ID_CCS_Part2_DIN: the EVCCID (the MAC of the EV's modem in
         * DIN 70121 / ISO 15118-2) of the vehicle plugged in, from the
         * moment it comes (before New_Charge_Session, while the
         * authorisation waits) to the end of its session. */
        bool ev_id_valid;
        uint8_t ev_id[6];
        enum controller_io_board io_board;      /* whose outputs are driven */
        struct controller_io_outputs io_outputs;        /* as the outputs frame says */
        struct controller_io_inputs io_inputs;
        /* B2: waiting at 0 A for the converter to confirm <= 1 A before the
         * current changes sign. */
        bool direction_change_pending;
        /* V16: the operator's Range_Mode target (range_policy operator). */
        bool range_target_valid;
        int16_t range_target_da;
        /* Held by the pistol arbiter (a shared converter serves another
         * pistol): Start_Charge_Authorisation 0 on the bus, System_Enable
         * Not_Allowed, converter OFF (doc/sharing.md). */
        bool held;
};

/* Private: where the session stands, as far as the discharge decision of a
 * standby goes (R24, R29, R34, R42/R43).  See doc/session.md. */
enum session_phase {
        SESSION_PHASE_IDLE,             /* window open, before the insulation test */
        SESSION_PHASE_INSULATION,       /* insulation test running (R26) */
        SESSION_PHASE_POST_INSULATION,  /* test ended: bring the output to <= 20 V (R29) */
        SESSION_PHASE_BATTERY,          /* precharge onwards: a battery may be on the output (R24, R34) */
        SESSION_PHASE_ENDING,           /* welding detection / closing: lower the output (R42, R43) */
};

/* Private state: embed it, never touch its fields from outside the core. */
struct session {
        struct session_config cfg;
        struct session_callbacks cb;
        const struct codec_db *db;              /* the database of the interface version */
        const struct codec_db *other_db;        /* the other version's: its frames are counted */
        uint32_t controller_types;              /* bit per message type the controller sends in db */
        struct power_limits dynamic;            /* operator limits (0 = none) */
        struct power_rating rating;             /* the converter's, from its latest measurement */
        struct power_limits effective;          /* limits in force: config, operator, rating */

        uint64_t now_us;                        /* latest time seen */

        /* R1 controller supervision */
        uint64_t last_heartbeat_us;             /* or the session start, when none yet */
        uint64_t heartbeat_deadline_us;         /* last_heartbeat_us + controller_timeout_us */
        bool supervising;                       /* the R1 deadline is armed */
        bool controller_alive;
        bool heartbeat_lost;                    /* timed out, not heard from since */
        bool controller_state_known;
        uint8_t controller_state;
        bool controller_up;                     /* left Initialising (E.8, R17) */

        /* R2 Power_Modules_Status window */
        bool in_session;
        uint64_t session_start_us;
        bool session_state_seen;                /* a state 3..10/13 seen in this window */
        enum session_phase phase;
        uint64_t next_status_us;
        bool system_enable;                     /* last value reported */

        /* latches */
        enum session_fault fault;               /* latched until a new session */
        bool estop_latched;                     /* R45/R46 */
        bool estop_active;                      /* Emergency_Stop frames still coming */
        uint8_t estop_origin;
        uint64_t last_estop_us;
        bool shutting_down;

        bool charge_started;
        struct codec_new_charge_session ev;
        uint8_t charging_loop_soc_pct;          /* reported only (R39) */
        uint8_t finished_state;                 /* reported only (R44) */
        struct session_ev_info ev_info;         /* v3 */

        /* v3: the last DC_Power_Control of this session */
        bool power_control_valid;
        struct codec_dc_power_control power_control;
        bool lowering;                          /* its Standby/Off asks to lower the output */

        /* The EV's maximum voltage, whatever message of whatever interface
         * version told it (v2: New_Charge_Session, v3:
         * EV_Information_Voltages); 0 = not known. */
        uint16_t ev_max_voltage_dv;
        /* CC.6.2: the measured output is above ev_max_voltage_dv + margin,
         * since ev_overvoltage_since_us. */
        bool ev_overvoltage;
        uint64_t ev_overvoltage_since_us;

        /* last power request received (status only) */
        enum session_request request;
        uint16_t request_voltage_dv;
        int16_t request_current_da;

        struct power_command target;            /* wanted, before limits and ramp */
        struct power_command command;           /* in force, as last issued */
        bool command_issued;
        /* The command in force is the one the target, the forced-off state
         * and the limits give, with no ramp step pending: it is not worked
         * out again until one of them changes (a new target or new limits
         * clear it; the forced-off state is compared). */
        bool command_cached;
        bool command_cached_off;

        /* V16: the operator's Range_Mode target */
        bool range_target_valid;
        int16_t range_target_da;
        /* V17: the Setpoints_Mode of the power transfer under way */
        bool transfer_mode_known;
        uint8_t transfer_mode;

        /* B2: the sign of the last non-zero current commanded, and whether
         * the converter measured <= 1 A since the command went to 0 A. */
        int8_t last_direction;
        bool zero_confirmed;
        uint64_t zero_since_us;
        bool direction_wait;
        uint64_t direction_wait_since_us;

        /* R37 current ramp */
        bool ramp_pending;
        bool ramp_stepped;
        uint64_t ramp_last_step_us;

        struct power_measurement meas;
        bool meas_valid;
        /* The voltage of the last measurement with the link up: never
         * reported lower while the link is down (doc/session.md). */
        uint16_t last_measured_voltage_dv;

        /* Sequence_Control (R6..R14) */
        struct codec_sequence_control flags;    /* content in force */
        struct codec_sequence_control flags_last_sent;
        bool flags_sent;                        /* since the controller left Initialising */
        uint64_t last_flags_us;
        uint64_t flags_resend_us;               /* last_flags_us + sequence_resend_us (when > 0) */
        bool user_stop_held;
        uint64_t user_stop_release_us;
        bool chademo_start_held;
        uint64_t chademo_start_release_us;
        /* session_set_hold(): R9 Start_Charge_Authorisation sent as 0
         * whatever s->flags (AUTO or the operator's) says, kept for the
         * release. */
        bool held;

        /* Power_Modules_Limits (R15..R18), DC_Power_Parameters (V4) */
        bool limits_pending;
        bool limits_ever_sent;
        bool limits_sent_in_session;            /* drives an AUTO Charge_Parameters_Done */
        uint64_t last_limits_us;
        uint16_t limits_sent_voltage_dv;
        uint16_t limits_sent_current_da;
        uint16_t limits_sent_discharge_da;      /* v3 */
        int16_t limits_sent_range_target_da;    /* v3 */

        /* EV_ID_CCS_Part2_DIN of the vehicle plugged in; once its session
         * ended, no new one is taken until the vehicle leaves (a late
         * repetition would outlive the session). */
        bool ev_id_valid;
        uint8_t ev_id[6];
        bool ev_id_closed;

        struct controller_io io;                /* the controller's I/O */

        /* What settle() works out is kept until an input changes it: every
         * input path marks the session changed (mark_changed()), and the
         * earliest deadline of the timers and periodic frames is kept in
         * next_due_us.  With no mark and before next_due_us, settle() has
         * nothing to do, and session_next_deadline() reads next_due_us. */
        bool changed;
        uint64_t next_due_us;
        uint64_t timers_due_us;                 /* the earliest of run_timers() */
        uint64_t others_due_us;                 /* the earliest but R1's and R2's */

        struct session_counters counters;
};

/* Fill a config with the defaults named above (pistol 1, limits 0). */
void session_config_defaults(struct session_config *cfg);
/* 0, or -EINVAL when the config cannot be used (pistol, zero limits, ...). */
int session_config_check(const struct session_config *cfg);

/* 0, or -EINVAL (bad config or callbacks).  Issues the initial OFF command. */
int session_init(struct session *s, const struct session_config *cfg,
                 const struct session_callbacks *cb, uint64_t now_us);

/* Apply a new config (reload).  Limits tighten at once; the pistol index and
 * the interface version may not change (-EINVAL).  0 or -EINVAL; on error
 * nothing changes. */
int session_reconfigure(struct session *s, const struct session_config *cfg,
                        uint64_t now_us);

/* A received frame.  0: ours and handled; -ENOMSG: not ours (counted:
 * foreign, or other_version for this pistol's frames of the other interface
 * version); -EBADMSG: malformed (counted, dropped). */
int session_on_frame(struct session *s, const struct codec_frame *frame,
                     uint64_t now_us);

/* A converter measurement (also reports link state, readiness, faults). */
void session_on_measurement(struct session *s, const struct power_measurement *m,
                            uint64_t now_us);

/* Time passed: run whatever is due (heartbeat supervision, periodic frames). */
void session_tick(struct session *s, uint64_t now_us);

/* When session_tick() must run next; SESSION_NO_DEADLINE when nothing is due. */
uint64_t session_next_deadline(const struct session *s);

/* For tests and the fuzz target: NULL when what the session keeps worked
 * out between calls (the next deadline, the command, the frames due) agrees
 * with a full recomputation at now_us (the time of the latest call);
 * otherwise what disagrees. */
const char *session_check_cache(const struct session *s, uint64_t now_us);

/* Operator inputs; each returns -EPERM when the flag is configured AUTO. */
int session_set_start_authorisation(struct session *s, bool allowed, uint64_t now_us);
int session_set_ccs_authorisation(struct session *s, bool valid, uint64_t now_us);
int session_set_charge_parameters_done(struct session *s, bool done, uint64_t now_us);
/* The pistol arbiter's hold (doc/sharing.md): while held, the
 * Sequence_Control sent carries Start_Charge_Authorisation = 0 whatever its
 * source (R9; the AUTO or operator value comes back on release, and a change
 * is sent at once), System_Enable is Not_Allowed (R21), the converter is
 * commanded OFF and power requests are refused; heartbeat supervision and
 * the status window carry on.  Holding needs use_sequence_flags (R6): without
 * it only System_Enable = 0 tells the controller.  Idempotent. */
void session_set_hold(struct session *s, bool held, uint64_t now_us);

/* Edge flags (R10): 0, or -EBUSY while the previous press is still held,
 * -ENOTSUP when use_sequence_flags is false, -EAGAIN while the controller
 * has not left Initialising (the press could not be signalled). */
int session_press_user_stop(struct session *s, uint64_t now_us);
int session_press_chademo_start(struct session *s, uint64_t now_us);

/* One of the controller's outputs (controller_io.h): 0, -ENODEV (no board's
 * outputs driven), -ENOENT (not on this board), -ERANGE (a digital output
 * is 0 or 1), -ESHUTDOWN (stopping: the safe state stays). */
int session_set_output(struct session *s, enum controller_io_output output, uint8_t value,
                       uint64_t now_us);

/* Dynamic limits (operator, load management), each clamped to the static
 * limits; a zero field means "static limit".  0 or -EINVAL. */
int session_set_dynamic_limits(struct session *s, const struct power_limits *l,
                               uint64_t now_us);

/* V16: the operator's point for a Range_Mode power transfer (policy
 * operator), clamped into the range and the limits when used; set = false
 * clears it (top of the range).  0, -EPERM when range_policy is not
 * operator. */
int session_set_range_target(struct session *s, bool set, int16_t current_da, uint64_t now_us);

/* Orderly stop: converter off, one last Power_Modules_Status with
 * System_Enable = Not_Allowed (none in supervisor mode), the controller's
 * outputs to their safe state.  Afterwards the session stays off. */
void session_shutdown(struct session *s, uint64_t now_us);

void session_get_status(const struct session *s, struct session_status *out);
/* The command currently in force (for replay after a converter reconnect). */
const struct power_command *session_command(const struct session *s);

const char *session_fault_name(enum session_fault fault);
const char *session_request_name(enum session_request request);
const char *session_range_policy_name(enum session_range_policy policy);

#endif
