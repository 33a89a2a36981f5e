/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/can.h>
#include <linux/can/error.h>

#include "can.h"
#include "can_socket.h"
#include "canframe.h"
#include "monotonic.h"

#define LOG_MODULE "can"

#define CAN_REOPEN_INTERVAL 1.0         /* s */
/* ENOBUFS means the device queue (qdisc) is full.  poll() still reports the
 * socket writable then, so waiting for EV_WRITE would spin: retry after a
 * few frame times instead (a frame takes about 0.25 ms at 500 kbit/s). */
#define CAN_TX_RETRY_INTERVAL 0.005     /* s */
#define CAN_RX_DROPS_QUIET_US (10 * 1000 * 1000)
/* can_receive_pending() reads at most this many batches. */
#define CAN_RX_PENDING_BATCHES 64
/* A frame's age by its reception stamp is believed up to this much. */
#define CAN_RX_MAX_AGE_US (5 * 1000 * 1000)

/* Error classes we want to hear about.  Lost arbitration is left out: it is
 * part of normal life on a shared bus. */
#define CAN_ERROR_MASK (CAN_ERR_TX_TIMEOUT | CAN_ERR_CRTL | CAN_ERR_PROT | CAN_ERR_TRX | \
                        CAN_ERR_ACK | CAN_ERR_BUSOFF | CAN_ERR_BUSERROR | CAN_ERR_RESTARTED)

static void can_rx_cb(struct ev_loop *loop, ev_io *w, int revents);
static void can_tx_cb(struct ev_loop *loop, ev_io *w, int revents);
static void can_tx_retry_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void can_reopen_cb(struct ev_loop *loop, ev_timer *w, int revents);

const char *can_bus_state_name(enum can_bus_state state)
{
        switch (state) {
        case CAN_BUS_STATE_UNKNOWN:
                return "unknown";
        case CAN_BUS_STATE_ERROR_ACTIVE:
                return "error-active";
        case CAN_BUS_STATE_ERROR_WARNING:
                return "error-warning";
        case CAN_BUS_STATE_ERROR_PASSIVE:
                return "error-passive";
        case CAN_BUS_STATE_BUS_OFF:
                return "bus-off";
        case CAN_BUS_STATE_STOPPED:
                return "stopped";
        }
        return "unknown";
}

int can_init(struct can *c, struct ev_loop *loop, const char *ifname,
             const uint32_t *ids, size_t n_ids, const struct can_callbacks *cb)
{
        if (strlen(ifname) >= sizeof(c->ifname) || n_ids > CAN_MAX_FILTERS || !cb || !cb->rx)
                return -EINVAL;

        memset(c, 0, sizeof(*c));
        c->loop = loop;
        c->fd = -1;
        strcpy(c->ifname, ifname);
        memcpy(c->ids, ids, n_ids * sizeof(ids[0]));
        c->n_ids = n_ids;
        c->cb = *cb;
        c->rx_enabled = true;

        ev_init(&c->rx_io, can_rx_cb);
        c->rx_io.data = c;
        /* Frames first: when the process was held up for a while, the
         * heartbeats that arrived meanwhile must be read before the core
         * timer decides that the controller went silent (R1). */
        ev_set_priority(&c->rx_io, EV_MAXPRI);
        ev_init(&c->tx_io, can_tx_cb);
        c->tx_io.data = c;
        ev_init(&c->tx_retry, can_tx_retry_cb);
        c->tx_retry.data = c;
        ev_init(&c->reopen, can_reopen_cb);
        c->reopen.repeat = CAN_REOPEN_INTERVAL;
        c->reopen.data = c;

        log_fault_init(&c->down, LOG_MODULE, c->ifname);
        log_fault_init(&c->tx_full, LOG_MODULE, "transmit queue");
        log_fault_init(&c->tx_error, LOG_MODULE, "transmit");
        log_fault_init(&c->rx_drops, LOG_MODULE, "receive queue");
        log_fault_init(&c->bus_errors, LOG_MODULE, "bus errors");
        return 0;
}

