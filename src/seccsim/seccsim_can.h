/* SPDX-License-Identifier: MIT */
/*
 * The CAN sockets of the seccsim sub-commands (decode -i, monitor,
 * session): opened with the daemon's helper (src/can_socket.c), a refusal
 * said on stderr in the sub-command's name.  Frames are received with
 * can_socket_receive() itself.
 */
#ifndef SECCSIM_CAN_H
#define SECCSIM_CAN_H

#include "../can_socket.h"

/* A raw CAN socket on ifname with the options o (see can_socket.h); the
 * descriptor, or -errno after one line on stderr naming the sub-command
 * `who`: "seccsim WHO: no CAN interface 'IFNAME' (REASON)" when there is no
 * such (CAN) interface, "seccsim WHO: IFNAME: REASON" otherwise. */
int seccsim_can_open(const char *who, const char *ifname, const struct can_socket_options *o);

/* For decode -i and monitor: every frame, error frames included, with the
 * kernel's reception time and drop counter; an interface that is down is
 * waited for (can_socket_receive() says -ENETDOWN: nothing to read yet, as
 * candump does). */
int seccsim_can_open_listener(const char *who, const char *ifname);

#endif
