/* bench_cuda_ops.c: times the CUDA twins at the sizes of one ResNet18 step
 * on CIFAR (batch N = 256 per view), so that the first GPU run comes back
 * with numbers as well as a pass/fail. Each op runs 3 times to warm up,
 * then 15 times, each timed on the host around a stream sync (the ops are
 * 0.05-5 ms, far above the ~10 us a sync adds); the median is printed with
 * the rate it implies: TFLOP/s for gemm ops (2 flops per multiply-add),
 * GB/s for the rest (the fewest bytes the op must move: inputs read once,
 * outputs written once). Inputs are random, never zeros. Exits 77 without
 * a CUDA device. A timing tool, not a test: it checks nothing but errors. */
#include "cdt_cuda.h"
#include "cdt_core.h"
#include "cdt_nn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WARM 3
#define REPS 15
#define N 256

typedef struct bench {
    cdt_cuda_ctx *g;
    uint64_t rng;
    const char *mode;
    int failed;
} bench;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A device buffer of n random floats in [-1, 1). */
static float *drand(bench *b, size_t n)
{
    float *h = malloc(n * sizeof *h), *d;
    if (!h) abort();
    for (size_t i = 0; i < n; i++) {
        b->rng ^= b->rng << 13; // xorshift64
        b->rng ^= b->rng >> 7;
        b->rng ^= b->rng << 17;
        h[i] = (float)((double)(b->rng >> 40) / (1 << 23) - 1);
    }
    if (cdt_cuda_alloc(b->g, (void **)&d, n * sizeof *d) < 0 ||
        cdt_cuda_upload(b->g, d, h, n * sizeof *d) < 0) {
        fprintf(stderr, "bench_cuda_ops: %s\n", cdt_cuda_errmsg(b->g));
        exit(1);
    }
    free(h);
    return d;
}

/* One op as a callback over a small argument block. */
typedef int (*op_fn)(bench *b, void *arg);

static void timeit(bench *b, const char *name, op_fn fn, void *arg, double flops, double bytes)
{
    double t[REPS];
    for (int r = 0; r < WARM + REPS; r++) {
        double t0 = now();
        if (fn(b, arg) < 0 || cdt_cuda_sync(b->g) < 0) {
            printf("%-30s %-5s error: %s\n", name, b->mode, cdt_cuda_errmsg(b->g));
            b->failed++;
            return;
        }
        if (r >= WARM) t[r - WARM] = now() - t0;
    }
    qsort(t, REPS, sizeof *t, cmp);
    double ms = t[REPS / 2] * 1e3;
    if (flops > 0) printf("%-30s %-5s %9.3f ms %8.1f TFLOP/s\n", name, b->mode, ms, flops / ms / 1e9);
    else printf("%-30s %-5s %9.3f ms %8.0f GB/s\n", name, b->mode, ms, bytes / ms / 1e6);
}

typedef struct conv_arg { cdt_conv2d_params p; float *x, *w, *y, *dy, *dx, *dw, *s; } conv_arg;
static int conv_fwd(bench *b, void *a)
{
    conv_arg *c = a;
    return cdt_conv2d_forward_cuda(b->g, c->y, c->x, c->w, c->s, &c->p);
}
static int conv_bwd(bench *b, void *a)
{
    conv_arg *c = a;
    return cdt_conv2d_backward_cuda(b->g, c->dx, c->dw, c->dy, c->x, c->w, c->s, &c->p);
}

static void bench_conv(bench *b, int c, int hw)
{
    conv_arg a = {.p = {.n = N, .c = c, .h = hw, .w = hw, .oc = c, .kh = 3, .kw = 3,
                        .stride = 1, .pad = 1}};
    size_t nx = (size_t)N * c * hw * hw, nw = (size_t)c * c * 9;
    a.x = drand(b, nx); a.y = drand(b, nx); a.dy = drand(b, nx); a.dx = drand(b, nx);
    a.w = drand(b, nw); a.dw = drand(b, nw); a.s = drand(b, cdt_conv2d_scratch_cuda(&a.p));
    double macs = (double)N * c * hw * hw * c * 9;
    char name[64];
    snprintf(name, sizeof name, "conv3x3 %d->%d %dx%d fwd", c, c, hw, hw);
    timeit(b, name, conv_fwd, &a, 2 * macs, 0);
    snprintf(name, sizeof name, "conv3x3 %d->%d %dx%d bwd", c, c, hw, hw);
    timeit(b, name, conv_bwd, &a, 4 * macs, 0);
    float *bufs[] = {a.x, a.y, a.dy, a.dx, a.w, a.dw, a.s};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) cdt_cuda_free(b->g, bufs[i]);
}

typedef struct bn_arg {
    cdt_bn_params p;
    float *x, *y, *dy, *dx, *ga, *be, *m, *is, *rm, *rv, *dg, *db;
} bn_arg;
static int bn_fwd(bench *b, void *a)
{
    bn_arg *c = a;
    return cdt_batchnorm_forward_cuda(b->g, c->y, c->m, c->is, c->rm, c->rv, c->x, c->ga, c->be, &c->p);
}
static int bn_bwd(bench *b, void *a)
{
    bn_arg *c = a;
    return cdt_batchnorm_backward_cuda(b->g, c->dx, c->dg, c->db, c->dy, c->x, c->m, c->is, c->ga, &c->p);
}
static int relu_fwd(bench *b, void *a)
{
    bn_arg *c = a;
    return cdt_relu_forward_cuda(b->g, c->y, c->x, (size_t)c->p.n * c->p.c * c->p.hw);
}

