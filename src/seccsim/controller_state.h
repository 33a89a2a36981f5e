/* SPDX-License-Identifier: MIT */
/*
 * `seccsim session`: the simulated ADVANTICS charge controller.  This
 * header is its state, shared by its files, which depend on each other one
 * way only, each on those listed before it (tests/tools checks it on the
 * objects):
 *   controller_report.c  the clock, the log, the verdict (ctl_fail)
 *   controller_can.c     the CAN sockets, traffic log, verbose print
 *   controller_check.c   what the controller checks in the power side's
 *                        answers (period, System_Enable, current, insulation,
 *                        reactions to faults)
 *   controller_flow.c    the controller's sequence (PROTOCOL.md part C, or
 *                        part D with --interface-version 3) and
 *                        the injected faults and extra traffic
 *   controller.c         the driver: options, event loop (received frames
 *                        go to the checks), summary, exit code
 * A failure found below the flow starts the flow's clean-up through
 * on_failure, which the driver sets to ctl_flow_abort().
 *
 * Times are CLOCK_MONOTONIC in microseconds.  Received frames carry the
 * kernel's reception time, moved onto that clock, so that a slow scheduler
 * does not distort the periods measured.
 */
#ifndef SECCSIM_CONTROLLER_STATE_H
#define SECCSIM_CONTROLLER_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <ev.h>

#include "seccbridge/codec.h"

#define CTL_EXIT_OK 0
#define CTL_EXIT_FAIL 1
#define CTL_EXIT_USAGE 2

#define CTL_TICK_US 100000u             /* controller period: heartbeat, periodic messages */
#define CTL_REASON_MAX 384
/* A tick this long after the previous one is a stall of this machine: our
 * heartbeat gap nears R1's 200 ms and the power side may rightly time out. */
#define CTL_STALL_US 180000u
/* A failure this soon after such a stall is reported as inconclusive. */
#define CTL_STALL_BLAME_US 1500000u
/* The prefix of the reason of an inconclusive failure (scripts retry). */
#define CTL_INCONCLUSIVE "inconclusive"
/* v3: how long the EV waits in Connected_With_Full_Info before it asks for
 * the insulation test whether or not System_Enable is Allowed yet (V5). */
#define CTL_V3_EV_PROCEEDS_US 1000000u


enum ctl_protocol {
        CTL_PROTOCOL_CCS,
        CTL_PROTOCOL_CHADEMO,
};

enum ctl_fault {
        CTL_FAULT_NONE,
        CTL_FAULT_HEARTBEAT_STOP,       /* the controller goes silent (R1) */
        CTL_FAULT_ESTOP,                /* Emergency_Stop from the EVSE side (R45) */
        CTL_FAULT_INSULATION,           /* the insulation test must fail (R27, R28) */
        CTL_FAULT_UNDEFINED_FUNCTION,   /* v3: an undefined Power_Function mid-charge (V25) */
};

struct ctl_options {
        const char *ifname;
        uint8_t pistol;
        /* --other-pistol: pistols the same power side serves for another
         * controller session (one seccbridge, several pistols): their
         * power-side frames are not this session's and are not checked. */
        uint32_t other_pistols;         /* bit per pistol index */
        uint8_t interface_version;      /* 2 (database v2.7) or 3 (v3.6) */
        enum ctl_protocol protocol;

        /* New_Charge_Session content (R19) */
        uint8_t comm_protocol;
        uint8_t plug;
        uint16_t ev_max_voltage_dv;
        uint16_t ev_max_current_da;
        uint16_t capacity_kwh;
        uint8_t soc_pct;

        /* power requests */
        uint16_t test_voltage_dv;       /* Insulation_Test (R25) */
        uint16_t battery_voltage_dv;    /* Precharge target (R31) */
        uint16_t precharge_current_da;  /* Precharge.Maximum_Current (R31) */
        uint16_t charge_voltage_dv;     /* Charging_Loop.Target_Voltage */
        uint16_t profile_da[3];         /* ramp to, step to, end at */
        uint32_t charge_ms;
        uint32_t loop_period_ms;        /* CCS Charging_Loop pacing (R38) */
        uint32_t ccs_gap_ms;            /* one long pause of the CCS loop (R38) */

        /* sequence */
        bool sequence_flags;            /* R9, R11, R13 */
        bool external_auth;             /* CCS_Authorisation_Process (R11) */
        /* The controller's own power modules do the power: no power
         * requests, no System_Enable to wait for, and no Power_Modules_Status
         * or limits accepted from the power side (seccbridge backend none). */
        bool supervisor;
        bool send_ev_id;                /* EV_ID_CCS_Part2_DIN from negotiation to the end */
        uint8_t ev_id[6];
        bool welding;                   /* Welding_Detection (R42) */
        uint32_t init_ms;
        uint32_t idle_ms;
        uint32_t negotiate_ms;
        uint32_t wait_charge_ms;
        uint32_t welding_ms;
        uint32_t cooldown_ms;
        uint32_t after_ms;