void can_set_ignored_bits(struct can *c, uint32_t bits)
{
        c->ignored_bits = bits & CAN_EFF_MASK;
}

/* Open, filter and bind a socket on c->ifname.  The fd, or -errno with a
 * reason for the log. */
static int can_open_socket(struct can *c, char *reason, size_t len)
{
        struct can_filter filters[CAN_MAX_FILTERS];
        const struct can_socket_options o = {
                .filters = filters,
                .n_filters = c->n_ids,
                .error_frames = CAN_ERROR_MASK,
                .drop_counter = true,
                .nonblocking = true,
                .require_up = true,
                .timestamps = true,
        };

        for (size_t i = 0; i < c->n_ids; i++) {
                filters[i].can_id = (c->ids[i] & CAN_EFF_MASK) | CAN_EFF_FLAG;
                filters[i].can_mask = CAN_EFF_FLAG | CAN_RTR_FLAG | (CAN_EFF_MASK & ~c->ignored_bits);
        }
        return can_socket_open(c->ifname, &o, reason, len);
}

static void can_start_io(struct can *c, int fd)
{
        c->fd = fd;
        c->rxq_ovfl = 0;
        ev_io_set(&c->rx_io, fd, EV_READ);
        ev_io_set(&c->tx_io, fd, EV_WRITE);
        if (c->rx_enabled)
                ev_io_start(c->loop, &c->rx_io);
}

static void can_queue_clear(struct can *c)
{
        c->counters.tx_dropped_down += c->q_len;
        c->q_head = 0;
        c->q_len = 0;
}

static void can_close_fd(struct can *c)
{
        ev_io_stop(c->loop, &c->rx_io);
        ev_io_stop(c->loop, &c->tx_io);
        ev_timer_stop(c->loop, &c->tx_retry);
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        /* Frames queued for a bus we no longer reach are stale by the time
         * it is back: drop them. */
        can_queue_clear(c);
}

/* The interface went away (down, deleted, renamed) or another error made
 * the socket useless: close it and retry every second.
 *
 * Nothing else has to happen for safety: with the socket closed no
 * Advantics_Controller_Status can arrive, so the core's controller timeout
 * (R1, 200 ms at most) switches the converter off by itself. */
static void can_lost(struct can *c, int r, uint64_t now_us)
{
        const char *reason = r == -ENETDOWN ? "interface is down"
                             : r == -ENODEV || r == -ENXIO ? "no such interface"
                                                           : strerror(-r);

        log_fault_raise(&c->down, LOG_WARNING, now_us, "%s; retrying every second", reason);
        can_close_fd(c);
        if (!ev_is_active(&c->reopen)) {
                ev_timer_set(&c->reopen, CAN_REOPEN_INTERVAL, CAN_REOPEN_INTERVAL);
                ev_timer_start(c->loop, &c->reopen);
        }
        if (c->cb.link)
                c->cb.link(false, now_us, c->cb.userdata);
}

static bool can_errno_is_link_loss(int r)
{
        return r == -ENETDOWN || r == -ENODEV || r == -ENXIO || r == -ENETUNREACH;
}

int can_open(struct can *c, uint64_t now_us)
{
        char reason[128];
        int fd;

        fd = can_open_socket(c, reason, sizeof(reason));
        if (fd >= 0) {
                can_start_io(c, fd);
                log_info("listening on %s", c->ifname);
                if (c->cb.link)
                        c->cb.link(true, now_us, c->cb.userdata);
                return 0;
        }
        if (fd == -ENETDOWN) {
                /* Probably still being configured (networkd, a hotplugged
                 * adapter): wait for it rather than fail. */
                log_fault_raise(&c->down, LOG_WARNING, now_us, "%s; waiting for it to come up", reason);
                ev_timer_set(&c->reopen, CAN_REOPEN_INTERVAL, CAN_REOPEN_INTERVAL);
                ev_timer_start(c->loop, &c->reopen);
                return 0;
        }
        log_err("%s: %s", c->ifname, reason);
        return fd;
}

