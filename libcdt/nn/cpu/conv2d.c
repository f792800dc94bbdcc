/* conv2d.c: 2-D convolution without bias, as im2col plus gemm (darknet's
 * layout: the BLAS seam is the GEMM macro of real.h).
 *
 * Images are done in groups: im2col lays a group of G images side by side,
 * col (C*KH*KW, G*OH*OW), and one gemm does the group. G is the fewest
 * images that give CONV_MIN_COLS columns, so the large early layers work
 * one image at a time on a col that stays in cache, and the small late
 * layers (OH*OW = 16 at 4x4) still get gemms wide enough to be efficient.
 * The gemm's result is (OC, G*OH*OW) and is copied out to NCHW.
 *
 * Groups are dealt round-robin to CONV_LANES lanes, each with its own
 * scratch (col, result, and a weight-gradient partial), and one OpenMP
 * region runs the lanes, handed out dynamically (a thread the busy machine
 * preempts holds up less): no gemm is split and no im2col waits on another
 * thread. A lane's work is the same whatever thread runs it and dW adds the
 * lanes' partials in lane order, so results do not depend on the thread
 * count. When OpenBLAS is itself threaded (a caller that did not pin it to
 * one thread, as the tools do) the lanes run on one thread and BLAS
 * spreads each gemm. */
#include "cdt_nn.h"
#include "real.h"

#include <omp.h>
#include <string.h>

/* Columns (G*OH*OW) a group's gemm is given at least. */
#define CONV_MIN_COLS 256
/* Lanes: the most threads a conv uses. */
#define CONV_LANES 4
/* Elements of scratch (64 MiB in float) beyond which lanes are dropped. */
#define CONV_SCRATCH_BUDGET ((size_t)1 << 24)

/* Images per group (both builds: it does not depend on real). */
static int conv_group(const cdt_conv2d_params *p)
{
    int ohw = cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p);
    int g = (CONV_MIN_COLS + ohw - 1) / ohw;
    return g < p->n ? g : p->n;
}

static size_t conv_lane_size(const cdt_conv2d_params *p);

/* Lanes: at most one per group, and no more than fit CONV_SCRATCH_BUDGET
 * (a very large image takes one lane, as much scratch as it must). */
static int conv_lanes(const cdt_conv2d_params *p)
{
    int groups = (p->n + conv_group(p) - 1) / conv_group(p);
    size_t fit = CONV_SCRATCH_BUDGET / conv_lane_size(p);
    int lanes = groups < CONV_LANES ? groups : CONV_LANES;
    return fit < 1 ? 1 : fit < (size_t)lanes ? (int)fit : lanes;
}

/* Elements of one lane's scratch: col (K, G*OHW), result (OC, G*OHW) and
 * a dW partial (OC, K). */
static size_t conv_lane_size(const cdt_conv2d_params *p)
{
    size_t cols = (size_t)cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p) * conv_group(p);
    size_t k = (size_t)p->c * p->kh * p->kw;
    return (k + p->oc) * cols + (size_t)p->oc * k;
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
    return conv_lane_size(p) * conv_lanes(p);
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

/* A "same" convolution (stride 1, odd square kernel, pad = k/2: the output
 * is the input's size) moves a whole plane by one shift per kernel offset
 * (ki, kj), delta = dy W + dx with dy = ki - pad, dx = kj - pad: one long
 * copy instead of a short one per row. The shift carries pixels across
 * the row ends (wrapping) where the definition reads padding, so those
 * columns are fixed up after; rows shifted in from outside are padding. */
static int conv_same(const cdt_conv2d_params *p)
{
    return p->stride == 1 && p->kh == p->kw && p->kh % 2 == 1 && 2 * p->pad == p->kh - 1;
}

/* Valid output rows [*y0, *y1) and columns [*x0, *x1) of offset (dy, dx). */
static void conv_same_span(int *y0, int *y1, int *x0, int *x1, int dy, int dx,
                           const cdt_conv2d_params *p)
{
    *y0 = dy < 0 ? -dy : 0;
    *y1 = dy > 0 ? p->h - dy : p->h;
    *x0 = dx < 0 ? -dx : 0;
    *x1 = dx > 0 ? p->w - dx : p->w;
}

