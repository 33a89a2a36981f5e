/* SPDX-License-Identifier: MIT */
/*
 * The pistol arbiter: which session may command which converter when one
 * process runs several pistols and some of them share a converter (one power
 * stage switched between a CCS and a CHAdeMO pistol, say).  The interface has
 * no power-sharing message: the power side shares by holding a pistol with
 * Start_Charge_Authorisation = 0 (R9, V3) until its converter is free.
 *
 * Pure: no I/O, no clock, no allocation.  Every entry point takes the current
 * time (CLOCK_MONOTONIC in microseconds, read once by the caller; an older
 * time than one already seen is taken as that one).  The arbiter only decides;
 * the shell executes: after every call it reads the decisions and re-arms one
 * timer to arbiter_next_deadline().  doc/sharing.md describes the design.
 *
 * Vocabulary.  Pistols are numbered 0..pistols-1 and converters
 * 0..converters-1 (indexes into the arrays of the config, not CAN pistol
 * indexes).  Each pistol uses exactly one converter.  A converter used by one
 * pistol only is *dedicated*: always owned by that pistol, never held, never
 * forced off by the arbiter (its session alone decides, R1/R45).  A converter
 * used by two or more pistols is *shared*.
 *
 * Decisions, for a shared converter:
 *  - owner: the one pistol whose session may command it, or none.  A
 *    converter without an owner must be OFF (must_off); the shell commands
 *    OFF to it and forwards no session's command.
 *  - held: a pistol the shell must hold, i.e. whose session must send
 *    Start_Charge_Authorisation = 0 (R9), report System_Enable = Not_Allowed
 *    and command OFF.  The owner is never held; while a converter has an
 *    owner, every other pistol of it is held.
 *
 * Ownership rules:
 *  - A pistol *wants* its converter when its controller is alive (R1), no
 *    Emergency_Stop is coming (R45), and either its session window is open
 *    (R2) without a fault, or, before the window, its controller is
 *    negotiating with a vehicle (Negotiating_Connection,
 *    CCS_Authorisation_Process, Connected_With_Full_Info) or the shell knows
 *    a vehicle is waiting (vehicle_waiting).
 *  - Ownership ends as soon as the owner no longer wants the converter: the
 *    window closed (Charge_Session_Finished, R44), the vehicle left before
 *    the window opened, or a *trip*: the owner's fault inside the window,
 *    its Emergency_Stop, or its controller's silence.  It also ends when a
 *    claim stays without a session window for claim_timeout_us while another
 *    pistol could use the converter, and when the owner sits in
 *    Waiting_For_Charge or Charge_Pause for idle_timeout_us while another
 *    pistol wants the converter.  From that call on the converter has no
 *    owner and must be OFF; the former owner is held.
 *  - Handover: a converter that lost its owner is *draining*.  It gets a new
 *    owner only once both (a) the former owner's session commands OFF
 *    (command_off) and (b) the converter has confirmed OFF in a report made
 *    after the drain began, with no report of output since.  Until then every
 *    pistol of it is held.  A drain that does not complete within
 *    drain_timeout_us leaves the converter *stuck*: still off, every pistol
 *    held, until both conditions hold.  The first owner after init waits for
 *    the same confirmation.  A converter that reports output while it has no
 *    owner drains again.
 *  - After a drain, the converter goes to the pistols other than the former
 *    owner, one at a time, best first (policy below): to a pistol that wants
 *    it at once; to one that does not (yet) as an *offer*: that pistol alone
 *    is released for offer_us, so that a vehicle held behind
 *    Start_Charge_Authorisation = 0 (invisible to the power side) can start.
 *    When every candidate was passed over, the converter is *free*: every
 *    pistol of it is released and the first to want it becomes the owner.
 *  - Policy FIRST_COME: pistols that want the converter first, longest
 *    waiting first, then the longest held.  Policy PRIORITY: higher priority
 *    first, then as FIRST_COME.  Neither ever interrupts a charge: a
 *    pistol's priority only decides who is served next.
 *
 * Invariants (tests/fuzz/fuzz-arbiter.c checks them after every step): a
 * converter has at most one owner and only its owner may command it; an
 * owner that trips loses the converter in the same call, which is then
 * OFF; an update of a pistol never takes a converter from another pistol,
 * except by the claim or idle bound in favour of that (alive, not stopped)
 * pistol, so an Emergency_Stop of one pistol never touches a converter it
 * does not own; a new owner only after a completed drain.
 */
#ifndef SECCBRIDGE_ARBITER_H
#define SECCBRIDGE_ARBITER_H

