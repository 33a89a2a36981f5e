/* SPDX-License-Identifier: MIT */
/*
 * Reconnect delays: doubling from min_ms up to max_ms, each one drawn
 * between half of it and all of it, so that gateways that lost their broker
 * together do not all come back in the same instant.  Pure: the randomness
 * is an argument.
 */
#ifndef SECCBRIDGE_BACKOFF_H
#define SECCBRIDGE_BACKOFF_H

#include <stdint.h>

struct backoff {
        uint32_t min_ms;
        uint32_t max_ms;
        uint32_t ceiling_ms;    /* the next delay is at most this */
};

/* 1 <= min_ms <= max_ms. */
void backoff_init(struct backoff *b, uint32_t min_ms, uint32_t max_ms);

/* The delay before the next attempt, ms: in [ceiling/2, ceiling], then
 * the ceiling doubles (up to max_ms).  random: any value, uniformly
 * distributed. */
uint32_t backoff_next(struct backoff *b, uint32_t random);

/* A connection worked: the next delay starts from min_ms again. */
void backoff_reset(struct backoff *b);

#endif
