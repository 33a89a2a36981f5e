/* SPDX-License-Identifier: MIT */
/* Text forms of CAN frames used by the tools: cansend syntax, candump -L
 * lines, and the named decoding printed by `seccsim decode`. */
#ifndef SECCSIM_FRAME_TEXT_H
#define SECCSIM_FRAME_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "seccbridge/codec.h"

/* Room for any line frame_text_describe() produces, NUL included. */
#define FRAME_TEXT_LINE_MAX 512

/* Parse "01068009#07" (8 hex digits = extended ID, 3 = standard) or a
 * candump -L line "(1700000000.000000) vcan0 01068009#07" (optionally
 * followed by T or R), or candump's default "vcan0  01068009   [1]  07".
 * RTR, CAN FD and error frames are -EINVAL.  0 or -EINVAL. */
int frame_text_parse(const char *line, struct codec_frame *out);

/* Format in cansend syntax: "01068009#07" (extended) or "123#0102". */
void frame_text_format(const struct codec_frame *f, char *buf, size_t len);

/* One decoded line of database `db`, as `seccsim decode` prints it:
 *   "MESSAGE pistol=N SIGNAL=VALUE ..."   (database signal order)
 *   "unknown ID#DATA"                      (ID not in the database)
 *   "malformed MESSAGE ID#DATA"            (shorter than the message length)
 * Reserved fields are not printed.  Returns the return code of the decode:
 * 0, -ENOMSG (unknown) or -EBADMSG (malformed). */
int frame_text_describe(const struct codec_db *db, const struct codec_frame *f, char *buf, size_t len);

/* frame_text_describe() for one pistol: with pistol_filter 1..31 a database
 * message of another pistol is described as "foreign ID#DATA" and -ENOMSG is
 * returned; pistol_filter 0 decodes any pistol index (as frame_text_describe). */
int frame_text_describe_filtered(const struct codec_db *db, const struct codec_frame *f,
                                 int pistol_filter, char *buf, size_t len);

/* The database named by an --interface-version value: "2" (v2.7) or "3"
 * (v3.6); NULL for anything else. */
const struct codec_db *frame_text_parse_interface_version(const char *text);

/* A signal's value as decode prints it: its label when the value table has
 * one, else the physical value at the database's resolution ("400.5", "-40"). */
void frame_text_format_value(const struct codec_signal_info *sig, int64_t raw,
                             char *buf, size_t len);

/* A fixed-point value (physical x 10^decimals) as a decimal number. */
void frame_text_format_fixed(const struct codec_signal_info *sig, int64_t fixed,
                             char *buf, size_t len);

/* A value as encode takes it: a label of the signal's value table, or a
 * decimal number in physical units ("400.5", "-12.3", "7"; no exponent).
 * Rounded to nearest raw step; *rounded tells whether that changed it.
 * 0, -EINVAL (neither number nor label) or -ERANGE (outside the raw range or
 * the database min/max). */
int frame_text_parse_value(const struct codec_signal_info *sig, const char *text,
                           int64_t *raw, bool *rounded);

#endif
