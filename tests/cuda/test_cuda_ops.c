/* test_cuda_ops.c: every CUDA twin in libcdt_cuda.so against its CPU
 * function in libcdt, on fresh random inputs (never zeros), with every
 * device output poisoned (NaN bytes) before the call so that an unwritten
 * element fails the check. Accumulated outputs (dw += ...) start from the
 * same random values on both sides, which also checks the += rule.
 *
 * The measure is ||gpu - cpu|| / ||cpu|| over an output, in double; NaN
 * never passes. Tolerances, and why:
 *   1e-5  fp32 everywhere: cuBLAS fp32 and OpenBLAS sum in other orders,
 *         and the reductions differ in order (both in double where the
 *         CPU uses double); measured fp32 gaps should sit near 1e-7.
 *   1e-3  the gemm ops again with cuBLAS in tf32 (10-bit mantissa inputs:
 *         ~3e-4 expected).
 *   2e-2  the gemm ops with bf16 inputs (7-bit mantissa: ~3e-3 expected).
 *   0     argmax, and the u8 -> float scaling (the same IEEE division).
 *
 * Exits 77 when there is no CUDA device. CDT_CUDA_SEED=<n> repeats a run
 * (the seed is printed first). CDT_CUDA_QUICK=1 leaves out the large cases
 * (a two-group conv, N=512 NT-Xent, 11.7M-gradient clipping), for runs
 * under compute-sanitizer, which slows kernels 10-100x. One row per check; the last line says how
 * many failed. */
#include "cdt_cuda.h"
#include "cdt_core.h"
#include "cdt_nn.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct tc {
    cdt_cuda_ctx *g;
    const char *mode; // "fp32", "tf32", "bf16"
    double gemm_tol;  // tolerance of the ops that go through cuBLAS
    int checks, failed;
    uint64_t rng;
    double worst;     // the largest error/tolerance seen
    int quick;        // leave out the large cases
} tc;

#define TOL_FP32 1e-5
#define TOL_TF32 1e-3
#define TOL_BF16 2e-2

/* A CUDA call that fails ends the test function with a failure. */
#define TRY(t, call) do { int rc_ = (call); if (rc_ < 0) { (t)->failed++; \
    printf("%-28s %-5s error %s: %s\n", __func__, (t)->mode, cdt_strerror(rc_), \
           cdt_cuda_errmsg((t)->g)); return; } } while (0)

static double uniform(tc *t, double lo, double hi)
{
    t->rng ^= t->rng << 13; // xorshift64
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    return lo + (hi - lo) * (double)(t->rng >> 11) / 9007199254740992.0;
}

static float *hrand(tc *t, size_t n, double lo, double hi)
{
    float *h = malloc(n * sizeof *h);
    if (!h) abort();
    for (size_t i = 0; i < n; i++) h[i] = (float)uniform(t, lo, hi);
    return h;
}

/* A device copy of n floats (or any bytes) of host memory. */
static void *dcopy(tc *t, const void *h, size_t bytes)
{
    void *d;
    if (cdt_cuda_alloc(t->g, &d, bytes) < 0 || cdt_cuda_upload(t->g, d, h, bytes) < 0) {
        fprintf(stderr, "test_cuda_ops: %s\n", cdt_cuda_errmsg(t->g));
        exit(1);
    }
    return d;
}

/* An output buffer filled with 0xff bytes: NaN as float, -1 as int32. */
static void *dpoison(tc *t, size_t bytes)
{
    void *d;
    if (cdt_cuda_alloc(t->g, &d, bytes) < 0 || cdt_cuda_memset(t->g, d, 0xff, bytes) < 0) {
        fprintf(stderr, "test_cuda_ops: %s\n", cdt_cuda_errmsg(t->g));
        exit(1);
    }
    return d;
}

static double relerr(const float *a, const float *b, size_t n) // (n), (n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void report(tc *t, const char *op, double err, double tol)
{
    int ok = err <= tol; // false for NaN
    t->checks++;
    if (!ok) t->failed++;
    if (ok && tol > 0 && err / tol > t->worst) t->worst = err / tol;
    printf("%-28s %-5s %10.3e %8.0e  %s\n", op, t->mode, err, tol, ok ? "ok" : "FAIL");
}

/* Downloads n floats of dev and compares them with ref. */
static void check(tc *t, const char *op, const float *dev, const float *ref, size_t n, double tol)
{
    float *h = malloc(n * sizeof *h);
    if (!h) abort();
    if (cdt_cuda_download(t->g, h, dev, n * sizeof *h) < 0) {
        t->failed++;
        printf("%-28s %-5s error: %s\n", op, t->mode, cdt_cuda_errmsg(t->g));
    } else {
        report(t, op, relerr(h, ref, n), tol);
    }
    free(h);
}

/* The same for n doubles of dev (the batch norm sums). */
static void check_f64(tc *t, const char *op, const double *dev, const double *ref, size_t n,
                      double tol)
{
    double *h = malloc(n * sizeof *h), num = 0, den = 0;
    if (!h) abort();
    if (cdt_cuda_download(t->g, h, dev, n * sizeof *h) < 0) {
        t->failed++;
        printf("%-28s %-5s error: %s\n", op, t->mode, cdt_cuda_errmsg(t->g));
    } else {
        for (size_t i = 0; i < n; i++) {
            num += (h[i] - ref[i]) * (h[i] - ref[i]);
            den += ref[i] * ref[i];
        }
        report(t, op, den > 0 ? sqrt(num / den) : sqrt(num), tol);
    }
    free(h);
}

static void check_i32(tc *t, const char *op, const int32_t *dev, const int32_t *ref, size_t n)
{
    int32_t *h = malloc(n * sizeof *h);
    if (!h) abort();
    size_t bad = n;
    if (cdt_cuda_download(t->g, h, dev, n * sizeof *h) >= 0)
        for (size_t i = bad = 0; i < n; i++) bad += h[i] != ref[i];
    report(t, op, (double)bad, 0);
    free(h);
}

