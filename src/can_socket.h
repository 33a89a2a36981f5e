/* SPDX-License-Identifier: MIT */
/*
 * Raw SocketCAN sockets, the two steps every user of the bus repeats: open a
 * socket on an interface (filters, error frames, reception time, the
 * kernel's drop counter), and receive one frame with what the kernel says
 * about it.  No event loop and no logging: errors come back as -errno with a
 * reason for the caller to report.  The daemon's can.c is built on it; the
 * seccsim tools can share it.
 */
#ifndef SECCBRIDGE_CAN_SOCKET_H
#define SECCBRIDGE_CAN_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include <linux/can.h>

struct can_socket_options {
        const struct can_filter *filters;       /* NULL: every frame */
        size_t n_filters;                       /* with filters: 0 lets nothing in (send only) */
        can_err_mask_t error_frames;            /* error classes to receive; 0: none */
        bool timestamps;                        /* SO_TIMESTAMP: the kernel's reception time */
        bool drop_counter;                      /* SO_RXQ_OVFL: the socket's drop counter */
        bool nonblocking;
        bool require_up;                        /* an interface that is down: -ENETDOWN */
};

/* Open a raw CAN socket (close-on-exec) bound to ifname.  The descriptor, or
 * -errno with a reason in why: -EAFNOSUPPORT (no CAN in the kernel), -ENODEV
 * (no such interface, or not a CAN one), -ENETDOWN (down, with require_up),
 * another -errno for the system call that failed. */
int can_socket_open(const char *ifname, const struct can_socket_options *o, char *why, size_t why_len);

struct can_socket_frame {
        struct can_frame frame;                 /* a classic frame; error frames included */
        bool stamped;                           /* stamp holds the reception time */
        struct timeval stamp;
        bool counted;                           /* drops holds the drop counter */
        uint32_t drops;                         /* frames the kernel dropped on this socket, so far */
};

/* One frame waiting on fd, without blocking.  1: *out filled; 0: nothing is
 * waiting; -errno: the socket failed (-ENETDOWN: the interface went down).
 * Anything that is not a classic CAN frame is skipped. */
int can_socket_receive(int fd, struct can_socket_frame *out);

#endif
