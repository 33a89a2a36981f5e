/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <linux/can/raw.h>

#include "can_socket.h"

int can_socket_open(const char *ifname, const struct can_socket_options *o, char *why, size_t why_len)
{
        struct sockaddr_can addr;
        struct ifreq ifr;
        unsigned idx;
        int one = 1;
        int fd;
        int r;

        fd = socket(PF_CAN, SOCK_RAW | SOCK_CLOEXEC | (o->nonblocking ? SOCK_NONBLOCK : 0), CAN_RAW);
        if (fd < 0) {
                r = -errno;
                if (r == -EAFNOSUPPORT)
                        snprintf(why, why_len, "this kernel has no CAN support (%s)", strerror(-r));
                else
                        snprintf(why, why_len, "cannot create a CAN socket: %s", strerror(-r));
                return r;
        }
        if ((o->filters && setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FILTER, o->n_filters ? o->filters : NULL,
                                      (socklen_t)(o->n_filters * sizeof(o->filters[0]))) < 0) ||
            (o->error_frames && setsockopt(fd, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, &o->error_frames,
                                           sizeof(o->error_frames)) < 0) ||
            (o->timestamps && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(one)) < 0) ||
            (o->drop_counter && setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) < 0)) {
                r = -errno;
                snprintf(why, why_len, "cannot set socket options: %s", strerror(-r));
                goto fail;
        }

        idx = if_nametoindex(ifname);
        if (idx == 0) {
                r = -ENODEV;
                snprintf(why, why_len, "no such interface");
                goto fail;
        }
        memset(&addr, 0, sizeof(addr));
        addr.can_family = AF_CAN;
        addr.can_ifindex = (int)idx;
        if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
                r = -errno;
                if (r == -ENODEV)
                        snprintf(why, why_len, "not a CAN interface");
                else
                        snprintf(why, why_len, "cannot bind: %s", strerror(-r));
                goto fail;
        }

        if (o->require_up) {
                /* A socket binds to a down interface without complaint; it
                 * would then only fail at the first send. */
                memset(&ifr, 0, sizeof(ifr));
                snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
                if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
                        r = -errno;
                        snprintf(why, why_len, "cannot read interface flags: %s", strerror(-r));
                        goto fail;
                }
                if (!(ifr.ifr_flags & IFF_UP)) {
                        r = -ENETDOWN;
                        snprintf(why, why_len, "interface is down");
                        goto fail;
                }
        }
        return fd;

fail:
        close(fd);
        return r;
}

int can_socket_receive(int fd, struct can_socket_frame *out)
{
        for (;;) {
                char control[CMSG_SPACE(sizeof(struct timeval)) + CMSG_SPACE(sizeof(uint32_t))];
                struct iovec iov = { .iov_base = &out->frame, .iov_len = sizeof(out->frame) };
                struct msghdr msg = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = control,
                        .msg_controllen = sizeof(control),
                };
                ssize_t n;

                n = recvmsg(fd, &msg, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return 0;
                        return -errno;
                }
                out->stamped = false;
                out->counted = false;
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
                        if (cm->cmsg_level != SOL_SOCKET)
                                continue;
                        if (cm->cmsg_type == SCM_TIMESTAMP) {
                                memcpy(&out->stamp, CMSG_DATA(cm), sizeof(out->stamp));
                                out->stamped = true;
                        } else if (cm->cmsg_type == SO_RXQ_OVFL) {
                                memcpy(&out->drops, CMSG_DATA(cm), sizeof(out->drops));
                                out->counted = true;
                        }
                }
                if ((size_t)n != sizeof(out->frame))
                        continue;       /* not a classic CAN frame */
                return 1;
        }
}
