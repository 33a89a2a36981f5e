/* SPDX-License-Identifier: MIT */
/*
 * Numbers in Modbus registers: 16-bit and 32-bit integers and IEEE 754
 * single floats over one or two registers, in either word order.  Our own
 * packing: the float helpers of libmodbus 3.1.6 swap bytes, and a profile
 * must be able to say which word comes first.
 *
 * Pure: no I/O, no libmodbus.
 */
#ifndef SECCBRIDGE_MODBUS_PACK_H
#define SECCBRIDGE_MODBUS_PACK_H

#include <stdbool.h>
#include <stdint.h>

enum modbus_type {
        MODBUS_TYPE_U16,
        MODBUS_TYPE_S16,
        MODBUS_TYPE_U32,
        MODBUS_TYPE_S32,
        MODBUS_TYPE_F32,
};

enum modbus_word_order {
        MODBUS_WORDS_BIG,       /* most significant word at the lower address */
        MODBUS_WORDS_LITTLE,    /* least significant word first */
};

/* Registers the type takes: 1 or 2. */
unsigned modbus_pack_words(enum modbus_type type);

/* "u16", "s16", "u32", "s32", "f32". */
const char *modbus_pack_type_name(enum modbus_type type);

/* The raw 32-bit pattern of modbus_pack_words(type) registers. */
uint32_t modbus_pack_raw(enum modbus_type type, enum modbus_word_order order, const uint16_t *regs);

/* Registers to a number.  0, or -EDOM for a float that is NaN or infinite
 * (*out untouched). */
int modbus_pack_decode(enum modbus_type type, enum modbus_word_order order, const uint16_t *regs,
                       double *out);

/* A number to registers: integers rounded to nearest and clamped to the
 * type's range.  0, 1 when the value had to be clamped (regs written with
 * the nearest representable value), or -EDOM for NaN (regs untouched). */
int modbus_pack_encode(enum modbus_type type, enum modbus_word_order order, double value,
                       uint16_t *regs);

#endif
