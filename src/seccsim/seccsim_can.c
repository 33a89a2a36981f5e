/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>

#include "seccsim_can.h"

int seccsim_can_open(const char *who, const char *ifname, const struct can_socket_options *o)
{
        char why[160];
        int fd;

        fd = can_socket_open(ifname, o, why, sizeof(why));
        if (fd >= 0)
                return fd;
        if (fd == -ENODEV)
                fprintf(stderr, "seccsim %s: no CAN interface '%s' (%s)\n", who, ifname, why);
        else
                fprintf(stderr, "seccsim %s: %s: %s\n", who, ifname, why);
        return fd;
}

int seccsim_can_open_listener(const char *who, const char *ifname)
{
        const struct can_socket_options o = {
                .filters = NULL,
                .error_frames = CAN_ERR_MASK,
                .timestamps = true,
                .drop_counter = true,
        };

        return seccsim_can_open(who, ifname, &o);
}
