/* backend.h: one table of function pointers per device (ggml's
 * ggml_backend_i, in spirit): memory, the layers the model is built from
 * (a table of their entry points, filled from the one list CDT_LAYERS),
 * and what the model and the trainer used to do in host loops (view
 * scaling, transposes, gradient accumulation, gradient norm and clipping,
 * Adam). model.c and train.c call only these; the device is chosen once,
 * when the model is created (cdt_device.h), so there is one model.c for
 * every device.
 *
 * Private to libcdt and libcdt_cuda.so, which is built against this very
 * header: CDT_BACKEND_ABI changes whenever the table does, and the loader
 * (nn/device.c) refuses a library of another ABI with a message.
 *
 * Rules every table keeps:
 * - ctx is the device's context (NULL for the CPU); pointers to tensors are
 *   device pointers, made by alloc; the host sees them only through
 *   upload/download. host_memory = 1 says device pointers are host
 *   pointers (the CPU), so a model can skip its host copies.
 * - ops are ordered on one queue; only download and sync wait for it.
 * - every op returns 0 or a negative CDT_E* code; errmsg says why.
 * - a value the CPU layer returns (a loss, an entropy, a norm) is written
 *   to a one-element device buffer, so a step never waits on the host.
 * - gradient rule of cdt_nn.h: parameter gradients +=, activation grads =.
 */
#ifndef CDT_BACKEND_H
#define CDT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "cdt_nn.h"

#define CDT_BACKEND_ABI 6

/* ---- the layers: one row each, ID and file name ----
 * Layer `name` has one entry point per device, a cdt_layer_i beside its
 * kernels: cdt_<name>_layer_cpu in nn/cpu/, cdt_<name>_layer_cuda in
 * nn/cuda/. Both tables' `layers` are filled from this list, in its order
 * (CDT_LAYER_<ID> is the index), and a CUDA library built from another
 * list is refused by its names (layer_names), so a new layer is one row
 * here and needs no ABI bump. */
#define CDT_LAYERS(X) \
    X(CONV2D, conv2d) \
    X(BATCHNORM, batchnorm) \
    X(MAXPOOL, maxpool) \
    X(AVGPOOL, avgpool) \
    X(LINEAR, linear) \
    X(SIGMOID, sigmoid)

#define CDT_LAYER_ENUM(id, name) CDT_LAYER_##id,
enum { CDT_LAYERS(CDT_LAYER_ENUM) CDT_LAYER_COUNT };
#undef CDT_LAYER_ENUM
#define CDT_LAYER_NAME(id, name) #name " "
#define CDT_LAYER_NAMES CDT_LAYERS(CDT_LAYER_NAME)

/* Global average pool's sizes: (N,C,HW) -> (N,C). */
typedef struct cdt_avgpool_params { int n, c, hw; } cdt_avgpool_params;

/* One call of a layer, over device pointers; a layer reads what its
 * cdt_nn.h pair takes and ignores the rest (NULL or 0). */
typedef struct cdt_layer_args {
    const void *p;          /* its sizes: cdt_conv2d_params, cdt_bn_params,
                               cdt_maxpool_params, cdt_avgpool_params or
                               cdt_linear_params, n = the images of this call */
    size_t numel;           /* elements of out (the element-wise layers) */
    int train;              /* forward: batch statistics, running stats updated */
    const float *x;         /* input */
    float *out;             /* forward: written; backward: the forward's, read */
    const float *w, *b;     /* weight, bias (batch norm: gamma, beta) */
    float *rm, *rv;         /* batch norm's running mean and variance */
    float *save;            /* forward -> backward: batch norm's mean, invstd (2C) */
    int32_t *index;         /* forward -> backward: max pool's argmax */
    float *scratch;         /* scratch(p) elements */
    const float *dout;      /* backward: the output's gradient */
    float *dx;              /* backward: the input's (=); NULL: not wanted */
    float *dw, *db;         /* backward: the parameters' (+=) */
    const cdt_conv_post *post; /* conv2d's forward in eval mode: the batch norm
                               after it (cdt_nn.h); only where the table's
                               conv_post is 1, else NULL */
} cdt_layer_args;

