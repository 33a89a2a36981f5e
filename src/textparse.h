/* SPDX-License-Identifier: MIT */
/*
 * Strict parsing of configuration words, shared by the config file, the
 * Modbus profiles and the sim converter's parameters and control FIFO:
 * the whole word must be the value, nothing else.
 */
#ifndef SECCBRIDGE_TEXTPARSE_H
#define SECCBRIDGE_TEXTPARSE_H

#include <errno.h>
#include <float.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* true/yes/on/1 and false/no/off/0, any case.  0 or -EINVAL. */
static inline int textparse_bool(const char *s, bool *out)
{
        static const char *const yes[] = { "true", "yes", "on", "1" };
        static const char *const no[] = { "false", "no", "off", "0" };

        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *out = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *out = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* A finite decimal number (sign, fraction, exponent), the whole word; no
 * hex, no inf/nan spellings.  0 or -EINVAL. */
static inline int textparse_double(const char *s, double *out)
{
        char *end;
        double v;

        for (const char *c = s; *c; c++)
                if (!strchr("0123456789+-.eE", *c))
                        return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (end == s || *end != '\0' || errno == ERANGE)
                return -EINVAL;
        if (!(v >= -DBL_MAX && v <= DBL_MAX))
                return -EINVAL;
        *out = v;
        return 0;
}

#endif
