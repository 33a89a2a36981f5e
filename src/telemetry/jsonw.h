/* SPDX-License-Identifier: MIT */
/*
 * A JSON object writer on a textbuf: members in the order they are written,
 * commas and nesting handled here, no whitespace.  Pure.
 *
 *      jsonw_init(&j, buf, sizeof(buf));
 *      jsonw_str(&j, "type", "fault");
 *      jsonw_open(&j, "link");
 *      jsonw_bool(&j, "can_up", true);
 *      jsonw_close(&j);
 *      r = jsonw_finish(&j, &len);     -> {"type":"fault","link":{"can_up":true}}
 */
#ifndef SECCBRIDGE_JSONW_H
#define SECCBRIDGE_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "textbuf.h"

#define JSONW_MAX_DEPTH 8

struct jsonw {
        struct textbuf tb;
        unsigned depth;                 /* open objects, the outermost included */
        bool first[JSONW_MAX_DEPTH];    /* no member written yet at that depth */
        bool misuse;                    /* too deep, or a close too many */
};

/* Starts the outermost object. */
void jsonw_init(struct jsonw *j, char *buf, size_t cap);

/* A member whose value is an object; members go into it until
 * jsonw_close(). */
void jsonw_open(struct jsonw *j, const char *key);
void jsonw_close(struct jsonw *j);

/* Members.  A NULL string is written as null. */
void jsonw_str(struct jsonw *j, const char *key, const char *value);
void jsonw_null(struct jsonw *j, const char *key);
void jsonw_bool(struct jsonw *j, const char *key, bool value);
void jsonw_u64(struct jsonw *j, const char *key, uint64_t value);
void jsonw_i64(struct jsonw *j, const char *key, int64_t value);
/* value / 10^decimals, e.g. jsonw_fixed(j, "voltage_v", 4101, 1) -> 410.1 */
void jsonw_fixed(struct jsonw *j, const char *key, int64_t value, unsigned decimals);
/* A time as an RFC 3339 string (see textbuf_utc). */
void jsonw_utc(struct jsonw *j, const char *key, uint64_t epoch_us);

/* Closes whatever is open.  0 with the text's length in *len, -ENOSPC when
 * it did not fit, -EINVAL when objects were not opened and closed in
 * order. */
int jsonw_finish(struct jsonw *j, size_t *len);

#endif