static void dfree(tc *t, void *d) { cdt_cuda_free(t->g, d); }

/* ---- input scaling ---- */
static void test_scale_views(tc *t)
{
    size_t n = 5, img = 3 * 17 * 19, all = 2 * n * img;
    uint8_t *x = malloc(all);
    float *r0 = malloc(n * img * sizeof *r0), *r1 = malloc(n * img * sizeof *r1);
    for (size_t i = 0; i < all; i++) x[i] = (uint8_t)uniform(t, 0, 256);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < img; k++) {
            r0[i * img + k] = (float)x[2 * i * img + k] / 255.0f;
            r1[i * img + k] = (float)x[(2 * i + 1) * img + k] / 255.0f;
        }
    uint8_t *dx = dcopy(t, x, all);
    float *d0 = dpoison(t, n * img * 4), *d1 = dpoison(t, n * img * 4);
    TRY(t, cdt_scale_views_cuda(t->g, d0, d1, dx, n, img));
    check(t, "scale_views v0", d0, r0, n * img, 0);
    check(t, "scale_views v1", d1, r1, n * img, 0);
    dfree(t, dx); dfree(t, d0); dfree(t, d1);
    free(x); free(r0); free(r1);
}

/* ---- conv2d ---- */
static void conv_case(tc *t, cdt_conv2d_params p, int with_dx)
{
    size_t nx = (size_t)p.n * p.c * p.h * p.w, nw = (size_t)p.oc * p.c * p.kh * p.kw;
    size_t ny = (size_t)p.n * p.oc * cdt_conv2d_out_h(&p) * cdt_conv2d_out_w(&p);
    size_t ns = cdt_conv2d_scratch(&p), gns = cdt_conv2d_scratch_cuda(&p);
    float *x = hrand(t, nx, -1, 1), *w = hrand(t, nw, -0.5, 0.5), *dy = hrand(t, ny, -1, 1);
    float *dw = hrand(t, nw, -1, 1), *y = malloc(ny * 4), *dx = malloc(nx * 4);
    float *s = malloc(ns * 4);
    float *gx = dcopy(t, x, nx * 4), *gw = dcopy(t, w, nw * 4), *gdy = dcopy(t, dy, ny * 4);
    float *gdw = dcopy(t, dw, nw * 4), *gy = dpoison(t, ny * 4), *gdx = dpoison(t, nx * 4);
    float *gs = dpoison(t, gns * 4);
    cdt_conv2d_forward(y, x, w, s, &p);
    cdt_conv2d_backward(with_dx ? dx : NULL, dw, dy, x, w, s, &p);
    TRY(t, cdt_conv2d_forward_cuda(t->g, gy, gx, gw, gs, &p));
    TRY(t, cdt_conv2d_backward_cuda(t->g, with_dx ? gdx : NULL, gdw, gdy, gx, gw, gs, &p));
    char name[64];
    snprintf(name, sizeof name, "conv2d fwd %dx%d/%d c%d", p.kh, p.kw, p.stride, p.c);
    check(t, name, gy, y, ny, t->gemm_tol);
    snprintf(name, sizeof name, "conv2d bwd dw %dx%d/%d", p.kh, p.kw, p.stride);
    check(t, name, gdw, dw, nw, t->gemm_tol);
    snprintf(name, sizeof name, "conv2d bwd dx %dx%d/%d", p.kh, p.kw, p.stride);
    if (with_dx) check(t, name, gdx, dx, nx, t->gemm_tol);
    dfree(t, gx); dfree(t, gw); dfree(t, gdy); dfree(t, gdw); dfree(t, gy); dfree(t, gdx);
    dfree(t, gs);
    free(x); free(w); free(dy); free(dw); free(y); free(dx); free(s);
}

static void test_conv2d(tc *t)
{
    // a 3x3 body conv, the 7x7/2 stem, a 1x1/2 shortcut, a first layer
    // without dx, and one large enough that the batch goes in two groups
    conv_case(t, (cdt_conv2d_params){.n = 4, .c = 3, .h = 17, .w = 15, .oc = 8,
                                     .kh = 3, .kw = 3, .stride = 1, .pad = 1}, 1);
    conv_case(t, (cdt_conv2d_params){.n = 3, .c = 5, .h = 16, .w = 16, .oc = 6,
                                     .kh = 7, .kw = 7, .stride = 2, .pad = 3}, 1);
    conv_case(t, (cdt_conv2d_params){.n = 2, .c = 8, .h = 9, .w = 9, .oc = 16,
                                     .kh = 1, .kw = 1, .stride = 2, .pad = 0}, 1);
    conv_case(t, (cdt_conv2d_params){.n = 2, .c = 3, .h = 8, .w = 8, .oc = 4,
                                     .kh = 3, .kw = 3, .stride = 1, .pad = 1}, 0);
    if (!t->quick)
        conv_case(t, (cdt_conv2d_params){.n = 8, .c = 64, .h = 64, .w = 64, .oc = 64,
                                         .kh = 3, .kw = 3, .stride = 1, .pad = 1}, 1);
}

