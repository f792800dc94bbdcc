/* conv2d.c: 2-D convolution without bias, in one of three ways:
 * - the 3x3 convolutions with pad 1, stride 1 or 2, of up to 64 channels
 *   each way (a narrow ResNet's whole body): direct, by register-blocked
 *   vector kernels over a padded flat layout (see "Direct 3x3" below, and
 *   conv3x3.h), except small images (8x8 and less) of 32 channels and more
 *   each way, which go to Winograd;
 * - the wider stride-1 3x3 ones: Winograd F(2x2,3x3) (see "Winograd"):
 *   forward and input gradient, and from 128 input channels (small images:
 *   32) the weight gradient too; on small images its transforms run
 *   across 16 images at a time;
 * - everything else: im2col plus gemm (darknet's layout: the BLAS seam is
 *   the GEMM macro of real.h).
 *
 * Images are done in groups: im2col lays a group of G images side by side,
 * col (C*KH*KW, G*OH*OW), and one gemm does the group. G is the fewest
 * images that give CONV_MIN_COLS columns, so the large early layers work
 * one image at a time on a col that stays in cache, and the small late
 * layers (OH*OW = 16 at 4x4) still get gemms wide enough to be efficient.
 * The gemm's result is (OC, G*OH*OW) and is copied out to NCHW.
 *
 * Groups are dealt round-robin to CONV_LANES lanes, each with its own
 * scratch (col, result, and a weight-gradient partial; on the Winograd path
 * its transformed tiles, on the direct one its planes), and one OpenMP
 * region runs the lanes, handed out dynamically (a thread the busy machine
 * preempts holds up less): no gemm is split and no im2col waits on another
 * thread. A lane's work is the same whatever thread runs it and dW adds the
 * lanes' partials in lane order, so results do not depend on the thread
 * count. When OpenBLAS is itself threaded (a caller that did not pin it to
 * one thread, as the tools do) the lanes run on one thread and BLAS
 * spreads each gemm. */
#include "cdt_core.h"
#include "cdt_nn.h"
#include "nn/backend.h"
#include "real.h"
#include "bn_eval.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Columns (G*OH*OW) a group's gemm is given at least. */
#ifndef CONV_MIN_COLS
#define CONV_MIN_COLS 256
#endif
/* Lanes: the most threads a conv uses. */
#ifndef CONV_LANES
#define CONV_LANES 4
#endif
/* Input and output channels from which a stride-1 3x3 convolution takes
 * the Winograd path: below, its 16 gemms are too small to pay for the
 * transforms (the stems, 1 or 3 channels; at 16 channels it about breaks
 * even). An odd side takes it only from WINO_MIN_ODD pixels: at 7x7 the
 * tiles cover 8x8, and the wasted quarter makes it slower than im2col. */
#ifndef WINO_MIN_C
#define WINO_MIN_C 16
#endif
#ifndef WINO_MIN_ODD
#define WINO_MIN_ODD 15
#endif
#ifndef WINO_DW_MIN_C
#define WINO_DW_MIN_C 128
#endif
/* Tiles across and down at most for which the Winograd transforms run
 * across images (small images), WINO_VB at a time; the scratch that takes. */
#ifndef WINO_SMALL_TW
#define WINO_SMALL_TW 4
#endif
#define WINO_VB 16
/* Channels each way from which small images may take Winograd before the
 * direct kernels (wino_small_first), and its weight gradient too. */
#ifndef WINO_SMALL_MIN_C
#define WINO_SMALL_MIN_C 32
#endif
#define WINO_SMALL_TMP ((size_t)(2 * WINO_SMALL_TW + 2) * (2 * WINO_SMALL_TW + 2) * WINO_VB)
#ifndef D3_MIN_POS
#define D3_MIN_POS 2048
#endif
/* Elements a thread takes at a time in the sum of the lanes' dW partials. */
#define CONV_SUM_BLOCK 4096
/* Elements of scratch (64 MiB in float) beyond which lanes are dropped. */
#define CONV_SCRATCH_BUDGET ((size_t)1 << 24)

static int conv_direct(const cdt_conv2d_params *p);
static int conv_threads(int lanes);
static int conv_wino_small(const cdt_conv2d_params *p);
static int wino_small(const cdt_conv2d_params *p);
static int wino_fits(const cdt_conv2d_params *p);
static int wino_small_first(const cdt_conv2d_params *p);
static int conv_wino(const cdt_conv2d_params *p);

/* Images per group (both builds: it does not depend on real). The direct
 * path wants D3_MIN_POS positions (its weight gradient ends each group
 * with a sum across every vector's lanes), as long as that leaves a
 * group for every lane. */
static int conv_group(const cdt_conv2d_params *p)
{
    int ohw = cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p), cols = CONV_MIN_COLS;
    if (conv_direct(p)) {
        ohw = (cdt_conv2d_out_h(p) + 1) * (cdt_conv2d_out_w(p) + 1);
        cols = D3_MIN_POS;
    }
    int g = (cols + ohw - 1) / ohw;
    // small images on Winograd: a whole block of images for the transforms
    if (conv_wino_small(p) && g < WINO_VB) g = WINO_VB;
    // but a group for every lane, so that the lanes' work evens out
    int most = (p->n + CONV_LANES - 1) / CONV_LANES;
    if (conv_direct(p) && g > most) g = most;
    return g < p->n ? g : p->n;
}

static size_t conv_lane_size(const cdt_conv2d_params *p);
static int conv_wino(const cdt_conv2d_params *p);
static int conv_wino_dw(const cdt_conv2d_params *p);
static size_t wino_tiles(const cdt_conv2d_params *p);
static size_t wino_rows_size(const cdt_conv2d_params *p);
static size_t d3_lane_size(const cdt_conv2d_params *p);
static size_t d3_shared_size(const cdt_conv2d_params *p);

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
 * a dW partial (OC, K); on the Winograd path its two buffers V (16, C, T)
 * and M (16, OC, T) for G images' T tiles, the transforms' rows, and a
 * partial of dW in the transformed space (16, OC, C). */
static size_t conv_lane_size(const cdt_conv2d_params *p)
{
    size_t cols = (size_t)cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p) * conv_group(p);
    size_t k = (size_t)p->c * p->kh * p->kw, nw = (size_t)p->oc * k, gemm = (k + p->oc) * cols + nw;
    if (conv_direct(p)) return d3_lane_size(p);
    if (!conv_wino(p)) return gemm;
    size_t buf = 16 * (size_t)(p->c + p->oc) * wino_tiles(p) * conv_group(p) + wino_rows_size(p);
    if (conv_wino_dw(p)) return buf + 16 * (size_t)p->oc * p->c;
    return buf + nw > gemm ? buf + nw : gemm; // dW on im2col, dx on Winograd
}

/* Elements before the lanes: the Winograd path's transformed weights
 * (16, OC, C), shared by the lanes. */
static size_t conv_shared_size(const cdt_conv2d_params *p)
{
    if (conv_direct(p)) return d3_shared_size(p);
    return conv_wino(p) ? 16 * (size_t)p->oc * p->c : 0;
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
    return conv_shared_size(p) + conv_lane_size(p) * conv_lanes(p);
}

int cdt_conv2d_kernels_auto(void)
{
    // By the CPU alone, never by OpenBLAS's core: where the AVX-512 set
    // runs, the direct kernels also take the layers they share with the
    // gemms, so those layers' bits are the same whichever core OpenBLAS
    // runs (OPENBLAS_CORETYPE=Haswell: they win them by 10-30%; against
    // OpenBLAS's own AVX-512 kernels they cost within the noise of a
    // whole step: docs/benchmarks.md).
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return CDT_CONV_DIRECT_WIDE;
#endif
    return CDT_CONV_DIRECT;
}

int cdt_conv2d_kernels_parse(const char *s)
{
    if (!s || !*s) return CDT_CONV_AUTO;
    if (!strcmp(s, "gemm")) return CDT_CONV_GEMM;
    if (!strcmp(s, "avx512")) return CDT_CONV_AVX512;
    if (!strcmp(s, "avx2")) return CDT_CONV_AVX2;
    return CDT_CONV_GENERIC; // any other name: no set of its own, the portable one
}

