/* conv2d.c: 2-D convolution without bias, as im2col plus one gemm (darknet's
 * layout: the BLAS seam is one function, conv_gemm).
 *
 * Images are done in groups: im2col lays a group of G images side by side,
 * col (C*KH*KW, G*OH*OW), so one gemm does the whole group and the small
 * late layers (OH*OW = 16 at 4x4) still make gemms wide enough to use every
 * core. The gemm's result is (OC, G*OH*OW) and is copied out to NCHW. G is
 * the most images whose columns and result fit a fixed scratch budget, so
 * the early, large layers still work in slices of the batch. One OpenMP
 * region per group for im2col/col2im: finer regions (per image or per row)
 * cost more in thread wake-ups than they save on a busy machine. With
 * OpenBLAS on one thread, conv_gemm spreads the gemm over OpenMP threads
 * in fixed slices, so results do not depend on the thread count. */
#include "cdt_nn.h"
#include "real.h"

#include <string.h>

/* Elements of scratch: 16M (64 MiB in float) unless one image needs more. */
#define CONV_SCRATCH_BUDGET ((size_t)1 << 24)

/* Images per gemm (both builds: it does not depend on real). */
static int conv_group(const cdt_conv2d_params *p)
{
    size_t ohw = (size_t)cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p);
    size_t per_image = ((size_t)p->c * p->kh * p->kw + p->oc) * ohw;
    size_t g = CONV_SCRATCH_BUDGET / per_image;
    if (g < 1) g = 1;
    return g < (size_t)p->n ? (int)g : p->n;
}

#ifndef CDT_NN_F64
int cdt_conv2d_out_h(const cdt_conv2d_params *p)
{
    return (p->h + 2 * p->pad - p->kh) / p->stride + 1;
}

int cdt_conv2d_out_w(const cdt_conv2d_params *p)
{
    return (p->w + 2 * p->pad - p->kw) / p->stride + 1;
}

size_t cdt_conv2d_scratch(const cdt_conv2d_params *p)
{
    size_t ohw = (size_t)cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p);
    return ((size_t)p->c * p->kh * p->kw + p->oc) * ohw * conv_group(p);
}
#endif

/* The outputs o in [*lo, *hi) whose input index o * stride + off lies in
 * [0, n_in): everything outside reads padding. */
static void conv_span(int *lo, int *hi, int n_out, int n_in, int stride, int off)
{
    int a = 0, b = n_out;
    while (a < n_out && a * stride + off < 0) a++;
    while (b > a && (b - 1) * stride + off >= n_in) b--;
    *lo = a;
    *hi = b;
}

/* One row of col: kernel offset (ki, kj) of one channel plane over every
 * output position; the in-bounds span of each output row is a plain copy. */
static void conv_im2col_row(real *dst,         // (OH*OW)
                            const real *plane, // (H,W)
                            int ki, int kj, const cdt_conv2d_params *p)
{
    int oh = cdt_conv2d_out_h(p), ow = cdt_conv2d_out_w(p), lo, hi;
    conv_span(&lo, &hi, ow, p->w, p->stride, kj - p->pad);
    for (int oy = 0; oy < oh; oy++) {
        int iy = oy * p->stride - p->pad + ki;
        real *d = dst + (size_t)oy * ow;
        if (iy < 0 || iy >= p->h || lo >= hi) {
            memset(d, 0, sizeof(real) * ow);
            continue;
        }
        const real *src = plane + (size_t)iy * p->w;
        int off = kj - p->pad;
        for (int ox = 0; ox < lo; ox++) d[ox] = 0;
        if (p->stride == 1) memcpy(d + lo, src + lo + off, sizeof(real) * (hi - lo));
        else for (int ox = lo; ox < hi; ox++) d[ox] = src[ox * p->stride + off];
        for (int ox = hi; ox < ow; ox++) d[ox] = 0;
    }
}

