/* core.c: error codes, dtypes and their values, tensor views, checked
 * arithmetic, growing buffers. */
#include "cdt_core.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

const char *cdt_strerror(int err)
{
    switch (err) {
    case CDT_OK: return "success";
    case CDT_EINVAL: return "invalid argument";
    case CDT_EDATA: return "malformed data";
    case CDT_ETRUNC: return "truncated input";
    case CDT_ENOENT: return "no such file or dataset";
    case CDT_ENOMEM: return "out of memory";
    case CDT_ELIMIT: return "size over a limit";
    case CDT_EIO: return "input/output error";
    case CDT_EPIPE: return "broken pipe";
    case CDT_EINTERNAL: return "internal error";
    case CDT_EUNAVAIL: return "not available";
    default: return "unknown error";
    }
}

int cdt_exit_code(int err)
{
    switch (err) {
    case CDT_OK: return 0;
    case CDT_EINVAL: return 64;
    case CDT_EDATA: case CDT_ETRUNC: case CDT_ELIMIT: return 65;
    case CDT_ENOENT: return 66;
    case CDT_EIO: return 74;
    case CDT_EUNAVAIL: return 69;
    case CDT_EPIPE: return 141;
    default: return 70;
    }
}

double cdt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cdt_assert_fail(const char *expr, const char *file, int line)
{
    /* The one place libcdt prints: a broken internal rule, then abort. */
    fprintf(stderr, "cdt: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

static const struct { const char *name; size_t size; } dtypes[] = {
    [CDT_U8] = {"u8", 1}, [CDT_I8] = {"i8", 1}, [CDT_I32] = {"i32", 4},
    [CDT_I64] = {"i64", 8}, [CDT_F16] = {"f16", 2}, [CDT_BF16] = {"bf16", 2},
    [CDT_F32] = {"f32", 4}, [CDT_F64] = {"f64", 8},
};

size_t cdt_dtype_size(int dtype)
{
    return dtype >= CDT_U8 && dtype <= CDT_F64 ? dtypes[dtype].size : 0;
}

const char *cdt_dtype_name(int dtype)
{
    return dtype >= CDT_U8 && dtype <= CDT_F64 ? dtypes[dtype].name : "?";
}

int cdt_dtype_from_name(const char *name)
{
    for (int d = CDT_U8; d <= CDT_F64; d++)
        if (!strcmp(name, dtypes[d].name))
            return d;
    return 0;
}

int cdt_dtype_is_int(int dtype)
{
    return dtype == CDT_U8 || dtype == CDT_I8 || dtype == CDT_I32 || dtype == CDT_I64;
}

/* IEEE half: 1 sign, 5 exponent, 10 mantissa bits; bfloat16: the top half
 * of a float. */
static double half_value(uint16_t h, int bf16)
{
    if (bf16) {
        uint32_t bits = (uint32_t)h << 16;
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return h >> 15 ? -v : v;
}

int64_t cdt_dtype_int(int dtype, const void *data, size_t i)
{
    const unsigned char *p = data;
    switch (dtype) {
    case CDT_U8: return p[i];
    case CDT_I8: return (int8_t)p[i];
    case CDT_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case CDT_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return v; }
    }
    CDT_ASSERT(!"cdt_dtype_int of a dtype that is not an integer");
    return 0;
}

double cdt_dtype_float(int dtype, const void *data, size_t i)
{
    const unsigned char *p = data;
    switch (dtype) {
    case CDT_F16: case CDT_BF16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return half_value(v, dtype == CDT_BF16); }
    case CDT_F32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    case CDT_F64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    }
    return (double)cdt_dtype_int(dtype, data, i);
}

void cdt_dtype_to_f32(float *dst, int dtype, const void *src, size_t n)
{
    // each value rounded once (an i64 through a double would be twice)
    for (size_t i = 0; i < n; i++)
        dst[i] = dtype == CDT_I64 ? (float)cdt_dtype_int(dtype, src, i)
                                  : (float)cdt_dtype_float(dtype, src, i);
}

void cdt_tensor_set(cdt_tensor *t, const char *name, int dtype, void *data,
                    int rank, const uint64_t *dim)
{
    CDT_ASSERT(rank >= 0 && rank <= CDT_MAX_RANK);
    CDT_ASSERT(strlen(name) <= CDT_MAX_NAME);
    memset(t, 0, sizeof *t);
    strcpy(t->name, name);
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++)
        t->dim[i] = dim[i];
    t->data = data;
}

int cdt_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

int cdt_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

int cdt_tensor_numel(const cdt_tensor *t, uint64_t *numel)
{
    uint64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        if (cdt_mul_u64(n, t->dim[i], &n))
            return CDT_ELIMIT;
    *numel = n;
    return 0;
}

int cdt_tensor_nbytes(const cdt_tensor *t, uint64_t *nbytes)
{
    uint64_t n;
    size_t es = cdt_dtype_size(t->dtype);
    if (!es)
        return CDT_EINVAL;
    if (cdt_tensor_numel(t, &n) < 0 || cdt_mul_u64(n, es, nbytes))
        return CDT_ELIMIT;
    return 0;
}

int cdt_grow(void **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    void *q = realloc(*p, need);
    if (!q)
        return CDT_ENOMEM;
    *p = q;
    *cap = need;
    return 0;
}