const char *cdt_conv2d_kernels_name(int kernels)
{
    switch (kernels) {
    case CDT_CONV_AUTO: return "auto";
    case CDT_CONV_DIRECT: return "direct";
    case CDT_CONV_DIRECT_WIDE: return "direct-wide";
    case CDT_CONV_GEMM: return "gemm";
    case CDT_CONV_AVX512: return "avx512";
    case CDT_CONV_AVX2: return "avx2";
    case CDT_CONV_GENERIC: return "generic";
    }
    return "?";
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

/* ---- Winograd F(2x2, 3x3) for the stride-1 3x3 "same" convolutions ----
 * (Lavin and Gray 2016.) Each 2x2 block of outputs ("tile") is computed
 * from the 4x4 input patch around it as Y = A^T [(G g G^T) . (B^T d B)] A:
 * with the transformed weights U = G g G^T and patches V = B^T d B, the
 * sum over input channels of the elementwise product is, for each of the
 * 16 positions xi of the 4x4 transform, one gemm M[xi] (OC, T) =
 * U[xi] (OC, C) V[xi] (C, T) over the T tiles of a group of images: 16
 * multiply-adds per tile and channel pair where the direct form takes 36,
 * 2.25x fewer. The transforms are adds and halvings; the result differs
 * from the direct sum by rounding only (the tests hold it to the same
 * tolerance). Tiles past an odd edge read zeros and write nothing.
 * The input gradient of such a convolution is the same convolution of
 * dout with the kernels turned by 180 degrees and the channels swapped,
 * so backward runs it through this path too. */
static int conv_wino(const cdt_conv2d_params *p)
{
    return !conv_direct(p) && wino_fits(p);
}

/* Whether Winograd takes it, given it is not direct: stride 1, 3x3, pad 1,
 * WINO_MIN_C channels each way, and even sides, or sides past
 * WINO_MIN_ODD, or small images (their transforms waste less). */
static int wino_fits(const cdt_conv2d_params *p)
{
    return p->stride == 1 && p->kh == 3 && p->kw == 3 && p->pad == 1 && p->c >= WINO_MIN_C &&
           p->oc >= WINO_MIN_C &&
           (wino_small(p) || ((p->h % 2 == 0 || p->h >= WINO_MIN_ODD) && (p->w % 2 == 0 || p->w >= WINO_MIN_ODD)));
}

/* Whether the direct kernels take the layers where they and OpenBLAS's
 * gemms are close. A model decides it once, when it is made, by the CPU
 * (cdt_conv2d_kernels_auto: CDT_CONV_DIRECT_WIDE where the AVX-512 set
 * runs); naming a kernel set asks for them too (the tests run the direct
 * path that way). */
static int d3_prefer(const cdt_conv2d_params *p)
{
    return p->kernels == CDT_CONV_DIRECT_WIDE || p->kernels == CDT_CONV_AVX512 ||
           p->kernels == CDT_CONV_AVX2 || p->kernels == CDT_CONV_GENERIC;
}

/* Small images of WINO_SMALL_MIN_C channels each way take Winograd before
 * the direct kernels, whose spans are short there (16 of 25 positions at
 * 4x4), unless the images are past 4x4 and the channels fewer than 64
 * (32 at 7x7: 0.9 against 1.1 ms forward), or past 4x4 and d3_prefer()
 * (64 at 7x7 against AVX2 gemms: 4.2 against 5.1 ms forward, 9.0 against
 * 10.4 backward; against the AVX-512 ones 3.8 both, and at 6x6 or 8x8
 * Winograd wins: 1.9 against 2.8, 3.9 against 4.4). One thread, AMD Zen 5. */
static int wino_small_first(const cdt_conv2d_params *p)
{
    if (!wino_fits(p) || !wino_small(p) || p->c < WINO_SMALL_MIN_C || p->oc < WINO_SMALL_MIN_C) return 0;
    if (p->h <= 4 && p->w <= 4) return 1;
    return p->c >= 64 && p->oc >= 64 && !d3_prefer(p);
}

/* The weight gradient too, from WINO_DW_MIN_C input channels (small
 * images: WINO_SMALL_MIN_C, their groups being wider): below, its 16 gemms
 * (OC, C) += (OC, T) (T, C) are too small for their long T. */
static int conv_wino_dw(const cdt_conv2d_params *p)
{
    return conv_wino(p) && (p->c >= WINO_DW_MIN_C || (wino_small(p) && p->c >= WINO_SMALL_MIN_C));
}

/* Tiles of one image. */
static size_t wino_tiles(const cdt_conv2d_params *p)
{
    return (size_t)((p->h + 1) / 2) * ((p->w + 1) / 2);
}

/* Kernels per block of the weight transform. */
#define WINO_WB 16

/* Rows [r0, r1) of U, a block of WINO_WB kernels at a time: each of U's
 * 16 planes is written a cache line at a time, and w is read in runs of
 * WINO_WB kernels in either layout (the turned kernels run across w's
 * rows). Vector code for the CPU (NN_CLONES): in the default build's
 * 16-byte vectors it was a few per cent of a small-image step. */
NN_CLONES
static void wino_weights_rows(real *u, const real *w, int r0, int r1, const cdt_conv2d_params *p,
                              int flip)
{
    int cols = flip ? p->oc : p->c;
    size_t plane = (size_t)(flip ? p->c : p->oc) * cols;
    for (int c0 = 0; c0 < cols; c0 += WINO_WB)
        for (int r = r0; r < r1; r++) {
            int nb = cols - c0 < WINO_WB ? cols - c0 : WINO_WB;
            real g[9][WINO_WB], t[4][3][WINO_WB], ub[16][WINO_WB];
            for (int b = 0; b < nb; b++) {
                int o = flip ? c0 + b : r, c = flip ? r : c0 + b;
                const real *k = w + ((size_t)o * p->c + c) * 9;
                if (flip)
                    for (int i = 0; i < 9; i++) g[i][b] = k[8 - i];
                else
                    for (int i = 0; i < 9; i++) g[i][b] = k[i];
            }
            for (int i = 0; i < 9; i++)
                for (int b = nb; b < WINO_WB; b++) g[i][b] = 0;
            // one kernel a lane, each step a whole vector
            for (int j = 0; j < 3; j++) { // t = G g
                #pragma omp simd
                for (int b = 0; b < WINO_WB; b++) {
                    real g0 = g[j][b], g1 = g[3 + j][b], g2 = g[6 + j][b];
                    t[0][j][b] = g0;
                    t[1][j][b] = (g0 + g1 + g2) * (real)0.5;
                    t[2][j][b] = (g0 - g1 + g2) * (real)0.5;
                    t[3][j][b] = g2;
                }
            }
            for (int i = 0; i < 4; i++) { // U = t G^T
                #pragma omp simd
                for (int b = 0; b < WINO_WB; b++) {
                    real t0 = t[i][0][b], t1 = t[i][1][b], t2 = t[i][2][b];
                    ub[4 * i][b] = t0;
                    ub[4 * i + 1][b] = (t0 + t1 + t2) * (real)0.5;
                    ub[4 * i + 2][b] = (t0 - t1 + t2) * (real)0.5;
                    ub[4 * i + 3][b] = t2;
                }
            }
            real *ur = u + (size_t)r * cols + c0;
            if (nb == WINO_WB) // a constant size: a vector store, not a call
                for (int xi = 0; xi < 16; xi++) memcpy(ur + (size_t)xi * plane, ub[xi], sizeof ub[xi]);
            else
                for (int xi = 0; xi < 16; xi++) memcpy(ur + (size_t)xi * plane, ub[xi], nb * sizeof(real));
        }
}

/* U (16, OC, C) = G g G^T for each kernel g of w (OC,C,3,3), or with flip
 * for the input gradient: U (16, C, OC) from w turned by 180 degrees. */
static void wino_weights(real *u, const real *w, const cdt_conv2d_params *p, int flip)
{
    int rows = flip ? p->c : p->oc, cols = flip ? p->oc : p->c;
    size_t plane = (size_t)rows * cols;
    int rblocks = (rows + WINO_WB - 1) / WINO_WB;
    #pragma omp parallel for num_threads(conv_threads(CONV_LANES)) if (plane * 16 > NN_OMP_PASS)
    for (int rb = 0; rb < rblocks; rb++) {
        int r1 = (rb + 1) * WINO_WB;
        wino_weights_rows(u, w, rb * WINO_WB, r1 < rows ? r1 : rows, p, flip);
    }
}

/* The transforms run along whole rows of tiles, split into even and odd
 * columns so that every loop is unit-stride (vector code); each element is
 * the same sum of the same terms as in the 4x4 form, whatever the vector
 * width. Built also for AVX2 and AVX-512, picked at load time (NN_CLONES).
 * Their scratch, per lane: 16 rows of (tiles across + 1), or the small
 * images' padded block. */
static size_t wino_rows_size(const cdt_conv2d_params *p)
{
    size_t rows = 16 * (size_t)((p->w + 1) / 2 + 1);
    return rows > WINO_SMALL_TMP ? rows : WINO_SMALL_TMP;
}

/* ---- The same transforms for small images ----
 * With WINO_SMALL_TW tiles or fewer across and down, a row of tiles is too short
 * for vector code: there the tiles are ordered tile by tile, the images
 * of a group within (T = tile * G + image, where the row form has image *
 * tiles + tile), and the transforms run across WINO_VB images at once,
 * each element the same sum of the same terms. The gemms do not mind the
 * order of T, as long as V, M and Mdy share it. */
static int wino_small(const cdt_conv2d_params *p)
{
    return (p->h + 1) / 2 <= WINO_SMALL_TW && (p->w + 1) / 2 <= WINO_SMALL_TW;
}

/* A convolution on the Winograd path with small images. */
static int conv_wino_small(const cdt_conv2d_params *p)
{
    return conv_wino(p) && wino_small(p);
}

/* Patch rows and columns of an image in tiles: its padded side. */
static int wino_padded(int side)
{
    return 2 * ((side + 1) / 2) + 2;
}

/* A block of WINO_VB x WINO_VB turned over, r[i][b] = r[b][i] after: four
 * rounds of two-vector shuffles, each swapping the off-diagonal quarters
 * of every 2s x 2s block (s = 8, 4, 2, 1). It moves values only, so the
 * small path's transposes between (image, pixel) and (pixel, image) give
 * the same bits as element-wise copies: 64 shuffles for 256 values instead
 * of a load and a store each. Compiled into its (cloned) callers. */
typedef real wino_vec __attribute__((vector_size(WINO_VB * sizeof(real))));
#define WT_LO(s, c) (((c) & (s)) ? WINO_VB + (c) - (s) : (c))
#define WT_HI(s, c) (((c) & (s)) ? WINO_VB + (c) : (c) + (s))
#define WT_16(F, s) F(s, 0), F(s, 1), F(s, 2), F(s, 3), F(s, 4), F(s, 5), F(s, 6), F(s, 7), \
    F(s, 8), F(s, 9), F(s, 10), F(s, 11), F(s, 12), F(s, 13), F(s, 14), F(s, 15)
#define WT_ROUND(s)                                                          \
    for (int i = 0; i < WINO_VB; i++)                                        \
        if (!(i & (s))) {                                                    \
            wino_vec a = r[i], b = r[i + (s)];                               \
            r[i] = __builtin_shufflevector(a, b, WT_16(WT_LO, s));           \
            r[i + (s)] = __builtin_shufflevector(a, b, WT_16(WT_HI, s));     \
        }
static inline __attribute__((always_inline)) void wino_transpose(wino_vec r[WINO_VB])
{
    WT_ROUND(8)
    WT_ROUND(4)
    WT_ROUND(2)
    WT_ROUND(1)
}
#undef WT_ROUND
#undef WT_16
#undef WT_HI
#undef WT_LO

/* The first n <= WINO_VB elements of v to dst, and back (zeros past n);
 * a whole block as one vector move (a library call costs more than the
 * copy at this size). */
static inline __attribute__((always_inline)) void wino_store_vb(real *dst, const wino_vec *v, int n)
{
    if (n == WINO_VB) memcpy(dst, v, sizeof *v);
    else memcpy(dst, v, n * sizeof(real));
}

static inline __attribute__((always_inline)) void wino_load_vb(wino_vec *v, const real *src, int n)
{
    if (n == WINO_VB) {
        memcpy(v, src, sizeof *v);
        return;
    }
    *v = (wino_vec){0};
    memcpy(v, src, n * sizeof(real));
}

/* tmp[y + off][x + off][b] (rows of pw, WINO_VB images) = channel ch of
 * the nb images of x (nb, nch, h, w); zeros elsewhere in its rows. Whole
 * blocks of WINO_VB pixels go through wino_transpose, the rest one by
 * one. */
static inline __attribute__((always_inline)) void wino_gather(real *tmp, const real *x, int nb,
                                                              int ch, int nch, int h, int w,
                                                              int rows, int pw, int off)
{
    int hw = h * w, body = hw - hw % WINO_VB;
    memset(tmp, 0, (size_t)rows * pw * WINO_VB * sizeof(real));
    for (int i0 = 0; i0 < body; i0 += WINO_VB) {
        wino_vec r[WINO_VB];
        for (int b = 0; b < WINO_VB; b++) {
            if (b < nb) memcpy(&r[b], x + ((size_t)b * nch + ch) * hw + i0, sizeof r[b]);
            else r[b] = (wino_vec){0};
        }
        wino_transpose(r);
        for (int k = 0; k < WINO_VB; k++) {
            int y = (i0 + k) / w, xx = (i0 + k) % w;
            memcpy(tmp + ((size_t)(y + off) * pw + xx + off) * WINO_VB, &r[k], sizeof r[k]);
        }
    }
    for (int b = 0; b < nb; b++) {
        const real *pl = x + ((size_t)b * nch + ch) * hw;
        for (int i = body; i < hw; i++)
            tmp[((size_t)(i / w + off) * pw + i % w + off) * WINO_VB + b] = pl[i];
    }
}

/* The other way: plane o of the nb images of out (nb, noc, h, w) =
 * tmp[y][x][b] (rows of pw). */
static inline __attribute__((always_inline)) void wino_scatter(real *out, const real *tmp, int nb,
                                                               int o, int noc, int h, int w,
                                                               int pw)
{
    int hw = h * w, body = hw - hw % WINO_VB;
    for (int i0 = 0; i0 < body; i0 += WINO_VB) {
        wino_vec r[WINO_VB];
        for (int k = 0; k < WINO_VB; k++) {
            int y = (i0 + k) / w, xx = (i0 + k) % w;
            memcpy(&r[k], tmp + ((size_t)y * pw + xx) * WINO_VB, sizeof r[k]);
        }
        wino_transpose(r);
        for (int b = 0; b < nb; b++)
            memcpy(out + ((size_t)b * noc + o) * hw + i0, &r[b], sizeof r[b]);
    }
    for (int b = 0; b < nb; b++) {
        real *pl = out + ((size_t)b * noc + o) * hw;
        for (int i = body; i < hw; i++) pl[i] = tmp[((size_t)(i / w) * pw + i % w) * WINO_VB + b];
    }
}

/* V (16, C, T) of wino_input in the small order; tmp holds WINO_SMALL_TMP. */
NN_CLONES
static void wino_input_small(real *v, const real *x, real *tmp, int g, size_t tt,
                             const cdt_conv2d_params *p)
{
    int h = p->h, w = p->w, th = (h + 1) / 2, tw = (w + 1) / 2, ph = wino_padded(h), pw = wino_padded(w);
    size_t xstride = (size_t)p->c * tt;
    for (int c = 0; c < p->c; c++)
        for (int b0 = 0; b0 < g; b0 += WINO_VB) {
            int nb = g - b0 < WINO_VB ? g - b0 : WINO_VB;
            // pad[y + 1][x + 1][b] = image b0 + b, zeros around
            wino_gather(tmp, x + (size_t)b0 * p->c * h * w, nb, c, p->c, h, w, ph, pw, 1);
            for (int ty = 0; ty < th; ty++)
                for (int tx = 0; tx < tw; tx++) {
                    const real *d = tmp + ((size_t)2 * ty * pw + 2 * tx) * WINO_VB;
                    real *vt = v + (size_t)c * tt + (size_t)(ty * tw + tx) * g + b0;
                    wino_vec dv[4][4], vb[16]; // dv[i][j]: row i, column j of the patch
                    for (int i = 0; i < 4; i++)
                        for (int j = 0; j < 4; j++)
                            memcpy(&dv[i][j], d + ((size_t)i * pw + j) * WINO_VB, sizeof dv[i][j]);
                    for (int j = 0; j < 4; j++) { // B^T along the column, then B along the row
                        wino_vec t0 = dv[0][j] - dv[2][j], t1 = dv[1][j] + dv[2][j],
                                 t2 = dv[2][j] - dv[1][j], t3 = dv[1][j] - dv[3][j];
                        dv[0][j] = t0, dv[1][j] = t1, dv[2][j] = t2, dv[3][j] = t3;
                    }
                    for (int i = 0; i < 4; i++) {
                        vb[4 * i] = dv[i][0] - dv[i][2];
                        vb[4 * i + 1] = dv[i][1] + dv[i][2];
                        vb[4 * i + 2] = dv[i][2] - dv[i][1];
                        vb[4 * i + 3] = dv[i][1] - dv[i][3];
                    }
                    for (int xi = 0; xi < 16; xi++)
                        wino_store_vb(vt + (size_t)xi * xstride, &vb[xi], nb);
                }
        }
}

/* out (G,OC,H,W) of wino_output from M in the small order; tmp holds
 * WINO_SMALL_TMP. */
NN_CLONES
static void wino_output_small(real *out, const real *m, real *tmp, int g, size_t tt,
                              const cdt_conv2d_params *p)
{
    int h = p->h, w = p->w, th = (h + 1) / 2, tw = (w + 1) / 2, ow = 2 * tw;
    size_t xstride = (size_t)p->oc * tt;
    for (int o = 0; o < p->oc; o++)
        for (int b0 = 0; b0 < g; b0 += WINO_VB) {
            int nb = g - b0 < WINO_VB ? g - b0 : WINO_VB;
            for (int ty = 0; ty < th; ty++)
                for (int tx = 0; tx < tw; tx++) {
                    const real *q = m + (size_t)o * tt + (size_t)(ty * tw + tx) * g + b0;
                    real *y = tmp + ((size_t)2 * ty * ow + 2 * tx) * WINO_VB;
                    wino_vec mb[16], r0[4], r1[4], yv[4];
                    for (int xi = 0; xi < 16; xi++) wino_load_vb(&mb[xi], q + (size_t)xi * xstride, nb);
                    for (int j = 0; j < 4; j++) { // A^T m, then A along the rows
                        r0[j] = mb[j] + mb[4 + j] + mb[8 + j];
                        r1[j] = mb[4 + j] - mb[8 + j] - mb[12 + j];
                    }
                    yv[0] = r0[0] + r0[1] + r0[2];
                    yv[1] = r0[1] - r0[2] - r0[3];
                    yv[2] = r1[0] + r1[1] + r1[2];
                    yv[3] = r1[1] - r1[2] - r1[3];
                    memcpy(y, &yv[0], 2 * sizeof yv[0]);
                    memcpy(y + (size_t)ow * WINO_VB, &yv[2], 2 * sizeof yv[0]);
                }
            wino_scatter(out + (size_t)b0 * p->oc * h * w, tmp, nb, o, p->oc, h, w, ow);
        }
}

/* Mdy (16, OC, T) of wino_dout in the small order; tmp holds WINO_SMALL_TMP. */
NN_CLONES
static void wino_dout_small(real *mdy, const real *dout, real *tmp, int g, size_t tt,
                            const cdt_conv2d_params *p)
{
    int h = p->h, w = p->w, tw = (w + 1) / 2, ow = 2 * tw, th = (h + 1) / 2;
    for (int b0 = 0; b0 < g; b0 += WINO_VB)
        for (int o = 0; o < p->oc; o++) {
            int nb = g - b0 < WINO_VB ? g - b0 : WINO_VB;
            size_t xstride = (size_t)p->oc * tt;
            // tmp[y][x][b] = dout of image b0 + b, zeros past an odd edge
            wino_gather(tmp, dout + (size_t)b0 * p->oc * h * w, nb, o, p->oc, h, w, 2 * th, ow, 0);
            for (int ty = 0; ty < th; ty++)
                for (int tx = 0; tx < tw; tx++) {
                    const real *d = tmp + ((size_t)2 * ty * ow + 2 * tx) * WINO_VB;
                    real *q = mdy + (size_t)o * tt + (size_t)(ty * tw + tx) * g + b0;
                    wino_vec e0, o0, e1, o1, qb[16];
                    memcpy(&e0, d, sizeof e0);
                    memcpy(&o0, d + WINO_VB, sizeof o0);
                    memcpy(&e1, d + (size_t)ow * WINO_VB, sizeof e1);
                    memcpy(&o1, d + (size_t)(ow + 1) * WINO_VB, sizeof o1);
                    // rows of A dY: (y0, y0 + y1, y0 - y1, -y1), then the same along each row
                    wino_vec r0[4] = {e0, e0 + e1, e0 - e1, -e1};
                    wino_vec r1[4] = {o0, o0 + o1, o0 - o1, -o1};
                    for (int i = 0; i < 4; i++) {
                        qb[4 * i] = r0[i];
                        qb[4 * i + 1] = r0[i] + r1[i];
                        qb[4 * i + 2] = r0[i] - r1[i];
                        qb[4 * i + 3] = -r1[i];
                    }
                    for (int xi = 0; xi < 16; xi++)
                        wino_store_vb(q + (size_t)xi * xstride, &qb[xi], nb);
                }
        }
}

/* V (16, C, T) = B^T d B for each 4x4 patch d (padding reads zeros) of
 * the G images of x (G,C,H,W); tmp holds wino_rows_size(p). */
NN_CLONES
static void wino_input(real *v, const real *x, real *tmp, int g, size_t tt,
                       const cdt_conv2d_params *p)
{
    int h = p->h, w = p->w, th = (h + 1) / 2, tw = (w + 1) / 2, n = tw + 1;
    size_t xstride = (size_t)p->c * tt, t1 = (size_t)th * tw;
    real *e[4], *o[4]; // patch row i at padded columns 2k (x = 2k - 1) and 2k + 1 (x = 2k)
    if (wino_small(p)) {
        wino_input_small(v, x, tmp, g, tt, p);
        return;
    }
    for (int i = 0; i < 4; i++) {
        e[i] = tmp + (size_t)(2 * i) * n;
        o[i] = tmp + (size_t)(2 * i + 1) * n;
    }
    for (int b = 0; b < g; b++)
        for (int c = 0; c < p->c; c++) {
            const real *pl = x + ((size_t)b * p->c + c) * h * w;
            real *vc = v + (size_t)c * tt + b * t1;
            for (int ty = 0; ty < th; ty++) {
                for (int i = 0; i < 4; i++) {
                    int y = 2 * ty - 1 + i;
                    if (y < 0 || y >= h) {
                        memset(e[i], 0, n * sizeof(real));
                        memset(o[i], 0, n * sizeof(real));
                        continue;
                    }
                    const real *row = pl + (size_t)y * w;
                    e[i][0] = 0;
                    #pragma omp simd
                    for (int k = 1; k < n; k++) e[i][k] = 2 * k - 1 < w ? row[2 * k - 1] : 0;
                    #pragma omp simd
                    for (int k = 0; k < n; k++) o[i][k] = 2 * k < w ? row[2 * k] : 0;
                }
                // B^T along the column, in place: rows become t0..t3
                for (int pass = 0; pass < 2; pass++) {
                    real **r = pass ? o : e;
                    #pragma omp simd
                    for (int k = 0; k < n; k++) {
                        real d0 = r[0][k], d1 = r[1][k], d2 = r[2][k], d3 = r[3][k];
                        r[0][k] = d0 - d2;
                        r[1][k] = d1 + d2;
                        r[2][k] = d2 - d1;
                        r[3][k] = d1 - d3;
                    }
                }
                // then B along the row: tile tx reads e[tx], o[tx], e[tx+1], o[tx+1]
                for (int i = 0; i < 4; i++) {
                    real *v0 = vc + (size_t)(4 * i) * xstride + (size_t)ty * tw;
                    real *v1 = v0 + xstride, *v2 = v1 + xstride, *v3 = v2 + xstride;
                    const real *ei = e[i], *oi = o[i];
                    #pragma omp simd
                    for (int t = 0; t < tw; t++) {
                        v0[t] = ei[t] - ei[t + 1];
                        v1[t] = oi[t] + ei[t + 1];
                        v2[t] = ei[t + 1] - oi[t];
                        v3[t] = oi[t] - oi[t + 1];
                    }
                }
            }
        }
}

/* out (G,OC,H,W) = A^T m A for each tile's 4x4 m of M (16, OC, T); tmp
 * holds wino_rows_size(p). */
NN_CLONES
static void wino_output(real *out, const real *m, real *tmp, int g, size_t tt,
                        const cdt_conv2d_params *p)
{
    int h = p->h, w = p->w, th = (h + 1) / 2, tw = (w + 1) / 2;
    size_t xstride = (size_t)p->oc * tt, t1 = (size_t)th * tw;
    real *y[2][2]; // y[i][j][t]: output row 2 ty + i, column 2 t + j
    if (wino_small(p)) {
        wino_output_small(out, m, tmp, g, tt, p);
        return;
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) y[i][j] = tmp + (size_t)(2 * i + j) * tw;
    for (int b = 0; b < g; b++)
        for (int o = 0; o < p->oc; o++) {
            real *pl = out + ((size_t)b * p->oc + o) * h * w;
            for (int ty = 0; ty < th; ty++) {
                const real *q = m + (size_t)o * tt + b * t1 + (size_t)ty * tw;
                real *y00 = y[0][0], *y01 = y[0][1], *y10 = y[1][0], *y11 = y[1][1];
                #pragma omp simd
                for (int t = 0; t < tw; t++) {
                    real r0[4], r1[4]; // A^T m, then A along the rows
                    for (int j = 0; j < 4; j++) {
                        real m0 = q[(size_t)j * xstride + t], m1 = q[(size_t)(4 + j) * xstride + t];
                        real m2 = q[(size_t)(8 + j) * xstride + t], m3 = q[(size_t)(12 + j) * xstride + t];
                        r0[j] = m0 + m1 + m2;
                        r1[j] = m1 - m2 - m3;
                    }
                    y00[t] = r0[0] + r0[1] + r0[2];
                    y01[t] = r0[1] - r0[2] - r0[3];
                    y10[t] = r1[0] + r1[1] + r1[2];
                    y11[t] = r1[1] - r1[2] - r1[3];
                }
                for (int i = 0; i < 2 && 2 * ty + i < h; i++) {
                    real *row = pl + (size_t)(2 * ty + i) * w;
                    const real *a0 = y[i][0], *a1 = y[i][1];
                    for (int t = 0; t < w / 2; t++) {
                        row[2 * t] = a0[t];
                        row[2 * t + 1] = a1[t];
                    }
                    if (w % 2) row[w - 1] = a0[tw - 1];
                }
            }
        }
}

/* One group through the Winograd path: out (G,OC,H,W) from x (G,C,H,W)
 * and U (16, OC, C); p may be the swapped one of an input gradient. */
static void wino_group(real *out, const real *x, const real *u, real *lane, int g,
                       const cdt_conv2d_params *p)
{
    size_t tt = wino_tiles(p) * g;
    real *v = lane, *m = lane + 16 * (size_t)p->c * tt, *tmp = m + 16 * (size_t)p->oc * tt;
    wino_input(v, x, tmp, g, tt, p);
    for (int xi = 0; xi < 16; xi++)
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, p->oc, (int)tt, p->c, 1,
             u + (size_t)xi * p->oc * p->c, p->c, v + (size_t)xi * p->c * tt, (int)tt, 0,
             m + (size_t)xi * p->oc * tt, (int)tt);
    wino_output(out, m, tmp, g, tt, p);
}

