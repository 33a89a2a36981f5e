/* SPDX-License-Identifier: MIT */
/*
 * Packing, profile parsing and its error messages, read plans, value
 * conversion (percent of nominal included), and every shipped profile.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "modbus_pack.h"
#include "modbus_params.h"
#include "modbus_profile.h"

static char tmp_path[64];
static char err[512];

static int load_text(const char *text, struct modbus_profile *p)
{
        FILE *f;
        int fd;

        snprintf(tmp_path, sizeof(tmp_path), "/tmp/test-profile-XXXXXX");
        fd = mkstemp(tmp_path);
        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        fputs(text, f);
        fclose(f);
        err[0] = '\0';
        fd = modbus_profile_load(tmp_path, p, err, sizeof(err));
        unlink(tmp_path);
        return fd;
}

/* err ends with "LINE: KEY: REASON-PREFIX". */
static void assert_error(const char *text, unsigned line, const char *key)
{
        static struct modbus_profile p;
        char want[128];

        assert_int_equal(load_text(text, &p), -EINVAL);
        snprintf(want, sizeof(want), "%s:%u: %s", tmp_path, line, key);
        if (strncmp(err, want, strlen(want)) != 0)
                fail_msg("error '%s' does not start with '%s'", err, want);
}

static void test_pack(void **state)
{
        uint16_t r[2];
        double v;

        assert_int_equal(modbus_pack_encode(MODBUS_TYPE_F32, MODBUS_WORDS_BIG, 1000.0, r), 0);
        assert_int_equal(r[0], 0x447a);
        assert_int_equal(r[1], 0x0000);
        assert_int_equal(modbus_pack_encode(MODBUS_TYPE_F32, MODBUS_WORDS_LITTLE, 1000.0, r), 0);
        assert_int_equal(r[0], 0x0000);
        assert_int_equal(r[1], 0x447a);
        assert_int_equal(modbus_pack_decode(MODBUS_TYPE_F32, MODBUS_WORDS_LITTLE, r, &v), 0);
        assert_true(v == 1000.0);

        assert_int_equal(modbus_pack_encode(MODBUS_TYPE_S32, MODBUS_WORDS_BIG, -2, r), 0);
        assert_int_equal(r[0], 0xffff);
        assert_int_equal(r[1], 0xfffe);
        assert_int_equal(modbus_pack_decode(MODBUS_TYPE_S32, MODBUS_WORDS_BIG, r, &v), 0);
        assert_true(v == -2);
        assert_int_equal(modbus_pack_encode(MODBUS_TYPE_U32, MODBUS_WORDS_LITTLE, 0x12345678, r), 0);
        assert_int_equal(r[0], 0x5678);
        assert_int_equal(r[1], 0x1234);

        /* Clamped, rounded. */
        assert_int_equal(modbus_pack_encode(MODBUS_TYPE_U16, MODBUS_WORDS_BIG, 70000, r), 1);
        assert_int_equal(r[0], 65535);
        assert_int_equal(modbus_pack_encode(MODBUS_TYPE_U16, MODBUS_WORDS_BIG, -3, r), 1);
        assert_int_equal(r[0], 0);
        assert_int_equal(modbus_pack_encode(MODBUS_TYPE_S16, MODBUS_WORDS_BIG, -1.6, r), 0);
        assert_int_equal(r[0], 0xfffe);
        assert_int_equal(modbus_pack_encode(MODBUS_TYPE_U16, MODBUS_WORDS_BIG, NAN, r), -EDOM);

        r[0] = 0x7fc0;  /* NaN */
        r[1] = 0;
        assert_int_equal(modbus_pack_decode(MODBUS_TYPE_F32, MODBUS_WORDS_BIG, r, &v), -EDOM);
}

static const char *const minimal =
        "[set_voltage]\narea = holding\naddress = 0\nscale = 0.1\n"
        "[set_current]\narea = holding\naddress = 1\nscale = 0.1\n"
        "[present_voltage]\narea = input\naddress = 0\nscale = 0.1\n"
        "[present_current]\narea = input\naddress = 1\ntype = s16\nscale = 0.1\n";

