/* SPDX-License-Identifier: MIT */
/* Conversion between SocketCAN frames and the core's frame type. */
#ifndef SECCBRIDGE_CANFRAME_H
#define SECCBRIDGE_CANFRAME_H

#include <errno.h>
#include <string.h>
#include <linux/can.h>

#include "seccbridge/codec.h"

/* 0, or -EINVAL for a frame the core cannot hold (RTR, error frame). */
static inline int canframe_to_codec(const struct can_frame *in, struct codec_frame *out)
{
        if (in->can_id & (CAN_RTR_FLAG | CAN_ERR_FLAG))
                return -EINVAL;
        out->extended = (in->can_id & CAN_EFF_FLAG) != 0;
        out->id = in->can_id & (out->extended ? CAN_EFF_MASK : CAN_SFF_MASK);
        out->len = in->len > CAN_MAX_DLEN ? CAN_MAX_DLEN : in->len;
        memset(out->data, 0, sizeof(out->data));
        memcpy(out->data, in->data, out->len);
        return 0;
}

static inline void canframe_from_codec(const struct codec_frame *in, struct can_frame *out)
{
        memset(out, 0, sizeof(*out));
        out->can_id = in->extended ? ((in->id & CAN_EFF_MASK) | CAN_EFF_FLAG)
                                   : (in->id & CAN_SFF_MASK);
        out->len = in->len > CAN_MAX_DLEN ? CAN_MAX_DLEN : in->len;
        memcpy(out->data, in->data, out->len);
}

#endif
