/* backend.cu: the CUDA table of nn/backend.h (twin of nn/cpu/backend.c)
 * and libcdt_cuda.so's one entry point, cdt_cuda_backend, which the tools
 * find with dlopen/dlsym (nn/device.c). The layers' entries
 * (cdt_*_layer_cuda, each in its layer's .cu) come from the list
 * CDT_LAYERS; what the model and trainer did in host loops has its
 * kernels here. */
#include "cuda_internal.cuh"
#include "nn/backend.h"

#include <math.h>
#include <stdio.h>

#define CTX(c) ((cdt_cuda_ctx *)(c))

static void be_destroy(void *ctx) { cdt_cuda_ctx_destroy(CTX(ctx)); }
static const char *be_errmsg(void *ctx) { return cdt_cuda_errmsg(CTX(ctx)); }
static const char *be_name(void *ctx) { return cdt_cuda_device_name(CTX(ctx)); }
static int be_alloc(void *ctx, void **p, size_t bytes) { return cdt_cuda_alloc(CTX(ctx), p, bytes); }
static void be_free(void *ctx, void *p) { cdt_cuda_free(CTX(ctx), p); }

static int be_alloc_host(void *ctx, void **p, size_t bytes)
{
    *p = NULL;
    CU_CHECK(CTX(ctx), cudaMallocHost(p, bytes ? bytes : 1));
    return 0;
}

static void be_free_host(void *ctx, void *p)
{
    (void)ctx;
    if (p) cudaFreeHost(p);
}

static int be_upload(void *ctx, void *dst, const void *src, size_t bytes)
{
    return cdt_cuda_upload(CTX(ctx), dst, src, bytes);
}

static int be_download(void *ctx, void *dst, const void *src, size_t bytes)
{
    return cdt_cuda_download(CTX(ctx), dst, src, bytes);
}

static int be_copy(void *ctx, void *dst, const void *src, size_t bytes)
{
    if (!bytes || dst == src) return 0;
    CU_CHECK(CTX(ctx), cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice,
                                       CTX(ctx)->stream));
    return 0;
}

static int be_memset(void *ctx, void *dst, int byte, size_t bytes)
{
    return cdt_cuda_memset(CTX(ctx), dst, byte, bytes);
}

static int be_sync(void *ctx) { return cdt_cuda_sync(CTX(ctx)); }

static int be_bn_sums(void *ctx, double *sum, const float *x, const double *center,
                      const cdt_bn_params *p)
{
    return cdt_batchnorm_sums_cuda(CTX(ctx), sum, x, center, p);
}

static int be_bn_fwd_with(void *ctx, float *out, float *mean, float *invstd, float *rm,
                          float *rv, const float *x, const float *gamma, const float *beta,
                          const double *gmean, const double *gvar, double count,
                          const cdt_bn_params *p)
{
    return cdt_batchnorm_forward_with_cuda(CTX(ctx), out, mean, invstd, rm, rv, x, gamma, beta,
                                           gmean, gvar, count, p);
}

static int be_bn_bwd_sums(void *ctx, double *sums, const float *dout, const float *x,
                          const float *mean, const float *invstd, const cdt_bn_params *p)
{
    return cdt_batchnorm_backward_sums_cuda(CTX(ctx), sums, dout, x, mean, invstd, p);
}

static int be_bn_bwd_with(void *ctx, float *dx, float *dgamma, float *dbeta,
                          const double *local, const double *global, double count,
                          const float *dout, const float *x, const float *mean,
                          const float *invstd, const float *gamma, const cdt_bn_params *p)
{
    return cdt_batchnorm_backward_with_cuda(CTX(ctx), dx, dgamma, dbeta, local, global, count,
                                            dout, x, mean, invstd, gamma, p);
}

static int be_relu_fwd(void *ctx, float *out, const float *x, size_t n)
{
    return cdt_relu_forward_cuda(CTX(ctx), out, x, n);
}

static int be_relu_bwd(void *ctx, float *dx, const float *dout, const float *out, size_t n)
{
    return cdt_relu_backward_cuda(CTX(ctx), dx, dout, out, n);
}

static int be_add(void *ctx, float *out, const float *a, const float *b, size_t n)
{
    return cdt_add_forward_cuda(CTX(ctx), out, a, b, n);
}

static int be_ntxent_fwd(void *ctx, float *loss, const float *z1, const float *z2,
                         float *scratch, const cdt_ntxent_params *p)
{
    return cdt_ntxent_forward_cuda(CTX(ctx), loss, z1, z2, scratch, p);
}

static int be_ntxent_bwd(void *ctx, float *dz1, float *dz2, float dloss, const float *z1,
                         const float *z2, float *scratch, const cdt_ntxent_params *p)
{
    return cdt_ntxent_backward_cuda(CTX(ctx), dz1, dz2, dloss, z1, z2, scratch, p);
}

static int be_entropy_fwd(void *ctx, float *h, const float *p, size_t n)
{
    return cdt_entropy_forward_cuda(CTX(ctx), h, p, n);
}

static int be_entropy_bwd(void *ctx, float *dp, float dh, const float *p, size_t n)
{
    return cdt_entropy_backward_cuda(CTX(ctx), dp, dh, p, n);
}

static int be_scale_views(void *ctx, float *v0, float *v1, const uint8_t *x, size_t n, size_t img)
{
    return cdt_scale_views_cuda(CTX(ctx), v0, v1, x, n, img);
}

