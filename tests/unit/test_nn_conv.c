/* test_nn_conv.c: conv2d forward against a direct (naive loop) convolution,
 * float against double, and backward against finite differences. */
#include "cdt_nn.h"
#include "nn/cpu/nn_f64.h"
#include "t.h"
#include "test_nn_fd.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>

typedef struct conv_case {
    cdt_conv2d_params p;
    double *x, *w, *out, *r, *scratch;
    size_t nx, nw, nout;
} conv_case;

static void conv_case_init(conv_case *cc, cdt_conv2d_params p, uint64_t seed)
{
    fd_rng r = {seed};
    cc->p = p;
    cc->nx = (size_t)p.n * p.c * p.h * p.w;
    cc->nw = (size_t)p.oc * p.c * p.kh * p.kw;
    cc->nout = (size_t)p.n * p.oc * cdt_conv2d_out_h(&p) * cdt_conv2d_out_w(&p);
    cc->x = malloc(cc->nx * sizeof(double));
    cc->w = malloc(cc->nw * sizeof(double));
    cc->out = malloc(cc->nout * sizeof(double));
    cc->r = malloc(cc->nout * sizeof(double));
    cc->scratch = malloc((cdt_conv2d_scratch(&p) + 1) * sizeof(double));
    fd_fill(cc->x, cc->nx, &r, -1, 1);
    fd_fill(cc->w, cc->nw, &r, -1, 1);
    fd_fill(cc->r, cc->nout, &r, -1, 1);
}

static void conv_case_free(conv_case *cc)
{
    free(cc->x); free(cc->w); free(cc->out); free(cc->r); free(cc->scratch);
}

/* The independent reference: the definition of a convolution, one output
 * at a time. */
static double naive_conv_at(const conv_case *cc, int b, int o, int oy, int ox)
{
    const cdt_conv2d_params *p = &cc->p;
    double s = 0;
    for (int c = 0; c < p->c; c++)
        for (int i = 0; i < p->kh; i++)
            for (int j = 0; j < p->kw; j++) {
                int y = oy * p->stride - p->pad + i, x = ox * p->stride - p->pad + j;
                if (y < 0 || y >= p->h || x < 0 || x >= p->w) continue;
                s += cc->x[((size_t)(b * p->c + c) * p->h + y) * p->w + x] *
                     cc->w[((size_t)(o * p->c + c) * p->kh + i) * p->kw + j];
            }
    return s;
}

static double conv_loss(void *ctx)
{
    conv_case *cc = ctx;
    cdt_conv2d_forward_f64(cc->out, cc->x, cc->w, cc->scratch, &cc->p);
    return fd_dot(cc->out, cc->r, cc->nout);
}

static const cdt_conv2d_params cases[] = {
    {.n = 2, .c = 3, .h = 7, .w = 6, .oc = 4, .kh = 3, .kw = 3, .stride = 1, .pad = 1},
    {.n = 2, .c = 3, .h = 7, .w = 6, .oc = 4, .kh = 3, .kw = 3, .stride = 2, .pad = 1},
    {.n = 2, .c = 5, .h = 4, .w = 4, .oc = 3, .kh = 1, .kw = 1, .stride = 1, .pad = 0},
    {.n = 2, .c = 5, .h = 5, .w = 5, .oc = 3, .kh = 1, .kw = 1, .stride = 2, .pad = 0},
    {.n = 1, .c = 2, .h = 9, .w = 9, .oc = 2, .kh = 7, .kw = 7, .stride = 2, .pad = 3},
    {.n = 3, .c = 2, .h = 5, .w = 6, .oc = 2, .kh = 2, .kw = 3, .stride = 1, .pad = 0},
    // "same" convolutions (one shift per kernel offset), one with a kernel
    // larger than the image, so that some offsets see only padding
    {.n = 2, .c = 2, .h = 3, .w = 4, .oc = 2, .kh = 5, .kw = 5, .stride = 1, .pad = 2},
    {.n = 1, .c = 2, .h = 9, .w = 8, .oc = 2, .kh = 7, .kw = 7, .stride = 1, .pad = 3},
    // pointwise, large enough for one image per group: x is its own col
    {.n = 2, .c = 3, .h = 16, .w = 17, .oc = 2, .kh = 1, .kw = 1, .stride = 1, .pad = 0},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

static void test_forward_naive(t_state *ts)
{
    for (int k = 0; k < NCASES; k++) {
        conv_case cc;
        conv_case_init(&cc, cases[k], 11 + k);
        cdt_conv2d_forward_f64(cc.out, cc.x, cc.w, cc.scratch, &cc.p);
        int oh = cdt_conv2d_out_h(&cc.p), ow = cdt_conv2d_out_w(&cc.p);
        double maxerr = 0;
        for (int b = 0; b < cc.p.n; b++)
            for (int o = 0; o < cc.p.oc; o++)
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++) {
                        double ref = naive_conv_at(&cc, b, o, y, x);
                        double got = cc.out[((size_t)(b * cc.p.oc + o) * oh + y) * ow + x];
                        maxerr = fmax(maxerr, fabs(got - ref));
                    }
        T_NEAR(ts, maxerr, 0, 1e-12);
        conv_case_free(&cc);
    }
}