static void conv_im2col_same(real *dst,         // (H*W)
                             const real *plane, // (H,W)
                             int ki, int kj, const cdt_conv2d_params *p)
{
    int w = p->w, dy = ki - p->pad, dx = kj - p->pad, y0, y1, x0, x1;
    size_t hw = (size_t)p->h * w;
    conv_same_span(&y0, &y1, &x0, &x1, dy, dx, p);
    if (y1 <= y0 || x1 <= x0) {
        memset(dst, 0, hw * sizeof(real));
        return;
    }
    // [a, e) spans the valid rows less their leading and trailing padding
    size_t a = (size_t)y0 * w + x0, e = (size_t)(y1 - 1) * w + x1;
    memset(dst, 0, a * sizeof(real));
    memcpy(dst + a, plane + a + (ptrdiff_t)dy * w + dx, (e - a) * sizeof(real));
    memset(dst + e, 0, (hw - e) * sizeof(real));
    if (x0 == 0 && x1 == w) return;
    for (int oy = y0; oy < y1; oy++) {
        real *d = dst + (size_t)oy * w;
        for (int ox = 0; ox < x0; ox++) d[ox] = 0;
        for (int ox = x1; ox < w; ox++) d[ox] = 0;
    }
}

/* The adjoint: plane += the shifted row (plane = it for the centre, which
 * covers every pixel). Zeroes the wrapping columns of src, a scratch row,
 * so that one long loop adds nothing there. */
static void conv_col2im_same(real *plane, // (H,W) += (= for the centre)
                             real *src,   // (H*W), clobbered
                             int ki, int kj, const cdt_conv2d_params *p)
{
    int w = p->w, dy = ki - p->pad, dx = kj - p->pad, y0, y1, x0, x1;
    size_t hw = (size_t)p->h * w;
    if (dy == 0 && dx == 0) {
        memcpy(plane, src, hw * sizeof(real));
        return;
    }
    conv_same_span(&y0, &y1, &x0, &x1, dy, dx, p);
    if (y1 <= y0 || x1 <= x0) return;
    for (int oy = y0; oy < y1; oy++) {
        real *s = src + (size_t)oy * w;
        for (int ox = 0; ox < x0; ox++) s[ox] = 0;
        for (int ox = x1; ox < w; ox++) s[ox] = 0;
    }
    size_t a = (size_t)y0 * w + x0, e = (size_t)(y1 - 1) * w + x1;
    real *d = plane + (ptrdiff_t)dy * w + dx;
    #pragma omp simd // d and src are different buffers: dx and col
    for (size_t i = a; i < e; i++) d[i] += src[i];
}

static void conv_im2col(real *col,     // (C*KH*KW, G*OH*OW)
                        const real *x, // (G,C,H,W)
                        int g, const cdt_conv2d_params *p)
{
    int rows = p->c * p->kh * p->kw, same = conv_same(p);
    size_t ohw = (size_t)cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p), ld = ohw * g;
    for (int b = 0; b < g; b++)
        for (int r = 0; r < rows; r++) {
            int kj = r % p->kw, ki = (r / p->kw) % p->kh, ci = r / (p->kw * p->kh);
            const real *plane = x + ((size_t)b * p->c + ci) * p->h * p->w;
            if (same) conv_im2col_same(col + r * ld + b * ohw, plane, ki, kj, p);
            else conv_im2col_row(col + r * ld + b * ohw, plane, ki, kj, p);
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

/* Sums each column entry back onto its pixel, plane by plane. */
static void conv_col2im(real *dx,  // (G,C,H,W) written
                        real *col, // (C*KH*KW, G*OH*OW), clobbered
                        int g, const cdt_conv2d_params *p)
{
    size_t ohw = (size_t)cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p), ld = ohw * g;
    for (int b = 0; b < g; b++)
        for (int ci = 0; ci < p->c; ci++) {
            real *plane = dx + ((size_t)b * p->c + ci) * p->h * p->w;
            if (conv_same(p)) { // the centre first: it writes every pixel
                size_t r0 = (size_t)ci * p->kh * p->kw;
                conv_col2im_same(plane, col + (r0 + p->kh * p->kw / 2) * ld + b * ohw, p->pad, p->pad, p);
                for (int r = 0; r < p->kh * p->kw; r++)
                    if (r != p->kh * p->kw / 2)
                        conv_col2im_same(plane, col + (r0 + r) * ld + b * ohw, r / p->kw, r % p->kw, p);
                continue;
            }
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

/* Threads for the lanes: one when OpenBLAS threads its own gemms (its
 * threads and ours would fight over the cores). */
static int conv_threads(int lanes)
{
#ifdef OPENBLAS_VERSION
    if (openblas_get_num_threads() != 1) return 1;
#endif
    int t = omp_get_max_threads();
    return t < lanes ? t : lanes;
}

/* A group's col: im2col into the lane, except for one image of a pointwise
 * convolution (1x1, stride 1, no padding), whose (C, H*W) planes already
 * are its col. */
static const real *conv_col(real *lane,      // conv_lane_size(p)
                            const real *x,   // (G,C,H,W)
                            int g, const cdt_conv2d_params *p)
{
    if (g == 1 && p->kh == 1 && p->kw == 1 && p->stride == 1 && p->pad == 0) return x;
    conv_im2col(lane, x, g, p);
    return lane;
}

/* One group of forward: im2col, gemm, copy out. */
static void conv_forward_group(real *out,       // (G,OC,OHW)
                               const real *x,   // (G,C,H,W)
                               const real *w,   // (OC,K)
                               real *lane,      // conv_lane_size(p)
                               int g, const cdt_conv2d_params *p)
{
    int k = p->c * p->kh * p->kw, ld = g * cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p);
    real *res = lane + (size_t)k * ld;
    const real *col = conv_col(lane, x, g, p);
    // (OC, G*OHW) = W (OC, K) col (K, G*OHW); one image: straight into out
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, p->oc, ld, k, 1, w, k, col, ld, 0,
         g == 1 ? out : res, ld);
    if (g > 1) conv_swap_layout(out, res, g, p->oc, ld / g, 1);
}

