/* SPDX-License-Identifier: MIT */
#include "backoff.h"

void backoff_init(struct backoff *b, uint32_t min_ms, uint32_t max_ms)
{
        if (min_ms == 0)
                min_ms = 1;
        if (max_ms < min_ms)
                max_ms = min_ms;
        b->min_ms = min_ms;
        b->max_ms = max_ms;
        b->ceiling_ms = min_ms;
}

uint32_t backoff_next(struct backoff *b, uint32_t random)
{
        uint32_t ceiling = b->ceiling_ms;
        uint32_t half = ceiling / 2;
        uint32_t delay = half + (uint32_t)((uint64_t)random % ((uint64_t)(ceiling - half) + 1));

        b->ceiling_ms = ceiling > b->max_ms / 2 ? b->max_ms : ceiling * 2;
        return delay;
}

void backoff_reset(struct backoff *b)
{
        b->ceiling_ms = b->min_ms;
}
