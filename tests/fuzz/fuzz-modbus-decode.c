/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: decoding Modbus responses as the worker does, with the
 * register maps shipped in conf/profiles/ (loaded once; the directory comes
 * from SECCBRIDGE_PROFILE_DIR or the build).  Input: a profile selector, the
 * capabilities (known or not, values), then register words filling every
 * read block of the profile's cycle plan in order.  Every planned point is
 * decoded from its place in its block: values are finite or refused, fault
 * and status words give flags and bit names without overrunning the name
 * buffer.  Also every number type and word order on the raw words.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modbus_profile.h"

#ifndef PROFILE_DIR
#define PROFILE_DIR "conf/profiles"
#endif

#define MAX_PROFILES 32

static struct modbus_profile profiles[MAX_PROFILES];
static struct modbus_plan plans[MAX_PROFILES][2];
static size_t n_profiles;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *dir = getenv("SECCBRIDGE_PROFILE_DIR");
        struct dirent *e;
        DIR *d;

        (void)argc;
        (void)argv;
        if (!dir)
                dir = PROFILE_DIR;
        d = opendir(dir);
        if (!d) {
                fprintf(stderr, "fuzz-modbus-decode: cannot open %s\n", dir);
                exit(1);
        }
        while ((e = readdir(d)) && n_profiles < MAX_PROFILES) {
                char path[512], err[512];
                size_t len = strlen(e->d_name);

                if (len < 6 || strcmp(e->d_name + len - 5, ".conf") != 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                if (modbus_profile_load(path, &profiles[n_profiles], err, sizeof(err)) != 0) {
                        fprintf(stderr, "fuzz-modbus-decode: %s\n", err);
                        exit(1);
                }
                if (modbus_plan_build(&profiles[n_profiles], false, &plans[n_profiles][0]) != 0 ||
                    modbus_plan_build(&profiles[n_profiles], true, &plans[n_profiles][1]) != 0) {
                        fprintf(stderr, "fuzz-modbus-decode: %s: no plan\n", path);
                        exit(1);
                }
                n_profiles++;
        }
        closedir(d);
        if (n_profiles == 0) {
                fprintf(stderr, "fuzz-modbus-decode: no profile in %s\n", dir);
                exit(1);
        }
        return 0;
}

static void fail(const char *what, const struct modbus_profile *p, int id)
{
        fprintf(stderr, "modbus decode: %s (profile %s, point %s)\n", what, p->name,
                id >= 0 ? modbus_point_name((enum modbus_point_id)id) : "-");
        abort();
}

static uint16_t word(const uint8_t **d, size_t *n)
{
        uint16_t w;

        if (*n < 2) {
                *n = 0;
                return 0;
        }
        w = (uint16_t)((*d)[0] << 8 | (*d)[1]);
        *d += 2;
        *n -= 2;
        return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const struct modbus_profile *p;
        const struct modbus_plan *plan;
        struct modbus_caps caps;
        uint16_t buf[MODBUS_PROFILE_MAX_BITS];
        size_t n = size;
        uint8_t sel;

        if (size < 2)
                return 0;
        sel = data[0];
        data++;
        n--;
        p = &profiles[sel % n_profiles];
        plan = &plans[sel % n_profiles][(sel >> 7) & 1];

        modbus_caps_from_profile(p, &caps);
        for (int k = 0; k < 3 && n > 0; k++) {
                if (data[0] & 1) {
                        double div = 1 + (data[0] >> 4);

                        data++;
                        n--;
                        caps.known[k] = true;
                        caps.value[k] = (double)word(&data, &n) / div;
                } else {
                        data++;
                        n--;
                }
        }

        for (size_t b = 0; b < plan->n_blocks; b++) {
                const struct modbus_block *bl = &plan->blocks[b];
                bool bits = bl->area == MODBUS_AREA_COIL || bl->area == MODBUS_AREA_DISCRETE;

                for (unsigned i = 0; i < bl->count; i++)
                        buf[i] = bits ? (uint16_t)(word(&data, &n) & 1) : word(&data, &n);
                for (int id = 0; id < MODBUS_POINT_COUNT; id++) {
                        const struct modbus_point *pt = &p->points[id];
                        uint16_t raw[2];
                        double v;
                        int r;

                        if (plan->block_of[id] != (int)b)
                                continue;
                        if (plan->offset_of[id] + modbus_pack_words(pt->type) > bl->count)
                                fail("point past its block", p, id);
                        memcpy(raw, &buf[plan->offset_of[id]], modbus_pack_words(pt->type) * sizeof(uint16_t));
                        if (id == MODBUS_POINT_FAULT_WORD || id == MODBUS_POINT_STATUS_WORD) {
                                uint32_t bitsv = modbus_point_raw(pt, raw);
                                char names[96];

                                for (int fl = 0; fl < MODBUS_FLAG_COUNT; fl++)
                                        (void)modbus_flag_active(&pt->flags[fl], bitsv);
                                modbus_profile_bit_names(p, id == MODBUS_POINT_FAULT_WORD ? 0 : 1, bitsv, names,
                                                         sizeof(names));
                                if (!memchr(names, '\0', sizeof(names)))
                                        fail("bit names not terminated", p, id);
                                continue;
                        }
                        if (id == MODBUS_POINT_OUTPUT_ENABLE)
                                continue;
                        r = modbus_point_decode(pt, raw, &caps, &v);
                        if (r == 0 && !isfinite(v))
                                fail("decoded a value that is not finite", p, id);
                }
        }

        /* Every type and word order on the next two words. */
        {
                uint16_t regs[2];
                double v;

                regs[0] = word(&data, &n);
                regs[1] = word(&data, &n);
                for (int t = MODBUS_TYPE_U16; t <= MODBUS_TYPE_F32; t++)
                        for (int o = MODBUS_WORDS_BIG; o <= MODBUS_WORDS_LITTLE; o++)
                                if (modbus_pack_decode((enum modbus_type)t, (enum modbus_word_order)o, regs, &v) == 0 &&
                                    !isfinite(v))
                                        fail("pack decode gave a value that is not finite", p, -1);
        }
        return 0;
}
