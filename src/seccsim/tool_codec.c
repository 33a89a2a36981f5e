/* SPDX-License-Identifier: MIT */
/*
 * `seccsim encode` and `seccsim decode` (stdin): the CAN codec toolbox.
 * Both speak the text forms of frame_text.c; doc/seccsim-codec.md is the
 * user-facing description of their input and output.
 *
 * Exit codes: 0 success, 2 usage error or a value the database does not
 * allow.  decode never fails on bad input lines: it reports them and goes on.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame_text.h"
#include "seccsim.h"

#define EXIT_USAGE 2

/* ---- shared option parsing ---- */

/* "1".."31" -> pistol index; -EINVAL otherwise. */
static int parse_pistol(const char *s)
{
        char *end;
        long v;

        if (!s || *s == '\0')
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || *end != '\0' || v < CODEC_PISTOL_MIN || v > CODEC_PISTOL_MAX)
                return -EINVAL;
        return (int)v;
}

/* Matches "--name VALUE", "--name=VALUE" and, when short is given, "-s VALUE".
 * Returns 1 and sets *value (NULL when the value is missing), or 0. */
static int match_option(int argc, char **argv, int *i, const char *name, const char *shortname,
                        const char **value)
{
        const char *a = argv[*i];
        size_t n = strlen(name);

        if (strncmp(a, name, n) == 0 && a[n] == '=') {
                *value = a + n + 1;
                return 1;
        }
        if (strcmp(a, name) == 0 || (shortname && strcmp(a, shortname) == 0)) {
                *value = *i + 1 < argc ? argv[++*i] : NULL;
                return 1;
        }
        return 0;
}

static const char *dir_text(enum codec_dir dir)
{
        switch (dir) {
        case CODEC_DIR_IN:
                return "IN";
        case CODEC_DIR_OUT:
                return "OUT";
        }
        return "?";
}

/* ---- describing the database ---- */

static void print_fixed(FILE *out, const struct codec_signal_info *sig, int64_t fixed)
{
        char buf[64];

        frame_text_format_fixed(sig, fixed, buf, sizeof(buf));
        fputs(buf, out);
}

/* "0 .. 6553.5 Volts" */
static void print_range(FILE *out, const struct codec_signal_info *sig)
{
        print_fixed(out, sig, codec_signal_fixed_min(sig));
        fputs(" .. ", out);
        print_fixed(out, sig, codec_signal_fixed_max(sig));
        if (sig->unit[0] != '\0')
                fprintf(out, " %s", sig->unit);
}

static void print_labels(FILE *out, const struct codec_signal_info *sig, const char *sep)
{
        for (size_t i = 0; i < sig->n_labels; i++)
                fprintf(out, "%s%lld=%s", i == 0 ? "" : sep, (long long)sig->labels[i].value,
                        sig->labels[i].name);
}

static void list_messages(FILE *out, const struct codec_db *db)
{
        fprintf(out, "%-32s %-8s %-3s %-3s %s\n", "MESSAGE", "ID", "DLC", "DIR", "PERIOD");
        for (size_t i = 0; i < db->n_messages; i++) {
                const struct codec_msg_info *m = &db->messages[i];

                fprintf(out, "%-32s 0x%05X  %-3u %-3s ", m->name, (unsigned)m->base_id,
                        (unsigned)m->dlc, dir_text(m->dir));
                if (m->period_ms)
                        fprintf(out, "%u ms\n", (unsigned)m->period_ms);
                else
                        fputs("event\n", out);
        }
        fprintf(out, "Database %s (interface version %u).  IDs are database IDs (pistol index 0);\n"
                "on the bus ID | pistol << 24.\n", db->name, (unsigned)db->interface_version);
}

