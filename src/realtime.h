/* SPDX-License-Identifier: MIT */
/*
 * Real-time setup of the daemon's process, done once at start.
 *
 * The scheduling policy is not the daemon's to choose: the service manager
 * sets it (CPUSchedulingPolicy= in the unit, or chrt) and the unit forbids
 * the daemon to change it (RestrictRealtime=yes).  What the daemon does is
 * say which policy it got and, under a real-time policy, lock its memory in
 * RAM: a page fault (a page of code never run before, say the emergency-stop
 * path, read back from the disk under memory pressure) must not delay a
 * Power_Modules_Status that the controller expects every 100 ms.
 */
#ifndef SECCBRIDGE_REALTIME_H
#define SECCBRIDGE_REALTIME_H

/* Log the scheduling policy and, under SCHED_FIFO or SCHED_RR, lock every
 * current and future page (mlockall) within RLIMIT_MEMLOCK.  A lock that
 * fails is logged once with the way to fix it and the daemon goes on: late
 * frames are better than none.  Returns 0 when the memory is locked,
 * -ENOTSUP when the policy is not real-time (nothing locked), or the
 * -errno of mlockall. */
int realtime_setup(void);

#endif
