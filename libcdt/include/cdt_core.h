/* cdt_core.h: error codes, dtypes, tensors, assertions, growing buffers. */
#ifndef CDT_CORE_H
#define CDT_CORE_H

#include <stddef.h>
#include <stdint.h>

#define CDT_VERSION "0.1.0"

/* Error codes. cdt_exit_code() maps them onto sysexits.h for the tools. */
enum {
    CDT_OK = 0,
    CDT_EINVAL = -1,   /* a bad argument or option value (usage, exit 64) */
    CDT_EDATA = -2,    /* malformed or inconsistent input data (exit 65) */
    CDT_ETRUNC = -3,   /* input ended early (exit 65) */
    CDT_ENOENT = -4,   /* a missing input file or dataset (exit 66) */
    CDT_ENOMEM = -5,   /* allocation failed (exit 70) */
    CDT_ELIMIT = -6,   /* a size over a limit (spec or --max-memory; exit 65) */
    CDT_EIO = -7,      /* read/write failure, disk full (exit 74) */
    CDT_EPIPE = -8,    /* the reader of our output went away (exit 141) */
    CDT_EINTERNAL = -9, /* a broken internal rule (exit 70) */
    CDT_EUNAVAIL = -10  /* a device or library asked for is not usable (exit 69) */
};

const char *cdt_strerror(int err);
int cdt_exit_code(int err);
/* Seconds of CLOCK_MONOTONIC: for durations. */
double cdt_now(void);

/* Abort with file:line on a broken internal rule; never for bad input. */
void cdt_assert_fail(const char *expr, const char *file, int line);
#define CDT_ASSERT(e) ((e) ? (void)0 : cdt_assert_fail(#e, __FILE__, __LINE__))

/* dtypes, numbered as in the stream format. */
enum {
    CDT_U8 = 1, CDT_I8 = 2, CDT_I32 = 3, CDT_I64 = 4,
    CDT_F16 = 5, CDT_BF16 = 6, CDT_F32 = 7, CDT_F64 = 8
};
size_t cdt_dtype_size(int dtype);        /* 0 for an unknown dtype */
const char *cdt_dtype_name(int dtype);   /* "u8", "f32", ...; "?" if unknown */
int cdt_dtype_from_name(const char *name); /* 0 if unknown */
int cdt_dtype_is_int(int dtype);         /* u8, i8, i32, i64 */
/* Element i of an array of dtype (any alignment): of an integer dtype,
 * exactly; as a double, of any dtype (f16 and bf16 decoded, i64 rounded
 * past 2^53); n of them into floats, each rounded once. */
int64_t cdt_dtype_int(int dtype, const void *data, size_t i);
double cdt_dtype_float(int dtype, const void *data, size_t i);
void cdt_dtype_to_f32(float *dst, int dtype, const void *src, size_t n);

#define CDT_MAX_RANK 8
#define CDT_MAX_NAME 255

/* A tensor view: the data is owned elsewhere (by a reader's frame, or by the
 * caller that fills it in before writing). */
typedef struct cdt_tensor {
    char name[CDT_MAX_NAME + 1];
    int dtype;
    int rank;
    uint64_t dim[CDT_MAX_RANK];
    void *data;
} cdt_tensor;

/* Fill in a tensor view; rank <= 8 (asserted). */
void cdt_tensor_set(cdt_tensor *t, const char *name, int dtype, void *data,
                    int rank, const uint64_t *dim);
/* Elements and bytes, checked for overflow: CDT_ELIMIT if they overflow. */
int cdt_tensor_numel(const cdt_tensor *t, uint64_t *numel);
int cdt_tensor_nbytes(const cdt_tensor *t, uint64_t *nbytes);

/* Overflow-checked size arithmetic: return 0 on success, -1 on overflow. */
int cdt_mul_u64(uint64_t a, uint64_t b, uint64_t *out);
int cdt_add_u64(uint64_t a, uint64_t b, uint64_t *out);

/* A buffer of *cap bytes grown (realloc) to hold need bytes, exactly;
 * 0, or CDT_ENOMEM with *p and *cap as they were. */
int cdt_grow(void **p, size_t *cap, size_t need);

#endif
