/* SPDX-License-Identifier: MIT */
/* Text forms of CAN frames used by the tools: cansend syntax, candump -L
 * lines, and the named decoding printed by `seccsim decode`. */
#ifndef SECCSIM_FRAME_TEXT_H
#define SECCSIM_FRAME_TEXT_H

#include <stddef.h>

#include "seccbridge/codec.h"

/* Parse "01068009#07" (8 hex digits = extended ID, 3 = standard) or a
 * candump -L line "(1700000000.000000) vcan0 01068009#07".  0 or -EINVAL. */
int frame_text_parse(const char *line, struct codec_frame *out);

/* Format in cansend syntax: "01068009#07" (extended) or "123#0102". */
void frame_text_format(const struct codec_frame *f, char *buf, size_t len);

/* One decoded line, as `seccsim decode` prints it:
 *   "MESSAGE pistol=N SIGNAL=VALUE ..."   (database signal order)
 *   "unknown ID#DATA"                      (ID not in the database)
 *   "malformed MESSAGE ID#DATA"            (shorter than the message length)
 * Reserved fields are not printed.  Returns the return code of the decode:
 * 0, -ENOMSG (unknown) or -EBADMSG (malformed). */
int frame_text_describe(const struct codec_frame *f, char *buf, size_t len);

#endif
