/* test_nn_layers.c: batch norm, ReLU, sigmoid, max/avg pool, linear and the
 * residual add: forward values on cases worked by hand or by a naive loop,
 * backward against central finite differences on the double twins. */
#include "cdt_nn.h"
#include "nn/backend.h"
#include "nn/cpu/nn_f64.h"
#include "t.h"
#include "test_nn_fd.h"

#include <stdlib.h>
#include <string.h>

static double *dalloc(size_t n) { return calloc(n ? n : 1, sizeof(double)); }

/* ---- batch norm ---- */
typedef struct bn_ctx {
    cdt_bn_params p;
    double *x, *gamma, *beta, *out, *mean, *invstd, *r;
    size_t n;
} bn_ctx;

static double bn_loss(void *ctx)
{
    bn_ctx *b = ctx;
    cdt_batchnorm_forward_f64(b->out, b->mean, b->invstd, NULL, NULL, b->x,
                              b->gamma, b->beta, &b->p);
    return fd_dot(b->out, b->r, b->n);
}

static void bn_fd_case(t_state *ts, int n, int c, int hw)
{
    bn_ctx b = {.p = {n, c, hw, CDT_BN_MOMENTUM, CDT_BN_EPS}};
    fd_rng r = {7 + hw};
    b.n = (size_t)n * c * hw;
    b.x = dalloc(b.n); b.out = dalloc(b.n); b.r = dalloc(b.n);
    b.gamma = dalloc(c); b.beta = dalloc(c); b.mean = dalloc(c); b.invstd = dalloc(c);
    fd_fill(b.x, b.n, &r, -2, 2);
    fd_fill(b.r, b.n, &r, -1, 1);
    fd_fill(b.gamma, c, &r, 0.5, 1.5);
    fd_fill(b.beta, c, &r, -1, 1);
    double *dx = dalloc(b.n), *dg = dalloc(c), *db = dalloc(c);
    for (int i = 0; i < c; i++) dg[i] = db[i] = 0.25; // must accumulate
    bn_loss(&b);
    cdt_batchnorm_backward_f64(dx, dg, db, b.r, b.x, b.mean, b.invstd, b.gamma, &b.p);
    for (int i = 0; i < c; i++) { dg[i] -= 0.25; db[i] -= 0.25; }
    double ex = fd_check(bn_loss, &b, b.x, dx, b.n, NULL);
    double eg = fd_check(bn_loss, &b, b.gamma, dg, c, NULL);
    double eb = fd_check(bn_loss, &b, b.beta, db, c, NULL);
    T_CHECK(ts, ex < FD_TOL && eg < FD_TOL && eb < FD_TOL);
    if (!(ex < FD_TOL && eg < FD_TOL && eb < FD_TOL))
        fprintf(stderr, "bn %d,%d,%d: dx %g dgamma %g dbeta %g\n", n, c, hw, ex, eg, eb);
    free(b.x); free(b.out); free(b.r); free(b.gamma); free(b.beta);
    free(b.mean); free(b.invstd); free(dx); free(dg); free(db);
}

static void test_bn_backward(t_state *ts)
{
    bn_fd_case(ts, 4, 3, 1);  // BatchNorm1d
    bn_fd_case(ts, 3, 2, 5);  // BatchNorm2d
    bn_fd_case(ts, 2, 3, 4);
}

/* x = [1, 3] on one channel: mean 2, biased var 1, unbiased var 2. */
static void test_bn_forward_hand(t_state *ts)
{
    cdt_bn_params p = {2, 1, 1, CDT_BN_MOMENTUM, CDT_BN_EPS};
    float x[2] = {1, 3}, out[2], mean, invstd, rm = 0, rv = 1, g = 2, b = 0.5f;
    cdt_batchnorm_forward(out, &mean, &invstd, &rm, &rv, x, &g, &b, &p);
    double s = 1 / sqrt(1 + 1e-5);
    T_NEAR(ts, out[0], 0.5 - 2 * s, 1e-6);
    T_NEAR(ts, out[1], 0.5 + 2 * s, 1e-6);
    T_NEAR(ts, mean, 2, 1e-7);
    T_NEAR(ts, invstd, s, 1e-7);
    T_NEAR(ts, rm, 0.9 * 0 + 0.1 * 2, 1e-7);
    T_NEAR(ts, rv, 0.9 * 1 + 0.1 * 2, 1e-7);
    // eval: (x - rm) / sqrt(rv + eps) * g + b with rm 0.2, rv 1.1
    cdt_batchnorm_forward_eval(out, x, &g, &b, &rm, &rv, &p);
    T_NEAR(ts, out[0], (1 - 0.2) / sqrt(1.1 + 1e-5) * 2 + 0.5, 1e-6);
    T_NEAR(ts, out[1], (3 - 0.2) / sqrt(1.1 + 1e-5) * 2 + 0.5, 1e-6);
}