/* dx (G,C,H,W) of one group: dout convolved with the turned kernels uf
 * (16, C, OC), the channels swapped. */
static void wino_dx_group(real *dx, const real *dout, const real *uf, real *lane, int g,
                          const cdt_conv2d_params *p)
{
    cdt_conv2d_params q = *p;
    q.c = p->oc;
    q.oc = p->c;
    wino_group(dx, dout, uf, lane, g, &q);
}

/* The weight gradient on the same tiles: with Y = A^T (U . V) A and
 * U = G g G^T, dU[xi] (OC, C) = sum over tiles of (A dY A^T)[xi] V[xi]^T,
 * 16 gemms, and dg = G^T dU G. Here Mdy (16, OC, T) = A dY A^T for each
 * tile's 2x2 block dY of dout (G,OC,H,W) (outputs past an odd edge do not
 * exist: zeros); tmp holds wino_rows_size(p). */
NN_CLONES
static void wino_dout(real *mdy, const real *dout, real *tmp, int g, size_t tt,
                      const cdt_conv2d_params *p)
{
    int h = p->h, w = p->w, th = (h + 1) / 2, tw = (w + 1) / 2;
    size_t xstride = (size_t)p->oc * tt, t1 = (size_t)th * tw;
    real *e0 = tmp, *o0 = tmp + tw, *e1 = tmp + 2 * (size_t)tw, *o1 = tmp + 3 * (size_t)tw;
    if (wino_small(p)) {
        wino_dout_small(mdy, dout, tmp, g, tt, p);
        return;
    }
    for (int b = 0; b < g; b++)
        for (int o = 0; o < p->oc; o++) {
            const real *pl = dout + ((size_t)b * p->oc + o) * h * w;
            for (int ty = 0; ty < th; ty++) {
                for (int a = 0; a < 2; a++) { // block rows, columns split even and odd
                    real *e = a ? e1 : e0, *od = a ? o1 : o0;
                    int y = 2 * ty + a;
                    if (y >= h) {
                        memset(e, 0, tw * sizeof(real));
                        memset(od, 0, tw * sizeof(real));
                        continue;
                    }
                    const real *row = pl + (size_t)y * w;
                    #pragma omp simd
                    for (int t = 0; t < tw; t++) {
                        e[t] = row[2 * t];
                        od[t] = 2 * t + 1 < w ? row[2 * t + 1] : 0;
                    }
                }
                real *q = mdy + (size_t)o * tt + b * t1 + (size_t)ty * tw;
                #pragma omp simd
                for (int t = 0; t < tw; t++) {
                    // rows of A dY: (y0, y0 + y1, y0 - y1, -y1), then the same along each row
                    real r0[4] = {e0[t], e0[t] + e1[t], e0[t] - e1[t], -e1[t]};
                    real r1[4] = {o0[t], o0[t] + o1[t], o0[t] - o1[t], -o1[t]};
                    for (int i = 0; i < 4; i++) {
                        q[(size_t)(4 * i) * xstride + t] = r0[i];
                        q[(size_t)(4 * i + 1) * xstride + t] = r0[i] + r1[i];
                        q[(size_t)(4 * i + 2) * xstride + t] = r0[i] - r1[i];
                        q[(size_t)(4 * i + 3) * xstride + t] = -r1[i];
                    }
                }
            }
        }
}

