/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modbus.h>

#include "modbus_io.h"

struct modbus_io {
        modbus_t *ctx;
        pthread_t owner;        /* the worker thread that made it */
        pthread_t loop_thread;  /* must never call in */
        bool rs485;
        bool connected;
};

/* The thread rule, checked on every call in builds with assertions.  Not
 * an assert(): the message says which rule was broken and where. */
#ifndef NDEBUG
static void modbus_io_check_thread(const struct modbus_io *io, const char *call)
{
        pthread_t self = pthread_self();

        if (pthread_equal(self, io->loop_thread)) {
                fprintf(stderr, "modbus: %s called on the loop thread\n", call);
                abort();
        }
        if (!pthread_equal(self, io->owner)) {
                fprintf(stderr, "modbus: %s called from a thread that does not own the context\n", call);
                abort();
        }
}
#define MODBUS_IO_CHECK(io) modbus_io_check_thread(io, __func__)
#else
#define MODBUS_IO_CHECK(io) ((void)(io))
#endif

static int modbus_io_errno(void)
{
        return errno > 0 ? -errno : -EIO;
}

static void modbus_io_ms(uint32_t ms, uint32_t *sec, uint32_t *usec)
{
        *sec = ms / 1000;
        *usec = (ms % 1000) * 1000;
}

int modbus_io_new(const struct modbus_params *p, pthread_t loop_thread, struct modbus_io **out)
{
        struct modbus_io *io;
        char port[8];
        uint32_t s, us;
        int r;

        io = calloc(1, sizeof(*io));
        if (!io)
                return -ENOMEM;
        io->owner = pthread_self();
        io->loop_thread = loop_thread;
        io->rs485 = p->rs485;
        MODBUS_IO_CHECK(io);

        if (p->transport == MODBUS_TRANSPORT_RTU) {
                io->ctx = modbus_new_rtu(p->device, (int)p->baudrate, p->parity, p->data_bits, p->stop_bits);
        } else {
                snprintf(port, sizeof(port), "%u", p->port);
                io->ctx = modbus_new_tcp_pi(p->host, port);
        }
        if (!io->ctx) {
                r = modbus_io_errno();
                free(io);
                return r;
        }
        /* Never LINK recovery: in 3.1.6 it can sleep and retry for ever. */
        if (modbus_set_error_recovery(io->ctx, MODBUS_ERROR_RECOVERY_NONE) < 0)
                goto fail;
        modbus_io_ms(p->response_timeout_ms, &s, &us);
        if (modbus_set_response_timeout(io->ctx, s, us) < 0)
                goto fail;
        modbus_io_ms(p->byte_timeout_ms, &s, &us);
        /* 0 s 0 us: no byte timeout, the response timeout alone. */
        if (modbus_set_byte_timeout(io->ctx, s, us) < 0)
                goto fail;
        if (modbus_set_slave(io->ctx, p->unit_id) < 0)
                goto fail;
        *out = io;
        return 0;

fail:
        r = modbus_io_errno();
        modbus_free(io->ctx);
        free(io);
        return r;
}

void modbus_io_free(struct modbus_io *io)
{
        if (!io)
                return;
        MODBUS_IO_CHECK(io);
        if (io->connected)
                modbus_close(io->ctx);
        modbus_free(io->ctx);
        free(io);
}

int modbus_io_connect(struct modbus_io *io, const char **what)
{
        int r;

        MODBUS_IO_CHECK(io);
        if (io->connected) {
                modbus_close(io->ctx);
                io->connected = false;
        }
        if (modbus_connect(io->ctx) < 0) {
                *what = "connect";
                return modbus_io_errno();
        }
        io->connected = true;
        if (io->rs485 && modbus_rtu_set_serial_mode(io->ctx, MODBUS_RTU_RS485) < 0) {
                r = modbus_io_errno();
                *what = "kernel RS-485 mode (TIOCSRS485)";
                modbus_close(io->ctx);
                io->connected = false;
                return r;
        }
        return 0;
}

