/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the Modbus register-map (profile) parser on arbitrary text.
 * Checks: no crash; a refusal carries a message; an accepted profile has read
 * plans within their limits (blocks within the protocol's register and bit
 * limits, every planned point inside its block), and every point of it
 * encodes and decodes (finite values, or a refusal) with and without known
 * capabilities.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modbus_profile.h"

static void fail(const char *what, const uint8_t *data, size_t size)
{
        fprintf(stderr, "profile: %s\n--- input\n%.*s\n---\n", what, (int)size, (const char *)data);
        abort();
}

static void check_plan(const struct modbus_profile *p, bool caps, const uint8_t *data, size_t size)
{
        struct modbus_plan plan;

        if (modbus_plan_build(p, caps, &plan) != 0)
                fail("an accepted profile has no read plan", data, size);
        if (plan.n_blocks > MODBUS_PROFILE_MAX_BLOCKS)
                fail("more blocks than allowed", data, size);
        for (size_t b = 0; b < plan.n_blocks; b++) {
                const struct modbus_block *bl = &plan.blocks[b];
                unsigned max = bl->area == MODBUS_AREA_COIL || bl->area == MODBUS_AREA_DISCRETE
                                       ? MODBUS_PROFILE_MAX_BITS : MODBUS_PROFILE_MAX_REGISTERS;

                if (bl->count == 0 || bl->count > max || (uint32_t)bl->start + bl->count > 65536)
                        fail("a read block is empty, too long or past the address space", data, size);
        }
        for (int id = 0; id < MODBUS_POINT_COUNT; id++) {
                const struct modbus_point *pt = &p->points[id];

                if (plan.block_of[id] < 0)
                        continue;
                if ((size_t)plan.block_of[id] >= plan.n_blocks)
                        fail("a point planned in a block that does not exist", data, size);
                if (plan.offset_of[id] + modbus_pack_words(pt->type) > plan.blocks[plan.block_of[id]].count)
                        fail("a point reaches past the end of its block", data, size);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct modbus_profile p;
        char err[512] = "";
        FILE *f;
        int r;

        if (size == 0)
                return 0;
        f = fmemopen((void *)data, size, "r");
        if (!f)
                return 0;
        r = modbus_profile_load_stream(f, "fuzz-profile.conf", &p, err, sizeof(err));
        fclose(f);
        if (r < 0) {
                if (!err[0])
                        fail("refused without a message", data, size);
                return 0;
        }
        check_plan(&p, false, data, size);
        check_plan(&p, true, data, size);
        (void)modbus_profile_check_role(&p, MODBUS_ROLE_CONVERTER, err, sizeof(err));
        (void)modbus_profile_check_role(&p, MODBUS_ROLE_MONITOR, err, sizeof(err));

        for (int pass = 0; pass < 2; pass++) {
                struct modbus_caps caps;

                modbus_caps_from_profile(&p, &caps);
                if (pass == 1)
                        for (int k = 0; k < 3; k++) {
                                caps.known[k] = true;
                                caps.value[k] = 1000.0 * (k + 1);
                        }
                for (int id = 0; id < MODBUS_POINT_COUNT; id++) {
                        const struct modbus_point *pt = &p.points[id];
                        static const double values[] = { 0.0, 1.5, -3.0, 400.0, 1e9, -1e9 };
                        uint16_t regs[2];
                        double back;

                        if (!pt->present)
                                continue;
                        for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
                                r = modbus_point_encode(pt, values[v], &caps, regs);
                                if (r < 0)
                                        continue;
                                if (modbus_point_decode(pt, regs, &caps, &back) == 0 && !isfinite(back))
                                        fail("a decoded value is not finite", data, size);
                        }
                }
        }
        return 0;
}