static void can_reopen_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct can *c = w->data;
        uint64_t now_us = monotonic_now_us();
        char reason[128];
        int fd;

        fd = can_open_socket(c, reason, sizeof(reason));
        if (fd < 0) {
                log_fault_raise(&c->down, LOG_WARNING, now_us, "%s; retrying every second", reason);
                return;
        }
        ev_timer_stop(loop, w);
        can_start_io(c, fd);
        c->counters.reopens++;
        log_fault_clear(&c->down, now_us);
        if (c->cb.link)
                c->cb.link(true, now_us, c->cb.userdata);
}

int can_set_interface(struct can *c, const char *ifname, uint64_t now_us)
{
        char reason[128];
        int fd;

        if (strlen(ifname) >= sizeof(c->ifname))
                return -EINVAL;
        if (c->fd >= 0 && c->cb.link)
                c->cb.link(false, now_us, c->cb.userdata);
        can_close_fd(c);
        ev_timer_stop(c->loop, &c->reopen);
        log_fault_clear(&c->down, now_us);
        strcpy(c->ifname, ifname);

        fd = can_open_socket(c, reason, sizeof(reason));
        if (fd < 0) {
                log_fault_raise(&c->down, LOG_WARNING, now_us, "%s; retrying every second", reason);
                ev_timer_set(&c->reopen, CAN_REOPEN_INTERVAL, CAN_REOPEN_INTERVAL);
                ev_timer_start(c->loop, &c->reopen);
                return 0;
        }
        can_start_io(c, fd);
        log_info("listening on %s", c->ifname);
        if (c->cb.link)
                c->cb.link(true, now_us, c->cb.userdata);
        return 0;
}

static void can_handle_error_frame(struct can *c, const struct can_frame *f, uint64_t now_us)
{
        enum can_bus_state state = CAN_BUS_STATE_UNKNOWN;
        canid_t e = f->can_id & CAN_ERR_MASK;

        c->counters.error_frames++;

        if (e & CAN_ERR_BUSOFF) {
                state = CAN_BUS_STATE_BUS_OFF;
        } else if (e & CAN_ERR_RESTARTED) {
                state = CAN_BUS_STATE_ERROR_ACTIVE;
        } else if (e & CAN_ERR_CRTL) {
                uint8_t d = f->data[1];

                if (d & (CAN_ERR_CRTL_RX_PASSIVE | CAN_ERR_CRTL_TX_PASSIVE))
                        state = CAN_BUS_STATE_ERROR_PASSIVE;
                else if (d & (CAN_ERR_CRTL_RX_WARNING | CAN_ERR_CRTL_TX_WARNING))
                        state = CAN_BUS_STATE_ERROR_WARNING;
                else if (d & CAN_ERR_CRTL_ACTIVE)
                        state = CAN_BUS_STATE_ERROR_ACTIVE;
                if (d & (CAN_ERR_CRTL_RX_OVERFLOW | CAN_ERR_CRTL_TX_OVERFLOW))
                        log_fault_raise(&c->bus_errors, LOG_WARNING, now_us, "controller buffer overflow");
        }
        if (state != CAN_BUS_STATE_UNKNOWN && c->cb.bus_state)
                c->cb.bus_state(state, now_us, c->cb.userdata);

        /* Logged once per episode; the episode ends with the next good
         * frame received. */
        if (e & CAN_ERR_ACK)
                log_fault_raise(&c->bus_errors, LOG_WARNING, now_us,
                                "no acknowledgement (is the controller connected and powered?)");
        else if (e & CAN_ERR_TRX)
                log_fault_raise(&c->bus_errors, LOG_WARNING, now_us, "transceiver error 0x%02x (wiring?)",
                                f->data[4]);
        else if (e & (CAN_ERR_PROT | CAN_ERR_BUSERROR))
                log_fault_raise(&c->bus_errors, LOG_WARNING, now_us,
                                "protocol errors (bitrate, termination, wiring?)");
        else if (e & CAN_ERR_TX_TIMEOUT)
                log_fault_raise(&c->bus_errors, LOG_WARNING, now_us, "transmit timeout in the driver");
}

