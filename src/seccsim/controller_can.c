/* SPDX-License-Identifier: MIT */
/*
 * The simulated controller's CAN side: one raw socket that sends the
 * controller's frames and receives what the power side sends (every pistol,
 * so that an answer on the wrong pistol is seen), one send-only socket for
 * the bus load, the traffic log in candump -L form and the --verbose print.
 * Below the checks and the flow: a received frame goes back to the caller
 * (the driver hands it to the checks).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/can.h>

#include "../canframe.h"
#include "controller_can.h"
#include "controller_report.h"
#include "frame_text.h"
#include "seccsim_can.h"

/* Bits 23..16 = 0x06 (generic interface), bit 15 = 0 (sent to the
 * controller): every power-side frame of the database, whatever the pistol
 * (PROTOCOL.md part B). */
#define POWER_SIDE_ID 0x00060000u
#define POWER_SIDE_MASK 0x00FF8000u

/* A full device queue clears within a few frame times (0.25 ms each at
 * 500 kbit/s); wait a little rather than lose a controller frame. */
#define TX_RETRIES 5
#define TX_RETRY_WAIT_MS 10

/* Bus load: never more than this many frames in one go, so that the
 * controller's own timers keep their pace; a backlog older than
 * LOAD_MAX_BACKLOG_US is dropped rather than sent as a burst. */
#define LOAD_BURST_MAX 400
#define LOAD_MAX_BACKLOG_US 200000u
/* Foreign traffic: module type 0xFE in bits 23..16 is no generic-interface
 * frame, so these IDs belong to no pistol of the database. */
#define LOAD_ID_BASE 0x18FE0000u

struct ctl_can {
        int fd;
        int load_fd;
        FILE *log;
        int64_t realtime_offset_us;     /* CLOCK_REALTIME - CLOCK_MONOTONIC */
        uint64_t load_due_base_us;
        uint64_t load_sent;
        uint32_t load_seq;
};

static uint64_t realtime_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void log_frame(struct ctl *c, const struct codec_frame *f, uint64_t rt_us)
{
        char text[64];

        if (!c->can->log)
                return;
        frame_text_format(f, text, sizeof(text));
        fprintf(c->can->log, "(%llu.%06llu) %s %s\n", (unsigned long long)(rt_us / 1000000u),
                (unsigned long long)(rt_us % 1000000u), c->o.ifname, text);
}

static void print_frame(struct ctl *c, const char *dir, const struct codec_frame *f, uint64_t t_us)
{
        char raw[64];
        char text[FRAME_TEXT_LINE_MAX];

        if (!c->o.verbose)
                return;
        frame_text_format(f, raw, sizeof(raw));
        frame_text_describe(c->db, f, text, sizeof(text));
        printf("[%9.3f] %s %-24s %s\n", ctl_rel_s(c, t_us), dir, raw, text);
}

/* The controller's socket: sends its frames and receives every power-side
 * frame with the kernel's reception time; the bus load's: send only (an
 * empty filter list lets nothing in). */
static int open_socket(const char *ifname, bool receive)
{
        const struct can_filter power_side = {
                .can_id = CAN_EFF_FLAG | POWER_SIDE_ID,
                .can_mask = CAN_EFF_FLAG | CAN_RTR_FLAG | POWER_SIDE_MASK,
        };
        const struct can_socket_options o = {
                .filters = &power_side,
                .n_filters = receive ? 1 : 0,
                .timestamps = receive,
                .nonblocking = true,
                /* bind() would succeed on a down interface and every frame
                 * would be lost. */
                .require_up = true,
        };

        return seccsim_can_open("session", ifname, &o);
}

int ctl_can_open(struct ctl *c)
{
        struct ctl_can *k;
        int r;

        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        k->fd = -1;
        k->load_fd = -1;
        c->can = k;

        k->realtime_offset_us = (int64_t)realtime_us() - (int64_t)ctl_now_us();

        r = open_socket(c->o.ifname, true);
        if (r < 0)
                goto fail;
        k->fd = r;
        if (c->o.bus_load) {
                r = open_socket(c->o.ifname, false);
                if (r < 0)
                        goto fail;
                k->load_fd = r;
        }
        if (c->o.log_path) {
                k->log = fopen(c->o.log_path, "we");
                if (!k->log) {
                        r = -errno;
                        fprintf(stderr, "seccsim session: cannot write %s: %s\n", c->o.log_path, strerror(-r));
                        goto fail;
                }
                setvbuf(k->log, NULL, _IOLBF, 0);
        }
        return 0;
fail:
        ctl_can_close(c);
        return r;
}

void ctl_can_close(struct ctl *c)
{
        struct ctl_can *k = c->can;

        if (!k)
                return;
        if (k->fd >= 0)
                close(k->fd);
        if (k->load_fd >= 0)
                close(k->load_fd);
        if (k->log)
                fclose(k->log);
        free(k);
        c->can = NULL;
}