/* The float build is the same code; check it agrees to float rounding. */
static void test_forward_float(t_state *ts)
{
    for (int k = 0; k < NCASES; k++) {
        conv_case cc;
        conv_case_init(&cc, cases[k], 21 + k);
        cdt_conv2d_forward_f64(cc.out, cc.x, cc.w, cc.scratch, &cc.p);
        float *xf = malloc(cc.nx * sizeof(float)), *wf = malloc(cc.nw * sizeof(float));
        float *of = malloc(cc.nout * sizeof(float));
        float *sf = malloc((cdt_conv2d_scratch(&cc.p) + 1) * sizeof(float));
        for (size_t i = 0; i < cc.nx; i++) xf[i] = (float)cc.x[i];
        for (size_t i = 0; i < cc.nw; i++) wf[i] = (float)cc.w[i];
        cdt_conv2d_forward(of, xf, wf, sf, &cc.p);
        double maxerr = 0;
        for (size_t i = 0; i < cc.nout; i++) maxerr = fmax(maxerr, fabs(of[i] - cc.out[i]));
        T_NEAR(ts, maxerr, 0, 1e-5);
        free(xf); free(wf); free(of); free(sf);
        conv_case_free(&cc);
    }
}

static void test_backward_fd(t_state *ts)
{
    for (int k = 0; k < NCASES; k++) {
        conv_case cc;
        conv_case_init(&cc, cases[k], 31 + k);
        double *dx = malloc(cc.nx * sizeof(double)), *dw = malloc(cc.nw * sizeof(double));
        double *dw0 = malloc(cc.nw * sizeof(double));
        fd_rng r = {99};
        fd_fill(dw0, cc.nw, &r, -1, 1); // dw must accumulate onto this
        for (size_t i = 0; i < cc.nw; i++) dw[i] = dw0[i];
        fd_fill(dx, cc.nx, &r, -1, 1);  // dx must be overwritten
        cdt_conv2d_backward_f64(dx, dw, cc.r, cc.x, cc.w, cc.scratch, &cc.p);
        for (size_t i = 0; i < cc.nw; i++) dw[i] -= dw0[i];
        double ex = fd_check(conv_loss, &cc, cc.x, dx, cc.nx, NULL);
        double ew = fd_check(conv_loss, &cc, cc.w, dw, cc.nw, NULL);
        T_CHECK(ts, ex < FD_TOL);
        T_CHECK(ts, ew < FD_TOL);
        if (ex >= FD_TOL || ew >= FD_TOL) fprintf(stderr, "case %d: dx %g dw %g\n", k, ex, ew);
        // without dx (a first layer) the weight gradient is the same
        for (size_t i = 0; i < cc.nw; i++) dw0[i] = 0;
        cdt_conv2d_backward_f64(NULL, dw0, cc.r, cc.x, cc.w, cc.scratch, &cc.p);
        double maxerr = 0;
        for (size_t i = 0; i < cc.nw; i++) maxerr = fmax(maxerr, fabs(dw0[i] - dw[i]));
        T_NEAR(ts, maxerr, 0, 1e-12);
        free(dx); free(dw); free(dw0);
        conv_case_free(&cc);
    }
}