/* When a frame reached the socket, on the monotonic clock: now less its age
 * by the kernel's reception stamp (CLOCK_REALTIME), at most CAN_RX_MAX_AGE_US
 * (a step of the wall clock moves it no further), never before the frame
 * delivered before it.  Without a stamp: now. */
static uint64_t can_arrival_us(struct can *c, const struct can_socket_frame *rx, uint64_t now_us,
                               uint64_t real_us)
{
        uint64_t at = now_us;

        if (rx->stamped && rx->stamp.tv_sec >= 0 && rx->stamp.tv_usec >= 0) {
                uint64_t stamp = (uint64_t)rx->stamp.tv_sec * 1000000u + (uint64_t)rx->stamp.tv_usec;
                uint64_t age = stamp < real_us ? real_us - stamp : 0;

                if (age > CAN_RX_MAX_AGE_US)
                        age = CAN_RX_MAX_AGE_US;
                at = age < now_us ? now_us - age : 0;
        }
        if (at < c->last_rx_us)
                at = c->last_rx_us;
        if (at > now_us)
                at = now_us;
        c->last_rx_us = at;
        return at;
}

/* Read one batch of frames (at most CAN_RX_BATCH socket reads) and deliver
 * them; true when the batch was full (more may wait). */
static bool can_read_batch(struct can *c)
{
        struct codec_frame frames[CAN_RX_BATCH];
        uint64_t at[CAN_RX_BATCH];
        uint64_t now_us = monotonic_now_us();
        struct timespec real;
        uint64_t real_us;
        size_t n = 0;
        int reads = 0;

        clock_gettime(CLOCK_REALTIME, &real);
        real_us = (uint64_t)real.tv_sec * 1000000u + (uint64_t)real.tv_nsec / 1000u;

        for (int i = 0; i < CAN_RX_BATCH; i++) {
                struct can_socket_frame rx;
                int r;

                r = can_socket_receive(c->fd, &rx);
                if (r == 0)
                        break;
                if (r < 0) {
                        /* Deliver what was read before the link went. */
                        if (n > 0)
                                c->cb.rx(frames, at, n, now_us, c->cb.userdata);
                        can_lost(c, r, now_us);
                        return false;
                }
                reads++;
                if (rx.counted && rx.drops != c->rxq_ovfl) {
                        c->counters.rx_kernel_drops += (uint32_t)(rx.drops - c->rxq_ovfl);
                        c->rxq_ovfl = rx.drops;
                        log_fault_raise(&c->rx_drops, LOG_WARNING, now_us,
                                        "overflow, the kernel dropped frames (%llu so far)",
                                        (unsigned long long)c->counters.rx_kernel_drops);
                }
                if (rx.frame.can_id & CAN_ERR_FLAG) {
                        can_handle_error_frame(c, &rx.frame, now_us);
                        continue;
                }
                if (canframe_to_codec(&rx.frame, &frames[n]) < 0)
                        continue;       /* RTR */
                at[n] = can_arrival_us(c, &rx, now_us, real_us);
                c->counters.rx_frames++;
                n++;
        }

        log_fault_clear_if_quiet(&c->rx_drops, now_us, CAN_RX_DROPS_QUIET_US);
        if (n > 0) {
                log_fault_clear(&c->bus_errors, now_us);
                c->cb.rx(frames, at, n, now_us, c->cb.userdata);
        }
        return reads == CAN_RX_BATCH && can_is_open(c);
}

static void can_rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        /* One batch per wake-up: the loop's other watchers get their turn. */
        (void)can_read_batch(w->data);
}

void can_receive_pending(struct can *c)
{
        /* Everything that is waiting (bounded: a flood cannot hold the
         * caller for ever), so that the last heartbeat is among it. */
        for (int k = 0; k < CAN_RX_PENDING_BATCHES && can_is_open(c); k++)
                if (!can_read_batch(c))
                        break;
}