static void list_signals(FILE *out, const struct codec_msg_info *m)
{
        fprintf(out, "%s: ID 0x%05X | pistol << 24, DLC %u, %s (%s), ", m->name,
                (unsigned)m->base_id, (unsigned)m->dlc, dir_text(m->dir),
                m->dir == CODEC_DIR_IN ? "power side -> controller"
                                       : "controller -> power side");
        if (m->period_ms)
                fprintf(out, "every %u ms\n", (unsigned)m->period_ms);
        else
                fputs("event driven\n", out);

        for (size_t i = 0; i < m->n_signals; i++) {
                const struct codec_signal_info *sig = &m->signals[i];
                char bits[16];

                if (sig->length == 1)
                        snprintf(bits, sizeof(bits), "%u", (unsigned)sig->start);
                else
                        snprintf(bits, sizeof(bits), "%u..%u", (unsigned)sig->start,
                                 (unsigned)(sig->start + sig->length - 1));
                fprintf(out, "  %-27s bits %-6s ", sig->name, bits);
                if (sig->reserved) {
                        fputs("reserved, always 0\n", out);
                        continue;
                }
                fprintf(out, "%-8s", sig->is_signed ? "signed" : "unsigned");
                if (sig->scale != 1)
                        fprintf(out, " scale %g", sig->scale);
                if (sig->offset != 0)
                        fprintf(out, " offset %g", sig->offset);
                fputs(" range ", out);
                print_range(out, sig);
                if (sig->n_labels) {
                        fputs(" values ", out);
                        print_labels(out, sig, " ");
                }
                fputc('\n', out);
        }
}

/* ---- encode ---- */

static void encode_usage(FILE *out)
{
        fputs("Usage: seccsim encode [--interface-version 2|3] [--pistol N] MESSAGE [SIGNAL=VALUE ...]\n"
              "       seccsim encode [--interface-version 2|3] --list [MESSAGE]\n"
              "\n"
              "Print one frame in cansend syntax (ID#DATA): database v2.7, or v3.6\n"
              "with --interface-version 3.\n"
              "\n"
              "  -p, --pistol N   pistol index 1..31 in ID bits 28..24 (default 1);\n"
              "                   'pistol=N' among the signals does the same\n"
              "      --interface-version 2|3\n"
              "                   the interface version: 2 (database v2.7, the default)\n"
              "                   or 3 (database v3.6)\n"
              "  -l, --list       list the messages, or the signals of MESSAGE\n"
              "  -h, --help       this text\n"
              "\n"
              "VALUE is the physical value (400.5, -12.3) rounded to the signal's\n"
              "resolution, or a label of its value table (State=Charging).  Signals\n"
              "not named are sent as raw 0 (so offset temperatures read -40).\n"
              "Reserved fields are always 0.  Exit status 2 on any error.\n", out);
}

/* "allowed: 0 .. 100 %" or "allowed: 0 .. 255, or Not_Allowed, Allowed" */
static void print_allowed(FILE *out, const struct codec_signal_info *sig)
{
        fputs("allowed: ", out);
        print_range(out, sig);
        if (sig->n_labels) {
                fputs(", or ", out);
                for (size_t i = 0; i < sig->n_labels; i++)
                        fprintf(out, "%s%s", i == 0 ? "" : ", ", sig->labels[i].name);
        }
}

static int encode_signal(const struct codec_msg_info *m, const char *arg, uint8_t *data,
                         bool *given)
{
        const struct codec_signal_info *sig;
        const char *eq = strchr(arg, '=');
        char name[64];
        size_t idx;
        int64_t raw;
        bool rounded;
        int r;

        if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(name)) {
                fprintf(stderr, "seccsim encode: %s: expected SIGNAL=VALUE, got '%s'\n",
                        m->name, arg);
                return -EINVAL;
        }
        memcpy(name, arg, (size_t)(eq - arg));
        name[eq - arg] = '\0';

        sig = codec_signal_by_name(m, name);
        if (!sig) {
                fprintf(stderr, "seccsim encode: %s has no signal '%s' (signals:", m->name, name);
                for (size_t i = 0; i < m->n_signals; i++)
                        if (!m->signals[i].reserved)
                                fprintf(stderr, " %s", m->signals[i].name);
                fputs(")\n", stderr);
                return -EINVAL;
        }
        if (sig->reserved) {
                fprintf(stderr, "seccsim encode: %s.%s is reserved and always sent as 0\n",
                        m->name, sig->name);
                return -EINVAL;
        }
        idx = (size_t)(sig - m->signals);
        if (given[idx]) {
                fprintf(stderr, "seccsim encode: %s.%s given twice\n", m->name, sig->name);
                return -EINVAL;
        }

        r = frame_text_parse_value(sig, eq + 1, &raw, &rounded);
        if (r == -EINVAL) {
                fprintf(stderr, "seccsim encode: %s.%s: '%s' is not a number%s (",
                        m->name, sig->name, eq + 1, sig->n_labels ? " or a label" : "");
                print_allowed(stderr, sig);
                fputs(")\n", stderr);
                return r;
        }
        if (r < 0) {
                fprintf(stderr, "seccsim encode: %s.%s=%s is out of range (", m->name,
                        sig->name, eq + 1);
                print_allowed(stderr, sig);
                fputs(")\n", stderr);
                return r;
        }
        if (rounded) {
                char value[64];

                frame_text_format_fixed(sig, codec_signal_to_fixed(sig, raw), value, sizeof(value));
                fprintf(stderr, "seccsim encode: note: %s.%s=%s sent as %s (resolution %g%s%s)\n",
                        m->name, sig->name, eq + 1, value, sig->scale,
                        sig->unit[0] ? " " : "", sig->unit);
        }
        given[idx] = true;
        codec_signal_put_raw(data, sig, raw);
        return 0;
}

