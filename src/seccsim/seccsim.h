/* SPDX-License-Identifier: MIT */
/* seccsim: controller-side simulator and CAN codec toolbox. */
#ifndef SECCSIM_H
#define SECCSIM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

#include <linux/can.h>

/* Each sub-command gets argv starting at its own name; returns the exit code.
 * Each takes --interface-version 2|3 (database v2.7, the default, or v3.6). */
int seccsim_encode_main(int argc, char **argv);   /* tool_codec.c */
int seccsim_decode_main(int argc, char **argv);   /* tool_codec.c (stdin) and live_decode.c (-i IFACE) */
int seccsim_session_main(int argc, char **argv);  /* controller.c */
int seccsim_monitor_main(int argc, char **argv);  /* monitor.c */

/* Live decoding of a CAN interface (decode -i IFACE). */
/* A raw CAN socket bound to ifname that receives every frame, error frames
 * included, with SO_TIMESTAMP and SO_RXQ_OVFL; the fd, or -1 after a
 * message on stderr naming the sub-command `who` (live_decode.c). */
int seccsim_can_open_listener(const char *who, const char *ifname);

/* One frame from such a socket, without waiting: 1 with the frame, its
 * kernel reception time in *tv (*stamped false when the kernel gave none)
 * and the kernel's drop counter in *drops (left alone when not reported);
 * 0 when nothing is waiting or the interface is down (wait for it, as
 * candump does); -errno when the socket failed.  Interrupted calls are
 * retried, frames that are not classic CAN frames skipped. */
int seccsim_can_recv(int fd, struct can_frame *cf, struct timeval *tv, bool *stamped, uint32_t *drops);

struct codec_db;
/* Decode every frame of an interface with database `db` until SIGINT or
 * SIGTERM. */
int seccsim_decode_live(const struct codec_db *db, const char *ifname, int pistol_filter);

#endif