typedef struct cdt_layer_i {
    const char *name;                    /* the list's name */
    size_t (*scratch)(const void *p);    /* elements; NULL: none */
    int (*forward)(void *ctx, const cdt_layer_args *a);
    int (*backward)(void *ctx, const cdt_layer_args *a);
} cdt_layer_i;

#ifdef __cplusplus
extern "C" {
#endif
#define CDT_LAYER_DECLARE(id, name) \
    extern const cdt_layer_i cdt_##name##_layer_cpu, cdt_##name##_layer_cuda;
CDT_LAYERS(CDT_LAYER_DECLARE)
#undef CDT_LAYER_DECLARE
#ifdef __cplusplus
}
#endif

typedef struct cdt_backend_i {
    int abi;                /* CDT_BACKEND_ABI of whoever filled the table */
    const char *name;       /* "cpu", "cuda" */
    int host_memory;        /* 1: device pointers are host pointers */
    int conv_post;          /* 1: conv2d's forward runs cdt_layer_args.post */

    /* ---- the context ---- */
    void (*destroy)(void *ctx);
    const char *(*errmsg)(void *ctx);
    const char *(*device_name)(void *ctx);

    /* ---- memory ---- */
    int (*alloc)(void *ctx, void **p, size_t bytes);
    void (*free)(void *ctx, void *p); /* NULL is fine */
    /* page-locked host memory, so uploads from it run at full speed */
    int (*alloc_host)(void *ctx, void **p, size_t bytes);
    void (*free_host)(void *ctx, void *p);
    int (*upload)(void *ctx, void *dst, const void *src, size_t bytes);
    int (*download)(void *ctx, void *dst, const void *src, size_t bytes); /* waits */
    int (*copy)(void *ctx, void *dst, const void *src, size_t bytes);     /* device to device */
    int (*memset)(void *ctx, void *dst, int byte, size_t bytes);
    int (*sync)(void *ctx);

    /* ---- what the model runs besides its layers: cdt_nn.h's arguments
     * over device pointers ---- */
    /* batch norm across processes (cdt_nn.h's cdt_batchnorm_sums etc.): the
     * per-channel sums are double device buffers; the caller adds them over
     * processes between calls */
    int (*batchnorm_sums)(void *ctx, double *sum, const float *x, const double *center,
                          const cdt_bn_params *p);
    int (*batchnorm_forward_with)(void *ctx, float *out, float *mean, float *invstd,
                                  float *running_mean, float *running_var, const float *x,
                                  const float *gamma, const float *beta, const double *gmean,
                                  const double *gvar, double count, const cdt_bn_params *p);
    int (*batchnorm_backward_sums)(void *ctx, double *sums, const float *dout, const float *x,
                                   const float *mean, const float *invstd,
                                   const cdt_bn_params *p);
    int (*batchnorm_backward_with)(void *ctx, float *dx, float *dgamma, float *dbeta,
                                   const double *local, const double *global, double count,
                                   const float *dout, const float *x, const float *mean,
                                   const float *invstd, const float *gamma,
                                   const cdt_bn_params *p);
    int (*relu_forward)(void *ctx, float *out, const float *x, size_t n);
    int (*relu_backward)(void *ctx, float *dx, const float *dout, const float *out, size_t n);
    /* out = a + b; out may be a or b (gradient accumulation is add(d, d, t)) */
    int (*add)(void *ctx, float *out, const float *a, const float *b, size_t n);
    size_t (*ntxent_scratch)(const cdt_ntxent_params *p); /* elements */
    int (*ntxent_forward)(void *ctx, float *loss /* (1) */, const float *z1, const float *z2,
                          float *scratch, const cdt_ntxent_params *p);
    int (*ntxent_backward)(void *ctx, float *dz1, float *dz2, float dloss, const float *z1,
                           const float *z2, float *scratch, const cdt_ntxent_params *p);
    int (*entropy_forward)(void *ctx, float *h /* (1) */, const float *p, size_t n);
    int (*entropy_backward)(void *ctx, float *dp, float dh, const float *p, size_t n);

    /* ---- what the model and the trainer did in host loops ---- */
    /* (n,2,C,H,W) u8 -> two (n,C,H,W) floats / 255 (ToTensor); img = C*H*W */
    int (*scale_views)(void *ctx, float *v0, float *v1, const uint8_t *x, size_t n, size_t img);
    /* dst (cols,rows) = src (rows,cols)^T */
    int (*transpose)(void *ctx, float *dst, const float *src, int rows, int cols);
    /* dst (rows,cols) += src (cols,rows)^T */
    int (*add_transposed)(void *ctx, float *dst, const float *src, int rows, int cols);
    /* norm (1, double) = ||grad||; then, when max_norm > 0, grad *= max_norm /
     * (norm + 1e-6) if that is below 1 (clip_grad_norm_) */
    int (*grad_norm)(void *ctx, double *norm, float *grad, size_t n, double max_norm);
    int (*adam_step)(void *ctx, float *param, float *m, float *v, const float *grad,
                     size_t n, long t, const cdt_adam_params *p);

    /* ---- collectives between the ranks of a data-parallel job, over device
     * memory (NCCL on CUDA); NULL where the device has none (the CPU):
     * the model then exchanges through host memory (cdt_comm.h) ---- */
    /* 0 when the collectives can be had here, else why in errmsg */
    int (*coll_available)(void *ctx);
    /* rank 0 makes the job's id (CDT_COLL_ID_BYTES), every rank joins with it */
    int (*coll_id)(void *ctx, void *id, size_t bytes);
    int (*coll_init)(void *ctx, const void *id, int rank, int world);
    /* dst (world * bytes) = every rank's src, in rank order */
    int (*coll_allgather)(void *ctx, void *dst, const void *src, size_t bytes);
    /* x = the sum over ranks, added in rank order (the same bytes everywhere) */
    int (*coll_sum_f32)(void *ctx, float *x, size_t n);
    /* x = scale * the sum over ranks (the scale after the sum, as the host path) */
    int (*coll_sum_f64)(void *ctx, double *x, size_t n, double scale);

    /* ---- fused pairs (cdt_nn.h's cdt_batchnorm_relu_forward and
     * cdt_add_relu_*), the values of the two ops one after the other with
     * one pass over the activation less; NULL where the device has none:
     * the model then runs the two ops ---- */
    int (*batchnorm_relu_forward)(void *ctx, float *out, float *mean, float *invstd,
                                  float *running_mean, float *running_var, const float *x,
                                  const float *gamma, const float *beta,
                                  const cdt_bn_params *p);
    int (*add_relu_forward)(void *ctx, float *out, const float *a, const float *b, size_t n);
    int (*add_relu_backward)(void *ctx, float *dout, float *db, const float *out, int acc,
                             size_t n);

    /* ---- the layers, last: CDT_LAYER_NAMES of whoever filled the table,
     * and an entry per row of CDT_LAYERS ---- */
    const char *layer_names;
    const cdt_layer_i *layers[CDT_LAYER_COUNT];
} cdt_backend_i;

#define CDT_COLL_ID_BYTES 128

/* A device as the model sees it: a table and its context. */
typedef struct cdt_backend {
    const cdt_backend_i *i;
    void *ctx;
} cdt_backend;

#ifdef __cplusplus
extern "C" {
#endif
/* The CPU table (nn/cpu/backend.c); its context is NULL. */
const cdt_backend_i *cdt_backend_cpu(void);
/* The device's table and context (nn/device.c; cdt_device.h). */
struct cdt_device;
const cdt_backend *cdt_device_backend(const struct cdt_device *d);
#ifdef __cplusplus
}
#endif

/* The one entry point of libcdt_cuda.so, looked up with dlsym by
 * nn/device.c: a context on `device` with cuBLAS math `math` (CDT_CUDA_*),
 * and the table. abi: the caller's CDT_BACKEND_ABI; a library of another
 * ABI answers CDT_EINVAL. On failure err holds one line: why (no device,
 * the driver's own words, ABI versions). */
typedef int cdt_cuda_backend_fn(int abi, int device, int math, const cdt_backend_i **table,
                                void **ctx, char *err, size_t errlen);
#define CDT_CUDA_BACKEND_SYMBOL "cdt_cuda_backend"

#endif