static void test_minimal(void **state)
{
        static struct modbus_profile p;
        struct modbus_plan plan;

        assert_int_equal(load_text(minimal, &p), 0);
        assert_int_equal(modbus_profile_check_role(&p, MODBUS_ROLE_CONVERTER, err, sizeof(err)), 0);
        assert_int_equal(modbus_profile_check_role(&p, MODBUS_ROLE_MONITOR, err, sizeof(err)), -EINVAL);
        assert_int_equal(p.points[MODBUS_POINT_SET_VOLTAGE].write_function, 6);
        assert_int_equal(modbus_plan_build(&p, false, &plan), 0);
        assert_int_equal(plan.n_blocks, 1);
        assert_int_equal(plan.blocks[0].area, MODBUS_AREA_INPUT);
        assert_int_equal(plan.blocks[0].start, 0);
        assert_int_equal(plan.blocks[0].count, 2);
        assert_int_equal(plan.block_of[MODBUS_POINT_SET_VOLTAGE], -1);
}

static void test_grouping(void **state)
{
        static struct modbus_profile p;
        struct modbus_plan plan;
        char text[2048];

        /* 0-1, f32 at 2-3, a hole, 10; a coil; gap 0 -> 3 blocks. */
        snprintf(text, sizeof(text), "%s"
                 "[insulation_resistance]\narea = input\naddress = 2\ntype = f32\n"
                 "[fault_word]\narea = input\naddress = 10\n"
                 "[output_enable]\narea = coil\naddress = 4\n", minimal);
        assert_int_equal(load_text(text, &p), 0);
        assert_int_equal(modbus_plan_build(&p, false, &plan), 0);
        assert_int_equal(plan.n_blocks, 3);
        assert_int_equal(plan.blocks[0].area, MODBUS_AREA_COIL);
        assert_int_equal(plan.blocks[1].count, 4);
        assert_int_equal(plan.blocks[2].start, 10);
        assert_int_equal(plan.offset_of[MODBUS_POINT_INSULATION_RESISTANCE], 2);

        /* A gap of 6 merges the two register blocks. */
        snprintf(text, sizeof(text), "[device]\nmax_read_gap = 6\n%s"
                 "[insulation_resistance]\narea = input\naddress = 2\ntype = f32\n"
                 "[fault_word]\narea = input\naddress = 10\n", minimal);
        assert_int_equal(load_text(text, &p), 0);
        assert_int_equal(modbus_plan_build(&p, false, &plan), 0);
        assert_int_equal(plan.n_blocks, 1);
        assert_int_equal(plan.blocks[0].count, 11);
        assert_int_equal(plan.offset_of[MODBUS_POINT_FAULT_WORD], 10);

        /* ... but never past max_read_registers. */
        snprintf(text, sizeof(text), "[device]\nmax_read_gap = 6\nmax_read_registers = 4\n%s"
                 "[insulation_resistance]\narea = input\naddress = 2\ntype = f32\n"
                 "[fault_word]\narea = input\naddress = 10\n", minimal);
        assert_int_equal(load_text(text, &p), 0);
        assert_int_equal(modbus_plan_build(&p, false, &plan), 0);
        assert_int_equal(plan.n_blocks, 2);
}

static void test_percent_of_nominal(void **state)
{
        static struct modbus_profile p;
        struct modbus_caps caps;
        uint16_t r[2];
        double v;

        assert_int_equal(load_text("[rated_voltage]\narea = holding\naddress = 121\ntype = f32\n"
                                   "[rated_current]\nvalue = 40\n"
                                   "[set_voltage]\narea = holding\naddress = 500\nscale = 102/52428\n"
                                   "percent_of = rated_voltage\n"
                                   "[set_current]\narea = holding\naddress = 501\nscale = 102/52428\n"
                                   "percent_of = rated_current\n"
                                   "[present_voltage]\narea = holding\naddress = 507\nscale = 102/52428\n"
                                   "percent_of = rated_voltage\n"
                                   "[present_current]\narea = holding\naddress = 508\nscale = 102/52428\n"
                                   "percent_of = 40\n", &p), 0);
        modbus_caps_from_profile(&p, &caps);
        assert_true(caps.known[1] && caps.value[1] == 40);
        /* Rated voltage not read yet: no setpoint can be encoded. */
        assert_int_equal(modbus_point_encode(&p.points[MODBUS_POINT_SET_VOLTAGE], 100, &caps, r), -ENODATA);
        caps.known[0] = true;
        caps.value[0] = 500;
        /* 500 V nominal: 102 % = 0xCCCC, so 100 % = 51400 and 250 V = 25700. */
        assert_int_equal(modbus_point_encode(&p.points[MODBUS_POINT_SET_VOLTAGE], 500, &caps, r), 0);
        assert_int_equal(r[0], 51400);
        assert_int_equal(modbus_point_encode(&p.points[MODBUS_POINT_SET_VOLTAGE], 250, &caps, r), 0);
        assert_int_equal(r[0], 25700);
        r[0] = 0xCCCC;
        assert_int_equal(modbus_point_decode(&p.points[MODBUS_POINT_PRESENT_VOLTAGE], r, &caps, &v), 0);
        assert_true(fabs(v - 510.0) < 1e-9);
        r[0] = 25700;
        assert_int_equal(modbus_point_decode(&p.points[MODBUS_POINT_PRESENT_CURRENT], r, &caps, &v), 0);
        assert_true(fabs(v - 20.0) < 1e-9);
}

