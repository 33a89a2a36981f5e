/* SPDX-License-Identifier: MIT */
/*
 * seccbridgectl's view of the daemon's properties (interface
 * org.seccbridge.Bridge1): a list of named values as GetAll or
 * PropertiesChanged deliver them, and how they are printed for a person
 * (status screen, watch lines) and for a script (JSON).
 *
 * No D-Bus here: the reading is in seccbridgectl.c, so that the printing can
 * be tested on its own.
 */
#ifndef SECCBRIDGECTL_PROPS_H
#define SECCBRIDGECTL_PROPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CTL_PROPS_MAX 192
#define CTL_NAME_MAX 48
#define CTL_TEXT_MAX 256

/* The values the daemon uses for "not measured". */
#define CTL_TEMPERATURE_UNKNOWN (-32768)
#define CTL_INSULATION_UNKNOWN 65535

enum ctl_type {
        CTL_BOOL,
        CTL_DOUBLE,
        CTL_STRING,
        CTL_UNSIGNED,   /* y q u t */
        CTL_SIGNED,     /* n i x */
};

struct ctl_value {
        char name[CTL_NAME_MAX];
        enum ctl_type type;
        bool b;
        double d;
        uint64_t u;
        int64_t i;
        char s[CTL_TEXT_MAX];
};

struct ctl_props {
        struct ctl_value v[CTL_PROPS_MAX];
        size_t n;
};

/* NULL when the list has no such property. */
const struct ctl_value *ctl_props_find(const struct ctl_props *p, const char *name);

/* Add a value, or replace the one of the same name.  0, or -ENOSPC. */
int ctl_props_set(struct ctl_props *p, const struct ctl_value *v);

/* true when both hold the same type and value. */
bool ctl_props_equal(const struct ctl_value *a, const struct ctl_value *b);

/* A value as a person reads it: "yes"/"no", "450.0" (V, A), "50000" (W),
 * "n/a" for a temperature or insulation that is not measured. */
void ctl_props_text(const struct ctl_value *v, char *buf, size_t len);

/* A value as JSON (null for "not measured"). */
void ctl_props_json_value(FILE *out, const struct ctl_value *v);

/* A JSON string literal, with the escapes JSON requires. */
void ctl_props_json_string(FILE *out, const char *s);

/* The status screen: what matters, one topic a line. */
void ctl_props_print_status(FILE *out, const char *bus_name, const struct ctl_props *p);

/* Every property as one JSON object, in the order received. */
void ctl_props_print_json(FILE *out, const struct ctl_props *p);

/* watch: one line per changed property, "TIME Name=value". */
void ctl_props_print_change(FILE *out, const char *time, const struct ctl_value *v);

#endif
