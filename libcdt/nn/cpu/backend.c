/* backend.c: the CPU table of nn/backend.h: memory, what the model runs
 * besides its layers, and the layers' entries (cdt_*_layer_cpu, each in
 * its layer's file) from the list CDT_LAYERS. Device memory is host
 * memory, the queue is the calling thread, and nothing here can fail but
 * alloc. */
#include "cdt_core.h"
#include "cdt_nn.h"
#include "nn/backend.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void cpu_destroy(void *ctx) { (void)ctx; }
static const char *cpu_errmsg(void *ctx) { (void)ctx; return "out of memory"; }
static const char *cpu_name(void *ctx) { (void)ctx; return "cpu"; }

/* Large buffers (activations, scratch) in 2 MiB pages where the kernel
 * gives them on request (Linux's transparent huge pages in "madvise"
 * mode, Debian's default): a 4 KiB page costs a fault at first touch and
 * a TLB entry on every pass over the buffer. */
#define CPU_HUGE ((size_t)2 << 20)

static int cpu_alloc(void *ctx, void **p, size_t bytes)
{
    (void)ctx;
    *p = NULL;
    if (bytes < 2 * CPU_HUGE) {
        *p = malloc(bytes ? bytes : 1);
        return *p ? 0 : CDT_ENOMEM;
    }
    size_t whole = (bytes + CPU_HUGE - 1) / CPU_HUGE * CPU_HUGE;
    if (posix_memalign(p, CPU_HUGE, whole)) {
        *p = NULL;
        return CDT_ENOMEM;
    }
#ifdef MADV_HUGEPAGE
    (void)madvise(*p, whole, MADV_HUGEPAGE); // advice: without it, small pages
#endif
    return 0;
}

static void cpu_free(void *ctx, void *p) { (void)ctx; free(p); }

static int cpu_upload(void *ctx, void *dst, const void *src, size_t bytes)
{
    (void)ctx;
    if (bytes && dst != src) memmove(dst, src, bytes);
    return 0;
}

static int cpu_memset(void *ctx, void *dst, int byte, size_t bytes)
{
    (void)ctx;
    memset(dst, byte, bytes);
    return 0;
}

static int cpu_sync(void *ctx) { (void)ctx; return 0; }

static int cpu_bn_relu_fwd(void *ctx, float *out, float *mean, float *invstd, float *rm,
                           float *rv, const float *x, const float *gamma, const float *beta,
                           const cdt_bn_params *p)
{
    (void)ctx;
    cdt_batchnorm_relu_forward(out, mean, invstd, rm, rv, x, gamma, beta, p);
    return 0;
}

static int cpu_add_relu_fwd(void *ctx, float *out, const float *a, const float *b, size_t n)
{
    (void)ctx;
    cdt_add_relu_forward(out, a, b, n);
    return 0;
}

static int cpu_add_relu_bwd(void *ctx, float *dout, float *db, const float *out, int acc,
                            size_t n)
{
    (void)ctx;
    cdt_add_relu_backward(dout, db, out, acc, n);
    return 0;
}

static int cpu_relu_fwd(void *ctx, float *out, const float *x, size_t n)
{
    (void)ctx;
    cdt_relu_forward(out, x, n);
    return 0;
}

static int cpu_relu_bwd(void *ctx, float *dx, const float *dout, const float *out, size_t n)
{
    (void)ctx;
    cdt_relu_backward(dx, dout, out, n);
    return 0;
}

static int cpu_add(void *ctx, float *out, const float *a, const float *b, size_t n)
{
    (void)ctx;
    cdt_add_forward(out, a, b, n);
    return 0;
}

static int cpu_ntxent_fwd(void *ctx, float *loss, const float *z1, const float *z2,
                          float *scratch, const cdt_ntxent_params *p)
{
    (void)ctx;
    *loss = cdt_ntxent_forward(z1, z2, scratch, p);
    return 0;
}

static int cpu_ntxent_bwd(void *ctx, float *dz1, float *dz2, float dloss, const float *z1,
                          const float *z2, float *scratch, const cdt_ntxent_params *p)
{
    (void)ctx;
    cdt_ntxent_backward(dz1, dz2, dloss, z1, z2, scratch, p);
    return 0;
}

static int cpu_entropy_fwd(void *ctx, float *h, const float *p, size_t n)
{
    (void)ctx;
    *h = cdt_entropy_forward(p, n);
    return 0;
}

static int cpu_entropy_bwd(void *ctx, float *dp, float dh, const float *p, size_t n)
{
    (void)ctx;
    cdt_entropy_backward(dp, dh, p, n);
    return 0;
}

