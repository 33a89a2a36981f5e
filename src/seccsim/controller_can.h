/* SPDX-License-Identifier: MIT */
/*
 * `seccsim session`: the CAN sockets (controller_can.c), on top of the
 * report layer only.  Received frames are handed to the caller, which
 * gives them to the checks.
 */
#ifndef SECCSIM_CONTROLLER_CAN_H
#define SECCSIM_CONTROLLER_CAN_H

#include "controller_state.h"

/* The controller's socket (and the bus load's, the traffic log).  0, or
 * -errno after a message on stderr. */
int ctl_can_open(struct ctl *c);
void ctl_can_close(struct ctl *c);
/* The descriptor to watch for received frames, -1 when closed. */
int ctl_can_rx_fd(const struct ctl *c);
/* The next power-side frame waiting, without blocking, logged and printed:
 * 1 with *f and its reception time *t_us; 0 when nothing is waiting (or the
 * socket is closed); -errno when the socket failed (reported by
 * ctl_fail()). */
int ctl_can_receive(struct ctl *c, struct codec_frame *f, uint64_t *t_us);
/* Transmit one frame of the controller.  0 or -errno (logged by the caller). */
int ctl_can_send(struct ctl *c, const struct codec_frame *f);
/* Encode and send a message for `pistol`; a failure is reported by
 * ctl_fail(). */
int ctl_send_msg(struct ctl *c, const struct codec_message *m, uint8_t pistol);
/* Bus load: as many foreign frames as the rate allows since the last call. */
void ctl_can_load(struct ctl *c, uint64_t now_us);

#endif
