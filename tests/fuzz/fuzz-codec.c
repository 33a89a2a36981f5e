/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the codec on arbitrary frames, with both databases (v2.7 and
 * v3.6) on every input.  Input: pistol (1 byte), ID (4 bytes, little endian;
 * bit 31 = extended), length (1 byte), up to 8 data bytes.  Checks: decode
 * never crashes and answers 0, -ENOMSG or -EBADMSG; -EBADMSG only for one of
 * the database's IDs shorter than its message; whatever decodes encodes back
 * to a frame that decodes to the same message, and encoding is idempotent
 * (the second frame equals the first); the descriptive layer agrees with the
 * typed one on every signal's raw value; no identifier belongs to both
 * databases, so no frame decodes in both.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seccbridge/codec.h"

static void fail(const char *what, const struct codec_frame *f)
{
        fprintf(stderr, "codec: %s (id 0x%08x%s len %u)\n", what, f->id, f->extended ? " ext" : "",
                f->len);
        abort();
}

/* One database: 1 when the frame decoded, 0 when it did not. */
static int check_db(const struct codec_db *db, const struct codec_frame *fp, uint8_t pistol)
{
        struct codec_frame f = *fp, f2, f3;
        struct codec_message m, m2;
        const struct codec_msg_info *info;
        int r;

        r = codec_decode(db, &f, pistol, &m);
        if (pistol < CODEC_PISTOL_MIN || pistol > CODEC_PISTOL_MAX) {
                if (r != -EINVAL)
                        fail("a pistol outside 1..31 not refused", &f);
                return 0;
        }
        info = f.extended ? codec_msg_info_by_id(db, f.id) : NULL;
        if (r == -ENOMSG)
                return 0;
        if (r == -EBADMSG) {
                if (!info || f.len >= info->dlc)
                        fail("malformed reported for a frame that is not short", &f);
                return 0;
        }
        if (r != 0)
                fail("unexpected return code", &f);
        if (!info || (f.id >> CODEC_ID_PISTOL_SHIFT) != pistol || f.len < info->dlc)
                fail("decoded a frame that is not ours or too short", &f);
        if (m.type != info->type)
                fail("decoded type differs from the ID's message", &f);

        /* The descriptive layer reads the same raw values the typed one
         * encodes back (reserved bits aside, which encode as 0). */
        if (codec_encode(db, &m, pistol, &f2) != 0)
                fail("a decoded message does not encode", &f);
        if (f2.id != f.id || !f2.extended || f2.len != info->dlc)
                fail("encoded ID or length differs", &f);
        if (codec_decode(db, &f2, pistol, &m2) != 0)
                fail("an encoded frame does not decode", &f2);
        if (codec_encode(db, &m2, pistol, &f3) != 0 || memcmp(f3.data, f2.data, f2.len) != 0)
                fail("encode is not idempotent", &f2);
        for (size_t i = 0; i < info->n_signals; i++) {
                const struct codec_signal_info *sig = &info->signals[i];
                int64_t raw = codec_signal_get_raw(f2.data, sig);

                if (raw < codec_signal_raw_min(sig) || raw > codec_signal_raw_max(sig))
                        fail("raw value outside its signal's range", &f2);
                if (sig->reserved && raw != 0)
                        fail("reserved signal encoded non-zero", &f2);
                if (!sig->reserved && raw != codec_signal_get_raw(f.data, sig))
                        fail("a signal's raw value changed through decode + encode", &f2);
                (void)codec_signal_label(sig, raw);
        }
        return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct codec_frame f = { 0 };
        uint8_t pistol;
        uint32_t id;

        if (size < 6)
                return 0;
        pistol = data[0];
        id = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24;
        f.extended = (id & 0x80000000u) != 0;
        f.id = id & (f.extended ? CODEC_ID_EXT_MASK : 0x7FFu);
        f.len = (uint8_t)(data[5] % (CODEC_MAX_DLC + 1));
        memcpy(f.data, data + 6, size - 6 > CODEC_MAX_DLC ? CODEC_MAX_DLC : size - 6);

        if (check_db(&codec_db_v2_7, &f, pistol) + check_db(&codec_db_v3_6, &f, pistol) > 1)
                fail("a frame decodes in both databases", &f);
        return 0;
}