#include <stdbool.h>
#include <stdint.h>

#define ARBITER_MAX_PISTOLS 8
#define ARBITER_MAX_CONVERTERS 8
/* No pistol: a converter without owner, offer or former owner. */
#define ARBITER_NONE UINT8_MAX
#define ARBITER_NO_DEADLINE UINT64_MAX

enum arbiter_policy {
        ARBITER_POLICY_FIRST_COME,      /* default */
        ARBITER_POLICY_PRIORITY,
};

struct arbiter_config {
        uint8_t pistols;                                /* 1..ARBITER_MAX_PISTOLS */
        uint8_t converters;                             /* 1..ARBITER_MAX_CONVERTERS, each used */
        uint8_t converter_of[ARBITER_MAX_PISTOLS];      /* pistol -> converter; default 0 */
        uint8_t priority[ARBITER_MAX_PISTOLS];          /* PRIORITY: higher first; default 0 */
        enum arbiter_policy policy;
        uint64_t offer_us;              /* > 0; default 5 s */
        uint64_t drain_timeout_us;      /* > 0; default 5 s */
        uint64_t claim_timeout_us;      /* 0 = no bound; default 120 s */
        uint64_t idle_timeout_us;       /* 0 = no bound; default 600 s */
};

/* What the shell knows of one pistol's session, read from its status after
 * every call into it (see doc/sharing.md for where each comes from). */
struct arbiter_facts {
        bool controller_alive;          /* heartbeat within the timeout (R1) */
        uint8_t controller_state;       /* Advantics_Controller_Status.State (same in v2 and v3) */
        bool in_session;                /* Power_Modules_Status window open (R2) */
        bool fault;                     /* the session's fault latch; only read inside the window */
        bool emergency_stop;            /* Emergency_Stop frames still coming (R45, R46) */
        bool command_off;               /* the session's converter command is OFF */
        bool vehicle_waiting;           /* optional: a vehicle is known to be plugged (HMI, CP state) */
};

enum arbiter_converter_state {
        ARBITER_CONVERTER_DEDICATED,    /* one pistol only: always its own */
        ARBITER_CONVERTER_DRAINING,     /* no owner, must be off, waiting for the OFF confirmation */
        ARBITER_CONVERTER_STUCK,        /* drain timed out: off, everybody held */
        ARBITER_CONVERTER_OFFERED,      /* no owner, off, one pistol released for offer_us */
        ARBITER_CONVERTER_FREE,         /* no owner, off, every pistol released */
        ARBITER_CONVERTER_OWNED,        /* one owner, the others held */
};

/* Why the latest owner lost the converter. */
enum arbiter_release {
        ARBITER_RELEASE_NONE,                   /* no owner yet */
        ARBITER_RELEASE_SESSION_ENDED,          /* window closed, or the vehicle left first */
        ARBITER_RELEASE_FAULT,                  /* trip: session fault in the window */
        ARBITER_RELEASE_EMERGENCY_STOP,         /* trip: R45 */
        ARBITER_RELEASE_CONTROLLER_SILENT,      /* trip: R1 */
        ARBITER_RELEASE_CLAIM_TIMEOUT,          /* no window within claim_timeout_us */
        ARBITER_RELEASE_IDLE_TIMEOUT,           /* idle for idle_timeout_us, another pistol waiting */
};

struct arbiter_counters {
        uint64_t grants;                /* a pistol became the owner */
        uint64_t trips;                 /* owner lost it by fault, Emergency_Stop, silence */
        uint64_t claim_timeouts;
        uint64_t idle_timeouts;
        uint64_t drain_timeouts;        /* became STUCK */
        uint64_t stray_output;          /* reported not off (output, or a fault for the
                                         * daemon) while it had no owner */
};

struct arbiter_converter_view {
        enum arbiter_converter_state state;
        bool shared;
        bool must_off;                  /* no owner: command OFF, forward nothing */
        uint8_t owner;                  /* pistol or ARBITER_NONE */
        uint8_t offered;                /* OFFERED: the pistol released, else ARBITER_NONE */
        uint8_t last_owner;             /* latest owner that lost it, or ARBITER_NONE */
        enum arbiter_release last_release;
        uint64_t since_us;              /* when the state was entered */
        struct arbiter_counters counters;
};

struct arbiter_pistol_view {
        uint8_t converter;
        bool owner;                     /* may command its converter */
        bool held;                      /* Start_Charge_Authorisation = 0, System_Enable = 0, OFF */
        bool waiting;                   /* wants its converter but does not own it */
        uint64_t waiting_since_us;      /* valid while waiting */
};