/* dw (OC,C,3,3) += G^T dU G for each (o, c) of dU (16, OC, C). */
static void wino_weights_grad(real *dw, const real *du, const cdt_conv2d_params *p)
{
    size_t plane = (size_t)p->oc * p->c;
    #pragma omp parallel for num_threads(conv_threads(CONV_LANES)) if (plane * 16 > NN_OMP_PASS)
    for (size_t oc = 0; oc < plane; oc++) {
        real u[4][4], t[3][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) u[i][j] = du[(size_t)(4 * i + j) * plane + oc];
        for (int j = 0; j < 4; j++) { // t = G^T u
            t[0][j] = u[0][j] + (u[1][j] + u[2][j]) * (real)0.5;
            t[1][j] = (u[1][j] - u[2][j]) * (real)0.5;
            t[2][j] = (u[1][j] + u[2][j]) * (real)0.5 + u[3][j];
        }
        real *k = dw + oc * 9;
        for (int a = 0; a < 3; a++) { // dg = t G
            k[a * 3] += t[a][0] + (t[a][1] + t[a][2]) * (real)0.5;
            k[a * 3 + 1] += (t[a][1] - t[a][2]) * (real)0.5;
            k[a * 3 + 2] += (t[a][1] + t[a][2]) * (real)0.5 + t[a][3];
        }
    }
}