/* A batch in groups over several lanes must give what single images give:
 * large images (one per group, three lanes), 4x4 ones (16 per group, the
 * last group short, three lanes) and very large ones (one lane); with pad
 * 1 on the direct path, with pad 0 on im2col's. */
static void groups_case(t_state *ts, int n, int hw, int pad)
{
    cdt_conv2d_params p = {.n = n, .c = 4, .h = hw, .w = hw, .oc = 4,
                           .kh = 3, .kw = 3, .stride = 1, .pad = pad};
    cdt_conv2d_params one = p;
    one.n = 1;
    size_t nx = (size_t)n * 4 * hw * hw, nw = 4 * 4 * 9, img = nx / n;
    size_t oimg = (size_t)4 * cdt_conv2d_out_h(&p) * cdt_conv2d_out_w(&p), no = n * oimg;
    float *x = malloc(nx * sizeof(float)), *out = malloc(no * sizeof(float));
    float *o1 = malloc(oimg * sizeof(float)), *dx = malloc(nx * sizeof(float));
    float *dx1 = malloc(img * sizeof(float)), *s = malloc(cdt_conv2d_scratch(&p) * sizeof(float));
    float w[4 * 4 * 9], dw[4 * 4 * 9] = {0}, dw1[4 * 4 * 9] = {0};
    fd_rng r = {61};
    for (size_t i = 0; i < nx; i++) x[i] = (float)fd_uniform(&r) - 0.5f;
    for (size_t i = 0; i < nw; i++) w[i] = (float)fd_uniform(&r) - 0.5f;
    cdt_conv2d_forward(out, x, w, s, &p);
    cdt_conv2d_backward(dx, dw, out, x, w, s, &p); // dout = out: any field will do
    double ef = 0, ed = 0, ew = 0, sw = 0;
    for (int b = 0; b < n; b++) {
        cdt_conv2d_forward(o1, x + b * img, w, s, &one);
        cdt_conv2d_backward(dx1, dw1, o1, x + b * img, w, s, &one);
        for (size_t i = 0; i < oimg; i++) ef = fmax(ef, fabs(o1[i] - out[b * oimg + i]));
        for (size_t i = 0; i < img; i++) ed = fmax(ed, fabs(dx1[i] - dx[b * img + i]));
    }
    for (size_t i = 0; i < nw; i++) { ew = fmax(ew, fabs(dw1[i] - dw[i])); sw = fmax(sw, fabs(dw[i])); }
    T_NEAR(ts, ef, 0, 1e-5);
    T_NEAR(ts, ed, 0, 1e-5);
    T_NEAR(ts, ew / sw, 0, 1e-5);
    free(x); free(out); free(o1); free(dx); free(dx1); free(s);
}

static void test_groups(t_state *ts)
{
    for (int pad = 0; pad < 2; pad++) {
        groups_case(ts, 3, 64, pad);
        groups_case(ts, 40, 4, pad);
    }
    // images so large that one lane's im2col scratch takes the budget: one
    // lane, the scratch of a single image, and still the same results
    cdt_conv2d_params big = {.n = 3, .c = 4, .h = 460, .w = 460, .oc = 4,
                             .kh = 3, .kw = 3, .stride = 1, .pad = 0}, one = big;
    one.n = 1;
    T_CHECK(ts, cdt_conv2d_scratch(&big) == cdt_conv2d_scratch(&one));
    groups_case(ts, 3, 460, 0);
    groups_case(ts, 3, 460, 1);
}

