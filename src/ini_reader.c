/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <string.h>

#include "ini_reader.h"

#define INI_READER_BOM "\xEF\xBB\xBF"

/* After fgets(str, ..., f) read the bytes from offset `before` (ftell()
 * before the call): true when they held a NUL byte, which fgets() passes on
 * but which ends the C string early.  false when the stream cannot tell its
 * position. */
static bool ini_reader_has_nul(FILE *f, long before, const char *str)
{
        long after = ftell(f);

        return before >= 0 && after >= before && (size_t)(after - before) != strlen(str);
}

static void ini_reader_header(struct ini_reader *r, const char *text)
{
        char name[64];
        const char *end;
        size_t len;

        while (isspace((unsigned char)*text))
                text++;
        if (*text != '[')
                return;
        end = strchr(text + 1, ']');
        if (!end)
                return;         /* inih reports the syntax error */
        len = (size_t)(end - (text + 1));
        if (len >= sizeof(name))
                len = sizeof(name) - 1;
        memcpy(name, text + 1, len);
        name[len] = '\0';
        r->section(name, r->line, r->userdata);
}

char *ini_reader_line(char *str, int num, void *stream)
{
        struct ini_reader *r = stream;
        char reason[64];
        long before;
        size_t len;

        if (*r->stop)
                return NULL;
        before = ftell(r->file);
        if (!fgets(str, num, r->file))
                return NULL;
        r->line++;
        if (ini_reader_has_nul(r->file, before, str)) {
                r->error(r->line, "NUL byte in the line (not a text file?)", r->userdata);
                return NULL;
        }
        len = strlen(str);
        if (len > 0 && str[len - 1] != '\n' && !feof(r->file)) {
                snprintf(reason, sizeof(reason), "line longer than %d characters", num - 2);
                r->error(r->line, reason, r->userdata);
                return NULL;
        }
        if (r->line == 1 && strncmp(str, INI_READER_BOM, 3) == 0)
                memmove(str, str + 3, len - 2);
        ini_reader_header(r, str);
        return *r->stop ? NULL : str;
}