/* One group of backward on the Winograd path: the lane's dU partial
 * (16, OC, C) += Mdy V^T, and dx through the turned kernels uf. */
static void wino_backward_group(real *dx, real *du, const real *dout, const real *x,
                                const real *uf, real *lane, int g, const cdt_conv2d_params *p)
{
    size_t tt = wino_tiles(p) * g;
    real *v = lane, *mdy = lane + 16 * (size_t)p->c * tt, *tmp = mdy + 16 * (size_t)p->oc * tt;
    wino_input(v, x, tmp, g, tt, p);
    wino_dout(mdy, dout, tmp, g, tt, p);
    for (int xi = 0; xi < 16; xi++)
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, p->oc, p->c, (int)tt, 1,
             mdy + (size_t)xi * p->oc * tt, (int)tt, v + (size_t)xi * p->c * tt, (int)tt, 1,
             du + (size_t)xi * p->oc * p->c, p->c);
    if (dx) wino_dx_group(dx, dout, uf, lane, g, p);
}

/* ---- Direct 3x3 for the 3x3 convolutions (pad 1) of few channels ----
 * With few channels Winograd's 16 gemms are tiny and its transforms cost
 * more than they save, and im2col copies each input 9 times; a direct
 * convolution with register-blocked vector kernels (conv3x3.h) does the 9
 * taps as they are. Its planes use a padded flat layout on the output's
 * grid (OH, OW): for G images, each plane has rows of stride s = OW + 1
 * whose last column is zero (the right padding of a row and the left
 * padding of the next), image b's row y at row 1 + b (OH + 1) + y, and a
 * zero row above each image (the padding below the one before, shared).
 * Position q counts from row 1, column 0.
 *
 * Stride 1: one plane per input channel; the output at q reads
 * q + (ki - 1) s + kj - 1 for tap (ki, kj), with no test for the edges,
 * so the kernels run over one long span of positions. Outputs at padding
 * positions are computed and never read.
 * Stride 2: input row 2y + ki - 1 is row y - 1 of the odd rows for ki = 0,
 * row y of the even rows for ki = 1 and of the odd rows for ki = 2, and so
 * for columns: each input channel becomes four phase planes (even or odd
 * rows, even or odd columns) on the output's grid, and every tap is a
 * phase plane and a shift of 0 or -1 row and column.
 *
 * The weight gradient sums dout times the tap's input over the span, where
 * dout's padding holds zeros. The input gradient of stride 1 is the same
 * kernel over dout with the turned kernels (as for Winograd); that of
 * stride 2 is one per phase of dx: even rows take ki = 1 at dout's row y,
 * odd ones ki = 0 at row y + 1 and ki = 2 at row y (and so for columns),
 * 1, 2, 2 or 4 taps. */
