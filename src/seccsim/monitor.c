/* SPDX-License-Identifier: MIT */
/*
 * `seccsim monitor -i IFACE [--pistol N] [--log FILE]`: both sides of the
 * interface of one pistol on one screen, from a passive CAN socket.
 *
 * On a terminal the screen is redrawn about five times a second (ANSI): the
 * last frame of every message, as `seccsim decode` prints it
 * (frame_text_describe_filtered), controller side and power side apart; the
 * timing of the two periodic frames, Advantics_Controller_Status (R1) and
 * Power_Modules_Status (R2): last period, mean and maximum; the warnings
 * that hold now; and the latest events.  When stdout is not a terminal (or
 * with --plain), events and warnings are printed as lines when they happen,
 * plus a summary line every second.
 *
 * Warnings (the monitor's own margins, not the protocol's):
 *   - controller heartbeat late: no Advantics_Controller_Status for more
 *     than 200 ms (R1);
 *   - status period late: more than 150 ms between two
 *     Power_Modules_Status while a session is open (R2 asks for 100 ms);
 *   - current not following request: while Charging, the present current
 *     more than 5 A away from the requested one (capped by the announced
 *     limit) for more than 2 s, without the output being at the requested
 *     voltage (CV);
 *   - System_Enable Not_Allowed while a session is open.
 *
 * --log FILE writes every frame received, of every pistol, in candump -L
 * form.  Runs until SIGINT or SIGTERM; exit 0, 1 when the interface or the
 * log file cannot be used, 2 on a usage error.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/can.h>

#include "../canframe.h"
#include "frame_text.h"
#include "seccsim.h"
#include "seccsim_can.h"

#define MONITOR_EXIT_USAGE 2
#define MONITOR_REFRESH_US 200000               /* ~5 Hz */
#define MONITOR_SUMMARY_US 1000000              /* plain mode */
#define MONITOR_HEARTBEAT_LATE_US 200000        /* R1 */
#define MONITOR_STATUS_LATE_US 150000           /* R2 100 ms, plus margin */
#define MONITOR_FOLLOW_TOLERANCE_DA 50          /* 5 A */
#define MONITOR_FOLLOW_CV_MARGIN_DV 50          /* 5 V */
#define MONITOR_FOLLOW_SETTLE_US 2000000
#define MONITOR_EVENTS 10
#define MONITOR_LINE 256

enum monitor_warning {
        MONITOR_WARN_HEARTBEAT,
        MONITOR_WARN_STATUS,
        MONITOR_WARN_FOLLOW,
        MONITOR_WARN_ENABLE,
        MONITOR_WARN_COUNT
};

struct monitor_timing {
        uint64_t last_us;               /* time of the last frame, 0 = none */
        uint64_t period_us;             /* last period */
        uint64_t max_us;
        uint64_t sum_us;
        uint64_t periods;
};

struct monitor_msg {
        uint64_t count;
        uint64_t last_us;
        char text[FRAME_TEXT_LINE_MAX];
};

struct monitor {
        const struct codec_db *db;
        const char *ifname;
        int pistol;
        bool tty;
        FILE *log;
        int width;                      /* terminal columns */

        uint64_t frames;
        uint64_t unknown;
        uint64_t malformed;
        uint64_t foreign;
        uint64_t error_frames;
        uint32_t kernel_drops;

        struct monitor_msg msgs[CODEC_MSG_COUNT];
        struct monitor_timing heartbeat;        /* Advantics_Controller_Status */
        struct monitor_timing status;           /* Power_Modules_Status */

        /* What the frames say, for the warnings and events. */
        bool state_known;
        uint8_t state;
        bool window_open;                       /* New_Charge_Session .. Charge_Session_Finished */
        bool have_loop;
        struct codec_charging_loop loop;
        uint64_t loop_change_us;
        bool have_pms;
        struct codec_power_modules_status pms;
        bool have_limits;
        int16_t max_current_da;                 /* advertised: Power_Modules_Limits / DC_Power_Parameters */
        char limits_text[FRAME_TEXT_LINE_MAX];
        bool have_power_control;
        struct codec_dc_power_control power_control;
        bool have_flags;
        struct codec_sequence_control flags;
        uint64_t last_estop_us;
        uint64_t follow_bad_since_us;           /* 0 = following */

