/* test_core.c: the dtype values of cdt_core.h (what cdt-cat, its tables
 * and cdt-map read tensors with) and cdt_grow. */
#include "cdt_core.h"
#include "t.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Every integer dtype exactly, at any alignment; their doubles. */
static void test_dtype_int(t_state *ts)
{
    unsigned char buf[1 + 4 * 8];
    int64_t big = ((int64_t)1 << 60) + 1; // not a double
    memcpy(buf + 1, &big, 8);
    T_CHECK(ts, cdt_dtype_int(CDT_I64, buf + 1, 0) == big);
    int32_t v32[3] = {-7, INT32_MAX, INT32_MIN};
    memcpy(buf + 1, v32, sizeof v32);
    for (int i = 0; i < 3; i++) T_EQ_INT(ts, cdt_dtype_int(CDT_I32, buf + 1, (size_t)i), v32[i]);
    uint8_t u8[2] = {0, 255};
    int8_t i8[2] = {-128, 127};
    T_EQ_INT(ts, cdt_dtype_int(CDT_U8, u8, 1), 255);
    T_EQ_INT(ts, cdt_dtype_int(CDT_I8, i8, 0), -128);
    T_NEAR(ts, cdt_dtype_float(CDT_I8, i8, 1), 127, 0);
    T_CHECK(ts, cdt_dtype_is_int(CDT_I64) && cdt_dtype_is_int(CDT_U8));
    T_CHECK(ts, !cdt_dtype_is_int(CDT_F32) && !cdt_dtype_is_int(CDT_BF16));
}

/* Halves decoded (normal, subnormal, infinity, NaN, sign), bfloat16 as the
 * top of a float, f32 and f64 as stored. */
static void test_dtype_float(t_state *ts)
{
    uint16_t h[6] = {0x3C00, 0xC000, 0x0001, 0x7C00, 0x7E00, 0x3555};
    T_NEAR(ts, cdt_dtype_float(CDT_F16, h, 0), 1.0, 0);
    T_NEAR(ts, cdt_dtype_float(CDT_F16, h, 1), -2.0, 0);
    T_NEAR(ts, cdt_dtype_float(CDT_F16, h, 2), ldexp(1, -24), 0);
    T_CHECK(ts, isinf(cdt_dtype_float(CDT_F16, h, 3)));
    T_CHECK(ts, isnan(cdt_dtype_float(CDT_F16, h, 4)));
    T_NEAR(ts, cdt_dtype_float(CDT_F16, h, 5), 1365.0 / 4096, 0); // (1024 + 341) 2^(13 - 25)
    uint16_t b[2] = {0x3F80, 0xC0A0};
    T_NEAR(ts, cdt_dtype_float(CDT_BF16, b, 0), 1.0, 0);
    T_NEAR(ts, cdt_dtype_float(CDT_BF16, b, 1), -5.0, 0);
    float f = 0.1f;
    double d = 0.1;
    T_CHECK(ts, cdt_dtype_float(CDT_F32, &f, 0) == (double)f);
    T_CHECK(ts, cdt_dtype_float(CDT_F64, &d, 0) == d);
}

/* Into floats, each value rounded once: as a cast from its own type (an
 * i64 through a double would round twice). */
static void test_dtype_to_f32(t_state *ts)
{
    int64_t v64[3] = {((int64_t)1 << 53) + 1 + ((int64_t)1 << 29), -3, INT64_MAX};
    float out[3];
    cdt_dtype_to_f32(out, CDT_I64, v64, 3);
    for (int i = 0; i < 3; i++) T_CHECK(ts, out[i] == (float)v64[i]);
    double vd[2] = {1.0 / 3, -1e300};
    cdt_dtype_to_f32(out, CDT_F64, vd, 2);
    T_CHECK(ts, out[0] == (float)vd[0] && out[1] == (float)vd[1]);
    int32_t v32[2] = {16777217, -5};
    cdt_dtype_to_f32(out, CDT_I32, v32, 2);
    T_CHECK(ts, out[0] == (float)v32[0] && out[1] == -5);
    uint8_t u8[2] = {3, 250};
    cdt_dtype_to_f32(out, CDT_U8, u8, 2);
    T_CHECK(ts, out[0] == 3 && out[1] == 250);
}

/* Grows to exactly what is asked, keeps the contents, never shrinks (its
 * CDT_ENOMEM is not tried: ASan aborts on an absurd request). */
static void test_grow(t_state *ts)
{
    char *p = NULL;
    size_t cap = 0;
    T_EQ_INT(ts, cdt_grow((void **)&p, &cap, 5), 0);
    T_EQ_INT(ts, cap, 5);
    memcpy(p, "abcd", 5);
    T_EQ_INT(ts, cdt_grow((void **)&p, &cap, 3), 0);
    T_EQ_INT(ts, cap, 5);
    T_EQ_INT(ts, cdt_grow((void **)&p, &cap, 4096), 0);
    T_EQ_INT(ts, cap, 4096);
    T_STR(ts, p, "abcd");
    free(p);
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_dtype_int);
    T_RUN(&ts, test_dtype_float);
    T_RUN(&ts, test_dtype_to_f32);
    T_RUN(&ts, test_grow);
    return T_END(&ts);
}