#if defined(__x86_64__) && defined(__GNUC__)
#define D3_X86 1
#else
#define D3_X86 0
#endif
/* Positions are done in blocks of D3_QB (a multiple of every set's
 * K_NB vectors), output channels in blocks of up to D3_RMAX. */
enum { D3_QB = 48, D3_RMAX = 8 };
/* Channels (input and output) up to which a 3x3 convolution of stride 1
 * takes the direct path instead of Winograd's, and one of stride 2
 * instead of im2col's; of stride 2 up to D3_MAX_C2 when d3_prefer() (64 ->
 * 128 at 32x32 against AVX2 gemms: 44 against 61 ms forward, 88 against
 * 124 backward; against the AVX-512 ones 45 against 40 and 90 against 81;
 * from 128 -> 256 on they tie at best. One thread, AMD Zen 5). */
#ifndef D3_MAX_C
#define D3_MAX_C 64
#endif
#ifndef D3_MAX_C2
#define D3_MAX_C2 128
#endif

static int conv_direct(const cdt_conv2d_params *p)
{
    int wide = p->c > D3_MAX_C || p->oc > D3_MAX_C;
    return (p->stride == 1 || p->stride == 2) && p->kh == 3 && p->kw == 3 && p->pad == 1 &&
           p->kernels != CDT_CONV_GEMM && p->c <= D3_MAX_C2 && p->oc <= D3_MAX_C2 &&
           (!wide || (p->stride == 2 && d3_prefer(p))) && !wino_small_first(p);
}

static size_t d3_ceil(size_t a, size_t b)
{
    return (a + b - 1) / b * b;
}

/* Planes per input channel: 1, or 4 phases. */
static int d3_phases(const cdt_conv2d_params *p)
{
    return p->stride == 2 ? 4 : 1;
}

/* The span of positions of G images, rounded up to blocks, and a plane:
 * the span and one row and one element on each side. */
static size_t d3_span(const cdt_conv2d_params *p, int g)
{
    size_t oh = cdt_conv2d_out_h(p), ow = cdt_conv2d_out_w(p);
    return d3_ceil(((size_t)g * (oh + 1) - 1) * (ow + 1), D3_QB);
}

static size_t d3_plane(const cdt_conv2d_params *p, int g)
{
    return d3_span(p, g) + 2 * ((size_t)cdt_conv2d_out_w(p) + 2);
}

/* Tap t = 3 ki + kj's offset from an output position into its input
 * channel's planes (each lp long). */
static void d3_taps(ptrdiff_t off[9], size_t lp, const cdt_conv2d_params *p)
{
    ptrdiff_t s = cdt_conv2d_out_w(p) + 1;
    for (int t = 0; t < 9; t++) {
        int ki = t / 3, kj = t % 3;
        if (p->stride == 1) {
            off[t] = (ki - 1) * s + kj - 1;
            continue;
        }
        int phase = 2 * (ki != 1) + (kj != 1);
        off[t] = phase * (ptrdiff_t)lp - (ki == 0) * s - (kj == 0);
    }
}

/* A lane: forward, the input planes and the outputs (OCp, span); backward,
 * the input planes, dout's planes (OCp), dx (Cp, span) and the dW partial
 * (OCp, C, 9), which conv2d_backward finds at the lane's end. */
static size_t d3_lane_size(const cdt_conv2d_params *p)
{
    int g = conv_group(p);
    size_t lp = d3_plane(p, g), n = d3_span(p, g), in = (size_t)d3_phases(p) * p->c * lp;
    size_t ocp = d3_ceil(p->oc, D3_RMAX), cp = d3_ceil(p->c, D3_RMAX);
    size_t fwd = in + ocp * n, bwd = in + ocp * lp + cp * n + ocp * p->c * 9;
    return fwd > bwd ? fwd : bwd;
}

/* The packed kernels: forward's (OCp, C, 9) or the input gradient's
 * (Cp, OC, 9) (of stride 2: its phases' one after the other). */