void modbus_io_close(struct modbus_io *io)
{
        MODBUS_IO_CHECK(io);
        if (!io->connected)
                return;
        modbus_close(io->ctx);
        io->connected = false;
}

int modbus_io_set_unit(struct modbus_io *io, uint8_t unit_id)
{
        MODBUS_IO_CHECK(io);
        if (modbus_set_slave(io->ctx, unit_id) < 0)
                return modbus_io_errno();
        return 0;
}

int modbus_io_read(struct modbus_io *io, enum modbus_area area, uint16_t address, uint16_t count,
                   uint16_t *dst)
{
        uint8_t bits[MODBUS_MAX_READ_BITS];
        int n = -1;

        MODBUS_IO_CHECK(io);
        if (count == 0 || count > (area == MODBUS_AREA_COIL || area == MODBUS_AREA_DISCRETE
                                           ? MODBUS_MAX_READ_BITS : MODBUS_MAX_READ_REGISTERS))
                return -EINVAL;
        switch (area) {
        case MODBUS_AREA_COIL:
                n = modbus_read_bits(io->ctx, address, count, bits);
                break;
        case MODBUS_AREA_DISCRETE:
                n = modbus_read_input_bits(io->ctx, address, count, bits);
                break;
        case MODBUS_AREA_INPUT:
                n = modbus_read_input_registers(io->ctx, address, count, dst);
                break;
        case MODBUS_AREA_HOLDING:
                n = modbus_read_registers(io->ctx, address, count, dst);
                break;
        }
        if (n < 0)
                return modbus_io_errno();
        if (n != count)
                return -EMBMDATA;
        if (area == MODBUS_AREA_COIL || area == MODBUS_AREA_DISCRETE)
                for (uint16_t i = 0; i < count; i++)
                        dst[i] = bits[i] ? 1 : 0;
        return n;
}

int modbus_io_write(struct modbus_io *io, uint8_t function, uint16_t address, uint16_t count,
                    const uint16_t *values)
{
        uint8_t bits[MODBUS_MAX_WRITE_BITS];
        int n = -1;

        MODBUS_IO_CHECK(io);
        if (count == 0 || count > MODBUS_MAX_WRITE_REGISTERS)
                return -EINVAL;
        switch (function) {
        case 5:
                n = modbus_write_bit(io->ctx, address, values[0] ? TRUE : FALSE);
                break;
        case 6:
                n = modbus_write_register(io->ctx, address, values[0]);
                break;
        case 15:
                for (uint16_t i = 0; i < count; i++)
                        bits[i] = values[i] ? 1 : 0;
                n = modbus_write_bits(io->ctx, address, count, bits);
                break;
        case 16:
                n = modbus_write_registers(io->ctx, address, count, values);
                break;
        default:
                return -EINVAL;
        }
        if (n < 0)
                return modbus_io_errno();
        return 0;
}

int modbus_io_flush(struct modbus_io *io)
{
        MODBUS_IO_CHECK(io);
        if (!io->connected)
                return 0;
        if (modbus_flush(io->ctx) < 0)
                return modbus_io_errno();
        return 0;
}

bool modbus_io_error_is_exception(int err)
{
        int e = -err;

        return e >= EMBXILFUN && e <= EMBXGTAR;
}

bool modbus_io_error_is_timeout(int err)
{
        return err == -ETIMEDOUT;
}

bool modbus_io_error_is_garbled(int err)
{
        int e = -err;

        return e == EMBBADCRC || e == EMBBADDATA || e == EMBBADEXC || e == EMBUNKEXC || e == EMBMDATA ||
               e == EMBBADSLAVE;
}

const char *modbus_io_strerror(int err)
{
        /* Pure text lookup, no context: safe on any thread. */
        return modbus_strerror(-err);
}
