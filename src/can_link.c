/* SPDX-License-Identifier: MIT */
/*
 * The only file that talks to libsocketcan.  Its calls are short netlink
 * requests answered by the kernel at once; libsocketcan reports failures as
 * -1 and sets errno only when the kernel itself refused, so errno is cleared
 * before each call and a failure without errno becomes -EIO.  It also prints
 * its own diagnostics to stderr, which is one more reason to call it rarely
 * and to stop polling a driver that has no bus state.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>

#include <libsocketcan.h>

#include "can_link.h"
#include "monotonic.h"

#define LOG_MODULE "can-link"

#define CAN_LINK_POLL_INTERVAL 1.0                      /* s */
#define CAN_LINK_RECOVERED_QUIET_US (10 * 1000 * 1000)  /* error-active this long = healthy */

static void can_link_poll_cb(struct ev_loop *loop, ev_timer *w, int revents);

static int can_link_errno(void)
{
        return errno > 0 ? -errno : -EIO;
}

void can_link_init(struct can_link *l, struct ev_loop *loop, const char *ifname,
                   uint32_t bitrate, uint32_t restart_ms)
{
        memset(l, 0, sizeof(*l));
        l->loop = loop;
        snprintf(l->ifname, sizeof(l->ifname), "%s", ifname);
        l->bitrate = bitrate;
        l->restart_ms = restart_ms;
        l->state = CAN_BUS_STATE_UNKNOWN;
        l->worst = CAN_BUS_STATE_UNKNOWN;
        ev_init(&l->poll, can_link_poll_cb);
        l->poll.repeat = CAN_LINK_POLL_INTERVAL;
        l->poll.data = l;
        log_fault_init(&l->bus, LOG_MODULE, l->ifname);
        log_fault_init(&l->restart, LOG_MODULE, "bus-off restart");
}

int can_link_apply(struct can_link *l)
{
        struct can_bittiming bt;
        uint32_t restart_ms = 0;
        bool set_bitrate, set_restart;
        int state;
        int r;

        if (l->bitrate == 0 && l->restart_ms == 0)
                return 0;
        if (if_nametoindex(l->ifname) == 0) {
                log_err("%s: no such interface (cannot apply bitrate/restart_ms)", l->ifname);
                return -ENODEV;
        }

        /* Only a CAN controller has a bus state: virtual CAN (vcan) and
         * other interfaces have no bitrate to set. */
        errno = 0;
        if (can_get_state(l->ifname, &state) < 0) {
                r = can_link_errno();
                log_err("%s: not a hardware CAN interface (%s); bitrate and restart_ms must be 0 for it",
                        l->ifname, strerror(-r));
                return r == -EIO ? -ENODEV : r;
        }
        /* The kernel reports no bit timing until a bitrate was set once. */
        memset(&bt, 0, sizeof(bt));
        if (can_get_bittiming(l->ifname, &bt) < 0)
                bt.bitrate = 0;
        if (can_get_restart_ms(l->ifname, &restart_ms) < 0)
                restart_ms = 0;
        set_bitrate = l->bitrate != 0 && bt.bitrate != l->bitrate;
        set_restart = l->restart_ms != 0 && restart_ms != l->restart_ms;
        if (!set_bitrate && !set_restart) {
                log_info("%s: already at %u bit/s, restart-ms %u", l->ifname, bt.bitrate, restart_ms);
                return 0;
        }

        /* The kernel only accepts both settings while the interface is down. */
        errno = 0;
        if (can_do_stop(l->ifname) < 0) {
                r = can_link_errno();
                goto fail;
        }
        errno = 0;
        if (set_bitrate && can_set_bitrate(l->ifname, l->bitrate) < 0) {
                r = can_link_errno();
                goto fail_start;
        }
        errno = 0;
        if (set_restart && can_set_restart_ms(l->ifname, l->restart_ms) < 0) {
                r = can_link_errno();
                goto fail_start;
        }
        errno = 0;
        if (can_do_start(l->ifname) < 0) {
                r = can_link_errno();
                goto fail;
        }
        log_info("%s: set to %u bit/s, restart-ms %u", l->ifname,
                 set_bitrate ? l->bitrate : bt.bitrate, set_restart ? l->restart_ms : restart_ms);
        return 0;

fail_start:
        /* Leave it up as we found it, with the old settings. */
        can_do_start(l->ifname);
fail:
        if (r == -EPERM)
                log_err("%s: cannot set bitrate/restart_ms: %s (needs CAP_NET_ADMIN, see seccbridge(8))",
                        l->ifname, strerror(-r));
        else
                log_err("%s: cannot set bitrate/restart_ms: %s", l->ifname, strerror(-r));
        return r;
}

static int can_link_severity(enum can_bus_state s)
{
        switch (s) {
        case CAN_BUS_STATE_UNKNOWN:
        case CAN_BUS_STATE_STOPPED:
        case CAN_BUS_STATE_ERROR_ACTIVE:
                return 0;
        case CAN_BUS_STATE_ERROR_WARNING:
                return 1;
        case CAN_BUS_STATE_ERROR_PASSIVE:
                return 2;
        case CAN_BUS_STATE_BUS_OFF:
                return 3;
        }
        return 0;
}