/* Both moments come from one pass about a shift taken from the data (the
 * channel's first value): on values far from zero with a small spread, and
 * with that first value an outlier 500 standard deviations out, the mean
 * and variance must still match a two-pass sum in double. */
static void test_bn_forward_offset(t_state *ts)
{
    enum { N = 4, C = 2, HW = 50 };
    cdt_bn_params p = {N, C, HW, CDT_BN_MOMENTUM, CDT_BN_EPS};
    float x[N * C * HW], out[N * C * HW], mean[C], invstd[C], g[C] = {1, 1}, b[C] = {0, 0};
    fd_rng r = {5};
    for (int i = 0; i < N * C * HW; i++) x[i] = (float)(1000 + 0.01 * (fd_uniform(&r) - 0.5));
    x[HW] = 1005; // channel 1's first value
    cdt_batchnorm_forward(out, mean, invstd, NULL, NULL, x, g, b, &p);
    for (int c = 0; c < C; c++) {
        double sum = 0, sq = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) sum += x[(n * C + c) * HW + i];
        double mu = sum / (N * HW);
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) sq += (x[(n * C + c) * HW + i] - mu) * (x[(n * C + c) * HW + i] - mu);
        double is = 1 / sqrt(sq / (N * HW) + CDT_BN_EPS);
        T_NEAR(ts, mean[c], mu, 1e-4);
        T_NEAR(ts, invstd[c] / is, 1, 1e-6);
    }
}

/* Per-channel statistics over N and HW, against a naive loop. */
static void test_bn_forward_naive(t_state *ts)
{
    enum { N = 3, C = 2, HW = 4 };
    cdt_bn_params p = {N, C, HW, CDT_BN_MOMENTUM, CDT_BN_EPS};
    double x[N * C * HW], out[N * C * HW], g[C] = {1.5, 0.5}, b[C] = {0, -1};
    double mean[C], invstd[C], rm[C] = {0, 0}, rv[C] = {1, 1};
    fd_rng r = {3};
    fd_fill(x, N * C * HW, &r, -3, 3);
    cdt_batchnorm_forward_f64(out, mean, invstd, rm, rv, x, g, b, &p);
    for (int c = 0; c < C; c++) {
        double s = 0, q = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) s += x[(n * C + c) * HW + i];
        double mu = s / (N * HW);
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) q += pow(x[(n * C + c) * HW + i] - mu, 2);
        double var = q / (N * HW);
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                int k = (n * C + c) * HW + i;
                T_NEAR(ts, out[k], (x[k] - mu) / sqrt(var + 1e-5) * g[c] + b[c], 1e-12);
            }
        T_NEAR(ts, rm[c], 0.1 * mu, 1e-12);
        T_NEAR(ts, rv[c], 0.9 + 0.1 * q / (N * HW - 1), 1e-12);
    }
}

/* ---- elementwise ---- */
typedef struct ew_ctx { double *x, *out, *r; size_t n; int sigmoid; } ew_ctx;

static double ew_loss(void *ctx)
{
    ew_ctx *e = ctx;
    if (e->sigmoid) cdt_sigmoid_forward_f64(e->out, e->x, e->n);
    else cdt_relu_forward_f64(e->out, e->x, e->n);
    return fd_dot(e->out, e->r, e->n);
}