        /* bounded waits */
        uint32_t auth_timeout_ms;
        uint32_t enable_timeout_ms;     /* System_Enable after New_Charge_Session (R20) */
        uint32_t insulation_timeout_ms; /* R28 */
        uint32_t discharge_timeout_ms;  /* R29 */
        uint32_t precharge_timeout_ms;
        uint32_t end_timeout_ms;        /* R41 */
        uint32_t unlock_timeout_ms;     /* R43 */
        unsigned insulation_iterations; /* R27, E.4 */

        /* checks */
        uint32_t gap_ms;                /* largest Power_Modules_Status gap accepted */
        uint32_t limits_spacing_ms;     /* closest two charger limits accepted, 0 = any (R15, V4) */
        uint32_t margin_ms;             /* measurement margin of the reaction checks */
        uint32_t settle_ms;             /* current must follow a request after this */
        uint16_t current_tolerance_da;  /* follow: |measured - expected| */
        uint16_t current_margin_da;     /* never above the request by more than this */
        uint16_t off_current_da;        /* "converter off": |current| at most this */
        uint16_t voltage_tolerance_dv;
        uint32_t charger_power_w;       /* known power ceiling of the charger, 0 = none */

        /* bidirectional (v3, part D.4) */
        bool discharge;                 /* charge, discharge, charge again (B2) */
        uint16_t discharge_current_da;  /* the discharge asked for, magnitude */
        bool range_mode;                /* Range_Mode + OCPP_Control (B5, B6), else Target_Mode */

        /* faults and extra traffic */
        enum ctl_fault fault;
        uint8_t fault_state;
        int64_t fault_delay_ms;         /* -1 = default for the state */
        uint32_t silence_ms;
        uint32_t estop_ms;
        bool expect_shutdown;
        uint8_t shutdown_state;
        bool wrong_pistol;
        uint8_t other_pistol;
        bool malformed;
        bool bus_load;
        uint32_t bus_load_rate;         /* frames per second */

        /* output */
        bool verbose;
        const char *log_path;
        uint32_t print_ms;
};

/* Where the simulated controller stands.  Several steps share one wire
 * state (Insulation_Test and its end, Closing_Communication and its
 * cool-down). */
enum ctl_step {
        STEP_INITIALISING,
        STEP_NOT_AVAILABLE,
        STEP_WAITING_FOR_PEV,
        STEP_NEGOTIATING,
        STEP_CCS_AUTHORISATION,
        STEP_CONNECTED,
        STEP_INSULATION_TEST,
        STEP_INSULATION_END,
        STEP_PRECHARGE,
        STEP_WAITING_FOR_CHARGE,
        STEP_CHARGING,
        STEP_ENDING_CHARGE,
        STEP_WELDING_DETECTION,
        STEP_CLOSING,
        STEP_COOLDOWN,
        STEP_SILENT,            /* heartbeat-stop: nothing of ours on the bus */
        STEP_EMERGENCY,         /* Emergency_Stop frames, state frozen */
        STEP_ABORT,             /* clean-up after a failed check */
        STEP_DONE,
};

/* The last Power_Modules_Status, decoded. */
struct ctl_status {
        bool valid;
        uint64_t t_us;
        uint16_t voltage_dv;
        int16_t current_da;
        int16_t module_c;
        int16_t enclosure_c;
        uint8_t system_enable;
        uint16_t insulation_kohm;
};

/* A reaction the power side owes us: from `since_us` on, every
 * Power_Modules_Status must show the converter off (System_Enable =
 * Not_Allowed, |current| small), the first one no later than `deadline_us`. */
struct ctl_reaction {
        bool armed;
        const char *what;               /* "the heartbeat stopped", ... */
        uint64_t since_us;
        uint64_t deadline_us;
        bool confirmed;
        uint64_t confirmed_us;
        bool need_discharge;            /* and the output at most 20 V ... */
        uint64_t discharge_deadline_us; /* ... by then */
        bool discharged;
        uint64_t discharged_us;
};

struct ctl_period_stats {
        uint64_t count;                 /* statuses in the window */
        uint64_t periods;
        uint64_t sum_us;
        uint64_t min_us;
        uint64_t max_us;
        uint64_t max_at_us;             /* when the longest period ended */
        uint8_t max_state;              /* and in which controller state */
        uint64_t over_150ms;
        uint64_t first_latency_us;      /* first New_Charge_Session -> first status */
};

struct ctl_can;

struct ctl {
        struct ctl_options o;
        const struct codec_db *db;      /* of the interface version played */
        struct ev_loop *loop;
        struct ctl_can *can;
        /* Called once, by the first ctl_fail(): the clean-up starts. */
        void (*on_failure)(struct ctl *c, uint64_t now_us);
        ev_io rx;
        ev_timer tick;
        ev_timer load_timer;
        ev_signal sig_int;
        ev_signal sig_term;
        uint64_t t0_us;

        /* verdict */
        bool failed;
        bool interrupted;
        char reason[CTL_REASON_MAX];
        int exit_code;