/* ---- batch norm ---- */
static void bn_case(tc *t, cdt_bn_params p)
{
    size_t nx = (size_t)p.n * p.c * p.hw, c = p.c;
    float *x = hrand(t, nx, -1, 3), *dy = hrand(t, nx, -1, 1), *ga = hrand(t, c, 0.5, 1.5);
    float *be = hrand(t, c, -0.5, 0.5), *rm = hrand(t, c, -1, 1), *rv = hrand(t, c, 0.5, 2);
    float *dg = hrand(t, c, -1, 1), *db = hrand(t, c, -1, 1);
    float *y = malloc(nx * 4), *ye = malloc(nx * 4), *dx = malloc(nx * 4);
    float *mean = malloc(c * 4), *is = malloc(c * 4);
    float *gx = dcopy(t, x, nx * 4), *gdy = dcopy(t, dy, nx * 4), *gga = dcopy(t, ga, c * 4);
    float *gbe = dcopy(t, be, c * 4), *grm = dcopy(t, rm, c * 4), *grv = dcopy(t, rv, c * 4);
    float *gdg = dcopy(t, dg, c * 4), *gdb = dcopy(t, db, c * 4);
    float *gy = dpoison(t, nx * 4), *gye = dpoison(t, nx * 4), *gdx = dpoison(t, nx * 4);
    float *gmean = dpoison(t, c * 4), *gis = dpoison(t, c * 4);
    // eval first: the training forward moves the running statistics
    cdt_batchnorm_forward_eval(ye, x, ga, be, rm, rv, &p);
    TRY(t, cdt_batchnorm_forward_eval_cuda(t->g, gye, gx, gga, gbe, grm, grv, &p));
    cdt_batchnorm_forward(y, mean, is, rm, rv, x, ga, be, &p);
    cdt_batchnorm_backward(dx, dg, db, dy, x, mean, is, ga, &p);
    TRY(t, cdt_batchnorm_forward_cuda(t->g, gy, gmean, gis, grm, grv, gx, gga, gbe, &p));
    TRY(t, cdt_batchnorm_backward_cuda(t->g, gdx, gdg, gdb, gdy, gx, gmean, gis, gga, &p));
    const char *k = p.hw == 1 ? "bn1d" : "bn2d";
    char name[64];
#define BN_CHECK(what, dev, ref, n) (snprintf(name, sizeof name, "%s %s", k, what), \
                                     check(t, name, dev, ref, n, TOL_FP32))
    BN_CHECK("eval out", gye, ye, nx);
    BN_CHECK("fwd out", gy, y, nx);
    BN_CHECK("fwd mean", gmean, mean, c);
    BN_CHECK("fwd invstd", gis, is, c);
    BN_CHECK("running_mean", grm, rm, c);
    BN_CHECK("running_var", grv, rv, c);
    BN_CHECK("bwd dx", gdx, dx, nx);
    BN_CHECK("bwd dgamma", gdg, dg, c);
    BN_CHECK("bwd dbeta", gdb, db, c);
#undef BN_CHECK
    void *dev[] = {gx, gdy, gga, gbe, grm, grv, gdg, gdb, gy, gye, gdx, gmean, gis};
    for (size_t i = 0; i < sizeof dev / sizeof *dev; i++) dfree(t, dev[i]);
    float *host[] = {x, dy, ga, be, rm, rv, dg, db, y, ye, dx, mean, is};
    for (size_t i = 0; i < sizeof host / sizeof *host; i++) free(host[i]);
}

/* ---- batch norm across processes, in pieces ---- */
/* Each piece against its CPU twin, on the same inputs: the CPU's own
 * intermediate results go to both sides. backward_with gets local sums
 * unlike the global ones, to tell which one dgamma, dbeta and dx take. */
static void bn_twins_case(tc *t, cdt_bn_params p)
{
    size_t nx = (size_t)p.n * p.c * p.hw, c = p.c;
    double count = (double)p.n * p.hw;
    float *x = hrand(t, nx, -1, 3), *dy = hrand(t, nx, -1, 1), *ga = hrand(t, c, 0.5, 1.5);
    float *be = hrand(t, c, -0.5, 0.5), *rm = hrand(t, c, -1, 1), *rv = hrand(t, c, 0.5, 2);
    float *dg = hrand(t, c, -1, 1), *db = hrand(t, c, -1, 1);
    float *y = malloc(nx * 4), *dx = malloc(nx * 4), *mean = malloc(c * 4), *is = malloc(c * 4);
    double *s1 = malloc(c * 8), *s2 = malloc(c * 8), *mu = malloc(c * 8), *var = malloc(c * 8);
    double *bs = malloc(2 * c * 8), *loc = malloc(2 * c * 8);
    float *gx = dcopy(t, x, nx * 4), *gdy = dcopy(t, dy, nx * 4), *gga = dcopy(t, ga, c * 4);
    float *gbe = dcopy(t, be, c * 4), *grm = dcopy(t, rm, c * 4), *grv = dcopy(t, rv, c * 4);
    float *gdg = dcopy(t, dg, c * 4), *gdb = dcopy(t, db, c * 4);
    float *gy = dpoison(t, nx * 4), *gdx = dpoison(t, nx * 4);
    float *gmean = dpoison(t, c * 4), *gis = dpoison(t, c * 4);
    double *gs1 = dpoison(t, c * 8), *gs2 = dpoison(t, c * 8), *gbs = dpoison(t, 2 * c * 8);
    cdt_batchnorm_sums(s1, x, NULL, &p);
    for (size_t i = 0; i < c; i++) mu[i] = s1[i] / count;
    cdt_batchnorm_sums(s2, x, mu, &p);
    for (size_t i = 0; i < c; i++) var[i] = s2[i] / count;
    double *gmu = dcopy(t, mu, c * 8), *gvar = dcopy(t, var, c * 8);
    cdt_batchnorm_forward_with(y, mean, is, rm, rv, x, ga, be, mu, var, count, &p);
    float *gmean_in = dcopy(t, mean, c * 4), *gis_in = dcopy(t, is, c * 4);
    cdt_batchnorm_backward_sums(bs, dy, x, mean, is, &p);
    for (size_t i = 0; i < 2 * c; i++) loc[i] = bs[i] * uniform(t, 0.2, 0.8);
    double *gbs_in = dcopy(t, bs, 2 * c * 8), *gloc = dcopy(t, loc, 2 * c * 8);
    cdt_batchnorm_backward_with(dx, dg, db, loc, bs, count, dy, x, mean, is, ga, &p);
    TRY(t, cdt_batchnorm_sums_cuda(t->g, gs1, gx, NULL, &p));
    TRY(t, cdt_batchnorm_sums_cuda(t->g, gs2, gx, gmu, &p));
    TRY(t, cdt_batchnorm_forward_with_cuda(t->g, gy, gmean, gis, grm, grv, gx, gga, gbe, gmu, gvar,
                                           count, &p));
    TRY(t, cdt_batchnorm_backward_sums_cuda(t->g, gbs, gdy, gx, gmean_in, gis_in, &p));
    TRY(t, cdt_batchnorm_backward_with_cuda(t->g, gdx, gdg, gdb, gloc, gbs_in, count, gdy, gx,
                                            gmean_in, gis_in, gga, &p));
    const char *k = p.hw == 1 ? "bn1d" : "bn2d";
    char name[64];
#define BN_CHECK(what, f, dev, ref, n) (snprintf(name, sizeof name, "%s %s", k, what), \
                                        f(t, name, dev, ref, n, TOL_FP32))
    BN_CHECK("sums x", check_f64, gs1, s1, c);
    BN_CHECK("sums (x-mean)^2", check_f64, gs2, s2, c);
    BN_CHECK("fwd_with out", check, gy, y, nx);
    BN_CHECK("fwd_with mean", check, gmean, mean, c);
    BN_CHECK("fwd_with invstd", check, gis, is, c);
    BN_CHECK("fwd_with running_mean", check, grm, rm, c);
    BN_CHECK("fwd_with running_var", check, grv, rv, c);
    BN_CHECK("bwd_sums", check_f64, gbs, bs, 2 * c);
    BN_CHECK("bwd_with dx", check, gdx, dx, nx);
    BN_CHECK("bwd_with dgamma", check, gdg, dg, c);
    BN_CHECK("bwd_with dbeta", check, gdb, db, c);