/* transpose: dst (cols,rows) = src (rows,cols)^T; add_transposed: dst
 * (rows,cols) += src (cols,rows)^T. One thread per element of dst, each
 * written once, so the result does not depend on the launch. */
static __global__ void transpose_kernel(float *dst, const float *src, int rows, int cols)
{
    size_t n = (size_t)rows * cols;
    CU_FOR(k, n) {
        size_t j = k / rows, i = k % rows; // dst[j][i]
        dst[k] = src[i * cols + j];
    }
}

static __global__ void add_transposed_kernel(float *dst, const float *src, int rows, int cols)
{
    size_t n = (size_t)rows * cols;
    CU_FOR(k, n) {
        size_t i = k / cols, j = k % cols; // dst[i][j] += src[j][i]
        dst[k] += src[j * rows + i];
    }
}

static int be_transpose(void *ctx, float *dst, const float *src, int rows, int cols)
{
    size_t n = (size_t)rows * cols;
    if (!n) return 0;
    transpose_kernel<<<cu_blocks(n), CU_THREADS, 0, CTX(ctx)->stream>>>(dst, src, rows, cols);
    CU_LAUNCHED(CTX(ctx));
    return 0;
}

static int be_add_transposed(void *ctx, float *dst, const float *src, int rows, int cols)
{
    size_t n = (size_t)rows * cols;
    if (!n) return 0;
    add_transposed_kernel<<<cu_blocks(n), CU_THREADS, 0, CTX(ctx)->stream>>>(dst, src, rows, cols);
    CU_LAUNCHED(CTX(ctx));
    return 0;
}

/* max_norm <= 0 is "no clipping": an infinite bound never scales. */
static int be_grad_norm(void *ctx, double *norm, float *grad, size_t n, double max_norm)
{
    return cdt_clip_grad_norm_cuda(CTX(ctx), norm, grad, n, max_norm > 0 ? max_norm : INFINITY);
}

static int be_adam(void *ctx, float *param, float *m, float *v, const float *grad, size_t n,
                   long t, const cdt_adam_params *p)
{
    return cdt_adam_step_cuda(CTX(ctx), param, m, v, grad, n, t, p);
}

static int be_coll_available(void *ctx) { return cu_nccl_load(CTX(ctx)); }
static int be_coll_id(void *ctx, void *id, size_t bytes) { return cu_coll_id(CTX(ctx), id, bytes); }
static int be_coll_init(void *ctx, const void *id, int rank, int world)
{
    return cu_coll_init(CTX(ctx), id, rank, world);
}
static int be_coll_allgather(void *ctx, void *dst, const void *src, size_t bytes)
{
    return cu_coll_allgather(CTX(ctx), dst, src, bytes);
}
static int be_coll_sum_f32(void *ctx, float *x, size_t n) { return cu_coll_sum_f32(CTX(ctx), x, n); }
static int be_coll_sum_f64(void *ctx, double *x, size_t n, double scale)
{
    return cu_coll_sum_f64(CTX(ctx), x, n, scale);
}

#define CUDA_LAYER(id, name) &cdt_##name##_layer_cuda,

static const cdt_backend_i cuda_table = {
    CDT_BACKEND_ABI, "cuda", 0,
    0, // conv_post: the model runs the batch norm after a convolution itself
    be_destroy, be_errmsg, be_name,
    be_alloc, be_free, be_alloc_host, be_free_host, be_upload, be_download, be_copy,
    be_memset, be_sync,
    be_bn_sums, be_bn_fwd_with, be_bn_bwd_sums, be_bn_bwd_with,
    be_relu_fwd, be_relu_bwd, be_add,
    cdt_ntxent_scratch_cuda, be_ntxent_fwd, be_ntxent_bwd,
    be_entropy_fwd, be_entropy_bwd,
    be_scale_views, be_transpose, be_add_transposed, be_grad_norm, be_adam,
    be_coll_available, be_coll_id, be_coll_init, be_coll_allgather, be_coll_sum_f32,
    be_coll_sum_f64,
    NULL, NULL, NULL, // no fused pairs: the model runs batch norm or the add, then ReLU
    CDT_LAYER_NAMES, {CDT_LAYERS(CUDA_LAYER)},
};

extern "C" int cdt_cuda_backend(int abi, int device, int math, const cdt_backend_i **table,
                                void **ctx, char *err, size_t errlen)
{
    *table = NULL;
    *ctx = NULL;
    if (abi != CDT_BACKEND_ABI) {
        snprintf(err, errlen, "libcdt_cuda.so speaks backend ABI %d, this program ABI %d "
                 "(install the library of the same cdt version)", CDT_BACKEND_ABI, abi);
        return CDT_EINVAL;
    }
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        snprintf(err, errlen, "no usable CUDA device: %s", cudaGetErrorString(e));
        cudaGetLastError();
        return CDT_ENOENT;
    }
    if (device < 0 || device >= count) {
        snprintf(err, errlen, count ? "CUDA device %d does not exist (%d found)"
                                    : "no CUDA device found", device, count);
        return CDT_ENOENT;
    }
    cdt_cuda_ctx *c;
    char why[256] = "";
    int rc = cu_ctx_create(&c, device, math, why, sizeof why);
    if (rc < 0) {
        snprintf(err, errlen, "CUDA device %d: cannot set up a context: %s", device,
                 why[0] ? why : rc == CDT_ENOMEM ? "out of memory" : "driver error");
        return rc;
    }
    *table = &cuda_table;
    *ctx = c;
    return 0;
}