        /* the sequence */
        enum ctl_step step;
        uint64_t step_since_us;
        uint8_t wire_state;             /* Advantics_Controller_Status.State sent */
        uint64_t state_since_us;
        bool step_entered;              /* entry actions done */
        unsigned sessions_wanted;       /* 1, or 2 when a fault asks for a second run */
        unsigned sessions_done;
        bool power_phase_reached;       /* a power request went out in this session */
        unsigned step_ticks;            /* ticks spent in this step */

        /* what the power side told us */
        struct ctl_status st;           /* latest status */
        bool limits_seen;
        struct codec_power_modules_limits limits;
        uint64_t limits_t_us;
        bool flags_seen;
        struct codec_sequence_control flags;
        bool user_stop_seen;

        /* session bookkeeping */
        bool window_open;               /* Power_Modules_Status required (R2) */
        uint64_t window_open_us;        /* first New_Charge_Session */
        uint64_t last_status_us;        /* last status in the window, 0 = none yet */
        bool enabled;                   /* System_Enable = Allowed seen in this session */
        uint64_t enabled_us;
        uint64_t first_enable_us;       /* first session: New_Charge_Session -> Allowed */
        bool enable_ack_sent;           /* R23 Charging_Loop(0,0) / V6 Standby after System_Enable */
        bool ev_info_sent;              /* V5 EV_Information_* of this session */
        uint64_t ev_id_sent_us;         /* last EV_ID_CCS_Part2_DIN, 0 = none in this session */
        uint8_t soc_sent;               /* the state of charge last sent (v3) */
        bool no_enable_until_ncs;       /* a latch must hold until a new session */
        unsigned ins_good;              /* consecutive iterations above the threshold */
        unsigned ins_bad;
        bool ins_reached;               /* Present_Voltage >= 90 % of Test_Voltage */
        uint64_t ins_reached_us;
        uint16_t ins_min_kohm;
        bool end_frames_sent;
        uint64_t end_frames_us;

        /* charging */
        uint64_t charge_start_us;
        int16_t req_da;                 /* last Charging_Loop current sent */
        int16_t prev_req_da;
        uint16_t req_dv;
        uint64_t req_change_us;
        bool loop_sent;
        uint64_t loop_sent_us;
        uint64_t gap_start_us;
        uint64_t gap_end_us;
        bool gap_done;
        int charge_quarter;             /* profile part being requested */
        uint64_t charge_time_us;        /* time spent in Charging, all sessions */
        int16_t peak_current_da;
        int32_t worst_follow_da;        /* largest |measured - expected| checked */
        double energy_wh;
        int16_t peak_discharge_da;      /* most negative current seen */
        double energy_out_wh;           /* taken out of the EV */
        int dir_seen;                   /* sign of the last status with |I| > off_current */
        bool zero_seen;                 /* a status at |I| <= off_current since then */
        unsigned reversals;             /* changes of sign of the measured current */
        unsigned reversals_through_zero; /* ... with a status at <= off_current between */
        uint16_t discharge_limit_da;    /* DC_Power_Parameters.Maximum_Discharge_Current */
        int discharge_phase;            /* -1 none yet; 0 charge, 1 discharge, 2 charge */

        uint64_t energy_last_us;

        /* faults */
        bool fault_fired;
        uint64_t fault_us;
        uint64_t last_heartbeat_us;     /* last Advantics_Controller_Status sent */
        bool estop_active;
        uint64_t estop_first_us;
        uint64_t estop_last_us;
        uint64_t estop_count;
        struct ctl_reaction reaction;
        char reaction_report[CTL_REASON_MAX];
        bool shutdown_seen;             /* --expect-shutdown: System_Enable went 0 */
        bool shutdown_answered;         /* and the controller's Emergency_Stop began */
        uint64_t shutdown_us;
        bool insulation_failed;         /* --fault insulation: the test failed as expected */
        uint8_t frozen_state;           /* state kept during STEP_EMERGENCY */
        uint64_t undefined_until_us;    /* --fault undefined-function: asking with it until then */
        uint64_t undefined_since_us;
        bool undefined_confirmed;       /* the current went to 0, System_Enable stayed */
        struct codec_message frozen_request;
        bool frozen_request_valid;

        /* this machine: ticks far behind their schedule mean the whole
         * system stalled, our heartbeat included (R1 allows 200 ms) */
        uint64_t last_tick_us;
        uint64_t last_stall_us;
        uint64_t last_stall_gap_us;
        uint64_t worst_tick_gap_us;
        unsigned stalls;

        /* counters */
        uint64_t tx_frames;
        uint64_t rx_frames;
        uint64_t tx_other_pistol;
        uint64_t tx_malformed;
        uint64_t load_frames;
        uint64_t load_deferred;
        uint64_t load_started_us;
        uint64_t load_stopped_us;
        unsigned malformed_next;

        struct ctl_period_stats period;
        uint64_t last_print_us;
};

#endif