static int cpu_scale_views(void *ctx, float *v0, float *v1, const uint8_t *x, size_t n, size_t img)
{
    (void)ctx;
    #pragma omp parallel for if (n * img > 65536)
    for (size_t i = 0; i < n; i++) {
        const uint8_t *a = x + 2 * i * img, *b = a + img;
        float *d0 = v0 + i * img, *d1 = v1 + i * img;
        for (size_t k = 0; k < img; k++) {
            d0[k] = cdt_pixel_to_float(a[k]);
            d1[k] = cdt_pixel_to_float(b[k]);
        }
    }
    return 0;
}

static int cpu_transpose(void *ctx, float *dst, const float *src, int rows, int cols)
{
    (void)ctx;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) dst[(size_t)j * rows + i] = src[(size_t)i * cols + j];
    return 0;
}

static int cpu_add_transposed(void *ctx, float *dst, const float *src, int rows, int cols)
{
    (void)ctx;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) dst[(size_t)i * cols + j] += src[(size_t)j * rows + i];
    return 0;
}

static int cpu_bn_sums(void *ctx, double *sum, const float *x, const double *center,
                       const cdt_bn_params *p)
{
    (void)ctx;
    cdt_batchnorm_sums(sum, x, center, p);
    return 0;
}

static int cpu_bn_fwd_with(void *ctx, float *out, float *mean, float *invstd, float *rm,
                           float *rv, const float *x, const float *gamma, const float *beta,
                           const double *gmean, const double *gvar, double count,
                           const cdt_bn_params *p)
{
    (void)ctx;
    cdt_batchnorm_forward_with(out, mean, invstd, rm, rv, x, gamma, beta, gmean, gvar, count, p);
    return 0;
}

static int cpu_bn_bwd_sums(void *ctx, double *sums, const float *dout, const float *x,
                           const float *mean, const float *invstd, const cdt_bn_params *p)
{
    (void)ctx;
    cdt_batchnorm_backward_sums(sums, dout, x, mean, invstd, p);
    return 0;
}

static int cpu_bn_bwd_with(void *ctx, float *dx, float *dgamma, float *dbeta,
                           const double *local, const double *global, double count,
                           const float *dout, const float *x, const float *mean,
                           const float *invstd, const float *gamma, const cdt_bn_params *p)
{
    (void)ctx;
    cdt_batchnorm_backward_with(dx, dgamma, dbeta, local, global, count, dout, x, mean, invstd,
                                gamma, p);
    return 0;
}

static int cpu_grad_norm(void *ctx, double *norm, float *grad, size_t n, double max_norm)
{
    (void)ctx;
    *norm = max_norm > 0 ? cdt_clip_grad_norm(grad, n, max_norm) : cdt_grad_norm(grad, n);
    return 0;
}

static int cpu_adam(void *ctx, float *param, float *m, float *v, const float *grad, size_t n,
                    long t, const cdt_adam_params *p)
{
    (void)ctx;
    cdt_adam_step(param, m, v, grad, n, t, p);
    return 0;
}

#define CPU_LAYER(id, name) [CDT_LAYER_##id] = &cdt_##name##_layer_cpu,

static const cdt_backend_i cpu_table = {
    .abi = CDT_BACKEND_ABI, .name = "cpu", .host_memory = 1, .conv_post = 1,
    .destroy = cpu_destroy, .errmsg = cpu_errmsg, .device_name = cpu_name,
    .alloc = cpu_alloc, .free = cpu_free, .alloc_host = cpu_alloc, .free_host = cpu_free,
    .upload = cpu_upload, .download = cpu_upload, .copy = cpu_upload, .memset = cpu_memset,
    .sync = cpu_sync,
    .batchnorm_sums = cpu_bn_sums, .batchnorm_forward_with = cpu_bn_fwd_with,
    .batchnorm_backward_sums = cpu_bn_bwd_sums, .batchnorm_backward_with = cpu_bn_bwd_with,
    .relu_forward = cpu_relu_fwd, .relu_backward = cpu_relu_bwd, .add = cpu_add,
    .ntxent_scratch = cdt_ntxent_scratch, .ntxent_forward = cpu_ntxent_fwd,
    .ntxent_backward = cpu_ntxent_bwd,
    .entropy_forward = cpu_entropy_fwd, .entropy_backward = cpu_entropy_bwd,
    .scale_views = cpu_scale_views, .transpose = cpu_transpose,
    .add_transposed = cpu_add_transposed, .grad_norm = cpu_grad_norm, .adam_step = cpu_adam,
    .batchnorm_relu_forward = cpu_bn_relu_fwd,
    .add_relu_forward = cpu_add_relu_fwd, .add_relu_backward = cpu_add_relu_bwd,
    .layer_names = CDT_LAYER_NAMES, .layers = {CDT_LAYERS(CPU_LAYER)},
};

const cdt_backend_i *cdt_backend_cpu(void) { return &cpu_table; }