/* --interface-version VALUE: the database, or NULL after a message naming
 * the sub-command. */
static const struct codec_db *parse_version_option(const char *who, const char *value)
{
        const struct codec_db *db = frame_text_parse_interface_version(value);

        if (!db)
                fprintf(stderr, "seccsim %s: invalid interface version '%s' (allowed: 2, 3)\n", who,
                        value ? value : "");
        return db;
}

int seccsim_encode_main(int argc, char **argv)
{
        const struct codec_db *db = &codec_db_v2_7;
        const char *message = NULL;
        const struct codec_msg_info *m = NULL;
        const char *signals[64];
        bool given[CODEC_MAX_SIGNALS] = { false };
        struct codec_frame f;
        char line[FRAME_TEXT_LINE_MAX];
        size_t n_signals = 0;
        bool list = false, options_done = false;
        int pistol = 1;

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *value;

                if (!options_done && a[0] == '-') {
                        if (strcmp(a, "--") == 0) {
                                options_done = true;
                        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                                encode_usage(stdout);
                                return 0;
                        } else if (strcmp(a, "-l") == 0 || strcmp(a, "--list") == 0) {
                                list = true;
                        } else if (match_option(argc, argv, &i, "--pistol", "-p", &value)) {
                                pistol = parse_pistol(value);
                                if (pistol < 0) {
                                        fprintf(stderr, "seccsim encode: invalid pistol '%s' (allowed: %d .. %d)\n",
                                                value ? value : "", CODEC_PISTOL_MIN, CODEC_PISTOL_MAX);
                                        return EXIT_USAGE;
                                }
                        } else if (match_option(argc, argv, &i, "--interface-version", NULL, &value)) {
                                db = parse_version_option("encode", value);
                                if (!db)
                                        return EXIT_USAGE;
                        } else {
                                fprintf(stderr, "seccsim encode: unknown option '%s'\n", a);
                                encode_usage(stderr);
                                return EXIT_USAGE;
                        }
                        continue;
                }
                /* Looked up once every option is read: the database may
                 * come after the message. */
                if (!message) {
                        message = a;
                        continue;
                }
                /* "pistol=N" lets a decode line be fed back to encode as is. */
                if (strncmp(a, "pistol=", 7) == 0) {
                        pistol = parse_pistol(a + 7);
                        if (pistol < 0) {
                                fprintf(stderr, "seccsim encode: invalid pistol '%s' (allowed: %d .. %d)\n",
                                        a + 7, CODEC_PISTOL_MIN, CODEC_PISTOL_MAX);
                                return EXIT_USAGE;
                        }
                        continue;
                }
                if (n_signals == sizeof(signals) / sizeof(signals[0])) {
                        fprintf(stderr, "seccsim encode: too many arguments\n");
                        return EXIT_USAGE;
                }
                signals[n_signals++] = a;
        }

        if (message) {
                m = codec_msg_info_by_name(db, message);
                if (!m) {
                        fprintf(stderr, "seccsim encode: unknown message '%s' in database %s (see 'seccsim encode%s --list')\n",
                                message, db->name, db == &codec_db_v2_7 ? "" : " --interface-version 3");
                        return EXIT_USAGE;
                }
        }
        if (list) {
                if (n_signals > 0) {
                        fprintf(stderr, "seccsim encode: --list takes at most one MESSAGE\n");
                        return EXIT_USAGE;
                }
                if (m)
                        list_signals(stdout, m);
                else
                        list_messages(stdout, db);
                return 0;
        }
        if (!m) {
                fprintf(stderr, "seccsim encode: missing MESSAGE\n");
                encode_usage(stderr);
                return EXIT_USAGE;
        }

        memset(&f, 0, sizeof(f));
        f.id = codec_frame_id(db, m->type, (uint8_t)pistol);
        f.extended = true;
        f.len = m->dlc;
        for (size_t i = 0; i < n_signals; i++)
                if (encode_signal(m, signals[i], f.data, given) < 0)
                        return EXIT_USAGE;

        frame_text_format(&f, line, sizeof(line));
        puts(line);
        return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- decode ---- */

