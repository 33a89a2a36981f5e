/* SPDX-License-Identifier: MIT */
/*
 * `seccsim session`: the controller's sequence (controller_flow.c), on top
 * of the report, CAN and check layers.
 */
#ifndef SECCSIM_CONTROLLER_FLOW_H
#define SECCSIM_CONTROLLER_FLOW_H

#include "controller_state.h"

void ctl_flow_start(struct ctl *c);
void ctl_flow_tick(struct ctl *c, uint64_t now_us);
/* The clean-up after a failure, or the end of the program (the driver
 * makes it c->on_failure). */
void ctl_flow_abort(struct ctl *c, uint64_t now_us);
bool ctl_flow_finished(const struct ctl *c);
const char *ctl_step_name(enum ctl_step step);
/* The insulation test's pass threshold in kOhm (R27; v3: V9, E.5). */
uint16_t ctl_insulation_threshold_kohm(const struct ctl *c);

#endif
