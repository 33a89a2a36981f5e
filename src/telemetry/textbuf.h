/* SPDX-License-Identifier: MIT */
/*
 * Text into a caller's buffer without stdio: the JSON payloads and the
 * metrics file are built from fixed-point numbers (0.1 V, 0.1 A, mWh), so
 * integers, fixed decimals, escaped strings and a UTC time are all they
 * need.  Pure: no allocation, no clock, no I/O.
 *
 * A buffer that is too small is not an error until the end: appends past
 * the end are dropped and remembered, and textbuf_finish() says -ENOSPC.
 * The text is always NUL-terminated.
 */
#ifndef SECCBRIDGE_TEXTBUF_H
#define SECCBRIDGE_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct textbuf {
        char *buf;
        size_t cap;             /* bytes of buf, NUL included */
        size_t len;             /* text so far */
        bool overflow;          /* something did not fit */
};

/* cap must be at least 1. */
void textbuf_init(struct textbuf *t, char *buf, size_t cap);

void textbuf_str(struct textbuf *t, const char *s);
void textbuf_char(struct textbuf *t, char c);
void textbuf_u64(struct textbuf *t, uint64_t v);
void textbuf_i64(struct textbuf *t, int64_t v);
/* v / 10^decimals with exactly `decimals` digits after the point
 * (decimals 0..9): textbuf_fixed(t, -4105, 1) writes "-410.5". */
void textbuf_fixed(struct textbuf *t, int64_t v, unsigned decimals);
/* A JSON string: quoted, with ", \ and control characters escaped; bytes
 * of 0x80 and above pass through (the inputs are ASCII or UTF-8). */
void textbuf_json_string(struct textbuf *t, const char *s);
/* A UTC time in RFC 3339 form with milliseconds from microseconds since
 * the Unix epoch: "2024-03-01T12:34:56.789Z". */
void textbuf_utc(struct textbuf *t, uint64_t epoch_us);

/* 0, or -ENOSPC when something did not fit (the text is cut short). */
int textbuf_finish(const struct textbuf *t);

#endif
