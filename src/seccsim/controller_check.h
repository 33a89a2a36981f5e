/* SPDX-License-Identifier: MIT */
/*
 * `seccsim session`: what the controller checks in the power side's answers
 * (controller_check.c), on top of the report layer only.
 */
#ifndef SECCSIM_CONTROLLER_CHECK_H
#define SECCSIM_CONTROLLER_CHECK_H

#include "controller_state.h"

/* A frame received from the power side (any pistol, IN direction). */
void ctl_check_frame(struct ctl *c, const struct codec_frame *f, uint64_t t_us);
/* Deadlines that pass without a frame: the status gap, the reactions. */
void ctl_check_tick(struct ctl *c, uint64_t now_us);
/* The session window opens with the first New_Charge_Session (R2). */
void ctl_check_window_open(struct ctl *c, uint64_t now_us);
void ctl_check_window_close(struct ctl *c, uint64_t now_us);
/* The converter must be off from now on (see struct ctl_reaction). */
void ctl_check_expect_off(struct ctl *c, const char *what, uint64_t since_us,
                          uint64_t deadline_us, bool need_discharge);
/* The Charging_Loop request in force changed. */
void ctl_check_request(struct ctl *c, int16_t current_da, uint16_t voltage_dv, uint64_t now_us);
void ctl_print_measurement(struct ctl *c, uint64_t now_us);

#endif