#undef BN_CHECK
    void *dev[] = {gx, gdy, gga, gbe, grm, grv, gdg, gdb, gy, gdx, gmean, gis, gs1, gs2, gbs,
                   gmu, gvar, gmean_in, gis_in, gbs_in, gloc};
    for (size_t i = 0; i < sizeof dev / sizeof *dev; i++) dfree(t, dev[i]);
    void *host[] = {x, dy, ga, be, rm, rv, dg, db, y, dx, mean, is, s1, s2, mu, var, bs, loc};
    for (size_t i = 0; i < sizeof host / sizeof *host; i++) free(host[i]);
}

/* parts[k] holds the part's device sums (n doubles); tot (device, n) gets
 * their sum times scale, added on the host in part order, as the caller of
 * the pieces adds the processes' sums. */
static int bn_add_parts(tc *t, double *tot, double *const *parts, int nparts, size_t n,
                        double scale)
{
    double *h = malloc(n * sizeof *h), *acc = calloc(n, sizeof *acc);
    if (!h || !acc) abort();
    int rc = 0;
    for (int k = 0; k < nparts && rc >= 0; k++) {
        rc = cdt_cuda_download(t->g, h, parts[k], n * sizeof *h);
        for (size_t i = 0; i < n && rc >= 0; i++) acc[i] += h[i];
    }
    for (size_t i = 0; i < n; i++) acc[i] *= scale;
    if (rc >= 0) rc = cdt_cuda_upload(t->g, tot, acc, n * sizeof *acc);
    free(h);
    free(acc);
    return rc;
}

/* The batch (N,C,HW) of p split into nparts (1 or 2) parts along N, each
 * as one process would run it on the GPU: sums(NULL) -> mean, sums(mean)
 * -> variance, forward_with, backward_sums, backward_with, the parts'
 * sums added between the calls. y, dx: the whole batch's, each part
 * writing its own rows; part k keeps its own mean[k] ... db[k]. */
typedef struct bn_part_out {
    float *mean, *is, *rm, *rv, *dg, *db; // (C) each, device
} bn_part_out;

static int bn_pieces_gpu(tc *t, const cdt_bn_params *p, int nparts, float *y, float *dx,
                         const float *x, const float *dy, const float *ga, const float *be,
                         bn_part_out *out)
{
    size_t c = p->c, chw = (size_t)p->c * p->hw;
    double count = (double)p->n * p->hw;
    cdt_bn_params pp[2] = {*p, *p};
    size_t off[2] = {0, 0};
    if (nparts == 2) {
        pp[0].n = p->n / 2;
        pp[1].n = p->n - pp[0].n;
        off[1] = pp[0].n * chw;
    }
    double *s[2] = {NULL, NULL}, *mu = dpoison(t, c * 8), *var = dpoison(t, c * 8);
    double *glob = dpoison(t, 2 * c * 8);
    for (int k = 0; k < nparts; k++) s[k] = dpoison(t, 2 * c * 8);
    int rc = 0;
    for (int k = 0; k < nparts && rc >= 0; k++)
        rc = cdt_batchnorm_sums_cuda(t->g, s[k], x + off[k], NULL, &pp[k]);
    if (rc >= 0) rc = bn_add_parts(t, mu, s, nparts, c, 1 / count);
    for (int k = 0; k < nparts && rc >= 0; k++)
        rc = cdt_batchnorm_sums_cuda(t->g, s[k], x + off[k], mu, &pp[k]);
    if (rc >= 0) rc = bn_add_parts(t, var, s, nparts, c, 1 / count);
    for (int k = 0; k < nparts && rc >= 0; k++)
        rc = cdt_batchnorm_forward_with_cuda(t->g, y + off[k], out[k].mean, out[k].is, out[k].rm,
                                             out[k].rv, x + off[k], ga, be, mu, var, count, &pp[k]);
    for (int k = 0; k < nparts && rc >= 0; k++)
        rc = cdt_batchnorm_backward_sums_cuda(t->g, s[k], dy + off[k], x + off[k], out[k].mean,
                                              out[k].is, &pp[k]);
    if (rc >= 0) rc = bn_add_parts(t, glob, s, nparts, 2 * c, 1);
    for (int k = 0; k < nparts && rc >= 0; k++)
        rc = cdt_batchnorm_backward_with_cuda(t->g, dx + off[k], out[k].dg, out[k].db, s[k], glob,
                                              count, dy + off[k], x + off[k], out[k].mean,
                                              out[k].is, ga, &pp[k]);
    for (int k = 0; k < nparts; k++) dfree(t, s[k]);
    dfree(t, mu); dfree(t, var); dfree(t, glob);
    return rc;
}