static void conv_im2col(real *col,     // (C*KH*KW, G*OH*OW)
                        const real *x, // (G,C,H,W)
                        int g, const cdt_conv2d_params *p)
{
    int rows = p->c * p->kh * p->kw;
    size_t ohw = (size_t)cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p), ld = ohw * g;
    #pragma omp parallel for collapse(2) if (ld * rows > NN_OMP_MIN)
    for (int b = 0; b < g; b++)
        for (int r = 0; r < rows; r++) {
            int kj = r % p->kw, ki = (r / p->kw) % p->kh, ci = r / (p->kw * p->kh);
            const real *plane = x + ((size_t)b * p->c + ci) * p->h * p->w;
            conv_im2col_row(col + r * ld + b * ohw, plane, ki, kj, p);
        }
}

/* The adjoint of conv_im2col_row: adds one row of col onto its plane. */
static void conv_col2im_row(real *plane,     // (H,W) +=
                            const real *src, // (OH*OW)
                            int ki, int kj, const cdt_conv2d_params *p)
{
    int oh = cdt_conv2d_out_h(p), ow = cdt_conv2d_out_w(p), lo, hi;
    conv_span(&lo, &hi, ow, p->w, p->stride, kj - p->pad);
    for (int oy = 0; oy < oh; oy++) {
        int iy = oy * p->stride - p->pad + ki;
        if (iy < 0 || iy >= p->h) continue;
        real *d = plane + (size_t)iy * p->w;
        const real *s = src + (size_t)oy * ow;
        int off = kj - p->pad;
        if (p->stride == 1) {
            #pragma omp simd // d and s are different buffers: dx and col
            for (int ox = lo; ox < hi; ox++) d[ox + off] += s[ox];
        } else {
            for (int ox = lo; ox < hi; ox++) d[ox * p->stride + off] += s[ox];
        }
    }
}

/* Sums each column entry back onto its pixel. One task per (image,
 * channel) plane, so no two threads write the same one. */
static void conv_col2im(real *dx,        // (G,C,H,W) written
                        const real *col, // (C*KH*KW, G*OH*OW)
                        int g, const cdt_conv2d_params *p)
{
    size_t ohw = (size_t)cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p), ld = ohw * g;
    #pragma omp parallel for collapse(2) if (ld * p->c * p->kh * p->kw > NN_OMP_MIN)
    for (int b = 0; b < g; b++)
        for (int ci = 0; ci < p->c; ci++) {
            real *plane = dx + ((size_t)b * p->c + ci) * p->h * p->w;
            memset(plane, 0, sizeof(real) * p->h * p->w);
            for (int ki = 0; ki < p->kh; ki++)
                for (int kj = 0; kj < p->kw; kj++) {
                    size_t r = ((size_t)ci * p->kh + ki) * p->kw + kj;
                    conv_col2im_row(plane, col + r * ld + b * ohw, ki, kj, p);
                }
        }
}

/* (OC, G*OHW) <-> (G, OC, OHW): one row of OHW at a time. */
static void conv_swap_layout(real *dst, const real *src, int g, int oc, size_t ohw, int to_nchw)
{
    for (int b = 0; b < g; b++)
        for (int o = 0; o < oc; o++) {
            real *a = dst + (to_nchw ? ((size_t)b * oc + o) * ohw : (size_t)o * g * ohw + b * ohw);
            const real *s = src + (to_nchw ? (size_t)o * g * ohw + b * ohw : ((size_t)b * oc + o) * ohw);
            memcpy(a, s, ohw * sizeof(real));
        }
}

/* Output columns per gemm call when the gemm is split across OpenMP
 * threads: a multiple of every sgemm kernel's column block. */
#define CONV_GEMM_COLS 256
/* Multiply-adds below which a split gemm stays on one thread (~0.1 ms). */
#define CONV_GEMM_OMP_MIN ((size_t)1 << 22)

/* When OpenBLAS runs on one thread (the tools pin it there: its threaded
 * path rounds differently), the gemm is split here instead, into slices
 * of CONV_GEMM_COLS output columns, one sgemm each. The slices do not
 * depend on the thread count, so neither do the results. */
static int conv_split_gemm(void)
{
#ifdef OPENBLAS_VERSION
    return openblas_get_num_threads() == 1;
#else
    return 0;
#endif
}