static void decode_usage(FILE *out)
{
        fputs("Usage: seccsim decode [--interface-version 2|3] [--pistol N] [-i IFACE]\n"
              "\n"
              "Decode frames of database v2.7 (or v3.6 with --interface-version 3):\n"
              "one output line per non-blank input line, flushed at once.\n"
              "Input (stdin): candump -L lines '(1700000000.000000) vcan0 01068009#07',\n"
              "bare cansend frames '01068009#07', or candump's default format.\n"
              "Output: 'MESSAGE pistol=N SIGNAL=VALUE ...', or 'unknown ID#DATA',\n"
              "'foreign ID#DATA', 'malformed MESSAGE ID#DATA', 'invalid LINE'.\n"
              "\n"
              "  -p, --pistol N   decode only pistol N (1..31); other pistols are\n"
              "                   reported as foreign.  Default: any pistol\n"
              "  -i IFACE         decode live traffic of a CAN interface instead\n"
              "      --interface-version 2|3\n"
              "                   the interface version: 2 (database v2.7, the default)\n"
              "                   or 3 (database v3.6); frames of the other one are unknown\n"
              "  -h, --help       this text\n", out);
}

static void trim(char *s)
{
        size_t n = strlen(s);
        size_t start = 0;

        while (n > 0 && isspace((unsigned char)s[n - 1]))
                s[--n] = '\0';
        while (isspace((unsigned char)s[start]))
                start++;
        if (start > 0)
                memmove(s, s + start, n - start + 1);
}

static int decode_stream(const struct codec_db *db, FILE *in, int pistol_filter)
{
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;

        while ((n = getline(&line, &cap, in)) != -1) {
                struct codec_frame f;
                char text[FRAME_TEXT_LINE_MAX];
                bool has_nul = false;

                /* A NUL byte would silently cut the line short: make it
                 * visible and call the line invalid. */
                for (ssize_t i = 0; i < n; i++) {
                        if (line[i] == '\0') {
                                line[i] = '?';
                                has_nul = true;
                        }
                }
                trim(line);
                if (line[0] == '\0')
                        continue;
                if (has_nul || frame_text_parse(line, &f) < 0) {
                        printf("invalid %s\n", line);
                } else {
                        frame_text_describe_filtered(db, &f, pistol_filter, text, sizeof(text));
                        puts(text);
                }
                /* Used in pipes (candump | seccsim decode | grep): one line
                 * in, one line out, now. */
                fflush(stdout);
        }
        free(line);
        return 0;
}

int seccsim_decode_main(int argc, char **argv)
{
        const struct codec_db *db = &codec_db_v2_7;
        const char *ifname = NULL;
        int pistol_filter = 0;

        for (int i = 1; i < argc; i++) {
                const char *value;

                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
                        decode_usage(stdout);
                        return 0;
                }
                if (match_option(argc, argv, &i, "--pistol", "-p", &value)) {
                        pistol_filter = parse_pistol(value);
                        if (pistol_filter < 0) {
                                fprintf(stderr, "seccsim decode: invalid pistol '%s' (allowed: %d .. %d)\n",
                                        value ? value : "", CODEC_PISTOL_MIN, CODEC_PISTOL_MAX);
                                return EXIT_USAGE;
                        }
                        continue;
                }
                if (match_option(argc, argv, &i, "--interface-version", NULL, &value)) {
                        db = parse_version_option("decode", value);
                        if (!db)
                                return EXIT_USAGE;
                        continue;
                }
                if (match_option(argc, argv, &i, "--interface", "-i", &value)) {
                        if (!value || *value == '\0') {
                                fprintf(stderr, "seccsim decode: -i needs an interface name\n");
                                return EXIT_USAGE;
                        }
                        ifname = value;
                        continue;
                }
                fprintf(stderr, "seccsim decode: unexpected argument '%s'\n", argv[i]);
                decode_usage(stderr);
                return EXIT_USAGE;
        }

        if (ifname)
                return seccsim_decode_live(db, ifname, pistol_filter);
        return decode_stream(db, stdin, pistol_filter);
}