/* The pieces on the GPU, the batch in one part and in two halves (two
 * processes holding half the batch each), against the fused forward and
 * backward on the CPU over the whole batch. Each half keeps its own
 * running statistics, which must both come out as the whole batch's;
 * dgamma and dbeta are the halves' added (the second starts at zero). */
static void bn_parts_case(tc *t, cdt_bn_params p, int nparts)
{
    size_t nx = (size_t)p.n * p.c * p.hw, c = p.c;
    float *x = hrand(t, nx, -1, 3), *dy = hrand(t, nx, -1, 1), *ga = hrand(t, c, 0.5, 1.5);
    float *be = hrand(t, c, -0.5, 0.5), *rm = hrand(t, c, -1, 1), *rv = hrand(t, c, 0.5, 2);
    float *dg = hrand(t, c, -1, 1), *db = hrand(t, c, -1, 1), *zero = calloc(c, 4);
    float *y = malloc(nx * 4), *dx = malloc(nx * 4), *mean = malloc(c * 4), *is = malloc(c * 4);
    float *gx = dcopy(t, x, nx * 4), *gdy = dcopy(t, dy, nx * 4), *gga = dcopy(t, ga, c * 4);
    float *gbe = dcopy(t, be, c * 4), *gy = dpoison(t, nx * 4), *gdx = dpoison(t, nx * 4);
    bn_part_out out[2];
    for (int k = 0; k < nparts; k++)
        out[k] = (bn_part_out){.mean = dpoison(t, c * 4), .is = dpoison(t, c * 4),
                               .rm = dcopy(t, rm, c * 4), .rv = dcopy(t, rv, c * 4),
                               .dg = dcopy(t, k ? zero : dg, c * 4),
                               .db = dcopy(t, k ? zero : db, c * 4)};
    cdt_batchnorm_forward(y, mean, is, rm, rv, x, ga, be, &p);
    cdt_batchnorm_backward(dx, dg, db, dy, x, mean, is, ga, &p);
    TRY(t, bn_pieces_gpu(t, &p, nparts, gy, gdx, gx, gdy, gga, gbe, out));
    float *hdg = calloc(c, 4), *hdb = calloc(c, 4), *h = malloc(c * 4);
    for (int k = 0; k < nparts; k++) { // the caller adds the parameter gradients
        TRY(t, cdt_cuda_download(t->g, h, out[k].dg, c * 4));
        for (size_t i = 0; i < c; i++) hdg[i] += h[i];
        TRY(t, cdt_cuda_download(t->g, h, out[k].db, c * 4));
        for (size_t i = 0; i < c; i++) hdb[i] += h[i];
    }
    char name[64];
    const char *k = p.hw == 1 ? "bn1d" : "bn2d", *how = nparts == 1 ? "1 part" : "halves";
#define BN_CHECK(what, dev, ref, n) (snprintf(name, sizeof name, "%s %s %s", k, how, what), \
                                     check(t, name, dev, ref, n, TOL_FP32))
    BN_CHECK("= fused out", gy, y, nx);
    BN_CHECK("= fused dx", gdx, dx, nx);
    for (int i = 0; i < nparts; i++) { // each part's own copy
        if (nparts > 1) how = i ? "half 2" : "half 1";
        BN_CHECK("= fused mean", out[i].mean, mean, c);
        BN_CHECK("= fused invstd", out[i].is, is, c);
        BN_CHECK("= fused r_mean", out[i].rm, rm, c);
        BN_CHECK("= fused r_var", out[i].rv, rv, c);
    }
    if (nparts > 1) how = "halves";
#undef BN_CHECK
    snprintf(name, sizeof name, "%s %s = fused dgamma", k, how);
    report(t, name, relerr(hdg, dg, c), TOL_FP32);
    snprintf(name, sizeof name, "%s %s = fused dbeta", k, how);
    report(t, name, relerr(hdb, db, c), TOL_FP32);
    for (int i = 0; i < nparts; i++) {
        void *part[] = {out[i].mean, out[i].is, out[i].rm, out[i].rv, out[i].dg, out[i].db};
        for (size_t j = 0; j < sizeof part / sizeof *part; j++) dfree(t, part[j]);
    }
    void *dev[] = {gx, gdy, gga, gbe, gy, gdx};
    for (size_t i = 0; i < sizeof dev / sizeof *dev; i++) dfree(t, dev[i]);
    float *host[] = {x, dy, ga, be, rm, rv, dg, db, zero, y, dx, mean, is, hdg, hdb, h};
    for (size_t i = 0; i < sizeof host / sizeof *host; i++) free(host[i]);
}

