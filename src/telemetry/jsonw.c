/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "jsonw.h"

void jsonw_init(struct jsonw *j, char *buf, size_t cap)
{
        textbuf_init(&j->tb, buf, cap);
        textbuf_char(&j->tb, '{');
        j->depth = 1;
        j->first[0] = true;
        j->misuse = false;
}

static void jsonw_key(struct jsonw *j, const char *key)
{
        if (j->depth == 0) {
                j->misuse = true;
                return;
        }
        if (!j->first[j->depth - 1])
                textbuf_char(&j->tb, ',');
        j->first[j->depth - 1] = false;
        textbuf_json_string(&j->tb, key);
        textbuf_char(&j->tb, ':');
}

void jsonw_open(struct jsonw *j, const char *key)
{
        if (j->depth >= JSONW_MAX_DEPTH) {
                j->misuse = true;
                return;
        }
        jsonw_key(j, key);
        textbuf_char(&j->tb, '{');
        j->first[j->depth++] = true;
}

void jsonw_close(struct jsonw *j)
{
        if (j->depth <= 1) {
                j->misuse = true;
                return;
        }
        textbuf_char(&j->tb, '}');
        j->depth--;
}

void jsonw_str(struct jsonw *j, const char *key, const char *value)
{
        jsonw_key(j, key);
        if (value)
                textbuf_json_string(&j->tb, value);
        else
                textbuf_str(&j->tb, "null");
}

void jsonw_null(struct jsonw *j, const char *key)
{
        jsonw_key(j, key);
        textbuf_str(&j->tb, "null");
}

void jsonw_bool(struct jsonw *j, const char *key, bool value)
{
        jsonw_key(j, key);
        textbuf_str(&j->tb, value ? "true" : "false");
}

void jsonw_u64(struct jsonw *j, const char *key, uint64_t value)
{
        jsonw_key(j, key);
        textbuf_u64(&j->tb, value);
}

void jsonw_i64(struct jsonw *j, const char *key, int64_t value)
{
        jsonw_key(j, key);
        textbuf_i64(&j->tb, value);
}

void jsonw_fixed(struct jsonw *j, const char *key, int64_t value, unsigned decimals)
{
        jsonw_key(j, key);
        textbuf_fixed(&j->tb, value, decimals);
}

void jsonw_utc(struct jsonw *j, const char *key, uint64_t epoch_us)
{
        jsonw_key(j, key);
        textbuf_char(&j->tb, '"');
        textbuf_utc(&j->tb, epoch_us);
        textbuf_char(&j->tb, '"');
}

int jsonw_finish(struct jsonw *j, size_t *len)
{
        if (j->depth > 1)
                j->misuse = true;       /* an inner object left open */
        while (j->depth > 0) {
                textbuf_char(&j->tb, '}');
                j->depth--;
        }
        if (j->misuse)
                return -EINVAL;
        if (textbuf_finish(&j->tb) < 0)
                return -ENOSPC;
        *len = j->tb.len;
        return 0;
}