static void bench_bn(bench *b, int c, int hw)
{
    bn_arg a = {.p = {.n = N, .c = c, .hw = hw, .momentum = 0.1, .eps = 1e-5}};
    size_t nx = (size_t)N * c * hw;
    a.x = drand(b, nx); a.y = drand(b, nx); a.dy = drand(b, nx); a.dx = drand(b, nx);
    a.ga = drand(b, c); a.be = drand(b, c); a.m = drand(b, c); a.is = drand(b, c);
    a.rm = drand(b, c); a.rv = drand(b, c); a.dg = drand(b, c); a.db = drand(b, c);
    char name[64];
    snprintf(name, sizeof name, "batchnorm %dch hw%d fwd", c, hw);
    timeit(b, name, bn_fwd, &a, 0, 8.0 * nx); // x read, out written
    snprintf(name, sizeof name, "batchnorm %dch hw%d bwd", c, hw);
    timeit(b, name, bn_bwd, &a, 0, 12.0 * nx); // x, dout read, dx written
    snprintf(name, sizeof name, "relu %dch hw%d fwd", c, hw);
    timeit(b, name, relu_fwd, &a, 0, 8.0 * nx);
    float *bufs[] = {a.x, a.y, a.dy, a.dx, a.ga, a.be, a.m, a.is, a.rm, a.rv, a.dg, a.db};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) cdt_cuda_free(b->g, bufs[i]);
}

typedef struct ntx_arg { cdt_ntxent_params p; float *z1, *z2, *d1, *d2, *s, *loss; } ntx_arg;
static int ntx_step(bench *b, void *a)
{
    ntx_arg *c = a;
    int rc = cdt_ntxent_forward_cuda(b->g, c->loss, c->z1, c->z2, c->s, &c->p);
    return rc < 0 ? rc : cdt_ntxent_backward_cuda(b->g, c->d1, c->d2, 1, c->z1, c->z2, c->s, &c->p);
}

typedef struct opt_arg { size_t n; float *w, *m, *v, *g; double *norm; } opt_arg;
static int adam(bench *b, void *a)
{
    opt_arg *c = a;
    cdt_adam_params p = {.lr = 3e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0};
    return cdt_adam_step_cuda(b->g, c->w, c->m, c->v, c->g, c->n, 10, &p);
}
static int clip(bench *b, void *a)
{
    opt_arg *c = a;
    return cdt_clip_grad_norm_cuda(b->g, c->norm, c->g, c->n, 1e9); // measures, never scales
}

static void bench_small(bench *b)
{
    ntx_arg x = {.p = {.m = N, .d = 128, .temp = 0.5}};
    x.z1 = drand(b, N * 128); x.z2 = drand(b, N * 128); x.d1 = drand(b, N * 128);
    x.d2 = drand(b, N * 128); x.s = drand(b, cdt_ntxent_scratch_cuda(&x.p)); x.loss = drand(b, 1);
    timeit(b, "ntxent N256 d128 fwd+bwd", ntx_step, &x, 0, 4.0 * 4 * N * 128);
    float *nb[] = {x.z1, x.z2, x.d1, x.d2, x.s, x.loss};
    for (size_t i = 0; i < sizeof nb / sizeof *nb; i++) cdt_cuda_free(b->g, nb[i]);
    opt_arg o = {.n = 11689512}; // ResNet18's parameters
    o.w = drand(b, o.n); o.m = drand(b, o.n); o.v = drand(b, o.n); o.g = drand(b, o.n);
    if (cdt_cuda_alloc(b->g, (void **)&o.norm, sizeof *o.norm) < 0) exit(1);
    timeit(b, "adam 11.7M", adam, &o, 0, 28.0 * o.n); // w, m, v read+written, g read
    timeit(b, "clip_grad_norm 11.7M", clip, &o, 0, 4.0 * o.n);
    float *ob[] = {o.w, o.m, o.v, o.g};
    for (size_t i = 0; i < sizeof ob / sizeof *ob; i++) cdt_cuda_free(b->g, ob[i]);
    cdt_cuda_free(b->g, o.norm);
}

int main(void)
{
    int count;
    if (cdt_cuda_device_count(&count) < 0 || count == 0) {
        printf("no CUDA device: nothing to time\n");
        return 77;
    }
    bench b = {.rng = 88172645463325252ull, .mode = "fp32"};
    int rc = cdt_cuda_ctx_create(&b.g, 0, CDT_CUDA_FP32);
    if (rc < 0) {
        printf("cdt_cuda_ctx_create: %s\n", cdt_strerror(rc));
        return 1;
    }
    printf("device %s, batch %d per view, median of %d\n", cdt_cuda_device_name(b.g), N, REPS);
    bench_bn(&b, 64, 32 * 32);
    bench_bn(&b, 512, 4 * 4);
    bench_small(&b);
    const char *modes[] = {"fp32", "tf32"};
    for (int m = 0; m < 2; m++) {
        cdt_cuda_set_math(b.g, m == 0 ? CDT_CUDA_FP32 : CDT_CUDA_TF32);
        b.mode = modes[m];
        bench_conv(&b, 64, 32);
        bench_conv(&b, 512, 4);
    }
    cdt_cuda_ctx_destroy(b.g);
    return b.failed ? 1 : 0;
}