/* C (M,N) = op(A) op(B) + beta C, row-major, split by columns of C. */
static void conv_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
                      const real *a, int lda, const real *b, int ldb,
                      real beta, real *c, int ldc)
{
    int chunks = (n + CONV_GEMM_COLS - 1) / CONV_GEMM_COLS;
    if (chunks <= 1 || !conv_split_gemm()) {
        GEMM(CblasRowMajor, ta, tb, m, n, k, 1, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    #pragma omp parallel for schedule(dynamic) if ((size_t)m * n * k > CONV_GEMM_OMP_MIN)
    for (int ch = 0; ch < chunks; ch++) {
        int j0 = ch * CONV_GEMM_COLS, nj = n - j0 < CONV_GEMM_COLS ? n - j0 : CONV_GEMM_COLS;
        const real *bj = tb == CblasNoTrans ? b + j0 : b + (size_t)j0 * ldb;
        GEMM(CblasRowMajor, ta, tb, m, nj, k, 1, a, lda, bj, ldb, beta, c + j0, ldc);
    }
}

void NN(cdt_conv2d_forward)(real *out,         // (N,OC,OH,OW)
                            const real *x,     // (N,C,H,W)
                            const real *w,     // (OC,C,KH,KW)
                            real *scratch,     // cdt_conv2d_scratch(p)
                            const cdt_conv2d_params *p)
{
    size_t ohw = (size_t)cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p);
    int k = p->c * p->kh * p->kw, group = conv_group(p);
    size_t in_sz = (size_t)p->c * p->h * p->w;
    for (int b0 = 0; b0 < p->n; b0 += group) {
        int g = p->n - b0 < group ? p->n - b0 : group;
        real *col = scratch, *res = scratch + (size_t)k * g * ohw;
        real *ob = out + (size_t)b0 * p->oc * ohw;
        conv_im2col(col, x + b0 * in_sz, g, p);
        // (OC, G*OHW) = W (OC, K) col (K, G*OHW); one image: straight into out
        conv_gemm(CblasNoTrans, CblasNoTrans, p->oc, (int)(g * ohw), k,
                  w, k, col, (int)(g * ohw), 0, g == 1 ? ob : res, (int)(g * ohw));
        if (g > 1) conv_swap_layout(ob, res, g, p->oc, ohw, 1);
    }
}

void NN(cdt_conv2d_backward)(real *dx,         // (N,C,H,W) or NULL
                             real *dw,         // (OC,C,KH,KW) +=
                             const real *dout, // (N,OC,OH,OW)
                             const real *x,    // (N,C,H,W)
                             const real *w,    // (OC,C,KH,KW)
                             real *scratch,    // cdt_conv2d_scratch(p)
                             const cdt_conv2d_params *p)
{
    size_t ohw = (size_t)cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p);
    int k = p->c * p->kh * p->kw, group = conv_group(p);
    size_t in_sz = (size_t)p->c * p->h * p->w;
    for (int b0 = 0; b0 < p->n; b0 += group) {
        int g = p->n - b0 < group ? p->n - b0 : group, ld = (int)(g * ohw);
        real *col = scratch, *res = scratch + (size_t)k * g * ohw;
        const real *db = dout + (size_t)b0 * p->oc * ohw, *dres = db;
        conv_im2col(col, x + b0 * in_sz, g, p);
        if (g > 1) {
            conv_swap_layout(res, db, g, p->oc, ohw, 0);
            dres = res;
        }
        // dW (OC, K) += dout (OC, G*OHW) col^T (G*OHW, K)
        conv_gemm(CblasNoTrans, CblasTrans, p->oc, k, ld, dres, ld, col, ld, 1, dw, k);
        if (!dx) continue;
        // dcol (K, G*OHW) = W^T (K, OC) dout (OC, G*OHW), over col
        conv_gemm(CblasTrans, CblasNoTrans, k, ld, p->oc, w, k, dres, ld, 0, col, ld);
        conv_col2im(dx + b0 * in_sz, col, g, p);
    }
}
