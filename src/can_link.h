/* SPDX-License-Identifier: MIT */
/*
 * Settings and health of the CAN interface itself, over netlink
 * (libsocketcan): the optional bitrate and restart-ms applied at start, the
 * bus state (error-active / warning / passive / bus-off) watched every second
 * where the driver reports one, and the recovery from bus-off when the
 * kernel's automatic restart is not configured.
 *
 * Changing the bitrate or restart-ms, and restarting after bus-off, need
 * CAP_NET_ADMIN; reading the state does not.
 */
#ifndef SECCBRIDGE_CAN_LINK_H
#define SECCBRIDGE_CAN_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "can.h"
#include "log.h"

struct can_link {
        struct ev_loop *loop;
        char ifname[16];
        uint32_t bitrate;               /* bit/s; 0 = leave as configured */
        uint32_t restart_ms;            /* 0 = leave as configured */

        ev_timer poll;                  /* 1 s while the socket is open */
        bool socket_open;
        bool state_unsupported;         /* the driver has no bus state (vcan) */
        enum can_bus_state state;
        enum can_bus_state worst;       /* worst state of the current episode */

        struct log_fault bus;           /* warning / passive / bus-off */
        struct log_fault restart;       /* bus-off restart failing */
};

void can_link_init(struct can_link *l, struct ev_loop *loop, const char *ifname,
                   uint32_t bitrate, uint32_t restart_ms);

/* Apply bitrate and restart-ms when they are non-zero and differ from the
 * interface's (the interface is taken down and up for that).  0 or -errno,
 * logged with the reason. */
int can_link_apply(struct can_link *l);

/* The CAN socket opened or closed: poll the bus state only while it is
 * open (the interface exists and is up). */
void can_link_socket(struct can_link *l, bool open, uint64_t now_us);

/* A bus state learnt elsewhere (error frames). */
void can_link_observe(struct can_link *l, enum can_bus_state state, uint64_t now_us);

/* Reload: another interface, bitrate or restart-ms.  Applies the settings
 * that changed; 0 or -errno (logged). */
int can_link_reconfigure(struct can_link *l, const char *ifname, uint32_t bitrate,
                         uint32_t restart_ms);

void can_link_close(struct can_link *l);

#endif