static int write_frame(int fd, const struct can_frame *cf)
{
        for (int attempt = 0;; attempt++) {
                ssize_t n = write(fd, cf, sizeof(*cf));

                if (n == (ssize_t)sizeof(*cf))
                        return 0;
                if (n >= 0)
                        return -EIO;
                if (errno == EINTR)
                        continue;
                if ((errno != EAGAIN && errno != ENOBUFS) || attempt >= TX_RETRIES)
                        return -errno;
                /* ENOBUFS leaves the socket writable in poll(); sleep instead. */
                poll(NULL, 0, TX_RETRY_WAIT_MS);
        }
}

int ctl_can_send(struct ctl *c, const struct codec_frame *f)
{
        struct can_frame cf;
        uint64_t now = ctl_now_us();
        int r;

        if (!c->can || c->can->fd < 0)
                return -EBADF;
        canframe_from_codec(f, &cf);
        r = write_frame(c->can->fd, &cf);
        if (r < 0)
                return r;
        c->tx_frames++;
        log_frame(c, f, now + (uint64_t)c->can->realtime_offset_us);
        print_frame(c, "TX", f, now);
        return 0;
}

int ctl_send_msg(struct ctl *c, const struct codec_message *m, uint8_t pistol)
{
        struct codec_frame f;
        int r;

        r = codec_encode(c->db, m, pistol, &f);
        if (r < 0)
                return r;
        r = ctl_can_send(c, &f);
        if (r < 0 && !c->failed)
                ctl_fail(c, "cannot send %s: %s", codec_msg_info(c->db, m->type)->name, strerror(-r));
        return r;
}

/* Reception time of a frame on the monotonic clock: the kernel's stamp when
 * there is one, never later than now. */
static uint64_t rx_time(struct ctl *c, const struct can_socket_frame *rx, uint64_t now, uint64_t *rt_us)
{
        int64_t t;

        if (!rx->stamped) {
                *rt_us = now + (uint64_t)c->can->realtime_offset_us;
                return now;
        }
        *rt_us = (uint64_t)rx->stamp.tv_sec * 1000000u + (uint64_t)rx->stamp.tv_usec;
        t = (int64_t)*rt_us - c->can->realtime_offset_us;
        if (t < 0 || (uint64_t)t > now)
                return now;
        return (uint64_t)t;
}

int ctl_can_rx_fd(const struct ctl *c)
{
        return c->can ? c->can->fd : -1;
}

int ctl_can_receive(struct ctl *c, struct codec_frame *f, uint64_t *t_us)
{
        struct ctl_can *k = c->can;

        while (k && k->fd >= 0) {
                struct can_socket_frame rx;
                uint64_t now, t, rt;
                int r;

                r = can_socket_receive(k->fd, &rx);
                if (r == 0)
                        return 0;
                if (r < 0) {
                        if (!c->failed)
                                ctl_fail(c, "CAN receive failed: %s", strerror(-r));
                        return r;
                }
                now = ctl_now_us();
                t = rx_time(c, &rx, now, &rt);
                if (canframe_to_codec(&rx.frame, f) < 0)
                        continue;
                c->rx_frames++;
                log_frame(c, f, rt);
                print_frame(c, "RX", f, t);
                *t_us = t;
                return 1;
        }
        return 0;
}

void ctl_can_load(struct ctl *c, uint64_t now)
{
        struct ctl_can *k = c->can;
        uint64_t due;
        unsigned burst = 0;

        if (!k || k->load_fd < 0)
                return;
        if (c->load_started_us == 0) {
                c->load_started_us = now;
                k->load_due_base_us = now;
                k->load_sent = 0;
        }
        due = (now - k->load_due_base_us) * c->o.bus_load_rate / 1000000u;
        if (due > k->load_sent + (uint64_t)c->o.bus_load_rate * LOAD_MAX_BACKLOG_US / 1000000u) {
                /* Too far behind (the machine was busy): restart the count
                 * instead of flooding. */
                c->load_deferred += due - k->load_sent;
                k->load_due_base_us = now;
                k->load_sent = 0;
                return;
        }
        while (k->load_sent < due && burst < LOAD_BURST_MAX) {
                struct can_frame cf;
                uint32_t seq = k->load_seq;
                ssize_t n;

                memset(&cf, 0, sizeof(cf));
                cf.can_id = CAN_EFF_FLAG | (LOAD_ID_BASE + (seq & 0xFFFFu));
                cf.len = 8;
                for (int i = 0; i < 8; i++)
                        cf.data[i] = (uint8_t)(seq >> ((i & 3) * 8));
                n = write(k->load_fd, &cf, sizeof(cf));
                if (n != (ssize_t)sizeof(cf)) {
                        if (n < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
                                /* The queue is full: the bus is saturated,
                                 * which is the point; try again later. */
                                c->load_deferred++;
                                return;
                        }
                        if (!c->failed)
                                ctl_fail(c, "bus load: cannot send: %s", n < 0 ? strerror(errno) : "short write");
                        return;
                }
                k->load_seq++;
                k->load_sent++;
                c->load_frames++;
                burst++;
        }
        c->load_stopped_us = now;
}