static void test_batchnorm(tc *t)
{
    cdt_bn_params cases[] = {
        {.n = 6, .c = 16, .hw = 7 * 9, .momentum = 0.1, .eps = 1e-5},
        {.n = 64, .c = 64, .hw = 32 * 32, .momentum = 0.1, .eps = 1e-5},
        {.n = 37, .c = 128, .hw = 1, .momentum = 0.1, .eps = 1e-5}, // halves of 18 and 19
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bn_case(t, cases[i]);
        bn_twins_case(t, cases[i]);
        bn_parts_case(t, cases[i], 1);
        bn_parts_case(t, cases[i], 2);
    }
    // one value per channel in the whole batch has no variance: refused, as the fused op
    cdt_bn_params one = {.n = 1, .c = 2, .hw = 1, .momentum = 0.1, .eps = 1e-5};
    int rc = cdt_batchnorm_forward_with_cuda(t->g, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                             NULL, NULL, NULL, 1, &one);
    report(t, "bn fwd_with count 1 refused", rc != CDT_EINVAL, 0);
}

/* ---- elementwise ---- */
static void test_elementwise(tc *t)
{
    size_t n = 100003; // not a multiple of any block
    float *x = hrand(t, n, -3, 3), *b = hrand(t, n, -3, 3), *dy = hrand(t, n, -1, 1);
    float *y = malloc(n * 4), *s = malloc(n * 4), *dr = malloc(n * 4), *ds = malloc(n * 4);
    float *a = malloc(n * 4);
    cdt_relu_forward(y, x, n);
    cdt_relu_backward(dr, dy, y, n);
    cdt_sigmoid_forward(s, x, n);
    cdt_sigmoid_backward(ds, dy, s, n);
    cdt_add_forward(a, x, b, n);
    float *gx = dcopy(t, x, n * 4), *gb = dcopy(t, b, n * 4), *gdy = dcopy(t, dy, n * 4);
    float *gy = dpoison(t, n * 4), *gs = dpoison(t, n * 4), *gdr = dpoison(t, n * 4);
    float *gds = dpoison(t, n * 4), *ga = dpoison(t, n * 4), *gin = dcopy(t, x, n * 4);
    TRY(t, cdt_relu_forward_cuda(t->g, gy, gx, n));
    TRY(t, cdt_relu_backward_cuda(t->g, gdr, gdy, gy, n));
    TRY(t, cdt_sigmoid_forward_cuda(t->g, gs, gx, n));
    TRY(t, cdt_sigmoid_backward_cuda(t->g, gds, gdy, gs, n));
    TRY(t, cdt_add_forward_cuda(t->g, ga, gx, gb, n));
    TRY(t, cdt_relu_forward_cuda(t->g, gin, gin, n)); // in place, as the model runs it
    check(t, "relu fwd", gy, y, n, TOL_FP32);
    check(t, "relu fwd in place", gin, y, n, TOL_FP32);
    check(t, "relu bwd", gdr, dr, n, TOL_FP32);
    check(t, "sigmoid fwd", gs, s, n, TOL_FP32);
    check(t, "sigmoid bwd", gds, ds, n, TOL_FP32);
    check(t, "add fwd", ga, a, n, TOL_FP32);
    void *dev[] = {gx, gb, gdy, gy, gs, gdr, gds, ga, gin};
    for (size_t i = 0; i < sizeof dev / sizeof *dev; i++) dfree(t, dev[i]);
    float *host[] = {x, b, dy, y, s, dr, ds, a};
    for (size_t i = 0; i < sizeof host / sizeof *host; i++) free(host[i]);
}

/* ---- pooling ---- */
static void maxpool_case(tc *t, cdt_maxpool_params p)
{
    size_t nx = (size_t)p.n * p.c * p.h * p.w;
    size_t ny = (size_t)p.n * p.c * cdt_maxpool_out_h(&p) * cdt_maxpool_out_w(&p);
    float *x = hrand(t, nx, -2, 2), *dy = hrand(t, ny, -1, 1);
    float *y = malloc(ny * 4), *dx = malloc(nx * 4);
    int32_t *am = malloc(ny * 4);
    cdt_maxpool_forward(y, am, x, &p);
    cdt_maxpool_backward(dx, dy, am, &p);
    float *gx = dcopy(t, x, nx * 4), *gdy = dcopy(t, dy, ny * 4), *gy = dpoison(t, ny * 4);
    float *gdx = dpoison(t, nx * 4);
    int32_t *gam = dpoison(t, ny * 4);
    TRY(t, cdt_maxpool_forward_cuda(t->g, gy, gam, gx, &p));
    TRY(t, cdt_maxpool_backward_cuda(t->g, gdx, gdy, gam, &p));
    char name[64];
    snprintf(name, sizeof name, "maxpool %d/%d/%d fwd", p.k, p.stride, p.pad);
    check(t, name, gy, y, ny, TOL_FP32);
    snprintf(name, sizeof name, "maxpool %d/%d/%d argmax", p.k, p.stride, p.pad);
    check_i32(t, name, gam, am, ny);
    snprintf(name, sizeof name, "maxpool %d/%d/%d bwd", p.k, p.stride, p.pad);
    check(t, name, gdx, dx, nx, TOL_FP32);
    dfree(t, gx); dfree(t, gdy); dfree(t, gy); dfree(t, gdx); dfree(t, gam);
    free(x); free(dy); free(y); free(dx); free(am);
}

