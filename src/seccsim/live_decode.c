/* SPDX-License-Identifier: MIT */
/*
 * `seccsim decode -i IFACE`: live decoding of a CAN interface, one line per
 * frame, like candump with names:
 *
 *   (1700000000.123456) vcan0 Advantics_Controller_Status pistol=1 State=Charging
 *
 * After the timestamp and the interface name comes exactly what the stdin
 * decoder prints for the same frame (frame_text_describe_filtered), so
 * scripts can treat both alike.  Error frames are printed as
 * "error-frame ID#DATA", remote frames as "remote ID".  Runs until SIGINT or
 * SIGTERM; exit 0, or 1 when the interface cannot be used.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/time.h>

#include <linux/can.h>

#include "../canframe.h"
#include "frame_text.h"
#include "seccsim.h"
#include "seccsim_can.h"

static void live_print(const struct codec_db *db, const char *ifname, const struct can_frame *cf,
                       const struct timeval *tv, int pistol_filter)
{
        char text[FRAME_TEXT_LINE_MAX];
        struct codec_frame f;

        printf("(%lld.%06ld) %s ", (long long)tv->tv_sec, (long)tv->tv_usec, ifname);
        if (cf->can_id & CAN_ERR_FLAG) {
                struct can_frame plain = *cf;

                /* The error class is in the identifier bits. */
                plain.can_id &= ~(canid_t)CAN_ERR_FLAG;
                plain.can_id |= CAN_EFF_FLAG;
                canframe_to_codec(&plain, &f);
                frame_text_format(&f, text, sizeof(text));
                printf("error-frame %s\n", text);
        } else if (cf->can_id & CAN_RTR_FLAG) {
                if (cf->can_id & CAN_EFF_FLAG)
                        printf("remote %08X\n", (unsigned)(cf->can_id & CAN_EFF_MASK));
                else
                        printf("remote %03X\n", (unsigned)(cf->can_id & CAN_SFF_MASK));
        } else {
                canframe_to_codec(cf, &f);
                frame_text_describe_filtered(db, &f, pistol_filter, text, sizeof(text));
                printf("%s\n", text);
        }
        /* Watched live and piped into grep: one line at a time. */
        fflush(stdout);
}

int seccsim_decode_live(const struct codec_db *db, const char *ifname, int pistol_filter)
{
        unsigned long long frames = 0;
        uint32_t drops = 0;
        sigset_t mask, old_mask;
        int fd, sfd;

        fd = seccsim_can_open_listener("decode", ifname);
        if (fd < 0)
                return 1;

        /* SIGINT/SIGTERM arrive through a descriptor polled beside the
         * socket: no handler, no global flag, no frame lost half-printed. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, &old_mask);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sfd < 0) {
                fprintf(stderr, "seccsim decode: cannot watch signals: %s\n", strerror(errno));
                sigprocmask(SIG_SETMASK, &old_mask, NULL);
                close(fd);
                return 1;
        }

        for (;;) {
                struct pollfd pfd[2] = {
                        { .fd = fd, .events = POLLIN },
                        { .fd = sfd, .events = POLLIN },
                };
                struct can_socket_frame rx;
                struct timeval tv;
                int r;

                if (poll(pfd, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "seccsim decode: poll failed: %s\n", strerror(errno));
                        break;
                }
                if (pfd[1].revents) {
                        struct signalfd_siginfo si;

                        /* Consume it, or it would strike once unblocked. */
                        if (read(sfd, &si, sizeof(si)) < 0 && errno == EINTR)
                                continue;
                        break;
                }
                if (!(pfd[0].revents & POLLIN)) {
                        if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                                fprintf(stderr, "seccsim decode: the CAN socket failed\n");
                                break;
                        }
                        continue;
                }
                r = can_socket_receive(fd, &rx);
                if (r == -ENETDOWN)
                        continue;       /* wait for the interface, as candump does */
                if (r < 0) {
                        fprintf(stderr, "seccsim decode: receive failed: %s\n", strerror(-r));
                        break;
                }
                if (r == 0)
                        continue;
                if (rx.counted)
                        drops = rx.drops;
                if (rx.stamped)
                        tv = rx.stamp;
                else
                        gettimeofday(&tv, NULL);
                live_print(db, ifname, &rx.frame, &tv, pistol_filter);
                frames++;
        }

        close(sfd);
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
        close(fd);
        fprintf(stderr, "seccsim decode: %llu frames, %u dropped by the kernel\n", frames, drops);
        return 0;
}