static size_t d3_shared_size(const cdt_conv2d_params *p)
{
    size_t a = d3_ceil(p->oc, D3_RMAX) * p->c, b = d3_ceil(p->c, D3_RMAX) * p->oc;
    return 9 * (a > b ? a : b);
}

#if D3_X86
#include <immintrin.h>
#define K_ISA avx512
#define K_TARGET __attribute__((target("avx512f")))
#define K_VBYTES 64
#define K_RF 8
#define K_NB 3
#define K_RW 3
#include "conv3x3.h"
#define K_ISA avx2
#define K_TARGET __attribute__((target("avx2,fma")))
#define K_VBYTES 32
#define K_RF 4
#define K_NB 3
#define K_RW 1
#include "conv3x3.h"
#endif
#define K_ISA generic
#define K_TARGET
#define K_VBYTES 16
#define K_RF 4
#define K_NB 2
#define K_RW 1
#include "conv3x3.h"

/* The kernels for this CPU. */
typedef struct {
    int rf; // output channels per forward block
    void (*forward)(real *, size_t, const real *, size_t, const ptrdiff_t *, int, const real *, int,
                    int, size_t);
    void (*weights)(real *, const real *, size_t, const real *, size_t, const ptrdiff_t *, int, int,
                    size_t);
    // the copies into and out of the planes, in the same set's vectors
    void (*plane_rows)(real *, const real *, size_t, int, size_t, const cdt_conv2d_params *);
    void (*from_span)(real *, const real *, size_t, int, int, int, int, int, int, int,
                      const cdt_conv2d_params *);
} d3_kernels;

/* The best set this CPU has, or the one p->kernels names (avx512, avx2,
 * generic) when the CPU has that one, else the next narrower: tests run
 * every set a machine can. */