static void test_flags(void **state)
{
        static struct modbus_profile p;
        char text[2048];
        char names[128];
        const struct modbus_point *st, *fw;

        snprintf(text, sizeof(text), "%s[status_word]\narea = input\naddress = 4\n"
                 "ready = 0x0001\noutput_on = !0x0040\nfault = 0xc700 == 0x0200\ninvalid = 0x00c0 != 0\n"
                 "[fault_word]\narea = input\naddress = 5\ntype = u32\nbit0 = over-voltage\nbit17 = fan\n", minimal);
        assert_int_equal(load_text(text, &p), 0);
        st = &p.points[MODBUS_POINT_STATUS_WORD];
        fw = &p.points[MODBUS_POINT_FAULT_WORD];
        assert_true(modbus_flag_active(&st->flags[MODBUS_FLAG_READY], 0x0001));
        assert_false(modbus_flag_active(&st->flags[MODBUS_FLAG_OUTPUT_ON], 0x0040));
        assert_true(modbus_flag_active(&st->flags[MODBUS_FLAG_OUTPUT_ON], 0x0000));
        assert_true(modbus_flag_active(&st->flags[MODBUS_FLAG_FAULT], 0x0202));
        assert_false(modbus_flag_active(&st->flags[MODBUS_FLAG_FAULT], 0x4202));
        assert_true(modbus_flag_active(&st->flags[MODBUS_FLAG_INVALID], 0x0040));
        /* A fault word without a mask: any bit. */
        assert_true(modbus_flag_active(&fw->flags[MODBUS_FLAG_FAULT], 0x00020000));
        assert_false(modbus_flag_active(&fw->flags[MODBUS_FLAG_FAULT], 0));
        modbus_profile_bit_names(&p, 0, 0x00020001, names, sizeof(names));
        assert_string_equal(names, "over-voltage, fan");
}

static void test_errors(void **state)
{
        char text[2048];

        assert_error("[device]\nname = x\n[bogus]\n", 3, "[bogus]");
        assert_error("[set_voltage]\narea = holding\naddress = 70000\n", 3, "set_voltage.address");
        assert_error("[set_voltage]\narea = holding\naddress = 1\nscale = 0\n", 4, "set_voltage.scale");
        assert_error("[set_voltage]\narea = input\naddress = 1\n", 2, "set_voltage.area");
        assert_error("[set_voltage]\narea = holding\naddress = 1\ntype = f32\nwrite = 06\n", 5, "set_voltage.write");
        assert_error("[set_voltage]\naddress = 1\n", 1, "set_voltage.area");
        assert_error("[output_enable]\narea = coil\naddress = 1\non = 2\n", 4, "output_enable.on");
        assert_error("[output_enable]\narea = coil\naddress = 1\nwrite = 06\n", 4, "output_enable.write");
        assert_error("[present_voltage]\narea = input\naddress = 1\nbit3 = x\n", 4, "present_voltage.bit3");
        assert_error("[status_word]\narea = input\naddress = 1\nready = 0x0f == 0x10\n", 4, "status_word.ready");
        assert_error("[set_voltage]\narea = holding\naddress = 1\npercent_of = rated_voltage\n", 4,
                     "set_voltage.percent_of");
        assert_error("[rated_power]\nvalue = 1000\narea = input\n", 3, "rated_power.area");
        assert_error("[init]\nwrite = input 1 2\n", 2, "init.write");
        assert_error("[init]\nwrite = coil 1 5\n", 2, "init.write");
        assert_error("[set_voltage]\narea = holding\naddress = 1\naddress = 2\n", 4, "set_voltage.address");
        assert_error("[set_voltage]\narea = holding\naddress = 1\nfrobnicate = 2\n", 4, "set_voltage.frobnicate");
        assert_error("[device]\nmax_read_registers = 126\n", 2, "device.max_read_registers");
        assert_error("[device]\nname = x\nthis is not ini\n", 3, "syntax error");
        snprintf(text, sizeof(text), "[set_current]\narea = holding\naddress = 1\n");
        {
                static struct modbus_profile p;

                assert_int_equal(load_text(text, &p), 0);
                assert_int_equal(modbus_profile_check_role(&p, MODBUS_ROLE_CONVERTER, err, sizeof(err)), -EINVAL);
                assert_non_null(strstr(err, "set_voltage"));
        }
}

