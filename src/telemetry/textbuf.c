/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "textbuf.h"

void textbuf_init(struct textbuf *t, char *buf, size_t cap)
{
        t->buf = buf;
        t->cap = cap;
        t->len = 0;
        t->overflow = false;
        if (cap > 0)
                buf[0] = '\0';
        else
                t->overflow = true;
}

static void textbuf_put(struct textbuf *t, const char *s, size_t n)
{
        if (t->overflow)
                return;
        if (n >= t->cap - t->len) {
                t->overflow = true;
                return;
        }
        memcpy(t->buf + t->len, s, n);
        t->len += n;
        t->buf[t->len] = '\0';
}

void textbuf_str(struct textbuf *t, const char *s)
{
        textbuf_put(t, s, strlen(s));
}

void textbuf_char(struct textbuf *t, char c)
{
        textbuf_put(t, &c, 1);
}

void textbuf_u64(struct textbuf *t, uint64_t v)
{
        char digits[20];
        size_t n = 0;

        do {
                digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
                v /= 10;
        } while (v != 0);
        textbuf_put(t, digits + sizeof(digits) - n, n);
}

void textbuf_i64(struct textbuf *t, int64_t v)
{
        if (v < 0) {
                textbuf_char(t, '-');
                /* INT64_MIN has no positive counterpart in int64_t. */
                textbuf_u64(t, (uint64_t)(-(v + 1)) + 1);
                return;
        }
        textbuf_u64(t, (uint64_t)v);
}

void textbuf_fixed(struct textbuf *t, int64_t v, unsigned decimals)
{
        uint64_t scale = 1, mag, frac;
        char digits[10];

        if (decimals > 9)
                decimals = 9;
        for (unsigned i = 0; i < decimals; i++)
                scale *= 10;
        if (v < 0) {
                textbuf_char(t, '-');
                mag = (uint64_t)(-(v + 1)) + 1;
        } else {
                mag = (uint64_t)v;
        }
        textbuf_u64(t, mag / scale);
        if (decimals == 0)
                return;
        frac = mag % scale;
        for (unsigned i = decimals; i > 0; i--) {
                digits[i - 1] = (char)('0' + frac % 10);
                frac /= 10;
        }
        textbuf_char(t, '.');
        textbuf_put(t, digits, decimals);
}

void textbuf_json_string(struct textbuf *t, const char *s)
{
        static const char hex[] = "0123456789abcdef";

        textbuf_char(t, '"');
        for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
                switch (*c) {
                case '"':
                        textbuf_str(t, "\\\"");
                        break;
                case '\\':
                        textbuf_str(t, "\\\\");
                        break;
                case '\n':
                        textbuf_str(t, "\\n");
                        break;
                case '\r':
                        textbuf_str(t, "\\r");
                        break;
                case '\t':
                        textbuf_str(t, "\\t");
                        break;
                default:
                        if (*c < 0x20 || *c == 0x7f) {
                                char esc[6] = { '\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 0xf] };

                                textbuf_put(t, esc, sizeof(esc));
                        } else {
                                textbuf_char(t, (char)*c);
                        }
                        break;
                }
        }
        textbuf_char(t, '"');
}

/* Days since 1970-01-01 to a proleptic Gregorian date, counting in 400-year
 * eras of 146097 days that start on 1 March (so that the leap day is the
 * last day of its year). */
static void textbuf_civil(int64_t days, int64_t *year, unsigned *month, unsigned *day)
{
        int64_t z = days + 719468;      /* days since 0000-03-01 */
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        uint64_t doe = (uint64_t)(z - era * 146097);                           /* 0..146096 */
        uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;   /* 0..399 */
        uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                 /* 0..365 */
        uint64_t mp = (5 * doy + 2) / 153;                                      /* 0 = March */

        *day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
        *month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
        *year = (int64_t)yoe + era * 400 + (*month <= 2 ? 1 : 0);
}

static void textbuf_2digits(struct textbuf *t, unsigned v)
{
        char d[2] = { (char)('0' + v / 10 % 10), (char)('0' + v % 10) };

        textbuf_put(t, d, 2);
}

void textbuf_utc(struct textbuf *t, uint64_t epoch_us)
{
        uint64_t s = epoch_us / 1000000u;
        unsigned ms = (unsigned)(epoch_us / 1000u % 1000u);
        uint64_t secs_of_day = s % 86400u;
        int64_t year;
        unsigned month, day;

        textbuf_civil((int64_t)(s / 86400u), &year, &month, &day);
        if (year < 1000)
                textbuf_str(t, year < 10 ? "000" : year < 100 ? "00" : "0");
        textbuf_i64(t, year);
        textbuf_char(t, '-');
        textbuf_2digits(t, month);
        textbuf_char(t, '-');
        textbuf_2digits(t, day);
        textbuf_char(t, 'T');
        textbuf_2digits(t, (unsigned)(secs_of_day / 3600u));
        textbuf_char(t, ':');
        textbuf_2digits(t, (unsigned)(secs_of_day / 60u % 60u));
        textbuf_char(t, ':');
        textbuf_2digits(t, (unsigned)(secs_of_day % 60u));
        textbuf_char(t, '.');
        textbuf_char(t, (char)('0' + ms / 100));
        textbuf_2digits(t, ms % 100);
        textbuf_char(t, 'Z');
}

int textbuf_finish(const struct textbuf *t)
{
        return t->overflow ? -ENOSPC : 0;
}
