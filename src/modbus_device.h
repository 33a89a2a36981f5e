/* SPDX-License-Identifier: MIT */
/*
 * The devices on one Modbus bus (a converter, an insulation monitor, or both
 * on one RS-485 line), as a pure state machine: it decides every request the
 * bus gets and what each answer means.  Like the protocol core it reads no
 * clock, sleeps, locks and logs nothing and makes no I/O: time is an
 * argument, and the worker thread (modbus_worker.c) executes what it says
 * with libmodbus (modbus_io.c) and hands back what happened.
 *
 *     for (;;) {
 *             modbus_device_next(m, now, &op);        what to do next
 *             ... execute op: a request, a pause, or idle until a time ...
 *             modbus_device_result(m, &result, now);  what came of it
 *             modbus_device_event(m, &ev) ...        what is worth a log line
 *     }
 *
 * with modbus_device_command() whenever the wanted converter state changes
 * and modbus_device_stop() at the end.  The decisions, in order:
 *
 * - Output off first: after every (re)connect, an OFF that is wanted goes out
 *   before the profile's init sequence and the capability reads; an OFF that
 *   follows a power command restarts the pass, so the disable write is the
 *   very next request on the bus.  The disable write is repeated at every
 *   pass until the device confirms it (status word output_on flag, or the
 *   enable read back), then at every setpoint refresh.
 * - Setpoints: written when they change and again every setpoint_refresh_ms
 *   (a keepalive for converters with their own watchdog); a lower current
 *   goes out before a new voltage, the enable after both.  They are written as
 *   the command says: the limits, the converter's rating among them, are the
 *   protocol core's (limits.h); the rating is reported with the measurement.
 * - Measurements: every poll_interval_ms, in as few reads as the profile's
 *   plan allows; the fault word, the status word, readiness.
 * - The link: lost when no complete read cycle for link_timeout_ms.  An
 *   exception is an answer (the link is fine).  A timeout or a garbled answer
 *   may be followed by the late answer itself, which libmodbus 3.1.6 would
 *   take for the answer to the next request: over TCP the connection is
 *   closed and made again at once; over RTU the machine waits one response
 *   timeout and flushes the line (and, silent for link_timeout_ms, treats
 *   the device as restarted: OFF first, init sequence, capabilities).  A
 *   failing serial port is closed and reopened.  Connections are retried
 *   with a backoff doubling from 100 ms to reconnect_max_ms, back to 100 ms
 *   after a complete read cycle.
 * - The stop: OFF written and read back until confirmed or
 *   shutdown_timeout_ms, then the profiles' shutdown sequences, then close.
 *
 * Devices are numbered from 0 in the order given to modbus_device_init(); a
 * converter, if any, is device 0 and takes its bus settings from it.
 */
#ifndef SECCBRIDGE_MODBUS_DEVICE_H
#define SECCBRIDGE_MODBUS_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modbus_params.h"
#include "modbus_profile.h"
#include "seccbridge/power.h"

#define MODBUS_DEVICE_MAX 2             /* devices on one bus */
#define MODBUS_DEVICE_REASON_MAX 192
#define MODBUS_DEVICE_BACKOFF_MIN_MS 100
#define MODBUS_DEVICE_EVENTS 16

/* ---- what to do --------------------------------------------------------- */

enum modbus_op_kind {
        MODBUS_OP_CONNECT,      /* open the serial port (and its RS-485 mode) or the TCP connection */
        MODBUS_OP_CLOSE,        /* close it */
        MODBUS_OP_FLUSH,        /* drop whatever the line holds that nobody read */
        MODBUS_OP_READ,         /* read `count` registers or bits of `area` from `address` */
        MODBUS_OP_WRITE,        /* write `count` values with `function` at `address` */
        MODBUS_OP_PAUSE,        /* do nothing until until_us, whatever arrives meanwhile */
        MODBUS_OP_IDLE,         /* wait until until_us or a new command */
        MODBUS_OP_DONE,         /* stopped, the bus closed: end */
};

struct modbus_op {
        enum modbus_op_kind kind;
        uint8_t unit;                   /* READ, WRITE: the device's unit id */
        enum modbus_area area;          /* READ */
        uint8_t function;               /* WRITE: 5, 6, 15 or 16 */
        uint16_t address;               /* READ, WRITE */
        uint16_t count;                 /* READ, WRITE */
        uint16_t values[2];             /* WRITE */
        uint64_t until_us;              /* PAUSE, IDLE */
        bool publish;                   /* a pass is over: publish the status first */
        bool off;                       /* WRITE: switches a converter's output off (a shared line
                                         * puts it before every other request) */
};

/* What came of a CONNECT, FLUSH, READ or WRITE (CLOSE, PAUSE and IDLE take
 * no result). */
enum modbus_result_kind {
        MODBUS_RESULT_OK,
        MODBUS_RESULT_TIMEOUT,          /* no (complete) answer within the response timeout */
        MODBUS_RESULT_GARBLED,          /* something that was not an answer: CRC, length, unit, function */
        MODBUS_RESULT_EXCEPTION,        /* the device answered with a Modbus exception */
        MODBUS_RESULT_IO_ERROR,         /* the port or connection failed, or could not be opened */
};