static void test_elementwise(t_state *ts)
{
    enum { N = 40 };
    double x[N], out[N], rr[N], dx[N];
    unsigned char skip[N];
    fd_rng r = {5};
    fd_fill(x, N, &r, -3, 3);
    fd_fill(rr, N, &r, -1, 1);
    for (int i = 0; i < N; i++) skip[i] = fabs(x[i]) < 100 * FD_STEP; // ReLU's kink
    for (int sig = 0; sig < 2; sig++) {
        ew_ctx e = {x, out, rr, N, sig};
        ew_loss(&e);
        if (sig) cdt_sigmoid_backward_f64(dx, rr, out, N);
        else cdt_relu_backward_f64(dx, rr, out, N);
        double err = fd_check(ew_loss, &e, x, dx, N, sig ? NULL : skip);
        T_CHECK(ts, err < FD_TOL);
    }
    float v[4] = {0, logf(3), -1, 2}, o[4];
    cdt_sigmoid_forward(o, v, 4);
    T_NEAR(ts, o[0], 0.5, 1e-7);
    T_NEAR(ts, o[1], 0.75, 1e-7);
    cdt_relu_forward(v, v, 4); // in place
    T_NEAR(ts, v[2], 0, 0);
    T_NEAR(ts, v[3], 2, 0);
    v[0] = NAN; // a diverged run must stay visible
    cdt_relu_forward(v, v, 1);
    T_CHECK(ts, isnan(v[0]));
    float a[2] = {1, 2}, b[2] = {10, 20};
    cdt_add_forward(a, a, b, 2);
    T_NEAR(ts, a[0], 11, 0);
    T_NEAR(ts, a[1], 22, 0);
}