/* dW and dx of a conv by their definitions, in double. */
static void naive_conv_backward(double *dx, double *dw, const float *dout, const float *x,
                                const float *w, const cdt_conv2d_params *p)
{
    int oh = cdt_conv2d_out_h(p), ow = cdt_conv2d_out_w(p);
    memset(dx, 0, sizeof(double) * p->n * p->c * p->h * p->w);
    memset(dw, 0, sizeof(double) * p->oc * p->c * p->kh * p->kw);
    for (int b = 0; b < p->n; b++)
        for (int o = 0; o < p->oc; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double d = dout[((b * p->oc + o) * oh + oy) * ow + ox];
                    for (int c = 0; c < p->c; c++)
                        for (int i = 0; i < p->kh; i++)
                            for (int j = 0; j < p->kw; j++) {
                                int y = oy * p->stride - p->pad + i, xx = ox * p->stride - p->pad + j;
                                if (y < 0 || y >= p->h || xx < 0 || xx >= p->w) continue;
                                size_t xi = ((size_t)(b * p->c + c) * p->h + y) * p->w + xx;
                                size_t wi = ((size_t)(o * p->c + c) * p->kh + i) * p->kw + j;
                                dx[xi] += d * w[wi];
                                dw[wi] += d * x[xi];
                            }
                }
}

static double max_rel(const float *a, const double *b, size_t n)
{
    double e = 0, s = 0;
    for (size_t i = 0; i < n; i++) { e = fmax(e, fabs(a[i] - b[i])); s = fmax(s, fabs(b[i])); }
    return e / s;
}

/* With OpenBLAS on one thread (as the tools run it) groups of images run
 * on OpenMP threads in lanes: still the convolution, and the same bits for
 * any thread count. 12x12 images make groups of two, so a batch of 8 fills
 * every lane; 64 output channels make the work big enough for threads. */
static void test_split_gemm(t_state *ts)
{
    enum { OC = 64 };
    enum { N = 8 };
    cdt_conv2d_params p = {.n = N, .c = 32, .h = 12, .w = 12, .oc = OC,
                           .kh = 3, .kw = 3, .stride = 1, .pad = 1};
    size_t nx = N * 32 * 144, nw = OC * 32 * 9, no = N * OC * 144;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *out[2], *dx[2], *dw[2];
    float *s = malloc(cdt_conv2d_scratch(&p) * 4);
    double *rdx = malloc(nx * 8), *rdw = malloc(nw * 8);
    fd_rng r = {71};
    for (size_t i = 0; i < nx; i++) x[i] = (float)fd_uniform(&r) - 0.5f;
    for (size_t i = 0; i < nw; i++) w[i] = (float)fd_uniform(&r) - 0.5f;
    int blas = openblas_get_num_threads();
    openblas_set_num_threads(1);
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        out[t] = malloc(no * 4); dx[t] = malloc(nx * 4); dw[t] = calloc(nw, 4);
        cdt_conv2d_forward(out[t], x, w, s, &p);
        cdt_conv2d_backward(dx[t], dw[t], out[t], x, w, s, &p);
    }
    openblas_set_num_threads(blas);
    T_CHECK(ts, memcmp(out[0], out[1], no * 4) == 0);
    T_CHECK(ts, memcmp(dx[0], dx[1], nx * 4) == 0);
    T_CHECK(ts, memcmp(dw[0], dw[1], nw * 4) == 0);
    conv_case cc = {.p = p, .x = malloc(nx * 8), .w = malloc(nw * 8)};
    for (size_t i = 0; i < nx; i++) cc.x[i] = x[i];
    for (size_t i = 0; i < nw; i++) cc.w[i] = w[i];
    double worst = 0;
    for (int b = 0; b < N; b++)
        for (int o = 0; o < OC; o++)
            for (int k = 0; k < 144; k++)
                worst = fmax(worst, fabs(out[0][(b * OC + o) * 144 + k] - naive_conv_at(&cc, b, o, k / 12, k % 12)));
    T_NEAR(ts, worst, 0, 1e-5);
    naive_conv_backward(rdx, rdw, out[0], x, w, &p);
    T_NEAR(ts, max_rel(dx[0], rdx, nx), 0, 1e-5);
    T_NEAR(ts, max_rel(dw[0], rdw, nw), 0, 1e-5);
    for (int t = 0; t < 2; t++) { free(out[t]); free(dx[t]); free(dw[t]); }
    free(x); free(w); free(s); free(rdx); free(rdw); free(cc.x); free(cc.w);
}

/* Winograd's path (stride-1 3x3, 16 channels and more each way), sides
 * odd (from 15 pixels: tiles over the edge) or even: forward against the
 * definition in double and in float, backward against finite differences
 * in double on a sample of the entries (every dw_every-th weight, every
 * dx_every-th input) and in float against the definition. */