struct modbus_result {
        enum modbus_result_kind kind;
        int err;                        /* -errno or libmodbus's code; 0 when OK */
        const char *error;              /* what went wrong, in words ("Connection timed out") */
        const char *step;               /* CONNECT: the step that failed ("connect", "kernel RS-485 mode") */
        const uint16_t *values;         /* READ, OK: count registers, or bits as 0/1 */
};

/* ---- what happened, for the log ------------------------------------------ */

enum modbus_event_kind {
        MODBUS_EVENT_LINK_PROBLEM,      /* a request or the connection failed; text: why (every time) */
        MODBUS_EVENT_LINK_OK,           /* a complete read cycle after a problem */
        MODBUS_EVENT_RATED,             /* the device's name and ratings, once they are first known */
        MODBUS_EVENT_FAULT,             /* the device reports a fault, or another one; text: which */
        MODBUS_EVENT_FAULT_CLEARED,
        MODBUS_EVENT_OFF_CONFIRMED,     /* the converter's output reads back off */
        MODBUS_EVENT_STOPPED_OFF,       /* at the stop: the output confirmed off */
        MODBUS_EVENT_STOPPED_NOT_OFF,   /* at the stop: not confirmed within shutdown_timeout_ms; text: why */
        MODBUS_EVENT_SHUTDOWN_FAILED,   /* the profile's shutdown sequence failed; text: why */
};

struct modbus_event {
        enum modbus_event_kind kind;
        size_t device;
        bool settings_error;            /* LINK_PROBLEM: a setting is wrong (not worth retrying quietly) */
        char text[MODBUS_DEVICE_REASON_MAX];
};

/* ---- what a device says -------------------------------------------------- */

struct modbus_device_status {
        /* The converter fills everything, its rating included; a monitor
         * only insulation_kohm, link_ok and fault. */
        struct power_measurement m;
        char reason[MODBUS_DEVICE_REASON_MAX];  /* current problem, "" if none */
        bool seen;                              /* a complete read cycle ever since start */
        uint64_t updates;                       /* publications so far (set by the worker) */
};

/* Timing that a reload may change without a restart. */
struct modbus_device_timing {
        uint32_t poll_interval_ms;
        uint32_t setpoint_refresh_ms;
        uint32_t link_timeout_ms;
        uint32_t min_gap_ms;
};

/* ---- private state: embed it, never touch its fields from outside -------- */

enum modbus_output {
        MODBUS_OUT_VOLTAGE,
        MODBUS_OUT_CURRENT,
        MODBUS_OUT_ENABLE,
        MODBUS_OUT_SINK_CURRENT,        /* B2: [set_sink_current], when the profile has one */
        MODBUS_OUT_COUNT
};

struct modbus_written {
        bool valid;                     /* what the device holds is what we wrote */
        uint16_t regs[2];
        uint64_t at_us;
};

struct modbus_device {
        struct modbus_params params;    /* profile included */
        enum modbus_role role;
        char what[MODBUS_DEVICE_REASON_MAX];    /* "converter (tcp 10.0.0.5:502 unit 1)" */
        struct modbus_plan plan;
        struct modbus_plan cap_plan;
        struct modbus_caps caps;
        bool rated_told;
        bool need_init;                 /* after a connect: off first, init, capabilities */
        uint64_t init_retry_us;         /* a failed start is tried again from then */

        bool ever_ok;
        uint64_t last_ok_us;            /* end of the last complete read cycle */
        uint64_t next_poll_us;

        bool have[MODBUS_POINT_COUNT];
        uint16_t raw[MODBUS_POINT_COUNT][2];
        double value[MODBUS_POINT_COUNT];
        bool flag[MODBUS_FLAG_COUNT];
        uint32_t fault_raw;
        uint32_t status_raw;

        struct modbus_written written[MODBUS_OUT_COUNT];
        bool off_confirmed;

        bool faulted;
        char problem[MODBUS_DEVICE_REASON_MAX];
        char fault_reason[MODBUS_DEVICE_REASON_MAX];
};

/* Where a pass over the bus stands. */
enum modbus_stage {
        MODBUS_STAGE_INIT_OFF,          /* device k: off writes before its init sequence */
        MODBUS_STAGE_INIT_STEPS,        /* device k: init step `index` */
        MODBUS_STAGE_CAPS,              /* device k: capability block `index` */
        MODBUS_STAGE_OUTPUT,            /* device k: setpoint and enable writes */
        MODBUS_STAGE_READS,             /* device k: measurement block `index` */
        MODBUS_STAGE_END,
};

enum modbus_stop_stage {
        MODBUS_STOP_ATTEMPT,            /* give up at the deadline; connect if need be */
        MODBUS_STOP_OFF_WRITES,         /* the off writes, forced */
        MODBUS_STOP_READ_BACK,          /* the converter's read cycle: block `index` */
        MODBUS_STOP_START,              /* its start (stage, index), when it needs one */
        MODBUS_STOP_PAUSE,              /* until stop_resume_us, then the next attempt */
        MODBUS_STOP_SEQUENCES,          /* device k: shutdown step `index` */
        MODBUS_STOP_CLOSE,
        MODBUS_STOP_DONE,
};

