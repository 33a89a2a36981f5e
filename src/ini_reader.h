/* SPDX-License-Identifier: MIT */
/*
 * The line reader that the config file and the Modbus profiles give inih
 * (ini_parse_stream()).  The inih build we link against tells its handler no
 * line number and no section header without a key, so the reader does what
 * the parsers need around it:
 *  - counts lines, so that every error names one;
 *  - passes each section header "[name]" with its line to the caller (an
 *    unknown or empty section is an error too);
 *  - refuses what inih would silently mangle: a NUL byte (not a text file)
 *    and a line longer than inih's buffer (it would become two lines);
 *  - drops a UTF-8 byte-order mark at the start of the file;
 *  - stops the parse at the caller's first error (*stop set).
 */
#ifndef SECCBRIDGE_INI_READER_H
#define SECCBRIDGE_INI_READER_H

#include <stdbool.h>
#include <stdio.h>

struct ini_reader {
        FILE *file;
        unsigned line;                  /* the line inih is given, from 1 */
        const bool *stop;               /* the caller's error flag: no more lines once set */
        /* A section header on line `line`; the name is cut to 63 characters. */
        void (*section)(const char *name, unsigned line, void *userdata);
        /* A line inih must not see; the parse stops after it. */
        void (*error)(unsigned line, const char *reason, void *userdata);
        void *userdata;
};

/* The reader for ini_parse_stream(), with a struct ini_reader as its stream:
 * fgets() with the checks above.  NULL at the end, at a refused line and once
 * *stop is set. */
char *ini_reader_line(char *str, int num, void *stream);

#endif