static void check_shipped(const char *name, enum modbus_role role)
{
        static struct modbus_profile p;
        struct modbus_plan plan;
        char path[512];

        snprintf(path, sizeof(path), "%s/%s.conf", PROFILE_DIR, name);
        if (modbus_profile_load(path, &p, err, sizeof(err)) < 0)
                fail_msg("%s", err);
        if (modbus_profile_check_role(&p, role, err, sizeof(err)) < 0)
                fail_msg("%s", err);
        assert_int_equal(modbus_plan_build(&p, false, &plan), 0);
        printf("%-28s %zu read(s) per cycle, %zu init step(s)\n", name, plan.n_blocks, p.n_init);
}

/* The generic profile, its text edited (the first occurrence of each
 * from[i] replaced by to[i], in order), loaded. */
static void load_edited(size_t n, const char *const *from, const char *const *to, struct modbus_profile *p)
{
        static char text[16384], edited[sizeof(text)];
        FILE *f = fopen(PROFILE_DIR "/generic.conf", "r");
        size_t len;

        assert_non_null(f);
        len = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[len] = '\0';
        for (size_t i = 0; i < n; i++) {
                const char *at = strstr(text, from[i]);

                assert_non_null(at);
                assert_true(strlen(text) + strlen(to[i]) < sizeof(edited));
                snprintf(edited, sizeof(edited), "%.*s%s%s", (int)(at - text), text, to[i], at + strlen(from[i]));
                memcpy(text, edited, sizeof(text));
        }
        if (load_text(text, p) < 0)
                fail_msg("%s", err);
}

#define EDIT(p, a, b) load_edited(1, (const char *const[]) { a }, (const char *const[]) { b }, p)

/* A reload keeps a profile whose registers did not change: comments and
 * blank lines added, sections moved (the line numbers differ), another
 * path.  A register, a scale, a bit name or a step changed is another
 * profile. */
static void test_same_profile_ignores_where_things_are_written(void **state)
{
        static const char shutdown[] = "[shutdown]\nwrite = holding 10 0 06\n";
        static struct modbus_profile orig, p;
        char e[512];

        (void)state;
        assert_int_equal(modbus_profile_load(PROFILE_DIR "/generic.conf", &orig, e, sizeof(e)), 0);
        assert_true(modbus_profile_same(&orig, &orig));

        EDIT(&p, "[device]", "# Added at the top: every line moves.\n\n\n[device]");
        assert_true(p.points[MODBUS_POINT_SET_VOLTAGE].line != orig.points[MODBUS_POINT_SET_VOLTAGE].line);
        assert_string_not_equal(p.path, orig.path);
        assert_true(modbus_profile_same(&orig, &p));
        /* [shutdown] moved from the end to before [set_voltage]. */
        load_edited(2, (const char *const[]) { shutdown, "[set_voltage]" },
                    (const char *const[]) { "", "[shutdown]\nwrite = holding 10 0 06\n\n[set_voltage]" }, &p);
        assert_int_equal(p.n_shutdown, 1);
        assert_true(p.points[MODBUS_POINT_SET_VOLTAGE].line != orig.points[MODBUS_POINT_SET_VOLTAGE].line);
        assert_true(modbus_profile_same(&orig, &p));

        EDIT(&p, shutdown, "");
        assert_false(modbus_profile_same(&orig, &p));
        EDIT(&p, "[present_voltage]\narea = input\naddress = 0", "[present_voltage]\narea = input\naddress = 20");
        assert_false(modbus_profile_same(&orig, &p));
        EDIT(&p, "[set_current]\narea = holding\naddress = 1\ntype = u16\nscale = 0.1",
             "[set_current]\narea = holding\naddress = 1\ntype = u16\nscale = 0.01");
        assert_false(modbus_profile_same(&orig, &p));
        EDIT(&p, "bit2 = over-temperature", "bit2 = too hot");
        assert_false(modbus_profile_same(&orig, &p));
        EDIT(&p, "delay_ms = 20", "delay_ms = 30");
        assert_false(modbus_profile_same(&orig, &p));
        EDIT(&p, "write = 05\nreadback = true", "write = 05\nreadback = false");
        assert_false(modbus_profile_same(&orig, &p));
}