/* What the op handed out was for. */
enum modbus_purpose {
        MODBUS_FOR_NOTHING,
        MODBUS_FOR_CONNECT,
        MODBUS_FOR_CLOSE,
        MODBUS_FOR_FLUSH,
        MODBUS_FOR_OFF,                 /* out: an output written for OFF */
        MODBUS_FOR_POWER,               /* out: an output written for a power command */
        MODBUS_FOR_INIT_STEP,
        MODBUS_FOR_CAPS,
        MODBUS_FOR_READ,
        MODBUS_FOR_SHUTDOWN_STEP,
};

struct modbus_device_bus {
        struct modbus_device dev[MODBUS_DEVICE_MAX];
        size_t n_dev;
        struct modbus_device_timing t;
        struct power_command cmd;       /* the wanted converter state */
        bool cmd_changed;               /* a pass is due for it */

        bool connected;
        bool ok_since_connect;          /* a complete read cycle on this connection */
        uint64_t next_connect_us;
        uint32_t backoff_ms;
        uint64_t last_request_end_us;   /* 0: none on this connection */
        bool must_close;                /* CLOSE next (TCP after a timeout, a failed port) */
        uint64_t reconnect_at_us;       /* after that CLOSE */
        bool must_flush;                /* RTU: FLUSH at flush_at_us */
        uint64_t flush_at_us;

        /* The pass in progress. */
        bool pass;
        enum modbus_stage stage;
        size_t k;
        size_t index;
        uint8_t done[MODBUS_DEVICE_MAX];        /* outputs written in this pass (bits) */
        bool output_over[MODBUS_DEVICE_MAX];    /* no more output writes in this pass */

        /* The op handed out, until its result. */
        struct modbus_op op;
        enum modbus_purpose purpose;
        size_t op_dev;
        enum modbus_output op_out;
        uint64_t op_at_us;

        /* The stop. */
        bool stopping;
        enum modbus_stop_stage stop_stage;
        uint64_t stop_deadline_us;
        uint64_t stop_resume_us;
        bool stop_tried;

        struct modbus_event events[MODBUS_DEVICE_EVENTS];
        size_t ev_head;
        size_t ev_len;
};

/* ---- the calls ------------------------------------------------------------ */

struct modbus_device_config {
        const struct modbus_params *params;     /* copied */
        enum modbus_role role;
};

/* Set up the machine for n devices on one bus (devices[0] gives the bus
 * settings and the timing; a converter must be devices[0]), not connected,
 * the wanted state OFF.  0, -EINVAL (n) or -E2BIG (a profile's plan). */
int modbus_device_init(struct modbus_device_bus *m, const struct modbus_device_config *devices, size_t n);

/* The latest wanted converter state.  A switch from a power command to OFF
 * or STANDBY ends the pass under way: the disable write is the next request. */
void modbus_device_command(struct modbus_device_bus *m, const struct power_command *cmd, uint64_t now_us);

void modbus_device_set_timing(struct modbus_device_bus *m, const struct modbus_device_timing *t);

/* What to do now.  An op not executed (a new command came first) is simply
 * forgotten: ask again. */
void modbus_device_next(struct modbus_device_bus *m, uint64_t now_us, struct modbus_op *op);

/* The result of the last CONNECT, FLUSH, READ or WRITE handed out, at now_us
 * (its end).  CLOSE is taken as done when the next op is asked for. */
void modbus_device_result(struct modbus_device_bus *m, const struct modbus_result *r, uint64_t now_us);

/* Switch the output off, run the shutdown sequences, close; the ops end with
 * MODBUS_OP_DONE.  Commands are ignored from here on. */
void modbus_device_stop(struct modbus_device_bus *m, uint64_t now_us);

/* The next event to log: true and *ev filled, false when there is none. */
bool modbus_device_event(struct modbus_device_bus *m, struct modbus_event *ev);

/* "converter (tcp 10.0.0.5:502 unit 1)": device i, for the log.  Valid as
 * long as the machine. */
const char *modbus_device_name(const struct modbus_device_bus *m, size_t i);

/* What device i says at now_us. */
void modbus_device_status(const struct modbus_device_bus *m, size_t i, uint64_t now_us,
                          struct modbus_device_status *out);

/* The converter's status and the insulation monitor's (mon NULL: none
 * configured; mon_have false: not published yet) as one measurement and one
 * reason: the monitor's resistance replaces the converter's; a monitor that
 * answered once and is lost or faulty is a fault (nothing may be charged
 * without it); one not heard from yet keeps the converter not ready. */
void modbus_device_merge(const struct modbus_device_status *conv, const struct modbus_device_status *mon,
                         bool mon_have, struct power_measurement *out, char *reason, size_t reason_len);

#endif