/* ---- the fused pairs: the same bits as the two ops in turn ---- */
static float *falloc(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

/* Batch norm then ReLU against cdt_batchnorm_forward + cdt_relu_forward,
 * on plane sizes around the 16-wide partial sums (1, 15, 16, 49, 784
 * pixels), with a NaN in one channel and zeros of both signs in another. */
static void test_fused_bn_relu(t_state *ts)
{
    static const int hws[] = {1, 15, 16, 49, 784};
    fd_rng r = {11};
    for (size_t k = 0; k < sizeof hws / sizeof hws[0]; k++) {
        int n = 5, c = 3, hw = hws[k];
        cdt_bn_params p = {n, c, hw, CDT_BN_MOMENTUM, CDT_BN_EPS};
        size_t sz = (size_t)n * c * hw;
        float *x = falloc(sz), *y0 = falloc(sz), *y1 = falloc(sz), *g = falloc(c), *b = falloc(c);
        float *st0 = falloc(4 * c), *st1 = falloc(4 * c);
        ffill(x, sz, &r, -2, 3);
        ffill(g, c, &r, 0.5, 1.5);
        ffill(b, c, &r, -0.5, 0.5);
        for (int i = 0; i < 4 * c; i++) st0[i] = st1[i] = 1;
        x[(size_t)hw + 0] = NAN;       // channel 1 of image 0: its statistics are NaN
        for (int i = 0; i < n * hw; i++) // channel 2: a constant plane, xhat 0, out = beta
            x[(size_t)(i / hw) * c * hw + 2 * (size_t)hw + i % hw] = 0.5f;
        b[2] = -0.0f;
        cdt_batchnorm_forward(y0, st0, st0 + c, st0 + 2 * c, st0 + 3 * c, x, g, b, &p);
        cdt_relu_forward(y0, y0, sz);
        cdt_batchnorm_relu_forward(y1, st1, st1 + c, st1 + 2 * c, st1 + 3 * c, x, g, b, &p);
        T_CHECK(ts, memcmp(y0, y1, sz * sizeof(float)) == 0);
        T_CHECK(ts, memcmp(st0, st1, 4 * (size_t)c * sizeof(float)) == 0);
        T_CHECK(ts, isnan(y1[hw])); // a diverged run stays visible
        free(x); free(y0); free(y1); free(g); free(b); free(st0); free(st1);
    }
}

/* Batch norm runs over blocks of channels (several, the last one short,
 * when the channels are many and the planes small): every channel's values,
 * statistics and gradients against the formulas in double, and the pieces for
 * batch norm across processes, fed one process's sums, against the whole
 * functions bit for bit. */
/* Batch norm forward and backward by the formulas, a channel at a time:
 * y, dx, and per channel mean, invstd, dgamma, dbeta in st (4, C). */
static void bn_naive(double *y, double *dx, double *st, const double *x, const double *d,
                     const double *g, const double *b, const cdt_bn_params *p)
{
    int c = p->c;
    double m = (double)p->n * p->hw;
    for (int k = 0; k < c; k++) {
        double s = 0, q = 0, sd = 0, sdx = 0;
#define AT(a, n, i) a[((size_t)(n) * c + k) * p->hw + (i)]
        for (int n = 0; n < p->n; n++)
            for (int i = 0; i < p->hw; i++) s += AT(x, n, i);
        double mu = s / m;
        for (int n = 0; n < p->n; n++)
            for (int i = 0; i < p->hw; i++) q += pow(AT(x, n, i) - mu, 2);
        double is = 1 / sqrt(q / m + p->eps);
        for (int n = 0; n < p->n; n++)
            for (int i = 0; i < p->hw; i++) {
                AT(y, n, i) = (AT(x, n, i) - mu) * is * g[k] + b[k];
                sd += AT(d, n, i);
                sdx += AT(d, n, i) * (AT(x, n, i) - mu) * is;
            }
        for (int n = 0; n < p->n; n++)
            for (int i = 0; i < p->hw; i++)
                AT(dx, n, i) = g[k] * is / m * (m * AT(d, n, i) - sd - (AT(x, n, i) - mu) * is * sdx);
#undef AT
        st[k] = mu;
        st[c + k] = is;
        st[2 * c + k] = sdx;
        st[3 * c + k] = sd;
    }
}

static void bn_blocks_case(t_state *ts, int n, int c, int hw)
{
    cdt_bn_params p = {n, c, hw, CDT_BN_MOMENTUM, CDT_BN_EPS};
    size_t sz = (size_t)n * c * hw;
    fd_rng r = {17 + hw};
    float *x = falloc(sz), *d = falloc(sz), *y = falloc(sz), *dx = falloc(sz), *y2 = falloc(sz);
    float *dx2 = falloc(sz), *g = falloc(c), *b = falloc(c), *st = falloc(8 * (size_t)c);
    double *xd = dalloc(sz), *dd = dalloc(sz), *yd = dalloc(sz), *dxd = dalloc(sz), *gd = dalloc(c);
    double *bd = dalloc(c), *std = dalloc(4 * (size_t)c), *sums = dalloc(4 * (size_t)c);
    ffill(x, sz, &r, -2, 3);
    ffill(d, sz, &r, -1, 1);
    ffill(g, c, &r, 0.5, 1.5);
    ffill(b, c, &r, -0.5, 0.5);
    for (size_t i = 0; i < sz; i++) { xd[i] = x[i]; dd[i] = d[i]; }
    for (int i = 0; i < c; i++) { gd[i] = g[i]; bd[i] = b[i]; }
    float *mean = st, *is = st + c, *dg = st + 2 * c, *db = st + 3 * c;
    cdt_batchnorm_forward(y, mean, is, NULL, NULL, x, g, b, &p);
    cdt_batchnorm_backward(dx, dg, db, d, x, mean, is, g, &p);
    bn_naive(yd, dxd, std, xd, dd, gd, bd, &p);
    double ey = 0, edx = 0, es = 0;
    for (size_t i = 0; i < sz; i++) {
        ey = fmax(ey, fabs(y[i] - yd[i]));
        edx = fmax(edx, fabs(dx[i] - dxd[i]));
    }
    for (int i = 0; i < 4 * c; i++) es = fmax(es, fabs(st[i] - std[i]) / fmax(1, fabs(std[i])));
    T_CHECK(ts, ey < 1e-5 && edx < 1e-5 && es < 1e-5);
    if (!(ey < 1e-5 && edx < 1e-5 && es < 1e-5))
        fprintf(stderr, "bn blocks %d,%d,%d: y %g dx %g stats %g\n", n, c, hw, ey, edx, es);
    // the pieces, one process: sums -> mean, variance -> forward_with; backward
    float *mean2 = st + 4 * c, *is2 = st + 5 * c, *dg2 = st + 6 * c, *db2 = st + 7 * c;
    double count = (double)n * hw, *mu = sums, *var = sums + c;
    cdt_batchnorm_sums(mu, x, NULL, &p);
    for (int i = 0; i < c; i++) mu[i] /= count;
    cdt_batchnorm_sums(var, x, mu, &p);
    for (int i = 0; i < c; i++) var[i] /= count;
    cdt_batchnorm_forward_with(y2, mean2, is2, NULL, NULL, x, g, b, mu, var, count, &p);
    cdt_batchnorm_backward_sums(sums + 2 * c, d, x, mean2, is2, &p);
    cdt_batchnorm_backward_with(dx2, dg2, db2, sums + 2 * c, sums + 2 * c, count, d, x, mean2, is2,
                                g, &p);
    T_CHECK(ts, memcmp(y, y2, sz * sizeof(float)) == 0);
    T_CHECK(ts, memcmp(dx, dx2, sz * sizeof(float)) == 0);
    T_CHECK(ts, memcmp(st, st + 4 * c, 4 * (size_t)c * sizeof(float)) == 0);
    // eval mode with the running statistics the batch's own: the training values
    for (int i = 0; i < c; i++) std[i] = 1 / ((double)is[i] * is[i]) - CDT_BN_EPS;
    float *rv = dg2;
    for (int i = 0; i < c; i++) rv[i] = (float)std[i];
    cdt_batchnorm_forward_eval(y2, x, g, b, mean, rv, &p);
    double ee = 0;
    for (size_t i = 0; i < sz; i++) ee = fmax(ee, fabs(y2[i] - yd[i]));
    T_CHECK(ts, ee < 1e-4);
    free(x); free(d); free(y); free(dx); free(y2); free(dx2); free(g); free(b); free(st);
    free(xd); free(dd); free(yd); free(dxd); free(gd); free(bd); free(std); free(sums);
}

static void test_bn_blocks(t_state *ts)
{
    bn_blocks_case(ts, 5, 150, 1); // BatchNorm1d: blocks of 64, the last of 22
    bn_blocks_case(ts, 4, 70, 9);  // 64 and 6
    bn_blocks_case(ts, 3, 130, 16);
    bn_blocks_case(ts, 2, 5, 784); // a channel a block
}

/* The residual add then ReLU, forward and backward (db written, then added
 * to), against cdt_add_forward + cdt_relu_forward and cdt_relu_backward +
 * a copy or an add; NaN and both zeros among the values. */
static void test_fused_add_relu(t_state *ts)
{
    enum { N = 1000 };
    float a[N], b[N], y0[N], y1[N], d0[N], d1[N], db0[N], db1[N];
    fd_rng r = {13};
    ffill(a, N, &r, -1, 1);
    ffill(b, N, &r, -1, 1);
    ffill(d0, N, &r, -1, 1);
    a[3] = NAN;
    a[4] = 0.0f, b[4] = -0.0f;
    a[5] = -0.0f, b[5] = -0.0f;
    d0[7] = NAN;
    memcpy(d1, d0, sizeof d0);
    cdt_add_forward(y0, a, b, N);
    cdt_relu_forward(y0, y0, N);
    memcpy(y1, a, sizeof a);
    cdt_add_relu_forward(y1, y1, b, N); // in place, as the model runs it
    T_CHECK(ts, memcmp(y0, y1, sizeof y0) == 0);
    T_CHECK(ts, isnan(y1[3]));
    for (int acc = 0; acc < 2; acc++) {
        ffill(db0, N, &r, -1, 1);
        memcpy(db1, db0, sizeof db0);
        cdt_relu_backward(d0, d0, y0, N);
        if (acc) cdt_add_forward(db0, db0, d0, N);
        else memcpy(db0, d0, sizeof d0);
        cdt_add_relu_backward(d1, db1, y1, acc, N);
        T_CHECK(ts, memcmp(d0, d1, sizeof d0) == 0);
        T_CHECK(ts, memcmp(db0, db1, sizeof db0) == 0);
    }
}

/* ---- pools ---- */
typedef struct pool_ctx { cdt_maxpool_params p; double *x, *out, *r; int32_t *arg; size_t nout; } pool_ctx;

static double maxpool_loss(void *ctx)
{
    pool_ctx *c = ctx;
    cdt_maxpool_forward_f64(c->out, c->arg, c->x, &c->p);
    return fd_dot(c->out, c->r, c->nout);
}

/* Entries are a shuffle of multiples of 0.1, so no perturbation of 1e-5
 * changes which one is the maximum (no kinks). */
static void test_maxpool(t_state *ts)
{
    cdt_maxpool_params p = {.n = 2, .c = 2, .h = 7, .w = 6, .k = 3, .stride = 2, .pad = 1};
    int oh = cdt_maxpool_out_h(&p), ow = cdt_maxpool_out_w(&p);
    T_EQ_INT(ts, oh, 4);
    T_EQ_INT(ts, ow, 3);
    size_t nx = 2 * 2 * 7 * 6, nout = (size_t)2 * 2 * oh * ow;
    double *x = dalloc(nx), *out = dalloc(nout), *rr = dalloc(nout), *dx = dalloc(nx);
    int32_t *arg = calloc(nout, sizeof *arg);
    fd_rng r = {17};
    for (size_t i = 0; i < nx; i++) x[i] = 0.1 * i;
    for (size_t i = nx - 1; i > 0; i--) {
        size_t j = (size_t)(fd_uniform(&r) * (i + 1));
        double t = x[i]; x[i] = x[j]; x[j] = t;
    }
    fd_fill(rr, nout, &r, -1, 1);
    pool_ctx c = {p, x, out, rr, arg, nout};
    maxpool_loss(&c);
    // naive: the max over the in-bounds part of each window
    for (int pl = 0; pl < 4; pl++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double m = -1e300;
                for (int y = 2 * oy - 1; y <= 2 * oy + 1; y++)
                    for (int xx = 2 * ox - 1; xx <= 2 * ox + 1; xx++)
                        if (y >= 0 && y < 7 && xx >= 0 && xx < 6) m = fmax(m, x[pl * 42 + y * 6 + xx]);
                T_NEAR(ts, out[(pl * oh + oy) * ow + ox], m, 0);
            }
    cdt_maxpool_backward_f64(dx, rr, arg, &p);
    T_CHECK(ts, fd_check(maxpool_loss, &c, x, dx, nx, NULL) < FD_TOL);
    x[7] = NAN; // row 1, column 1: in output (0,0), (0,1), (1,0), (1,1)
    maxpool_loss(&c);
    T_CHECK(ts, isnan(out[0]) && isnan(out[1]) && isnan(out[ow]) && isnan(out[ow + 1]));
    T_CHECK(ts, !isnan(out[2]));
    free(x); free(out); free(rr); free(dx); free(arg);
}

typedef struct avg_ctx { double *x, out[6], r[6]; } avg_ctx;

static double avg_loss(void *ctx)
{
    avg_ctx *a = ctx;
    cdt_avgpool_forward_f64(a->out, a->x, 2, 3, 5);
    return fd_dot(a->out, a->r, 6);
}

static void test_avgpool(t_state *ts)
{
    double x[30], dx[30];
    fd_rng r = {23};
    for (int i = 0; i < 30; i++) x[i] = i;
    avg_ctx a = {x, {0}, {0}};
    fd_fill(a.r, 6, &r, -1, 1);
    avg_loss(&a);
    T_NEAR(ts, a.out[0], 2, 1e-12);   // mean of 0..4
    T_NEAR(ts, a.out[5], 27, 1e-12);  // mean of 25..29
    fd_fill(x, 30, &r, -1, 1);
    cdt_avgpool_backward_f64(dx, a.r, 2, 3, 5);
    T_CHECK(ts, fd_check(avg_loss, &a, x, dx, 30, NULL) < FD_TOL);
}

/* ---- linear ---- */
typedef struct lin_ctx { cdt_linear_params p; double *x, *w, *b, *out, *r; } lin_ctx;

static double lin_loss(void *ctx)
{
    lin_ctx *l = ctx;
    cdt_linear_forward_f64(l->out, l->x, l->w, l->b, &l->p);
    return fd_dot(l->out, l->r, (size_t)l->p.n * l->p.out);
}

static void test_linear(t_state *ts)
{
    enum { N = 3, IN = 5, OUT = 4 };
    double x[N * IN], w[OUT * IN], b[OUT], out[N * OUT], rr[N * OUT];
    double dx[N * IN], dw[OUT * IN], db[OUT];
    fd_rng r = {29};
    fd_fill(x, N * IN, &r, -1, 1);
    fd_fill(w, OUT * IN, &r, -1, 1);
    fd_fill(b, OUT, &r, -1, 1);
    fd_fill(rr, N * OUT, &r, -1, 1);
    for (int bias = 0; bias < 2; bias++) {
        lin_ctx l = {{N, IN, OUT}, x, w, bias ? b : NULL, out, rr};
        lin_loss(&l);
        for (int i = 0; i < N; i++)
            for (int o = 0; o < OUT; o++) {
                double s = bias ? b[o] : 0;
                for (int k = 0; k < IN; k++) s += x[i * IN + k] * w[o * IN + k];
                T_NEAR(ts, out[i * OUT + o], s, 1e-12);
            }
        for (int i = 0; i < OUT * IN; i++) dw[i] = 1; // must accumulate
        for (int i = 0; i < OUT; i++) db[i] = 1;
        cdt_linear_backward_f64(dx, dw, bias ? db : NULL, rr, x, w, &l.p);
        for (int i = 0; i < OUT * IN; i++) dw[i] -= 1;
        for (int i = 0; i < OUT; i++) db[i] -= 1;
        T_CHECK(ts, fd_check(lin_loss, &l, x, dx, N * IN, NULL) < FD_TOL);
        T_CHECK(ts, fd_check(lin_loss, &l, w, dw, OUT * IN, NULL) < FD_TOL);
        if (bias) T_CHECK(ts, fd_check(lin_loss, &l, b, db, OUT, NULL) < FD_TOL);
    }
}

/* The CPU's layer table: an entry per row of CDT_LAYERS, in its order and
 * named as it; a call through it gives the bytes of the layer's own pair. */
static void test_layer_table(t_state *ts)
{
    const cdt_backend_i *be = cdt_backend_cpu();
    T_STR(ts, be->layer_names, CDT_LAYER_NAMES);
    char names[256] = "";
    for (int i = 0; i < CDT_LAYER_COUNT; i++) {
        T_CHECK(ts, be->layers[i] && be->layers[i]->forward && be->layers[i]->backward);
        if (!be->layers[i]) return;
        strcat(names, be->layers[i]->name);
        strcat(names, " ");
    }
    T_STR(ts, names, CDT_LAYER_NAMES);
    enum { N = 37 };
    float x[N], y0[N], y1[N], dy[N], dx0[N], dx1[N];
    for (int i = 0; i < N; i++) x[i] = (float)(i - 18) / 5, dy[i] = (float)(i % 7) - 3;
    cdt_sigmoid_forward(y0, x, N);
    cdt_sigmoid_backward(dx0, dy, y0, N);
    cdt_layer_args a = {.numel = N, .x = x, .out = y1};
    T_EQ_INT(ts, be->layers[CDT_LAYER_SIGMOID]->forward(NULL, &a), 0);
    a.dout = dy;
    a.dx = dx1;
    T_EQ_INT(ts, be->layers[CDT_LAYER_SIGMOID]->backward(NULL, &a), 0);
    T_CHECK(ts, !memcmp(y0, y1, sizeof y0) && !memcmp(dx0, dx1, sizeof dx0));
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_bn_backward);
    T_RUN(&ts, test_bn_forward_offset);
    T_RUN(&ts, test_bn_forward_hand);
    T_RUN(&ts, test_bn_forward_naive);
    T_RUN(&ts, test_elementwise);
    T_RUN(&ts, test_fused_bn_relu);
    T_RUN(&ts, test_bn_blocks);
    T_RUN(&ts, test_fused_add_relu);
    T_RUN(&ts, test_maxpool);
    T_RUN(&ts, test_avgpool);
    T_RUN(&ts, test_linear);
    T_RUN(&ts, test_layer_table);
    return T_END(&ts);
}