/* Bus-off with no automatic restart in the kernel: restart it ourselves.
 * The converter needs nothing from us meanwhile: without heartbeats the
 * core's controller timeout (R1) has already switched it off. */
static void can_link_restart(struct can_link *l, uint64_t now_us)
{
        uint32_t kernel_restart_ms = 0;
        int r;

        if (l->restart_ms != 0)
                return;         /* we configured the kernel to do it */
        errno = 0;
        if (can_get_restart_ms(l->ifname, &kernel_restart_ms) == 0 && kernel_restart_ms != 0)
                return;         /* someone else configured it */

        errno = 0;
        if (can_do_restart(l->ifname) < 0) {
                r = can_link_errno();
                log_fault_raise(&l->restart, LOG_ERR, now_us, "failed: %s%s", strerror(-r),
                                r == -EPERM ? " (needs CAP_NET_ADMIN, or set restart_ms)" : "");
                return;
        }
        log_fault_clear(&l->restart, now_us);
        log_notice("%s: bus-off, controller restarted", l->ifname);
}

void can_link_observe(struct can_link *l, enum can_bus_state state, uint64_t now_us)
{
        int sev = can_link_severity(state);

        if (state == CAN_BUS_STATE_UNKNOWN || state == CAN_BUS_STATE_STOPPED)
                return;         /* interface down: can.c reports that */

        if (sev > 0) {
                /* Log when the episode starts and when it gets worse; a bus
                 * that cycles warning -> passive -> bus-off -> restart is
                 * counted, not logged at every turn. */
                if (sev > can_link_severity(l->worst))
                        l->worst = state;
                if (state != l->state)
                        log_fault_raise(&l->bus, sev >= 2 ? LOG_ERR : LOG_WARNING, now_us,
                                        "%s", can_bus_state_name(l->worst));
                else
                        l->bus.last_us = now_us;        /* still bad: not quiet yet */
        } else {
                log_fault_clear_if_quiet(&l->bus, now_us, CAN_LINK_RECOVERED_QUIET_US);
                if (!l->bus.active)
                        l->worst = CAN_BUS_STATE_UNKNOWN;
        }
        l->state = state;
        if (state == CAN_BUS_STATE_BUS_OFF)
                can_link_restart(l, now_us);
}

static enum can_bus_state can_link_from_kernel(int state)
{
        switch (state) {
        case CAN_STATE_ERROR_ACTIVE:
                return CAN_BUS_STATE_ERROR_ACTIVE;
        case CAN_STATE_ERROR_WARNING:
                return CAN_BUS_STATE_ERROR_WARNING;
        case CAN_STATE_ERROR_PASSIVE:
                return CAN_BUS_STATE_ERROR_PASSIVE;
        case CAN_STATE_BUS_OFF:
                return CAN_BUS_STATE_BUS_OFF;
        case CAN_STATE_STOPPED:
        case CAN_STATE_SLEEPING:
                return CAN_BUS_STATE_STOPPED;
        default:
                return CAN_BUS_STATE_UNKNOWN;
        }
}

static void can_link_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        struct can_link *l = w->data;
        uint64_t now_us = monotonic_now_us();
        int state;

        errno = 0;
        if (can_get_state(l->ifname, &state) < 0) {
                if (if_nametoindex(l->ifname) == 0)
                        return;         /* gone: can.c notices and reopens */
                /* The interface is there but has no CAN state: a virtual
                 * CAN interface (vcan) or a driver without it. */
                l->state_unsupported = true;
                ev_timer_stop(loop, w);
                log_debug("%s: no bus state reported by this interface (virtual CAN?); not polling it",
                          l->ifname);
                return;
        }
        can_link_observe(l, can_link_from_kernel(state), now_us);
}

void can_link_socket(struct can_link *l, bool open, uint64_t now_us)
{
        l->socket_open = open;
        if (open && !l->state_unsupported) {
                if (!ev_is_active(&l->poll)) {
                        ev_timer_set(&l->poll, CAN_LINK_POLL_INTERVAL, CAN_LINK_POLL_INTERVAL);
                        ev_timer_start(l->loop, &l->poll);
                }
        } else {
                ev_timer_stop(l->loop, &l->poll);
        }
}

int can_link_reconfigure(struct can_link *l, const char *ifname, uint32_t bitrate, uint32_t restart_ms)
{
        bool same_if = strcmp(ifname, l->ifname) == 0;
        bool changed = !same_if || bitrate != l->bitrate || restart_ms != l->restart_ms;

        if (!same_if) {
                snprintf(l->ifname, sizeof(l->ifname), "%s", ifname);
                l->state_unsupported = false;
                l->state = CAN_BUS_STATE_UNKNOWN;
                l->worst = CAN_BUS_STATE_UNKNOWN;
                log_fault_clear(&l->bus, monotonic_now_us());
                log_fault_clear(&l->restart, monotonic_now_us());
        }
        l->bitrate = bitrate;
        l->restart_ms = restart_ms;
        return changed ? can_link_apply(l) : 0;
}

void can_link_close(struct can_link *l)
{
        if (l->loop)
                ev_timer_stop(l->loop, &l->poll);
}
