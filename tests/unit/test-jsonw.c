/* SPDX-License-Identifier: MIT */
/*
 * Text without stdio (textbuf.c) and the JSON writer on it (jsonw.c):
 * integers at their limits, fixed decimals of both signs, string escapes,
 * UTC times across leap days and centuries, nesting, and a buffer too small
 * at every length.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jsonw.h"
#include "textbuf.h"

static const char *fixed(int64_t v, unsigned decimals)
{
        static char buf[64];
        struct textbuf t;

        textbuf_init(&t, buf, sizeof(buf));
        textbuf_fixed(&t, v, decimals);
        assert_int_equal(textbuf_finish(&t), 0);
        return buf;
}

static const char *utc(uint64_t us)
{
        static char buf[64];
        struct textbuf t;

        textbuf_init(&t, buf, sizeof(buf));
        textbuf_utc(&t, us);
        assert_int_equal(textbuf_finish(&t), 0);
        return buf;
}

static void test_integers(void **state)
{
        char buf[64];
        struct textbuf t;

        (void)state;
        textbuf_init(&t, buf, sizeof(buf));
        textbuf_u64(&t, 0);
        textbuf_char(&t, ' ');
        textbuf_u64(&t, UINT64_MAX);
        textbuf_char(&t, ' ');
        textbuf_i64(&t, INT64_MIN);
        textbuf_char(&t, ' ');
        textbuf_i64(&t, -7);
        assert_int_equal(textbuf_finish(&t), 0);
        assert_string_equal(buf, "0 18446744073709551615 -9223372036854775808 -7");
        assert_int_equal(t.len, strlen(buf));
}

static void test_fixed_decimals(void **state)
{
        (void)state;
        assert_string_equal(fixed(4101, 1), "410.1");
        assert_string_equal(fixed(-4105, 1), "-410.5");
        assert_string_equal(fixed(5, 1), "0.5");
        assert_string_equal(fixed(-5, 1), "-0.5");
        assert_string_equal(fixed(0, 3), "0.000");
        assert_string_equal(fixed(1234567, 3), "1234.567");
        assert_string_equal(fixed(7, 3), "0.007");
        assert_string_equal(fixed(42, 0), "42");
        assert_string_equal(fixed(INT64_MIN, 2), "-92233720368547758.08");
        assert_string_equal(fixed(INT64_MAX, 9), "9223372036.854775807");
}

static void test_utc_times(void **state)
{
        (void)state;
        assert_string_equal(utc(0), "1970-01-01T00:00:00.000Z");
        /* 2000-02-29 (a leap day of a century divisible by 400) */
        assert_string_equal(utc(951782400ull * 1000000u + 123456u), "2000-02-29T00:00:00.123Z");
        assert_string_equal(utc(951868799ull * 1000000u + 999999u), "2000-02-29T23:59:59.999Z");
        /* 2100-03-01: 2100 is not a leap year */
        assert_string_equal(utc(4107542400ull * 1000000u), "2100-03-01T00:00:00.000Z");
        assert_string_equal(utc(4107456000ull * 1000000u), "2100-02-28T00:00:00.000Z");
        assert_string_equal(utc(1709296496ull * 1000000u + 789000u), "2024-03-01T12:34:56.789Z");
        assert_string_equal(utc(1735689599ull * 1000000u), "2024-12-31T23:59:59.000Z");
}

static void test_utc_matches_every_day_of_four_centuries(void **state)
{
        /* Walk day by day from 1970 and check the date by counting. */
        static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        unsigned y = 1970, m = 1, d = 1;

        (void)state;
        for (uint64_t day = 0; day < 146097u; day++) {
                char want[48];
                unsigned len = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));

                snprintf(want, sizeof(want), "%04u-%02u-%02uT00:00:00.000Z", y, m, d);
                assert_string_equal(utc(day * 86400u * 1000000u), want);
                if (++d > len) {
                        d = 1;
                        if (++m > 12) {
                                m = 1;
                                y++;
                        }
                }
        }
}