static void test_pool(tc *t)
{
    maxpool_case(t, (cdt_maxpool_params){.n = 3, .c = 5, .h = 17, .w = 16, .k = 3, .stride = 2, .pad = 1});
    maxpool_case(t, (cdt_maxpool_params){.n = 2, .c = 4, .h = 9, .w = 11, .k = 2, .stride = 2, .pad = 0});
    maxpool_case(t, (cdt_maxpool_params){.n = 2, .c = 3, .h = 8, .w = 8, .k = 3, .stride = 1, .pad = 1});
    int n = 7, c = 33, hw = 49;
    size_t nx = (size_t)n * c * hw, ny = (size_t)n * c;
    float *x = hrand(t, nx, -1, 2), *dy = hrand(t, ny, -1, 1), *y = malloc(ny * 4);
    float *dx = malloc(nx * 4);
    cdt_avgpool_forward(y, x, n, c, hw);
    cdt_avgpool_backward(dx, dy, n, c, hw);
    float *gx = dcopy(t, x, nx * 4), *gdy = dcopy(t, dy, ny * 4), *gy = dpoison(t, ny * 4);
    float *gdx = dpoison(t, nx * 4);
    TRY(t, cdt_avgpool_forward_cuda(t->g, gy, gx, n, c, hw));
    TRY(t, cdt_avgpool_backward_cuda(t->g, gdx, gdy, n, c, hw));
    check(t, "avgpool fwd", gy, y, ny, TOL_FP32);
    check(t, "avgpool bwd", gdx, dx, nx, TOL_FP32);
    dfree(t, gx); dfree(t, gdy); dfree(t, gy); dfree(t, gdx);
    free(x); free(dy); free(y); free(dx);
}

/* ---- linear ---- */
static void linear_case(tc *t, cdt_linear_params p, int bias)
{
    size_t nx = (size_t)p.n * p.in, nw = (size_t)p.out * p.in, ny = (size_t)p.n * p.out;
    float *x = hrand(t, nx, -1, 1), *w = hrand(t, nw, -0.3, 0.3), *b = hrand(t, p.out, -1, 1);
    float *dy = hrand(t, ny, -1, 1), *dw = hrand(t, nw, -1, 1), *db = hrand(t, p.out, -1, 1);
    float *y = malloc(ny * 4), *dx = malloc(nx * 4);
    float *gx = dcopy(t, x, nx * 4), *gw = dcopy(t, w, nw * 4), *gb = dcopy(t, b, p.out * 4);
    float *gdy = dcopy(t, dy, ny * 4), *gdw = dcopy(t, dw, nw * 4), *gdb = dcopy(t, db, p.out * 4);
    float *gy = dpoison(t, ny * 4), *gdx = dpoison(t, nx * 4);
    cdt_linear_forward(y, x, w, bias ? b : NULL, &p); // after the copies: dw, db accumulate
    cdt_linear_backward(dx, dw, bias ? db : NULL, dy, x, w, &p);
    TRY(t, cdt_linear_forward_cuda(t->g, gy, gx, gw, bias ? gb : NULL, &p));
    TRY(t, cdt_linear_backward_cuda(t->g, gdx, gdw, bias ? gdb : NULL, gdy, gx, gw, &p));
    check(t, bias ? "linear+b fwd" : "linear fwd", gy, y, ny, t->gemm_tol);
    check(t, bias ? "linear+b bwd dx" : "linear bwd dx", gdx, dx, nx, t->gemm_tol);
    check(t, bias ? "linear+b bwd dw" : "linear bwd dw", gdw, dw, nw, t->gemm_tol);
    if (bias) check(t, "linear+b bwd db", gdb, db, p.out, TOL_FP32);
    void *dev[] = {gx, gw, gb, gdy, gdw, gdb, gy, gdx};
    for (size_t i = 0; i < sizeof dev / sizeof *dev; i++) dfree(t, dev[i]);
    float *host[] = {x, w, b, dy, dw, db, y, dx};
    for (size_t i = 0; i < sizeof host / sizeof *host; i++) free(host[i]);
}

static void test_linear(tc *t)
{
    linear_case(t, (cdt_linear_params){.n = 37, .in = 129, .out = 65}, 1);
    linear_case(t, (cdt_linear_params){.n = 256, .in = 512, .out = 128}, 0);
}

/* ---- NT-Xent ---- */
static void ntxent_case(tc *t, cdt_ntxent_params p, const char *what)
{
    size_t nz = (size_t)p.m * p.d, ns = cdt_ntxent_scratch(&p), gns = cdt_ntxent_scratch_cuda(&p);
    float *z1 = hrand(t, nz, -1, 1), *z2 = hrand(t, nz, -1, 1);
    float *dz1 = malloc(nz * 4), *dz2 = malloc(nz * 4), *s = malloc(ns * 4);
    float loss = cdt_ntxent_forward(z1, z2, s, &p);
    cdt_ntxent_backward(dz1, dz2, 0.7f, z1, z2, s, &p);
    float *g1 = dcopy(t, z1, nz * 4), *g2 = dcopy(t, z2, nz * 4), *gs = dpoison(t, gns * 4);
    float *gl = dpoison(t, 4), *gd1 = dpoison(t, nz * 4), *gd2 = dpoison(t, nz * 4);
    TRY(t, cdt_ntxent_forward_cuda(t->g, gl, g1, g2, gs, &p));
    TRY(t, cdt_ntxent_backward_cuda(t->g, gd1, gd2, 0.7f, g1, g2, gs, &p));
    char name[64];
    snprintf(name, sizeof name, "ntxent %s loss", what);
    check(t, name, gl, &loss, 1, t->gemm_tol);
    snprintf(name, sizeof name, "ntxent %s dz1", what);
    check(t, name, gd1, dz1, nz, t->gemm_tol);
    snprintf(name, sizeof name, "ntxent %s dz2", what);
    check(t, name, gd2, dz2, nz, t->gemm_tol);
    dfree(t, g1); dfree(t, g2); dfree(t, gs); dfree(t, gl); dfree(t, gd1); dfree(t, gd2);
    free(z1); free(z2); free(dz1); free(dz2); free(s);
}

static void test_ntxent(tc *t)
{
    // the instance loss on z (M = N rows of 128), the feature loss on f^T
    // (M = F rows of N), and one at a batch size the model trains with
    ntxent_case(t, (cdt_ntxent_params){.m = 48, .d = 128, .temp = 0.5}, "inst");
    ntxent_case(t, (cdt_ntxent_params){.m = 10, .d = 48, .temp = 1.0}, "feat");
    if (!t->quick) ntxent_case(t, (cdt_ntxent_params){.m = 512, .d = 128, .temp = 0.5}, "N512");
}

