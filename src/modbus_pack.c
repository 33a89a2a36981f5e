/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "modbus_pack.h"

unsigned modbus_pack_words(enum modbus_type type)
{
        switch (type) {
        case MODBUS_TYPE_U16:
        case MODBUS_TYPE_S16:
                return 1;
        case MODBUS_TYPE_U32:
        case MODBUS_TYPE_S32:
        case MODBUS_TYPE_F32:
                return 2;
        }
        return 1;
}

const char *modbus_pack_type_name(enum modbus_type type)
{
        switch (type) {
        case MODBUS_TYPE_U16:
                return "u16";
        case MODBUS_TYPE_S16:
                return "s16";
        case MODBUS_TYPE_U32:
                return "u32";
        case MODBUS_TYPE_S32:
                return "s32";
        case MODBUS_TYPE_F32:
                return "f32";
        }
        return "?";
}

uint32_t modbus_pack_raw(enum modbus_type type, enum modbus_word_order order, const uint16_t *regs)
{
        if (modbus_pack_words(type) == 1)
                return regs[0];
        if (order == MODBUS_WORDS_BIG)
                return (uint32_t)regs[0] << 16 | regs[1];
        return (uint32_t)regs[1] << 16 | regs[0];
}

static void modbus_pack_put32(enum modbus_word_order order, uint32_t v, uint16_t *regs)
{
        uint16_t hi = (uint16_t)(v >> 16), lo = (uint16_t)(v & 0xffff);

        if (order == MODBUS_WORDS_BIG) {
                regs[0] = hi;
                regs[1] = lo;
        } else {
                regs[0] = lo;
                regs[1] = hi;
        }
}

int modbus_pack_decode(enum modbus_type type, enum modbus_word_order order, const uint16_t *regs,
                       double *out)
{
        uint32_t raw = modbus_pack_raw(type, order, regs);
        float f;

        switch (type) {
        case MODBUS_TYPE_U16:
                *out = (double)raw;
                return 0;
        case MODBUS_TYPE_S16:
                *out = (double)(int16_t)(uint16_t)raw;
                return 0;
        case MODBUS_TYPE_U32:
                *out = (double)raw;
                return 0;
        case MODBUS_TYPE_S32:
                *out = (double)(int32_t)raw;
                return 0;
        case MODBUS_TYPE_F32:
                /* IEEE 754 binary32 in the host's float: same bit layout
                 * on every platform we build for. */
                memcpy(&f, &raw, sizeof(f));
                if (!isfinite(f))
                        return -EDOM;
                *out = (double)f;
                return 0;
        }
        return -EDOM;
}

static int modbus_pack_clamp(double *v, double lo, double hi)
{
        if (*v < lo) {
                *v = lo;
                return 1;
        }
        if (*v > hi) {
                *v = hi;
                return 1;
        }
        return 0;
}

int modbus_pack_encode(enum modbus_type type, enum modbus_word_order order, double value,
                       uint16_t *regs)
{
        int clamped = 0;
        uint32_t raw;
        float f;

        if (isnan(value))
                return -EDOM;
        if (type != MODBUS_TYPE_F32)
                value = nearbyint(value);
        switch (type) {
        case MODBUS_TYPE_U16:
                clamped = modbus_pack_clamp(&value, 0, UINT16_MAX);
                regs[0] = (uint16_t)value;
                return clamped;
        case MODBUS_TYPE_S16:
                clamped = modbus_pack_clamp(&value, INT16_MIN, INT16_MAX);
                regs[0] = (uint16_t)(int16_t)value;
                return clamped;
        case MODBUS_TYPE_U32:
                clamped = modbus_pack_clamp(&value, 0, UINT32_MAX);
                modbus_pack_put32(order, (uint32_t)value, regs);
                return clamped;
        case MODBUS_TYPE_S32:
                clamped = modbus_pack_clamp(&value, INT32_MIN, INT32_MAX);
                modbus_pack_put32(order, (uint32_t)(int32_t)value, regs);
                return clamped;
        case MODBUS_TYPE_F32:
                clamped = modbus_pack_clamp(&value, -FLT_MAX, FLT_MAX);
                f = (float)value;
                memcpy(&raw, &f, sizeof(raw));
                modbus_pack_put32(order, raw, regs);
                return clamped;
        }
        return -EDOM;
}