static void test_json_escapes(void **state)
{
        char buf[128];
        struct textbuf t;

        (void)state;
        textbuf_init(&t, buf, sizeof(buf));
        textbuf_json_string(&t, "a\"b\\c\nd\te\x01\x1f\x7f" "\xc3\xa9");
        assert_int_equal(textbuf_finish(&t), 0);
        assert_string_equal(buf, "\"a\\\"b\\\\c\\nd\\te\\u0001\\u001f\\u007f\xc3\xa9\"");
}

static void test_json_object(void **state)
{
        char buf[256];
        struct jsonw j;
        size_t len = 0;

        (void)state;
        jsonw_init(&j, buf, sizeof(buf));
        jsonw_str(&j, "type", "fault");
        jsonw_open(&j, "link");
        jsonw_bool(&j, "can_up", true);
        jsonw_null(&j, "error");
        jsonw_open(&j, "inner");
        jsonw_close(&j);
        jsonw_close(&j);
        jsonw_fixed(&j, "v", -12, 1);
        jsonw_i64(&j, "t", -40);
        jsonw_u64(&j, "n", 3);
        jsonw_str(&j, "none", NULL);
        jsonw_utc(&j, "time", 0);
        assert_int_equal(jsonw_finish(&j, &len), 0);
        assert_string_equal(buf, "{\"type\":\"fault\",\"link\":{\"can_up\":true,\"error\":null,\"inner\":{}},"
                                 "\"v\":-1.2,\"t\":-40,\"n\":3,\"none\":null,\"time\":\"1970-01-01T00:00:00.000Z\"}");
        assert_int_equal(len, strlen(buf));
}

static void test_json_misuse(void **state)
{
        char buf[64];
        struct jsonw j;
        size_t len;

        (void)state;
        jsonw_init(&j, buf, sizeof(buf));
        jsonw_close(&j);                /* nothing open */
        assert_int_equal(jsonw_finish(&j, &len), -EINVAL);

        jsonw_init(&j, buf, sizeof(buf));
        jsonw_open(&j, "a");            /* left open */
        assert_int_equal(jsonw_finish(&j, &len), -EINVAL);

        jsonw_init(&j, buf, sizeof(buf));
        for (int i = 0; i < JSONW_MAX_DEPTH + 1; i++)
                jsonw_open(&j, "deep");
        for (int i = 0; i < JSONW_MAX_DEPTH + 1; i++)
                jsonw_close(&j);
        assert_int_equal(jsonw_finish(&j, &len), -EINVAL);
}

/* Every buffer size from 1 byte to the full text: -ENOSPC until it fits,
 * always NUL-terminated, never written past its end. */
static void test_json_too_small_at_every_size(void **state)
{
        char full[128], buf[130];
        struct jsonw j;
        size_t len, full_len;

        (void)state;
        jsonw_init(&j, full, sizeof(full));
        jsonw_str(&j, "detail", "CAN interface vcan0 is down");
        jsonw_fixed(&j, "duration_s", 12345, 3);
        assert_int_equal(jsonw_finish(&j, &full_len), 0);

        for (size_t cap = 1; cap <= full_len + 1; cap++) {
                memset(buf, '#', sizeof(buf));
                jsonw_init(&j, buf, cap);
                jsonw_str(&j, "detail", "CAN interface vcan0 is down");
                jsonw_fixed(&j, "duration_s", 12345, 3);
                if (cap <= full_len) {
                        assert_int_equal(jsonw_finish(&j, &len), -ENOSPC);
                } else {
                        assert_int_equal(jsonw_finish(&j, &len), 0);
                        assert_string_equal(buf, full);
                }
                assert_true(memchr(buf, '\0', cap) != NULL);
                assert_int_equal(buf[cap], '#');
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_integers),
                cmocka_unit_test(test_fixed_decimals),
                cmocka_unit_test(test_utc_times),
                cmocka_unit_test(test_utc_matches_every_day_of_four_centuries),
                cmocka_unit_test(test_json_escapes),
                cmocka_unit_test(test_json_object),
                cmocka_unit_test(test_json_misuse),
                cmocka_unit_test(test_json_too_small_at_every_size),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
