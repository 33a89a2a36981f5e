/* SPDX-License-Identifier: MIT */
/* seccsim: controller-side simulator and CAN codec toolbox. */
#ifndef SECCSIM_H
#define SECCSIM_H

/* Each sub-command gets argv starting at its own name; returns the exit code.
 * Each takes --interface-version 2|3 (database v2.7, the default, or v3.6). */
int seccsim_encode_main(int argc, char **argv);   /* tool_codec.c */
int seccsim_decode_main(int argc, char **argv);   /* tool_codec.c (stdin) and live_decode.c (-i IFACE) */
int seccsim_session_main(int argc, char **argv);  /* controller.c */
int seccsim_monitor_main(int argc, char **argv);  /* monitor.c */

/* Live decoding of a CAN interface (decode -i IFACE, live_decode.c). */
struct codec_db;
/* Decode every frame of an interface with database `db` until SIGINT or
 * SIGTERM. */
int seccsim_decode_live(const struct codec_db *db, const char *ifname, int pistol_filter);

#endif