static void wino_case(t_state *ts, cdt_conv2d_params p, int dw_every, int dx_every, uint64_t seed)
{
    conv_case cc;
    conv_case_init(&cc, p, seed);
    int oh = cdt_conv2d_out_h(&p), ow = cdt_conv2d_out_w(&p);
    cdt_conv2d_forward_f64(cc.out, cc.x, cc.w, cc.scratch, &cc.p);
    double ef = 0;
    for (int b = 0; b < p.n; b++)
        for (int o = 0; o < p.oc; o++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++)
                    ef = fmax(ef, fabs(cc.out[((size_t)(b * p.oc + o) * oh + y) * ow + x] -
                                       naive_conv_at(&cc, b, o, y, x)));
    T_NEAR(ts, ef, 0, 1e-12);
    double *dx = malloc(cc.nx * sizeof(double)), *dw = calloc(cc.nw, sizeof(double));
    cdt_conv2d_backward_f64(dx, dw, cc.r, cc.x, cc.w, cc.scratch, &cc.p);
    unsigned char *skw = malloc(cc.nw), *skx = malloc(cc.nx);
    for (size_t i = 0; i < cc.nw; i++) skw[i] = i % dw_every != 0;
    for (size_t i = 0; i < cc.nx; i++) skx[i] = i % dx_every != 0;
    double ew = fd_check(conv_loss, &cc, cc.w, dw, cc.nw, skw);
    double ex = fd_check(conv_loss, &cc, cc.x, dx, cc.nx, skx);
    T_CHECK(ts, ew < FD_TOL);
    T_CHECK(ts, ex < FD_TOL);
    float *xf = malloc(cc.nx * 4), *wf = malloc(cc.nw * 4), *df = malloc(cc.nout * 4);
    float *of = malloc(cc.nout * 4), *dxf = malloc(cc.nx * 4), *dwf = calloc(cc.nw, 4);
    float *sf = malloc(cdt_conv2d_scratch(&p) * 4);
    double *rdx = malloc(cc.nx * 8), *rdw = malloc(cc.nw * 8);
    for (size_t i = 0; i < cc.nx; i++) xf[i] = (float)cc.x[i];
    for (size_t i = 0; i < cc.nw; i++) wf[i] = (float)cc.w[i];
    for (size_t i = 0; i < cc.nout; i++) df[i] = (float)cc.r[i];
    cdt_conv2d_forward(of, xf, wf, sf, &p);
    cdt_conv2d_backward(dxf, dwf, df, xf, wf, sf, &p);
    T_NEAR(ts, max_rel(of, cc.out, cc.nout), 0, 1e-5);
    naive_conv_backward(rdx, rdw, df, xf, wf, &p);
    T_NEAR(ts, max_rel(dwf, rdw, cc.nw), 0, 1e-5);
    T_NEAR(ts, max_rel(dxf, rdx, cc.nx), 0, 1e-5);
    free(dx); free(dw); free(skw); free(skx); free(xf); free(wf); free(df); free(of);
    free(dxf); free(dwf); free(sf); free(rdx); free(rdw);
    conv_case_free(&cc);
}

static void test_winograd(t_state *ts)
{
    // forward and dx on Winograd, dW on im2col; odd height, three images
    // per group, the last group short
    wino_case(ts, (cdt_conv2d_params){.n = 4, .c = 32, .h = 15, .w = 6, .oc = 65,
                                      .kh = 3, .kw = 3, .stride = 1, .pad = 1}, 37, 11, 81);
    // dW on Winograd's tiles too (128 input channels), odd width
    wino_case(ts, (cdt_conv2d_params){.n = 2, .c = 128, .h = 4, .w = 15, .oc = 32,
                                      .kh = 3, .kw = 3, .stride = 1, .pad = 1}, 151, 97, 82);
    // small images (transforms across images): 7x5, 19 images in more than
    // one block of them, the last short; dW on Winograd and on im2col
    wino_case(ts, (cdt_conv2d_params){.n = 19, .c = 128, .h = 7, .w = 5, .oc = 24,
                                      .kh = 3, .kw = 3, .stride = 1, .pad = 1}, 151, 97, 83);
    wino_case(ts, (cdt_conv2d_params){.n = 35, .c = 17, .h = 4, .w = 4, .oc = 65,
                                      .kh = 3, .kw = 3, .stride = 1, .pad = 1}, 37, 11, 84);
}

