/* SPDX-License-Identifier: MIT */
/*
 * `seccsim session`, the bottom layer: the clock, the progress log and the
 * verdict, used by every other file of the controller.
 */
#ifndef SECCSIM_CONTROLLER_REPORT_H
#define SECCSIM_CONTROLLER_REPORT_H

#include "controller_state.h"

uint64_t ctl_now_us(void);
/* Seconds since the start, for the log. */
double ctl_rel_s(const struct ctl *c, uint64_t t_us);
__attribute__((format(printf, 2, 3)))
void ctl_log(struct ctl *c, const char *fmt, ...);
/* The first failed check: remembered, printed, and the clean-up starts
 * (c->on_failure). */
__attribute__((format(printf, 2, 3)))
void ctl_fail(struct ctl *c, const char *fmt, ...);
const char *ctl_state_name(uint8_t state);

#endif