        bool warning[MONITOR_WARN_COUNT];
        char warning_text[MONITOR_WARN_COUNT][MONITOR_LINE];

        char events[MONITOR_EVENTS][MONITOR_LINE];
        size_t n_events;                        /* total ever recorded */
        uint64_t next_summary_us;
};

static uint64_t monitor_clock_us(void)
{
        struct timeval tv;

        gettimeofday(&tv, NULL);
        return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static void monitor_time_text(uint64_t us, char *buf, size_t len)
{
        time_t s = (time_t)(us / 1000000u);
        struct tm tm;

        localtime_r(&s, &tm);
        snprintf(buf, len, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (unsigned)(us % 1000000u / 1000u));
}

static void monitor_event(struct monitor *m, uint64_t now, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Something happened: into the screen's event list, or printed at once. */
static void monitor_event(struct monitor *m, uint64_t now, const char *fmt, ...)
{
        char *slot = m->events[m->n_events % MONITOR_EVENTS];
        char when[32];
        int n;
        va_list ap;

        monitor_time_text(now, when, sizeof(when));
        n = snprintf(slot, MONITOR_LINE, "%s ", when);
        va_start(ap, fmt);
        vsnprintf(slot + n, MONITOR_LINE - (size_t)n, fmt, ap);
        va_end(ap);
        m->n_events++;
        if (!m->tty) {
                printf("%s\n", slot);
                fflush(stdout);
        }
}

static void monitor_warn(struct monitor *m, enum monitor_warning w, bool on, uint64_t now, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/* A warning holds (on) or not; its start and end are events. */
static void monitor_warn(struct monitor *m, enum monitor_warning w, bool on, uint64_t now, const char *fmt, ...)
{
        va_list ap;

        if (on) {
                va_start(ap, fmt);
                vsnprintf(m->warning_text[w], sizeof(m->warning_text[w]), fmt, ap);
                va_end(ap);
                if (!m->warning[w])
                        monitor_event(m, now, "warning: %s", m->warning_text[w]);
        } else if (m->warning[w]) {
                monitor_event(m, now, "warning over: %s", m->warning_text[w]);
        }
        m->warning[w] = on;
}

/* ---- timing ---- */

/* A periodic frame arrived at t; returns its period (0 for the first). */
static uint64_t monitor_timing_add(struct monitor_timing *t, uint64_t at)
{
        uint64_t period = 0;

        if (t->last_us && at > t->last_us) {
                period = at - t->last_us;
                t->period_us = period;
                t->sum_us += period;
                t->periods++;
                if (period > t->max_us)
                        t->max_us = period;
        }
        t->last_us = at;
        return period;
}

static void monitor_timing_text(const struct monitor_timing *t, char *buf, size_t len)
{
        if (t->periods == 0)
                snprintf(buf, len, "no period yet");
        else
                snprintf(buf, len, "last %3llu ms, mean %3llu ms, max %3llu ms",
                         (unsigned long long)(t->period_us / 1000),
                         (unsigned long long)(t->sum_us / t->periods / 1000),
                         (unsigned long long)(t->max_us / 1000));
}

/* ---- what the frames mean ---- */

static const char *monitor_state_name(uint8_t state)
{
        return codec_controller_state_name(state);
}

/* Warnings that depend on the passing of time, not on a frame. */
static void monitor_check_time(struct monitor *m, uint64_t now)
{
        uint64_t silence;

        silence = m->heartbeat.last_us && now > m->heartbeat.last_us ? now - m->heartbeat.last_us : 0;
        if (silence > MONITOR_HEARTBEAT_LATE_US)
                monitor_warn(m, MONITOR_WARN_HEARTBEAT, true, now,
                             "controller heartbeat late: no Advantics_Controller_Status for %llu ms (R1: 200 ms)",
                             (unsigned long long)(silence / 1000));
        else if (m->heartbeat.last_us)
                monitor_warn(m, MONITOR_WARN_HEARTBEAT, false, now, "%s", "");

        silence = m->status.last_us && now > m->status.last_us ? now - m->status.last_us : 0;
        if (m->window_open && silence > MONITOR_STATUS_LATE_US)
                monitor_warn(m, MONITOR_WARN_STATUS, true, now,
                             "status period late: no Power_Modules_Status for %llu ms in a session (R2: 100 ms)",
                             (unsigned long long)(silence / 1000));
        else if (!m->window_open)
                monitor_warn(m, MONITOR_WARN_STATUS, false, now, "%s", "");
}

/* R36: the current follows the request, unless the output is at the
 * requested voltage (CV) or the announced limit is lower. */
static void monitor_check_follow(struct monitor *m, uint64_t now)
{
        int32_t want, got;
        bool following;

        if (!m->state_known || m->state != CODEC_STATE_CHARGING || !m->have_loop || !m->have_pms ||
            m->loop.target_current_da <= 0) {
                m->follow_bad_since_us = 0;
                monitor_warn(m, MONITOR_WARN_FOLLOW, false, now, "%s", "");
                return;
        }
        want = m->loop.target_current_da;
        if (m->have_limits && m->max_current_da > 0 && m->max_current_da < want)
                want = m->max_current_da;
        got = m->pms.present_current_da;
        following = (got - want <= MONITOR_FOLLOW_TOLERANCE_DA && want - got <= MONITOR_FOLLOW_TOLERANCE_DA) ||
                    m->pms.present_voltage_dv + MONITOR_FOLLOW_CV_MARGIN_DV >= m->loop.target_voltage_dv;
        if (following) {
                m->follow_bad_since_us = 0;
                monitor_warn(m, MONITOR_WARN_FOLLOW, false, now, "%s", "");
                return;
        }
        if (m->follow_bad_since_us == 0)
                m->follow_bad_since_us = now;
        /* A new request gets its settling time too. */
        if (now - m->follow_bad_since_us >= MONITOR_FOLLOW_SETTLE_US &&
            now - m->loop_change_us >= MONITOR_FOLLOW_SETTLE_US)
                monitor_warn(m, MONITOR_WARN_FOLLOW, true, now,
                             "current not following request: %.1f A asked, %.1f A for %.1f s",
                             want / 10.0, got / 10.0, (double)(now - m->follow_bad_since_us) / 1e6);
}

/* A power request (Charging_Loop, or DC_Power_Control in v3). */
static void monitor_on_request(struct monitor *m, uint16_t voltage_dv, int16_t current_da, uint64_t at)
{
        if (!m->have_loop || m->loop.target_current_da != current_da || m->loop.target_voltage_dv != voltage_dv)
                m->loop_change_us = at;
        m->loop.target_voltage_dv = voltage_dv;
        m->loop.target_current_da = current_da;
        m->have_loop = true;
}

/* The charger's advertised limits (Power_Modules_Limits, DC_Power_Parameters). */
static void monitor_on_limits(struct monitor *m, int16_t max_current_da, const char *text, uint64_t at)
{
        if (!m->have_limits || strcmp(m->limits_text, text) != 0)
                monitor_event(m, at, "%s", text);
        snprintf(m->limits_text, sizeof(m->limits_text), "%s", text);
        m->max_current_da = max_current_da;
        m->have_limits = true;
}

static void monitor_on_message(struct monitor *m, const struct codec_message *msg, const char *text, uint64_t at)
{
        uint64_t period;

        switch (msg->type) {
        case CODEC_ADVANTICS_CONTROLLER_STATUS: {
                uint8_t state = msg->u.advantics_controller_status.state;

                period = monitor_timing_add(&m->heartbeat, at);
                if (period > MONITOR_HEARTBEAT_LATE_US)
                        monitor_event(m, at, "controller heartbeat gap of %llu ms (R1: 200 ms)",
                                      (unsigned long long)(period / 1000));
                if (!m->state_known || state != m->state) {
                        if (m->state_known)
                                monitor_event(m, at, "controller %s -> %s", monitor_state_name(m->state),
                                              monitor_state_name(state));
                        else
                                monitor_event(m, at, "controller %s", monitor_state_name(state));
                }
                m->state_known = true;
                m->state = state;
                break;
        }
        case CODEC_POWER_MODULES_STATUS: {
                const struct codec_power_modules_status *p = &msg->u.power_modules_status;

                period = monitor_timing_add(&m->status, at);
                if (m->window_open && period > MONITOR_STATUS_LATE_US)
                        monitor_event(m, at, "status period late: %llu ms between two Power_Modules_Status",
                                      (unsigned long long)(period / 1000));
                monitor_warn(m, MONITOR_WARN_STATUS, false, at, "%s", "");
                if (!m->have_pms || p->system_enable != m->pms.system_enable)
                        monitor_event(m, at, "System_Enable %s", p->system_enable ? "Allowed" : "Not_Allowed");
                m->pms = *p;
                m->have_pms = true;
                if (m->window_open && !p->system_enable && m->state_known &&
                    m->state >= CODEC_STATE_INSULATION_TEST && m->state <= CODEC_STATE_WELDING_DETECTION)
                        monitor_warn(m, MONITOR_WARN_ENABLE, true, at,
                                     "System_Enable Not_Allowed in %s", monitor_state_name(m->state));
                else
                        monitor_warn(m, MONITOR_WARN_ENABLE, false, at, "%s", "");
                monitor_check_follow(m, at);
                break;
        }
        case CODEC_POWER_MODULES_LIMITS:
                monitor_on_limits(m, msg->u.power_modules_limits.maximum_current_da, text, at);
                break;
        case CODEC_DC_POWER_PARAMETERS:
                monitor_on_limits(m, msg->u.dc_power_parameters.maximum_charge_current_da > INT16_MAX
                                             ? INT16_MAX
                                             : (int16_t)msg->u.dc_power_parameters.maximum_charge_current_da,
                                  text, at);
                break;
        case CODEC_SEQUENCE_CONTROL:
                if (!m->have_flags || memcmp(&m->flags, &msg->u.sequence_control, sizeof(m->flags)) != 0)
                        monitor_event(m, at, "%s", text);
                m->flags = msg->u.sequence_control;
                m->have_flags = true;
                break;
        case CODEC_NEW_CHARGE_SESSION:
        case CODEC_NEW_CHARGE_SESSION_V3:
                if (!m->window_open)
                        monitor_event(m, at, "%s", text);
                m->window_open = true;
                break;
        case CODEC_CHARGING_LOOP:
                monitor_on_request(m, msg->u.charging_loop.target_voltage_dv,
                                   msg->u.charging_loop.target_current_da, at);
                break;
        case CODEC_DC_POWER_CONTROL: {
                const struct codec_dc_power_control *d = &msg->u.dc_power_control;

                if (!m->have_power_control || d->power_function != m->power_control.power_function ||
                    d->output_contactors != m->power_control.output_contactors ||
                    d->lower_output_voltage != m->power_control.lower_output_voltage)
                        monitor_event(m, at, "%s", text);
                m->power_control = *d;
                m->have_power_control = true;
                /* The request the current must follow: Power_Transfer's
                 * target (Current_Range_Max, V15), anything else asks for
                 * no current. */
                if (d->power_function == CODEC_POWER_FUNCTION_POWER_TRANSFER)
                        monitor_on_request(m, d->target_voltage_dv, d->current_range_max_da, at);
                else
                        monitor_on_request(m, 0, 0, at);
                break;
        }
        case CODEC_EMERGENCY_STOP:
                /* Repeated every 100 ms: one event per burst. */
                if (!m->last_estop_us || at - m->last_estop_us > 1000000)
                        monitor_event(m, at, "%s", text);
                m->last_estop_us = at;
                break;
        case CODEC_CHARGE_SESSION_FINISHED:
                monitor_event(m, at, "%s", text);
                m->window_open = false;
                m->have_loop = false;
                break;
        case CODEC_CHARGE_STATUS_CHANGE:
        case CODEC_OCPP_CONTROL:
                monitor_event(m, at, "%s", text);
                break;
        case CODEC_INSULATION_TEST:
        case CODEC_PRECHARGE:
        case CODEC_EV_INFORMATION_BATTERY:
        case CODEC_EV_INFORMATION_VOLTAGES:
        case CODEC_EV_INFORMATION_CHARGE_LIMITS:
        case CODEC_EV_INFORMATION_DISCHARGE_LIMITS:
        case CODEC_EV_INFORMATION_ENERGY:
                /* Shown in the last-frames list. */
                break;
        case CODEC_ADM_CS_SECC_OUTPUTS:
        case CODEC_ADM_CS_SPCC_OUTPUTS:
        case CODEC_ADM_CO_CUI1_INPUTS:
        case CODEC_ADM_CS_SECC_INPUTS:
        case CODEC_EV_ID_CCS_PART2_DIN:
        case CODEC_ADM_CS_SPCC_INPUTS:
        case CODEC_CCS_EXTRA_INFORMATION:
        case CODEC_MCS_EXTRA_INFORMATION:
        case CODEC_MSG_COUNT:
                break;
        }
}

/* ---- frames ---- */

static void monitor_log_frame(struct monitor *m, const struct can_frame *cf, uint64_t at)
{
        fprintf(m->log, "(%llu.%06llu) %s ", (unsigned long long)(at / 1000000u),
                (unsigned long long)(at % 1000000u), m->ifname);
        if (cf->can_id & CAN_ERR_FLAG) {
                fprintf(m->log, "%08X#", (unsigned)(cf->can_id & (CAN_ERR_MASK | CAN_ERR_FLAG)));
                for (unsigned k = 0; k < cf->len && k < CAN_MAX_DLEN; k++)
                        fprintf(m->log, "%02X", cf->data[k]);
                fputc('\n', m->log);
        } else if (cf->can_id & CAN_RTR_FLAG) {
                if (cf->can_id & CAN_EFF_FLAG)
                        fprintf(m->log, "%08X#R\n", (unsigned)(cf->can_id & CAN_EFF_MASK));
                else
                        fprintf(m->log, "%03X#R\n", (unsigned)(cf->can_id & CAN_SFF_MASK));
        } else {
                struct codec_frame f;
                char text[64];

                canframe_to_codec(cf, &f);
                frame_text_format(&f, text, sizeof(text));
                fprintf(m->log, "%s\n", text);
        }
}

static void monitor_on_frame(struct monitor *m, const struct can_frame *cf, uint64_t at)
{
        char text[FRAME_TEXT_LINE_MAX];
        struct codec_message msg;
        struct codec_frame f;
        int r;

        m->frames++;
        if (m->log)
                monitor_log_frame(m, cf, at);
        if (cf->can_id & CAN_ERR_FLAG) {
                if (m->error_frames++ == 0)
                        monitor_event(m, at, "first CAN error frame (class %08X)",
                                      (unsigned)(cf->can_id & CAN_ERR_MASK));
                return;
        }
        if (canframe_to_codec(cf, &f) < 0)
                return;         /* remote frame: only logged */

        /* Decoding and its text: the codec and frame_text, as seccsim decode. */
        r = frame_text_describe_filtered(m->db, &f, m->pistol, text, sizeof(text));
        if (r == -EBADMSG) {
                if (m->malformed++ == 0)
                        monitor_event(m, at, "%s", text);
                return;
        }
        if (r == -ENOMSG) {
                const struct codec_msg_info *info = f.extended ? codec_msg_info_by_id(m->db, f.id) : NULL;

                if (info)
                        m->foreign++;
                else
                        m->unknown++;
                return;
        }
        if (r < 0 || codec_decode(m->db, &f, (uint8_t)m->pistol, &msg) < 0)
                return;
        m->msgs[msg.type].count++;
        m->msgs[msg.type].last_us = at;
        snprintf(m->msgs[msg.type].text, sizeof(m->msgs[msg.type].text), "%s", text);
        monitor_on_message(m, &msg, text, at);
}

/* ---- output ---- */

/* One line of the screen, cut to the terminal's width. */
static void monitor_put(const struct monitor *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void monitor_put(const struct monitor *m, const char *fmt, ...)
{
        char line[FRAME_TEXT_LINE_MAX + 64];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (m->width > 0 && strlen(line) > (size_t)m->width)
                line[m->width] = '\0';
        /* Clear the rest of the line: the previous screen may have been wider. */
        printf("%s\033[K\n", line);
}

static void monitor_put_messages(const struct monitor *m, enum codec_dir dir, uint64_t now)
{
        bool any = false;

        for (size_t i = 0; i < m->db->n_messages; i++) {
                const struct codec_msg_info *info = &m->db->messages[i];
                const struct monitor_msg *mm = &m->msgs[info->type];

                if (info->dir != dir || mm->count == 0)
                        continue;
                monitor_put(m, "  %6.1f s ago %6llu  %s", (double)(now - mm->last_us) / 1e6,
                            (unsigned long long)mm->count, mm->text);
                any = true;
        }
        if (!any)
                monitor_put(m, "  (nothing yet)");
}

static void monitor_draw(struct monitor *m, uint64_t now)
{
        struct winsize ws;
        char when[32], hb[96], st[96];
        size_t first;
        bool any = false;

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                m->width = ws.ws_col;
        monitor_time_text(now, when, sizeof(when));
        monitor_timing_text(&m->heartbeat, hb, sizeof(hb));
        monitor_timing_text(&m->status, st, sizeof(st));

        printf("\033[H");
        monitor_put(m, "seccsim monitor  %s  pistol %d  %s   (Ctrl-C to stop)", m->ifname, m->pistol, when);
        monitor_put(m, "frames %llu: other pistols %llu, unknown %llu, malformed %llu, error frames %llu, "
                    "kernel drops %u", (unsigned long long)m->frames, (unsigned long long)m->foreign,
                    (unsigned long long)m->unknown, (unsigned long long)m->malformed,
                    (unsigned long long)m->error_frames, m->kernel_drops);
        monitor_put(m, "%s", "");
        monitor_put(m, "controller: %s%s", m->state_known ? monitor_state_name(m->state) : "not heard yet",
                    m->window_open ? ", session open" : "");
        monitor_put_messages(m, CODEC_DIR_OUT, now);
        monitor_put(m, "%s", "");
        monitor_put(m, "power side:");
        monitor_put_messages(m, CODEC_DIR_IN, now);
        monitor_put(m, "%s", "");
        monitor_put(m, "timing  Advantics_Controller_Status  %s", hb);
        monitor_put(m, "        Power_Modules_Status         %s", st);
        monitor_put(m, "%s", "");
        monitor_put(m, "warnings:");
        for (int w = 0; w < MONITOR_WARN_COUNT; w++) {
                if (m->warning[w]) {
                        monitor_put(m, "  \033[1m%s\033[0m", m->warning_text[w]);
                        any = true;
                }
        }
        if (!any)
                monitor_put(m, "  none");
        monitor_put(m, "%s", "");
        monitor_put(m, "events:");
        first = m->n_events > MONITOR_EVENTS ? m->n_events - MONITOR_EVENTS : 0;
        for (size_t k = first; k < m->n_events; k++)
                monitor_put(m, "  %s", m->events[k % MONITOR_EVENTS]);
        /* Whatever the previous screen had below. */
        printf("\033[J");
        fflush(stdout);
}

/* Plain mode: one summary line. */
static void monitor_summary(const struct monitor *m, uint64_t now)
{
        char when[32], hb[96], st[96];

        monitor_time_text(now, when, sizeof(when));
        monitor_timing_text(&m->heartbeat, hb, sizeof(hb));
        monitor_timing_text(&m->status, st, sizeof(st));
        printf("%s summary: state %s", when, m->state_known ? monitor_state_name(m->state) : "-");
        if (m->have_loop)
                printf(", request %.1f V %.1f A", m->loop.target_voltage_dv / 10.0, m->loop.target_current_da / 10.0);
        if (m->have_pms)
                printf(", answer %.1f V %.1f A System_Enable %s", m->pms.present_voltage_dv / 10.0,
                       m->pms.present_current_da / 10.0, m->pms.system_enable ? "Allowed" : "Not_Allowed");
        printf("; Advantics_Controller_Status %s; Power_Modules_Status %s; frames %llu\n", hb, st,
               (unsigned long long)m->frames);
        fflush(stdout);
}

/* ---- the socket ---- */

/* Read what is waiting on the socket.  0, or -1 when the socket failed. */
static int monitor_read(struct monitor *m, int fd)
{
        for (;;) {
                struct can_socket_frame rx;
                uint64_t at;
                int r;

                r = can_socket_receive(fd, &rx);
                /* An interface that is down: wait for it, as candump does. */
                if (r == 0 || r == -ENETDOWN)
                        return 0;
                if (r < 0) {
                        fprintf(stderr, "seccsim monitor: receive failed: %s\n", strerror(-r));
                        return -1;
                }
                if (rx.counted)
                        m->kernel_drops = rx.drops;
                at = rx.stamped ? (uint64_t)rx.stamp.tv_sec * 1000000u + (uint64_t)rx.stamp.tv_usec
                                : monitor_clock_us();
                monitor_on_frame(m, &rx.frame, at);
        }
}

/* ---- command line ---- */

static void monitor_usage(FILE *out)
{
        fputs("Usage: seccsim monitor -i IFACE [--interface-version 2|3] [--pistol N] [--log FILE] [--plain]\n"
              "\n"
              "Both sides of the interface of one pistol on one screen, refreshed about\n"
              "five times a second: the last frame of every message (controller side and\n"
              "power side), the period of Advantics_Controller_Status and of\n"
              "Power_Modules_Status (last, mean, max), warnings (heartbeat or status late,\n"
              "current not following the request, System_Enable withdrawn in a session)\n"
              "and the latest events.  Listens only; sends nothing.\n"
              "\n"
              "  -i, --interface IFACE   CAN interface (required)\n"
              "  -p, --pistol N          pistol index 1..31 (1)\n"
              "      --interface-version 2|3\n"
              "                          the interface version: 2 (database v2.7, the\n"
              "                          default) or 3 (database v3.6)\n"
              "      --log FILE          write every frame received in candump -L form\n"
              "      --plain             lines instead of a screen (the default when\n"
              "                          stdout is not a terminal): events and warnings\n"
              "                          as they happen, a summary every second\n"
              "  -h, --help              this text\n"
              "\n"
              "Runs until Ctrl-C (SIGINT) or SIGTERM.  Exit status: 0, 1 when the\n"
              "interface or the log file cannot be used, 2 usage error.\n", out);
}

static int monitor_usage_error(const char *what, const char *arg)
{
        fprintf(stderr, "seccsim monitor: %s%s%s\n", what, arg ? " " : "", arg ? arg : "");
        monitor_usage(stderr);
        return MONITOR_EXIT_USAGE;
}

static int monitor_run(struct monitor *m, int fd)
{
        sigset_t mask, old_mask;
        uint64_t next_draw = 0;
        int sfd;
        int rc = 0;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, &old_mask);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sfd < 0) {
                fprintf(stderr, "seccsim monitor: cannot watch signals: %s\n", strerror(errno));
                sigprocmask(SIG_SETMASK, &old_mask, NULL);
                return 1;
        }
        if (m->tty)
                printf("\033[?25l\033[2J");     /* hide the cursor, clear */
        m->next_summary_us = monitor_clock_us() + MONITOR_SUMMARY_US;

        for (;;) {
                struct pollfd pfd[2] = {
                        { .fd = fd, .events = POLLIN },
                        { .fd = sfd, .events = POLLIN },
                };
                uint64_t now = monitor_clock_us();
                uint64_t due = m->tty ? next_draw : m->next_summary_us;
                int timeout_ms = due > now ? (int)((due - now + 999) / 1000) : 0;

                if (poll(pfd, 2, timeout_ms) < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "seccsim monitor: poll failed: %s\n", strerror(errno));
                        rc = 1;
                        break;
                }
                if (pfd[1].revents) {
                        struct signalfd_siginfo si;

                        if (read(sfd, &si, sizeof(si)) < 0 && errno == EINTR)
                                continue;
                        break;
                }
                if (pfd[0].revents & POLLIN) {
                        if (monitor_read(m, fd) < 0) {
                                rc = 1;
                                break;
                        }
                } else if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                        fprintf(stderr, "seccsim monitor: the CAN socket failed\n");
                        rc = 1;
                        break;
                }
                now = monitor_clock_us();
                monitor_check_time(m, now);
                if (m->tty && now >= next_draw) {
                        monitor_draw(m, now);
                        next_draw = now + MONITOR_REFRESH_US;
                }
                if (!m->tty && now >= m->next_summary_us) {
                        monitor_summary(m, now);
                        m->next_summary_us += MONITOR_SUMMARY_US;
                        if (m->next_summary_us <= now)
                                m->next_summary_us = now + MONITOR_SUMMARY_US;
                }
                if (m->log && ferror(m->log)) {
                        fprintf(stderr, "seccsim monitor: cannot write the log: %s\n", strerror(errno));
                        rc = 1;
                        break;
                }
        }

        if (m->tty) {
                monitor_draw(m, monitor_clock_us());
                printf("\033[?25h");            /* the cursor back */
        } else {
                monitor_summary(m, monitor_clock_us());
        }
        fflush(stdout);
        close(sfd);
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
        return rc;
}

