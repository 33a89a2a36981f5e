/* SPDX-License-Identifier: MIT */
/*
 * Text forms of CAN frames for the seccsim tools: parsing cansend / candump
 * lines, formatting frames and decoded messages, and parsing signal values
 * the way `seccsim encode` takes them.  The output format is documented in
 * doc/seccsim-codec.md; scripts depend on it, so change both together.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame_text.h"

/* ---- parsing frames ---- */

static int hex_digit(int c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Parse exactly n hex digits. */
static int parse_hex(const char *s, size_t n, uint32_t *out)
{
        uint32_t v = 0;

        for (size_t i = 0; i < n; i++) {
                int d = hex_digit((unsigned char)s[i]);

                if (d < 0)
                        return -EINVAL;
                v = (v << 4) | (uint32_t)d;
        }
        *out = v;
        return 0;
}

/* An identifier of 3 hex digits (standard) or 8 (extended), as cansend and
 * candump write them. */
static int parse_id(const char *s, size_t n, struct codec_frame *f)
{
        uint32_t id;

        if ((n != 3 && n != 8) || parse_hex(s, n, &id) < 0)
                return -EINVAL;
        if (n == 3 && id > 0x7FFu)
                return -EINVAL;
        /* An 8-digit value above 29 bits is an error frame or a flag word,
         * not a data frame. */
        if (n == 8 && id > CODEC_ID_EXT_MASK)
                return -EINVAL;
        f->id = id;
        f->extended = n == 8;
        return 0;
}

/* cansend syntax "ID#DATA": DATA is up to 8 bytes of two hex digits, with
 * optional '.' between bytes, and optionally "_X" (the raw DLC 9..F cansend
 * allows for 8-byte frames, ignored).  RTR ("#R") and CAN FD ("##") frames
 * are not frames of this interface. */
static int parse_cansend(const char *s, size_t n, struct codec_frame *f)
{
        const char *hash = memchr(s, '#', n);
        const char *end = s + n;
        const char *p;
        int r;

        if (!hash)
                return -EINVAL;
        r = parse_id(s, (size_t)(hash - s), f);
        if (r < 0)
                return r;

        f->len = 0;
        memset(f->data, 0, sizeof(f->data));
        p = hash + 1;
        while (p < end) {
                uint32_t byte;

                if (*p == '.') {
                        if (f->len == 0 || end - p < 2 || hex_digit((unsigned char)p[1]) < 0)
                                return -EINVAL;
                        p++;
                        continue;
                }
                if (*p == '_') {
                        if (f->len != CODEC_MAX_DLC || end - p != 2 || hex_digit((unsigned char)p[1]) < 0)
                                return -EINVAL;
                        break;
                }
                if (end - p < 2 || f->len >= CODEC_MAX_DLC || parse_hex(p, 2, &byte) < 0)
                        return -EINVAL;
                f->data[f->len++] = (uint8_t)byte;
                p += 2;
        }
        return 0;
}

#define MAX_TOKENS 16

struct token {
        const char *s;
        size_t n;
};

static size_t split(const char *line, struct token *tok, size_t max)
{
        size_t count = 0;
        const char *p = line;

        for (;;) {
                const char *start;

                while (isspace((unsigned char)*p))
                        p++;
                if (*p == '\0')
                        return count;
                if (count == max)
                        return max + 1;
                start = p;
                while (*p != '\0' && !isspace((unsigned char)*p))
                        p++;
                tok[count].s = start;
                tok[count].n = (size_t)(p - start);
                count++;
        }
}

static bool token_is(const struct token *t, const char *s)
{
        return t->n == strlen(s) && memcmp(t->s, s, t->n) == 0;
}

/* candump's default format: "IFACE ID [N] B0 B1 ..." */
static int parse_candump_default(const struct token *tok, size_t n, struct codec_frame *f)
{
        uint32_t dlc;

        if (n < 3 || tok[2].n != 3 || tok[2].s[0] != '[' || tok[2].s[2] != ']' ||
            parse_hex(tok[2].s + 1, 1, &dlc) < 0 || dlc > CODEC_MAX_DLC || n != 3 + dlc)
                return -EINVAL;
        if (parse_id(tok[1].s, tok[1].n, f) < 0)
                return -EINVAL;
        memset(f->data, 0, sizeof(f->data));
        f->len = (uint8_t)dlc;
        for (size_t i = 0; i < dlc; i++) {
                uint32_t byte;

                if (tok[3 + i].n != 2 || parse_hex(tok[3 + i].s, 2, &byte) < 0)
                        return -EINVAL;
                f->data[i] = (uint8_t)byte;
        }
        return 0;
}

int frame_text_parse(const char *line, struct codec_frame *out)
{
        struct token tok[MAX_TOKENS];
        struct codec_frame f;
        const struct token *t = tok;
        size_t n;
        int r;

        if (!line || !out)
                return -EINVAL;
        n = split(line, tok, MAX_TOKENS);
        if (n == 0 || n > MAX_TOKENS)
                return -EINVAL;

        /* "(seconds.micros)" timestamp of candump -L / -t. */
        if (t[0].s[0] == '(') {
                if (t[0].s[t[0].n - 1] != ')' || t[0].n < 3)
                        return -EINVAL;
                t++;
                n--;
        }

        memset(&f, 0, sizeof(f));
        if (n == 1) {
                /* bare cansend "ID#DATA" */
                r = parse_cansend(t[0].s, t[0].n, &f);
        } else if (n == 2 || (n == 3 && (token_is(&t[2], "T") || token_is(&t[2], "R")))) {
                /* candump -L "IFACE ID#DATA", possibly with a direction mark */
                r = parse_cansend(t[1].s, t[1].n, &f);
        } else {
                r = parse_candump_default(t, n, &f);
        }
        if (r < 0)
                return r;
        *out = f;
        return 0;
}

/* ---- formatting ---- */

/* Bounded string builder: never overflows, always NUL-terminated. */
struct out {
        char *buf;
        size_t len;
        size_t pos;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void out_printf(struct out *o, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (o->len == 0 || o->pos >= o->len - 1)
                return;
        va_start(ap, fmt);
        n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        o->pos += (size_t)n;
        if (o->pos > o->len - 1)
                o->pos = o->len - 1;
}

static void out_frame(struct out *o, const struct codec_frame *f)
{
        size_t len = f->len > CODEC_MAX_DLC ? CODEC_MAX_DLC : f->len;

        if (f->extended)
                out_printf(o, "%08X#", (unsigned)(f->id & CODEC_ID_EXT_MASK));
        else
                out_printf(o, "%03X#", (unsigned)(f->id & 0x7FFu));
        for (size_t i = 0; i < len; i++)
                out_printf(o, "%02X", f->data[i]);
}

void frame_text_format(const struct codec_frame *f, char *buf, size_t len)
{
        struct out o = { buf, len, 0 };

        if (len == 0)
                return;
        buf[0] = '\0';
        out_frame(&o, f);
}

static int64_t pow10_i64(unsigned n)
{
        int64_t p = 1;

        while (n-- > 0)
                p *= 10;
        return p;
}

void frame_text_format_fixed(const struct codec_signal_info *sig, int64_t fixed,
                             char *buf, size_t len)
{
        struct out o = { buf, len, 0 };
        int64_t div = pow10_i64(sig->decimals);
        /* Work on the magnitude in unsigned so that INT64_MIN stays sane. */
        uint64_t mag = fixed < 0 ? 0u - (uint64_t)fixed : (uint64_t)fixed;

        if (len == 0)
                return;
        buf[0] = '\0';
        if (sig->decimals == 0) {
                out_printf(&o, "%s%llu", fixed < 0 ? "-" : "", (unsigned long long)mag);
                return;
        }
        out_printf(&o, "%s%llu.%0*llu", fixed < 0 ? "-" : "",
                   (unsigned long long)(mag / (uint64_t)div), (int)sig->decimals,
                   (unsigned long long)(mag % (uint64_t)div));
}

void frame_text_format_value(const struct codec_signal_info *sig, int64_t raw,
                             char *buf, size_t len)
{
        const char *label = codec_signal_label(sig, raw);

        if (label) {
                snprintf(buf, len, "%s", label);
                return;
        }
        frame_text_format_fixed(sig, codec_signal_to_fixed(sig, raw), buf, len);
}

int frame_text_describe_filtered(const struct codec_db *db, const struct codec_frame *f,
                                 int pistol_filter, char *buf, size_t len)
{
        struct out o = { buf, len, 0 };
        const struct codec_msg_info *m = NULL;
        unsigned pistol;

        if (len == 0)
                return -EINVAL;
        buf[0] = '\0';

        if (f->extended)
                m = codec_msg_info_by_id(db, f->id);
        if (!m) {
                out_printf(&o, "unknown ");
                out_frame(&o, f);
                return -ENOMSG;
        }
        pistol = (f->id & CODEC_ID_PISTOL_MASK) >> CODEC_ID_PISTOL_SHIFT;
        if (pistol_filter != 0 && pistol != (unsigned)pistol_filter) {
                out_printf(&o, "foreign ");
                out_frame(&o, f);
                return -ENOMSG;
        }
        if (f->len < m->dlc) {
                out_printf(&o, "malformed %s ", m->name);
                out_frame(&o, f);
                return -EBADMSG;
        }

        out_printf(&o, "%s pistol=%u", m->name, pistol);
        for (size_t i = 0; i < m->n_signals; i++) {
                const struct codec_signal_info *sig = &m->signals[i];
                char value[64];

                if (sig->reserved)
                        continue;
                frame_text_format_value(sig, codec_signal_get_raw(f->data, sig),
                                        value, sizeof(value));
                out_printf(&o, " %s=%s", sig->name, value);
        }
        return 0;
}

int frame_text_describe(const struct codec_db *db, const struct codec_frame *f, char *buf, size_t len)
{
        return frame_text_describe_filtered(db, f, 0, buf, len);
}

const struct codec_db *frame_text_parse_interface_version(const char *text)
{
        if (!text)
                return NULL;
        if (strcmp(text, "2") == 0)
                return &codec_db_v2_7;
        if (strcmp(text, "3") == 0)
                return &codec_db_v3_6;
        return NULL;
}

/* ---- parsing values ---- */

/* Digits kept from a number: far more than any writable field needs (16 bits
 * at 0.1 resolution), and 18 in all stay clear of int64 overflow. */
#define MAX_INT_DIGITS 12
#define MAX_FRAC_DIGITS 6

/* Parse "[+-]DIGITS[.DIGITS]" exactly into mantissa / 10^frac.  Fraction
 * digits beyond MAX_FRAC_DIGITS are dropped (*dropped says whether any was
 * not 0). */
static int parse_decimal(const char *s, int64_t *mantissa, unsigned *frac, bool *dropped)
{
        bool neg = false, any = false;
        unsigned int_digits = 0, f = 0;
        int64_t m = 0;

        *dropped = false;
        if (*s == '+' || *s == '-')
                neg = *s++ == '-';
        for (; isdigit((unsigned char)*s); s++) {
                any = true;
                if (m == 0 && *s == '0')
                        continue;       /* leading zeros do not count */
                if (++int_digits > MAX_INT_DIGITS)
                        return -ERANGE;
                m = m * 10 + (*s - '0');
        }
        if (*s == '.') {
                s++;
                for (; isdigit((unsigned char)*s); s++) {
                        any = true;
                        if (f == MAX_FRAC_DIGITS) {
                                *dropped |= *s != '0';
                                continue;
                        }
                        m = m * 10 + (*s - '0');
                        f++;
                }
        }
        if (!any || *s != '\0')
                return -EINVAL;
        *mantissa = neg ? -m : m;
        *frac = f;
        return 0;
}

/* n / d rounded to nearest, halves away from zero; d > 0. */
static int64_t div_round(int64_t n, int64_t d, bool *inexact)
{
        int64_t q = n / d, r = n % d;

        *inexact = r != 0;
        if (r < 0 ? -r * 2 >= d : r * 2 >= d)
                q += r < 0 ? -1 : 1;
        return q;
}

int frame_text_parse_value(const struct codec_signal_info *sig, const char *text,
                           int64_t *raw, bool *rounded)
{
        int64_t mantissa, scale, offset, p, r;
        unsigned frac, prec;
        bool dropped, inexact;
        int ret;

        if (codec_signal_label_value(sig, text, &r) == 0) {
                *raw = r;
                *rounded = false;
                return 0;
        }

        ret = parse_decimal(text, &mantissa, &frac, &dropped);
        if (ret < 0)
                return ret;

        /* Bring value, offset and scale to one decimal precision and divide
         * once, so there is a single rounding (2.6 kWh at 2 kWh/bit -> 2). */
        prec = frac > sig->decimals ? frac : sig->decimals;
        p = pow10_i64(prec - sig->decimals);
        scale = codec_signal_to_fixed(sig, 1) - codec_signal_to_fixed(sig, 0);
        offset = codec_signal_to_fixed(sig, 0);
        r = div_round(mantissa * pow10_i64(prec - frac) - offset * p, scale * p, &inexact);

        if (r < codec_signal_raw_min(sig) || r > codec_signal_raw_max(sig))
                return -ERANGE;
        if (codec_signal_to_fixed(sig, r) < codec_signal_fixed_min(sig) ||
            codec_signal_to_fixed(sig, r) > codec_signal_fixed_max(sig))
                return -ERANGE;
        *raw = r;
        *rounded = inexact || dropped;
        return 0;
}