/* Private state: embed it, never touch its fields from outside the core. */
struct arbiter_pistol {
        struct arbiter_facts facts;
        bool reported;                  /* facts received at least once */
        bool held;
        uint64_t held_since_us;
        bool waiting;
        uint64_t waiting_since_us;
        bool passed;                    /* passed over since the converter's latest release */
};

struct arbiter_converter {
        enum arbiter_converter_state state;
        bool shared;
        uint8_t owner;
        uint8_t offered;
        uint8_t last_owner;
        enum arbiter_release last_release;
        uint64_t since_us;
        uint8_t drain_from;             /* DRAINING/STUCK: whose command must be OFF, or NONE */
        /* OWNED */
        bool started;                   /* the owner's window opened since the grant */
        bool idle;                      /* the owner sits in Waiting_For_Charge / Charge_Pause */
        uint64_t idle_since_us;
        /* converter reports */
        bool off;                       /* latest report: output off */
        bool off_since_drain;           /* off reported since the drain began, no output since */
        struct arbiter_counters counters;
};

struct arbiter {
        struct arbiter_config cfg;
        uint64_t now_us;
        struct arbiter_pistol pistol[ARBITER_MAX_PISTOLS];
        struct arbiter_converter converter[ARBITER_MAX_CONVERTERS];
};

/* One pistol on converter 0, policy FIRST_COME, the default times above. */
void arbiter_config_defaults(struct arbiter_config *cfg);
/* 0, or -EINVAL: pistol or converter count out of range, a pistol on a
 * converter that does not exist, a converter no pistol uses, an unknown
 * policy, offer_us or drain_timeout_us 0. */
int arbiter_config_check(const struct arbiter_config *cfg);

/* 0 or -EINVAL (bad config).  Every shared converter starts DRAINING, with
 * no former owner: nobody gets it before it has confirmed OFF; every pistol
 * sharing one starts held.  No pistol has reported yet (as if its controller
 * were silent). */
int arbiter_init(struct arbiter *a, const struct arbiter_config *cfg, uint64_t now_us);

/* Apply a new config (reload).  Policy, priorities and times may change, and
 * apply at once; ownership is kept.  The pistol-to-converter map may not
 * change: -EINVAL, and on error nothing changes.  Otherwise as below. */
int arbiter_reconfigure(struct arbiter *a, const struct arbiter_config *cfg, uint64_t now_us);

/* The pistol's facts after a call into its session (they replace the
 * previous ones).  1: a decision changed (an owner, an offer, a converter
 * state, a hold): read the views and apply them; 0: nothing changed;
 * -EINVAL: no such pistol or facts NULL (nothing changes). */
int arbiter_update(struct arbiter *a, uint8_t pistol, const struct arbiter_facts *facts,
                   uint64_t now_us);

/* A converter report: off = the backend applied OFF and the converter says
 * its output is off (no current).  A lost link is no report.  Returns as
 * arbiter_update(); -EINVAL for no such converter.  Ignored for a dedicated
 * converter. */
int arbiter_converter_report(struct arbiter *a, uint8_t converter, bool off, uint64_t now_us);

/* Time passed: offers that lapse, drains that time out, claim and idle
 * bounds.  1 or 0 as arbiter_update(). */
int arbiter_tick(struct arbiter *a, uint64_t now_us);

/* When arbiter_tick() must run next (always later than the latest time
 * seen); ARBITER_NO_DEADLINE when nothing is due. */
uint64_t arbiter_next_deadline(const struct arbiter *a);

/* The decisions.  A pistol or converter out of range reads as held / no
 * owner / must be off (never as permission). */
bool arbiter_may_command(const struct arbiter *a, uint8_t pistol);
bool arbiter_held(const struct arbiter *a, uint8_t pistol);
uint8_t arbiter_owner(const struct arbiter *a, uint8_t converter);
bool arbiter_must_off(const struct arbiter *a, uint8_t converter);
/* 0 or -EINVAL (out of range; *out untouched). */
int arbiter_get_converter(const struct arbiter *a, uint8_t converter,
                          struct arbiter_converter_view *out);
int arbiter_get_pistol(const struct arbiter *a, uint8_t pistol, struct arbiter_pistol_view *out);

const char *arbiter_converter_state_name(enum arbiter_converter_state state);
const char *arbiter_release_name(enum arbiter_release release);
const char *arbiter_policy_name(enum arbiter_policy policy);

#endif