static void test_shipped_profiles(void **state)
{
        check_shipped("generic", MODBUS_ROLE_CONVERTER);
        check_shipped("meanwell-shp-10k", MODBUS_ROLE_CONVERTER);
        check_shipped("meanwell-hep-2300", MODBUS_ROLE_CONVERTER);
        check_shipped("riden-rd6006", MODBUS_ROLE_CONVERTER);
        check_shipped("riden-rd6012", MODBUS_ROLE_CONVERTER);
        check_shipped("riden-rd6018", MODBUS_ROLE_CONVERTER);
        check_shipped("ea-ps-psi", MODBUS_ROLE_CONVERTER);
        check_shipped("bender-isocha425hv", MODBUS_ROLE_MONITOR);
}

static void test_params(void **state)
{
        struct modbus_params p;
        const char *key = NULL;

        modbus_params_defaults(&p);
        assert_int_equal(modbus_params_set(&p, "parity", "even", err, sizeof(err)), 0);
        assert_int_equal(p.parity, 'E');
        assert_int_equal(modbus_params_set(&p, "baudrate", "12", err, sizeof(err)), -EINVAL);
        assert_int_equal(modbus_params_set(&p, "nope", "1", err, sizeof(err)), -ENOENT);
        assert_int_equal(modbus_params_set(&p, "setpoint_refresh_ms", "0", err, sizeof(err)), 0);
        /* RTU without a device. */
        assert_int_equal(modbus_params_validate(&p, MODBUS_TRANSPORT_RTU, MODBUS_ROLE_CONVERTER, NULL, &key, err,
                                                sizeof(err)), -EINVAL);
        assert_string_equal(key, "device");
        assert_int_equal(modbus_params_set(&p, "device", "/dev/ttyUSB0", err, sizeof(err)), 0);
        assert_int_equal(modbus_params_validate(&p, MODBUS_TRANSPORT_RTU, MODBUS_ROLE_CONVERTER, NULL, &key, err,
                                                sizeof(err)), -EINVAL);
        assert_string_equal(key, "profile");
        assert_int_equal(modbus_params_set(&p, "profile", "../x", err, sizeof(err)), 0);
        assert_int_equal(modbus_params_validate(&p, MODBUS_TRANSPORT_RTU, MODBUS_ROLE_CONVERTER,
                                                "/nonexistent/dir/seccbridge.conf", &key, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "/nonexistent/dir/../x"));
        assert_int_equal(modbus_params_set(&p, "profile", PROFILE_DIR "/generic.conf", err, sizeof(err)), 0);
        assert_int_equal(modbus_params_validate(&p, MODBUS_TRANSPORT_RTU, MODBUS_ROLE_CONVERTER, NULL, &key, err,
                                                sizeof(err)), 0);
        assert_int_equal(modbus_params_validate(&p, MODBUS_TRANSPORT_TCP, MODBUS_ROLE_CONVERTER, NULL, &key, err,
                                                sizeof(err)), -EINVAL);
        assert_string_equal(key, "transport");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pack),
                cmocka_unit_test(test_minimal),
                cmocka_unit_test(test_grouping),
                cmocka_unit_test(test_percent_of_nominal),
                cmocka_unit_test(test_flags),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_params),
                cmocka_unit_test(test_shipped_profiles),
                cmocka_unit_test(test_same_profile_ignores_where_things_are_written),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