/* The direct 3x3 path (stride 1 or 2, pad 1, up to 64 channels each way,
 * 128 at stride 2) in every kernel set this CPU has (cdt_conv2d_params.kernels): output
 * channels that fill no block, one input channel (a stem), odd sides,
 * images smaller than the kernel's reach, several groups with the last one
 * short; against the definition and finite differences as Winograd's. */
static void test_direct(t_state *ts)
{
    static const int sets[] = {CDT_CONV_GENERIC, CDT_CONV_AVX2, CDT_CONV_AVX512};
    for (int k = 0; k < 3; k++) {
        wino_case(ts, (cdt_conv2d_params){.n = 4, .c = 32, .h = 15, .w = 6, .oc = 33,
                                          .kh = 3, .kw = 3, .stride = 1, .pad = 1, .kernels = sets[k]}, 37, 11, 91 + k);
        wino_case(ts, (cdt_conv2d_params){.n = 3, .c = 1, .h = 9, .w = 7, .oc = 5,
                                          .kh = 3, .kw = 3, .stride = 1, .pad = 1, .kernels = sets[k]}, 1, 1, 94 + k);
        wino_case(ts, (cdt_conv2d_params){.n = 45, .c = 7, .h = 4, .w = 3, .oc = 64,
                                          .kh = 3, .kw = 3, .stride = 1, .pad = 1, .kernels = sets[k]}, 29, 13, 97 + k);
        wino_case(ts, (cdt_conv2d_params){.n = 2, .c = 64, .h = 2, .w = 1, .oc = 9,
                                          .kh = 3, .kw = 3, .stride = 1, .pad = 1, .kernels = sets[k]}, 31, 3, 100 + k);
        // stride 2: even and odd sides, one row, several groups
        wino_case(ts, (cdt_conv2d_params){.n = 3, .c = 16, .h = 14, .w = 9, .oc = 32,
                                          .kh = 3, .kw = 3, .stride = 2, .pad = 1, .kernels = sets[k]}, 23, 7, 103 + k);
        wino_case(ts, (cdt_conv2d_params){.n = 50, .c = 5, .h = 5, .w = 4, .oc = 11,
                                          .kh = 3, .kw = 3, .stride = 2, .pad = 1, .kernels = sets[k]}, 7, 19, 106 + k);
        wino_case(ts, (cdt_conv2d_params){.n = 2, .c = 3, .h = 1, .w = 6, .oc = 4,
                                          .kh = 3, .kw = 3, .stride = 2, .pad = 1, .kernels = sets[k]}, 1, 1, 109 + k);
        // stride 2 past 64 channels (up to D3_MAX_C2; naming a set asks for
        // the direct kernels there): blocks of 8 not filled
        wino_case(ts, (cdt_conv2d_params){.n = 2, .c = 66, .h = 5, .w = 4, .oc = 73,
                                          .kh = 3, .kw = 3, .stride = 2, .pad = 1, .kernels = sets[k]}, 197, 23, 112 + k);
    }
}

/* The batch norm run inside a convolution's forward (eval mode, with and
 * without the residual add and the ReLU, the result into its own buffer,
 * over the convolution's output or over the residual) against the
 * convolution, cdt_batchnorm_forward_eval and the add and ReLU one after
 * the other: the same bits, on the direct path in every kernel set, on
 * Winograd's small images, and on the gemm path (a 1x1 shortcut of stride
 * 2, a 3x3 with the gemm asked for). */
