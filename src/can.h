/* SPDX-License-Identifier: MIT */
/*
 * SocketCAN raw socket on one interface, never blocking.
 *
 * Receives only the given 29-bit identifiers (kernel filters) plus error
 * frames, reports the kernel's receive-queue drops (SO_RXQ_OVFL), queues
 * what cannot be sent at once in a small bounded queue, and survives the
 * interface going down or being deleted: the socket is closed and reopened
 * every second until the interface is back.
 */
#ifndef SECCBRIDGE_CAN_H
#define SECCBRIDGE_CAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <linux/can.h>

#include "seccbridge/codec.h"
#include "log.h"

#define CAN_MAX_FILTERS 32
#define CAN_TX_QUEUE_LEN 32
#define CAN_RX_BATCH 32

/* Controller state of the CAN interface (error frames, netlink). */
enum can_bus_state {
        CAN_BUS_STATE_UNKNOWN,
        CAN_BUS_STATE_ERROR_ACTIVE,
        CAN_BUS_STATE_ERROR_WARNING,
        CAN_BUS_STATE_ERROR_PASSIVE,
        CAN_BUS_STATE_BUS_OFF,
        CAN_BUS_STATE_STOPPED,
};

struct can_callbacks {
        /* Frames that passed the kernel filters, all read in one callback
         * at now_us; at_us[k] is when frame k reached the socket (the
         * kernel's reception time on the monotonic clock: never later than
         * now_us, never earlier than the frame before it), so that a
         * process held up for a while judges the controller by when its
         * frames came, not by when it read them (R1). */
        void (*rx)(const struct codec_frame *frames, const uint64_t *at_us, size_t n, uint64_t now_us,
                   void *userdata);
        /* A bus state learnt from an error frame. */
        void (*bus_state)(enum can_bus_state state, uint64_t now_us, void *userdata);
        /* The socket is open on a running interface (true) or was lost. */
        void (*link)(bool up, uint64_t now_us, void *userdata);
        /* The transmit queue is empty again (may be NULL). */
        void (*tx_drained)(void *userdata);
        void *userdata;
};

struct can_counters {
        uint64_t rx_frames;
        uint64_t rx_kernel_drops;       /* SO_RXQ_OVFL: lost before we read */
        uint64_t error_frames;
        uint64_t tx_frames;
        uint64_t tx_dropped_overflow;   /* oldest frames dropped from a full queue */
        uint64_t tx_dropped_down;       /* frames given while the socket was closed */
        uint64_t tx_errors;             /* write failed for another reason */
        uint64_t reopens;
};

struct can {
        struct ev_loop *loop;
        char ifname[16];
        uint32_t ids[CAN_MAX_FILTERS];  /* 29-bit identifiers to receive */
        size_t n_ids;
        uint32_t ignored_bits;          /* identifier bits the filters do not compare */
        struct can_callbacks cb;

        int fd;                         /* -1 while closed */
        bool rx_enabled;
        ev_io rx_io;
        ev_io tx_io;                    /* armed while the socket buffer is full */
        ev_timer tx_retry;              /* armed while the device queue is full */
        ev_timer reopen;                /* 1 s, armed while the interface is unusable */

        struct can_frame queue[CAN_TX_QUEUE_LEN];
        size_t q_head;
        size_t q_len;

        uint32_t rxq_ovfl;              /* kernel drop counter of this socket */
        uint64_t last_rx_us;            /* arrival time of the last frame delivered */
        struct can_counters counters;

        struct log_fault down;          /* interface missing / down */
        struct log_fault tx_full;       /* transmit queue overflow */
        struct log_fault tx_error;      /* other write errors */
        struct log_fault rx_drops;      /* receive queue overflow */
        struct log_fault bus_errors;    /* ACK / protocol / transceiver errors */
};

/* Prepare, no I/O.  ids: the 29-bit identifiers to receive (at most
 * CAN_MAX_FILTERS).  0 or -EINVAL. */
int can_init(struct can *c, struct ev_loop *loop, const char *ifname,
             const uint32_t *ids, size_t n_ids, const struct can_callbacks *cb);

/* Before can_open(): identifier bits the filters leave out of their masks
 * (several pistols on one socket: the pistol bits in which their indexes
 * differ), so that each identifier stands for a few.  0: exact. */
void can_set_ignored_bits(struct can *c, uint32_t bits);

/* Open at start.  0 when the socket is open, or when the interface exists
 * but is down (logged; reopened once it is up).  -errno, logged with the
 * reason, when the interface is missing or unusable (not CAN, no CAN in the
 * kernel, ...). */
int can_open(struct can *c, uint64_t now_us);

/* Move to another interface (reload): closes the socket and opens the new
 * one, retrying every second if it is not usable.  0 or -EINVAL. */
int can_set_interface(struct can *c, const char *ifname, uint64_t now_us);

/* Queue a frame for sending.  0: sent or queued; -ENETDOWN: the socket is
 * closed (frame dropped and counted); other -errno: write error (counted,
 * logged once). */
int can_send(struct can *c, const struct codec_frame *frame, uint64_t now_us);

/* Stop reading (shutdown); sending goes on. */
void can_stop_rx(struct can *c);

/* Nothing waits in the transmit queue. */
bool can_tx_idle(const struct can *c);

bool can_is_open(const struct can *c);
/* Read the frames already waiting on the socket now (they go to cb.rx), so
 * that a process held up for a while does not take its own delay for a
 * silent controller (R1).  Never blocks. */
void can_receive_pending(struct can *c);

const char *can_bus_state_name(enum can_bus_state state);

/* Close the socket and stop every watcher.  Accepts a never-opened can. */
void can_close(struct can *c);

#endif