static d3_kernels d3_pick(const cdt_conv2d_params *p)
{
#if D3_X86
    int k = p->kernels;
    int any = k == CDT_CONV_AUTO || k == CDT_CONV_DIRECT || k == CDT_CONV_DIRECT_WIDE;
    __builtin_cpu_init();
    if ((any || k == CDT_CONV_AVX512) && __builtin_cpu_supports("avx512f"))
        return (d3_kernels){8, d3_forward_avx512, d3_weights_avx512, d3_plane_rows_avx512,
                            d3_from_span_avx512};
    if ((any || k == CDT_CONV_AVX512 || k == CDT_CONV_AVX2) &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return (d3_kernels){4, d3_forward_avx2, d3_weights_avx2, d3_plane_rows_avx2,
                            d3_from_span_avx2};
#endif
    return (d3_kernels){4, d3_forward_generic, d3_weights_generic, d3_plane_rows_generic,
                        d3_from_span_generic};
}

/* wp (OCp / rf, C, 9, rf) from w (OC, C, 3, 3): blocks of rf output
 * channels, zeros past the last. */
static void d3_pack_weights(real *wp, const real *w, int rf, const cdt_conv2d_params *p)
{
    int rp = (int)d3_ceil(p->oc, D3_RMAX);
    for (int r = 0; r < rp; r++)
        for (int k = 0; k < p->c; k++)
            for (int t = 0; t < 9; t++)
                wp[(((size_t)(r / rf) * p->c + k) * 9 + t) * rf + r % rf] =
                    r < p->oc ? w[((size_t)r * p->c + k) * 9 + t] : 0;
}

/* The input gradient's taps: of phase ph (stride 2; 0 for stride 1), into
 * ki[], kj[] and the offsets into dout's planes; returns their number. */
static int d3_dx_taps(int *ki, int *kj, ptrdiff_t *off, int ph, const cdt_conv2d_params *p)
{
    ptrdiff_t s = cdt_conv2d_out_w(p) + 1;
    int n = 0;
    for (int t = 0; t < 9; t++) {
        int i = t / 3, j = t % 3;
        if (p->stride == 1) { // the turned kernel: weight (2 - i, 2 - j) at shift (i - 1, j - 1)
            ki[n] = 2 - i;
            kj[n] = 2 - j;
            off[n++] = (i - 1) * s + j - 1;
            continue;
        }
        // even rows (ph / 2 == 0) take ki = 1; odd ones ki = 0 one row down and ki = 2
        if ((ph / 2 == 0) != (i == 1) || (ph % 2 == 0) != (j == 1)) continue;
        ki[n] = i;
        kj[n] = j;
        off[n++] = (i == 0) * s + (j == 0);
    }
    return n;
}

/* The input gradient's kernels, phase after phase: (Cp / rf, OC, ntap, rf)
 * each. */
static void d3_pack_dx_weights(real *wp, const real *w, int rf, const cdt_conv2d_params *p)
{
    int rp = (int)d3_ceil(p->c, D3_RMAX), ki[9], kj[9];
    ptrdiff_t off[9];
    for (int ph = 0; ph < d3_phases(p); ph++) {
        int nt = d3_dx_taps(ki, kj, off, ph, p);
        for (int r = 0; r < rp; r++)
            for (int o = 0; o < p->oc; o++)
                for (int t = 0; t < nt; t++)
                    wp[(((size_t)(r / rf) * p->oc + o) * nt + t) * rf + r % rf] =
                        r < p->c ? w[(((size_t)o * p->c + r) * 3 + ki[t]) * 3 + kj[t]] : 0;
        wp += (size_t)rp * p->oc * nt;
    }
}

/* Planes (cz * phases, lp) in the padded flat layout from x (G, C, H, W);
 * the planes of channels from C on are zeros. Of stride 2, each row of x
 * is read once, its even and odd columns going to their two phases. */
static void d3_to_planes(real *planes, const real *x, int g, int c, int cz, const d3_kernels *k,
                         const cdt_conv2d_params *p)
{
    int oh = cdt_conv2d_out_h(p), ow = cdt_conv2d_out_w(p), np = d3_phases(p);
    size_t lp = d3_plane(p, g), s = (size_t)ow + 1, hw = (size_t)p->h * p->w;
    for (int ci = 0; ci < cz; ci++) {
        real *pl = planes + (size_t)ci * np * lp;
        if (ci >= c || np > 1) memset(pl, 0, np * lp * sizeof(real));
        if (ci >= c) continue;
        if (np == 1) {
            k->plane_rows(pl, x + (size_t)ci * hw, (size_t)c * hw, g, lp, p);
            continue;
        }
        for (int b = 0; b < g; b++) {
            const real *src = x + ((size_t)b * c + ci) * hw;
            // row y: phases 2 (y % 2) and 2 (y % 2) + 1, row y / 2 of each
            // (past oh never: oh = (h + 1) / 2); columns 2i and 2i + 1
            int half = p->w / 2;
            for (int y = 0; y < p->h; y++) {
                real *d0 = pl + (size_t)(2 * (y % 2)) * lp + s + 1 + ((size_t)b * (oh + 1) + y / 2) * s;
                real *d1 = d0 + lp;
                const real *r = src + (size_t)y * p->w;
                #pragma omp simd
                for (int i = 0; i < half; i++) {
                    d0[i] = r[2 * i];
                    d1[i] = r[2 * i + 1];
                }
                if (p->w % 2) d0[half] = r[2 * half];
            }
        }
    }
}

static void d3_forward_group(real *out, const real *x, const real *wp, real *lane, int g,
                             const d3_kernels *k, const cdt_conv2d_params *p)
{
    size_t lp = d3_plane(p, g), n = d3_span(p, g);
    ptrdiff_t s = cdt_conv2d_out_w(p) + 1, off[9];
    int ocp = (int)d3_ceil(p->oc, D3_RMAX), np = d3_phases(p);
    real *in = lane, *res = lane + (size_t)np * p->c * lp;
    d3_taps(off, lp, p);
    d3_to_planes(in, x, g, p->c, p->c, k, p);
    k->forward(res, n, in + s + 1, np * lp, off, 9, wp, p->c, ocp / k->rf, n);
    k->from_span(out, res, n, g, p->oc, cdt_conv2d_out_h(p), cdt_conv2d_out_w(p), 1, 0, 0, p);
}

/* One group of backward: the dW partial (OCp, C, 9) += and dx through the
 * input gradient's kernels wpd. */
static void d3_backward_group(real *dx, real *part, const real *dout, const real *x,
                              const real *wpd, real *lane, int g, const d3_kernels *k,
                              const cdt_conv2d_params *p)
{
    size_t lp = d3_plane(p, g), n = d3_span(p, g);
    ptrdiff_t s = cdt_conv2d_out_w(p) + 1, off[9];
    int ocp = (int)d3_ceil(p->oc, D3_RMAX), cp = (int)d3_ceil(p->c, D3_RMAX), np = d3_phases(p);
    real *in = lane, *dp = in + (size_t)np * p->c * lp, *res = dp + ocp * lp;
    // dout is on the output's grid: its planes as stride 1's
    cdt_conv2d_params q = *p;
    q.stride = 1;
    q.c = p->oc;
    q.h = cdt_conv2d_out_h(p);
    q.w = cdt_conv2d_out_w(p);
    d3_taps(off, lp, p);
    d3_to_planes(in, x, g, p->c, p->c, k, p);
    d3_to_planes(dp, dout, g, p->oc, ocp, k, &q);
    k->weights(part, dp + s + 1, lp, in + s + 1, np * lp, off, ocp, p->c, n);
    if (!dx) return;
    int ki[9], kj[9];
    for (int ph = 0; ph < np; ph++) {
        int nt = d3_dx_taps(ki, kj, off, ph, p);
        k->forward(res, n, dp + s + 1, lp, off, nt, wpd, p->oc, cp / k->rf, n);
        k->from_span(dx, res, n, g, p->c, p->h, p->w, p->stride, ph / 2, ph % 2, p);
        wpd += (size_t)cp * p->oc * nt;
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

/* q: the batch norm after it (float only: the double twins never take
 * one). */
static void conv_forward(real *out, const real *x, const real *w, real *scratch,
                         const cdt_conv2d_params *p, const cdt_conv_post *q)
{
    size_t ohw = (size_t)cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p), in_sz = (size_t)p->c * p->h * p->w;
    int group = conv_group(p), lanes = conv_lanes(p), groups = (p->n + group - 1) / group;
    size_t work = (size_t)p->n * ohw * p->oc * p->c * p->kh * p->kw;
    int wino = conv_wino(p), direct = conv_direct(p);
    d3_kernels k = d3_pick(p);
    real *u = scratch, *lanes0 = scratch + conv_shared_size(p);
    if (wino) wino_weights(u, w, p, 0);
    if (direct) d3_pack_weights(u, w, k.rf, p);
    #pragma omp parallel for schedule(dynamic, 1) num_threads(conv_threads(lanes)) if (work > NN_OMP_MIN)
    for (int l = 0; l < lanes; l++)
        for (int gi = l; gi < groups; gi += lanes) {
            int b0 = gi * group, g = p->n - b0 < group ? p->n - b0 : group;
            real *lane = lanes0 + l * conv_lane_size(p);
            size_t off = b0 * p->oc * ohw;
            if (direct) d3_forward_group(out + off, x + b0 * in_sz, u, lane, g, &k, p);
            else if (wino) wino_group(out + off, x + b0 * in_sz, u, lane, g, p);
            else conv_forward_group(out + off, x + b0 * in_sz, w, lane, g, p);
#ifndef CDT_NN_F64
            if (!q) continue;
            // the group's output is in cache: the batch norm after it now
            cdt_bn_params bp = {g, p->oc, (int)ohw, CDT_BN_MOMENTUM, q->eps};
            cdt_bn_eval_post(q->dst + off, out + off, q->res ? q->res + off : NULL, q->relu,
                             q->gamma, q->beta, q->running_mean, q->running_var, &bp);
#endif
        }
#ifdef CDT_NN_F64
    (void)q;
#endif
}

void NN(cdt_conv2d_forward)(real *out,         // (N,OC,OH,OW)
                            const real *x,     // (N,C,H,W)
                            const real *w,     // (OC,C,KH,KW)
                            real *scratch,     // cdt_conv2d_scratch(p)
                            const cdt_conv2d_params *p)
{
    conv_forward(out, x, w, scratch, p, NULL);
}

#ifndef CDT_NN_F64
void cdt_conv2d_forward_post(float *out, const float *x, const float *w, float *scratch,
                             const cdt_conv2d_params *p, const cdt_conv_post *post)
{
    conv_forward(out, x, w, scratch, p, post);
}
#endif

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
    int wino = conv_wino(p), direct = conv_direct(p);
    real *uf = dx && (wino || direct) ? scratch : NULL, *lanes0 = scratch + conv_shared_size(p);
    int wdw = conv_wino_dw(p);
    d3_kernels kd = d3_pick(p);
    // a lane's dW partial
    size_t np = wdw ? 16 * (size_t)p->oc * p->c : direct ? d3_ceil(p->oc, D3_RMAX) * k : nw;
    if (uf && wino) wino_weights(uf, w, p, 1);
    if (uf && direct) d3_pack_dx_weights(uf, w, kd.rf, p);
    #pragma omp parallel for schedule(dynamic, 1) num_threads(conv_threads(lanes)) if (work > NN_OMP_MIN)
    for (int l = 0; l < lanes; l++) {
        real *lane = lanes0 + l * lsz, *part = lane + lsz - np;
        memset(part, 0, np * sizeof(real));
        for (int gi = l; gi < groups; gi += lanes) {
            int b0 = gi * group, g = p->n - b0 < group ? p->n - b0 : group;
            real *dxg = dx ? dx + b0 * in_sz : NULL;
            const real *dg = dout + b0 * p->oc * ohw, *xg = x + b0 * in_sz;
            if (wdw) {
                wino_backward_group(dxg, part, dg, xg, uf, lane, g, p);
                continue;
            }
            if (direct) {
                d3_backward_group(dxg, part, dg, xg, uf, lane, g, &kd, p);
                continue;
            }
            conv_backward_group(wino ? NULL : dxg, part, dg, xg, w, lane, g, p);
            if (wino && dxg) wino_dx_group(dxg, dg, uf, lane, g, p);
        }
    }
    // in lane order: the same sums for any thread count (threads take
    // blocks of elements, each summed over the lanes in turn)
    real *sum = lanes0 + lsz - np;
    size_t nblk = (np + CONV_SUM_BLOCK - 1) / CONV_SUM_BLOCK;
    #pragma omp parallel for num_threads(conv_threads(lanes)) if (np * lanes > NN_OMP_PASS)
    for (size_t bi = 0; bi < nblk; bi++) {
        size_t i0 = bi * CONV_SUM_BLOCK, i1 = i0 + CONV_SUM_BLOCK < np ? i0 + CONV_SUM_BLOCK : np;
        for (int l = 1; l < lanes; l++) {
            const real *part = lanes0 + (l + 1) * lsz - np;
            for (size_t i = i0; i < i1; i++) sum[i] += part[i];
        }
    }
    if (wdw) {
        wino_weights_grad(dw, sum, p);
        return;
    }
    for (size_t i = 0; i < nw; i++) dw[i] += sum[i];
}

#ifndef CDT_NN_F64
/* The CPU table's entry (nn/backend.h). */
static size_t conv_scratch(const void *p)
{
    return cdt_conv2d_scratch(p);
}

static int conv_fwd(void *ctx, const cdt_layer_args *a)
{
    (void)ctx;
    if (a->post) cdt_conv2d_forward_post(a->out, a->x, a->w, a->scratch, a->p, a->post);
    else cdt_conv2d_forward(a->out, a->x, a->w, a->scratch, a->p);
    return 0;
}

static int conv_bwd(void *ctx, const cdt_layer_args *a)
{
    (void)ctx;
    cdt_conv2d_backward(a->dx, a->dw, a->dout, a->x, a->w, a->scratch, a->p);
    return 0;
}

const cdt_layer_i cdt_conv2d_layer_cpu = {"conv2d", conv_scratch, conv_fwd, conv_bwd};
#endif
