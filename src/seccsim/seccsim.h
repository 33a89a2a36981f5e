/* SPDX-License-Identifier: MIT */
/* seccsim: controller-side simulator and CAN codec toolbox. */
#ifndef SECCSIM_H
#define SECCSIM_H

/* Each sub-command gets argv starting at its own name; returns the exit code. */
int seccsim_encode_main(int argc, char **argv);   /* tool_codec.c */
int seccsim_decode_main(int argc, char **argv);   /* tool_codec.c (stdin) and live_decode.c (-i IFACE) */
int seccsim_session_main(int argc, char **argv);  /* controller.c */
int seccsim_monitor_main(int argc, char **argv);  /* monitor.c */

/* Live decoding of a CAN interface (decode -i IFACE). */
/* A raw CAN socket bound to ifname that receives every frame, error frames
 * included, with SO_TIMESTAMP and SO_RXQ_OVFL; the fd, or -1 after a
 * message on stderr naming the sub-command `who` (live_decode.c). */
int seccsim_can_open_listener(const char *who, const char *ifname);

int seccsim_decode_live(const char *ifname, int pistol_filter);

#endif