int seccsim_monitor_main(int argc, char **argv)
{
        static struct monitor m;
        const char *log_path = NULL;
        bool plain = false;
        int fd, rc;

        memset(&m, 0, sizeof(m));
        m.db = &codec_db_v2_7;
        m.pistol = 1;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];

                if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                        monitor_usage(stdout);
                        return 0;
                } else if (strcmp(a, "-i") == 0 || strcmp(a, "--interface") == 0) {
                        if (++i >= argc || argv[i][0] == '\0')
                                return monitor_usage_error("-i needs an interface name", NULL);
                        m.ifname = argv[i];
                } else if (strcmp(a, "-p") == 0 || strcmp(a, "--pistol") == 0) {
                        char *end;
                        long v;

                        if (++i >= argc)
                                return monitor_usage_error("--pistol needs a value", NULL);
                        v = strtol(argv[i], &end, 10);
                        if (*end != '\0' || end == argv[i] || v < CODEC_PISTOL_MIN || v > CODEC_PISTOL_MAX)
                                return monitor_usage_error("invalid pistol (allowed: 1 .. 31):", argv[i]);
                        m.pistol = (int)v;
                } else if (strcmp(a, "--interface-version") == 0) {
                        if (++i >= argc)
                                return monitor_usage_error("--interface-version needs a value", NULL);
                        m.db = frame_text_parse_interface_version(argv[i]);
                        if (!m.db)
                                return monitor_usage_error("invalid interface version (allowed: 2, 3):", argv[i]);
                } else if (strcmp(a, "--log") == 0) {
                        if (++i >= argc || argv[i][0] == '\0')
                                return monitor_usage_error("--log needs a file name", NULL);
                        log_path = argv[i];
                } else if (strcmp(a, "--plain") == 0) {
                        plain = true;
                } else {
                        return monitor_usage_error("unexpected argument", a);
                }
        }
        if (!m.ifname)
                return monitor_usage_error("-i IFACE is required", NULL);

        fd = seccsim_can_open_listener("monitor", m.ifname);
        if (fd < 0)
                return 1;
        if (log_path) {
                m.log = fopen(log_path, "we");
                if (!m.log) {
                        fprintf(stderr, "seccsim monitor: cannot open %s: %s\n", log_path, strerror(errno));
                        close(fd);
                        return 1;
                }
                /* A capture is read while it grows: one line at a time. */
                setvbuf(m.log, NULL, _IOLBF, 0);
        }
        m.tty = !plain && isatty(STDOUT_FILENO);

        rc = monitor_run(&m, fd);

        if (m.log && fclose(m.log) != 0 && rc == 0) {
                fprintf(stderr, "seccsim monitor: cannot write %s: %s\n", log_path, strerror(errno));
                rc = 1;
        }
        close(fd);
        return rc;
}