static void post_case(t_state *ts, cdt_conv2d_params p, uint64_t seed)
{
    fd_rng r = {seed};
    size_t nx = (size_t)p.n * p.c * p.h * p.w, nw = (size_t)p.oc * p.c * p.kh * p.kw;
    size_t ohw = (size_t)cdt_conv2d_out_h(&p) * cdt_conv2d_out_w(&p), ny = (size_t)p.n * p.oc * ohw;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *bn = malloc(4 * p.oc * sizeof *bn);
    float *y = malloc(ny * sizeof *y), *want = malloc(ny * sizeof *want), *res = malloc(ny * sizeof *res);
    float *got = malloc(ny * sizeof *got), *out = malloc(ny * sizeof *out);
    float *scratch = malloc((cdt_conv2d_scratch(&p) + 1) * sizeof *scratch);
    ffill(x, nx, &r, -1, 1);
    ffill(w, nw, &r, -1, 1);
    ffill(bn, 3 * (size_t)p.oc, &r, -1, 1);    // gamma, beta, mean
    ffill(bn + 3 * p.oc, p.oc, &r, 0.01, 3);   // variance
    ffill(res, ny, &r, -1, 1);
    res[ny / 2] = NAN;
    cdt_bn_params bp = {p.n, p.oc, (int)ohw, CDT_BN_MOMENTUM, CDT_BN_EPS};
    cdt_conv2d_forward(y, x, w, scratch, &p);
    for (int mode = 0; mode < 3; mode++) {      // the norm; then ReLU; then + res and ReLU
        cdt_batchnorm_forward_eval(want, y, bn, bn + p.oc, bn + 2 * p.oc, bn + 3 * p.oc, &bp);
        if (mode == 1) cdt_relu_forward(want, want, ny);
        if (mode == 2) cdt_add_relu_forward(want, want, res, ny);
        for (int where = 0; where < 3; where++) { // dst: its own, out itself, res itself
            cdt_conv_post q = {bn, bn + p.oc, bn + 2 * p.oc, bn + 3 * p.oc, CDT_BN_EPS,
                               mode == 2 ? res : NULL, mode > 0, got};
            float *dst = got;
            if (where == 2 && mode < 2) continue;
            if (where == 1) dst = q.dst = out;
            if (where == 2) {
                memcpy(got, res, ny * sizeof *got);
                q.res = q.dst = got;
            }
            memset(out, 0, ny * sizeof *out);
            cdt_conv2d_forward_post(out, x, w, scratch, &p, &q);
            T_CHECK(ts, memcmp(dst, want, ny * sizeof *dst) == 0);
            if (where != 1) T_CHECK(ts, memcmp(out, y, ny * sizeof *out) == 0);
        }
    }
    free(x); free(w); free(bn); free(y); free(want); free(res); free(got); free(out); free(scratch);
}

static void test_conv_post(t_state *ts)
{
    static const int sets[] = {CDT_CONV_GENERIC, CDT_CONV_AVX2, CDT_CONV_AVX512};
    for (int k = 0; k < 3; k++) {
        post_case(ts, (cdt_conv2d_params){.n = 9, .c = 16, .h = 28, .w = 28, .oc = 16,
                                          .kh = 3, .kw = 3, .stride = 1, .pad = 1, .kernels = sets[k]}, 201 + k);
        post_case(ts, (cdt_conv2d_params){.n = 7, .c = 16, .h = 14, .w = 13, .oc = 70,
                                          .kh = 3, .kw = 3, .stride = 2, .pad = 1, .kernels = sets[k]}, 204 + k);
    }
    post_case(ts, (cdt_conv2d_params){.n = 40, .c = 128, .h = 4, .w = 4, .oc = 128,
                                      .kh = 3, .kw = 3, .stride = 1, .pad = 1}, 207);
    post_case(ts, (cdt_conv2d_params){.n = 11, .c = 32, .h = 14, .w = 14, .oc = 64,
                                      .kh = 1, .kw = 1, .stride = 2, .pad = 0}, 208);
    post_case(ts, (cdt_conv2d_params){.n = 5, .c = 8, .h = 9, .w = 9, .oc = 12,
                                      .kh = 3, .kw = 3, .stride = 1, .pad = 1, .kernels = CDT_CONV_GEMM}, 209);
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_forward_naive);
    T_RUN(&ts, test_forward_float);
    T_RUN(&ts, test_backward_fd);
    T_RUN(&ts, test_groups);
    T_RUN(&ts, test_split_gemm);
    T_RUN(&ts, test_winograd);
    T_RUN(&ts, test_direct);
    T_RUN(&ts, test_conv_post);
    return T_END(&ts);
}