/* ---- entropy ---- */
static void test_entropy(tc *t)
{
    size_t n = 64 * 10 + 7;
    float *p = hrand(t, n, 0.01, 0.99), *dp = malloc(n * 4);
    float h = cdt_entropy_forward(p, n);
    cdt_entropy_backward(dp, -0.3f, p, n);
    float *gp = dcopy(t, p, n * 4), *gh = dpoison(t, 4), *gdp = dpoison(t, n * 4);
    TRY(t, cdt_entropy_forward_cuda(t->g, gh, gp, n));
    TRY(t, cdt_entropy_backward_cuda(t->g, gdp, -0.3f, gp, n));
    check(t, "entropy fwd", gh, &h, 1, TOL_FP32);
    check(t, "entropy bwd", gdp, dp, n, TOL_FP32);
    dfree(t, gp); dfree(t, gh); dfree(t, gdp);
    free(p); free(dp);
}

/* ---- optimiser ---- */
static void test_adam(tc *t)
{
    size_t n = 300007;
    cdt_adam_params p = {.lr = 3e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                         .weight_decay = 5e-4};
    float *w = hrand(t, n, -1, 1), *m = hrand(t, n, -0.1, 0.1), *v = hrand(t, n, 1e-4, 1e-2);
    float *gw = dcopy(t, w, n * 4), *gm = dcopy(t, m, n * 4), *gv = dcopy(t, v, n * 4);
    for (long step = 1; step <= 3; step++) { // bias correction changes with t
        float *g = hrand(t, n, -1, 1), *gg = dcopy(t, g, n * 4);
        cdt_adam_step(w, m, v, g, n, step, &p);
        TRY(t, cdt_adam_step_cuda(t->g, gw, gm, gv, gg, n, step, &p));
        TRY(t, cdt_cuda_sync(t->g));
        dfree(t, gg);
        free(g);
    }
    check(t, "adam param", gw, w, n, TOL_FP32);
    check(t, "adam m", gm, m, n, TOL_FP32);
    check(t, "adam v", gv, v, n, TOL_FP32);
    dfree(t, gw); dfree(t, gm); dfree(t, gv);
    free(w); free(m); free(v);
}

static void clip_case(tc *t, size_t n, double max_norm, const char *what)
{
    float *g = hrand(t, n, -0.01, 0.01);
    float *gg = dcopy(t, g, n * 4);
    double *gnorm = dpoison(t, sizeof(double)), norm_gpu;
    double norm = cdt_clip_grad_norm(g, n, max_norm);
    TRY(t, cdt_clip_grad_norm_cuda(t->g, gnorm, gg, n, max_norm));
    TRY(t, cdt_cuda_download(t->g, &norm_gpu, gnorm, sizeof norm_gpu));
    char name[64];
    snprintf(name, sizeof name, "clip_grad_norm %s norm", what);
    report(t, name, fabs(norm_gpu - norm) / norm, TOL_FP32);
    snprintf(name, sizeof name, "clip_grad_norm %s grad", what);
    check(t, name, gg, g, n, TOL_FP32);
    dfree(t, gg); dfree(t, gnorm);
    free(g);
}

static void test_clip(tc *t)
{
    clip_case(t, t->quick ? 100003 : 11689512, 1.0, "clips"); // ResNet18's parameter count
    clip_case(t, 1000003, 1e3, "passes");
}

/* The ops that multiply matrices, run again in each tensor-core mode. */
static void run_gemm_ops(tc *t)
{
    test_conv2d(t);
    test_linear(t);
    test_ntxent(t);
}

static void run_mode(tc *t, int math, const char *mode, double tol)
{
    if (cdt_cuda_set_math(t->g, math) < 0) abort();
    t->mode = mode;
    t->gemm_tol = tol;
    run_gemm_ops(t);
}

int main(void)
{
    int count;
    if (cdt_cuda_device_count(&count) < 0) {
        printf("no usable CUDA driver (cudaGetDeviceCount failed): the CUDA op tests need a GPU\n");
        return 77;
    }
    if (count == 0) {
        printf("no CUDA device: the CUDA op tests need a GPU\n");
        return 77;
    }
    const char *env = getenv("CDT_CUDA_SEED");
    tc t = {.mode = "fp32", .gemm_tol = TOL_FP32};
    t.rng = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
    if (!t.rng) t.rng = 1;
    t.quick = getenv("CDT_CUDA_QUICK") && atoi(getenv("CDT_CUDA_QUICK"));
    printf("seed %llu (CDT_CUDA_SEED repeats it)%s\n", (unsigned long long)t.rng,
           t.quick ? ", quick: large cases left out" : "");
    int rc = cdt_cuda_ctx_create(&t.g, 0, CDT_CUDA_FP32);
    if (rc < 0) {
        printf("cdt_cuda_ctx_create: %s\n", cdt_strerror(rc));
        return 1;
    }
    printf("device %s\n%-28s %-5s %10s %8s  %s\n", cdt_cuda_device_name(t.g), "op", "mode",
           "rel.err", "tol", "result");
    test_scale_views(&t);
    test_elementwise(&t);
    test_batchnorm(&t);
    test_pool(&t);
    test_entropy(&t);
    test_adam(&t);
    test_clip(&t);
    run_gemm_ops(&t);
    run_mode(&t, CDT_CUDA_TF32, "tf32", TOL_TF32);
    run_mode(&t, CDT_CUDA_BF16, "bf16", TOL_BF16);
    cdt_cuda_ctx_destroy(t.g);
    printf("%d checks, %d failed; worst passing error/tolerance %.2f\n", t.checks, t.failed,
           t.worst);
    return t.failed ? 1 : 0;
}