void NN(cdt_conv2d_forward)(real *out,         // (N,OC,OH,OW)
                            const real *x,     // (N,C,H,W)
                            const real *w,     // (OC,C,KH,KW)
                            real *scratch,     // cdt_conv2d_scratch(p)
                            const cdt_conv2d_params *p)
{
    size_t ohw = (size_t)cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p), in_sz = (size_t)p->c * p->h * p->w;
    int group = conv_group(p), lanes = conv_lanes(p), groups = (p->n + group - 1) / group;
    size_t work = (size_t)p->n * ohw * p->oc * p->c * p->kh * p->kw;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(conv_threads(lanes)) if (work > NN_OMP_MIN)
    for (int l = 0; l < lanes; l++)
        for (int gi = l; gi < groups; gi += lanes) {
            int b0 = gi * group, g = p->n - b0 < group ? p->n - b0 : group;
            conv_forward_group(out + b0 * p->oc * ohw, x + b0 * in_sz, w,
                               scratch + l * conv_lane_size(p), g, p);
        }
}

/* One group of backward: dW partial += dout col^T, dx = col2im(W^T dout). */
static void conv_backward_group(real *dx,         // (G,C,H,W) or NULL
                                real *dw,         // (OC,K) lane partial +=
                                const real *dout, // (G,OC,OHW)
                                const real *x,    // (G,C,H,W)
                                const real *w,    // (OC,K)
                                real *lane,       // conv_lane_size(p)
                                int g, const cdt_conv2d_params *p)
{
    int k = p->c * p->kh * p->kw, ld = g * cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p);
    real *res = lane + (size_t)k * ld;
    const real *d = dout, *col = conv_col(lane, x, g, p);
    if (g > 1) {
        conv_swap_layout(res, dout, g, p->oc, ld / g, 0);
        d = res;
    }
    // dW (OC, K) += dout (OC, G*OHW) col^T (G*OHW, K)
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, p->oc, k, ld, 1, d, ld, col, ld, 1, dw, k);
    if (!dx) return;
    // dcol (K, G*OHW) = W^T (K, OC) dout (OC, G*OHW); for a pointwise image
    // that is dx, else it goes over col and back through col2im
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, k, ld, p->oc, 1, w, k, d, ld, 0,
         col == x ? dx : lane, ld);
    if (col != x) conv_col2im(dx, lane, g, p);
}

void NN(cdt_conv2d_backward)(real *dx,         // (N,C,H,W) or NULL
                             real *dw,         // (OC,C,KH,KW) +=
                             const real *dout, // (N,OC,OH,OW)
                             const real *x,    // (N,C,H,W)
                             const real *w,    // (OC,C,KH,KW)
                             real *scratch,    // cdt_conv2d_scratch(p)
                             const cdt_conv2d_params *p)
{
    size_t ohw = (size_t)cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p), in_sz = (size_t)p->c * p->h * p->w;
    int group = conv_group(p), lanes = conv_lanes(p), groups = (p->n + group - 1) / group;
    size_t k = (size_t)p->c * p->kh * p->kw, nw = p->oc * k, lsz = conv_lane_size(p);
    size_t work = (size_t)p->n * ohw * p->oc * k;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(conv_threads(lanes)) if (work > NN_OMP_MIN)
    for (int l = 0; l < lanes; l++) {
        real *lane = scratch + l * lsz, *part = lane + lsz - nw;
        memset(part, 0, nw * sizeof(real));
        for (int gi = l; gi < groups; gi += lanes) {
            int b0 = gi * group, g = p->n - b0 < group ? p->n - b0 : group;
            conv_backward_group(dx ? dx + b0 * in_sz : NULL, part, dout + b0 * p->oc * ohw,
                                x + b0 * in_sz, w, lane, g, p);
        }
    }
    for (int l = 0; l < lanes; l++) { // in lane order: the same sums for any thread count
        const real *part = scratch + (l + 1) * lsz - nw;
        for (size_t i = 0; i < nw; i++) dw[i] += part[i];
    }
}