/* 0, or -errno of write(). */
static int can_write(struct can *c, const struct can_frame *f)
{
        ssize_t n = write(c->fd, f, sizeof(*f));

        if (n < 0)
                return -errno;
        if ((size_t)n != sizeof(*f))
                return -EIO;
        c->counters.tx_frames++;
        return 0;
}

static void can_queue_push(struct can *c, const struct can_frame *f, uint64_t now_us)
{
        if (c->q_len == CAN_TX_QUEUE_LEN) {
                /* The newest state matters more than the oldest. */
                c->q_head = (c->q_head + 1) % CAN_TX_QUEUE_LEN;
                c->q_len--;
                c->counters.tx_dropped_overflow++;
                log_fault_raise(&c->tx_full, LOG_WARNING, now_us,
                                "full, dropping the oldest frames (bus-off or no other node?)");
        }
        c->queue[(c->q_head + c->q_len) % CAN_TX_QUEUE_LEN] = *f;
        c->q_len++;
}

static void can_wait_writable(struct can *c, int r)
{
        if (r == -ENOBUFS) {
                if (!ev_is_active(&c->tx_retry)) {
                        ev_timer_set(&c->tx_retry, CAN_TX_RETRY_INTERVAL, 0.);
                        ev_timer_start(c->loop, &c->tx_retry);
                }
        } else {
                ev_io_start(c->loop, &c->tx_io);
        }
}

static void can_flush(struct can *c, uint64_t now_us)
{
        while (c->q_len > 0) {
                int r = can_write(c, &c->queue[c->q_head]);

                if (r == -EAGAIN || r == -ENOBUFS) {
                        can_wait_writable(c, r);
                        return;
                }
                if (can_errno_is_link_loss(r)) {
                        can_lost(c, r, now_us);
                        return;
                }
                if (r < 0) {
                        c->counters.tx_errors++;
                        log_fault_raise(&c->tx_error, LOG_WARNING, now_us, "%s", strerror(-r));
                } else {
                        log_fault_clear(&c->tx_error, now_us);
                }
                c->q_head = (c->q_head + 1) % CAN_TX_QUEUE_LEN;
                c->q_len--;
        }
        ev_io_stop(c->loop, &c->tx_io);
        log_fault_clear(&c->tx_full, now_us);
        if (c->cb.tx_drained)
                c->cb.tx_drained(c->cb.userdata);
}

static void can_tx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        struct can *c = w->data;

        ev_io_stop(loop, w);
        can_flush(c, monotonic_now_us());
}

static void can_tx_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct can *c = w->data;

        can_flush(c, monotonic_now_us());
}

int can_send(struct can *c, const struct codec_frame *frame, uint64_t now_us)
{
        struct can_frame f;
        int r;

        if (c->fd < 0) {
                c->counters.tx_dropped_down++;
                return -ENETDOWN;
        }
        canframe_from_codec(frame, &f);

        /* Keep the order: behind a queue, a frame waits its turn. */
        if (c->q_len > 0) {
                can_queue_push(c, &f, now_us);
                return 0;
        }

        r = can_write(c, &f);
        if (r == 0) {
                log_fault_clear(&c->tx_error, now_us);
                return 0;
        }
        if (r == -EAGAIN || r == -ENOBUFS) {
                can_queue_push(c, &f, now_us);
                can_wait_writable(c, r);
                return 0;
        }
        if (can_errno_is_link_loss(r)) {
                c->counters.tx_dropped_down++;
                can_lost(c, r, now_us);
                return -ENETDOWN;
        }
        c->counters.tx_errors++;
        log_fault_raise(&c->tx_error, LOG_WARNING, now_us, "%s", strerror(-r));
        return r;
}

void can_stop_rx(struct can *c)
{
        c->rx_enabled = false;
        ev_io_stop(c->loop, &c->rx_io);
}

bool can_tx_idle(const struct can *c)
{
        return c->q_len == 0;
}

bool can_is_open(const struct can *c)
{
        return c->fd >= 0;
}

void can_close(struct can *c)
{
        if (!c->loop)
                return;
        can_close_fd(c);
        ev_timer_stop(c->loop, &c->reopen);
}
